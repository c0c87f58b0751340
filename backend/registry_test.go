package backend

import (
	"context"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
	"go.uber.org/mock/gomock"

	"github.com/ctrgate/ctrgate"
	"github.com/ctrgate/ctrgate/ctrgatemock"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// stub records what happened to one stub backend.
type stub struct {
	name     string
	probeErr error
	openErr  error
	probeFn  func(ctx context.Context) error

	mu      sync.Mutex
	probed  int
	opened  int
	lastCfg Config
}

type stubRuntime struct {
	ctrgate.ContainerRuntime // nil: only Backend is used
	backend                  string
}

func (s *stub) open(ctx context.Context, cfg Config) (ctrgate.ContainerRuntime, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.opened++
	s.lastCfg = cfg
	if _, ok := ctx.Deadline(); !ok {
		return nil, errors.New("open got a context without deadline")
	}
	if s.openErr != nil {
		return nil, s.openErr
	}
	return &stubRuntime{backend: s.name}, nil
}

func (s *stub) probe(ctx context.Context, cfg Config) error {
	s.mu.Lock()
	s.probed++
	s.lastCfg = cfg
	fn := s.probeFn
	s.mu.Unlock()
	if fn != nil {
		return fn(ctx)
	}
	return s.probeErr
}

func (s *stub) counts() (probed, opened int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.probed, s.opened
}

// stubOptions is the option table of every stub backend.
var stubOptions = []OptionSpec{{Key: "host", Env: "CTRGATE_TEST_STUB_HOST"}, {Key: "timeout"}}

func register(r *registry, s *stub) { r.register(s.name, s.open, s.probe, stubOptions...) }

func backendOf(t *testing.T, rt ctrgate.ContainerRuntime) string {
	t.Helper()
	sr, ok := ctrgate.DriverOf(rt).(*stubRuntime)
	require.True(t, ok, "runtime %T", rt)
	return sr.backend
}

var errNoEngine = errors.New("no engine here")

func TestRegisterAndNames(t *testing.T) {
	r := newRegistry()
	assert.Empty(t, r.names())
	register(r, &stub{name: "docker"})
	register(r, &stub{name: "custom"})
	register(r, &stub{name: "fake"})
	assert.Equal(t, []string{"custom", "docker", "fake"}, r.names())
}

func TestRegisterPanics(t *testing.T) {
	r := newRegistry()
	register(r, &stub{name: "docker"})
	assert.PanicsWithValue(t, "backend: Register called twice for backend docker", func() { register(r, &stub{name: "docker"}) })
	assert.Panics(t, func() { r.register("", (&stub{}).open, nil) })
	assert.Panics(t, func() { r.register("auto", (&stub{}).open, nil) })
	assert.Panics(t, func() { r.register("x", nil, nil) })
	assert.Panics(t, func() { r.register("y", (&stub{}).open, nil, OptionSpec{Key: "a"}, OptionSpec{Key: "a"}) }, "a repeated key")
	assert.Panics(t, func() { r.register("z", (&stub{}).open, nil, OptionSpec{}) }, "an empty key")
}

func TestOpenRejectsUnknownOption(t *testing.T) {
	r := newRegistry()
	d := &stub{name: "docker"}
	register(r, d)
	for _, cfg := range []Config{
		{Backend: "docker", Options: map[string]string{"hots": "unix:///x.sock"}},
		{Backend: "docker", FileOptions: map[string]string{"hots": "unix:///x.sock"}},
		{Backend: "auto", Options: map[string]string{"hots": "unix:///x.sock"}},
	} {
		_, err := r.open(context.Background(), cfg)
		assert.ErrorIs(t, err, ctrgate.ErrInvalidSpec, "%+v", cfg)
		assert.ErrorContains(t, err, `no option "hots"`)
		assert.ErrorContains(t, err, "host, ", "the error lists the options there are")
	}
	_, opened := d.counts()
	assert.Zero(t, opened, "nothing is opened with a misspelt option")
}

func TestOpenNamed(t *testing.T) {
	r := newRegistry()
	d := &stub{name: "docker"}
	register(r, d)
	cfg := Config{Backend: "docker", Options: map[string]string{"host": "unix:///x.sock"}}
	rt, err := r.open(context.Background(), cfg)
	require.NoError(t, err)
	assert.Equal(t, "docker", backendOf(t, rt))
	probed, opened := d.counts()
	assert.Equal(t, 0, probed, "a named backend is opened without probing")
	assert.Equal(t, 1, opened)
	assert.Equal(t, "docker", d.lastCfg.Backend)
	assert.Equal(t, cfg.Options, d.lastCfg.Options)
	assert.Equal(t, SourceCode, d.lastCfg.Source("host"))

	// The caller's options map is not shared with the backend.
	d.lastCfg.Options["host"] = "changed"
	assert.Equal(t, "unix:///x.sock", cfg.Options["host"])
}

func TestOpenNamedError(t *testing.T) {
	r := newRegistry()
	openErr := ctrgate.NewEngineError("docker", "connect", "", ctrgate.ErrEngineUnavailable, "no socket", nil, nil)
	register(r, &stub{name: "docker", openErr: openErr})
	_, err := r.open(context.Background(), Config{Backend: "docker"})
	assert.ErrorIs(t, err, ctrgate.ErrEngineUnavailable)
	assert.Same(t, openErr, err)
}

func TestOpenCancelledContext(t *testing.T) {
	r := newRegistry()
	d := &stub{name: "docker"}
	register(r, d)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := r.open(ctx, Config{Backend: "docker"})
	assert.ErrorIs(t, err, context.Canceled)
	_, opened := d.counts()
	assert.Zero(t, opened)

	_, err = r.open(ctx, Config{})
	assert.ErrorIs(t, err, context.Canceled, "auto honours ctx too")
}

func TestOpenNotCompiledIn(t *testing.T) {
	r := newRegistry()
	for name, pkg := range KnownBackends {
		_, err := r.open(context.Background(), Config{Backend: name})
		var nc *NotCompiledInError
		require.ErrorAs(t, err, &nc, name)
		assert.Equal(t, name, nc.Backend)
		assert.Equal(t, pkg, nc.Package)
		assert.ErrorIs(t, err, ctrgate.ErrUnsupported)
	}
	_, err := r.open(context.Background(), Config{Backend: "podman-api"})
	assert.EqualError(t, err, `backend "podman-api" is not compiled in: import _ "github.com/ctrgate/ctrgate/podmanapi"`)
}

func TestOpenUnknown(t *testing.T) {
	r := newRegistry()
	register(r, &stub{name: "custom"})
	_, err := r.open(context.Background(), Config{Backend: "podmn"})
	assert.ErrorIs(t, err, ctrgate.ErrInvalidSpec)
	var se *ctrgate.SpecError
	require.ErrorAs(t, err, &se)
	assert.Equal(t, "Backend", se.Field)
	assert.Contains(t, err.Error(), `"podmn"`)
	assert.Contains(t, err.Error(), "registered: custom")
	assert.Contains(t, err.Error(), "podman-cli")
}

func TestAutoOrder(t *testing.T) {
	tests := []struct {
		name      string
		available map[string]bool // backends whose probe succeeds
		want      string
		probed    []string // backends that must have been probed
		notProbed []string
	}{
		{"all answer: podman-api first", map[string]bool{"podman-api": true, "podman-cli": true, "docker": true}, "podman-api",
			[]string{"podman-api"}, []string{"podman-cli", "docker"}},
		{"no socket: podman-cli", map[string]bool{"podman-cli": true, "docker": true}, "podman-cli",
			[]string{"podman-api", "podman-cli"}, []string{"docker"}},
		{"only docker", map[string]bool{"docker": true}, "docker",
			[]string{"podman-api", "podman-cli", "docker"}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := newRegistry()
			stubs := map[string]*stub{}
			for _, n := range []string{"fake", "docker", "podman-cli", "podman-api"} {
				s := &stub{name: n}
				if !tc.available[n] && n != "fake" {
					s.probeErr = errNoEngine
				}
				stubs[n] = s
				register(r, s)
			}
			for _, backend := range []string{"", "auto", " auto "} {
				rt, err := r.open(context.Background(), Config{Backend: backend})
				require.NoError(t, err)
				assert.Equal(t, tc.want, backendOf(t, rt))
			}
			for _, n := range tc.probed {
				p, _ := stubs[n].counts()
				assert.Equal(t, 3, p, "%s probed once per Open", n)
			}
			for _, n := range tc.notProbed {
				p, _ := stubs[n].counts()
				assert.Zero(t, p, "%s must not be probed after an earlier backend answered", n)
			}
			p, o := stubs["fake"].counts()
			assert.Zero(t, p+o, "the fake is never auto-detected")
			assert.Equal(t, tc.want, stubs[tc.want].lastCfg.Backend, "the chosen backend sees its own name")
		})
	}
}

