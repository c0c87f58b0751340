package docker

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ctrgate/ctrgate"
)

// writeContext stores a docker CLI context named name pointing at host in
// the context store under dir, as "docker context create" does.
func writeContext(t *testing.T, dir, name, host string) {
	t.Helper()
	sum := sha256.Sum256([]byte(name))
	meta := filepath.Join(dir, "contexts", "meta", hex.EncodeToString(sum[:]))
	require.NoError(t, os.MkdirAll(meta, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(meta, "meta.json"),
		[]byte(`{"Name":"`+name+`","Metadata":{},"Endpoints":{"docker":{"Host":"`+host+`","SkipTLSVerify":false}}}`), 0o644))
}

func TestDockerContextFromConfigAndEnv(t *testing.T) {
	f := newFakeAPI(t)
	dir := t.TempDir()
	t.Setenv("DOCKER_HOST", "")
	t.Setenv("DOCKER_CONTEXT", "")
	t.Setenv("DOCKER_CONFIG", dir)
	writeContext(t, dir, "fakeapi", "tcp://"+strings.TrimPrefix(f.srv.URL, "http://"))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "config.json"), []byte(`{"currentContext":"fakeapi"}`), 0o644))

	f.mu.Lock()
	before := len(f.requests)
	f.mu.Unlock()
	rt, err := New(context.Background(), Config{})
	require.NoError(t, err, "the CLI's current context names the engine")
	info, err := rt.Info(context.Background())
	require.NoError(t, err)
	assert.Equal(t, "20.10.24", info.Version)
	require.NoError(t, rt.Close())
	f.mu.Lock()
	assert.Greater(t, len(f.requests), before, "the calls reached the context's engine")
	f.mu.Unlock()

	// DOCKER_CONTEXT wins over config.json; a context that does not exist
	// is a clear ErrEngineUnavailable naming it, not a fall-back.
	t.Setenv("DOCKER_CONTEXT", "nope")
	_, err = New(context.Background(), Config{})
	require.ErrorIs(t, err, ctrgate.ErrEngineUnavailable)
	assert.Contains(t, err.Error(), `docker context "nope"`)

	// Config.Context wins over both, and "default" means the default socket.
	ep, err := resolveContext("default")
	require.NoError(t, err)
	assert.Equal(t, "", ep.Host)
	ep, err = resolveContext("fakeapi")
	require.NoError(t, err)
	assert.Equal(t, "tcp://"+strings.TrimPrefix(f.srv.URL, "http://"), ep.Host)
	assert.Equal(t, "", ep.TLS, "no TLS material stored")
}

func TestDockerHostBeatsContext(t *testing.T) {
	f := newFakeAPI(t)
	dir := t.TempDir()
	t.Setenv("DOCKER_CONFIG", dir)
	t.Setenv("DOCKER_CONTEXT", "missing-context")
	t.Setenv("DOCKER_HOST", "tcp://"+strings.TrimPrefix(f.srv.URL, "http://"))
	rt, err := New(context.Background(), Config{})
	require.NoError(t, err, "DOCKER_HOST is used before any context, as the docker CLI does")
	require.NoError(t, rt.Close())
}
