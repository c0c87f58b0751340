package main

import (
	"context"
	"errors"
	"net/url"
	"strings"

	"github.com/ctrgate/ctrgate"
	"github.com/ctrgate/ctrgate/backend"
	"github.com/ctrgate/ctrgate/fake"
)

// openDefault opens the backend chosen by --backend, else $CTRGATE_BACKEND,
// else the config file (--config or $CTRGATE_CONFIG), else auto. auto never
// falls back to the in-memory fake: when no engine answers, the error names
// what was probed and how to start an engine (exit 125), so a script never
// believes a container ran. The fake, chosen with --backend fake, holds the
// image "testimage".
func openDefault(ctx context.Context, a *app) (ctrgate.ContainerRuntime, error) {
	cfg, err := backend.LoadConfig(a.getenv, a.g.config)
	if err != nil {
		return nil, withHint(err, `fix the config file (--config or $CTRGATE_CONFIG); its form is {"backend": "podman-cli", "options": {"binary": "/usr/bin/podman"}}`)
	}
	if a.g.backendSet {
		cfg.Backend = a.g.backend
	}
	name := strings.TrimSpace(cfg.Backend)
	if name == "" {
		name = backend.Auto
	}
	cfg.Backend = name
	a.cfg = cfg
	rt, err := a.openBackend(ctx, cfg)
	if err != nil {
		return nil, openHint(name, err)
	}
	if f, ok := ctrgate.DriverOf(rt).(*fake.Runtime); ok {
		if err := seedFake(f); err != nil {
			_ = rt.Close()
			return nil, err
		}
	}
	return rt, nil
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
		case backend.Auto:
			return withHint(err, "no engine answered (probed "+strings.Join(backend.AutoOrder, ", ")+
				"): start one (podman: 'systemctl --user start podman.socket' or scripts/podman.sh up; docker: start dockerd or scripts/docker.sh up), "+
				"or choose one with --backend (--backend fake runs on the in-memory fake)")
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

// resolvedOptions returns the options of backend name as the runtime was
// opened with them (the configuration file, the environment and their
// defaults; backend.Resolve), values with a password masked. Options of
// other backends (auto's configuration may hold them) are left out.
func (a *app) resolvedOptions(name string) ([]jsonOption, error) {
	specs := backend.Options(name)
	if specs == nil {
		return []jsonOption{}, nil
	}
	own := backend.Config{Backend: name, Options: map[string]string{}, FileOptions: map[string]string{}}
	for _, o := range specs {
		if v, ok := a.cfg.Options[o.Key]; ok {
			own.Options[o.Key] = v
		}
		if v, ok := a.cfg.FileOptions[o.Key]; ok {
			own.FileOptions[o.Key] = v
		}
	}
	rs, err := backend.Resolve(name, own, a.getenv)
	if err != nil {
		return nil, err
	}
	out := make([]jsonOption, 0, len(rs))
	for _, r := range rs {
		out = append(out, jsonOption{Key: r.Key, Value: maskPassword(r.Value), Source: r.Source.String(),
			Env: r.Env, Default: r.Default, Doc: r.Doc})
	}
	return out, nil
}

// maskPassword hides the password of a URL's user information.
func maskPassword(v string) string {
	u, err := url.Parse(v)
	if err != nil || u.User == nil {
		return v
	}
	if _, has := u.User.Password(); !has {
		return v
	}
	u.User = url.UserPassword(u.User.Username(), "REDACTED")
	return u.String()
}
