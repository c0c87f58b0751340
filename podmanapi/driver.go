package podmanapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ctrgate/ctrgate/driver"
	"github.com/ctrgate/ctrgate/internal/conmon"
	"github.com/ctrgate/ctrgate/internal/libpod"

	"github.com/blang/semver/v4"
	"github.com/containers/podman/v5/pkg/bindings"
	"github.com/containers/podman/v5/pkg/bindings/system"
	"github.com/containers/podman/v5/pkg/errorhandling"

	"github.com/ctrgate/ctrgate"
)

// BackendName is the name this backend reports in EngineInfo.Backend and in
// its errors.
const BackendName = "podman-api"

// DefaultTimeout is the per-call timeout the contract layer applies when a
// call's context has no deadline and Config.DefaultTimeout is zero.
const DefaultTimeout = ctrgate.DefaultCallTimeout

// connectTimeout bounds New's ping of the service when ctx has no deadline.
const connectTimeout = 10 * time.Second

// Config configures a Runtime.
type Config struct {
	// URI of the Podman service: unix:///path, tcp://host:port or
	// ssh://user@host[:port]/path. Empty: see the package documentation.
	URI string
	// Connection names a connection of Podman's own configuration
	// (podman system connection), used when URI is empty; it takes
	// precedence over the environment.
	Connection string
	// Identity is the path of the SSH private key for ssh:// URIs.
	Identity string
	// DefaultTimeout bounds every call whose context has no deadline
	// (DefaultTimeout when zero), an Exec including the run of its
	// command; New gives it to the contract layer, which applies it (see
	// ctrgate.WithCallTimeout). A driver alone has none.
	DefaultTimeout time.Duration
	// ResumeWindow is how long an Events stream waits for a service that
	// went away to come back before it ends with ErrEngineUnavailable; 0
	// means driver.ResumeWindow.
	ResumeWindow time.Duration
	// LivenessProbe is how often the contract layer checks that the engine
	// still answers while a Wait or a followed stream is open
	// (ctrgate.WithLivenessProbe); 0 means ctrgate.DefaultLivenessInterval,
	// a negative value turns the probe off.
	LivenessProbe time.Duration
	// KnownHosts is the known_hosts file an ssh:// URI's host key is
	// checked against ("" means ~/.ssh/known_hosts); an unknown or changed
	// key is refused with a *ctrgate.HostKeyError before anything is
	// sent, and the backend's SSH transport (ssh.go) accepts that key only.
	KnownHosts string
	// AcceptNewHostKeys trusts and records the key of a host KnownHosts
	// does not know yet (trust on first use); a changed key is refused.
	AcceptNewHostKeys bool
	// AllowPlainTCP accepts a plain tcp:// URI (no TLS) that is not on this
	// machine's loopback; without it New refuses one with
	// ctrgate.ErrInvalidSpec (see driver.CheckPlainTCP).
	AllowPlainTCP bool
}

// Runtime is a ctrgate.ContainerRuntime backed by Podman's REST API. It is
// safe for concurrent use.
type Runtime struct {
	cfg     Config
	uri     string // resolved URI, credentials removed (for messages)
	opts    bindings.Options
	conn    context.Context // carries the bindings connection (values only)
	client  *bindings.Connection
	version *semver.Version // the service's libpod API version
	// local: the service runs on this host (unix socket): its event
	// timestamps and ours share one clock, its CDI specs are ours.
	local bool
	// exits watches conmon's exit files (Wait) of a local service; its
	// directory is learned from a container's conmon.
	exits conmon.ExitWatcher
	// ssh is the backend's own SSH transport (ssh.go) of an ssh:// URI.
	ssh *sshTransport

	inner *http.Transport // the transport requests really go through (see answerFailedRequests); nil if not replaced

	closed   atomic.Bool
	life     context.Context // cancelled (cause errClosed) by Close
	kill     context.CancelCauseFunc
	closeMux sync.Once
}

// errClosed is the cause of the cancellation of calls in flight when the
// runtime is closed.
var errClosed = errors.New("runtime closed")

var _ ctrgate.ContainerRuntime = (*Runtime)(nil)

