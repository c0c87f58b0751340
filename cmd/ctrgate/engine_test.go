package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ctrgate/ctrgate"
	"github.com/ctrgate/ctrgate/conformance"
)

// realEnv runs ctrgate invocations against a real engine through the
// normal backend selection (--backend NAME), with the process environment.
type realEnv struct {
	t       *testing.T
	backend string
}

func (e *realEnv) run(args ...string) result {
	e.t.Helper()
	var out, errb bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	code := run(ctx, append([]string{"--backend", e.backend}, args...), strings.NewReader(""), &out, &errb, os.Getenv)
	return result{code: code, stdout: out.String(), stderr: errb.String()}
}

// engineSetup says how a real backend is provisioned for the tests.
type engineSetup struct {
	backend string
	envVar  string // set by the provisioning script's `env` output
	script  string // the provisioning script
	engine  string // EngineInfo.Engine expected
}

var realEngines = []engineSetup{
	{backend: "podman-cli", envVar: "CONTAINERS_CONF", script: "scripts/podman.sh", engine: "podman"},
	{backend: "podman-api", envVar: "CTRGATE_PODMAN_SOCKET", script: "scripts/podman.sh", engine: "podman"},
	{backend: "docker", envVar: "DOCKER_HOST", script: "scripts/docker.sh", engine: "docker"},
}

// requireEngine returns a realEnv for a backend provisioned by the
// project's scripts (their `env` output must be in the environment). A
// missing engine fails the test when CI=true and skips it loudly otherwise.
func requireEngine(t *testing.T, s engineSetup) *realEnv {
	t.Helper()
	missing := func(why string) {
		conformance.EngineMissing(t, s.backend+": "+why+
			" (run: "+s.script+" up && eval \"$("+s.script+" env)\")")
	}
	if os.Getenv(s.envVar) == "" {
		missing(s.envVar + " is not set")
	}
	e := &realEnv{t: t, backend: s.backend}
	r := e.run("info", "--json")
	if r.code != 0 {
		missing("ctrgate info failed: " + strings.TrimSpace(r.stderr))
	}
	var ji jsonInfo
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &ji))
	require.Equal(t, s.backend, ji.Backend)
	require.Equal(t, s.engine, ji.Engine)
	require.False(t, ji.Fallback)
	return e
}

func randSuffix(t *testing.T) string {
	b := make([]byte, 4)
	_, err := rand.Read(b)
	require.NoError(t, err)
	return hex.EncodeToString(b)
}

// TestRealEngines runs the CLI end to end on every real backend: the
// podman CLI (the reference), the Podman API service and Docker.
func TestRealEngines(t *testing.T) {
	for _, s := range realEngines {
		t.Run(s.backend, func(t *testing.T) { testRealEngine(t, requireEngine(t, s)) })
	}
}

func testRealEngine(t *testing.T, e *realEnv) {
	prefix := "ctrgate-cli-" + randSuffix(t) + "-"
	image := "localhost/ctrgate/cli-test:" + strings.TrimSuffix(strings.TrimPrefix(prefix, "ctrgate-cli-"), "-")
	t.Cleanup(func() {
		r := e.run("ps", "-a", "-q", "--prefix", prefix)
		if names := strings.Fields(r.stdout); len(names) > 0 {
			e.run(append([]string{"rm", "-f"}, names...)...)
		}
		e.run("image", "rm", "-f", image)
	})

	// Import the conformance test image from its tar.
	tarFile := filepath.Join(t.TempDir(), "rootfs.tar")
	require.NoError(t, os.WriteFile(tarFile, conformance.TestImageTar(t), 0o644))
	r := e.run("import", "--entrypoint", conformance.TestProgPath, tarFile, image)
	require.Equal(t, 0, r.code, r.stderr)
	r = e.run("image", "exists", image)
	require.Equal(t, 0, r.code, r.stderr)

	// The demo, on a real engine.
	r = e.run("run", "--rm", "-a", "--name", prefix+"demo", "--ready", "READY", image, "marker", "READY", "500ms")
	assert.Equal(t, 0, r.code, r.stderr)
	assert.Equal(t, "READY\n", r.stdout)
	r = e.run("ps", "-a", "-q", "--prefix", prefix+"demo")
	assert.Empty(t, r.stdout, "--rm removed it")

	// Attached exit code and stream separation.
	r = e.run("run", "--rm", "-a", image, "echo", "out", ";", "echo-err", "err", ";", "exit", "9")
	assert.Equal(t, 9, r.code)
	assert.Equal(t, "out\n", r.stdout)
	assert.Equal(t, "err\n", r.stderr)

	// Detached with readiness, then ps / logs / exec / stop / wait / rm.
	web := prefix + "web"
	r = e.run("run", "--name", web, "-l", "ctrgate-cli-test=1", "--ready", "up", image, "echo", "up", ";", "sleep", "120")
	require.Equal(t, 0, r.code, r.stderr)
	id := strings.TrimSpace(r.stdout)
	r = e.run("ps", "--json", "--prefix", prefix, "-l", "ctrgate-cli-test=1")
	require.Equal(t, 0, r.code, r.stderr)
	var ps []jsonContainer
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &ps))
	require.Len(t, ps, 1)
	assert.Equal(t, web, ps[0].Name)
	assert.Equal(t, id, ps[0].ID)
	assert.Equal(t, "running", ps[0].Status)
	r = e.run("logs", web)
	assert.Equal(t, 0, r.code, r.stderr)
	assert.Equal(t, "up\n", r.stdout)
	r = e.run("exec", web, conformance.TestProgPath, "exit", "6")
	assert.Equal(t, 6, r.code, r.stderr)
	r = e.run("stop", "-t", "10", web)
	assert.Equal(t, 0, r.code, r.stderr)
	r = e.run("wait", web)
	assert.Equal(t, 143, r.code, r.stderr)
	r = e.run("rm", web, prefix+"ghost")
	assert.Equal(t, exitToolError, r.code)
	assert.Equal(t, web+": removed\n", r.stdout)
	msg, _ := requireOneErrorLine(t, r.stderr)
	assert.Contains(t, msg, prefix+"ghost")

	// Secrets stay out of the output on a real engine too.
	const secret = "real-engine-s3cret-42"
	r = e.run("run", "--rm", "-a", "--secret-env", "PLAIN="+secret, image, "getenv", "PLAIN", ";", "echo-err", secret)
	assert.Equal(t, 0, r.code, r.stderr)
	assert.NotContains(t, r.stdout+r.stderr, secret)
	assert.Equal(t, "[REDACTED]\n", r.stdout)

	// Pulls from the project's registry: ctrgate pull and run --pull.
	testRealEnginePulls(t, e, prefix)

	// GPUs on a machine without a CDI setup: one line and the GPU hint.
	r = e.run("info", "--json")
	var ji jsonInfo
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &ji))
	if !ji.CDIGPUs {
		r = e.run("run", "--rm", "--name", prefix+"gpu", "--gpus", "all", image, "echo")
		assert.Equal(t, exitToolError, r.code)
		_, hint := requireOneErrorLine(t, r.stderr)
		assert.Equal(t, ctrgate.GPUHint, hint)
	}
}

