package podmancli

import (
	"context"

	"github.com/ctrgate/ctrgate"
	"github.com/ctrgate/ctrgate/backend"
)

func init() {
	backend.Register(BackendName, openBackend, probeBackend)
}

// backendConfig builds a Config from backend options (see ConfigFromMap);
// an explicit "socket" option without "remote" selects remote mode.
func backendConfig(cfg backend.Config) (Config, error) {
	opts := map[string]string{}
	for k, v := range cfg.Options {
		opts[k] = v
	}
	if _, ok := opts["remote"]; !ok && opts[backend.OptSocket] != "" {
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
	return New(c)
}

// probeBackend is the backend.ProbeFunc of "podman-cli": the binary exists
// and `podman info` answers.
func probeBackend(ctx context.Context, cfg backend.Config) error {
	c, err := backendConfig(cfg)
	if err != nil {
		return err
	}
	r, err := New(c)
	if err != nil {
		return err
	}
	defer r.Close()
	_, err = r.Info(ctx)
	return err
}
