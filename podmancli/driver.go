package podmancli

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ctrgate/ctrgate"
	"github.com/ctrgate/ctrgate/backend"
	"github.com/ctrgate/ctrgate/driver"
	"github.com/ctrgate/ctrgate/internal/conmon"
	"github.com/ctrgate/ctrgate/internal/libpod"
)

// BackendName is the name the backend registers under.
const BackendName = "podman-cli"

// DefaultTimeout is the per-call timeout the contract layer applies when
// Config.DefaultTimeout is zero.
const DefaultTimeout = ctrgate.DefaultCallTimeout

// Config configures a Runtime.
type Config struct {
	// Binary is the podman executable, a name looked up in PATH or a path;
	// "" means "podman".
	Binary string
	// GlobalArgs go before every podman subcommand, e.g. "--url",
	// "unix:///run/podman/podman.sock", "--root", "/srv/storage",
	// "--cgroup-manager", "cgroupfs".
	GlobalArgs []string
	// Env holds extra KEY=VALUE entries for podman's environment (they
	// override the inherited ones), e.g. "CONTAINERS_CONF=/etc/x.conf".
	Env []string
	// Local drops CONTAINER_HOST and CONTAINER_CONNECTION from the inherited
	// environment, so podman works on local storage even when the caller's
	// environment points podman at a service.
	Local bool
	// DefaultTimeout bounds each call whose context has no deadline; zero
	// means DefaultTimeout. New gives it to the contract layer, which
	// applies it (ctrgate.WithCallTimeout); a driver alone has none.
	DefaultTimeout time.Duration
	// ResumeWindow is how long an Events stream waits for an engine that
	// went away (remote mode's service) to come back before it ends with
	// ErrEngineUnavailable; 0 means driver.ResumeWindow.
	ResumeWindow time.Duration
	// LivenessProbe is how often the contract layer checks that the engine
	// still answers while a Wait or a followed stream is open
	// (ctrgate.WithLivenessProbe); 0 means ctrgate.DefaultLivenessInterval,
	// a negative value turns the probe off.
	LivenessProbe time.Duration
	// KnownHosts is the known_hosts file an ssh:// --url's host key is
	// checked against before podman first connects ("" means
	// ~/.ssh/known_hosts, which podman reads too); an unknown or changed
	// key is refused with a *ctrgate.HostKeyError.
	KnownHosts string
	// AcceptNewHostKeys trusts and records the key of a host KnownHosts
	// does not know yet (trust on first use); a changed key is refused.
	AcceptNewHostKeys bool
	// AllowPlainTCP accepts a plain tcp:// --url that is not on this
	// machine's loopback; without it New refuses one with
	// ctrgate.ErrInvalidSpec (see driver.CheckPlainTCP).
	AllowPlainTCP bool
}

// Environment variables read by ConfigFromEnv.
const (
	// EnvBinary names the podman binary.
	EnvBinary = "CTRGATE_PODMAN_BINARY"
	// EnvArgs holds extra global arguments, separated by white space.
	EnvArgs = "CTRGATE_PODMAN_ARGS"
	// EnvRemote, when "1" or "true", makes podman talk to the service at
	// EnvSocket (or CONTAINER_HOST) instead of using local storage.
	EnvRemote = "CTRGATE_PODMAN_REMOTE"
	// EnvSocket is the service URL (unix:///path) used with EnvRemote.
	EnvSocket = "CTRGATE_PODMAN_SOCKET"
	// EnvTimeout is the default per-call timeout as a Go duration.
	EnvTimeout = "CTRGATE_PODMAN_TIMEOUT"
)

// ConfigFromEnv builds a Config from the environment: CTRGATE_PODMAN_BINARY,
// CTRGATE_PODMAN_ARGS, CTRGATE_PODMAN_TIMEOUT and CTRGATE_PODMAN_REMOTE
// (with CTRGATE_PODMAN_SOCKET). Without CTRGATE_PODMAN_REMOTE (or with
// "auto") podman chooses as it does itself: a remote client of
// CONTAINER_HOST or CONTAINER_CONNECTION when one is set, else local
// (Local is set: podman's children never see them); "false" is local
// whatever the environment says. CONTAINERS_CONF and CONTAINERS_STORAGE_CONF are
// inherited by podman as they are.
func ConfigFromEnv() (Config, error) {
	return ConfigFromMap(nil)
}

