package conformance

import (
	"github.com/ctrgate/ctrgate"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"testing"
)

func engineGroup() group {
	return group{name: "Engine", tests: []suiteTest{
		{name: "Info", parallel: true, fn: func(t *testing.T, s *suite) {
			info, err := s.rt.Info(s.ctx(t))
			require.NoError(t, err)
			require.NotNil(t, info)
			assert.NotEmpty(t, info.Backend, "Info.Backend")
			assert.Contains(t, []string{"podman", "docker", "fake"}, info.Engine, "Info.Engine")
			assert.NotEmpty(t, info.Version, "Info.Version")
			t.Logf("%s: backend %s, engine %s %s (API %s), rootless=%v, cgroup %q, OCI runtime %q",
				s.h.Name, info.Backend, info.Engine, info.Version, info.APIVersion, info.Rootless,
				info.CgroupVersion, info.OCIRuntime)
		}},
		{name: "ImageExists", parallel: true, fn: func(t *testing.T, s *suite) {
			ctx := s.ctx(t)
			ok, err := s.rt.ImageExists(ctx, s.image)
			require.NoError(t, err)
			assert.True(t, ok, "the imported test image %s must exist", s.image)
			missing := "localhost/ctrgate/no-such-image-" + randHex(4) + ":v1"
			ok, err = s.rt.ImageExists(ctx, missing)
			require.NoError(t, err, "a missing image is (false, nil)")
			assert.False(t, ok)
			assert.NoError(t, s.rt.PullImage(ctx, s.image, ctrgate.PullNever), "PullNever on a present image")
			assert.NoError(t, s.rt.PullImage(ctx, s.image, ctrgate.PullMissing), "PullMissing on a present image")
		}},
	}}
}
