package fake_test

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/ctrgate/ctrgate/driver"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/ctrgate/ctrgate"
	"github.com/ctrgate/ctrgate/conformance/testprog"
	"github.com/ctrgate/ctrgate/fake"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var _ testprog.System = (*fake.Process)(nil)

const img = "localhost/test:1"

// newRT returns a runtime with the test program at /testprog and image img
// whose entrypoint is /testprog. It is closed at the end of the test.
func newRT(t *testing.T, opts ...fake.Option) *fake.Runtime {
	t.Helper()
	rt := fake.New(opts...)
	rt.RegisterProgram("/testprog", func(p *fake.Process) int { return testprog.Main(p) })
	require.NoError(t, rt.AddImage(img, fake.ImageConfig{
		Entrypoint: []string{"/testprog"},
		Env:        []string{"IMGVAR=img", "SHARED=from-image"},
		Labels:     map[string]string{"from": "image"},
		Files:      map[string][]byte{"/etc/passwd": []byte("root:x:0:0::/root:/bin/sh\napp:x:1000:1001::/home/app:/bin/sh\n"), "/etc/motd": []byte("hi\n")},
	}))
	t.Cleanup(func() { require.NoError(t, rt.Close()) })
	return rt
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func spec(name string, args ...string) ctrgate.ContainerSpec {
	return ctrgate.ContainerSpec{Name: name, Image: img, Command: args}
}

func run(t *testing.T, rt *fake.Runtime, s ctrgate.ContainerSpec) string {
	t.Helper()
	id, err := ctrgate.Run(ctxT(t), rt, s)
	require.NoError(t, err)
	return id
}

func readLogs(t *testing.T, rt ctrgate.ContainerRuntime, name string, opts ctrgate.LogOptions) []ctrgate.LogLine {
	t.Helper()
	s, err := rt.Logs(ctxT(t), name, opts)
	require.NoError(t, err)
	defer s.Close()
	var out []ctrgate.LogLine
	for {
		l, err := s.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		require.NoError(t, err)
		out = append(out, l)
	}
}

func texts(lines []ctrgate.LogLine) []string {
	out := []string{}
	for _, l := range lines {
		out = append(out, l.Stream.String()+":"+l.Text)
	}
	return out
}

func TestInfo(t *testing.T) {
	rt := newRT(t)
	info, err := rt.Info(ctxT(t))
	require.NoError(t, err)
	assert.Equal(t, "fake", info.Backend)
	assert.Equal(t, "fake", info.Engine)
	assert.False(t, info.CDIGPUs)
	assert.Empty(t, info.CDIDevices)

	rt2 := newRT(t, fake.WithCDIDevices("nvidia.com/gpu=0", "nvidia.com/gpu=all"))
	info, err = rt2.Info(ctxT(t))
	require.NoError(t, err)
	assert.True(t, info.CDIGPUs)
	assert.Equal(t, []string{"nvidia.com/gpu=0", "nvidia.com/gpu=all"}, info.CDIDevices)
}

func TestImages(t *testing.T) {
	rt := newRT(t)
	ctx := ctxT(t)
	ok, err := rt.ImageExists(ctx, "nope:1")
	require.NoError(t, err)
	assert.False(t, ok)
	for _, p := range []ctrgate.PullPolicy{"", ctrgate.PullNever, ctrgate.PullMissing, ctrgate.PullAlways} {
		err := rt.PullImage(ctx, "nope:1", p)
		assert.ErrorIs(t, err, ctrgate.ErrImageNotFound, "policy %q", p)
		_, err = rt.Create(ctx, ctrgate.ContainerSpec{Image: "nope:1", PullPolicy: p})
		assert.ErrorIs(t, err, ctrgate.ErrImageNotFound, "policy %q", p)
		assert.NoError(t, rt.PullImage(ctx, img, p))
	}
	ok, err = rt.ImageExists(ctx, img)
	require.NoError(t, err)
	assert.True(t, ok)
	assert.ErrorIs(t, rt.PullImage(ctx, "-bad", ""), ctrgate.ErrInvalidSpec)

	// no tag means :latest; docker.io/library/ is implied
	require.NoError(t, rt.AddImage("busybox", fake.ImageConfig{}))
	ok, err = rt.ImageExists(ctx, "docker.io/library/busybox:latest")
	require.NoError(t, err)
	assert.True(t, ok)

	// a used image is not removed without force
	id, err := rt.Create(ctx, spec("uses-img", "echo", "x"))
	require.NoError(t, err)
	assert.ErrorIs(t, rt.RemoveImage(ctx, img, false), ctrgate.ErrRunning)
	require.NoError(t, rt.RemoveImage(ctx, img, true))
	assert.ErrorIs(t, rt.RemoveImage(ctx, img, false), ctrgate.ErrImageNotFound)
	// the container keeps its copy of the image
	require.NoError(t, rt.Start(ctx, id))
	code, err := rt.Wait(ctx, id)
	require.NoError(t, err)
	assert.Equal(t, 0, code)
}

func tarOf(t *testing.T, files map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	require.NoError(t, tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: "etc/", Mode: 0o755}))
	for name, content := range files {
		require.NoError(t, tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o644, Size: int64(len(content))}))
		_, err := tw.Write([]byte(content))
		require.NoError(t, err)
	}
	require.NoError(t, tw.WriteHeader(&tar.Header{Typeflag: tar.TypeSymlink, Name: "etc/link", Linkname: "/etc/conf"}))
	require.NoError(t, tw.Close())
	return buf.Bytes()
}

func TestImportImage(t *testing.T) {
	rt := newRT(t)
	ctx := ctxT(t)
	err := rt.ImportImage(ctx, "localhost/bad:1", strings.NewReader(strings.Repeat("not a tar ", 100)), ctrgate.ImportOptions{})
	var ee *ctrgate.EngineError
	require.ErrorAs(t, err, &ee)
	ok, err := rt.ImageExists(ctx, "localhost/bad:1")
	require.NoError(t, err)
	assert.False(t, ok)

	data := tarOf(t, map[string]string{"etc/conf": "value=1\n"})
	require.NoError(t, rt.ImportImage(ctx, "localhost/imported:1", bytes.NewReader(data), ctrgate.ImportOptions{
		Entrypoint: []string{"/testprog"}, Env: []string{"A=1"}, WorkDir: "/work", Labels: map[string]string{"l": "v"},
	}))
	id := run(t, rt, ctrgate.ContainerSpec{Name: "imp", Image: "localhost/imported:1",
		Command: []string{"cat", "/etc/link", ";", "getenv", "A", ";", "pwd"}})
	code, err := rt.Wait(ctx, id)
	require.NoError(t, err)
	assert.Equal(t, 0, code)
	assert.Equal(t, []string{"stdout:value=1", "stdout:1", "stdout:/work"}, texts(readLogs(t, rt, "imp", ctrgate.LogOptions{})))
	c, err := rt.Inspect(ctx, "imp")
	require.NoError(t, err)
	assert.Equal(t, "v", c.Labels["l"])

	// gzip-compressed, as "podman import" accepts
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	_, err = zw.Write(tarOf(t, map[string]string{"etc/conf": "zipped\n"}))
	require.NoError(t, err)
	require.NoError(t, zw.Close())
	require.NoError(t, rt.ImportImage(ctx, "localhost/imported:1", &gz, ctrgate.ImportOptions{Entrypoint: []string{"/testprog"}}))
	run(t, rt, ctrgate.ContainerSpec{Name: "imp2", Image: "localhost/imported:1", Command: []string{"cat", "/etc/conf"}})
	_, err = rt.Wait(ctx, "imp2")
	require.NoError(t, err)
	assert.Equal(t, []string{"stdout:zipped"}, texts(readLogs(t, rt, "imp2", ctrgate.LogOptions{})))
}

