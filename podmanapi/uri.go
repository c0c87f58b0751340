package podmanapi

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"go.podman.io/common/pkg/config"
)

// Environment variables New reads when Config.URI is empty.
const (
	EnvContainerHost       = "CONTAINER_HOST"        // podman-remote's service URI
	EnvContainerConnection = "CONTAINER_CONNECTION"  // name of a configured podman connection
	EnvContainerSSHKey     = "CONTAINER_SSHKEY"      // podman-remote's SSH identity
	EnvSocket              = "CTRGATE_PODMAN_SOCKET" // ctrgate's own override (URI or socket path)
)

// Well-known socket locations tried last.
const (
	RootSocket         = "/run/podman/podman.sock"
	rootlessSocketPath = "podman/podman.sock" // under $XDG_RUNTIME_DIR
)

// destination is a resolved service address.
type destination struct {
	URI      string
	Identity string
	TLSCert  string
	TLSKey   string
	TLSCA    string
	Source   string // where it came from, for messages and tests
}

// connectionLookup finds a named podman connection (def: the default one).
type connectionLookup func(name string, def bool) (*destination, error)

// loadConnection reads Podman's connection configuration
// (podman-connections.json, then containers.conf service_destinations).
func loadConnection(name string, def bool) (*destination, error) {
	cfg, err := config.Default()
	if err != nil {
		return nil, err
	}
	c, err := cfg.GetConnection(name, def)
	if err != nil {
		return nil, err
	}
	return &destination{URI: c.URI, Identity: c.Identity, TLSCert: c.TLSCert, TLSKey: c.TLSKey, TLSCA: c.TLSCA}, nil
}

func socketExists(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode()&os.ModeSocket != 0
}

// asURI turns a bare socket path into a unix:// URI.
func asURI(s string) string {
	if strings.HasPrefix(s, "/") {
		return "unix://" + s
	}
	return s
}

// resolveURI picks the service address: cfg.URI, CONTAINER_HOST,
// CONTAINER_CONNECTION, CTRGATE_PODMAN_SOCKET, podman's default connection,
// then the rootful and rootless sockets that exist.
func resolveURI(cfg Config, getenv func(string) (string, bool), lookup connectionLookup, exists func(string) bool) (destination, error) {
	env := func(k string) string {
		v, _ := getenv(k)
		return strings.TrimSpace(v)
	}
	identity := cfg.Identity
	if identity == "" {
		identity = env(EnvContainerSSHKey)
	}
	if cfg.URI != "" {
		return destination{URI: asURI(cfg.URI), Identity: identity, Source: "Config.URI"}, nil
	}
	if cfg.Connection != "" {
		d, err := lookup(cfg.Connection, false)
		if err != nil {
			return destination{}, fmt.Errorf("connection %q: %w", cfg.Connection, err)
		}
		if d.Identity == "" || cfg.Identity != "" {
			d.Identity = identity
		}
		d.Source = "Config.Connection"
		return *d, nil
	}
	if v := env(EnvContainerHost); v != "" {
		return destination{URI: asURI(v), Identity: identity, Source: EnvContainerHost}, nil
	}
	if name := env(EnvContainerConnection); name != "" {
		d, err := lookup(name, false)
		if err != nil {
			return destination{}, fmt.Errorf("%s=%q: %w", EnvContainerConnection, name, err)
		}
		if d.Identity == "" || cfg.Identity != "" {
			d.Identity = identity
		}
		d.Source = EnvContainerConnection
		return *d, nil
	}
	if v := env(EnvSocket); v != "" {
		return destination{URI: asURI(v), Identity: identity, Source: EnvSocket}, nil
	}
	if d, err := lookup("", true); err == nil && d != nil && d.URI != "" {
		if d.Identity == "" || cfg.Identity != "" {
			d.Identity = identity
		}
		d.Source = "default connection"
		return *d, nil
	}
	var tried []string
	candidates := []string{}
	if os.Geteuid() == 0 {
		candidates = append(candidates, RootSocket)
	}
	if xdg := env("XDG_RUNTIME_DIR"); xdg != "" {
		candidates = append(candidates, filepath.Join(xdg, rootlessSocketPath))
	} else if os.Geteuid() != 0 {
		candidates = append(candidates, filepath.Join("/run/user", fmt.Sprint(os.Geteuid()), rootlessSocketPath))
	}
	if os.Geteuid() != 0 {
		candidates = append(candidates, RootSocket)
	}
	for _, p := range candidates {
		tried = append(tried, p)
		if exists(p) {
			return destination{URI: "unix://" + p, Identity: identity, Source: "socket discovery"}, nil
		}
	}
	return destination{}, errors.New("no Podman service found: set Config.URI, " + EnvContainerHost + ", " +
		EnvContainerConnection + " or " + EnvSocket + ", or start `podman system service` (tried " +
		strings.Join(tried, ", ") + ")")
}
