package podmanapi_test

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ctrgate/ctrgate"
	"github.com/ctrgate/ctrgate/conformance"
	"github.com/ctrgate/ctrgate/podmanapi"
)

// Backend-specific behaviour on the real service, beyond the conformance
// suite: what the bindings make delicate (exec's hijacked connection,
// events that start streaming asynchronously) and what Podman 4.x does
// differently (wait on created and auto-removed containers).

const engineImage = "localhost/ctrgate/testprog:podman-api-engine"

type engine struct {
	rt     *ctrgate.Runtime
	prefix string
}

var (
	engineOnce sync.Once
	engineErr  error
)

func newEngine(t *testing.T) *engine {
	t.Helper()
	uri := serviceURI(t)
	rt := newRuntime(t, uri)
	t.Cleanup(func() { _ = rt.Close() })
	engineOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		engineErr = rt.ImportImage(ctx, engineImage, bytes.NewReader(conformance.TestImageTar(t)),
			ctrgate.ImportOptions{Entrypoint: []string{conformance.TestProgPath}})
	})
	require.NoError(t, engineErr, "importing %s", engineImage)
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return &engine{rt: rt, prefix: "ctg-e-" + hex.EncodeToString(b) + "-"}
}

func (e *engine) name(t *testing.T, suffix string) string {
	n := e.prefix + suffix
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		assert.NoError(t, ctrgate.FirstError(ctrgate.RemoveAll(ctx, e.rt, []string{n})))
	})
	return n
}