func TestLifecycle(t *testing.T) {
	rt := newRT(t)
	ctx := ctxT(t)
	id, err := rt.Create(ctx, ctrgate.ContainerSpec{Name: "life", Image: img, Command: []string{"echo", "hi", ";", "exit", "3"},
		Labels: map[string]string{"app": "x"}})
	require.NoError(t, err)
	assert.Len(t, id, 64)
	c, err := rt.Inspect(ctx, "life")
	require.NoError(t, err)
	assert.Equal(t, ctrgate.StateCreated, c.State.Status)
	assert.Equal(t, map[string]string{"app": "x", "from": "image"}, c.Labels)
	_, err = rt.Create(ctx, ctrgate.ContainerSpec{Name: "life", Image: img})
	assert.ErrorIs(t, err, ctrgate.ErrAlreadyExists)

	require.NoError(t, rt.Start(ctx, id[:12]))
	code, err := rt.Wait(ctx, "life")
	require.NoError(t, err)
	assert.Equal(t, 3, code)
	c, err = rt.Inspect(ctx, id)
	require.NoError(t, err)
	assert.Equal(t, ctrgate.StateExited, c.State.Status)
	assert.Equal(t, 3, c.State.ExitCode)
	assert.False(t, c.State.FinishedAt.Before(c.State.StartedAt))

	// restart of an exited container: logs accumulate
	require.NoError(t, rt.Start(ctx, "life"))
	code, err = rt.Wait(ctx, "life")
	require.NoError(t, err)
	assert.Equal(t, 3, code)
	assert.Equal(t, []string{"stdout:hi", "stdout:hi"}, texts(readLogs(t, rt, "life", ctrgate.LogOptions{})))

	// generated name
	id2, err := rt.Create(ctx, ctrgate.ContainerSpec{Image: img, Command: []string{"exit", "0"}})
	require.NoError(t, err)
	c, err = rt.Inspect(ctx, id2)
	require.NoError(t, err)
	assert.NoError(t, ctrgate.ValidateName(c.Name))
	assert.NotEmpty(t, c.Name)

	assert.ErrorIs(t, rt.Remove(ctx, "nope", ctrgate.RemoveOptions{}), ctrgate.ErrNotFound)
	assert.ErrorIs(t, rt.Start(ctx, "nope"), ctrgate.ErrNotFound)
	_, err = rt.Inspect(ctx, "nope")
	assert.ErrorIs(t, err, ctrgate.ErrNotFound)
	_, err = rt.Wait(ctx, "nope")
	assert.ErrorIs(t, err, ctrgate.ErrNotFound)
	assert.ErrorIs(t, rt.Start(ctx, "-x"), ctrgate.ErrInvalidSpec)
	_, err = rt.Create(ctx, ctrgate.ContainerSpec{Image: img, Ports: []ctrgate.PortMapping{{ContainerPort: 0}}})
	assert.ErrorIs(t, err, ctrgate.ErrInvalidSpec)

	require.NoError(t, rt.Remove(ctx, "life", ctrgate.RemoveOptions{}))
	require.NoError(t, rt.Remove(ctx, id2, ctrgate.RemoveOptions{}))
	cs, err := rt.List(ctx, ctrgate.ListFilter{All: true})
	require.NoError(t, err)
	assert.Empty(t, cs)
}

func TestMissingExecutable(t *testing.T) {
	rt := newRT(t)
	ctx := ctxT(t)
	_, err := rt.Create(ctx, ctrgate.ContainerSpec{Name: "noexec", Image: img, Entrypoint: []string{"/nope"}})
	require.NoError(t, err)
	err = rt.Start(ctx, "noexec")
	var ee *ctrgate.EngineError
	require.ErrorAs(t, err, &ee)
	assert.Contains(t, err.Error(), "/nope")
	c, err := rt.Inspect(ctx, "noexec")
	require.NoError(t, err)
	assert.Equal(t, ctrgate.StateExited, c.State.Status)
	assert.Equal(t, 127, c.State.ExitCode)
	code, err := rt.Wait(ctx, "noexec")
	require.NoError(t, err)
	assert.Equal(t, 127, code)

	// ctrgate.Run removes what it created when Start fails
	_, err = ctrgate.Run(ctx, rt, ctrgate.ContainerSpec{Name: "noexec2", Image: img, Entrypoint: []string{"nope"}})
	require.Error(t, err)
	_, err = rt.Inspect(ctx, "noexec2")
	assert.ErrorIs(t, err, ctrgate.ErrNotFound)
}

func TestImageProgramAndPathLookup(t *testing.T) {
	rt := newRT(t)
	ctx := ctxT(t)
	require.NoError(t, rt.AddImage("localhost/app:1", fake.ImageConfig{
		Cmd: []string{"serve"},
		Program: func(p *fake.Process) int {
			fmt.Fprintln(p.Stdout(), "app", strings.Join(p.Args(), ","))
			return 0
		},
	}))
	rt.RegisterProgram("/usr/bin/tool", func(p *fake.Process) int {
		fmt.Fprintln(p.Stdout(), "tool", p.Args()[0])
		return 5
	})
	run(t, rt, ctrgate.ContainerSpec{Name: "app", Image: "localhost/app:1"})
	code, err := rt.Wait(ctx, "app")
	require.NoError(t, err)
	assert.Equal(t, 0, code)
	run(t, rt, ctrgate.ContainerSpec{Name: "tool", Image: "localhost/app:1", Command: []string{"tool"}})
	code, err = rt.Wait(ctx, "tool")
	require.NoError(t, err)
	assert.Equal(t, 5, code)
	assert.Equal(t, []string{"stdout:app serve"}, texts(readLogs(t, rt, "app", ctrgate.LogOptions{})))
	assert.Equal(t, []string{"stdout:tool tool"}, texts(readLogs(t, rt, "tool", ctrgate.LogOptions{})))

	// no command anywhere and no image program: rejected at create
	require.NoError(t, rt.AddImage("localhost/empty:1", fake.ImageConfig{}))
	_, err = rt.Create(ctx, ctrgate.ContainerSpec{Image: "localhost/empty:1"})
	assert.Error(t, err)
}

