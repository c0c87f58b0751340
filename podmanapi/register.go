package podmanapi

import (
	"context"
	"strings"

	"github.com/ctrgate/ctrgate"
	"github.com/ctrgate/ctrgate/backend"
	"github.com/ctrgate/ctrgate/driver"
)

// init registers this package as backend "podman-api" (options: Options).
// Without them New finds the service as the package documentation says.
// The probe succeeds when the service answers a ping.
func init() {
	backend.Register(BackendName, openBackend, probeBackend, Options...)
}

// Options is the option table of backend "podman-api". Of url, connection
// and socket the one given with the highest precedence (code > environment
// > file) names the service; at equal precedence, in that order.
var Options = []backend.OptionSpec{
	{Key: backend.OptURL, Env: EnvContainerHost, Doc: "the service URL: unix://, ssh://user@host/run/podman/podman.sock or tcp://"},
	{Key: backend.OptConnection, Env: EnvContainerConnection, Doc: "a named podman connection (podman system connection add)"},
	{Key: backend.OptSocket, Env: EnvSocket, Doc: "the service socket: a path or a unix:// URL"},
	{Key: "identity", Env: EnvContainerSSHKey, Doc: "the SSH private key of an ssh:// URL"},
	{Key: backend.OptTimeout, Default: DefaultTimeout.String(), Doc: "per-call timeout for calls whose context has no deadline"},
	{Key: driver.OptKnownHosts, Doc: "the known_hosts file that ssh:// engine hosts are checked against (default ~/.ssh/known_hosts); an unknown or changed host key is refused"},
	{Key: driver.OptAcceptNewHostKeys, Default: "false", Doc: "true: trust the key of an ssh:// host the known_hosts file does not know yet, and record it (trust on first use); a changed key is refused all the same"},
	{Key: driver.OptAllowPlainTCP, Default: "false", Doc: "true: accept a plain tcp:// engine address (no TLS) that is not on this machine's loopback (whoever reaches that port is root on the engine's host)"},
	{Key: backend.OptResumeWindow, Default: driver.ResumeWindow.String(), Doc: "how long an Events stream waits for an engine that went away to come back (a restart) before it ends with ErrEngineUnavailable"},
	{Key: backend.OptLivenessProbe, Default: ctrgate.DefaultLivenessInterval.String(), Doc: "how often the engine is checked while a Wait or a followed stream is open; two checks in a row without an answer end them with ErrEngineUnavailable (a cut link, a frozen engine); \"off\" turns it off"},
}

func backendConfig(cfg backend.Config) (Config, error) {
	o, err := driver.ParseEngineOptions(cfg)
	if err != nil {
		return Config{}, err
	}
	c := Config{Identity: cfg.Option("identity"), DefaultTimeout: o.Timeout, ResumeWindow: o.ResumeWindow, LivenessProbe: o.LivenessProbe,
		AllowPlainTCP: o.AllowPlainTCP, KnownHosts: o.KnownHosts, AcceptNewHostKeys: o.AcceptNewHostKeys}
	switch cfg.First(backend.OptURL, backend.OptConnection, backend.OptSocket) {
	case backend.OptURL:
		c.URI = cfg.Option(backend.OptURL)
	case backend.OptConnection:
		c.Connection = cfg.Option(backend.OptConnection)
	case backend.OptSocket:
		c.URI = cfg.Option(backend.OptSocket)
		if !strings.Contains(c.URI, "://") {
			c.URI = "unix://" + c.URI
		}
	}
	return c, nil
}

func openBackend(ctx context.Context, cfg backend.Config) (ctrgate.ContainerRuntime, error) {
	c, err := backendConfig(cfg)
	if err != nil {
		return nil, err
	}
	rt, err := New(ctx, c)
	if err != nil {
		return nil, err
	}
	return rt, nil
}

func probeBackend(ctx context.Context, cfg backend.Config) error {
	rt, err := openBackend(ctx, cfg)
	if err != nil {
		return err
	}
	return rt.Close()
}
