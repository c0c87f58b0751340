package driver_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ctrgate/ctrgate"
	"github.com/ctrgate/ctrgate/backend"
	"github.com/ctrgate/ctrgate/driver"
)

func TestParseEngineOptions(t *testing.T) {
	o, err := driver.ParseEngineOptions(backend.Config{Options: map[string]string{
		backend.OptTimeout: "5s", backend.OptResumeWindow: "30s", backend.OptLivenessProbe: "off",
		driver.OptAllowPlainTCP: "true", driver.OptKnownHosts: "/k", driver.OptAcceptNewHostKeys: "yes"}})
	require.NoError(t, err)
	assert.Equal(t, driver.EngineOptions{Timeout: 5 * time.Second, ResumeWindow: 30 * time.Second, LivenessProbe: -1,
		AllowPlainTCP: true, KnownHosts: "/k", AcceptNewHostKeys: true}, o)

	o, err = driver.ParseEngineOptions(backend.Config{})
	require.NoError(t, err)
	assert.Equal(t, driver.EngineOptions{}, o, "nothing set: every default (0, false, \"\")")

	for _, bad := range []map[string]string{{backend.OptLivenessProbe: "-1s"}, {backend.OptTimeout: "soon"}, {driver.OptAllowPlainTCP: "maybe"}} {
		_, err := driver.ParseEngineOptions(backend.Config{Options: bad})
		assert.ErrorIs(t, err, ctrgate.ErrInvalidSpec, "%v", bad)
	}
}