func TestAutoNothingFound(t *testing.T) {
	r := newRegistry()
	register(r, &stub{name: "fake"})
	register(r, &stub{name: "docker", probeErr: errors.New("cannot connect to unix:///var/run/docker.sock")})
	r.register("podman-cli", (&stub{}).open, nil)

	_, err := r.open(context.Background(), Config{})
	require.Error(t, err)
	assert.ErrorIs(t, err, ctrgate.ErrEngineUnavailable)
	var ee *ctrgate.EngineError
	require.ErrorAs(t, err, &ee)
	assert.Equal(t, "auto", ee.Backend)
	msg := err.Error()
	assert.Contains(t, msg, `podman-api: backend "podman-api" is not compiled in: import _ "github.com/ctrgate/ctrgate/podmanapi"`)
	assert.Contains(t, msg, "podman-cli: no probe")
	assert.Contains(t, msg, "docker: cannot connect to unix:///var/run/docker.sock")
	assert.NotContains(t, msg, "fake")
	// Listed in probe order.
	assert.Less(t, strings.Index(msg, "podman-api"), strings.Index(msg, "podman-cli:"))
	assert.Less(t, strings.Index(msg, "podman-cli:"), strings.Index(msg, "docker:"))
}

func TestAutoEmptyRegistry(t *testing.T) {
	_, err := newRegistry().open(context.Background(), Config{Backend: "auto"})
	assert.ErrorIs(t, err, ctrgate.ErrEngineUnavailable)
	for _, n := range AutoOrder {
		assert.Contains(t, err.Error(), KnownBackends[n])
	}
}

