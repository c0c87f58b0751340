package driver_test

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ctrgate/ctrgate/driver"
)

func TestWarnLooseKeyFile(t *testing.T) {
	var logged bytes.Buffer
	prev := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(&logged, nil)))
	t.Cleanup(func() { slog.SetDefault(prev) })

	dir := t.TempDir()
	key := filepath.Join(dir, "key.pem")
	require.NoError(t, os.WriteFile(key, []byte("-----BEGIN PRIVATE KEY-----\nsecret-material\n"), 0o600))
	assert.False(t, driver.WarnLooseKeyFile("docker", "TLS client key", key), "owner only")
	require.NoError(t, os.Chmod(key, 0o644))
	assert.True(t, driver.WarnLooseKeyFile("docker", "TLS client key", key))
	assert.Contains(t, logged.String(), key)
	assert.Contains(t, logged.String(), "-rw-r--r--")
	assert.NotContains(t, logged.String(), "secret-material", "the key is never read")
	assert.False(t, driver.WarnLooseKeyFile("docker", "TLS client key", filepath.Join(dir, "missing")))
	assert.False(t, driver.WarnLooseKeyFile("docker", "TLS client key", ""))
}
