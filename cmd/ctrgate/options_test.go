package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ctrgate/ctrgate/backend"
)

// optionsPath is the reference of every backend's options, generated from
// the option tables the backends register (backend.Options).
var optionsPath = filepath.Join("..", "..", "docs", "options.md")

func writeOptionsReference(w *bytes.Buffer) {
	fmt.Fprintf(w, "# Backend options\n\n")
	fmt.Fprintf(w, "Generated from the option table each backend registers (`backend.Options(name)`) by\n")
	fmt.Fprintf(w, "`go test ./cmd/ctrgate -run TestOptionsReference -update`; `ctrgate info --json` lists the same\n")
	fmt.Fprintf(w, "options with the values in effect and where each came from.\n\n")
	fmt.Fprintf(w, "Precedence, highest first: code (`backend.Config.Options`), the option's environment variable,\n")
	fmt.Fprintf(w, "the configuration file (`--config` or `$CTRGATE_CONFIG`: `{\"backend\": ..., \"options\": {...}}`), the\n")
	fmt.Fprintf(w, "default. A key the backend does not declare is an error (`ErrInvalidSpec`), never ignored.\n")
	for _, name := range append(append([]string(nil), backend.AutoOrder...), backend.Fake) {
		fmt.Fprintf(w, "\n## %s\n\n| key | environment | default | what it does |\n|---|---|---|---|\n", name)
		for _, o := range backend.Options(name) {
			fmt.Fprintf(w, "| `%s` | %s | %s | %s |\n", o.Key, code(o.Env), code(o.Default), o.Doc)
		}
	}
	fmt.Fprintf(w, "\n## auto\n\nAny option of the backends it probes (each gets its own), and:\n\n"+
		"| key | environment | default | what it does |\n|---|---|---|---|\n"+
		"| `%s` | | `%s` | how long auto-detection waits for each backend's probe |\n",
		backend.OptProbeTimeout, backend.DefaultProbeTimeout)
}

func code(s string) string {
	if s == "" {
		return ""
	}
	return "`" + s + "`"
}

func TestOptionsReference(t *testing.T) {
	var buf bytes.Buffer
	writeOptionsReference(&buf)
	if *update {
		require.NoError(t, os.WriteFile(optionsPath, buf.Bytes(), 0o644))
	}
	want, err := os.ReadFile(optionsPath)
	require.NoError(t, err, "run go test ./cmd/ctrgate -run TestOptionsReference -update to create it")
	assert.Equal(t, string(want), buf.String(), "docs/options.md is stale: go test ./cmd/ctrgate -run TestOptionsReference -update")
	for _, name := range []string{backend.PodmanCLI, backend.PodmanAPI, backend.Docker, backend.Fake} {
		assert.NotEmpty(t, backend.Options(name), "%s registers an option table", name)
		for _, o := range backend.Options(name) {
			assert.NotEmpty(t, o.Doc, "%s option %s has a doc", name, o.Key)
		}
	}
}

// TestInfoListsOptions: info --json shows each option of the backend in
// use with its value and source; an option the backend lacks is an error.
func TestInfoListsOptions(t *testing.T) {
	dir := t.TempDir()
	cfgFile := filepath.Join(dir, "ctrgate.json")
	require.NoError(t, os.WriteFile(cfgFile, []byte(`{"backend": "fake", "options": {"cdi_devices": "nvidia.com/gpu=0", "timeout": "3s"}}`), 0o600))
	var out, errb bytes.Buffer
	code := run(context.Background(), []string{"--config", cfgFile, "--json", "info"}, strings.NewReader(""), &out, &errb, func(string) string { return "" })
	require.Equal(t, 0, code, errb.String())
	var ji jsonInfo
	require.NoError(t, json.Unmarshal(out.Bytes(), &ji))
	got := map[string]string{}
	for _, o := range ji.Options {
		got[o.Key] = o.Value + " (" + o.Source + ")"
	}
	assert.Equal(t, map[string]string{"cdi_devices": "nvidia.com/gpu=0 (file)", "liveness_probe": "10s (default)", "timeout": "3s (file)"}, got)

	require.NoError(t, os.WriteFile(cfgFile, []byte(`{"backend": "fake", "options": {"cdi_device": "x"}}`), 0o600))
	out.Reset()
	errb.Reset()
	code = run(context.Background(), []string{"--config", cfgFile, "info"}, strings.NewReader(""), &out, &errb, func(string) string { return "" })
	assert.Equal(t, exitToolError, code)
	msg, _ := requireOneErrorLine(t, errb.String())
	assert.Contains(t, msg, `no option "cdi_device"`)
	assert.Contains(t, msg, "cdi_devices", "the error lists the options the backend has")
}

func TestMaskPassword(t *testing.T) {
	assert.Equal(t, "tcp://u:REDACTED@h:2376", maskPassword("tcp://u:s3cret@h:2376"))
	assert.Equal(t, "ssh://core@h/run/podman/podman.sock", maskPassword("ssh://core@h/run/podman/podman.sock"))
	assert.Equal(t, "/usr/bin/podman", maskPassword("/usr/bin/podman"))
}
