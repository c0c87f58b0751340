package podmanapi_test

import (
	"context"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ctrgate/ctrgate"
	"github.com/ctrgate/ctrgate/conformance"
	"github.com/ctrgate/ctrgate/podmanapi"
)

// testImage is this backend's own tag of the test image, so that suites of
// other backends running on the same engine at the same time never remove
// or replace it under our feet.
const testImage = "localhost/ctrgate/testprog:podman-api"

// serviceURI returns the URI of the Podman service provisioned by
// scripts/podman.sh (eval "$(scripts/podman.sh env)"). Without it the test
// fails when CI=true and is skipped loudly otherwise.
func serviceURI(t testing.TB) string {
	t.Helper()
	uri := os.Getenv(podmanapi.EnvSocket)
	if uri == "" {
		uri = os.Getenv(podmanapi.EnvContainerHost)
	}
	if uri == "" {
		msg := "no Podman service for the tests: run scripts/podman.sh up and " +
			`eval "$(scripts/podman.sh env)" (` + podmanapi.EnvSocket + " is unset)"
		conformance.EngineMissing(t, msg)
	}
	return uri
}

// newRuntime connects to the provisioned service (over ssh:// with the
// identity of CONTAINER_SSHKEY, as podman-remote does: the remote lanes of
// scripts/lanes.sh); a service that does not answer fails the test (it was
// announced, so it must be there).
func newRuntime(t testing.TB, uri string) *ctrgate.Runtime {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rt, err := podmanapi.New(ctx, podmanapi.Config{URI: uri, Identity: os.Getenv(podmanapi.EnvContainerSSHKey)})
	require.NoError(t, err, "podman-api runtime on %s", uri)
	return rt
}

// harness drives the Podman service at uri.
func harness(uri string) conformance.Harness {
	return conformance.Harness{
		Name:  podmanapi.BackendName,
		Image: testImage,
		New:   func(t testing.TB) ctrgate.ContainerRuntime { return newRuntime(t, uri) },
		// the engine's own podman: the wrapper of the lane, or the local
		// podman on the same storage (CONTAINERS_CONF of scripts/podman.sh)
		Engine: conformance.EngineFromEnv(conformance.PodmanReport(enginePodman())),
		// the engine's own follower: podman logs -f on the same storage
		RawFollow: func(ctx context.Context, name string) *exec.Cmd {
			return exec.CommandContext(ctx, enginePodman(), "logs", "--follow", name)
		},
	}
}

// enginePodman is the podman command of the engine under test:
// CTRGATE_PODMAN_BINARY, or podman.
func enginePodman() string {
	if b := os.Getenv("CTRGATE_PODMAN_BINARY"); b != "" {
		return b
	}
	return "podman"
}

// BenchmarkConformance runs the shared benchmarks on the provisioned
// service (scripts/bench.sh compares them across backends).
func BenchmarkConformance(b *testing.B) {
	conformance.Benchmark(b, harness(serviceURI(b)))
}

func TestConformance(t *testing.T) {
	uri := serviceURI(t)
	start := time.Now()
	conformance.Run(t, harness(uri))
	t.Logf("podman-api conformance suite took %s", time.Since(start).Round(time.Millisecond))
}

// TestEventsAcrossRotation reads events while the rotating Podman instance
// (conformance.RotatingPodman) rotates its events log, and across a
// restart of its service, with a resume window (30 s) that rides out a
// restart on a loaded machine.
func TestEventsAcrossRotation(t *testing.T) {
	p := conformance.RotatingPodmanFromEnv(t)
	p.Lock(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rt, err := podmanapi.New(ctx, podmanapi.Config{URI: p.Socket(), ResumeWindow: 30 * time.Second, LivenessProbe: 30 * time.Second})
	require.NoError(t, err)
	defer rt.Close()
	conformance.EventsAcrossRotation(t, rt, conformance.RotationOptions{Image: testImage, EventsLog: p.EventsLog(), Restart: p.Restart})
}

// TestConformanceUnderLoad is podman-api's load lane (make test runs it
// after the other tests, alone).
func TestConformanceUnderLoad(t *testing.T) {
	conformance.RunUnderLoad(t, harness(serviceURI(t)))
}