func TestAutoProbeSucceedsButOpenFails(t *testing.T) {
	r := newRegistry()
	api := &stub{name: "podman-api", openErr: errors.New("handshake failed")}
	register(r, api)
	register(r, &stub{name: "podman-cli"})
	rt, err := r.open(context.Background(), Config{})
	require.NoError(t, err)
	assert.Equal(t, "podman-cli", backendOf(t, rt), "auto goes on to the next backend")

	r2 := newRegistry()
	register(r2, &stub{name: "podman-api", openErr: errors.New("handshake failed")})
	_, err = r2.open(context.Background(), Config{})
	assert.ErrorIs(t, err, ctrgate.ErrEngineUnavailable)
	assert.Contains(t, err.Error(), "probe succeeded but open failed")
	assert.Contains(t, err.Error(), "handshake failed")
}

func TestAutoProbeTimeout(t *testing.T) {
	r := newRegistry()
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	sawDeadline := make(chan time.Duration, 1)
	register(r, &stub{name: "podman-api", probeFn: func(ctx context.Context) error {
		dl, _ := ctx.Deadline()
		sawDeadline <- time.Until(dl)
		<-ctx.Done() // hangs until the probe timeout
		return ctx.Err()
	}})
	register(r, &stub{name: "podman-cli", probeFn: func(context.Context) error {
		<-release // ignores its context entirely
		return nil
	}})
	register(r, &stub{name: "docker"})

	start := time.Now()
	rt, err := r.open(context.Background(), Config{Options: map[string]string{OptProbeTimeout: "100ms"}})
	require.NoError(t, err)
	assert.Equal(t, "docker", backendOf(t, rt))
	assert.Less(t, time.Since(start), 5*time.Second, "hung probes are cut off")
	dl := <-sawDeadline
	assert.LessOrEqual(t, dl, 100*time.Millisecond)
	assert.Greater(t, dl, time.Duration(0))
}

