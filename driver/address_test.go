package driver_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ctrgate/ctrgate"
	"github.com/ctrgate/ctrgate/driver"
)

func TestCheckPlainTCP(t *testing.T) {
	for addr, refused := range map[string]bool{
		"tcp://10.0.0.5:2375":            true,
		"tcp://user:pw@build-host:2375":  true,
		"http://192.0.2.1:8888":          true,
		"tcp://[2001:db8::1]:2375":       true,
		"tcp://127.0.0.1:2375":           false,
		"tcp://127.1.2.3:2375":           false,
		"tcp://localhost:2375":           false,
		"tcp://[::1]:2375":               false,
		"unix:///run/docker.sock":        false,
		"ssh://root@build-host":          false,
		"npipe:////./pipe/docker_engine": false,
	} {
		err := driver.CheckPlainTCP("host", addr, false, false)
		if !refused {
			assert.NoError(t, err, addr)
			continue
		}
		require.ErrorIs(t, err, ctrgate.ErrInvalidSpec, addr)
		assert.NotContains(t, err.Error(), "pw", "no credential in the error")
		assert.Contains(t, err.Error(), driver.OptAllowPlainTCP)
		assert.NoError(t, driver.CheckPlainTCP("host", addr, true, false), "%s with TLS", addr)
		assert.NoError(t, driver.CheckPlainTCP("host", addr, false, true), "%s allowed", addr)
	}
}