func TestProcessContext(t *testing.T) {
	rt := newRT(t)
	ctx := ctxT(t)
	run(t, rt, ctrgate.ContainerSpec{Name: "ctx", Image: img, User: "1000:2000", WorkDir: "/srv", Hostname: "box",
		Env:     []ctrgate.EnvVar{{Name: "SHARED", Value: "from-spec"}, {Name: "X", Value: "1"}},
		Command: []string{"id", ";", "pwd", ";", "hostname", ";", "getenv", "SHARED", ";", "getenv", "IMGVAR", ";", "getenv", "PATH", ";", "cat", "motd"}})
	code, err := rt.Wait(ctx, "ctx")
	require.NoError(t, err)
	assert.Equal(t, 1, code, "the last command fails")
	assert.Equal(t, []string{"stdout:1000:2000", "stdout:/srv", "stdout:box", "stdout:from-spec", "stdout:img",
		"stdout:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "stderr:testprog: open /srv/motd: file does not exist"},
		texts(readLogs(t, rt, "ctx", ctrgate.LogOptions{})))

	hn, err := rt.ReadFile("ctx", "/etc/hostname")
	require.NoError(t, err)
	assert.Equal(t, "box\n", string(hn))

	// /etc/hosts holds the extra hosts
	run(t, rt, ctrgate.ContainerSpec{Name: "hosts", Image: img, Command: []string{"cat", "/etc/hosts"},
		ExtraHosts: []ctrgate.HostEntry{{Host: "db.example", IP: "10.0.0.7"}}})
	_, err = rt.Wait(ctx, "hosts")
	require.NoError(t, err)
	assert.Contains(t, texts(readLogs(t, rt, "hosts", ctrgate.LogOptions{})), "stdout:10.0.0.7\tdb.example")

	// user by name from /etc/passwd; unknown user fails at start
	run(t, rt, ctrgate.ContainerSpec{Name: "named", Image: img, User: "app", Command: []string{"id"}})
	_, err = rt.Wait(ctx, "named")
	require.NoError(t, err)
	assert.Equal(t, []string{"stdout:1000:1001"}, texts(readLogs(t, rt, "named", ctrgate.LogOptions{})))
	_, err = ctrgate.Run(ctx, rt, ctrgate.ContainerSpec{Name: "ghost", Image: img, User: "ghost", Command: []string{"id"}})
	assert.ErrorContains(t, err, "unable to find user ghost")
}

func TestStop(t *testing.T) {
	rt := newRT(t)
	ctx := ctxT(t)
	// the program handles SIGTERM itself
	run(t, rt, spec("term", "sleep", "1h"))
	require.NoError(t, rt.Stop(ctx, "term", 5*time.Second))
	c, err := rt.Inspect(ctx, "term")
	require.NoError(t, err)
	assert.Equal(t, ctrgate.StateExited, c.State.Status)
	assert.Equal(t, 143, c.State.ExitCode)

	// ignoring SIGTERM: killed after the timeout
	run(t, rt, spec("stubborn", "ignore-term"))
	_, err = ctrgate.WaitReady(ctx, rt, "stubborn", ctrgate.MatchSubstring(testprog.IgnoringTermLine))
	require.NoError(t, err)
	start := time.Now()
	require.NoError(t, rt.Stop(ctx, "stubborn", 200*time.Millisecond))
	assert.GreaterOrEqual(t, time.Since(start), 200*time.Millisecond)
	code, err := rt.Wait(ctx, "stubborn")
	require.NoError(t, err)
	assert.Equal(t, 137, code)

	// timeout 0 kills at once; stop signal from the spec
	s := spec("zero", "sleep", "1h")
	run(t, rt, s)
	require.NoError(t, rt.Stop(ctx, "zero", 0))
	code, err = rt.Wait(ctx, "zero")
	require.NoError(t, err)
	assert.Equal(t, 137, code)
	s = spec("hup", "sleep", "1h")
	s.StopSignal = "SIGHUP"
	run(t, rt, s)
	require.NoError(t, rt.Stop(ctx, "hup", -1))
	code, err = rt.Wait(ctx, "hup")
	require.NoError(t, err)
	assert.Equal(t, 129, code)

	// negative timeout: the spec's stop timeout
	s = spec("spec-timeout", "ignore-term")
	s.StopTimeout = 100 * time.Millisecond
	run(t, rt, s)
	_, err = ctrgate.WaitReady(ctx, rt, "spec-timeout", ctrgate.MatchSubstring(testprog.IgnoringTermLine))
	require.NoError(t, err)
	require.NoError(t, rt.Stop(ctx, "spec-timeout", -1))
	code, err = rt.Wait(ctx, "spec-timeout")
	require.NoError(t, err)
	assert.Equal(t, 137, code)

	require.NoError(t, rt.Stop(ctx, "spec-timeout", time.Second), "stopping an exited container is a no-op")
	assert.ErrorIs(t, rt.Stop(ctx, "nope", time.Second), ctrgate.ErrNotFound)

	// ctx ends a long stop
	run(t, rt, spec("slow", "ignore-term"))
	_, err = ctrgate.WaitReady(ctx, rt, "slow", ctrgate.MatchSubstring(testprog.IgnoringTermLine))
	require.NoError(t, err)
	short, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	assert.ErrorIs(t, rt.Stop(short, "slow", time.Hour), context.DeadlineExceeded)
	require.NoError(t, rt.Remove(ctx, "slow", ctrgate.RemoveOptions{Force: true}))
}

func TestKill(t *testing.T) {
	rt := newRT(t)
	ctx := ctxT(t)
	got := make(chan os.Signal, 4)
	rt.RegisterProgram("/sig", func(p *fake.Process) int {
		for {
			select {
			case s := <-p.Signals():
				got <- s
				if s == syscall.SIGUSR2 {
					return 7
				}
			case <-p.Done():
				return 0
			}
		}
	})
	run(t, rt, ctrgate.ContainerSpec{Name: "sig", Image: img, Entrypoint: []string{"/sig"}})
	require.NoError(t, rt.Kill(ctx, "sig", "USR1"))
	assert.Equal(t, syscall.SIGUSR1, <-got)
	require.NoError(t, rt.Kill(ctx, "sig", "12"))
	assert.Equal(t, syscall.SIGUSR2, <-got)
	code, err := rt.Wait(ctx, "sig")
	require.NoError(t, err)
	assert.Equal(t, 7, code)
	assert.ErrorIs(t, rt.Kill(ctx, "sig", "TERM"), ctrgate.ErrNotRunning)
	assert.ErrorIs(t, rt.Kill(ctx, "sig", "SIGNOPE"), ctrgate.ErrInvalidSpec)
	assert.ErrorIs(t, rt.Kill(ctx, "nope", "TERM"), ctrgate.ErrNotFound)

	require.NoError(t, rt.Start(ctx, "sig"))
	require.NoError(t, rt.Kill(ctx, "sig", ""))
	code, err = rt.Wait(ctx, "sig")
	require.NoError(t, err)
	assert.Equal(t, 137, code)
}

func TestRemoveAndAutoRemove(t *testing.T) {
	rt := newRT(t)
	ctx := ctxT(t)
	run(t, rt, spec("busy", "sleep", "1h"))
	assert.ErrorIs(t, rt.Remove(ctx, "busy", ctrgate.RemoveOptions{}), ctrgate.ErrRunning)
	require.NoError(t, rt.Remove(ctx, "busy", ctrgate.RemoveOptions{Force: true}))
	_, err := rt.Inspect(ctx, "busy")
	assert.ErrorIs(t, err, ctrgate.ErrNotFound)

	s := spec("auto", "sleep", "200ms", ";", "exit", "4")
	s.AutoRemove = true
	id, err := rt.Create(ctx, s)
	require.NoError(t, err)
	waited := make(chan int, 1)
	go func() {
		code, _ := rt.Wait(ctx, id)
		waited <- code
	}()
	require.NoError(t, rt.Start(ctx, id))
	assert.Equal(t, 4, <-waited)
	_, err = rt.Inspect(ctx, "auto")
	assert.ErrorIs(t, err, ctrgate.ErrNotFound)
}

func TestConcurrentCreateOneWinner(t *testing.T) {
	rt := newRT(t)
	ctx := ctxT(t)
	var wins, conflicts atomic.Int32
	var wg sync.WaitGroup
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := rt.Create(ctx, spec("same", "exit", "0"))
			switch {
			case err == nil:
				wins.Add(1)
			case errors.Is(err, ctrgate.ErrAlreadyExists):
				conflicts.Add(1)
			}
		}()
	}
	wg.Wait()
	assert.Equal(t, int32(1), wins.Load())
	assert.Equal(t, int32(19), conflicts.Load())
}

