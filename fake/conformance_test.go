package fake_test

import (
	"context"
	"testing"

	"github.com/ctrgate/ctrgate"
	"github.com/ctrgate/ctrgate/conformance"
	"github.com/ctrgate/ctrgate/conformance/testprog"
	"github.com/ctrgate/ctrgate/fake"
)

// harness drives the fake, with the conformance test program registered at
// conformance.TestProgPath.
func harness() conformance.Harness {
	reg := fake.NewRegistry("registry.fake:5000")
	return conformance.Harness{
		Name:     "fake",
		Registry: registry(reg),
		New: func(t testing.TB) ctrgate.ContainerRuntime {
			rt := fake.New(fake.WithRegistry(reg))
			rt.RegisterProgram(conformance.TestProgPath, func(p *fake.Process) int { return testprog.Main(p) })
			return rt
		},
	}
}

// registry is the conformance suite's view of reg: a push stores the test
// image's configuration and its /etc files (its program is registered at
// conformance.TestProgPath in every runtime).
func registry(reg *fake.Registry) *conformance.Registry {
	return &conformance.Registry{
		Host: reg.Host(),
		Down: "127.0.0.1:1",
		Push: func(_ context.Context, ref string, o ctrgate.ImportOptions) error {
			return reg.Push(ref, fake.ImageConfig{Entrypoint: o.Entrypoint, Cmd: o.Cmd, Env: o.Env, WorkDir: o.WorkDir,
				Labels: o.Labels, Files: map[string][]byte{"/etc/passwd": []byte(conformance.Passwd), "/etc/group": []byte(conformance.Group)}})
		},
	}
}

// TestConformance runs the shared behavioural suite against the fake.
func TestConformance(t *testing.T) {
	conformance.Run(t, harness())
}

// BenchmarkConformance runs the shared benchmarks against the fake
// (scripts/bench.sh compares them across backends).
func BenchmarkConformance(b *testing.B) {
	conformance.Benchmark(b, harness())
}

// TestConformanceUnderLoad is the fake's load lane (make test runs it
// after the other tests, alone).
func TestConformanceUnderLoad(t *testing.T) {
	conformance.RunUnderLoad(t, harness())
}
