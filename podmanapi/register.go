package podmanapi

import (
	"context"
	"strings"

	"github.com/ctrgate/ctrgate"
	"github.com/ctrgate/ctrgate/backend"
)

// init registers this package as backend "podman-api". Options: "url" (the
// service URI; CONTAINER_HOST through backend.LoadConfig), "socket" (a
// socket path or unix:// URI, used when "url" is empty), "connection" (a
// named podman connection, used when both are empty), "identity" (SSH
// key), "timeout" (per-call timeout, a Go duration). Without them New
// finds the service as the package documentation says. The probe succeeds
// when the service answers a ping.
func init() {
	backend.Register(BackendName, openBackend, probeBackend)
}

func backendConfig(cfg backend.Config) (Config, error) {
	d, err := cfg.Duration(backend.OptTimeout, 0)
	if err != nil {
		return Config{}, err
	}
	uri := cfg.Option(backend.OptURL)
	if uri == "" {
		if s := cfg.Option(backend.OptSocket); s != "" {
			uri = s
			if !strings.Contains(s, "://") {
				uri = "unix://" + s
			}
		}
	}
	return Config{URI: uri, Connection: cfg.Option(backend.OptConnection), Identity: cfg.Option("identity"), DefaultTimeout: d}, nil
}

func openBackend(ctx context.Context, cfg backend.Config) (ctrgate.ContainerRuntime, error) {
	c, err := backendConfig(cfg)
	if err != nil {
		return nil, err
	}
	return New(ctx, c)
}

func probeBackend(ctx context.Context, cfg backend.Config) error {
	rt, err := openBackend(ctx, cfg)
	if err != nil {
		return err
	}
	return rt.Close()
}
