package ctrgate_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/ctrgate/ctrgate"
)

func TestParseState(t *testing.T) {
	tests := []struct {
		raw  string
		want ctrgate.State
	}{
		// Docker spellings
		{"created", ctrgate.StateCreated},
		{"running", ctrgate.StateRunning},
		{"paused", ctrgate.StatePaused},
		{"restarting", ctrgate.StateRestarting},
		{"removing", ctrgate.StateRemoving},
		{"exited", ctrgate.StateExited},
		{"dead", ctrgate.StateDead},
		// Podman spellings
		{"configured", ctrgate.StateCreated},
		{"initialized", ctrgate.StateCreated},
		{"stopping", ctrgate.StateStopping},
		{"stopped", ctrgate.StateExited},
		{"up", ctrgate.StateRunning},
		// case and white space
		{"Running", ctrgate.StateRunning},
		{"EXITED", ctrgate.StateExited},
		{"  paused\n", ctrgate.StatePaused},
		// unknown
		{"", ctrgate.StateUnknown},
		{"unknown", ctrgate.StateUnknown},
		{"Up 2 seconds ago", ctrgate.StateUnknown},
		{"weird", ctrgate.StateUnknown},
	}
	for _, tc := range tests {
		assert.Equal(t, tc.want, ctrgate.ParseState(tc.raw), "ParseState(%q)", tc.raw)
	}
}

func TestContainerStateRunning(t *testing.T) {
	running := map[ctrgate.State]bool{
		ctrgate.StateRunning: true, ctrgate.StatePaused: true, ctrgate.StateRestarting: true, ctrgate.StateStopping: true,
	}
	for _, s := range []ctrgate.State{
		ctrgate.StateCreated, ctrgate.StateRunning, ctrgate.StatePaused, ctrgate.StateRestarting,
		ctrgate.StateStopping, ctrgate.StateExited, ctrgate.StateDead, ctrgate.StateRemoving, ctrgate.StateUnknown, "",
	} {
		assert.Equal(t, running[s], ctrgate.ContainerState{Status: s}.Running(), "%q", s)
	}
}

func TestGPURequest(t *testing.T) {
	assert.False(t, ctrgate.GPURequest{}.Requested())
	assert.True(t, ctrgate.GPURequest{All: true}.Requested())
	assert.True(t, ctrgate.GPURequest{Devices: []string{"nvidia.com/gpu=0"}}.Requested())
	assert.Empty(t, ctrgate.GPURequest{}.CDIDevices())
	assert.Equal(t, []string{"nvidia.com/gpu=all"}, ctrgate.GPURequest{All: true, Devices: []string{"x"}}.CDIDevices())
	devs := []string{"nvidia.com/gpu=0", "nvidia.com/gpu=1"}
	got := ctrgate.GPURequest{Devices: devs}.CDIDevices()
	assert.Equal(t, devs, got)
	got[0] = "changed"
	assert.Equal(t, "nvidia.com/gpu=0", devs[0], "CDIDevices returns a copy")
}

func TestStreamString(t *testing.T) {
	assert.Equal(t, "stdout", ctrgate.Stdout.String())
	assert.Equal(t, "stderr", ctrgate.Stderr.String())
	assert.Equal(t, "stream(7)", ctrgate.Stream(7).String())
}

func TestKeepPorts(t *testing.T) {
	ports := []ctrgate.PortMapping{{HostPort: 40000, ContainerPort: 8080, Protocol: "tcp"}}
	for _, st := range []ctrgate.State{ctrgate.StateCreated, ctrgate.StateRunning, ctrgate.StatePaused} {
		assert.Equal(t, ports, ctrgate.ContainerState{Status: st}.KeepPorts(ports), st)
	}
	for _, st := range []ctrgate.State{ctrgate.StateExited, ctrgate.StateDead, ctrgate.StateRemoving} {
		assert.Nil(t, ctrgate.ContainerState{Status: st}.KeepPorts(ports), "no binding outlives the run: %s", st)
	}
}
