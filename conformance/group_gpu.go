package conformance

import (
	"github.com/ctrgate/ctrgate"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"testing"
)

func gpuGroup() group {
	return group{name: "GPU", tests: []suiteTest{
		{name: "RequestWithoutGPUs", parallel: true, fn: func(t *testing.T, s *suite) {
			ctx := s.ctx(t)
			info, err := s.rt.Info(ctx)
			require.NoError(t, err)
			if info.CDIGPUs {
				s.notApplicable(t, "this machine has CDI GPU devices; the test needs a machine without GPUs")
				return
			}
			name := s.name(t, "gpu-all")
			spec := s.spec(name, "echo", "gpu")
			spec.GPUs = ctrgate.GPURequest{All: true}
			_, err = ctrgate.Run(ctx, s.rt, spec) // create, start, remove on failure
			require.Error(t, err, "a GPU request on a machine without GPUs")
			var gerr *ctrgate.GPUConfigError
			if assert.ErrorAs(t, err, &gerr, "the error is a *GPUConfigError: %v", err) {
				assert.NotEmpty(t, gerr.Hint)
				assert.NotEmpty(t, gerr.Backend)
			}
			s.requireGone(t, ctx, name)
		}},
	}}
}