// ConfigFromMap is ConfigFromEnv with options taking precedence over the
// environment. Keys: "binary", "args", "timeout", "remote", "socket",
// "events_resume_window", "liveness_probe", "ssh_known_hosts", "ssh_accept_new_host_keys",
// "allow_plain_tcp" and "env" (extra KEY=VALUE entries separated by
// newlines), for a backend registry that passes options as a map.
func ConfigFromMap(options map[string]string) (Config, error) {
	get := func(key, env string) string {
		if v, ok := options[key]; ok {
			return v
		}
		return os.Getenv(env)
	}
	cfg := Config{Binary: get("binary", EnvBinary), Local: true}
	cfg.GlobalArgs = strings.Fields(get("args", EnvArgs))
	if t := get("timeout", EnvTimeout); t != "" {
		d, err := time.ParseDuration(t)
		if err != nil || d < 0 {
			return Config{}, &ctrgate.SpecError{Field: "timeout", Reason: fmt.Sprintf("%q is not a duration", t)}
		}
		cfg.DefaultTimeout = d
	}
	for key, set := range map[string]*bool{driver.OptAllowPlainTCP: &cfg.AllowPlainTCP, driver.OptAcceptNewHostKeys: &cfg.AcceptNewHostKeys} {
		switch strings.ToLower(options[key]) {
		case "", "0", "false", "no":
		case "1", "true", "yes":
			*set = true
		default:
			return Config{}, &ctrgate.SpecError{Field: key, Reason: fmt.Sprintf("%q is not true or false", options[key])}
		}
	}
	cfg.KnownHosts = options[driver.OptKnownHosts]
	if w := options["events_resume_window"]; w != "" {
		d, err := time.ParseDuration(w)
		if err != nil || d < 0 {
			return Config{}, &ctrgate.SpecError{Field: "events_resume_window", Reason: fmt.Sprintf("%q is not a duration", w)}
		}
		cfg.ResumeWindow = d
	}
	if w := options[backend.OptLivenessProbe]; strings.EqualFold(w, "off") {
		cfg.LivenessProbe = -1
	} else if w != "" {
		d, err := time.ParseDuration(w)
		if err != nil || d < 0 {
			return Config{}, &ctrgate.SpecError{Field: backend.OptLivenessProbe, Reason: fmt.Sprintf("%q is not a duration", w)}
		}
		cfg.LivenessProbe = d
	}
	switch strings.ToLower(get("remote", EnvRemote)) {
	case "", "auto":
		// podman's own choice: a remote client when the environment
		// names a service (CONTAINER_HOST) or a connection
		// (CONTAINER_CONNECTION), else local
		if h := os.Getenv("CONTAINER_HOST"); h != "" {
			cfg.Local = false
			cfg.GlobalArgs = append([]string{"--url", h}, cfg.GlobalArgs...)
		} else if c := os.Getenv("CONTAINER_CONNECTION"); c != "" {
			cfg.Local = false
			cfg.GlobalArgs = append([]string{"--connection", c}, cfg.GlobalArgs...)
		}
	case "0", "false", "no":
	case "1", "true", "yes":
		cfg.Local = false
		sock := get("socket", EnvSocket)
		if sock == "" {
			sock = os.Getenv("CONTAINER_HOST")
		}
		if sock == "" {
			return Config{}, &ctrgate.SpecError{Field: "socket", Reason: "remote mode needs " + EnvSocket + " or CONTAINER_HOST"}
		}
		cfg.GlobalArgs = append([]string{"--url", sock}, cfg.GlobalArgs...)
	default:
		return Config{}, &ctrgate.SpecError{Field: "remote", Reason: "want auto, true or false"}
	}
	if e := options["env"]; e != "" {
		for _, l := range strings.Split(e, "\n") {
			if l = strings.TrimSpace(l); l != "" {
				cfg.Env = append(cfg.Env, l)
			}
		}
	}
	return cfg, nil
}

// Runtime is a ctrgate.ContainerRuntime backed by the podman binary. It is
// safe for concurrent use.
type Runtime struct {
	binary string
	global []string
	env    []string      // full environment of every child
	window time.Duration // Config.ResumeWindow
	// remoteSocket is the unix socket of remote mode (--url unix://...), ""
	// otherwise: every call first checks that something listens on it.
	remoteSocket string
	// sshAddr is the host:port of an ssh:// --url, whose host key is
	// checked (hostKeys) before podman first connects; hostKeyOK once it
	// passed.
	sshAddr   string
	hostKeys  driver.HostKeyPolicy
	hostKeyOK atomic.Bool

	known knownContainers // containers started here (see known.go)
	// exits watches conmon's exit files (Wait) when the engine's files are
	// on this machine (exitFiles: a local podman, or a service on a unix
	// socket); its directory is learned from a container's conmon.
	exits     conmon.ExitWatcher
	exitFiles bool

	mu      sync.Mutex
	closed  bool
	streams map[closer]struct{} // open log and event streams
}

