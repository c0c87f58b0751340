// Package backend opens a ctrgate.ContainerRuntime by name, the way
// database/sql opens a database through a registered driver.
//
// Backends register themselves from their own package's init function, so a
// program links in only the engines it imports:
//
//	import (
//		"github.com/ctrgate/ctrgate/backend"
//		_ "github.com/ctrgate/ctrgate/docker"
//		_ "github.com/ctrgate/ctrgate/podmancli"
//	)
//
//	rt, err := backend.Open(ctx, backend.Config{Backend: "podman-cli"})
//
// Package backend imports no backend itself (the Podman API bindings need
// build tags, see package podmanapi). Opening a known backend whose package
// was not imported fails with an error naming the import to add.
//
// # Backend names
//
//   - "podman-cli": the podman binary (package podmancli)
//   - "podman-api": Podman's REST API service (package podmanapi)
//   - "docker": a Docker-compatible engine API (package docker)
//   - "fake": the in-memory fake for tests (package fake)
//   - "auto" (the default, also ""): the first engine that answers, see below
//
// # Auto-detection
//
// With Backend "auto" Open probes, in this order, every backend that is
// registered, each with a short timeout (DefaultProbeTimeout, or the option
// "probe_timeout"), and opens the first whose probe succeeds:
//
//  1. podman-api: a Podman service socket answers (Options["url"],
//     CONTAINER_HOST, CONTAINER_CONNECTION, the default sockets)
//  2. podman-cli: the podman binary exists and works
//  3. docker: DOCKER_HOST (Options["host"]) or /var/run/docker.sock answers
//
// The fake is never chosen automatically. When nothing answers the error
// wraps ctrgate.ErrEngineUnavailable and lists every backend considered and
// why it was passed over (not compiled in, probe failed).
//
// # Configuration
//
// Config holds the backend name and backend-specific options. LoadConfig
// builds one from an optional JSON file and the environment; code overrides
// both (Merge). Precedence, highest first: code > environment > file.
package backend

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/ctrgate/ctrgate"
)

// Backend names.
const (
	Auto      = "auto"
	PodmanCLI = "podman-cli"
	PodmanAPI = "podman-api"
	Docker    = "docker"
	Fake      = "fake"
)

// Option keys shared by the bundled backends (each backend declares the
// options it reads in its table, see Options; a key it does not declare is
// an error).
const (
	OptBinary        = "binary"               // podman-cli: podman executable
	OptURL           = "url"                  // podman-api: service URL (CONTAINER_HOST)
	OptConnection    = "connection"           // podman-api: named connection (CONTAINER_CONNECTION)
	OptSocket        = "socket"               // podman-api / podman-cli remote: service socket
	OptHost          = "host"                 // docker: engine address (DOCKER_HOST)
	OptTimeout       = "timeout"              // every backend: default per-call timeout, a Go duration
	OptResumeWindow  = "events_resume_window" // engine backends: how long Events waits for the engine to come back
	OptLivenessProbe = "liveness_probe"       // every backend: the interval of the layer's liveness probe (ctrgate.WithLivenessProbe)
	OptProbeTimeout  = "probe_timeout"        // auto: per-backend probe timeout, a Go duration
)

// DefaultProbeTimeout bounds each probe of auto-detection.
const DefaultProbeTimeout = 3 * time.Second

// DefaultOpenTimeout bounds an OpenFunc call whose context has no deadline.
const DefaultOpenTimeout = 30 * time.Second

// KnownBackends maps the names of the backends of this module to the
// package that registers each; Open uses it to say what to import.
var KnownBackends = map[string]string{
	PodmanCLI: "github.com/ctrgate/ctrgate/podmancli",
	PodmanAPI: "github.com/ctrgate/ctrgate/podmanapi",
	Docker:    "github.com/ctrgate/ctrgate/docker",
	Fake:      "github.com/ctrgate/ctrgate/fake",
}