func TestWait(t *testing.T) {
	rt := newRT(t)
	ctx := ctxT(t)
	id, err := rt.Create(ctx, spec("later", "exit", "9"))
	require.NoError(t, err)
	res := make(chan int, 1)
	go func() {
		code, err := rt.Wait(ctx, id)
		assert.NoError(t, err)
		res <- code
	}()
	time.Sleep(50 * time.Millisecond)
	select {
	case <-res:
		t.Fatal("Wait returned before the container was started")
	default:
	}
	require.NoError(t, rt.Start(ctx, id))
	assert.Equal(t, 9, <-res)

	run(t, rt, spec("forever", "sleep", "1h"))
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	_, err = rt.Wait(short, "forever")
	assert.ErrorIs(t, err, context.DeadlineExceeded)
}

func TestLogs(t *testing.T) {
	rt := newRT(t)
	ctx := ctxT(t)
	run(t, rt, spec("logs", "echo", "one", ";", "echo-err", "two", ";", "bulk", "3", ";", "no-newline", "last"))
	_, err := rt.Wait(ctx, "logs")
	require.NoError(t, err)
	all := readLogs(t, rt, "logs", ctrgate.LogOptions{})
	assert.Equal(t, []string{"stdout:one", "stderr:two", "stdout:line 1", "stdout:line 2", "stdout:line 3", "stdout:last"}, texts(all))
	for _, l := range all {
		assert.False(t, l.Time.IsZero())
	}
	assert.Equal(t, []string{"stdout:line 3", "stdout:last"}, texts(readLogs(t, rt, "logs", ctrgate.LogOptions{Tail: 2})))
	assert.Empty(t, readLogs(t, rt, "logs", ctrgate.LogOptions{Since: time.Now().Add(time.Hour)}))
	assert.Len(t, readLogs(t, rt, "logs", ctrgate.LogOptions{Since: all[0].Time}), 6)
	assert.Len(t, readLogs(t, rt, "logs", ctrgate.LogOptions{Follow: true}), 6, "follow on an exited container ends")

	// follow streams until exit
	run(t, rt, spec("follow", "marker", "a", "50ms", ";", "marker", "b", "50ms", ";", "exit", "2"))
	assert.Equal(t, []string{"stdout:a", "stdout:b"}, texts(readLogs(t, rt, "follow", ctrgate.LogOptions{Follow: true})))

	// closing a follow stream ends it
	run(t, rt, spec("closeme", "sleep", "1h"))
	s, err := rt.Logs(ctx, "closeme", ctrgate.LogOptions{Follow: true})
	require.NoError(t, err)
	require.NoError(t, rt.EmitLog("closeme", ctrgate.Stderr, "injected\nline"))
	l, err := s.Next()
	require.NoError(t, err)
	assert.Equal(t, "injected", l.Text)
	assert.Equal(t, ctrgate.Stderr, l.Stream)
	l, err = s.Next()
	require.NoError(t, err)
	assert.Equal(t, "line", l.Text)
	require.NoError(t, s.Close())
	_, err = s.Next()
	assert.ErrorIs(t, err, io.EOF)

	// a cancelled context ends a follow stream
	cctx, cancel := context.WithCancel(ctx)
	s, err = rt.Logs(cctx, "closeme", ctrgate.LogOptions{Follow: true})
	require.NoError(t, err)
	cancel()
	for err == nil {
		_, err = s.Next()
	}
	assert.ErrorIs(t, err, context.Canceled)
	s.Close()
	_, err = rt.Logs(ctx, "nope", ctrgate.LogOptions{})
	assert.ErrorIs(t, err, ctrgate.ErrNotFound)
}

func TestWaitReadyExited(t *testing.T) {
	rt := newRT(t)
	ctx := ctxT(t)
	run(t, rt, spec("dies", "echo", "booting", ";", "exit", "12"))
	_, err := ctrgate.WaitReady(ctx, rt, "dies", ctrgate.MatchSubstring("ready"))
	var xe *ctrgate.ExitedError
	require.ErrorAs(t, err, &xe)
	assert.Equal(t, 12, xe.ExitCode)
}

