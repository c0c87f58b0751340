package docker_test

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ctrgate/ctrgate"
	"github.com/ctrgate/ctrgate/conformance"
	"github.com/ctrgate/ctrgate/docker"
)

// engineHost returns the Docker engine the tests use (DOCKER_HOST, as set by
// `eval "$(scripts/docker.sh env)"`). Without it the test fails under CI and
// is skipped loudly elsewhere.
func engineHost(t testing.TB) string {
	t.Helper()
	host := os.Getenv("DOCKER_HOST")
	if host == "" {
		conformance.EngineMissing(t, "DOCKER_HOST is not set: start the engine with scripts/docker.sh up and eval \"$(scripts/docker.sh env)\"")
	}
	return host
}

// newRuntime connects to host, failing the test when the engine does not
// answer.
func newRuntime(t testing.TB, host string) ctrgate.ContainerRuntime {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rt, err := docker.New(ctx, docker.Config{Host: host})
	require.NoError(t, err, "connecting to the Docker-compatible engine at %s", host)
	return rt
}

// dockerHarness drives the Docker engine at host.
func dockerHarness(host string) conformance.Harness {
	return conformance.Harness{
		Name:   "docker",
		New:    func(t testing.TB) ctrgate.ContainerRuntime { return newRuntime(t, host) },
		Engine: conformance.EngineFromEnv(conformance.DockerReport(host)),
		// A tag of its own: other backends' suites may re-import the default
		// tag on a shared engine at the same time.
		Image: "localhost/ctrgate/testprog:conformance-docker",
		Lacks: dockerLacks,
		// the engine's own follower: the docker CLI's logs -f
		RawFollow: func(ctx context.Context, name string) *exec.Cmd {
			return exec.CommandContext(ctx, "docker", "--host", host, "logs", "--follow", name)
		},
	}
}

// dockerLacks are the capabilities the docker backend lacks on Docker
// itself; each is printed as a KNOWN DIFFERENCE by TestConformanceDocker.
var dockerLacks = map[conformance.Capability]string{
	conformance.CapLivePartialLines: "Docker 20.10's json-file log driver holds back text without a newline until the newline or the exit: " +
		"neither its follower nor a plain read has it while the container runs (checked for 3 s); its attach stream has it at once, " +
		"but attach output cannot be lined up exactly with the log's position, so the backend does not use it yet (Readiness/MarkerWithoutNewline)",
}

func TestConformanceDocker(t *testing.T) {
	for c, why := range dockerLacks {
		t.Logf("KNOWN DIFFERENCE docker (%s): %s", c, why)
	}
	conformance.Run(t, dockerHarness(engineHost(t)))
}

// BenchmarkConformance runs the shared benchmarks on the real Docker engine
// only, not on Podman's Docker-compatible API (scripts/bench.sh compares
// the backends).
func BenchmarkConformance(b *testing.B) {
	conformance.Benchmark(b, dockerHarness(engineHost(b)))
}

// podmanHost returns Podman's API socket as a Docker host address, from
// CTRGATE_PODMAN_SOCKET (a path or a unix:// address, set by
// `scripts/podman.sh env`); "" when it is not set.
func podmanHost() string {
	s := strings.TrimSpace(os.Getenv("CTRGATE_PODMAN_SOCKET"))
	switch {
	case s == "":
		return ""
	case strings.Contains(s, "://"):
		return s
	default:
		return "unix://" + s
	}
}

// podmanCompatLacks are the capabilities the docker backend lacks on
// Podman's Docker-compatible API; the suite reports the tests that need them
// as not applicable. With Podman 4.3.1 none is needed: the differences below
// are absorbed by the backend.
var podmanCompatLacks = map[conformance.Capability]string{}

