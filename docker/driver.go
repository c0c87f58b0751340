package docker

import (
	"context"
	"fmt"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/docker/docker/api/types/versions"
	"github.com/docker/docker/client"

	"github.com/ctrgate/ctrgate"
	"github.com/ctrgate/ctrgate/driver"
)

// BackendName is the name of this backend in EngineInfo and errors.
const BackendName = "docker"

// Default timeouts.
const (
	// DefaultTimeout is the per-call timeout the contract layer applies
	// when a call's context has no deadline (see ctrgate.WithCallTimeout).
	DefaultTimeout = ctrgate.DefaultCallTimeout
	// DefaultPingTimeout bounds the reachability check in New.
	DefaultPingTimeout = 5 * time.Second
)

// Config configures a Runtime. The zero value uses the environment like the
// docker CLI does.
type Config struct {
	// Host is the engine address, e.g. "unix:///var/run/docker.sock",
	// "tcp://10.0.0.2:2376" or "ssh://user@host". "" takes DOCKER_HOST, or
	// the current docker CLI context (Context, DOCKER_CONTEXT or
	// config.json's currentContext), or the default socket.
	Host string
	// Context names a docker CLI context to take the engine address (and
	// TLS material) from when Host is not set; it wins over DOCKER_HOST (as
	// `docker --context` does). "" means DOCKER_HOST, else DOCKER_CONTEXT or
	// the CLI's current context.
	Context string
	// APIVersion pins the API version, e.g. "1.41". "" negotiates with the
	// engine (unless DOCKER_API_VERSION is set).
	APIVersion string
	// DefaultTimeout bounds each call whose context has no deadline; 0 means
	// DefaultTimeout. New gives it to the contract layer, which applies it
	// (ctrgate.WithCallTimeout); a driver alone has none.
	DefaultTimeout time.Duration
	// PingTimeout bounds the reachability check New makes; 0 means
	// DefaultPingTimeout.
	PingTimeout time.Duration
	// ResumeWindow is how long an Events stream waits for an engine that
	// went away to come back before it ends with ErrEngineUnavailable; 0
	// means driver.ResumeWindow.
	ResumeWindow time.Duration
	// LivenessProbe is how often the contract layer checks that the engine
	// still answers while a Wait or a followed stream is open
	// (ctrgate.WithLivenessProbe); 0 means ctrgate.DefaultLivenessInterval,
	// a negative value turns the probe off.
	LivenessProbe time.Duration
	// KnownHosts is the known_hosts file an ssh:// host's key is checked
	// against ("" means ssh's own files); ssh refuses an unknown or changed
	// key (StrictHostKeyChecking=yes) and the backend says so with a
	// *ctrgate.HostKeyError.
	KnownHosts string
	// AcceptNewHostKeys trusts and records the key of a host the file does
	// not know yet (StrictHostKeyChecking=accept-new); a changed key is
	// refused.
	AcceptNewHostKeys bool
	// AllowPlainTCP accepts a plain tcp:// address (no TLS) that is not on
	// this machine's loopback; without it New refuses one with
	// ctrgate.ErrInvalidSpec (see driver.CheckPlainTCP).
	AllowPlainTCP bool
}

// Runtime is a ctrgate.ContainerRuntime on a Docker-compatible engine. It is
// safe for concurrent use.
type Runtime struct {
	cli    *client.Client
	host   string
	local  bool          // the engine is on this machine (a unix socket): it sees this file system
	window time.Duration // Config.ResumeWindow

	apiVersion string // negotiated API version (New)

	factsMu    sync.Mutex
	factsKnown bool
	facts      engineFacts // learnt on first need (engine)

	life       context.Context // cancelled by Close
	kill       context.CancelFunc
	closeMu    sync.Mutex
	closed     bool
	sshHostKey func() error // the last host key refusal of the ssh dialer (nil: not ssh)
}

var _ ctrgate.ContainerRuntime = (*Runtime)(nil)

