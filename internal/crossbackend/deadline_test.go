package crossbackend_test

import (
	"context"
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