func (e *engine) spec(name string, args ...string) ctrgate.ContainerSpec {
	return ctrgate.ContainerSpec{Name: name, Image: engineImage, PullPolicy: ctrgate.PullNever, Command: args}
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func TestEngineInfo(t *testing.T) {
	e := newEngine(t)
	info, err := e.rt.Info(testCtx(t))
	require.NoError(t, err)
	assert.Equal(t, podmanapi.BackendName, info.Backend)
	assert.Equal(t, "podman", info.Engine)
	assert.NotEmpty(t, info.Version)
	assert.Equal(t, ctrgate.DriverOf(e.rt).(*podmanapi.Runtime).ServerAPIVersion(), info.APIVersion)
	assert.NotEmpty(t, info.OCIRuntime)
	assert.Contains(t, []string{"v1", "v2"}, info.CgroupVersion)
}

func TestExecStdinAndConcurrency(t *testing.T) {
	e := newEngine(t)
	ctx := testCtx(t)
	name := e.name(t, "exec")
	_, err := ctrgate.Run(ctx, e.rt, e.spec(name, "sleep", "60"))
	require.NoError(t, err)

	res, err := e.rt.Exec(ctx, name, ctrgate.ExecOptions{Cmd: []string{conformance.TestProgPath, "stdin"}, Stdin: strings.NewReader("one\ntwo\n")})
	require.NoError(t, err)
	assert.Equal(t, 0, res.ExitCode)
	assert.Equal(t, "one\ntwo\n", string(res.Stdout))

	// execs and other calls at once share no mutable connection state
	// (the race detector watches), and each gets its own output
	var wg sync.WaitGroup
	for i := 0; i < 6; i++ {
		wg.Add(2)
		go func(i int) {
			defer wg.Done()
			word := strings.Repeat(string(rune('a'+i)), 3)
			res, err := e.rt.Exec(ctx, name, ctrgate.ExecOptions{
				Cmd: []string{conformance.TestProgPath, "echo", word, ";", "echo-err", "e" + word, ";", "exit", "7"},
				Env: []ctrgate.EnvVar{{Name: "X", Value: word}},
			})
			if assert.NoError(t, err) {
				assert.Equal(t, 7, res.ExitCode)
				assert.Equal(t, word+"\n", string(res.Stdout))
				assert.Equal(t, "e"+word+"\n", string(res.Stderr))
			}
		}(i)
		go func() {
			defer wg.Done()
			_, err := e.rt.Inspect(ctx, name)
			assert.NoError(t, err)
		}()
	}
	wg.Wait()
}

func TestExecHonoursContext(t *testing.T) {
	e := newEngine(t)
	ctx := testCtx(t)
	name := e.name(t, "exec-ctx")
	_, err := ctrgate.Run(ctx, e.rt, e.spec(name, "sleep", "60"))
	require.NoError(t, err)
	short, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = e.rt.Exec(short, name, ctrgate.ExecOptions{Cmd: []string{conformance.TestProgPath, "sleep", "30"}})
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Less(t, time.Since(start), 3*time.Second, "the attach ends with ctx")
	// the runtime still works afterwards
	res, err := e.rt.Exec(ctx, name, ctrgate.ExecOptions{Cmd: []string{conformance.TestProgPath, "echo", "ok"}})
	require.NoError(t, err)
	assert.Equal(t, "ok\n", string(res.Stdout))
}

func TestEventsRightAfterTheCall(t *testing.T) {
	e := newEngine(t)
	ctx := testCtx(t)
	for i := 0; i < 5; i++ {
		name := e.name(t, "ev"+string(rune('0'+i)))
		s, err := e.rt.Events(ctx, ctrgate.EventFilter{NamePrefix: name})
		require.NoError(t, err)
		// created at once: the create event must not be lost while the
		// service is still setting up the stream
		_, err = e.rt.Create(ctx, e.spec(name, "exit", "0"))
		require.NoError(t, err)
		got := make(chan ctrgate.Event, 1)
		go func() {
			ev, err := s.Next()
			if err == nil {
				got <- ev
			}
			close(got)
		}()
		select {
		case ev, ok := <-got:
			require.True(t, ok, "stream ended without the create event")
			assert.Equal(t, ctrgate.EventCreate, ev.Type)
			assert.Equal(t, name, ev.Name)
		case <-time.After(10 * time.Second):
			t.Errorf("no create event for %s", name)
		}
		require.NoError(t, s.Close())
		<-got
	}
}

func TestWaitAutoRemove(t *testing.T) {
	e := newEngine(t)
	ctx := testCtx(t)
	name := e.name(t, "autorm")
	spec := e.spec(name, "sleep", "1", ";", "exit", "42")
	spec.AutoRemove = true
	_, err := ctrgate.Run(ctx, e.rt, spec)
	require.NoError(t, err)
	code, err := e.rt.Wait(ctx, name)
	require.NoError(t, err)
	assert.Equal(t, 42, code)
}

func TestImagesAndPullPolicies(t *testing.T) {
	e := newEngine(t)
	ctx := testCtx(t)
	ok, err := e.rt.ImageExists(ctx, engineImage)
	require.NoError(t, err)
	assert.True(t, ok)
	ok, err = e.rt.ImageExists(ctx, "localhost/ctrgate/absent:never")
	require.NoError(t, err)
	assert.False(t, ok)
	assert.NoError(t, e.rt.PullImage(ctx, engineImage, ctrgate.PullNever))
	assert.NoError(t, e.rt.PullImage(ctx, engineImage, ctrgate.PullMissing))
	err = e.rt.PullImage(ctx, "localhost/ctrgate/absent:never", ctrgate.PullNever)
	assert.ErrorIs(t, err, ctrgate.ErrImageNotFound)
	// no registry answers here: the registry is unavailable, which is
	// not "no such image"
	pctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	err = e.rt.PullImage(pctx, "localhost:1/ctrgate/absent:x", ctrgate.PullAlways)
	assert.ErrorIs(t, err, ctrgate.ErrRegistryUnavailable)
	assert.NotErrorIs(t, err, ctrgate.ErrImageNotFound)
	err = e.rt.RemoveImage(ctx, "localhost/ctrgate/absent:never", false)
	assert.ErrorIs(t, err, ctrgate.ErrImageNotFound)

	// an import with every option, checked from inside a container
	ref := "localhost/ctrgate/testprog:podman-api-opts"
	require.NoError(t, e.rt.ImportImage(ctx, ref, bytes.NewReader(conformance.TestImageTar(t)), ctrgate.ImportOptions{
		Entrypoint: []string{conformance.TestProgPath},
		Cmd:        []string{"getenv", "GREETING"},
		Env:        []string{"GREETING=hello world"},
		WorkDir:    "/tmp",
		Labels:     map[string]string{"ctrgate.test": "opts"},
	}))
	t.Cleanup(func() {
		cctx, ccancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer ccancel()
		_ = e.rt.RemoveImage(cctx, ref, true)
	})
	name := e.name(t, "imported")
	_, err = ctrgate.Run(ctx, e.rt, ctrgate.ContainerSpec{Name: name, Image: ref, PullPolicy: ctrgate.PullNever})
	require.NoError(t, err)
	code, err := e.rt.Wait(ctx, name)
	require.NoError(t, err)
	assert.Equal(t, 0, code)
	lines := readLogs(t, ctx, e.rt, name)
	assert.Equal(t, []string{"hello world"}, lines)
}

func TestCopyErrors(t *testing.T) {
	e := newEngine(t)
	ctx := testCtx(t)
	name := e.name(t, "copy")
	_, err := e.rt.Create(ctx, e.spec(name, "exit", "0"))
	require.NoError(t, err)
	_, err = e.rt.CopyFrom(ctx, name, "/no/such/path")
	assert.ErrorIs(t, err, ctrgate.ErrNotFound)
	_, err = e.rt.CopyFrom(ctx, e.prefix+"missing", "/testprog")
	assert.ErrorIs(t, err, ctrgate.ErrNotFound)

	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	require.NoError(t, tw.WriteHeader(&tar.Header{Name: "hello.txt", Mode: 0o644, Size: 5}))
	_, _ = tw.Write([]byte("hello"))
	require.NoError(t, tw.Close())
	require.NoError(t, e.rt.CopyTo(ctx, name, "/tmp", &buf))
	rc, err := e.rt.CopyFrom(ctx, name, "/tmp/hello.txt")
	require.NoError(t, err)
	defer rc.Close()
	tr := tar.NewReader(rc)
	h, err := tr.Next()
	require.NoError(t, err)
	assert.Equal(t, "hello.txt", h.Name)
	data, err := io.ReadAll(tr)
	require.NoError(t, err)
	assert.Equal(t, "hello", string(data))
}

func readLogs(t *testing.T, ctx context.Context, rt ctrgate.ContainerRuntime, name string) []string {
	t.Helper()
	s, err := rt.Logs(ctx, name, ctrgate.LogOptions{})
	require.NoError(t, err)
	defer s.Close()
	var out []string
	for {
		l, err := s.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		require.NoError(t, err)
		assert.False(t, l.Time.IsZero(), "podman-api lines carry the engine's time")
		out = append(out, l.Text)
	}
}

func TestWaitReadyBeforeStart(t *testing.T) {
	// Podman 4.x ends a followed log of a never-started container at once;
	// WaitReady must still see the marker once the container runs.
	e := newEngine(t)
	ctx := testCtx(t)
	name := e.name(t, "ready-late")
	_, err := e.rt.Create(ctx, e.spec(name, "marker", "ready now", "200ms", ";", "sleep", "30"))
	require.NoError(t, err)
	type result struct {
		line ctrgate.LogLine
		err  error
	}
	ch := make(chan result, 1)
	go func() {
		l, err := ctrgate.WaitReady(ctx, e.rt, name, ctrgate.MatchSubstring("ready now"))
		ch <- result{l, err}
	}()
	time.Sleep(500 * time.Millisecond)
	require.NoError(t, e.rt.Start(ctx, name))
	select {
	case r := <-ch:
		require.NoError(t, r.err)
		assert.Equal(t, "ready now", r.line.Text)
		assert.Equal(t, ctrgate.Stdout, r.line.Stream)
	case <-time.After(20 * time.Second):
		t.Fatal("WaitReady did not see the marker")
	}
}

// TestWaitReadsConmonExitFile puts a proxy between the runtime and a local
// service that holds every wait request: Wait still returns the exit code,
// from the exit file conmon writes on this machine, and its request to
// the service is abandoned.
func TestWaitReadsConmonExitFile(t *testing.T) {
	uri := serviceURI(t)
	socket, ok := strings.CutPrefix(uri, "unix://")
	if !ok {
		conformance.EngineMissing(t, "the service is not on a unix socket: its exit files may be on another machine; "+
			"run this test against a local service (scripts/lanes.sh does)")
	}
	e := newEngine(t)
	held, abandoned := make(chan struct{}, 8), make(chan struct{}, 8)
	service := &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", socket)
	}}
	defer service.CloseIdleConnections()
	proxy := &httputil.ReverseProxy{
		Rewrite:       func(r *httputil.ProxyRequest) { r.Out.URL.Scheme, r.Out.URL.Host = "http", "d" },
		Transport:     service,
		FlushInterval: -1,
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/wait") {
			held <- struct{}{}
			<-r.Context().Done()
			abandoned <- struct{}{}
			return
		}
		proxy.ServeHTTP(w, r)
	})}
	l, err := net.Listen("unix", filepath.Join(t.TempDir(), "proxy.sock"))
	require.NoError(t, err)
	go func() { _ = srv.Serve(l) }()
	defer srv.Close()
	rt := newRuntime(t, "unix://"+l.Addr().String())
	defer rt.Close()

	ctx := testCtx(t)
	name := e.name(t, "exit-file")
	_, err = ctrgate.Run(ctx, rt, e.spec(name, "sleep", "700ms", ";", "exit", "7"))
	require.NoError(t, err)
	code, err := rt.Wait(ctx, name)
	require.NoError(t, err)
	assert.Equal(t, 7, code)
	// what Podman says next agrees (its queries read the same file)
	conformance.AssertExitedEverywhere(t, ctx, rt, name, 7)
	select {
	case <-held:
	default:
		t.Fatal("Wait did not ask the service: the container exited before Wait looked")
	}
	select {
	case <-abandoned:
	case <-time.After(10 * time.Second):
		t.Fatal("the wait request to the service was not abandoned")
	}
}
