package driver_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/ctrgate/ctrgate"
	"github.com/ctrgate/ctrgate/driver"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestIsGPUConfigMessage(t *testing.T) {
	yes := []string{
		"Error: setting up CDI devices: unresolvable CDI devices nvidia.com/gpu=all",
		`could not select device driver "" with capabilities: [[gpu]]`,
		`Error response from daemon: could not select device driver "" with capabilities: [[gpu]]`,
		"nvidia-container-cli: initialization error: nvml error: driver not loaded",
		"failed to inject CDI devices: unresolvable CDI devices cdi.k8s.io/x",
	}
	no := []string{
		"Error: no such container web",
		"Error: creating container storage: the container name \"web\" is already in use",
		"OCI runtime error: crun: cgroups in hybrid mode not supported",
		"",
	}
	for _, m := range yes {
		assert.True(t, driver.IsGPUConfigMessage(m), "%q", m)
	}
	for _, m := range no {
		assert.False(t, driver.IsGPUConfigMessage(m), "%q", m)
	}
}

func TestPullFailureKind(t *testing.T) {
	for msg, want := range map[string]error{
		// Podman (containers/image)
		`initializing source docker://127.0.0.1:1/x:v1: pinging container registry 127.0.0.1:1: Get "https://127.0.0.1:1/v2/": dial tcp 127.0.0.1:1: connect: connection refused`: ctrgate.ErrRegistryUnavailable,
		`initializing source docker://nope.example/x:1: pinging container registry nope.example: Get "https://nope.example/v2/": dial tcp: lookup nope.example: no such host`:     ctrgate.ErrRegistryUnavailable,
		`initializing source docker://10.0.0.9/x:1: pinging container registry 10.0.0.9: Get "https://10.0.0.9/v2/": dial tcp 10.0.0.9:443: i/o timeout`:                          ctrgate.ErrRegistryUnavailable,
		`pinging container registry r:5000: Get "https://r:5000/v2/": http: server gave HTTP response to HTTPS client`:                                                            ctrgate.ErrRegistryUnavailable,
		`pinging container registry r: Get "https://r/v2/": tls: failed to verify certificate: x509: certificate signed by unknown authority`:                                     ctrgate.ErrRegistryUnavailable,
		`initializing source docker://127.0.0.1:5000/ctrgate/x:v1: reading manifest v1 in 127.0.0.1:5000/ctrgate/x: manifest unknown`:                                             ctrgate.ErrImageNotFound,
		`short-name "nope:1" did not resolve to an alias and no unqualified-search registries are defined`:                                                                        ctrgate.ErrImageNotFound,
		// Docker
		`Get "http://127.0.0.1:1/v2/": dial tcp 127.0.0.1:1: connect: connection refused`:                                ctrgate.ErrRegistryUnavailable,
		`manifest for 127.0.0.1:5000/ctrgate/x:v1 not found: manifest unknown: manifest unknown`:                         ctrgate.ErrImageNotFound,
		`pull access denied for nope, repository does not exist or may require 'docker login': denied: requested access`: ctrgate.ErrImageNotFound,
		// nothing known: as before, the image could not be had
		"something else": ctrgate.ErrImageNotFound,
	} {
		assert.Equal(t, want, driver.PullFailureKind(msg), msg)
	}
}

func TestWithOp(t *testing.T) {
	orig := ctrgate.NewEngineError("b", ctrgate.OpInspect, "web", ctrgate.ErrNotFound, "no such container", nil, nil)
	got := driver.WithOp(orig, ctrgate.OpLogs)
	var ee *ctrgate.EngineError
	require.ErrorAs(t, got, &ee)
	assert.Equal(t, ctrgate.OpLogs, ee.Op)
	assert.Equal(t, "web", ee.Target)
	assert.ErrorIs(t, got, ctrgate.ErrNotFound)
	assert.Equal(t, ctrgate.OpInspect, orig.Op, "the original is not changed")

	assert.NoError(t, driver.WithOp(nil, ctrgate.OpLogs))
	plain := errors.New("x")
	assert.Same(t, plain, driver.WithOp(plain, ctrgate.OpLogs))
	g := ctrgate.NewGPUConfigError("b", "cdi", nil, nil)
	assert.Same(t, g, driver.WithOp(g, ctrgate.OpStart))
	wrapped := fmt.Errorf("ctx: %w", orig)
	assert.Same(t, wrapped, driver.WithOp(wrapped, ctrgate.OpLogs), "only an outermost *EngineError is renamed")
}