func TestEvents(t *testing.T) {
	rt := newRT(t)
	ctx := ctxT(t)
	_, err := rt.Create(ctx, spec("ev-before", "exit", "0"))
	require.NoError(t, err)
	st, err := rt.Events(ctx, ctrgate.EventFilter{NamePrefix: "ev-", Labels: map[string]string{"from": "image"}})
	require.NoError(t, err)
	defer st.Close()
	other, err := rt.Create(ctx, ctrgate.ContainerSpec{Name: "other", Image: img, Command: []string{"exit", "0"}})
	require.NoError(t, err)
	id := run(t, rt, spec("ev-one", "exit", "6"))
	_, err = rt.Wait(ctx, id)
	require.NoError(t, err)
	require.NoError(t, rt.Remove(ctx, id, ctrgate.RemoveOptions{}))
	require.NoError(t, rt.Remove(ctx, other, ctrgate.RemoveOptions{}))
	var got []string
	for len(got) < 4 {
		ev, err := st.Next()
		require.NoError(t, err)
		assert.Equal(t, id, ev.ID)
		assert.Equal(t, "ev-one", ev.Name)
		got = append(got, fmt.Sprintf("%s:%d", ev.Type, ev.ExitCode))
	}
	assert.Equal(t, []string{"create:0", "start:0", "die:6", "remove:0"}, got)
	require.NoError(t, st.Close())
	_, err = st.Next()
	assert.ErrorIs(t, err, io.EOF)

	cctx, cancel := context.WithCancel(ctx)
	st2, err := rt.Events(cctx, ctrgate.EventFilter{})
	require.NoError(t, err)
	defer st2.Close()
	cancel()
	_, err = st2.Next()
	assert.ErrorIs(t, err, context.Canceled)
}

func TestExec(t *testing.T) {
	rt := newRT(t)
	ctx := ctxT(t)
	_, err := rt.Create(ctx, ctrgate.ContainerSpec{Name: "ex", Image: img, Command: []string{"sleep", "1h"},
		Env: []ctrgate.EnvVar{{Name: "A", Value: "container"}}})
	require.NoError(t, err)
	_, err = rt.Exec(ctx, "ex", ctrgate.ExecOptions{Cmd: []string{"/testprog", "echo"}})
	assert.ErrorIs(t, err, ctrgate.ErrNotRunning)
	require.NoError(t, rt.Start(ctx, "ex"))

	res, err := rt.Exec(ctx, "ex", ctrgate.ExecOptions{
		Cmd: []string{"/testprog", "getenv", "A", ";", "getenv", "B", ";", "pwd", ";", "id", ";", "echo-err", "e", ";", "stdin", ";", "exit", "124"},
		Env: []ctrgate.EnvVar{{Name: "B", Value: "exec"}}, WorkDir: "/tmp", User: "5:6", Stdin: strings.NewReader("in\n"),
	})
	require.NoError(t, err)
	assert.Equal(t, 124, res.ExitCode)
	assert.Equal(t, "container\nexec\n/tmp\n5:6\nin\n", string(res.Stdout))
	assert.Equal(t, "e\n", string(res.Stderr))

	// same file system as the main process
	res, err = rt.Exec(ctx, "ex", ctrgate.ExecOptions{Cmd: []string{"/testprog", "write", "/f", "shared"}})
	require.NoError(t, err)
	require.Equal(t, 0, res.ExitCode, string(res.Stderr))
	res, err = rt.Exec(ctx, "ex", ctrgate.ExecOptions{Cmd: []string{"/testprog", "cat", "/f"}})
	require.NoError(t, err)
	assert.Equal(t, "shared", string(res.Stdout))

	res, err = rt.Exec(ctx, "ex", ctrgate.ExecOptions{Cmd: []string{"/nope"}})
	require.NoError(t, err)
	assert.Equal(t, 127, res.ExitCode)
	_, err = rt.Exec(ctx, "ex", ctrgate.ExecOptions{})
	assert.ErrorIs(t, err, ctrgate.ErrInvalidSpec)
	_, err = rt.Exec(ctx, "nope", ctrgate.ExecOptions{Cmd: []string{"x"}})
	assert.ErrorIs(t, err, ctrgate.ErrNotFound)

	// an exec ends with its container
	done := make(chan *ctrgate.ExecResult, 1)
	go func() {
		res, _ := rt.Exec(ctx, "ex", ctrgate.ExecOptions{Cmd: []string{"/testprog", "sleep", "1h"}})
		done <- res
	}()
	time.Sleep(50 * time.Millisecond)
	require.NoError(t, rt.Kill(ctx, "ex", "KILL"))
	res = <-done
	require.NotNil(t, res)
	assert.Equal(t, 137, res.ExitCode)
}

func TestFileSystems(t *testing.T) {
	rt := newRT(t)
	ctx := ctxT(t)
	host := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(host, "in.txt"), []byte("from host\n"), 0o644))
	mounts := []ctrgate.Mount{
		{Type: ctrgate.MountBind, Source: host, Target: "/host"},
		{Type: ctrgate.MountBind, Source: host, Target: "/ro", ReadOnly: true},
		{Type: ctrgate.MountTmpfs, Target: "/scratch"},
		{Type: ctrgate.MountVolume, Source: "shared", Target: "/vol"},
	}
	s := ctrgate.ContainerSpec{Name: "fs1", Image: img, Mounts: mounts, Command: []string{
		"cat", "/host/in.txt", ";", "write", "/host/out.txt", "from container", ";",
		"write", "/scratch/t", "tmp", ";", "write", "/vol/v", "volume", ";", "write", "/ro/x", "no"}}
	run(t, rt, s)
	code, err := rt.Wait(ctx, "fs1")
	require.NoError(t, err)
	assert.Equal(t, 1, code, "the write to the read-only mount fails")
	out, err := os.ReadFile(filepath.Join(host, "out.txt"))
	require.NoError(t, err)
	assert.Equal(t, "from container", string(out))
	lines := texts(readLogs(t, rt, "fs1", ctrgate.LogOptions{}))
	require.Len(t, lines, 2)
	assert.Equal(t, "stdout:from host", lines[0])
	assert.Contains(t, lines[1], "read-only file system")
	_, err = os.Stat(filepath.Join(host, "x"))
	assert.ErrorIs(t, err, os.ErrNotExist)

	// the named volume is shared; the tmpfs is not
	run(t, rt, ctrgate.ContainerSpec{Name: "fs2", Image: img, Mounts: mounts[2:], Command: []string{"cat", "/vol/v", ";", "cat", "/scratch/t"}})
	code, err = rt.Wait(ctx, "fs2")
	require.NoError(t, err)
	assert.Equal(t, 1, code)
	lines = texts(readLogs(t, rt, "fs2", ctrgate.LogOptions{}))
	assert.Contains(t, lines, "stdout:volume")
	_, err = rt.ReadFile("fs1", "/scratch/t")
	assert.ErrorIs(t, err, os.ErrNotExist, "a tmpfs is emptied when its container stops")
	assert.Contains(t, lines, "stderr:testprog: open /scratch/t: file does not exist")
	assert.Equal(t, []string{"shared"}, rt.Volumes())

	// CopyTo and CopyFrom go through bind mounts to the host
	require.NoError(t, rt.CopyTo(ctx, "fs1", "/host", bytes.NewReader(tarOf(t, map[string]string{"etc/conf": "via cp"}))))
	data, err := os.ReadFile(filepath.Join(host, "etc", "conf"))
	require.NoError(t, err)
	assert.Equal(t, "via cp", string(data))
	target, err := os.Readlink(filepath.Join(host, "etc", "link"))
	require.NoError(t, err)
	assert.Equal(t, "/etc/conf", target)
	assert.Error(t, rt.CopyTo(ctx, "fs1", "/ro", bytes.NewReader(tarOf(t, map[string]string{"etc/conf": "x"}))), "read-only mount")
	rc, err := rt.CopyFrom(ctx, "fs1", "/")
	require.NoError(t, err)
	names := map[string]bool{}
	tr := tar.NewReader(rc)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err)
		names[hdr.Name] = true
	}
	rc.Close()
	for _, n := range []string{"host/", "host/in.txt", "host/etc/conf", "host/etc/link", "vol/v", "scratch/", "etc/motd"} {
		assert.True(t, names[n] || names["./"+n], "tar of / holds %s", n)
	}

	// read-only root
	run(t, rt, ctrgate.ContainerSpec{Name: "rofs", Image: img, ReadOnlyRootfs: true, Command: []string{"write", "/etc/x", "y"}})
	code, err = rt.Wait(ctx, "rofs")
	require.NoError(t, err)
	assert.Equal(t, 1, code)
}

