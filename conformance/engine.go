package conformance

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
)

// Engine describes the real engine under test as its provisioning knows
// it.
type Engine struct {
	// UID and GID are the ids a rootless engine runs as (keep-id maps
	// them into the container); nil means this process's own.
	UID, GID *int
	// Report returns the engine's own account of itself (its CLI's
	// `podman info --format json` or `docker info`), which Info must match;
	// nil when there is none.
	Report func(ctx context.Context) (EngineReport, error)
	// PortAddr is the address at which this process reaches the ports the
	// engine publishes: "" means 127.0.0.1 (an engine on this machine); a
	// remote engine's host address otherwise (the suite publishes on it).
	PortAddr string
}

// EngineReport holds the facts an engine reports about itself that
// ctrgate.EngineInfo carries too.
type EngineReport struct {
	Source              string // the command that gave the report
	Rootless            bool
	RootlessNetworkMode string // "" when the engine does not say (Podman 4.3, Docker)
	CgroupVersion       string // "v1" or "v2"
}

// Environment variables naming the user of a rootless engine (set by
// scripts/matrix.sh env for the rootless lanes).
const (
	EnvEngineUID = "CTRGATE_ENGINE_UID"
	EnvEngineGID = "CTRGATE_ENGINE_GID"
)

// EnvEnginePortAddr names the address of a remote engine's host, at which
// its published ports are reached (Engine.PortAddr; scripts/remote.sh
// lane-env sets it).
const EnvEnginePortAddr = "CTRGATE_ENGINE_PORT_ADDR"

// EngineFromEnv returns an Engine with UID/GID from CTRGATE_ENGINE_UID and
// CTRGATE_ENGINE_GID, PortAddr from CTRGATE_ENGINE_PORT_ADDR (when set) and
// the given report.
func EngineFromEnv(report func(ctx context.Context) (EngineReport, error)) Engine {
	e := Engine{Report: report, PortAddr: os.Getenv(EnvEnginePortAddr)}
	if v, err := strconv.Atoi(os.Getenv(EnvEngineUID)); err == nil {
		e.UID = &v
	}
	if v, err := strconv.Atoi(os.Getenv(EnvEngineGID)); err == nil {
		e.GID = &v
	}
	return e
}

// portAddr is PortAddr, or 127.0.0.1.
func (e Engine) portAddr() string {
	if e.PortAddr != "" {
		return e.PortAddr
	}
	return "127.0.0.1"
}

func (e Engine) uid() int {
	if e.UID != nil {
		return *e.UID
	}
	return os.Getuid()
}

func (e Engine) gid() int {
	if e.GID != nil {
		return *e.GID
	}
	return os.Getgid()
}

// PodmanReport runs `BINARY ARGS... info --format json` (the podman of the
// engine, with this process's environment) and reads host.security.rootless,
// host.rootlessNetworkCmd and host.cgroupVersion.
func PodmanReport(binary string, args ...string) func(ctx context.Context) (EngineReport, error) {
	return func(ctx context.Context) (EngineReport, error) {
		argv := append(append([]string{}, args...), "info", "--format", "json")
		out, err := runReport(ctx, binary, argv, nil)
		if err != nil {
			return EngineReport{}, err
		}
		var v struct {
			Host struct {
				CgroupVersion      string `json:"cgroupVersion"`
				RootlessNetworkCmd string `json:"rootlessNetworkCmd"`
				Security           struct {
					Rootless bool `json:"rootless"`
				} `json:"security"`
			} `json:"host"`
		}
		if err := json.Unmarshal(out, &v); err != nil {
			return EngineReport{}, fmt.Errorf("podman info --format json: %w", err)
		}
		return EngineReport{
			Source:              binary + " " + strings.Join(argv, " "),
			Rootless:            v.Host.Security.Rootless,
			RootlessNetworkMode: v.Host.RootlessNetworkCmd,
			CgroupVersion:       v.Host.CgroupVersion,
		}, nil
	}
}

// DockerReport runs `docker info --format '{{json .}}'` against host and
// reads SecurityOptions (name=rootless) and CgroupVersion.
func DockerReport(host string) func(ctx context.Context) (EngineReport, error) {
	return func(ctx context.Context) (EngineReport, error) {
		argv := []string{"info", "--format", "{{json .}}"}
		out, err := runReport(ctx, "docker", argv, []string{"DOCKER_HOST=" + host})
		if err != nil {
			return EngineReport{}, err
		}
		var v struct {
			SecurityOptions []string
			CgroupVersion   string
		}
		if err := json.Unmarshal(out, &v); err != nil {
			return EngineReport{}, fmt.Errorf("docker info: %w", err)
		}
		r := EngineReport{Source: "DOCKER_HOST=" + host + " docker " + strings.Join(argv, " ")}
		for _, o := range v.SecurityOptions {
			if o == "name=rootless" {
				r.Rootless = true
			}
		}
		if v.CgroupVersion != "" {
			r.CgroupVersion = "v" + v.CgroupVersion
		}
		return r, nil
	}
}

func runReport(ctx context.Context, binary string, argv, env []string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, binary, argv...)
	cmd.Env = append(os.Environ(), env...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w: %s", binary, strings.Join(argv, " "), err, strings.TrimSpace(stderr.String()))
	}
	return out, nil
}

// EngineMissing ends a real-engine test whose engine is not provided as the
// test needs it (unset, or configured another way): the test fails under
// CI=true, where every engine test must run, and is skipped loudly
// otherwise (a developer's machine without that engine). msg says what is
// missing and how to provide it.
func EngineMissing(t testing.TB, msg string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip("SKIPPING REAL-ENGINE TEST: " + msg)
}
