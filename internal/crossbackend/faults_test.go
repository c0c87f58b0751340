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
	"sync"
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

// TestDeadlineAgainstStoppedEngine stops (SIGSTOP) a Podman service of its
// own, the second instance scripts/test.sh starts (the events-log rotation
// one, taken alone with its lock), and checks on every backend that talks
// to a service (podman-api, docker on Podman's compat API, podman-cli in
// remote mode) that a call with a 2 s deadline returns at the deadline
// with the context's error, an *EngineError of the method, and that the
// same runtime works again once the engine runs again. The time past the
// deadline is logged (the contract layer returns at ctx.Done; the bound
// asserted leaves room for a loaded CI machine).
func TestDeadlineAgainstStoppedEngine(t *testing.T) {
	rot := conformance.RotatingPodmanFromEnv(t)
	rot.Lock(t)
	pid := servicePid(t, rot.State)

	backends := serviceBackends(t, rot.Socket())
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			_, err := b.rt.Info(ctx)
			require.NoError(t, err, "the engine answers before it is stopped")

			require.NoError(t, syscall.Kill(pid, syscall.SIGSTOP))
			resume := sync.OnceFunc(func() { _ = syscall.Kill(pid, syscall.SIGCONT) })
			t.Cleanup(resume) // never leave the service stopped
			dctx, dcancel := context.WithTimeout(ctx, 2*time.Second)
			began := time.Now()
			_, err = b.rt.List(dctx, ctrgate.ListFilter{NamePrefix: "ctg-stopped-", All: true})
			took := time.Since(began)
			dcancel()
			resume()
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
		})
	}
}

// servicePid is the pid of the API service of the Podman instance whose
// state directory is state (scripts/podman.sh writes it).
func servicePid(t *testing.T, state string) int {
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

// TestRefusedConnection closes the rotation Podman's service and leaves a
// socket file that refuses connections in its place, then checks on every
// backend that talks to a service that a call without a deadline fails at
// once with ErrEngineUnavailable (no retries with sleeps: the Podman
// bindings and podman itself wait 600 ms), and that the same runtime works
// again once the service is back.
func TestRefusedConnection(t *testing.T) {
	rot := conformance.RotatingPodmanFromEnv(t)
	rot.Lock(t)
	backends := serviceBackends(t, rot.Socket())
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	for _, b := range backends {
		_, err := b.rt.Info(ctx)
		require.NoError(t, err, "%s answers before the service is stopped", b.name)
	}

	require.NoError(t, rot.Stop(ctx))
	restarted := false
	sock := strings.TrimPrefix(rot.Socket(), "unix://")
	t.Cleanup(func() { // never leave the instance down
		if !restarted {
			_ = os.Remove(sock)
			_ = rot.Start(context.Background())
		}
	})
	l, err := net.Listen("unix", sock)
	require.NoError(t, err)
	l.(*net.UnixListener).SetUnlinkOnClose(false)
	require.NoError(t, l.Close()) // the file stays: connections are refused

	for _, b := range backends {
		began := time.Now()
		_, err := b.rt.Info(context.Background())
		took := time.Since(began)
		t.Logf("%s: Info against a refused connection returned after %v", b.name, took.Round(10*time.Microsecond))
		assert.ErrorIs(t, err, ctrgate.ErrEngineUnavailable, b.name)
		assert.Less(t, took, 500*time.Millisecond, "%s: a refused connection fails at once", b.name)
	}

	require.NoError(t, os.Remove(sock))
	require.NoError(t, rot.Start(ctx))
	restarted = true
	for _, b := range backends {
		_, err := b.rt.Info(ctx)
		assert.NoError(t, err, "%s works again once the service is back", b.name)
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

// TestEngineKilledMidStream kills (SIGKILL) the rotation Podman's service
// while every backend that talks to it follows a running container's logs,
// and checks that each followed stream ends with ErrEngineUnavailable (not
// a clean end: the container still runs under conmon) soon after, with the
// time it took logged; then that the same runtimes work again once the
// service is back. (An Events stream, by its contract, waits up to
// ctrgate.ResumeWindow for the engine to come back: a restart is not an
// end; that is tested by the rotation tests.)
func TestEngineKilledMidStream(t *testing.T) {
	rot := conformance.RotatingPodmanFromEnv(t)
	rot.Lock(t)
	backends := serviceBackends(t, rot.Socket())
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	api := backends[0].rt
	require.NoError(t, api.ImportImage(ctx, killedImage, bytes.NewReader(conformance.TestImageTar(t)),
		ctrgate.ImportOptions{Entrypoint: []string{conformance.TestProgPath}}))
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	name := "ctg-k-" + hex.EncodeToString(b)
	_, err := ctrgate.Run(ctx, api, ctrgate.ContainerSpec{Name: name, Image: killedImage, PullPolicy: ctrgate.PullNever,
		Command: []string{"marker", "ready", "0s", ";", "sleep", "600s"}})
	require.NoError(t, err)
	t.Cleanup(func() {
		cctx, ccancel := context.WithTimeout(context.Background(), time.Minute)
		defer ccancel()
		assert.NoError(t, ctrgate.FirstError(ctrgate.RemoveAll(cctx, api, []string{name})))
	})

	type ended struct {
		name string
		err  error
		at   time.Time
	}
	ends := make(chan ended, len(backends))
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
					ends <- ended{b.name, err, time.Now()}
					return
				}
			}
		}()
	}

	pid := servicePid(t, rot.State)
	restarted := false
	t.Cleanup(func() {
		if !restarted {
			_ = rot.Stop(context.Background())
			_ = rot.Start(context.Background())
		}
	})
	killed := time.Now()
	require.NoError(t, syscall.Kill(pid, syscall.SIGKILL))
	for range backends {
		select {
		case e := <-ends:
			t.Logf("%s: the followed Logs stream ended %v after the engine was killed: %v", e.name, e.at.Sub(killed).Round(time.Millisecond), e.err)
			assert.ErrorIs(t, e.err, ctrgate.ErrEngineUnavailable, "%s: the stream ends with an error, never io.EOF", e.name)
			assert.Less(t, e.at.Sub(killed), 5*time.Second, e.name)
		case <-time.After(30 * time.Second):
			t.Fatal("a followed Logs stream did not end within 30 s of the engine's death")
		}
	}

	require.NoError(t, rot.Stop(ctx)) // the pid and socket files of the dead service
	require.NoError(t, rot.Start(ctx))
	restarted = true
	for _, b := range backends {
		_, err := b.rt.Info(ctx)
		assert.NoError(t, err, "%s works again once the service is back", b.name)
	}
}