// New connects to the engine and checks that it answers (within
// Config.PingTimeout). An engine that cannot be reached fails with an error
// wrapping ctrgate.ErrEngineUnavailable.
func New(ctx context.Context, cfg Config) (*ctrgate.Runtime, error) {
	d, err := NewDriver(ctx, cfg)
	if err != nil {
		return nil, err
	}
	return ctrgate.Enforce(BackendName, d, ctrgate.WithCallTimeout(cfg.DefaultTimeout), ctrgate.WithLivenessProbe(cfg.LivenessProbe)), nil
}

// NewDriver returns the backend's driver alone: it does the engine's work
// and trusts the contract layer for the rest (arguments are not checked
// again). For the layer and for tests; programs use New or backend.Open.
func NewDriver(ctx context.Context, cfg Config) (*Runtime, error) {
	if cfg.PingTimeout <= 0 {
		cfg.PingTimeout = DefaultPingTimeout
	}
	// client.FromEnv, minus DOCKER_HOST, which is handled here so that ssh://
	// works too.
	opts := []client.Opt{client.WithTLSClientConfigFromEnv(), client.WithVersionFromEnv()}
	tls := getenv("DOCKER_CERT_PATH") != "" // what WithTLSClientConfigFromEnv reads
	if tls {
		driver.WarnLooseKeyFile(BackendName, "TLS client key", filepath.Join(getenv("DOCKER_CERT_PATH"), "key.pem"))
	}
	host := cfg.Host
	if host == "" && cfg.Context == "" {
		// an explicit context wins over DOCKER_HOST, as docker --context does
		host = envHost()
	}
	if host == "" {
		ep, err := resolveContext(cfg.Context)
		if err != nil {
			return nil, ctrgate.NewEngineError(BackendName, ctrgate.OpInfo, "", ctrgate.ErrEngineUnavailable, err.Error(), err, nil)
		}
		host = ep.Host
		opts = append(opts, ep.tlsOpts()...)
		if ep.TLS != "" {
			tls = true
			driver.WarnLooseKeyFile(BackendName, "TLS client key", filepath.Join(ep.TLS, "key.pem"))
		}
	}
	if host == "" {
		host = client.DefaultDockerHost
	}
	if err := driver.CheckPlainTCP("host", host, tls, cfg.AllowPlainTCP); err != nil {
		return nil, err
	}
	var sshHostKey func() error
	if strings.HasPrefix(host, "ssh://") {
		dialer, hostKeyErr, err := sshDialer(host, driver.HostKeyPolicy{KnownHosts: cfg.KnownHosts, AcceptNew: cfg.AcceptNewHostKeys})
		if err != nil {
			return nil, ctrgate.NewEngineError(BackendName, ctrgate.OpInfo, "", ctrgate.ErrEngineUnavailable, err.Error(), err, nil)
		}
		sshHostKey = hostKeyErr
		// The host name is irrelevant for the HTTP layer; the dialer does the work.
		opts = append(opts, client.WithHost("http://docker.example.com"), client.WithDialContext(dialer))
	} else {
		opts = append(opts, client.WithHost(host))
		if strings.HasPrefix(host, "tcp://") {
			opts = append(opts, client.WithDialContext(tcpKeepAliveDialer().DialContext))
		}
	}
	if cfg.APIVersion != "" {
		opts = append(opts, client.WithVersion(cfg.APIVersion))
	} else if getenv("DOCKER_API_VERSION") == "" {
		opts = append(opts, client.WithAPIVersionNegotiation())
	}
	cli, err := client.NewClientWithOpts(opts...)
	if err != nil {
		return nil, ctrgate.NewEngineError(BackendName, ctrgate.OpInfo, "", ctrgate.ErrEngineUnavailable, "bad engine address "+redactURL(host), err, nil)
	}
	life, kill := context.WithCancel(context.Background())
	r := &Runtime{cli: cli, window: cfg.ResumeWindow, host: redactURL(host), local: strings.HasPrefix(host, "unix://"),
		life: life, kill: kill, sshHostKey: sshHostKey}

	pctx, cancel := context.WithTimeout(ctx, cfg.PingTimeout)
	defer cancel()
	ping, err := cli.Ping(pctx)
	if err != nil {
		_ = r.Close()
		if sshHostKey != nil && sshHostKey() != nil {
			return nil, sshHostKey()
		}
		if ctx.Err() != nil {
			return nil, r.mapErr(ctx, ctrgate.OpInfo, "", err)
		}
		return nil, ctrgate.NewEngineError(BackendName, ctrgate.OpInfo, r.host, ctrgate.ErrEngineUnavailable,
			"the Docker engine does not answer (start it, or set DOCKER_HOST; for ctrgate's own engine: eval \"$(scripts/docker.sh env)\")", err, nil)
	}
	// the ping negotiates the API version (no second ping before the first
	// request; without negotiation this changes nothing)
	cli.NegotiateAPIVersionPing(ping)
	r.apiVersion = cli.ClientVersion()
	return r, nil
}

