package main

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/ctrgate/ctrgate"
	"github.com/ctrgate/ctrgate/backend"
	"github.com/ctrgate/ctrgate/fake"
)

// openDefault opens the backend chosen by --backend, else $CTRGATE_BACKEND,
// else the config file (--config or $CTRGATE_CONFIG), else auto. When auto
// finds no engine it falls back to the embedded fake (fallback = true)
// after one notice line on stderr. A fake runtime, embedded or chosen with
// --backend fake, holds the image "testimage".
func openDefault(ctx context.Context, a *app) (ctrgate.ContainerRuntime, bool, error) {
	cfg, err := backend.LoadConfig(a.getenv, a.g.config)
	if err != nil {
		return nil, false, withHint(err, `fix the config file (--config or $CTRGATE_CONFIG); its form is {"backend": "podman-cli", "options": {"binary": "/usr/bin/podman"}}`)
	}
	if a.g.backendSet {
		cfg.Backend = a.g.backend
	}
	name := strings.TrimSpace(cfg.Backend)
	if name == "" {
		name = backend.Auto
	}
	cfg.Backend = name
	rt, err := a.openBackend(ctx, cfg)
	if err != nil {
		if name == backend.Auto && errors.Is(err, ctrgate.ErrEngineUnavailable) && ctx.Err() == nil {
			f, ferr := newEmbeddedFake()
			if ferr != nil {
				return nil, false, ferr
			}
			fmt.Fprintf(a.stderr, "ctrgate: no container engine found (probed %s); using the in-memory fake\n",
				strings.Join(backend.AutoOrder, ", "))
			return f, true, nil
		}
		return nil, false, openHint(name, err)
	}
	if f, ok := rt.(*fake.Runtime); ok {
		if err := seedFake(f); err != nil {
			_ = rt.Close()
			return nil, false, err
		}
	}
	return rt, false, nil
}

// openHint attaches advice to a failure to open backend name.
func openHint(name string, err error) error {
	var nci *backend.NotCompiledInError
	var spec *ctrgate.SpecError
	compiled := "backends compiled into this ctrgate: " + strings.Join(append([]string{backend.Auto}, backend.Backends()...), ", ")
	switch {
	case errors.As(err, &nci):
		return withHint(err, compiled)
	case errors.As(err, &spec) && spec.Field == "Backend":
		return withHint(err, "choose one with --backend or $CTRGATE_BACKEND; "+compiled)
	case errors.Is(err, ctrgate.ErrEngineUnavailable):
		switch name {
		case backend.Docker:
			return withHint(err, "start dockerd (or scripts/docker.sh up) and point DOCKER_HOST at it, or choose another --backend")
		case backend.PodmanAPI:
			return withHint(err, "start the Podman service ('podman system service', 'systemctl --user start podman.socket' or scripts/podman.sh up) and point CONTAINER_HOST at it, or use --backend podman-cli")
		case backend.PodmanCLI:
			return withHint(err, "install podman (or set CTRGATE_PODMAN_BINARY), or choose another --backend")
		}
	}
	return err
}