// AutoOrder is the order in which auto-detection probes backends.
var AutoOrder = []string{PodmanAPI, PodmanCLI, Docker}

// Config selects and configures a backend.
type Config struct {
	// Backend is a registered backend name, or "auto" ("" means "auto").
	Backend string `json:"backend,omitempty"`
	// Options are backend-specific settings given by code (see the Opt*
	// keys and each backend's option table, Options(name)): they win over
	// the environment and the file.
	Options map[string]string `json:"options,omitempty"`
	// FileOptions are the settings read from a configuration file
	// (LoadConfig): they yield to the environment and to Options.
	FileOptions map[string]string `json:"-"`

	sources map[string]Source // of a resolved Config (what an OpenFunc gets)
}

// Option returns Options[key], or "" when unset.
func (c Config) Option(key string) string { return c.Options[key] }

// Duration parses option key as a Go duration; unset gives def. A bad or
// negative value fails with ctrgate.ErrInvalidSpec.
func (c Config) Duration(key string, def time.Duration) (time.Duration, error) {
	v, ok := c.Options[key]
	if !ok || v == "" {
		return def, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		return 0, &ctrgate.SpecError{Field: "Options[" + key + "]", Reason: fmt.Sprintf("%q is not a duration", v)}
	}
	return d, nil
}

// DurationOrOff is Duration where the value "off" gives -1 (an interval
// turned off, as ctrgate.WithLivenessProbe takes it).
func (c Config) DurationOrOff(key string) (time.Duration, error) {
	if strings.EqualFold(c.Options[key], "off") {
		return -1, nil
	}
	return c.Duration(key, 0)
}

// Bool parses option key as a boolean (true/false, yes/no, 1/0); unset
// gives false. A bad value fails with ctrgate.ErrInvalidSpec.
func (c Config) Bool(key string) (bool, error) {
	switch strings.ToLower(c.Options[key]) {
	case "", "0", "false", "no":
		return false, nil
	case "1", "true", "yes":
		return true, nil
	}
	return false, &ctrgate.SpecError{Field: "Options[" + key + "]", Reason: fmt.Sprintf("%q is not true or false", c.Options[key])}
}

// clone returns a deep copy.
func (c Config) clone() Config {
	return Config{Backend: c.Backend, Options: maps.Clone(c.Options), FileOptions: maps.Clone(c.FileOptions),
		sources: maps.Clone(c.sources)}
}

// OpenFunc opens a runtime of one backend. cfg.Backend is the backend's own
// name. ctx bounds opening only, not the runtime's later calls.
type OpenFunc func(ctx context.Context, cfg Config) (ctrgate.ContainerRuntime, error)

// ProbeFunc reports whether a backend's engine is usable with cfg (nil) or
// not (an error saying why). It must return promptly when ctx is done and
// must leave nothing behind (close what it opens).
type ProbeFunc func(ctx context.Context, cfg Config) error

type driver struct {
	open    OpenFunc
	probe   ProbeFunc
	options []OptionSpec
}

// registry holds registered backends; the package functions use one
// process-wide registry.
type registry struct {
	mu      sync.RWMutex
	drivers map[string]driver
}

func newRegistry() *registry { return &registry{drivers: map[string]driver{}} }

var defaultRegistry = newRegistry()

// Register makes a backend available by name, with its option table. It
// is meant to be called from the backend package's init function. It
// panics if name is empty or "auto", if open is nil, if name is already
// registered (as database/sql.Register does), or if two options share a
// key. probe may be nil: the backend is then never chosen by
// auto-detection. Open rejects an option the table lacks, and resolves
// each one (code > environment > file > default) before calling open or
// probe.
func Register(name string, open OpenFunc, probe ProbeFunc, options ...OptionSpec) {
	defaultRegistry.register(name, open, probe, options...)
}