type closer interface{ Close() error }

var _ ctrgate.ContainerRuntime = (*Runtime)(nil)

// New returns the podman-cli runtime behind the contract layer
// (ctrgate.Enforce), what backend.Open gives too. A binary that cannot be
// found fails with ctrgate.ErrEngineUnavailable. New runs nothing; Info
// checks the engine.
func New(cfg Config) (*ctrgate.Runtime, error) {
	d, err := NewDriver(cfg)
	if err != nil {
		return nil, err
	}
	return ctrgate.Enforce(BackendName, d, ctrgate.WithCallTimeout(cfg.DefaultTimeout), ctrgate.WithLivenessProbe(cfg.LivenessProbe)), nil
}

// NewDriver returns the backend's driver alone: it does the engine's work
// and trusts the contract layer for the rest (arguments are not checked
// again). For the layer and for tests; programs use New or backend.Open.
func NewDriver(cfg Config) (*Runtime, error) {
	bin := cfg.Binary
	if bin == "" {
		bin = "podman"
	}
	path, err := exec.LookPath(bin)
	if err != nil {
		return nil, ctrgate.NewEngineError(BackendName, ctrgate.OpInfo, "", ctrgate.ErrEngineUnavailable,
			fmt.Sprintf("podman binary %q not found", bin), err, nil)
	}
	engineURL := urlArg(cfg.GlobalArgs)
	if engineURL == "" && !cfg.Local {
		engineURL = os.Getenv("CONTAINER_HOST") // podman's own choice then
	}
	if err := driver.CheckPlainTCP("GlobalArgs[--url]", engineURL, false, cfg.AllowPlainTCP); err != nil {
		return nil, err
	}
	driver.WarnLooseKeyFile(BackendName, "SSH identity", flagValue(cfg.GlobalArgs, "--identity"))
	for _, e := range cfg.Env {
		if k, _, ok := strings.Cut(e, "="); !ok || k == "" {
			return nil, &ctrgate.SpecError{Field: "Config.Env", Reason: "entries must be KEY=VALUE"}
		}
	}
	r := &Runtime{
		binary:  path,
		global:  append([]string(nil), cfg.GlobalArgs...),
		streams: map[closer]struct{}{},
		window:  cfg.ResumeWindow,
	}
	r.env = childEnv(os.Environ(), cfg.Env, cfg.Local)
	r.remoteSocket = unixURL(r.global)
	r.exitFiles = engineURL == "" || r.remoteSocket != ""
	if u, err := url.Parse(engineURL); err == nil && u.Scheme == "ssh" {
		port := u.Port()
		if port == "" {
			port = "22"
		}
		r.sshAddr = net.JoinHostPort(u.Hostname(), port)
		r.hostKeys = driver.HostKeyPolicy{KnownHosts: cfg.KnownHosts, AcceptNew: cfg.AcceptNewHostKeys}
	}
	return r, nil
}

// unixURL returns the socket path of a --url unix://PATH among podman's
// global arguments, or "".
func unixURL(global []string) string {
	if p, ok := strings.CutPrefix(urlArg(global), "unix://"); ok {
		return p
	}
	return ""
}

// urlArg returns the value of podman's --url in global, or "".
func urlArg(global []string) string { return flagValue(global, "--url") }

// flagValue returns the value of the global flag name ("--url") in global,
// given as "--url V" or "--url=V", or "".
func flagValue(global []string, name string) string {
	for i, a := range global {
		switch {
		case a == name && i+1 < len(global):
			return global[i+1]
		case strings.HasPrefix(a, name+"="):
			return strings.TrimPrefix(a, name+"=")
		}
	}
	return ""
}

// childEnv merges base and extra (extra wins), dropping the remote-selecting
// variables when local is set.
func childEnv(base, extra []string, local bool) []string {
	drop := map[string]bool{}
	if local {
		drop["CONTAINER_HOST"] = true
		drop["CONTAINER_CONNECTION"] = true
		drop["CONTAINER_SSHKEY"] = true
	}
	for _, e := range extra {
		k, _, _ := strings.Cut(e, "=")
		drop[k] = true
	}
	out := make([]string, 0, len(base)+len(extra))
	for _, e := range base {
		k, _, _ := strings.Cut(e, "=")
		if !drop[k] {
			out = append(out, e)
		}
	}
	return append(out, extra...)
}