// engineFacts is what the runtime learns of the engine on first need,
// not in New: a program that only lists (`ctrgate ps`) pays one ping and
// its request, as the docker CLI does (the engine's /version asks its
// containerd and runs its OCI runtime: milliseconds).
type engineFacts struct {
	podman  bool   // the engine is Podman's Docker-compatible service
	version string // engine version (Podman's own for Podman)
	cdi     bool   // the engine takes CDI device requests
	noGPU   string // why the engine cannot take GPU requests at all ("" = it can)
}

// engine returns the engine's facts, asking it (askEngine) the first
// time; a failure is not remembered.
func (r *Runtime) engine(ctx context.Context) (engineFacts, error) {
	r.factsMu.Lock()
	defer r.factsMu.Unlock()
	if r.factsKnown {
		return r.facts, nil
	}
	return r.askEngine(ctx)
}

// askEngine asks the engine what it is (/version, and /info on Docker
// from API 1.44) and remembers it; r.factsMu is held.
func (r *Runtime) askEngine(ctx context.Context) (engineFacts, error) {
	v, err := r.cli.ServerVersion(ctx)
	if err != nil {
		return engineFacts{}, err
	}
	f := engineFacts{version: v.Version}
	for _, c := range v.Components {
		if strings.Contains(strings.ToLower(c.Name), "podman") {
			f.podman = true
			if c.Version != "" {
				f.version = c.Version
			}
		}
	}
	if f.podman {
		// Podman's compatibility API honours CDI device requests from 5.4 on
		// (containers/podman#25171); older versions drop every DeviceRequest
		// silently.
		f.cdi = !lessAPI(strings.SplitN(f.version, "-", 2)[0], "5.4")
		if !f.cdi {
			f.noGPU = "Podman " + f.version + "'s Docker-compatible API ignores GPU requests (DeviceRequests are honoured from Podman 5.4 on); use the podman-cli or podman-api backend, or a newer Podman"
		}
	} else if versions.GreaterThanOrEqualTo(r.apiVersion, "1.44") {
		info, err := r.cli.Info(ctx)
		if err != nil {
			return engineFacts{}, err
		}
		f.cdi = len(info.CDISpecDirs) > 0
	}
	r.facts, r.factsKnown = f, true
	return f, nil
}

// envHost returns DOCKER_HOST.
func envHost() string { return strings.TrimSpace(getenv("DOCKER_HOST")) }

// redactURL drops any password from an address before it is printed.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.User == nil {
		return s
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	return u.String()
}

// IsPodman reports whether the engine behind the runtime is Podman's
// Docker-compatible service (asking the engine, within 10 s, the first
// time; false when it does not answer).
func (r *Runtime) IsPodman() bool {
	ctx, cancel, err := r.begin(context.Background(), ctrgate.OpInfo, "")
	if err != nil {
		ctx, cancel = context.WithCancel(context.Background())
		cancel() // closed: what is known only
	}
	defer cancel()
	ctx, stop := context.WithTimeout(ctx, 10*time.Second)
	defer stop()
	return r.onPodman(ctx)
}

// onPodman reports whether the engine is Podman's (false when that cannot
// be learnt within ctx).
func (r *Runtime) onPodman(ctx context.Context) bool {
	f, err := r.engine(ctx)
	return err == nil && f.podman
}

// Client returns the underlying Docker API client, for what the
// ContainerRuntime interface does not cover. It must not be closed.
func (r *Runtime) Client() *client.Client { return r.cli }

