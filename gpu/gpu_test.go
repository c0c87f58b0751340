package gpu_test

import (
	"errors"
	"fmt"
	"os/exec"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ctrgate/ctrgate"
	"github.com/ctrgate/ctrgate/gpu"
)

// Engine messages measured on a machine without GPU or CDI specs
// (/work/shared/notes/engine-facts.md).
const (
	podmanCDIMsg   = "Error: setting up CDI devices: unresolvable CDI devices nvidia.com/gpu=all"
	dockerGPUMsg   = `could not select device driver "" with capabilities: [[gpu]]`
	dockerAPIGPU   = `Error response from daemon: could not select device driver "" with capabilities: [[gpu]]`
	unrelatedMsg   = "Error: no such container foo"
	podmanNameUsed = `Error: creating container storage: the container name "web" is already in use`
)

func TestPodmanArgs(t *testing.T) {
	tests := []struct {
		name string
		req  ctrgate.GPURequest
		want []string
	}{
		{"none", ctrgate.GPURequest{}, nil},
		{"all", ctrgate.GPURequest{All: true}, []string{
			"--device", "nvidia.com/gpu=all",
			"-e", "NVIDIA_VISIBLE_DEVICES=all", "-e", "NVIDIA_DRIVER_CAPABILITIES=all"}},
		{"all wins over devices", ctrgate.GPURequest{All: true, Devices: []string{"nvidia.com/gpu=0"}}, []string{
			"--device", "nvidia.com/gpu=all",
			"-e", "NVIDIA_VISIBLE_DEVICES=all", "-e", "NVIDIA_DRIVER_CAPABILITIES=all"}},
		{"one device", ctrgate.GPURequest{Devices: []string{"nvidia.com/gpu=0"}}, []string{
			"--device", "nvidia.com/gpu=0",
			"-e", "NVIDIA_VISIBLE_DEVICES=all", "-e", "NVIDIA_DRIVER_CAPABILITIES=all"}},
		{"two devices in order", ctrgate.GPURequest{Devices: []string{"nvidia.com/gpu=1", "nvidia.com/gpu=GPU-abc"}}, []string{
			"--device", "nvidia.com/gpu=1", "--device", "nvidia.com/gpu=GPU-abc",
			"-e", "NVIDIA_VISIBLE_DEVICES=all", "-e", "NVIDIA_DRIVER_CAPABILITIES=all"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, gpu.PodmanArgs(tc.req))
		})
	}
}

func TestPodmanArgsDoesNotAliasRequest(t *testing.T) {
	devs := []string{"nvidia.com/gpu=0"}
	args := gpu.PodmanArgs(ctrgate.GPURequest{Devices: devs})
	args[1] = "changed"
	assert.Equal(t, "nvidia.com/gpu=0", devs[0])
}

func TestEnv(t *testing.T) {
	assert.Nil(t, gpu.Env(ctrgate.GPURequest{}))
	want := []ctrgate.EnvVar{
		{Name: "NVIDIA_VISIBLE_DEVICES", Value: "all"},
		{Name: "NVIDIA_DRIVER_CAPABILITIES", Value: "all"},
	}
	assert.Equal(t, want, gpu.Env(ctrgate.GPURequest{All: true}))
	assert.Equal(t, want, gpu.Env(ctrgate.GPURequest{Devices: []string{"nvidia.com/gpu=0"}}))
	require.NoError(t, ctrgate.ValidateEnv("Env", gpu.Env(ctrgate.GPURequest{All: true})))
}

func TestClassify(t *testing.T) {
	exitErr := &exec.ExitError{}
	tests := []struct {
		name    string
		err     error
		stderr  string
		wantGPU bool
		wantMsg string
	}{
		{"podman CDI in stderr", exitErr, podmanCDIMsg, true, podmanCDIMsg},
		{"docker CLI in stderr", exitErr, dockerGPUMsg, true, dockerGPUMsg},
		{"docker API in err text", errors.New(dockerAPIGPU), "", true, dockerAPIGPU},
		{"podman API in err text", fmt.Errorf("create: %s", podmanCDIMsg), "", true, "create: " + podmanCDIMsg},
		{"stderr without marker, err with marker", errors.New(dockerGPUMsg), "exit status 125", true, dockerGPUMsg},
		{"unrelated stderr", exitErr, unrelatedMsg, false, ""},
		{"name in use", exitErr, podmanNameUsed, false, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := gpu.Classify("podman-cli", tc.err, tc.stderr, nil)
			require.Error(t, got)
			var gce *ctrgate.GPUConfigError
			if !tc.wantGPU {
				assert.False(t, errors.As(got, &gce), "must not be a GPUConfigError: %v", got)
				assert.Same(t, tc.err, got, "the original error is returned unchanged")
				return
			}
			require.ErrorAs(t, got, &gce)
			assert.Equal(t, "podman-cli", gce.Backend)
			assert.Equal(t, tc.wantMsg, gce.Message)
			assert.Equal(t, ctrgate.GPUHint, gce.Hint)
			assert.ErrorIs(t, got, tc.err, "the cause stays reachable")
			assert.Contains(t, got.Error(), "nvidia-ctk cdi generate")
		})
	}
}

func TestClassifyNil(t *testing.T) {
	assert.NoError(t, gpu.Classify("docker", nil, "", nil))
	assert.NoError(t, gpu.Classify("docker", nil, unrelatedMsg, nil))
	var gce *ctrgate.GPUConfigError
	require.ErrorAs(t, gpu.Classify("docker", nil, podmanCDIMsg, nil), &gce)
	assert.NoError(t, gce.Err)
}

func TestClassifyKeepsExistingGPUConfigError(t *testing.T) {
	orig := fmt.Errorf("start: %w", ctrgate.NewGPUConfigError("fake", podmanCDIMsg, nil, nil))
	assert.Same(t, orig, gpu.Classify("fake", orig, dockerGPUMsg, nil))
}

func TestClassifyRedactsSecrets(t *testing.T) {
	const secret = "s3cr3t-token-value"
	stderr := podmanCDIMsg + " (env MY_VAR=" + secret + ")"
	cause := errors.New("exit status 125: " + stderr)
	got := gpu.Classify("podman-cli", cause, stderr, []string{secret})
	var gce *ctrgate.GPUConfigError
	require.ErrorAs(t, got, &gce)
	assert.NotContains(t, gce.Message, secret)
	assert.NotContains(t, got.Error(), secret)
	assert.NotContains(t, fmt.Sprintf("%v", errors.Unwrap(got)), secret, "wrapped cause text is redacted too")
	assert.ErrorIs(t, got, cause)
}
