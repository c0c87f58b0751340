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

// Environment variables read by LoadConfig. The variables of each
// backend's options (CONTAINER_HOST, DOCKER_HOST, ...) are in its option
// table (Options) and are read by Open.
const (
	// EnvBackend selects the backend ("auto", "podman-cli", ...).
	EnvBackend = "CTRGATE_BACKEND"
	// EnvConfig is the path of an optional JSON configuration file.
	EnvConfig = "CTRGATE_CONFIG"
	// EnvContainerHost is Podman's service URL: option "url" of podman-api.
	EnvContainerHost = "CONTAINER_HOST"
	// EnvContainerConnection is Podman's named connection: option
	// "connection" of podman-api.
	EnvContainerConnection = "CONTAINER_CONNECTION"
	// EnvDockerHost is Docker's engine address: option "host" of docker.
	EnvDockerHost = "DOCKER_HOST"
)

// maxConfigSize bounds the configuration file.
const maxConfigSize = 1 << 20

// LoadConfig builds a Config from an optional JSON file and the
// environment:
//
//   - the file is path, or when path is "" the value of CTRGATE_CONFIG; when
//     both are empty no file is read. A named file that cannot be read or
//     parsed is an error. Its form is
//     {"backend": "podman-cli", "options": {"binary": "/usr/bin/podman"}};
//     unknown fields are rejected. Its options become FileOptions.
//   - CTRGATE_BACKEND sets Backend (over the file's). Empty variables are
//     ignored.
//
// The variables of the backends' options (CONTAINER_HOST, DOCKER_HOST,
// CTRGATE_PODMAN_BINARY, ...) are read by Open, per option, above the
// file's values and below Options set by code: code > environment > file.
// getenv is os.Getenv when nil. Code sets Options (Merge); OpenFromEnv
// does all of it. Errors wrap ctrgate.ErrInvalidSpec.
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
	cfg.FileOptions, cfg.Options = cfg.Options, nil
	return cfg, nil
}

// Merge returns base overridden by over: over.Backend when not empty, and
// every entry of over.Options and over.FileOptions. Neither argument is
// modified.
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
	for k, v := range over.FileOptions {
		if out.FileOptions == nil {
			out.FileOptions = map[string]string{}
		}
		out.FileOptions[k] = v
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