func (r *registry) register(name string, open OpenFunc, probe ProbeFunc, options ...OptionSpec) {
	seen := map[string]bool{}
	for _, o := range options {
		if o.Key == "" || seen[o.Key] {
			panic(fmt.Sprintf("backend: Register %s: empty or repeated option key %q", name, o.Key))
		}
		seen[o.Key] = true
	}
	if name == "" || name == Auto {
		panic(fmt.Sprintf("backend: Register with reserved name %q", name))
	}
	if open == nil {
		panic("backend: Register " + name + " with a nil OpenFunc")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, dup := r.drivers[name]; dup {
		panic("backend: Register called twice for backend " + name)
	}
	r.drivers[name] = driver{open: open, probe: probe, options: append([]OptionSpec(nil), options...)}
}

// Backends returns the names of the registered backends, sorted.
func Backends() []string { return defaultRegistry.names() }

func (r *registry) names() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]string, 0, len(r.drivers))
	for n := range r.drivers {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

func (r *registry) lookup(name string) (driver, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	d, ok := r.drivers[name]
	return d, ok
}

// NotCompiledInError reports a known backend whose package was not
// imported, so it never registered. It matches ctrgate.ErrUnsupported.
type NotCompiledInError struct {
	Backend string // e.g. "podman-api"
	Package string // import path that registers it
}

func (e *NotCompiledInError) Error() string {
	return fmt.Sprintf("backend %q is not compiled in: import _ %q", e.Backend, e.Package)
}

// Is makes errors.Is(err, ctrgate.ErrUnsupported) true.
func (e *NotCompiledInError) Is(target error) bool { return target == ctrgate.ErrUnsupported }

// Open opens the backend cfg names. "auto" or "" probes the engines (see
// the package documentation). A known backend that is not registered fails
// with a *NotCompiledInError naming the package to import; an unknown name
// fails with ctrgate.ErrInvalidSpec. Errors of the backend's OpenFunc are
// returned as they are (typically wrapping ctrgate.ErrEngineUnavailable).
func Open(ctx context.Context, cfg Config) (ctrgate.ContainerRuntime, error) {
	return defaultRegistry.open(ctx, cfg)
}

func (r *registry) open(ctx context.Context, cfg Config) (ctrgate.ContainerRuntime, error) {
	if ctx == nil {
		ctx = context.Background()
	}
	cfg = cfg.clone()
	name := strings.TrimSpace(cfg.Backend)
	if name == "" || name == Auto {
		return r.openAuto(ctx, cfg)
	}
	d, err := r.resolve(name)
	if err != nil {
		return nil, err
	}
	if err := checkKeys(name, d.options, cfg); err != nil {
		return nil, err
	}
	return openWith(ctx, d, resolved(name, resolveOptions(d.options, cfg, nil)))
}

// resolve finds a registered backend, or says why there is none.
func (r *registry) resolve(name string) (driver, error) {
	if d, ok := r.lookup(name); ok {
		return d, nil
	}
	if pkg, known := KnownBackends[name]; known {
		return driver{}, &NotCompiledInError{Backend: name, Package: pkg}
	}
	return driver{}, &ctrgate.SpecError{Field: "Backend",
		Reason: fmt.Sprintf("unknown backend %q (registered: %s; known: auto, %s)", name,
			listOrNone(r.names()), strings.Join(sortedKeys(KnownBackends), ", "))}
}

func openWith(ctx context.Context, d driver, cfg Config) (ctrgate.ContainerRuntime, error) {
	if err := ctx.Err(); err != nil {
		return nil, ctrgate.NewEngineError(cfg.Backend, "open", "", nil, "", err, nil)
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, DefaultOpenTimeout)
		defer cancel()
	}
	rt, err := d.open(ctx, cfg)
	if err != nil {
		return nil, err
	}
	if rt == nil {
		return nil, ctrgate.NewEngineError(cfg.Backend, "open", "", ctrgate.ErrEngineUnavailable,
			"backend returned no runtime", nil, nil)
	}
	if ctrgate.Layer(rt) != nil { // it has the contract layer already (the fake)
		return rt, nil
	}
	return ctrgate.Enforce(cfg.Backend, rt), nil
}

