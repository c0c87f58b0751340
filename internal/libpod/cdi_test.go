package libpod

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCDIDevices(t *testing.T) {
	dir := t.TempDir()
	yaml := `cdiVersion: "0.5.0"
kind: nvidia.com/gpu
devices:
  - name: "1"
    containerEdits:
      deviceNodes:
        - path: /dev/nvidia1
  - name: "0"
    containerEdits:
      deviceNodes:
        - path: /dev/nvidia0
  - name: all
    containerEdits:
      deviceNodes:
        - path: /dev/nvidia0
        - path: /dev/nvidia1
containerEdits:
  env:
    - NVIDIA_VISIBLE_DEVICES=void
`
	require.NoError(t, os.WriteFile(filepath.Join(dir, "nvidia.yaml"), []byte(yaml), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "other.json"),
		[]byte(`{"cdiVersion":"0.5.0","kind":"vendor.com/fpga","devices":[{"name":"f0","containerEdits":{"env":["FPGA=0"]}}]}`), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "broken.yaml"), []byte("kind: [\n"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "README"), []byte("kind: x/y\nname: z\n"), 0o644))
	devs := CDIDevices([]string{dir, filepath.Join(dir, "missing")})
	assert.Equal(t, []string{"nvidia.com/gpu=0", "nvidia.com/gpu=1", "nvidia.com/gpu=all", "vendor.com/fpga=f0"}, devs,
		"the good specifications' devices, sorted; the broken one and the README skipped")
	assert.True(t, HasGPU(devs))
	assert.Empty(t, CDIDevices([]string{filepath.Join(dir, "missing")}))
	assert.False(t, HasGPU([]string{"vendor.com/fpga=f0"}))
}
