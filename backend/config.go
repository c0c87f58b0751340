package backend

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/ctrgate/ctrgate"
)

// Environment variables read by LoadConfig.
const (
	// EnvBackend selects the backend ("auto", "podman-cli", ...).
	EnvBackend = "CTRGATE_BACKEND"
	// EnvConfig is the path of an optional JSON configuration file.
	EnvConfig = "CTRGATE_CONFIG"
	// EnvContainerHost is Podman's service URL; it sets Options["url"].
	EnvContainerHost = "CONTAINER_HOST"
	// EnvContainerConnection is Podman's named connection; it sets
	// Options["connection"].
	EnvContainerConnection = "CONTAINER_CONNECTION"
	// EnvDockerHost is Docker's engine address; it sets Options["host"].
	EnvDockerHost = "DOCKER_HOST"
)

// envOptions maps environment variables to option keys.
var envOptions = []struct{ env, key string }{
	{EnvContainerHost, OptURL},
	{EnvContainerConnection, OptConnection},
	{EnvDockerHost, OptHost},
}

// maxConfigSize bounds the configuration file.
const maxConfigSize = 1 << 20

// LoadConfig builds a Config from an optional JSON file and the
// environment, the environment taking precedence over the file:
//
//   - the file is path, or when path is "" the value of CTRGATE_CONFIG; when
//     both are empty no file is read. A named file that cannot be read or
//     parsed is an error. Its form is
//     {"backend": "podman-cli", "options": {"binary": "/usr/bin/podman"}};
//     unknown fields are rejected.
//   - CTRGATE_BACKEND sets Backend; CONTAINER_HOST sets Options["url"],
//     CONTAINER_CONNECTION Options["connection"] and DOCKER_HOST
//     Options["host"]. Empty variables are ignored.
//
// getenv is os.Getenv when nil. Code overrides the result with Merge (code >
// environment > file); OpenFromEnv does all three. Errors wrap
// ctrgate.ErrInvalidSpec.
func LoadConfig(getenv func(string) string, path string) (Config, error) {
	if getenv == nil {
		getenv = os.Getenv
	}
	var cfg Config
	if path == "" {
		path = getenv(EnvConfig)
	}
	if path != "" {
		fc, err := readConfigFile(path)
		if err != nil {
			return Config{}, err
		}
		cfg = fc
	}
	if b := strings.TrimSpace(getenv(EnvBackend)); b != "" {
		cfg.Backend = b
	}
	for _, e := range envOptions {
		if v := getenv(e.env); v != "" {
			if cfg.Options == nil {
				cfg.Options = map[string]string{}
			}
			cfg.Options[e.key] = v
		}
	}
	return cfg, nil
}

func readConfigFile(path string) (Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return Config{}, fmt.Errorf("backend: config file: %w: %w", ctrgate.ErrInvalidSpec, err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxConfigSize+1))
	if err != nil {
		return Config{}, fmt.Errorf("backend: config file: %w: %w", ctrgate.ErrInvalidSpec, err)
	}
	if len(data) > maxConfigSize {
		return Config{}, fmt.Errorf("backend: config file %s: %w: larger than %d bytes", path, ctrgate.ErrInvalidSpec, maxConfigSize)
	}
	var cfg Config
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&cfg); err != nil {
		// The decoder's message names the offending field or position,
		// never a value.
		return Config{}, fmt.Errorf("backend: config file %s: %w: %w", path, ctrgate.ErrInvalidSpec, err)
	}
	if dec.More() {
		return Config{}, fmt.Errorf("backend: config file %s: %w: trailing data after the JSON object", path, ctrgate.ErrInvalidSpec)
	}
	cfg.Backend = strings.TrimSpace(cfg.Backend)
	return cfg, nil
}

// Merge returns base overridden by over: over.Backend when not empty, and
// every entry of over.Options. Neither argument is modified.
func Merge(base, over Config) Config {
	out := base.clone()
	if strings.TrimSpace(over.Backend) != "" {
		out.Backend = over.Backend
	}
	for k, v := range over.Options {
		if out.Options == nil {
			out.Options = map[string]string{}
		}
		out.Options[k] = v
	}
	return out
}

// OpenFromEnv opens the backend configured by the file and environment
// (LoadConfig(os.Getenv, "")), overridden by code: Merge(loaded, code).
func OpenFromEnv(ctx context.Context, code Config) (ctrgate.ContainerRuntime, error) {
	loaded, err := LoadConfig(nil, "")
	if err != nil {
		return nil, err
	}
	return Open(ctx, Merge(loaded, code))
}