// podmanCompatDifferences are the known differences between Docker and
// Podman's Docker-compatible API (measured with Podman 4.3.1) that the docker
// backend absorbs, each with the suite test that shows it. They are logged by
// TestConformanceDockerOnPodman so that every run shows them.
var podmanCompatDifferences = []string{
	"Logs/BulkInOrder, Logs/Tail: Podman's followed log stream loses lines under load (measured on a 5000-line log: lines 487-982 missing, or the stream ending after 2658 lines); when conmon's log file is on this machine and readable (as here) the backend reads it directly (logstream.K8sFile), else it follows by polling plain reads (50-250 ms), which are complete, and delivers text without a newline as a partial line after 100 ms",
	"Logs (all): the API's log timestamps have whole-second precision; LogLine.Time is exact only where the backend reads conmon's log file (as here)",
	"GPU/RequestWithoutGPUs, Secrets/NotInErrors: Podman < 5.4 silently drops DeviceRequests (no error, no GPU); the backend refuses GPU requests at Create with a *GPUConfigError that also matches ErrUnsupported",
	"Secrets/NotInErrors (cleanup): a forced remove racing with the container's exit fails with \"could not be stopped ... container state improper\"; the backend retries for up to ~2 s",
	"Lifecycle/AutoRemove: Wait on an auto-removed container reports \"does not exist in database: no such container\" (rootless Podman 4.3 also \"container has already been removed\") inside the wait response; mapped to ErrNotFound",
	"Logs/FinalLineWithoutNewline (wait): Podman's wait may fail with \"read /proc/<pid>/cgroup: no such process\" when the container exits at that moment; the backend looks again (for up to 3 s: under load once 3 quick retries were not enough, Config/Env on rootless 4.3)",
	"Secrets/NotInExecErrors (exec of a missing program): exit code 127 on Podman, 126 on Docker (engine-reported, passed through)",
	"Engine/Info: EngineInfo.Engine is \"podman\" and Version the Podman version; /version costs ~0.46 s on Podman (New takes that long)",
	"Errors/MissingBindSource: Podman's API creates a missing bind-mount source directory on the host and runs the container, where podman-cli and podman-api are refused (\"statfs SOURCE: no such file or directory\"); the backend refuses it at Create with that error when the engine is on this machine (a unix socket)",
}

// enginePodman is the podman command of the engine under test:
// CTRGATE_PODMAN_BINARY, or podman.
func enginePodman() string {
	if b := os.Getenv("CTRGATE_PODMAN_BINARY"); b != "" {
		return b
	}
	return "podman"
}

func TestConformanceDockerOnPodman(t *testing.T) {
	host := podmanHost()
	if host == "" {
		conformance.EngineMissing(t, "docker-on-podman: CTRGATE_PODMAN_SOCKET is not set: start Podman's service with scripts/podman.sh up and eval \"$(scripts/podman.sh env)\"")
	}
	for _, d := range podmanCompatDifferences {
		t.Logf("KNOWN DIFFERENCE docker-on-podman (handled by the backend): %s", d)
	}
	conformance.Run(t, conformance.Harness{
		Name:  "docker-on-podman",
		Image: "localhost/ctrgate/testprog:conformance-docker-on-podman",
		New:   func(t testing.TB) ctrgate.ContainerRuntime { return newRuntime(t, host) },
		Lacks: podmanCompatLacks,
		// the engine's own word is podman's (the lane's podman command)
		Engine: conformance.EngineFromEnv(conformance.PodmanReport(enginePodman())),
	})
}

// TestEventsAcrossRotationOnPodman reads events through Podman's
// Docker-compatible API while the rotating Podman instance
// (conformance.RotatingPodman) rotates its events log, and across a
// restart of its service, with a resume window (30 s) that rides out a
// restart on a loaded machine.
func TestEventsAcrossRotationOnPodman(t *testing.T) {
	p := conformance.RotatingPodmanFromEnv(t)
	p.Lock(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rt, err := docker.New(ctx, docker.Config{Host: p.Socket(), ResumeWindow: 30 * time.Second, LivenessProbe: 30 * time.Second})
	require.NoError(t, err)
	defer rt.Close()
	conformance.EventsAcrossRotation(t, rt, conformance.RotationOptions{Image: "localhost/ctrgate/testprog:conformance-docker-on-podman",
		EventsLog: p.EventsLog(), Restart: p.Restart})
}

// TestConformanceUnderLoad is the load lane on Docker and on Podman's
// Docker-compatible API (make test runs it after the other tests, alone).
func TestConformanceUnderLoad(t *testing.T) {
	t.Run("docker", func(t *testing.T) { conformance.RunUnderLoad(t, dockerHarness(engineHost(t))) })
	t.Run("docker-on-podman", func(t *testing.T) {
		host := podmanHost()
		if host == "" {
			conformance.EngineMissing(t, "docker-on-podman load lane: CTRGATE_PODMAN_SOCKET is not set")
		}
		conformance.RunUnderLoad(t, conformance.Harness{
			Name:  "docker-on-podman",
			Image: "localhost/ctrgate/testprog:conformance-docker-on-podman",
			New:   func(t testing.TB) ctrgate.ContainerRuntime { return newRuntime(t, host) },
			Lacks: podmanCompatLacks,
		})
	})
}