func TestCopy(t *testing.T) {
	rt := newRT(t)
	ctx := ctxT(t)
	id, err := rt.Create(ctx, spec("cp", "cat", "/dst/etc/conf"))
	require.NoError(t, err)
	assert.ErrorIs(t, rt.CopyTo(ctx, id, "/dst", bytes.NewReader(tarOf(t, map[string]string{"etc/conf": "c"}))), ctrgate.ErrNotFound)
	require.NoError(t, rt.CopyTo(ctx, id, "/etc", bytes.NewReader(tarOf(t, map[string]string{"etc/conf": "c"}))))
	_, err = rt.CopyFrom(ctx, id, "/missing")
	assert.ErrorIs(t, err, ctrgate.ErrNotFound)
	_, err = rt.CopyFrom(ctx, "nope", "/etc")
	assert.ErrorIs(t, err, ctrgate.ErrNotFound)

	rc, err := rt.CopyFrom(ctx, id, "/etc/etc")
	require.NoError(t, err)
	files := map[string]string{}
	tr := tar.NewReader(rc)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err)
		data, _ := io.ReadAll(tr)
		files[hdr.Name] = string(data)
		if hdr.Typeflag == tar.TypeSymlink {
			files[hdr.Name] = "-> " + hdr.Linkname
		}
	}
	require.NoError(t, rc.Close())
	assert.Equal(t, map[string]string{"etc/": "", "etc/conf": "c", "etc/link": "-> /etc/conf"}, files)

	// exited containers too
	require.NoError(t, rt.Start(ctx, id))
	_, err = rt.Wait(ctx, id)
	require.NoError(t, err)
	require.NoError(t, rt.CopyTo(ctx, id, "/", bytes.NewReader(tarOf(t, map[string]string{"etc/after": "a"}))))
	rc, err = rt.CopyFrom(ctx, id, "/etc/after")
	require.NoError(t, err)
	hdr, err := tar.NewReader(rc).Next()
	require.NoError(t, err)
	assert.Equal(t, "after", hdr.Name)
	rc.Close()
	assert.Error(t, rt.CopyTo(ctx, id, "/", strings.NewReader(strings.Repeat("garbage!", 200))))

	// test helpers look inside directly
	require.NoError(t, rt.WriteFile("cp", "/new/dir/f", []byte("direct"), 0o600))
	data, err := rt.ReadFile("cp", "/new/dir/f")
	require.NoError(t, err)
	assert.Equal(t, "direct", string(data))
	_, err = rt.ReadFile("cp", "/new/none")
	assert.ErrorIs(t, err, os.ErrNotExist)
	_, err = rt.ReadFile("nope", "/x")
	assert.ErrorIs(t, err, ctrgate.ErrNotFound)
}

func TestPorts(t *testing.T) {
	rt := newRT(t)
	ctx := ctxT(t)
	s := spec("web", "serve-tcp", "8080")
	s.Ports = []ctrgate.PortMapping{{ContainerPort: 8080}, {ContainerPort: 9999}}
	run(t, rt, s)
	_, err := ctrgate.WaitReady(ctx, rt, "web", ctrgate.MatchSubstring(testprog.ListeningPrefix))
	require.NoError(t, err)
	c, err := rt.Inspect(ctx, "web")
	require.NoError(t, err)
	require.Len(t, c.Ports, 2)
	hostPort := c.Ports[0].HostPort
	require.NotZero(t, hostPort)
	assert.Equal(t, "tcp", c.Ports[0].Protocol)

	conn, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(hostPort), 5*time.Second)
	require.NoError(t, err)
	require.NoError(t, conn.SetDeadline(time.Now().Add(5*time.Second)))
	br := bufio.NewReader(conn)
	line, err := br.ReadString('\n')
	require.NoError(t, err)
	assert.Equal(t, testprog.Greeting+"\n", line)
	_, err = io.WriteString(conn, "ping\n")
	require.NoError(t, err)
	line, err = br.ReadString('\n')
	require.NoError(t, err)
	assert.Equal(t, "ping\n", line)
	conn.Close()

	// half-close: the program reads EOF, answers and closes
	conn, err = net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(hostPort), 5*time.Second)
	require.NoError(t, err)
	require.NoError(t, conn.SetDeadline(time.Now().Add(5*time.Second)))
	_, err = io.WriteString(conn, "half\nclosed")
	require.NoError(t, err)
	require.NoError(t, conn.(*net.TCPConn).CloseWrite())
	all, err := io.ReadAll(conn)
	require.NoError(t, err)
	assert.Equal(t, testprog.Greeting+"\nhalf\nclosed", string(all))
	conn.Close()

	// a port nobody listens on: the connection is closed
	conn2, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(c.Ports[1].HostPort), 5*time.Second)
	require.NoError(t, err)
	require.NoError(t, conn2.SetDeadline(time.Now().Add(5*time.Second)))
	_, err = conn2.Read(make([]byte, 1))
	assert.Error(t, err)
	conn2.Close()

	// an open connection and the listener end with the container
	conn3, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(hostPort), 5*time.Second)
	require.NoError(t, err)
	require.NoError(t, conn3.SetDeadline(time.Now().Add(5*time.Second)))
	_, err = bufio.NewReader(conn3).ReadString('\n')
	require.NoError(t, err)
	require.NoError(t, rt.Stop(ctx, "web", 5*time.Second))
	code, err := rt.Wait(ctx, "web")
	require.NoError(t, err)
	assert.Equal(t, 143, code)
	_, err = conn3.Read(make([]byte, 1))
	assert.Error(t, err)
	conn3.Close()
	_, err = net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(hostPort), time.Second)
	assert.Error(t, err, "the host port is released")
}

