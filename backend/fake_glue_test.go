package backend_test

import (
	"context"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ctrgate/ctrgate"
	"github.com/ctrgate/ctrgate/backend"
	"github.com/ctrgate/ctrgate/fake"
)

// The fake registers itself when imported (fake/register.go).
func TestFakeRegistered(t *testing.T) {
	require.True(t, slices.Contains(backend.Backends(), "fake"))
	rt, err := backend.Open(context.Background(), backend.Config{Backend: "fake",
		Options: map[string]string{"timeout": "5s", "cdi_devices": "nvidia.com/gpu=0, nvidia.com/gpu=1"}})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, rt.Close()) })
	require.IsType(t, &fake.Runtime{}, ctrgate.DriverOf(rt))
	info, err := rt.Info(context.Background())
	require.NoError(t, err)
	assert.Equal(t, "fake", info.Backend)
	assert.True(t, info.CDIGPUs)
	assert.ElementsMatch(t, []string{"nvidia.com/gpu=0", "nvidia.com/gpu=1"}, info.CDIDevices)

	_, err = backend.Open(context.Background(), backend.Config{Backend: "fake", Options: map[string]string{"timeout": "never"}})
	assert.Error(t, err)
}