// New connects to the Podman service described by cfg (see the package
// documentation for how an empty URI is resolved) and pings it. A missing
// or unresponsive service fails with ctrgate.ErrEngineUnavailable; ctx
// bounds the connection attempt (10 s when it has no deadline).
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
	dest, err := resolveURI(cfg, os.LookupEnv, loadConnection, socketExists)
	if err != nil {
		return nil, ctrgate.NewEngineError(BackendName, ctrgate.OpInfo, "", ctrgate.ErrEngineUnavailable, err.Error(), nil, nil)
	}
	shown := redactURI(dest.URI)
	local := false
	if u, perr := url.Parse(dest.URI); perr == nil && u.Scheme == "unix" {
		local = true
		path := u.Path
		if path == "" {
			path = u.Host + u.Opaque
		}
		if _, serr := os.Stat(path); serr != nil {
			return nil, ctrgate.NewEngineError(BackendName, ctrgate.OpInfo, shown, ctrgate.ErrEngineUnavailable,
				"Podman socket "+path+" does not exist (start the service with `podman system service` or scripts/podman.sh up)", serr, nil)
		}
	}
	cctx := ctx
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		cctx, cancel = context.WithTimeout(ctx, connectTimeout)
		defer cancel()
	}
	if err := driver.CheckPlainTCP("URI", dest.URI, dest.TLSCert != "" || dest.TLSCA != "", cfg.AllowPlainTCP); err != nil {
		return nil, err
	}
	driver.WarnLooseKeyFile(BackendName, "SSH identity", dest.Identity)
	driver.WarnLooseKeyFile(BackendName, "TLS client key", dest.TLSKey)
	opts := bindings.Options{URI: dest.URI, Identity: dest.Identity, TLSCertFile: dest.TLSCert, TLSKeyFile: dest.TLSKey, TLSCAFile: dest.TLSCA}
	var tr *sshTransport
	if u, perr := url.Parse(dest.URI); perr == nil && u.Scheme == "ssh" {
		// The backend's own SSH transport (ssh.go), not the bindings':
		// the host key is checked first, and the bindings reach the
		// service through a private socket for their first ping only.
		policy := driver.HostKeyPolicy{KnownHosts: cfg.KnownHosts, AcceptNew: cfg.AcceptNewHostKeys}
		if tr, err = newSSHTransport(cctx, u, dest.Identity, policy); err != nil {
			var hke *ctrgate.HostKeyError
			if errors.As(err, &hke) {
				return nil, err
			}
			return nil, ctrgate.NewEngineError(BackendName, ctrgate.OpInfo, shown, ctrgate.ErrEngineUnavailable, "", err, nil)
		}
		fl, err := newForwardListener(tr)
		if err != nil {
			tr.Close()
			return nil, ctrgate.NewEngineError(BackendName, ctrgate.OpInfo, shown, ctrgate.ErrEngineUnavailable, "", err, nil)
		}
		defer fl.Close()
		opts.URI, opts.Identity = fl.URI(), ""
	}
	fail := func(err error) error {
		if tr != nil {
			tr.Close()
		}
		return err
	}
	type result struct {
		ctx context.Context
		err error
	}
	// NewConnectionWithOptions may block in an SSH handshake that ignores
	// ctx; run it aside so New itself always honours ctx. Its ping honours
	// cctx. Only the values of the context it returns are used later, so
	// that context being cancelled when New returns does not matter.
	ch := make(chan result, 1)
	go func() {
		c, err := bindings.NewConnectionWithOptions(cctx, opts)
		ch <- result{c, err}
	}()
	var res result
	select {
	case res = <-ch:
	case <-cctx.Done():
		go func() { // release the late connection, if any
			if r := <-ch; r.err == nil {
				if c, err := bindings.GetClient(r.ctx); err == nil {
					c.Client.CloseIdleConnections()
				}
			}
		}()
		return nil, fail(ctrgate.NewEngineError(BackendName, ctrgate.OpInfo, shown, ctrgate.ErrEngineUnavailable,
			"no answer from the Podman service", cctx.Err(), nil))
	}
	if res.err != nil {
		return nil, fail(ctrgate.NewEngineError(BackendName, ctrgate.OpInfo, shown, ctrgate.ErrEngineUnavailable, "", res.err, nil))
	}
	client, err := bindings.GetClient(res.ctx)
	if err != nil {
		return nil, fail(ctrgate.NewEngineError(BackendName, ctrgate.OpInfo, shown, ctrgate.ErrEngineUnavailable, "", err, nil))
	}
	if tr != nil {
		// from now on every connection is a channel of the SSH transport
		if t, ok := client.Client.Transport.(*http.Transport); ok {
			t.DialContext = tr.DialContext
		}
		client.Client.CloseIdleConnections()
	}
	inner := answerFailedRequests(client)
	life, kill := context.WithCancelCause(context.Background())
	return &Runtime{
		inner:   inner,
		life:    life,
		kill:    kill,
		cfg:     cfg,
		uri:     shown,
		opts:    opts,
		conn:    res.ctx,
		client:  client,
		version: bindings.ServiceVersion(res.ctx),
		local:   local,
		ssh:     tr,
	}, nil
}

