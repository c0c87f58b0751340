// Package gpu turns a ctrgate.GPURequest into engine arguments and
// environment, and classifies engine failures caused by a missing GPU/CDI
// setup as *ctrgate.GPUConfigError.
//
// GPUs are requested through CDI (Container Device Interface) device names
// such as "nvidia.com/gpu=all" or "nvidia.com/gpu=0"; the NVIDIA Container
// Toolkit generates the CDI specification (nvidia-ctk cdi generate).
package gpu

import (
	"errors"

	"github.com/ctrgate/ctrgate/driver"

	"github.com/ctrgate/ctrgate"
)

// Environment variables the NVIDIA container stack reads.
const (
	VisibleDevicesEnv     = "NVIDIA_VISIBLE_DEVICES"
	DriverCapabilitiesEnv = "NVIDIA_DRIVER_CAPABILITIES"
)

// Env returns the environment entries that go with a GPU request:
// NVIDIA_VISIBLE_DEVICES=all and NVIDIA_DRIVER_CAPABILITIES=all. A request
// for no GPU gives nil.
func Env(req ctrgate.GPURequest) []ctrgate.EnvVar {
	if !req.Requested() {
		return nil
	}
	return []ctrgate.EnvVar{
		{Name: VisibleDevicesEnv, Value: "all"},
		{Name: DriverCapabilitiesEnv, Value: "all"},
	}
}

// PodmanArgs returns the podman CLI arguments for a GPU request: one
// "--device <cdi-name>" per CDI device ("nvidia.com/gpu=all" for All) and
// the environment of Env as "-e KEY=VALUE". A request for no GPU gives nil.
func PodmanArgs(req ctrgate.GPURequest) []string {
	if !req.Requested() {
		return nil
	}
	var args []string
	for _, d := range req.CDIDevices() {
		args = append(args, "--device", d)
	}
	for _, e := range Env(req) {
		args = append(args, "-e", e.Name+"="+e.Value)
	}
	return args
}

// Classify maps an engine failure of a GPU-requesting call to a
// *ctrgate.GPUConfigError when the engine's message (stderr, or the text of
// err when stderr is empty or does not say) shows that the GPU/CDI setup is
// missing; otherwise it returns err unchanged. The message is redacted with
// secrets. A nil err with an empty stderr gives nil. An err that already is
// (or wraps) a *ctrgate.GPUConfigError is returned as is.
func Classify(backend string, err error, stderr string, secrets []string) error {
	if err == nil && stderr == "" {
		return nil
	}
	var gce *ctrgate.GPUConfigError
	if errors.As(err, &gce) {
		return err
	}
	switch {
	case stderr != "" && driver.IsGPUConfigMessage(stderr):
		return ctrgate.NewGPUConfigError(backend, stderr, err, secrets)
	case err != nil && driver.IsGPUConfigMessage(err.Error()):
		return ctrgate.NewGPUConfigError(backend, err.Error(), err, secrets)
	}
	return err
}
