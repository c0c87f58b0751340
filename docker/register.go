package docker

import (
	"context"

	"github.com/ctrgate/ctrgate"
	"github.com/ctrgate/ctrgate/backend"
)

// OptAPIVersion is the backend option that pins the API version ("1.41");
// unset negotiates.
const OptAPIVersion = "api_version"

// OptContext is the backend option naming a docker CLI context ("" means
// DOCKER_CONTEXT or the CLI's current context).
const OptContext = "context"

func init() {
	backend.Register(backend.Docker, openBackend, probeBackend)
}

// configFromBackend builds a Config from backend options: "host"
// (backend.OptHost), "context", "timeout" (backend.OptTimeout) and
// "api_version".
func configFromBackend(cfg backend.Config) (Config, error) {
	timeout, err := cfg.Duration(backend.OptTimeout, 0)
	if err != nil {
		return Config{}, err
	}
	return Config{Host: cfg.Option(backend.OptHost), Context: cfg.Option(OptContext), APIVersion: cfg.Option(OptAPIVersion), DefaultTimeout: timeout}, nil
}

// openBackend is the backend.OpenFunc of "docker": it connects and checks
// that the engine answers.
func openBackend(ctx context.Context, cfg backend.Config) (ctrgate.ContainerRuntime, error) {
	c, err := configFromBackend(cfg)
	if err != nil {
		return nil, err
	}
	return New(ctx, c)
}

// probeBackend is the backend.ProbeFunc of "docker": the engine at
// DOCKER_HOST (or the "host" option, or /var/run/docker.sock) answers a
// ping within ctx.
func probeBackend(ctx context.Context, cfg backend.Config) error {
	c, err := configFromBackend(cfg)
	if err != nil {
		return err
	}
	r, err := New(ctx, c)
	if err != nil {
		return err
	}
	return r.Close()
}