// Close ends the open log and event streams and the watch of conmon's exit
// files. Calls after Close fail with ctrgate.ErrEngineUnavailable.
// Containers are not touched.
func (r *Runtime) Close() error {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil
	}
	r.closed = true
	streams := make([]closer, 0, len(r.streams))
	for s := range r.streams {
		streams = append(streams, s)
	}
	r.streams = nil
	r.mu.Unlock()
	for _, s := range streams {
		_ = s.Close()
	}
	r.exits.Close()
	return nil
}

func (r *Runtime) checkOpen(op, target string) error {
	r.mu.Lock()
	closed := r.closed
	r.mu.Unlock()
	if closed {
		return ctrgate.NewEngineError(BackendName, op, target, ctrgate.ErrEngineUnavailable, "runtime is closed", nil, nil)
	}
	return r.checkRemote(op, target)
}

// hostKeyTimeout bounds the host key check of an ssh:// --url.
const hostKeyTimeout = 30 * time.Second

// checkRemote fails at once with ErrEngineUnavailable when remote mode's
// unix socket takes no connection: podman itself would try three times
// with sleeps (600 ms) before it says so.
func (r *Runtime) checkRemote(op, target string) error {
	if r.sshAddr != "" && !r.hostKeyOK.Load() {
		// podman's SSH client trusts an unknown host silently: the host
		// key is checked here before podman first connects
		ctx, cancel := context.WithTimeout(context.Background(), hostKeyTimeout)
		defer cancel()
		if err := driver.VerifyHostKey(ctx, BackendName, r.sshAddr, r.hostKeys); err != nil {
			var hke *ctrgate.HostKeyError
			if errors.As(err, &hke) {
				return err
			}
			return ctrgate.NewEngineError(BackendName, op, target, ctrgate.ErrEngineUnavailable, "", err, nil)
		}
		r.hostKeyOK.Store(true)
	}
	if r.remoteSocket == "" {
		return nil
	}
	c, err := net.DialTimeout("unix", r.remoteSocket, time.Second)
	if err != nil {
		return ctrgate.NewEngineError(BackendName, op, target, ctrgate.ErrEngineUnavailable,
			"the Podman service of remote mode does not answer on "+r.remoteSocket, err, nil)
	}
	_ = c.Close()
	return nil
}

// track registers an open stream; it fails when the runtime is closed.
func (r *Runtime) track(s closer) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return false
	}
	r.streams[s] = struct{}{}
	return true
}

func (r *Runtime) untrack(s closer) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.streams != nil {
		delete(r.streams, s)
	}
}

var _ ctrgate.Pinger = (*Runtime)(nil)

// Ping runs `podman version`, which in remote mode asks the service: the
// contract layer's liveness probe (ctrgate.Pinger).
func (r *Runtime) Ping(ctx context.Context) error {
	res, err := r.run(ctx, ctrgate.OpInfo, "", []string{"version", "--format", "json"}, runOpts{})
	if err != nil {
		return err
	}
	if res.code != 0 {
		return ctrgate.NewEngineError(BackendName, ctrgate.OpInfo, "", ctrgate.ErrEngineUnavailable,
			errorText(res.stderr), exitCause(res), nil)
	}
	return nil
}

// Info describes the engine (`podman info --format json`). Any failure
// wraps ctrgate.ErrEngineUnavailable.
func (r *Runtime) Info(ctx context.Context) (*ctrgate.EngineInfo, error) {
	res, err := r.run(ctx, ctrgate.OpInfo, "", []string{"info", "--format", "json"}, runOpts{})
	if err != nil {
		return nil, err
	}
	if res.code != 0 {
		return nil, ctrgate.NewEngineError(BackendName, ctrgate.OpInfo, "", ctrgate.ErrEngineUnavailable,
			errorText(res.stderr), exitCause(res), nil)
	}
	info, err := parseInfo(res.stdout)
	if err != nil {
		return nil, ctrgate.NewEngineError(BackendName, ctrgate.OpInfo, "", ctrgate.ErrEngineUnavailable, "", err, nil)
	}
	info.CDIDevices = libpod.CDIDevices(libpod.CDISpecDirs)
	info.CDIGPUs = libpod.HasGPU(info.CDIDevices)
	return info, nil
}

// isClosed reports whether Close has been called.
func (r *Runtime) isClosed() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.closed
}