// testRealEnginePulls pulls with the CLI from the project's registry
// (scripts/registry.sh; required when CI=true): `pull`, `run --pull
// missing|always`, and a registry that does not answer.
func testRealEnginePulls(t *testing.T, e *realEnv, prefix string) {
	reg := conformance.RegistryFromEnv()
	if reg == nil {
		msg := "CLI PULL TEST NOT RUN: " + conformance.EnvRegistry + " is not set (run: scripts/registry.sh up && eval \"$(scripts/registry.sh env)\")"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Log(msg)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	ref := reg.Host + "/ctrgate/cli-pull:" + strings.TrimSuffix(strings.TrimPrefix(prefix, "ctrgate-cli-"), "-")
	push := func(word string) {
		t.Helper()
		require.NoError(t, reg.Push(ctx, ref, ctrgate.ImportOptions{Entrypoint: []string{conformance.TestProgPath}, Cmd: []string{"echo", word}}))
	}
	var stale []string
	t.Cleanup(func() {
		for _, id := range append(stale, ref) {
			e.run("image", "rm", "-f", id)
		}
	})
	push("first")
	r := e.run("image", "exists", ref)
	assert.Equal(t, 1, r.code, "only in the registry: %s", r.stderr)
	r = e.run("pull", "--policy", "never", ref)
	assert.Equal(t, exitToolError, r.code)
	r = e.run("pull", ref)
	require.Equal(t, 0, r.code, r.stderr)
	assert.Equal(t, ref+": pulled", strings.SplitN(r.stdout, " (", 2)[0])
	r = e.run("--json", "images", ref)
	require.Equal(t, 0, r.code, r.stderr)
	var imgs []jsonImageEntry
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &imgs))
	require.Len(t, imgs, 1, r.stdout)
	stale = append(stale, imgs[0].ID)

	push("second")
	r = e.run("run", "--rm", "-a", "--pull", "missing", ref)
	assert.Equal(t, 0, r.code, r.stderr)
	assert.Equal(t, "first\n", r.stdout, "--pull missing keeps the local image")
	r = e.run("run", "--rm", "-a", "--pull", "always", ref)
	assert.Equal(t, 0, r.code, r.stderr)
	assert.Equal(t, "second\n", r.stdout, "--pull always fetched the new push")

	r = e.run("pull", reg.Down+"/ctrgate/nowhere:v1")
	assert.Equal(t, exitToolError, r.code)
	msg, hint := requireOneErrorLine(t, r.stderr)
	assert.Contains(t, msg, ctrgate.ErrRegistryUnavailable.Error())
	assert.Contains(t, hint, "no registry answered")
	r = e.run("pull", reg.Host+"/ctrgate/never-pushed:v1")
	assert.Equal(t, exitToolError, r.code)
	msg, _ = requireOneErrorLine(t, r.stderr)
	assert.Contains(t, msg, ctrgate.ErrImageNotFound.Error())
}

// TestUnknownBackend: a backend that is not compiled in is one error line
// with a hint naming the compiled-in backends.
func TestUnknownBackend(t *testing.T) {
	var out, errb bytes.Buffer
	code := run(context.Background(), []string{"--backend", "no-such-backend", "ps"}, nil, &out, &errb, func(string) string { return "" })
	assert.Equal(t, exitToolError, code)
	msg, hint := requireOneErrorLine(t, errb.String())
	assert.Contains(t, msg, "no-such-backend")
	assert.Contains(t, hint, "podman-cli")
}
