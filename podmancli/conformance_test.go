package podmancli_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ctrgate/ctrgate"
	"github.com/ctrgate/ctrgate/conformance"
	"github.com/ctrgate/ctrgate/podmancli"
)

// engineConfig returns the configuration for the real engine provisioned
// by scripts/podman.sh (eval "$(scripts/podman.sh env)"), with podman on
// local storage, or, when CTRGATE_PODMAN_REMOTE=true (the remote lanes of
// scripts/lanes.sh), podman as a client of the service of
// CTRGATE_PODMAN_SOCKET or CONTAINER_HOST. Without it the test fails when
// CI is set and is skipped loudly otherwise.
func engineConfig(t testing.TB) podmancli.Config {
	t.Helper()
	if os.Getenv(podmancli.EnvRemote) == "true" {
		return engineConfigMode(t, "true")
	}
	return engineConfigMode(t, "false")
}

// engineConfigMode is engineConfig with remote "true" (podman --url
// $CTRGATE_PODMAN_SOCKET or $CONTAINER_HOST, through the API service) or
// "false" (local).
func engineConfigMode(t testing.TB, remote string) podmancli.Config {
	t.Helper()
	missing := os.Getenv("CONTAINERS_CONF") == ""
	if remote == "true" {
		missing = os.Getenv(podmancli.EnvSocket) == "" && os.Getenv("CONTAINER_HOST") == ""
	}
	if missing {
		msg := "podman is not provisioned for the tests: run scripts/podman.sh up and " +
			`eval "$(scripts/podman.sh env)" (CONTAINERS_CONF / CTRGATE_PODMAN_SOCKET unset)`
		conformance.EngineMissing(t, msg)
	}
	cfg, err := podmancli.ConfigFromMap(map[string]string{"remote": remote})
	require.NoError(t, err)
	return cfg
}

// newEngine returns a runtime on the real engine and checks it answers.
func newEngine(t testing.TB, cfg podmancli.Config) ctrgate.ContainerRuntime {
	t.Helper()
	rt, err := podmancli.New(cfg)
	require.NoError(t, err, "podman-cli runtime")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, err = rt.Info(ctx)
	require.NoError(t, err, "podman does not answer with the provisioned configuration")
	return rt
}

// TestConformance runs the whole conformance suite with podman on local
// storage (the configuration of scripts/podman.sh).
func TestConformance(t *testing.T) {
	runSuite(t, "podman-cli", engineConfig(t))
}

// BenchmarkConformance runs the shared benchmarks with podman on local
// storage (scripts/bench.sh compares them across backends), then checks,
// once the runtime is closed, that no podman process is left.
func BenchmarkConformance(b *testing.B) {
	cfg := engineConfig(b)
	b.Cleanup(func() { requireNoPodmanChildren(b) }) // runs after Benchmark's own cleanups
	conformance.Benchmark(b, harness("podman-cli", cfg))
}

// harness drives podman with cfg, labelled name.
func harness(name string, cfg podmancli.Config) conformance.Harness {
	bin := cfg.Binary
	if bin == "" {
		bin = "podman"
	}
	return conformance.Harness{
		Name:   name,
		New:    func(t testing.TB) ctrgate.ContainerRuntime { return newEngine(t, cfg) },
		Engine: conformance.EngineFromEnv(conformance.PodmanReport(bin, cfg.GlobalArgs...)),
		RawFollow: func(ctx context.Context, name string) *exec.Cmd {
			return exec.CommandContext(ctx, bin, append(append([]string(nil), cfg.GlobalArgs...), "logs", "--follow", name)...)
		},
	}
}

func runSuite(t *testing.T, name string, cfg podmancli.Config) {
	start := time.Now()
	conformance.Run(t, harness(name, cfg))
	t.Logf("%s conformance suite took %s", name, time.Since(start).Round(time.Millisecond))
	requireNoPodmanChildren(t)
}

// podmanChildren lists the podman processes (running or zombie) whose
// parent is this test process.
func podmanChildren(t testing.TB) []string {
	t.Helper()
	return childrenWhere(t, func(comm string) bool { return strings.Contains(comm, "podman") })
}

// childrenWhere lists the processes (running or zombie) whose parent is
// this test process and whose name match accepts.
func childrenWhere(t testing.TB, match func(comm string) bool) []string {
	t.Helper()
	self := os.Getpid()
	dirs, err := filepath.Glob("/proc/[0-9]*")
	require.NoError(t, err)
	var out []string
	for _, d := range dirs {
		b, err := os.ReadFile(filepath.Join(d, "stat"))
		if err != nil {
			continue // gone meanwhile
		}
		s := string(b)
		open, close := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
		if open < 0 || close < open {
			continue
		}
		comm := s[open+1 : close]
		fields := strings.Fields(s[close+1:])
		if len(fields) < 2 {
			continue
		}
		ppid, _ := strconv.Atoi(fields[1])
		if ppid == self && match(comm) {
			out = append(out, filepath.Base(d)+" "+comm+" state "+fields[0])
		}
	}
	return out
}

// requireNoPodmanChildren fails when a podman child is left (allowing a
// moment for processes being reaped right now).
func requireNoPodmanChildren(t testing.TB) {
	t.Helper()
	var left []string
	for i := 0; i < 20; i++ {
		if left = podmanChildren(t); len(left) == 0 {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("podman child processes left: %v", left)
}

// TestEventsAcrossRotation reads events while the rotating Podman instance
// (conformance.RotatingPodman) rotates its events log.
func TestEventsAcrossRotation(t *testing.T) {
	p := conformance.RotatingPodmanFromEnv(t)
	p.Lock(t)
	cfg, err := podmancli.ConfigFromMap(map[string]string{"remote": "false"})
	require.NoError(t, err)
	cfg.Env = append(cfg.Env, "CONTAINERS_CONF="+p.ContainersConf(), "CONTAINERS_STORAGE_CONF="+p.StorageConf())
	rt := newEngine(t, cfg)
	defer rt.Close()
	conformance.EventsAcrossRotation(t, rt, conformance.RotationOptions{EventsLog: p.EventsLog()})
}

// TestConformanceUnderLoad is podman-cli's load lane (make test runs it
// after the other tests, alone).
func TestConformanceUnderLoad(t *testing.T) {
	conformance.RunUnderLoad(t, harness("podman-cli", engineConfig(t)))
	requireNoPodmanChildren(t)
}
