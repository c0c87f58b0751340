package crossbackend_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ctrgate/ctrgate"
	"github.com/ctrgate/ctrgate/conformance"
	"github.com/ctrgate/ctrgate/docker"
	"github.com/ctrgate/ctrgate/podmanapi"
	"github.com/ctrgate/ctrgate/podmancli"
)

// TestDeadlineAgainstStoppedEngine stops (SIGSTOP) an engine of its own
// and checks on every backend that talks to it that a call with a 2 s
// deadline returns at the deadline with the context's error, an
// *EngineError of the method, and that the same runtime works again once
// the engine runs again. The engines: the second Podman service
// scripts/test.sh starts (the events-log rotation one, taken alone with its
// lock) for podman-api, docker on Podman's compat API and podman-cli in
// remote mode; the private dockerd scripts/test.sh starts (instance
// "fault", taken alone with its lock) for docker. The time past the
// deadline is logged (the contract layer returns at ctx.Done; the bound
// asserted leaves room for a loaded CI machine).
func TestDeadlineAgainstStoppedEngine(t *testing.T) {
	for _, e := range faultEngines() {
		t.Run(e.name, func(t *testing.T) {
			e := e.open(t)
			pid := e.pid(t)
			for _, b := range e.backends {
				t.Run(b.name, func(t *testing.T) { deadlineAgainstStopped(t, pid, b) })
			}
		})
	}
}

func deadlineAgainstStopped(t *testing.T, pid int, b namedRuntime) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, err := b.rt.Info(ctx)
	require.NoError(t, err, "the engine answers before it is stopped")

	// The kernel continues a stopped process itself when its process group
	// becomes orphaned (a child of the engine exits: SIGHUP and SIGCONT to
	// the group); a List that such an engine answered says nothing of the
	// layer, so the stop is checked and, when it did not hold, made again.
	var took time.Duration
	for attempt := 1; ; attempt++ {
		var stayed bool
		took, stayed, err = listAgainstStopped(ctx, pid, b)
		if stayed || attempt == 3 {
			require.True(t, stayed, "the engine stayed stopped for the call (attempt %d)", attempt)
			break
		}
		t.Logf("%s: the kernel continued the stopped engine during the call (%v, %v): again", b.name, took, err)
	}
	t.Logf("%s: List with a 2 s deadline against a stopped engine returned after %v (%v past the deadline)",
		b.name, took.Round(time.Millisecond), (took - 2*time.Second).Round(time.Millisecond))
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	var ee *ctrgate.EngineError
	if assert.ErrorAs(t, err, &ee) {
		assert.Equal(t, ctrgate.OpList, ee.Op)
	}
	assert.Less(t, took, 2500*time.Millisecond, "the call returns at its deadline")

	_, err = b.rt.Info(ctx)
	assert.NoError(t, err, "the same runtime works again once the engine runs")
}

// listAgainstStopped stops (SIGSTOP) the engine's process pid, calls List
// with a 2 s deadline, and continues the engine; stayed says whether the
// engine was still stopped when the call returned.
func listAgainstStopped(ctx context.Context, pid int, b namedRuntime) (took time.Duration, stayed bool, err error) {
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		return 0, false, err
	}
	defer func() { _ = syscall.Kill(pid, syscall.SIGCONT) }() // never leave the engine stopped
	// SIGSTOP is delivered to each thread in its time: the call waits
	// until every thread is stopped (a call made at once was answered, 3 ms
	// later, by a thread the stop had not reached yet)
	for i := 0; !threadsStopped(pid) && i < 200; i++ {
		time.Sleep(5 * time.Millisecond)
	}
	dctx, dcancel := context.WithTimeout(ctx, 2*time.Second)
	defer dcancel()
	began := time.Now()
	_, err = b.rt.List(dctx, ctrgate.ListFilter{NamePrefix: "ctg-stopped-", All: true})
	took = time.Since(began)
	return took, threadsStopped(pid), err
}

// threadsStopped reports whether every thread of process pid is stopped
// (state T; a thread that is exiting, Z or X, runs no more either).
func threadsStopped(pid int) bool {
	tasks, err := filepath.Glob(filepath.Join("/proc", strconv.Itoa(pid), "task", "*"))
	if err != nil || len(tasks) == 0 {
		return false
	}
	for _, task := range tasks {
		switch processState(pid, filepath.Base(task)) {
		case "T", "Z", "X":
		default:
			return false
		}
	}
	return true
}

// processState is the state letter of thread tid of process pid (R, S,
// T, ...), "" when it cannot be read.
func processState(pid int, tid string) string {
	stat, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "task", tid, "stat"))
	if err != nil {
		return ""
	}
	fields := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
	if len(fields) == 0 {
		return ""
	}
	return fields[0]
}

