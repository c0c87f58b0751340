package podmancli

import (
	"context"

	"github.com/ctrgate/ctrgate"
	"github.com/ctrgate/ctrgate/backend"
)

// init registers this package as backend "podman-cli". Options are those of
// ConfigFromMap ("binary", "args", "timeout", "remote", "socket", "env").
// The probe succeeds when the podman binary exists and `Info` works.
func init() {
	backend.Register(BackendName, openBackend, probeBackend)
}

func openBackend(_ context.Context, cfg backend.Config) (ctrgate.ContainerRuntime, error) {
	c, err := ConfigFromMap(cfg.Options)
	if err != nil {
		return nil, err
	}
	return New(c)
}

func probeBackend(ctx context.Context, cfg backend.Config) error {
	rt, err := openBackend(ctx, cfg)
	if err != nil {
		return err
	}
	defer rt.Close()
	_, err = rt.Info(ctx)
	return err
}
