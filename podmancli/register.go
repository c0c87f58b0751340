package podmancli

import (
	"context"

	"github.com/ctrgate/ctrgate"
	"github.com/ctrgate/ctrgate/backend"
	"github.com/ctrgate/ctrgate/driver"
)

func init() {
	backend.Register(BackendName, openBackend, probeBackend, Options...)
}

// Options is the option table of backend "podman-cli".
var Options = []backend.OptionSpec{
	{Key: backend.OptBinary, Env: EnvBinary, Default: "podman", Doc: "the podman executable: a name on PATH or a path"},
	{Key: "args", Env: EnvArgs, Doc: "global arguments before every podman command, split at spaces (e.g. --root /srv/containers)"},
	{Key: "remote", Env: EnvRemote, Default: "auto", Doc: "auto: as podman chooses, a client of the service of CONTAINER_HOST or the connection of CONTAINER_CONNECTION when one is set, else local; true: run podman --url SOCKET, through the API service (podman-remote); false: local, whatever the environment says"},
	{Key: backend.OptSocket, Env: EnvSocket, Doc: "the service socket or URL of remote mode (else CONTAINER_HOST); given by code or file, it selects remote mode"},
	{Key: backend.OptTimeout, Env: EnvTimeout, Default: DefaultTimeout.String(), Doc: "per-call timeout for calls whose context has no deadline"},
	{Key: "env", Doc: "extra environment of every podman process, one KEY=VALUE per line"},
	{Key: driver.OptKnownHosts, Doc: "the known_hosts file that ssh:// engine hosts are checked against (default ~/.ssh/known_hosts); an unknown or changed host key is refused"},
	{Key: driver.OptAcceptNewHostKeys, Default: "false", Doc: "true: trust the key of an ssh:// host the known_hosts file does not know yet, and record it (trust on first use); a changed key is refused all the same"},
	{Key: driver.OptAllowPlainTCP, Default: "false", Doc: "true: accept a plain tcp:// engine address (no TLS) that is not on this machine's loopback (whoever reaches that port is root on the engine's host)"},
	{Key: backend.OptResumeWindow, Default: driver.ResumeWindow.String(), Doc: "how long an Events stream waits for an engine that went away to come back (a restart) before it ends with ErrEngineUnavailable"},
	{Key: backend.OptLivenessProbe, Default: ctrgate.DefaultLivenessInterval.String(), Doc: "how often the engine is checked while a Wait or a followed stream is open; two checks in a row without an answer end them with ErrEngineUnavailable (a cut link, a frozen engine); \"off\" turns it off"},
}

// backendConfig builds a Config from resolved backend options (see
// ConfigFromMap); a "socket" given by code or a file, with "remote" left
// at its default, selects remote mode.
func backendConfig(cfg backend.Config) (Config, error) {
	opts := map[string]string{}
	for k, v := range cfg.Options {
		opts[k] = v
	}
	if cfg.Source("remote") <= backend.SourceDefault && opts[backend.OptSocket] != "" &&
		cfg.Source(backend.OptSocket) != backend.SourceEnv {
		opts["remote"] = "true"
	}
	return ConfigFromMap(opts)
}

// openBackend is the backend.OpenFunc of "podman-cli": it checks that the
// binary exists; the engine is reached on the first call.
func openBackend(ctx context.Context, cfg backend.Config) (ctrgate.ContainerRuntime, error) {
	c, err := backendConfig(cfg)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, ctxError(ctrgate.OpInfo, "", err)
	}
	rt, err := New(c)
	if err != nil {
		return nil, err
	}
	return rt, nil
}

// probeBackend is the backend.ProbeFunc of "podman-cli": the binary exists
// and `podman info` answers.
func probeBackend(ctx context.Context, cfg backend.Config) error {
	c, err := backendConfig(cfg)
	if err != nil {
		return err
	}
	r, err := NewDriver(c)
	if err != nil {
		return err
	}
	defer r.Close()
	_, err = r.Info(ctx)
	return err
}
