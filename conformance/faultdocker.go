package conformance

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// EnvFaultDockerState names the state directory of the private dockerd
// that the fault tests stop, kill and restart (scripts/docker.sh with
// CTRGATE_DOCKER_INSTANCE=fault; scripts/test.sh starts it and sets this
// variable, as `CTRGATE_DOCKER_INSTANCE=fault scripts/docker.sh env` prints).
const EnvFaultDockerState = "CTRGATE_DOCKER_FAULT_STATE"

// FaultDockerInstance is the instance name scripts/test.sh gives that dockerd.
const FaultDockerInstance = "fault"

// PrivateDocker is a dockerd of scripts/docker.sh that a test may stop,
// kill and restart: never the shared one (DOCKER_HOST) that other tests use.
type PrivateDocker struct {
	State string // its state directory ($CTRGATE_STATE_DIR/docker-NAME)
}

// FaultDockerFromEnv returns the instance named by EnvFaultDockerState.
// When the variable is unset the test fails under CI=true and is skipped
// loudly otherwise.
func FaultDockerFromEnv(t testing.TB) PrivateDocker {
	t.Helper()
	dir := os.Getenv(EnvFaultDockerState)
	if dir == "" {
		msg := EnvFaultDockerState + " is unset: start the fault tests' dockerd with " +
			"CTRGATE_DOCKER_INSTANCE=" + FaultDockerInstance + " scripts/docker.sh up " +
			`and eval "$(CTRGATE_DOCKER_INSTANCE=` + FaultDockerInstance + ` scripts/docker.sh env)" (scripts/test.sh does)`
		EngineMissing(t, msg)
	}
	return PrivateDocker{State: dir}
}

// Host is the unix:// URL of the instance's API socket.
func (d PrivateDocker) Host() string { return "unix://" + filepath.Join(d.State, "docker.sock") }

// Pid is the pid of the instance's dockerd (its pid file, checked against
// the process's command name and --host), for SIGSTOP and SIGKILL.
func (d PrivateDocker) Pid(t testing.TB) int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(d.State, "docker.pid"))
	require.NoError(t, err, "dockerd's pid file")
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	require.NoError(t, err)
	comm, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "comm"))
	require.NoError(t, err, "dockerd runs")
	require.Equal(t, "dockerd", strings.TrimSpace(string(comm)), "pid %d is dockerd", pid)
	cmdline, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "cmdline"))
	require.NoError(t, err)
	require.Contains(t, strings.ReplaceAll(string(cmdline), "\x00", " "), d.Host(), "pid %d is this instance's dockerd", pid)
	return pid
}

// Stop stops the instance (scripts/docker.sh down: dockerd, its containers
// and its containerd; a dockerd that was killed leaves only its files): its
// socket is gone until Start.
func (d PrivateDocker) Stop(ctx context.Context) error { return d.script(ctx, "down") }

// Start starts the instance (scripts/docker.sh up; idempotent).
func (d PrivateDocker) Start(ctx context.Context) error { return d.script(ctx, "up") }

func (d PrivateDocker) script(ctx context.Context, verb string) error {
	_, file, _, _ := runtime.Caller(0)
	script := filepath.Join(filepath.Dir(file), "..", "scripts", "docker.sh")
	name, ok := strings.CutPrefix(filepath.Base(d.State), "docker-")
	if !ok || name == "" {
		return fmt.Errorf("docker.sh %s: %s is not the state directory of a named instance (docker-NAME)", verb, d.State)
	}
	cmd := exec.CommandContext(ctx, script, verb)
	cmd.Env = append(os.Environ(), "CTRGATE_DOCKER_INSTANCE="+name, "CTRGATE_STATE_DIR="+filepath.Dir(d.State))
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("docker.sh %s: %v: %s", verb, err, out)
	}
	return nil
}

// Lock gives the calling test the instance alone (tests of several
// packages run in parallel, and the fault tests stop and kill the engine)
// until the test ends.
func (d PrivateDocker) Lock(t testing.TB) { t.Helper(); lockInstance(t, d.State) }
