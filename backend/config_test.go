package backend_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ctrgate/ctrgate"
	"github.com/ctrgate/ctrgate/backend"
)

func envMap(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func writeFile(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "ctrgate.json")
	require.NoError(t, os.WriteFile(p, []byte(content), 0o600))
	return p
}

func TestLoadConfigEmpty(t *testing.T) {
	cfg, err := backend.LoadConfig(envMap(nil), "")
	require.NoError(t, err)
	assert.Equal(t, backend.Config{}, cfg)
}

func TestLoadConfigEnv(t *testing.T) {
	cfg, err := backend.LoadConfig(envMap(map[string]string{
		"CTRGATE_BACKEND":      "podman-api",
		"CONTAINER_HOST":       "unix:///run/user/1000/podman/podman.sock",
		"CONTAINER_CONNECTION": "remote1",
		"DOCKER_HOST":          "tcp://10.0.0.2:2376",
		"UNRELATED":            "x",
	}), "")
	require.NoError(t, err)
	assert.Equal(t, backend.Config{
		Backend: "podman-api",
		Options: map[string]string{
			"url":        "unix:///run/user/1000/podman/podman.sock",
			"connection": "remote1",
			"host":       "tcp://10.0.0.2:2376",
		},
	}, cfg)
}

func TestLoadConfigFile(t *testing.T) {
	p := writeFile(t, `{"backend": "podman-cli", "options": {"binary": "/usr/bin/podman", "timeout": "30s"}}`)
	for _, tc := range []struct {
		name string
		env  map[string]string
		path string
	}{
		{"explicit path", nil, p},
		{"CTRGATE_CONFIG", map[string]string{"CTRGATE_CONFIG": p}, ""},
		{"explicit path wins over CTRGATE_CONFIG", map[string]string{"CTRGATE_CONFIG": "/nonexistent.json"}, p},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := backend.LoadConfig(envMap(tc.env), tc.path)
			require.NoError(t, err)
			assert.Equal(t, backend.Config{Backend: "podman-cli",
				Options: map[string]string{"binary": "/usr/bin/podman", "timeout": "30s"}}, cfg)
		})
	}
}

func TestPrecedenceCodeEnvFile(t *testing.T) {
	p := writeFile(t, `{"backend": "docker", "options": {"host": "unix:///file.sock", "timeout": "10s", "binary": "/file/podman"}}`)
	env := envMap(map[string]string{
		"CTRGATE_CONFIG":  p,
		"CTRGATE_BACKEND": "podman-cli",
		"DOCKER_HOST":     "unix:///env.sock",
	})
	loaded, err := backend.LoadConfig(env, "")
	require.NoError(t, err)
	// env > file
	assert.Equal(t, "podman-cli", loaded.Backend)
	assert.Equal(t, "unix:///env.sock", loaded.Options["host"])
	assert.Equal(t, "10s", loaded.Options["timeout"], "file values survive where env says nothing")

	code := backend.Config{Backend: "fake", Options: map[string]string{"timeout": "1s"}}
	got := backend.Merge(loaded, code)
	// code > env > file
	assert.Equal(t, backend.Config{Backend: "fake", Options: map[string]string{
		"host": "unix:///env.sock", "timeout": "1s", "binary": "/file/podman",
	}}, got)

	// Code without a backend keeps the loaded one.
	assert.Equal(t, "podman-cli", backend.Merge(loaded, backend.Config{}).Backend)
	// Merge copies: neither input changes.
	assert.Equal(t, "10s", loaded.Options["timeout"])
	assert.Equal(t, map[string]string{"timeout": "1s"}, code.Options)
}

func TestMergeNil(t *testing.T) {
	assert.Equal(t, backend.Config{}, backend.Merge(backend.Config{}, backend.Config{}))
	got := backend.Merge(backend.Config{}, backend.Config{Options: map[string]string{"a": "b"}})
	assert.Equal(t, map[string]string{"a": "b"}, got.Options)
}