// faultEngine is an engine of the fault tests' own, taken alone, with the
// backends that talk to it.
type faultEngine struct {
	backends []namedRuntime
	// pid is the process that serves the API (SIGSTOP, SIGKILL).
	pid func(t testing.TB) int
	// socket is the unix socket path the backends connect to.
	socket string
	// stop stops the engine (its socket is gone); start starts it again.
	stop, start func(ctx context.Context) error
	// recover brings the engine back after its API process was killed.
	recover func(ctx context.Context) error
}

// faultEngines are the engines of the fault tests, each opened (skipped,
// or failed under CI=true, when it is not provisioned) in a subtest of its
// name.
func faultEngines() []struct {
	name string
	open func(t *testing.T) faultEngine
} {
	return []struct {
		name string
		open func(t *testing.T) faultEngine
	}{
		{"podman-service", func(t *testing.T) faultEngine {
			rot := conformance.RotatingPodmanFromEnv(t)
			rot.Lock(t)
			return faultEngine{
				backends: serviceBackends(t, rot.Socket()),
				pid:      func(t testing.TB) int { return servicePid(t, rot.State) },
				socket:   strings.TrimPrefix(rot.Socket(), "unix://"),
				stop:     rot.Stop,
				start:    rot.Start,
				recover: func(ctx context.Context) error {
					if err := rot.Stop(ctx); err != nil { // the pid and socket files of the dead service
						return err
					}
					return rot.Start(ctx)
				},
			}
		}},
		{"dockerd", func(t *testing.T) faultEngine {
			d := conformance.FaultDockerFromEnv(t)
			d.Lock(t)
			return faultEngine{
				backends: dockerBackends(t, d.Host()),
				pid:      d.Pid,
				socket:   strings.TrimPrefix(d.Host(), "unix://"),
				stop:     d.Stop,
				start:    d.Start,
				// dockerd alone, as a supervisor restarts it: its
				// containerd (and the container's shim) outlived it.
				recover: d.Start,
			}
		}},
	}
}

// dockerBackends opens the docker backend on the dockerd at host.
func dockerBackends(t *testing.T, host string) []namedRuntime {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rt, err := docker.New(ctx, docker.Config{Host: host})
	require.NoError(t, err)
	t.Cleanup(func() { _ = rt.Close() })
	return []namedRuntime{{"docker", rt}}
}

// servicePid is the pid of the API service of the Podman instance whose
// state directory is state (scripts/podman.sh writes it).
func servicePid(t testing.TB, state string) int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(state, "service.pid"))
	require.NoError(t, err, "the service's pid file")
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	require.NoError(t, err)
	cmdline, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "cmdline"))
	require.NoError(t, err, "the service runs")
	require.Contains(t, strings.ReplaceAll(string(cmdline), "\x00", " "), "system service", "pid %d is the Podman service", pid)
	return pid
}

// TestRefusedConnection stops each engine of its own (the rotation
// Podman's service; the private dockerd) and leaves a socket file that
// refuses connections in its place, then checks on every backend that
// talks to it that a call without a deadline fails at once with
// ErrEngineUnavailable (no retries with sleeps: the Podman bindings and
// podman itself wait 600 ms), and that the same runtime works again once
// the engine is back.
func TestRefusedConnection(t *testing.T) {
	for _, e := range faultEngines() {
		t.Run(e.name, func(t *testing.T) { refusedConnection(t, e.open(t)) })
	}
}

func refusedConnection(t *testing.T, e faultEngine) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	for _, b := range e.backends {
		_, err := b.rt.Info(ctx)
		require.NoError(t, err, "%s answers before the engine is stopped", b.name)
	}

	require.NoError(t, e.stop(ctx))
	restarted := false
	t.Cleanup(func() { // never leave the instance down
		if !restarted {
			_ = os.Remove(e.socket)
			_ = e.start(context.Background())
		}
	})
	l, err := net.Listen("unix", e.socket)
	require.NoError(t, err)
	l.(*net.UnixListener).SetUnlinkOnClose(false)
	require.NoError(t, l.Close()) // the file stays: connections are refused

	for _, b := range e.backends {
		began := time.Now()
		_, err := b.rt.Info(context.Background())
		took := time.Since(began)
		t.Logf("%s: Info against a refused connection returned after %v", b.name, took.Round(10*time.Microsecond))
		assert.ErrorIs(t, err, ctrgate.ErrEngineUnavailable, b.name)
		assert.Less(t, took, 500*time.Millisecond, "%s: a refused connection fails at once", b.name)
	}

	require.NoError(t, os.Remove(e.socket))
	require.NoError(t, e.start(ctx))
	restarted = true
	for _, b := range e.backends {
		_, err := b.rt.Info(ctx)
		assert.NoError(t, err, "%s works again once the engine is back", b.name)
	}
}

type namedRuntime struct {
	name string
	rt   ctrgate.ContainerRuntime
}

