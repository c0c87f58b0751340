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
		"CTRGATE_BACKEND": "podman-api",
		"CONTAINER_HOST":  "unix:///run/user/1000/podman/podman.sock",
		"DOCKER_HOST":     "tcp://10.0.0.2:2376",
	}), "")
	require.NoError(t, err)
	// the options' variables are read by Open, per backend, not here
	assert.Equal(t, backend.Config{Backend: "podman-api"}, cfg)
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
				FileOptions: map[string]string{"binary": "/usr/bin/podman", "timeout": "30s"}}, cfg)
		})
	}
}

// precOptions is the table of the stub backend of the precedence tests.
var precOptions = []backend.OptionSpec{
	{Key: "host", Env: "CTRGATE_TEST_PREC_HOST", Doc: "address"},
	{Key: "timeout", Env: "CTRGATE_TEST_PREC_TIMEOUT", Default: "5s", Doc: "timeout"},
	{Key: "binary", Env: "CTRGATE_TEST_PREC_BINARY", Doc: "binary"},
	{Key: "mode", Default: "fast", Doc: "mode"},
	{Key: "extra", Doc: "unset"},
}

func TestPrecedenceCodeEnvFile(t *testing.T) {
	registerGlobalStubs()
	p := writeFile(t, `{"backend": "docker", "options": {"host": "unix:///file.sock", "timeout": "10s", "binary": "/file/podman"}}`)
	env := map[string]string{
		"CTRGATE_CONFIG":            p,
		"CTRGATE_BACKEND":           "test-prec",
		"CTRGATE_TEST_PREC_HOST":    "unix:///env.sock",
		"CTRGATE_TEST_PREC_TIMEOUT": "20s",
	}
	loaded, err := backend.LoadConfig(envMap(env), "")
	require.NoError(t, err)
	assert.Equal(t, "test-prec", loaded.Backend, "CTRGATE_BACKEND > file")
	code := backend.Config{Options: map[string]string{"timeout": "1s"}}
	merged := backend.Merge(loaded, code)
	rs, err := backend.Resolve("test-prec", merged, envMap(env))
	require.NoError(t, err)
	got := map[string]string{}
	for _, r := range rs {
		got[r.Key] = r.Value + " (" + r.Source.String() + ")"
	}
	assert.Equal(t, map[string]string{
		"host":    "unix:///env.sock (env)", // env > file
		"timeout": "1s (code)",              // code > env > file
		"binary":  "/file/podman (file)",    // the file where nothing else says
		"mode":    "fast (default)",
		"extra":   " (unset)",
	}, got)
	// Merge copies: neither input changes.
	assert.Equal(t, "10s", loaded.FileOptions["timeout"])
	assert.Equal(t, map[string]string{"timeout": "1s"}, code.Options)
	assert.Equal(t, "test-prec", backend.Merge(loaded, backend.Config{}).Backend, "code without a backend keeps the loaded one")

	// Open hands the backend the resolved values and their sources.
	for k, v := range env {
		t.Setenv(k, v)
	}
	_, err = backend.OpenFromEnv(context.Background(), code)
	require.NoError(t, err)
	opened := lastGlobalCfg("test-prec")
	assert.Equal(t, map[string]string{"host": "unix:///env.sock", "timeout": "1s", "binary": "/file/podman", "mode": "fast"}, opened.Options)
	assert.Equal(t, backend.SourceEnv, opened.Source("host"))
	assert.Equal(t, backend.SourceCode, opened.Source("timeout"))
	assert.Equal(t, backend.SourceFile, opened.Source("binary"))
	assert.Equal(t, backend.SourceDefault, opened.Source("mode"))
	assert.Equal(t, backend.SourceUnset, opened.Source("extra"))
}

func TestFirst(t *testing.T) {
	registerGlobalStubs()
	t.Setenv("CTRGATE_TEST_PREC_HOST", "unix:///env.sock")
	// an explicit binary (code) beats an address from the environment
	_, err := backend.Open(context.Background(), backend.Config{Backend: "test-prec", Options: map[string]string{"binary": "/x"}})
	require.NoError(t, err)
	c := lastGlobalCfg("test-prec")
	assert.Equal(t, "binary", c.First("host", "binary"))
	// at equal precedence the earlier key wins; unset keys never do
	_, err = backend.Open(context.Background(), backend.Config{Backend: "test-prec"})
	require.NoError(t, err)
	c = lastGlobalCfg("test-prec")
	assert.Equal(t, "host", c.First("host", "binary"))
	assert.Equal(t, "", c.First("binary", "extra"))
	// a Config built by hand: everything in Options is code
	hand := backend.Config{Options: map[string]string{"a": "1", "b": "2"}}
	assert.Equal(t, "b", hand.First("c", "b", "a"))
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
	cfg, err := backend.LoadConfig(nil, "")
	require.NoError(t, err)
	assert.Equal(t, "docker", cfg.Backend)
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
		tables := map[string][]backend.OptionSpec{
			"test-global": {{Key: "k"}},
			"test-env":    {{Key: "timeout"}, {Key: "url", Env: "CONTAINER_HOST"}},
			"test-prec":   precOptions,
		}
		for name, table := range tables {
			backend.Register(name, func(_ context.Context, cfg backend.Config) (ctrgate.ContainerRuntime, error) {
				globalMu.Lock()
				defer globalMu.Unlock()
				globalCfg[cfg.Backend] = cfg
				return nopRuntime{}, nil
			}, nil, table...)
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
	assert.IsType(t, nopRuntime{}, ctrgate.DriverOf(rt))
	got := lastGlobalCfg("test-global")
	assert.Equal(t, "test-global", got.Backend)
	assert.Equal(t, map[string]string{"k": "v"}, got.Options)
	assert.Equal(t, []backend.OptionSpec{{Key: "k"}}, backend.Options("test-global"))
	assert.Nil(t, backend.Options("not-registered"))

	_, err = backend.Open(context.Background(), backend.Config{Backend: "podman-api"})
	assert.EqualError(t, err, `backend "podman-api" is not compiled in: import _ "github.com/ctrgate/ctrgate/podmanapi"`)
}

func TestOpenFromEnv(t *testing.T) {
	registerGlobalStubs()
	p := writeFile(t, `{"backend": "docker", "options": {"timeout": "10s", "url": "unix:///file.sock"}}`)
	t.Setenv("CTRGATE_CONFIG", p)
	t.Setenv("CTRGATE_BACKEND", "test-env")
	t.Setenv("CONTAINER_HOST", "unix:///env.sock")
	t.Setenv("CONTAINER_CONNECTION", "")
	t.Setenv("DOCKER_HOST", "")

	_, err := backend.OpenFromEnv(context.Background(), backend.Config{Options: map[string]string{"timeout": "2s"}})
	require.NoError(t, err)
	got := lastGlobalCfg("test-env")
	assert.Equal(t, "test-env", got.Backend)
	assert.Equal(t, map[string]string{"timeout": "2s", "url": "unix:///env.sock"}, got.Options, "code > env > file")

	t.Setenv("CTRGATE_CONFIG", "/nonexistent.json")
	_, err = backend.OpenFromEnv(context.Background(), backend.Config{})
	assert.ErrorIs(t, err, ctrgate.ErrInvalidSpec)
}
