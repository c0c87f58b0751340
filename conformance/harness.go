// Package conformance is the behavioural specification of
// ctrgate.ContainerRuntime in executable form. Every backend's tests call
// Run with a Harness; the fake runs the very same suite as the real engines.
package conformance

import (
	"context"
	"os/exec"
	"testing"

	"github.com/ctrgate/ctrgate"
)

// DefaultImage is the reference the suite imports the test image under.
const DefaultImage = "localhost/ctrgate/testprog:conformance"

// TestProgPath is the path of the test program inside the test image; the
// image's entrypoint. The fake registers testprog.Main under this path.
const TestProgPath = "/testprog"

// Capability names an optional behaviour a backend may lack.
type Capability string

// Harness tells the suite how to drive one backend.
type Harness struct {
	// Name labels the backend in test names and reports, e.g. "podman-cli".
	Name string
	// New returns a ready runtime. The suite closes it at the end of the
	// test that asked for it. New must fail the test (not skip) when the
	// engine is missing and CI is set.
	New func(t testing.TB) ctrgate.ContainerRuntime
	// Image is the reference to import the test image as; "" means
	// DefaultImage.
	Image string
	// Lacks lists the optional capabilities the backend lacks, each with the
	// reason. Tests needing them are reported as not applicable, never
	// silently skipped.
	Lacks map[Capability]string
	// Engine holds what the engine's provisioning knows about it, for the
	// checks only a real engine can answer (keep-id's uid, Info against the
	// engine's own report). The zero value: the engine runs as this
	// process's user and gives no report of its own.
	Engine Engine
	// Registry is the registry the engine pulls from in the Images group's
	// pull tests; nil means RegistryFromEnv() ($CTRGATE_REGISTRY, the
	// registry of scripts/registry.sh). With neither, those tests fail when
	// CI=true and are reported NOT APPLICABLE otherwise.
	Registry *Registry
	// RawFollow, when set, returns the engine's own log follower for a
	// container (e.g. `podman logs -f NAME`, `docker logs -f NAME`), not
	// started. Benchmark's ReadinessLatency runs it beside ctrgate's
	// follower of the same container and reports its delays too
	// (raw-ms-median, raw-ms-p90).
	RawFollow func(ctx context.Context, name string) *exec.Cmd
}
