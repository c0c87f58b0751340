package fake_test

import (
	"testing"

	"github.com/ctrgate/ctrgate"
	"github.com/ctrgate/ctrgate/conformance"
	"github.com/ctrgate/ctrgate/conformance/testprog"
	"github.com/ctrgate/ctrgate/fake"
)

// TestConformance runs the shared behavioural suite against the fake, with
// the conformance test program registered at conformance.TestProgPath.
func TestConformance(t *testing.T) {
	conformance.Run(t, conformance.Harness{
		Name: "fake",
		New: func(t testing.TB) ctrgate.ContainerRuntime {
			rt := fake.New()
			rt.RegisterProgram(conformance.TestProgPath, func(p *fake.Process) int { return testprog.Main(p) })
			return rt
		},
	})
}
