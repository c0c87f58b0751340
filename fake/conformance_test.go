package fake_test

import (
	"testing"

	"github.com/ctrgate/ctrgate"
	"github.com/ctrgate/ctrgate/conformance"
	"github.com/ctrgate/ctrgate/conformance/testprog"
	"github.com/ctrgate/ctrgate/fake"
)

// harness drives the fake, with the conformance test program registered at
// conformance.TestProgPath.
func harness() conformance.Harness {
	return conformance.Harness{
		Name: "fake",
		New: func(t testing.TB) ctrgate.ContainerRuntime {
			rt := fake.New()
			rt.RegisterProgram(conformance.TestProgPath, func(p *fake.Process) int { return testprog.Main(p) })
			return rt
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