func TestAutoBadProbeTimeout(t *testing.T) {
	_, err := newRegistry().open(context.Background(), Config{Options: map[string]string{OptProbeTimeout: "soon"}})
	assert.ErrorIs(t, err, ctrgate.ErrInvalidSpec)
}

func TestAutoProbePanics(t *testing.T) {
	r := newRegistry()
	register(r, &stub{name: "podman-api", probeFn: func(context.Context) error { panic("oops") }})
	register(r, &stub{name: "docker"})
	rt, err := r.open(context.Background(), Config{})
	require.NoError(t, err)
	assert.Equal(t, "docker", backendOf(t, rt))
}

func TestAutoDefaultProbeTimeout(t *testing.T) {
	r := newRegistry()
	seen := make(chan time.Duration, 1)
	register(r, &stub{name: "docker", probeFn: func(ctx context.Context) error {
		d, ok := ctx.Deadline()
		if !ok {
			return errors.New("probe context without deadline")
		}
		seen <- time.Until(d)
		return nil
	}})
	_, err := r.open(context.Background(), Config{})
	require.NoError(t, err)
	dl := <-seen
	assert.LessOrEqual(t, dl, DefaultProbeTimeout)
	assert.Greater(t, dl, DefaultProbeTimeout/2)
}

func TestOpenNilRuntime(t *testing.T) {
	r := newRegistry()
	r.register("custom", func(context.Context, Config) (ctrgate.ContainerRuntime, error) { return nil, nil }, nil)
	_, err := r.open(context.Background(), Config{Backend: "custom"})
	assert.ErrorIs(t, err, ctrgate.ErrEngineUnavailable)
}

func TestOpenReturnsMockRuntime(t *testing.T) {
	// A registered backend's runtime is handed over as it is.
	ctrl := gomock.NewController(t)
	m := ctrgatemock.NewMockContainerRuntime(ctrl)
	m.EXPECT().Close().Return(nil)
	r := newRegistry()
	r.register("mock", func(context.Context, Config) (ctrgate.ContainerRuntime, error) { return m, nil }, nil)
	rt, err := r.open(context.Background(), Config{Backend: "mock"})
	require.NoError(t, err)
	var c io.Closer = rt
	require.NoError(t, c.Close())
}

func TestConfigDuration(t *testing.T) {
	c := Config{Options: map[string]string{"timeout": "1m30s", "bad": "x", "neg": "-1s", "empty": ""}}
	d, err := c.Duration("timeout", time.Second)
	require.NoError(t, err)
	assert.Equal(t, 90*time.Second, d)
	d, err = c.Duration("missing", time.Second)
	require.NoError(t, err)
	assert.Equal(t, time.Second, d)
	d, err = c.Duration("empty", 2*time.Second)
	require.NoError(t, err)
	assert.Equal(t, 2*time.Second, d)
	_, err = c.Duration("bad", 0)
	assert.ErrorIs(t, err, ctrgate.ErrInvalidSpec)
	_, err = c.Duration("neg", 0)
	assert.ErrorIs(t, err, ctrgate.ErrInvalidSpec)
	assert.Equal(t, "1m30s", c.Option("timeout"))
	assert.Equal(t, "", Config{}.Option("x"))
}