// Close releases the client's connections and ends every stream this runtime
// opened. It does not touch containers. Later calls fail with
// ctrgate.ErrEngineUnavailable.
func (r *Runtime) Close() error {
	r.closeMu.Lock()
	defer r.closeMu.Unlock()
	if r.closed {
		return nil
	}
	r.closed = true
	r.kill()
	err := r.cli.Close()
	return err
}

// errClosed is returned by calls after Close.
func (r *Runtime) errClosed(op, target string) error {
	return ctrgate.NewEngineError(BackendName, op, target, ctrgate.ErrEngineUnavailable, "runtime is closed", nil, nil)
}

// begin prepares a call: it fails after Close, and returns a context that
// ends with ctx and with Close.
func (r *Runtime) begin(ctx context.Context, op, target string) (context.Context, context.CancelFunc, error) {
	if r.life.Err() != nil {
		return nil, nil, r.errClosed(op, target)
	}
	if ctx.Err() != nil {
		return nil, nil, ctrgate.NewEngineError(BackendName, op, target, nil, "", fmt.Errorf("%s: %w", op, context.Cause(ctx)), nil)
	}
	ctx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(r.life, cancel)
	return ctx, func() { stop(); cancel() }, nil
}

var _ ctrgate.Pinger = (*Runtime)(nil)

// Ping asks the engine's /_ping: the contract layer's liveness probe
// (ctrgate.Pinger).
func (r *Runtime) Ping(ctx context.Context) error {
	ctx, cancel, err := r.begin(ctx, ctrgate.OpInfo, "")
	if err != nil {
		return err
	}
	defer cancel()
	if _, err := r.cli.Ping(ctx); err != nil {
		return r.mapErr(ctx, ctrgate.OpInfo, "", err)
	}
	return nil
}

// Info describes the engine.
func (r *Runtime) Info(ctx context.Context) (*ctrgate.EngineInfo, error) {
	ctx, cancel, err := r.begin(ctx, ctrgate.OpInfo, "")
	if err != nil {
		return nil, err
	}
	defer cancel()
	// the engine as it is now (an engine upgraded under a long-lived
	// runtime reports its new version)
	r.factsMu.Lock()
	f, err := r.askEngine(ctx)
	r.factsMu.Unlock()
	if err != nil {
		return nil, r.mapErr(ctx, ctrgate.OpInfo, "", err)
	}
	info, err := r.cli.Info(ctx)
	if err != nil {
		return nil, r.mapErr(ctx, ctrgate.OpInfo, "", err)
	}
	out := &ctrgate.EngineInfo{
		Backend:    BackendName,
		Engine:     "docker",
		Version:    f.version,
		APIVersion: r.cli.ClientVersion(),
		OCIRuntime: info.DefaultRuntime,
	}
	if f.podman {
		out.Engine = "podman"
	}
	for _, o := range info.SecurityOptions {
		if strings.Contains(o, "name=rootless") {
			out.Rootless = true
		}
	}
	if f.podman {
		// the compat /info says neither the rootless network mode nor, on
		// Podman 4.x, rootless: Podman's libpod API does
		if rl, netCmd, ok := r.podmanHostInfo(ctx); ok {
			out.Rootless = out.Rootless || rl
			if out.Rootless && (netCmd == "pasta" || netCmd == "slirp4netns") {
				out.RootlessNetworkMode = netCmd
			}
		}
	}
	if info.CgroupVersion != "" {
		out.CgroupVersion = "v" + strings.TrimPrefix(info.CgroupVersion, "v")
	}
	for _, d := range info.DiscoveredDevices {
		if d.Source == "cdi" {
			out.CDIDevices = append(out.CDIDevices, d.ID)
			if strings.HasPrefix(d.ID, "nvidia.com/gpu=") {
				out.CDIGPUs = true
			}
		}
	}
	return out, nil
}

var _ ctrgate.PromptReader = (*Runtime)(nil)

// PromptReads tells the contract layer that the driver's reads (Inspect,
// List, ImageExists, ListImages) are each one HTTP request that ends with
// its context (ctrgate.PromptReader): the layer makes them on the
// caller's goroutine.
func (r *Runtime) PromptReads() bool { return true }