func TestGPUs(t *testing.T) {
	rt := newRT(t)
	ctx := ctxT(t)
	s := spec("gpu", "exit", "0")
	s.GPUs = ctrgate.GPURequest{All: true}
	_, err := rt.Create(ctx, s)
	var ge *ctrgate.GPUConfigError
	require.ErrorAs(t, err, &ge)
	assert.Contains(t, ge.Message, "unresolvable CDI devices nvidia.com/gpu=all")
	assert.True(t, driver.IsGPUConfigMessage(ge.Message))

	rt2 := newRT(t, fake.WithCDIDevices("nvidia.com/gpu=0"))
	_, err = rt2.Create(ctx, s)
	require.NoError(t, err)
	s.Name = "gpu1"
	s.GPUs = ctrgate.GPURequest{Devices: []string{"nvidia.com/gpu=1"}}
	_, err = rt2.Create(ctx, s)
	require.ErrorAs(t, err, &ge)
}

func TestCallsAndInjection(t *testing.T) {
	rt := newRT(t)
	ctx := ctxT(t)
	boom := errors.New("boom")
	rt.InjectError("Start", boom, 2)
	_, err := rt.Create(ctx, spec("inj", "exit", "0"))
	require.NoError(t, err)
	for range 2 {
		err = rt.Start(ctx, "inj")
		assert.ErrorIs(t, err, boom)
		var ee *ctrgate.EngineError
		require.ErrorAs(t, err, &ee)
		assert.Equal(t, ctrgate.OpStart, ee.Op)
	}
	require.NoError(t, rt.Start(ctx, "inj"))

	rt.InjectError("Inspect", ctrgate.ErrNotFound, 0)
	for range 3 {
		_, err = rt.Inspect(ctx, "inj")
		assert.ErrorIs(t, err, ctrgate.ErrNotFound)
	}
	rt.InjectError("Inspect", nil, 0)
	_, err = rt.Inspect(ctx, "inj")
	require.NoError(t, err)
	// validation still comes first
	rt.InjectError("Inspect", boom, 0)
	_, err = rt.Inspect(ctx, "-bad")
	assert.ErrorIs(t, err, ctrgate.ErrInvalidSpec)
	assert.NotErrorIs(t, err, boom)
	rt.InjectError("Inspect", nil, 0)
	// a GPUConfigError passes unchanged
	rt.InjectError("Create", ctrgate.NewGPUConfigError("fake", "x", nil, nil), 1)
	_, err = rt.Create(ctx, spec("gpuinj", "exit", "0"))
	var ge *ctrgate.GPUConfigError
	assert.ErrorAs(t, err, &ge)

	calls := rt.CallsTo("Start")
	require.Len(t, calls, 3)
	assert.ErrorIs(t, calls[0].Err, boom)
	assert.NoError(t, calls[2].Err)
	assert.Equal(t, "inj", calls[2].Target)
	all := rt.Calls()
	assert.Equal(t, "Create", all[0].Method)
	assert.False(t, all[0].Time.IsZero())
	rt.ResetCalls()
	assert.Empty(t, rt.Calls())

	assert.Panics(t, func() { rt.InjectError("Frobnicate", boom, 0) })

	// latency honours the context
	rt.SetLatency("Info", time.Hour)
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	_, err = rt.Info(short)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	rt.SetLatency("Info", 30*time.Millisecond)
	start := time.Now()
	_, err = rt.Info(ctx)
	require.NoError(t, err)
	assert.GreaterOrEqual(t, time.Since(start), 30*time.Millisecond)
}

func TestSecretsNotInErrors(t *testing.T) {
	rt := newRT(t)
	ctx := ctxT(t)
	rt.InjectError("Create", errors.New("engine said: token=s3cr3t-value"), 1)
	_, err := rt.Create(ctx, ctrgate.ContainerSpec{Name: "sec", Image: img, Env: []ctrgate.EnvVar{{Name: "X", Value: "s3cr3t-value", Secret: true}}})
	require.Error(t, err)
	assert.NotContains(t, err.Error(), "s3cr3t-value")
}

func TestExitContainerAndEmitLog(t *testing.T) {
	rt := newRT(t)
	ctx := ctxT(t)
	run(t, rt, spec("ex", "sleep", "1h"))
	require.NoError(t, rt.EmitLog("ex", ctrgate.Stdout, "ready now\n"))
	l, err := ctrgate.WaitReady(ctx, rt, "ex", ctrgate.MatchSubstring("ready"))
	require.NoError(t, err)
	assert.Equal(t, "ready now", l.Text)
	require.NoError(t, rt.ExitContainer("ex", 42))
	code, err := rt.Wait(ctx, "ex")
	require.NoError(t, err)
	assert.Equal(t, 42, code)
	assert.ErrorIs(t, rt.ExitContainer("ex", 1), ctrgate.ErrNotRunning)
	assert.ErrorIs(t, rt.ExitContainer("nope", 1), ctrgate.ErrNotFound)
	assert.ErrorIs(t, rt.EmitLog("nope", ctrgate.Stdout, "x"), ctrgate.ErrNotFound)
}

func TestListFilters(t *testing.T) {
	rt := newRT(t)
	ctx := ctxT(t)
	run(t, rt, ctrgate.ContainerSpec{Name: "lst-a", Image: img, Command: []string{"sleep", "1h"}, Labels: map[string]string{"k": "1"}})
	_, err := rt.Create(ctx, ctrgate.ContainerSpec{Name: "lst-b", Image: img, Command: []string{"exit", "0"}, Labels: map[string]string{"k": "2"}})
	require.NoError(t, err)
	names := func(f ctrgate.ListFilter) []string {
		cs, err := rt.List(ctx, f)
		require.NoError(t, err)
		out := []string{}
		for _, c := range cs {
			out = append(out, c.Name)
		}
		return out
	}
	assert.Equal(t, []string{"lst-a"}, names(ctrgate.ListFilter{NamePrefix: "lst-"}))
	assert.Equal(t, []string{"lst-a", "lst-b"}, names(ctrgate.ListFilter{NamePrefix: "lst-", All: true}))
	assert.Equal(t, []string{"lst-b"}, names(ctrgate.ListFilter{Labels: map[string]string{"k": "2"}, All: true}))
	assert.Equal(t, []string{}, names(ctrgate.ListFilter{NamePrefix: "zzz", All: true}))
}