// serviceBackends opens every backend that talks to the Podman service at
// socket: podman-api, docker (Podman's compatible API) and podman-cli in
// remote mode.
func serviceBackends(t *testing.T, socket string) []namedRuntime {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	api, err := podmanapi.New(ctx, podmanapi.Config{URI: socket})
	require.NoError(t, err)
	t.Cleanup(func() { _ = api.Close() })
	dop, err := docker.New(ctx, docker.Config{Host: socket})
	require.NoError(t, err)
	t.Cleanup(func() { _ = dop.Close() })
	cfg, err := podmancli.ConfigFromMap(map[string]string{"remote": "true", "socket": socket})
	require.NoError(t, err)
	cli, err := podmancli.New(cfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = cli.Close() })
	return []namedRuntime{{"podman-api", api}, {"docker-on-podman", dop}, {"podman-cli-remote", cli}}
}

// killedImage is the test image as TestEngineKilledMidStream imports it.
const killedImage = "localhost/ctrgate/testprog:crossbackend-killed"

// TestEngineKilledMidStream kills (SIGKILL) the API process of each engine
// of its own (the rotation Podman's service; the private dockerd) while
// every backend that talks to it follows a running container's logs and
// its events, and checks that each stream ends with ErrEngineUnavailable
// (not a clean end: the container still runs, under conmon or under
// containerd's shim) soon after, with the time it took logged (an Events
// stream first waits its resume window, 1 s by default, for the engine to
// come back); then that the same runtimes work again once the engine is
// back (whether the container survived the restart is the engine's
// business: it is not looked at).
func TestEngineKilledMidStream(t *testing.T) {
	for _, e := range faultEngines() {
		t.Run(e.name, func(t *testing.T) { engineKilledMidStream(t, e.open(t)) })
	}
}

func engineKilledMidStream(t *testing.T, e faultEngine) {
	backends := e.backends
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	rt := backends[0].rt
	require.NoError(t, rt.ImportImage(ctx, killedImage, bytes.NewReader(conformance.TestImageTar(t)),
		ctrgate.ImportOptions{Entrypoint: []string{conformance.TestProgPath}}))
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	name := "ctg-k-" + hex.EncodeToString(b)
	_, err := ctrgate.Run(ctx, rt, ctrgate.ContainerSpec{Name: name, Image: killedImage, PullPolicy: ctrgate.PullNever,
		Command: []string{"marker", "ready", "0s", ";", "sleep", "600s"}})
	require.NoError(t, err)
	t.Cleanup(func() {
		cctx, ccancel := context.WithTimeout(context.Background(), time.Minute)
		defer ccancel()
		assert.NoError(t, ctrgate.FirstError(ctrgate.RemoveAll(cctx, rt, []string{name})))
	})

	type ended struct {
		name, stream string
		err          error
		at           time.Time
	}
	ends := make(chan ended, 2*len(backends))
	for _, b := range backends {
		st, err := b.rt.Logs(ctx, name, ctrgate.LogOptions{Follow: true})
		require.NoError(t, err, b.name)
		l, err := st.Next()
		require.NoError(t, err, b.name)
		require.Equal(t, "ready", l.Text, b.name)
		go func() {
			defer st.Close()
			for {
				if _, err := st.Next(); err != nil {
					ends <- ended{b.name, "Logs", err, time.Now()}
					return
				}
			}
		}()
		es, err := b.rt.Events(ctx, ctrgate.EventFilter{NamePrefix: name})
		require.NoError(t, err, b.name)
		go func() {
			defer es.Close()
			for {
				if _, err := es.Next(); err != nil {
					ends <- ended{b.name, "Events", err, time.Now()}
					return
				}
			}
		}()
	}

	pid := e.pid(t)
	restarted := false
	t.Cleanup(func() {
		if !restarted {
			_ = e.stop(context.Background())
			_ = e.start(context.Background())
		}
	})
	killed := time.Now()
	require.NoError(t, syscall.Kill(pid, syscall.SIGKILL))
	for range 2 * len(backends) {
		select {
		case e := <-ends:
			t.Logf("%s: the %s stream ended %v after the engine was killed: %v", e.name, e.stream, e.at.Sub(killed).Round(time.Millisecond), e.err)
			assert.ErrorIs(t, e.err, ctrgate.ErrEngineUnavailable, "%s %s: the stream ends with an error, never io.EOF", e.name, e.stream)
			assert.Less(t, e.at.Sub(killed), 5*time.Second, "%s %s", e.name, e.stream)
		case <-time.After(30 * time.Second):
			t.Fatal("a followed Logs or an Events stream did not end within 30 s of the engine's death")
		}
	}

	began := time.Now()
	require.NoError(t, e.recover(ctx))
	restarted = true
	t.Logf("the engine was back %v after the restart began", time.Since(began).Round(time.Millisecond))
	for _, b := range backends {
		_, err := b.rt.Info(ctx)
		assert.NoError(t, err, "%s works again once the engine is back", b.name)
	}
}