// URI returns the service URI the runtime is connected to, without
// credentials.
func (r *Runtime) URI() string { return r.uri }

// ServerAPIVersion returns the libpod API version the service announced.
func (r *Runtime) ServerAPIVersion() string { return r.version.String() }

// Close releases the runtime's connections. Containers are not touched.
// Calls after Close fail with ctrgate.ErrEngineUnavailable; calls in
// flight (a Wait, a followed log, an event stream) end with it.
func (r *Runtime) Close() error {
	r.closeMux.Do(func() {
		r.closed.Store(true)
		r.kill(errClosed)
		r.client.Client.CloseIdleConnections()
		if r.inner != nil {
			r.inner.CloseIdleConnections()
		}
		if r.ssh != nil {
			r.ssh.Close()
		}
		r.exits.Close()
	})
	return nil
}

// unreachableCause marks the answer answerFailedRequests gives for a
// request whose connection could not be made.
const unreachableCause = "ctrgate: the Podman service could not be reached"

// endedCause marks the answer answerFailedRequests gives for a request
// whose context ended.
const endedCause = "ctrgate: the call's context ended"

// answerFailedRequests makes a request that fails before the service
// answered an immediate answer of the connection's transport instead of an
// error: the bindings try a request that fails three times with sleeps
// that ignore its context (100, 200, 300 ms), so each call to a dead
// service, and each call whose context ended while it waited for its
// answer (a cancelled Wait), returned 600 ms late. A failed dial (a refused
// connection, a missing socket) is answered 503 with an error body that
// wrapErr maps to ErrEngineUnavailable; a request whose context ended, 499,
// which wrapErr, seeing the call's context done, reports as the context's
// error. The transport stays the *http.Transport the bindings' hijacked
// connections (attach, exec) dial with; its "http" requests go to a clone
// that keeps the connections, returned so that Close can release them.
// Without an *http.Transport (nothing to clone) it changes nothing and
// returns nil.
func answerFailedRequests(conn *bindings.Connection) *http.Transport {
	t, ok := conn.Client.Transport.(*http.Transport)
	if !ok {
		return nil
	}
	inner := t.Clone()
	t.RegisterProtocol("http", failureAnswerer{inner})
	return inner
}

type failureAnswerer struct{ inner *http.Transport }

func (a failureAnswerer) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := a.inner.RoundTrip(req)
	if err == nil {
		return resp, nil
	}
	if cerr := req.Context().Err(); cerr != nil {
		return errorAnswer(req, 499, endedCause, cerr.Error()), nil
	}
	var oe *net.OpError
	if !errors.As(err, &oe) || oe.Op != "dial" {
		return resp, err
	}
	return errorAnswer(req, http.StatusServiceUnavailable, unreachableCause, err.Error()), nil
}

// errorAnswer is an answer of the service with status code and an error
// body (the bindings' ErrorModel).
func errorAnswer(req *http.Request, code int, because, msg string) *http.Response {
	body, _ := json.Marshal(errorhandling.ErrorModel{Because: because, Message: msg, ResponseCode: code})
	return &http.Response{Status: fmt.Sprintf("%d %s", code, because), StatusCode: code,
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1, Header: http.Header{"Content-Type": {"application/json"}},
		Body: io.NopCloser(bytes.NewReader(body)), ContentLength: int64(len(body)), Request: req}
}

// connCtx is the caller's context (cancellation, deadline, values) that
// also carries the bindings' connection values.
type connCtx struct {
	context.Context
	conn context.Context
}

func (c connCtx) Value(key any) any {
	if v := c.conn.Value(key); v != nil {
		return v
	}
	return c.Context.Value(key)
}

