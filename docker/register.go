package docker

import (
	"context"
	"time"

	"github.com/ctrgate/ctrgate"
	"github.com/ctrgate/ctrgate/backend"
)

// init registers this package as backend "docker". Options: "host" (engine
// address; "" takes DOCKER_HOST or the default socket), "api_version",
// "timeout" (per-call timeout, a Go duration). The probe succeeds when the
// engine answers a ping.
func init() {
	backend.Register(BackendName, openBackend, probeBackend)
}

func backendConfig(cfg backend.Config) (Config, error) {
	d, err := cfg.Duration(backend.OptTimeout, 0)
	if err != nil {
		return Config{}, err
	}
	return Config{Host: cfg.Option(backend.OptHost), APIVersion: cfg.Option("api_version"), DefaultTimeout: d}, nil
}

func openBackend(ctx context.Context, cfg backend.Config) (ctrgate.ContainerRuntime, error) {
	c, err := backendConfig(cfg)
	if err != nil {
		return nil, err
	}
	return New(ctx, c)
}

func probeBackend(ctx context.Context, cfg backend.Config) error {
	c, err := backendConfig(cfg)
	if err != nil {
		return err
	}
	if dl, ok := ctx.Deadline(); ok {
		c.PingTimeout = time.Until(dl)
	}
	rt, err := New(ctx, c)
	if err != nil {
		return err
	}
	return rt.Close()
}
