package remote_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ctrgate/ctrgate"
	"github.com/ctrgate/ctrgate/docker"
)

// TestRemoteTLSRefusals connects docker to h1's dockerd on tcp+TLS with a
// client certificate of another CA (the engine refuses it) and without TLS
// (refused by the backend before any connection): each fails with a typed
// error, at once, and no key material appears in the error.
func TestRemoteTLSRefusals(t *testing.T) {
	env := remoteFromEnv(t)
	bad := os.Getenv("CTRGATE_REMOTE_DOCKER_BAD_CERT_PATH")
	require.NotEmpty(t, bad)
	key, err := os.ReadFile(filepath.Join(bad, "key.pem"))
	require.NoError(t, err)

	t.Setenv("DOCKER_TLS_VERIFY", "1")
	t.Setenv("DOCKER_CERT_PATH", bad)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	began := time.Now()
	_, err = docker.New(ctx, docker.Config{Host: env.dockerTLS})
	took := time.Since(began)
	require.ErrorIs(t, err, ctrgate.ErrEngineUnavailable, "a client certificate the engine does not trust")
	t.Logf("docker with a client certificate of another CA: refused after %v: %v", took.Round(time.Millisecond), err)
	for _, line := range strings.Split(strings.TrimSpace(string(key)), "\n") {
		if !strings.HasPrefix(line, "-----") {
			assert.NotContains(t, err.Error(), line, "no key material in the error")
		}
	}

	t.Setenv("DOCKER_TLS_VERIFY", "")
	t.Setenv("DOCKER_CERT_PATH", "")
	_, err = docker.New(ctx, docker.Config{Host: env.dockerTLS})
	assert.ErrorIs(t, err, ctrgate.ErrInvalidSpec, "plain tcp:// off loopback is refused before any connection")
}