// call prepares the context of one API call: the caller's, with the
// connection values, that also ends with Close. It fails with
// ErrEngineUnavailable after Close.
func (r *Runtime) call(ctx context.Context, op, target string) (context.Context, context.CancelFunc, error) {
	if r.closed.Load() {
		return nil, nil, ctrgate.NewEngineError(BackendName, op, target, ctrgate.ErrEngineUnavailable, "runtime is closed", nil, nil)
	}
	if err := ctx.Err(); err != nil {
		return nil, nil, ctrgate.NewEngineError(BackendName, op, target, nil, "", err, nil)
	}
	c, cancelCause := context.WithCancelCause(connCtx{Context: ctx, conn: r.conn})
	unhook := context.AfterFunc(r.life, func() { cancelCause(errClosed) })
	return c, func() { unhook(); cancelCause(nil) }, nil
}

// atLeast reports whether the service's API version is at least v.
func (r *Runtime) atLeast(v string) bool {
	want, err := semver.ParseTolerant(v)
	if err != nil || r.version == nil {
		return false
	}
	return r.version.GE(want)
}

var _ ctrgate.Pinger = (*Runtime)(nil)

// Ping asks the service's /_ping: the contract layer's liveness probe
// (ctrgate.Pinger).
func (r *Runtime) Ping(ctx context.Context) error {
	c, cancel, err := r.call(ctx, ctrgate.OpInfo, "")
	if err != nil {
		return err
	}
	defer cancel()
	resp, err := r.client.DoRequest(c, nil, http.MethodGet, "/_ping", nil, nil)
	if err != nil {
		return r.wrap(c, ctrgate.OpInfo, "", err)
	}
	defer resp.Body.Close()
	if !resp.IsSuccess() {
		return ctrgate.NewEngineError(BackendName, ctrgate.OpInfo, "", ctrgate.ErrEngineUnavailable,
			"the service's ping answered "+resp.Status, nil, nil)
	}
	return nil
}

// Info describes the engine behind the runtime.
func (r *Runtime) Info(ctx context.Context) (*ctrgate.EngineInfo, error) {
	c, cancel, err := r.call(ctx, ctrgate.OpInfo, "")
	if err != nil {
		return nil, err
	}
	defer cancel()
	info, err := system.Info(c, nil)
	if err != nil {
		werr := r.wrap(c, ctrgate.OpInfo, "", err)
		var ee *ctrgate.EngineError
		if c.Err() == nil && errors.As(werr, &ee) && ee.Kind == nil {
			ee.Kind = ctrgate.ErrEngineUnavailable // the engine cannot describe itself
		}
		return nil, werr
	}
	out := &ctrgate.EngineInfo{
		Backend:    BackendName,
		Engine:     "podman",
		APIVersion: r.version.String(),
	}
	if info.Version.Version != "" {
		out.Version = info.Version.Version
	}
	if info.Version.APIVersion != "" {
		out.APIVersion = info.Version.APIVersion
	}
	if info.Host != nil {
		out.Rootless = info.Host.Security.Rootless
		switch info.Host.CgroupsVersion {
		case "v1", "v2":
			out.CgroupVersion = info.Host.CgroupsVersion
		}
		if info.Host.OCIRuntime != nil {
			out.OCIRuntime = info.Host.OCIRuntime.Name
		}
		out.RootlessNetworkMode = rootlessNetworkMode(out.Rootless, info.Host.RootlessNetworkCmd)
	}
	if r.local {
		out.CDIDevices = libpod.CDIDevices(libpod.CDISpecDirs)
		out.CDIGPUs = libpod.HasGPU(out.CDIDevices)
	}
	return out, nil
}

// rootlessNetworkMode says which user-mode network a rootless service uses
// by default, as the service reports it ("" from Podman 4.x, which does not
// say: rootless.NetworkMode takes that for slirp4netns).
func rootlessNetworkMode(rootless bool, reported string) string {
	if !rootless {
		return ""
	}
	switch reported {
	case "slirp4netns", "pasta":
		return reported
	}
	return ""
}

// redactURI removes a password from a URI for messages.
func redactURI(uri string) string {
	u, err := url.Parse(uri)
	if err != nil || u.User == nil {
		return uri
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	return u.String()
}