func TestLoadConfigFileErrors(t *testing.T) {
	for name, content := range map[string]string{
		"syntax":        `{"backend": `,
		"unknown field": `{"backend": "docker", "engine": "x"}`,
		"wrong type":    `{"options": {"timeout": 5}}`,
		"trailing":      `{"backend": "docker"} {"backend": "fake"}`,
	} {
		t.Run(name, func(t *testing.T) {
			_, err := backend.LoadConfig(envMap(nil), writeFile(t, content))
			assert.ErrorIs(t, err, ctrgate.ErrInvalidSpec)
		})
	}
	_, err := backend.LoadConfig(envMap(map[string]string{"CTRGATE_CONFIG": "/nonexistent/ctrgate.json"}), "")
	assert.ErrorIs(t, err, ctrgate.ErrInvalidSpec, "a named file that is missing is an error")
	assert.ErrorIs(t, err, os.ErrNotExist)
}

func TestLoadConfigDefaultsToOsGetenv(t *testing.T) {
	t.Setenv("CTRGATE_BACKEND", "docker")
	t.Setenv("CTRGATE_CONFIG", "")
	t.Setenv("DOCKER_HOST", "unix:///from-os.sock")
	cfg, err := backend.LoadConfig(nil, "")
	require.NoError(t, err)
	assert.Equal(t, "docker", cfg.Backend)
	assert.Equal(t, "unix:///from-os.sock", cfg.Options["host"])
}

// The process-wide registry: names are unique to this test binary and are
// registered once (tests may run several times with -count).

type nopRuntime struct{ ctrgate.ContainerRuntime }

var (
	globalOnce sync.Once
	globalMu   sync.Mutex
	globalCfg  = map[string]backend.Config{} // last Config each stub was opened with
)

func registerGlobalStubs() {
	globalOnce.Do(func() {
		for _, name := range []string{"test-global", "test-env"} {
			backend.Register(name, func(_ context.Context, cfg backend.Config) (ctrgate.ContainerRuntime, error) {
				globalMu.Lock()
				defer globalMu.Unlock()
				globalCfg[cfg.Backend] = cfg
				return nopRuntime{}, nil
			}, nil)
		}
	})
}

func lastGlobalCfg(name string) backend.Config {
	globalMu.Lock()
	defer globalMu.Unlock()
	return globalCfg[name]
}

func TestGlobalRegisterOpen(t *testing.T) {
	registerGlobalStubs()
	assert.True(t, slices.Contains(backend.Backends(), "test-global"))
	assert.True(t, slices.IsSorted(backend.Backends()))
	assert.Panics(t, func() {
		backend.Register("test-global", func(context.Context, backend.Config) (ctrgate.ContainerRuntime, error) { return nil, nil }, nil)
	})

	rt, err := backend.Open(context.Background(), backend.Config{Backend: "test-global", Options: map[string]string{"k": "v"}})
	require.NoError(t, err)
	assert.IsType(t, nopRuntime{}, rt)
	assert.Equal(t, backend.Config{Backend: "test-global", Options: map[string]string{"k": "v"}}, lastGlobalCfg("test-global"))

	_, err = backend.Open(context.Background(), backend.Config{Backend: "podman-api"})
	assert.EqualError(t, err, `backend "podman-api" is not compiled in: import _ "github.com/ctrgate/ctrgate/podmanapi"`)
}

func TestOpenFromEnv(t *testing.T) {
	registerGlobalStubs()
	p := writeFile(t, `{"backend": "docker", "options": {"timeout": "10s"}}`)
	t.Setenv("CTRGATE_CONFIG", p)
	t.Setenv("CTRGATE_BACKEND", "test-env")
	t.Setenv("CONTAINER_HOST", "unix:///env.sock")
	t.Setenv("CONTAINER_CONNECTION", "")
	t.Setenv("DOCKER_HOST", "")

	_, err := backend.OpenFromEnv(context.Background(), backend.Config{Options: map[string]string{"timeout": "2s"}})
	require.NoError(t, err)
	assert.Equal(t, backend.Config{Backend: "test-env", Options: map[string]string{"timeout": "2s", "url": "unix:///env.sock"}},
		lastGlobalCfg("test-env"))

	t.Setenv("CTRGATE_CONFIG", "/nonexistent.json")
	_, err = backend.OpenFromEnv(context.Background(), backend.Config{})
	assert.ErrorIs(t, err, ctrgate.ErrInvalidSpec)
}