func TestClose(t *testing.T) {
	rt := fake.New()
	rt.RegisterProgram("/testprog", func(p *fake.Process) int { return testprog.Main(p) })
	require.NoError(t, rt.AddImage(img, fake.ImageConfig{Entrypoint: []string{"/testprog"}}))
	ctx := ctxT(t)
	s := spec("c", "serve-tcp", "80")
	s.Ports = []ctrgate.PortMapping{{ContainerPort: 80}}
	run(t, rt, s)
	_, err := ctrgate.WaitReady(ctx, rt, "c", ctrgate.MatchSubstring(testprog.ListeningPrefix))
	require.NoError(t, err)
	logs, err := rt.Logs(ctx, "c", ctrgate.LogOptions{Follow: true})
	require.NoError(t, err)
	defer logs.Close()
	evs, err := rt.Events(ctx, ctrgate.EventFilter{})
	require.NoError(t, err)
	defer evs.Close()
	waitErr := make(chan error, 1)
	go func() {
		_, err := rt.Wait(ctx, "c")
		waitErr <- err
	}()

	require.NoError(t, rt.Close())
	require.NoError(t, rt.Close(), "idempotent")
	assert.ErrorIs(t, <-waitErr, ctrgate.ErrEngineUnavailable)
	_, err = rt.Info(ctx)
	assert.ErrorIs(t, err, ctrgate.ErrEngineUnavailable)
	_, err = rt.Create(ctx, spec("after", "exit", "0"))
	assert.ErrorIs(t, err, ctrgate.ErrEngineUnavailable)
	_, err = rt.List(ctx, ctrgate.ListFilter{})
	assert.ErrorIs(t, err, ctrgate.ErrEngineUnavailable)
	_, err = evs.Next()
	assert.ErrorIs(t, err, ctrgate.ErrEngineUnavailable)
	for err == nil {
		_, err = logs.Next()
	}
	assert.Error(t, err)
	assert.NotErrorIs(t, err, io.EOF)
}

func TestCloseReportsStuckPrograms(t *testing.T) {
	rt := fake.New(fake.WithProgramGrace(50 * time.Millisecond))
	release := make(chan struct{})
	rt.RegisterProgram("/stuck", func(p *fake.Process) int { <-release; return 0 })
	require.NoError(t, rt.AddImage(img, fake.ImageConfig{Entrypoint: []string{"/stuck"}}))
	run(t, rt, ctrgate.ContainerSpec{Name: "stuck", Image: img})
	err := rt.Close()
	assert.ErrorContains(t, err, "1 program(s) did not return")
	close(release)
}

func TestNewFromOptions(t *testing.T) {
	rt, err := fake.NewFromOptions(map[string]string{"timeout": "5s", "cdi_devices": "nvidia.com/gpu=0, nvidia.com/gpu=1", "other": "x"})
	require.NoError(t, err)
	defer rt.Close()
	info, err := rt.Info(context.Background())
	require.NoError(t, err)
	assert.Equal(t, []string{"nvidia.com/gpu=0", "nvidia.com/gpu=1"}, info.CDIDevices)
	_, err = fake.NewFromOptions(map[string]string{"timeout": "soon"})
	assert.ErrorIs(t, err, ctrgate.ErrInvalidSpec)
}

func TestCloseInjectedErrorStillCloses(t *testing.T) {
	rt := fake.New()
	boom := errors.New("boom")
	rt.InjectError("Close", boom, 1)
	assert.ErrorIs(t, rt.Close(), boom)
	_, err := rt.Info(context.Background())
	assert.ErrorIs(t, err, ctrgate.ErrEngineUnavailable)
	assert.NoError(t, rt.Close())
	calls := rt.CallsTo("Close")
	require.Len(t, calls, 1, "a second Close is answered by the contract layer, not the engine")
	assert.ErrorIs(t, calls[0].Err, boom)
}

// TestLivenessProbeEndsLongCalls: while a Wait, a followed Logs and an
// Events stream are open, the layer probes the engine (the fake's Info);
// when the engine stops answering (Info hangs), every one of them ends with
// ErrEngineUnavailable within about three probe intervals, never with a
// clean end of stream; a call that is not long is untouched, and once the
// engine answers again the same runtime works.
func TestLivenessProbeEndsLongCalls(t *testing.T) {
	const every = 300 * time.Millisecond // probes time out after every: room for a loaded machine
	rt := newRT(t, fake.WithLivenessProbe(every))
	ctx := ctxT(t)
	run(t, rt, spec("live", "sleep", "1h"))

	logs, err := rt.Logs(ctx, "live", ctrgate.LogOptions{Follow: true})
	require.NoError(t, err)
	defer logs.Close()
	events, err := rt.Events(ctx, ctrgate.EventFilter{NamePrefix: "live"})
	require.NoError(t, err)
	defer events.Close()
	type ended struct {
		what string
		err  error
		when time.Time
	}
	out := make(chan ended, 3)
	go func() { _, err := rt.Wait(ctx, "live"); out <- ended{"Wait", err, time.Now()} }()
	go func() {
		for {
			if _, err := logs.Next(); err != nil {
				out <- ended{"Logs", err, time.Now()}
				return
			}
		}
	}()
	go func() {
		for {
			if _, err := events.Next(); err != nil {
				out <- ended{"Events", err, time.Now()}
				return
			}
		}
	}()
	// a healthy engine: the probes answer and nothing ends
	time.Sleep(3 * every)
	select {
	case e := <-out:
		t.Fatalf("%s ended while the engine answered: %v", e.what, e.err)
	default:
	}

	rt.SetLatency("Info", time.Hour) // the engine stops answering
	cut := time.Now()
	for range 3 {
		select {
		case e := <-out:
			assert.ErrorIs(t, e.err, ctrgate.ErrEngineUnavailable, "%s", e.what)
			assert.NotEqual(t, io.EOF, e.err, "%s: an error, not a clean end of stream", e.what)
			assert.Contains(t, e.err.Error(), "the engine stopped answering", e.what)
			var ee *ctrgate.EngineError
			if assert.ErrorAs(t, e.err, &ee, e.what) {
				assert.Equal(t, e.what, ee.Op)
			}
			at := e.when.Sub(cut)
			t.Logf("%s: ended %v after the engine stopped answering: %v", e.what, at.Round(time.Millisecond), e.err)
		case <-time.After(5 * time.Second):
			t.Fatal("a long call did not end on an engine that stopped answering")
		}
	}
	// calls that are not long keep their own rules (Inspect answers here)
	_, err = rt.Inspect(ctx, "live")
	require.NoError(t, err)

	rt.SetLatency("Info", 0) // back
	code := make(chan int, 1)
	go func() { c, err := rt.Wait(ctx, "live"); assert.NoError(t, err); code <- c }()
	time.Sleep(3 * every)
	require.NoError(t, rt.ExitContainer("live", 3))
	assert.Equal(t, 3, <-code, "Wait on the same runtime once the engine answers again")

	// a stream left open: the runtime's Close ends the prober too (the
	// package's goleak check would find it otherwise)
	run(t, rt, spec("left-open", "sleep", "1h"))
	_, err = rt.Logs(ctx, "left-open", ctrgate.LogOptions{Follow: true})
	require.NoError(t, err)
	time.Sleep(2 * every)
	require.NoError(t, rt.Close())
}
