package docker

import (
	"context"

	"github.com/ctrgate/ctrgate"
	"github.com/ctrgate/ctrgate/backend"
	"github.com/ctrgate/ctrgate/driver"
)

// OptAPIVersion is the backend option that pins the API version ("1.41");
// unset negotiates.
const OptAPIVersion = "api_version"

// OptContext is the backend option naming a docker CLI context ("" means
// DOCKER_CONTEXT or the CLI's current context).
const OptContext = "context"

func init() {
	backend.Register(backend.Docker, openBackend, probeBackend, Options...)
}

// Options is the option table of backend "docker". Of host and context
// the one given with the highest precedence (code > environment > file)
// names the engine; at equal precedence, host.
var Options = []backend.OptionSpec{
	{Key: backend.OptHost, Env: "DOCKER_HOST", Doc: "the engine address: unix://, tcp:// (TLS from DOCKER_TLS_VERIFY and DOCKER_CERT_PATH) or ssh://user@host"},
	{Key: OptContext, Env: "DOCKER_CONTEXT", Doc: "a docker CLI context to take the engine address and TLS material from (else the CLI's current context)"},
	{Key: OptAPIVersion, Env: "DOCKER_API_VERSION", Doc: "pin the API version (e.g. 1.41); unset negotiates with the engine"},
	{Key: backend.OptTimeout, Default: DefaultTimeout.String(), Doc: "per-call timeout for calls whose context has no deadline"},
	{Key: driver.OptKnownHosts, Doc: "the known_hosts file that ssh:// engine hosts are checked against (default: ssh's own, ~/.ssh/known_hosts); an unknown or changed host key is refused"},
	{Key: driver.OptAcceptNewHostKeys, Default: "false", Doc: "true: trust the key of an ssh:// host the known_hosts file does not know yet, and record it (trust on first use); a changed key is refused all the same"},
	{Key: driver.OptAllowPlainTCP, Default: "false", Doc: "true: accept a plain tcp:// engine address (no TLS) that is not on this machine's loopback (whoever reaches that port is root on the engine's host)"},
	{Key: backend.OptResumeWindow, Default: driver.ResumeWindow.String(), Doc: "how long an Events stream waits for an engine that went away to come back (a restart) before it ends with ErrEngineUnavailable"},
	{Key: backend.OptLivenessProbe, Default: ctrgate.DefaultLivenessInterval.String(), Doc: "how often the engine is checked while a Wait or a followed stream is open; two checks in a row without an answer end them with ErrEngineUnavailable (a cut link, a frozen engine); \"off\" turns it off"},
}

// configFromBackend builds a Config from resolved backend options.
func configFromBackend(cfg backend.Config) (Config, error) {
	o, err := driver.ParseEngineOptions(cfg)
	if err != nil {
		return Config{}, err
	}
	c := Config{APIVersion: cfg.Option(OptAPIVersion), DefaultTimeout: o.Timeout, ResumeWindow: o.ResumeWindow, LivenessProbe: o.LivenessProbe,
		AllowPlainTCP: o.AllowPlainTCP, KnownHosts: o.KnownHosts, AcceptNewHostKeys: o.AcceptNewHostKeys}
	switch cfg.First(backend.OptHost, OptContext) {
	case backend.OptHost:
		c.Host = cfg.Option(backend.OptHost)
	case OptContext:
		c.Context = cfg.Option(OptContext)
	}
	return c, nil
}

// openBackend is the backend.OpenFunc of "docker": it connects and checks
// that the engine answers.
func openBackend(ctx context.Context, cfg backend.Config) (ctrgate.ContainerRuntime, error) {
	c, err := configFromBackend(cfg)
	if err != nil {
		return nil, err
	}
	rt, err := New(ctx, c)
	if err != nil {
		return nil, err
	}
	return rt, nil
}

// probeBackend is the backend.ProbeFunc of "docker": the engine at
// DOCKER_HOST (or the "host" option, or /var/run/docker.sock) answers a
// ping within ctx.
func probeBackend(ctx context.Context, cfg backend.Config) error {
	c, err := configFromBackend(cfg)
	if err != nil {
		return err
	}
	r, err := NewDriver(ctx, c)
	if err != nil {
		return err
	}
	return r.Close()
}