// openAuto probes AutoOrder and opens the first backend that answers.
func (r *registry) openAuto(ctx context.Context, cfg Config) (ctrgate.ContainerRuntime, error) {
	// every key must belong to auto or to a backend it may pick; each
	// backend gets its own
	all := append([]OptionSpec(nil), autoOptions...)
	own := map[string][]OptionSpec{}
	for _, name := range AutoOrder {
		if d, ok := r.lookup(name); ok {
			own[name] = d.options
			for _, o := range d.options {
				if !hasKey(all, o.Key) {
					all = append(all, o)
				}
			}
		}
	}
	if err := checkKeys(Auto, all, cfg); err != nil {
		return nil, err
	}
	autoCfg := resolved(Auto, resolveOptions(autoOptions, cfg, nil))
	timeout, err := autoCfg.Duration(OptProbeTimeout, DefaultProbeTimeout)
	if err != nil {
		return nil, err
	}
	var (
		report []string
		causes []error
	)
	for _, name := range AutoOrder {
		if err := ctx.Err(); err != nil {
			return nil, ctrgate.NewEngineError(Auto, "open", "", nil,
				"auto-detection interrupted after: "+listOrNone(report), err, nil)
		}
		d, err := r.resolve(name)
		if err != nil {
			report = append(report, name+": "+err.Error())
			continue
		}
		if d.probe == nil {
			report = append(report, name+": no probe, not auto-detectable")
			continue
		}
		c := resolved(name, resolveOptions(own[name], onlyKeys(cfg, own[name]), nil))
		if err := probe(ctx, d.probe, c, timeout); err != nil {
			report = append(report, name+": "+err.Error())
			causes = append(causes, err)
			continue
		}
		rt, err := openWith(ctx, d, c)
		if err == nil {
			return rt, nil
		}
		report = append(report, name+": probe succeeded but open failed: "+err.Error())
		causes = append(causes, err)
	}
	if err := ctx.Err(); err != nil {
		causes = append(causes, err)
	}
	return nil, ctrgate.NewEngineError(Auto, "open", "", ctrgate.ErrEngineUnavailable,
		"no container engine found (probed "+strings.Join(report, "; ")+")", errors.Join(causes...), nil)
}

// probe runs p with a timeout, and never longer than the timeout even if p
// ignores its context.
func probe(ctx context.Context, p ProbeFunc, cfg Config, timeout time.Duration) error {
	pctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		defer func() {
			if v := recover(); v != nil {
				done <- fmt.Errorf("probe panicked: %v", v)
			}
		}()
		done <- p(pctx, cfg)
	}()
	select {
	case err := <-done:
		if err != nil && pctx.Err() != nil && !errors.Is(err, pctx.Err()) {
			err = fmt.Errorf("%w (%w)", err, pctx.Err())
		}
		return err
	case <-pctx.Done():
		return fmt.Errorf("probe gave no answer within %v: %w", timeout, pctx.Err())
	}
}

func hasKey(specs []OptionSpec, key string) bool {
	for _, o := range specs {
		if o.Key == key {
			return true
		}
	}
	return false
}

// onlyKeys returns cfg with only the options specs declares.
func onlyKeys(cfg Config, specs []OptionSpec) Config {
	out := Config{Backend: cfg.Backend, Options: map[string]string{}, FileOptions: map[string]string{}}
	for _, o := range specs {
		if v, ok := cfg.Options[o.Key]; ok {
			out.Options[o.Key] = v
		}
		if v, ok := cfg.FileOptions[o.Key]; ok {
			out.FileOptions[o.Key] = v
		}
	}
	return out
}

func listOrNone(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ", ")
}

func sortedKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
