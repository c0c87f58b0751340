package docker

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/docker/docker/client"
)

// endpoint is where a docker CLI context points.
type endpoint struct {
	Host string // engine address; "" means the default socket
	TLS  string // directory holding ca.pem, cert.pem and key.pem, or ""
}

// dockerConfigDir returns $DOCKER_CONFIG, or ~/.docker.
func dockerConfigDir() string {
	if d := strings.TrimSpace(getenv("DOCKER_CONFIG")); d != "" {
		return d
	}
	home := getenv("HOME")
	if home == "" {
		home, _ = os.UserHomeDir()
	}
	return filepath.Join(home, ".docker")
}

// currentContext returns the context the docker CLI would use: name if not
// empty, else DOCKER_CONTEXT, else config.json's currentContext; "" or
// "default" mean no context.
func currentContext(name string) (string, error) {
	if name != "" {
		return name, nil
	}
	if n := strings.TrimSpace(getenv("DOCKER_CONTEXT")); n != "" {
		return n, nil
	}
	b, err := os.ReadFile(filepath.Join(dockerConfigDir(), "config.json"))
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	var cfg struct {
		CurrentContext string `json:"currentContext"`
	}
	if err := json.Unmarshal(b, &cfg); err != nil {
		return "", fmt.Errorf("reading %s: %w", filepath.Join(dockerConfigDir(), "config.json"), err)
	}
	return cfg.CurrentContext, nil
}

// contextEndpoint reads the docker endpoint of the named context from the
// docker CLI's context store ($DOCKER_CONFIG/contexts/meta/<sha256 of
// name>/meta.json, TLS material under contexts/tls/<same>/docker).
func contextEndpoint(name string) (endpoint, error) {
	if name == "" || name == "default" {
		return endpoint{}, nil
	}
	sum := sha256.Sum256([]byte(name))
	id := hex.EncodeToString(sum[:])
	store := filepath.Join(dockerConfigDir(), "contexts")
	b, err := os.ReadFile(filepath.Join(store, "meta", id, "meta.json"))
	if err != nil {
		return endpoint{}, fmt.Errorf("docker context %q: %w", name, err)
	}
	var meta struct {
		Endpoints map[string]struct {
			Host string `json:"Host"`
		} `json:"Endpoints"`
	}
	if err := json.Unmarshal(b, &meta); err != nil {
		return endpoint{}, fmt.Errorf("docker context %q: %w", name, err)
	}
	ep, ok := meta.Endpoints["docker"]
	if !ok {
		return endpoint{}, fmt.Errorf("docker context %q has no docker endpoint", name)
	}
	out := endpoint{Host: ep.Host}
	tlsDir := filepath.Join(store, "tls", id, "docker")
	if _, err := os.Stat(filepath.Join(tlsDir, "ca.pem")); err == nil {
		out.TLS = tlsDir
	}
	return out, nil
}

// tlsOpts returns the client options for the context's TLS material.
func (e endpoint) tlsOpts() []client.Opt {
	if e.TLS == "" {
		return nil
	}
	return []client.Opt{client.WithTLSClientConfig(
		filepath.Join(e.TLS, "ca.pem"), filepath.Join(e.TLS, "cert.pem"), filepath.Join(e.TLS, "key.pem"))}
}

// resolveContext returns the endpoint of the named context, or of the
// current one when name is "".
func resolveContext(name string) (endpoint, error) {
	n, err := currentContext(name)
	if err != nil {
		return endpoint{}, err
	}
	return contextEndpoint(n)
}
