package main

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/ctrgate/ctrgate"
	"github.com/ctrgate/ctrgate/backend"
	"github.com/ctrgate/ctrgate/conformance"
	"github.com/ctrgate/ctrgate/fake"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// result is one in-process invocation of the tool.
type result struct {
	code           int
	stdout, stderr string
}

// noClose shares one runtime between several invocations (each invocation
// closes its runtime at the end).
type noClose struct{ ctrgate.ContainerRuntime }

func (noClose) Close() error { return nil }

// fakeEnv runs ctrgate invocations against one shared fake seeded like the
// embedded one, so a detached run is visible to a later ps.
type fakeEnv struct {
	t    *testing.T
	rt   *fake.Runtime
	vars map[string]string
	tty  bool
}

func newFakeEnv(t *testing.T) *fakeEnv {
	t.Helper()
	rt, err := newEmbeddedFake()
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, rt.Close()) })
	return &fakeEnv{t: t, rt: rt, vars: map[string]string{}}
}

func (e *fakeEnv) getenv(k string) string { return e.vars[k] }

func (e *fakeEnv) run(args ...string) result { return e.runStdin("", args...) }

func (e *fakeEnv) runStdin(stdin string, args ...string) result {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return e.runCtx(ctx, stdin, args...)
}

func (e *fakeEnv) runCtx(ctx context.Context, stdin string, args ...string) result {
	e.t.Helper()
	var out, errb bytes.Buffer
	a := newApp(strings.NewReader(stdin), &out, &errb, e.getenv)
	a.open = func(context.Context, *app) (ctrgate.ContainerRuntime, error) {
		return noClose{e.rt}, nil
	}
	a.isTTY = func(io.Writer) bool { return e.tty }
	code := a.main(ctx, args)
	return result{code: code, stdout: out.String(), stderr: errb.String()}
}

// requireOneErrorLine checks the error format: one "ctrgate: " line, then
// at most one "hint: " line.
func requireOneErrorLine(t *testing.T, stderr string) (msg, hint string) {
	t.Helper()
	lines := strings.Split(strings.TrimRight(stderr, "\n"), "\n")
	require.NotEmpty(t, lines)
	require.LessOrEqual(t, len(lines), 2, "stderr: %q", stderr)
	require.True(t, strings.HasPrefix(lines[0], "ctrgate: "), "stderr: %q", stderr)
	if len(lines) == 2 {
		require.True(t, strings.HasPrefix(lines[1], "hint: "), "stderr: %q", stderr)
		hint = strings.TrimPrefix(lines[1], "hint: ")
	}
	return strings.TrimPrefix(lines[0], "ctrgate: "), hint
}

func TestEmbeddedProgPathMatchesConformance(t *testing.T) {
	assert.Equal(t, conformance.TestProgPath, embeddedProgPath)
}

func TestRunAttachedReadyDemo(t *testing.T) {
	e := newFakeEnv(t)
	start := time.Now()
	r := e.run("run", "--rm", "-a", "--ready", "READY", "testimage", "marker", "READY", "500ms")
	assert.Equal(t, 0, r.code, "stderr: %s", r.stderr)
	assert.Equal(t, "READY\n", r.stdout)
	// The story goes to stderr: engine, container, time to ready, exit
	// code, removal.
	lines := strings.Split(strings.TrimSuffix(r.stderr, "\n"), "\n")
	require.Len(t, lines, 3, r.stderr)
	assert.Regexp(t, `^ctrgate: fake \(fake[^)]*\): started \S+ \(testimage\)$`, lines[0])
	assert.Regexp(t, `^ctrgate: \S+ ready after [0-9.]+m?s$`, lines[1])
	assert.Regexp(t, `^ctrgate: \S+ exited with code 0; removed$`, lines[2])
	assert.GreaterOrEqual(t, time.Since(start), 500*time.Millisecond)
	// --rm: nothing is left behind.
	cs, err := e.rt.List(context.Background(), ctrgate.ListFilter{All: true})
	require.NoError(t, err)
	assert.Empty(t, cs)
}

func TestRunAttachedExitCodeAndStreams(t *testing.T) {
	e := newFakeEnv(t)
	r := e.run("run", "-a", "--rm", "testimage", "echo", "out", ";", "echo-err", "err", ";", "exit", "7")
	assert.Equal(t, 7, r.code)
	assert.Equal(t, "out\n", r.stdout)
	assert.Equal(t, "err\n", r.stderr)
	cs, err := e.rt.List(context.Background(), ctrgate.ListFilter{All: true})
	require.NoError(t, err)
	assert.Empty(t, cs)

	// Without --rm the container stays, exited with its code.
	r = e.run("run", "-a", "--name", "keep", "testimage", "exit", "3")
	assert.Equal(t, 3, r.code)
	c, err := e.rt.Inspect(context.Background(), "keep")
	require.NoError(t, err)
	assert.Equal(t, ctrgate.StateExited, c.State.Status)
	assert.Equal(t, 3, c.State.ExitCode)
}

func TestRunAttachedJSON(t *testing.T) {
	e := newFakeEnv(t)
	r := e.run("--json", "run", "-a", "--rm", "--name", "j1", "--ready", "go", "testimage", "echo", "go", ";", "echo-err", "e", ";", "exit", "2")
	require.Equal(t, 2, r.code, "stderr: %s", r.stderr)
	assert.Empty(t, r.stderr)
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	require.Len(t, lines, 3, "stdout: %s", r.stdout)
	var l1, l2 jsonLogLine
	require.NoError(t, json.Unmarshal([]byte(lines[0]), &l1))
	require.NoError(t, json.Unmarshal([]byte(lines[1]), &l2))
	assert.Equal(t, jsonLogLine{Stream: "stdout", Text: "go", Time: l1.Time}, l1)
	assert.Equal(t, jsonLogLine{Stream: "stderr", Text: "e", Time: l2.Time}, l2)
	var res jsonRun
	require.NoError(t, json.Unmarshal([]byte(lines[2]), &res))
	assert.NotEmpty(t, res.ID)
	res.ID = ""
	assert.GreaterOrEqual(t, res.ReadyAfterMS, int64(0))
	res.ReadyAfterMS = 0
	assert.Equal(t, jsonRun{Name: "j1", Image: "testimage", Ready: true, ReadyLine: "go", Attached: true,
		Exited: true, ExitCode: 2, Removed: true}, res)
}

func TestLifecycleDetached(t *testing.T) {
	e := newFakeEnv(t)
	r := e.run("run", "--name", "web", "-l", "app=demo", "-l", "tier=front", "--ready", "up",
		"testimage", "echo", "hello", ";", "echo", "up", ";", "sleep", "60")
	require.Equal(t, 0, r.code, "stderr: %s", r.stderr)
	id := strings.TrimSpace(r.stdout)
	c, err := e.rt.Inspect(context.Background(), "web")
	require.NoError(t, err)
	assert.Equal(t, c.ID, id)
	assert.True(t, c.State.Running())

	// ps: table and JSON, filters.
	r = e.run("ps")
	require.Equal(t, 0, r.code, r.stderr)
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	require.Len(t, lines, 2, r.stdout)
	assert.Regexp(t, `^NAME\s+CONTAINER ID\s+IMAGE\s+STATUS\s+CREATED\s+PORTS$`, lines[0])
	assert.Regexp(t, `^web\s+`+shortID(id)+`\s+testimage\s+running\s+`, lines[1])

	r = e.run("ps", "--json", "-l", "app=demo", "--prefix", "we")
	require.Equal(t, 0, r.code, r.stderr)
	var ps []jsonContainer
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &ps))
	require.Len(t, ps, 1)
	assert.Equal(t, "web", ps[0].Name)
	assert.Equal(t, id, ps[0].ID)
	assert.Equal(t, "running", ps[0].Status)
	assert.True(t, ps[0].Running)
	assert.Equal(t, map[string]string{"app": "demo", "tier": "front"}, ps[0].Labels)

	r = e.run("ps", "--json", "-l", "app=other")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Equal(t, "[]\n", r.stdout)
	r = e.run("ps", "-q", "--prefix", "nomatch")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Empty(t, r.stdout)

	// logs, --tail, --json.
	r = e.run("logs", "web")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Equal(t, "hello\nup\n", r.stdout)
	r = e.run("logs", "--tail", "1", "web")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Equal(t, "up\n", r.stdout)
	r = e.run("logs", "--json", "web")
	require.Equal(t, 0, r.code, r.stderr)
	var ll jsonLogLine
	require.NoError(t, json.Unmarshal([]byte(strings.Split(r.stdout, "\n")[0]), &ll))
	assert.Equal(t, "hello", ll.Text)
	assert.Equal(t, "stdout", ll.Stream)

	// exec: output, exit code, env, workdir, stdin.
	r = e.run("exec", "web", "/testprog", "echo", "hi")
	assert.Equal(t, 0, r.code, r.stderr)
	assert.Equal(t, "hi\n", r.stdout)
	r = e.run("exec", "web", "/testprog", "exit", "5")
	assert.Equal(t, 5, r.code)
	r = e.run("exec", "-e", "FOO=bar", "-w", "/tmp", "web", "/testprog", "getenv", "FOO", ";", "pwd")
	assert.Equal(t, 0, r.code, r.stderr)
	assert.Equal(t, "bar\n/tmp\n", r.stdout)
	r = e.runStdin("piped input\n", "exec", "-i", "web", "/testprog", "stdin")
	assert.Equal(t, 0, r.code, r.stderr)
	assert.Equal(t, "piped input\n", r.stdout)
	r = e.run("exec", "--json", "web", "/testprog", "echo-err", "oops", ";", "exit", "4")
	assert.Equal(t, 4, r.code)
	var ex jsonExec
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &ex))
	assert.Equal(t, jsonExec{ExitCode: 4, Stdout: "", Stderr: "oops\n"}, ex)

	// stop: SIGTERM ends the test program with 143; wait reports it.
	r = e.run("stop", "-t", "5", "web")
	assert.Equal(t, 0, r.code, r.stderr)
	assert.Equal(t, "web: stopped\n", r.stdout)
	r = e.run("wait", "web")
	assert.Equal(t, 143, r.code, r.stderr)
	assert.Equal(t, "143\n", r.stdout)
	r = e.run("ps")
	assert.Equal(t, 1, strings.Count(r.stdout, "\n"), "only the header: %s", r.stdout)
	r = e.run("ps", "-a")
	assert.Regexp(t, `web\s+\S+\s+testimage\s+exited \(143\)`, r.stdout)

	// exec on a stopped container: engine error, 125.
	r = e.run("exec", "web", "/testprog", "echo")
	assert.Equal(t, exitToolError, r.code)
	requireOneErrorLine(t, r.stderr)

	// rm: per-name lines; missing names fail without -f, are ignored with -f.
	r = e.run("rm", "web", "ghost")
	assert.Equal(t, exitToolError, r.code)
	assert.Equal(t, "web: removed\n", r.stdout)
	msg, hint := requireOneErrorLine(t, r.stderr)
	assert.Contains(t, msg, "rm ghost")
	assert.Contains(t, hint, "ctrgate ps -a")
	r = e.run("rm", "-f", "ghost")
	assert.Equal(t, 0, r.code, r.stderr)
	assert.Equal(t, "ghost: not found (ignored)\n", r.stdout)
}

func TestStopKillRmJSON(t *testing.T) {
	e := newFakeEnv(t)
	for _, n := range []string{"a1", "a2"} {
		r := e.run("run", "--name", n, "testimage", "sleep", "60")
		require.Equal(t, 0, r.code, r.stderr)
	}
	r := e.run("kill", "--json", "-s", "TERM", "a1", "zz")
	assert.Equal(t, exitToolError, r.code)
	var res []jsonResult
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &res))
	require.Len(t, res, 2)
	assert.Equal(t, jsonResult{Name: "a1", OK: true, Result: "killed"}, res[0])
	assert.Equal(t, "zz", res[1].Name)
	assert.False(t, res[1].OK)
	assert.Equal(t, "not_found", res[1].Result)
	assert.NotEmpty(t, res[1].Error)
	requireOneErrorLine(t, r.stderr)

	r = e.run("wait", "--json", "a1")
	assert.Equal(t, 143, r.code)
	var ws []jsonWait
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &ws))
	assert.Equal(t, []jsonWait{{Name: "a1", ExitCode: 143}}, ws)

	r = e.run("rm", "--json", "a2")
	assert.Equal(t, exitToolError, r.code, "a running container needs -f")
	res = nil
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &res))
	require.Len(t, res, 1)
	assert.False(t, res[0].OK)
	assert.Equal(t, "failed", res[0].Result)

	r = e.run("rm", "--json", "-f", "a1", "a2", "gone")
	assert.Equal(t, 0, r.code, r.stderr)
	res = nil
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &res))
	assert.Equal(t, []jsonResult{
		{Name: "a1", OK: true, Result: "removed"},
		{Name: "a2", OK: true, Result: "removed"},
		{Name: "gone", OK: true, Result: "not_found"},
	}, res)
}

func TestWaitDetachedExitCode(t *testing.T) {
	e := newFakeEnv(t)
	r := e.run("run", "--name", "w1", "testimage", "sleep", "100ms", ";", "exit", "42")
	require.Equal(t, 0, r.code, r.stderr)
	r = e.run("wait", "w1")
	assert.Equal(t, 42, r.code)
	assert.Equal(t, "42\n", r.stdout)
	// wait on several: exit code of the last.
	r = e.run("run", "--name", "w2", "testimage", "exit", "0")
	require.Equal(t, 0, r.code, r.stderr)
	r = e.run("wait", "w1", "w2")
	assert.Equal(t, 0, r.code)
	assert.Equal(t, "42\n0\n", r.stdout)
}

func TestReadyFailures(t *testing.T) {
	e := newFakeEnv(t)
	// The container exits before the marker: 125, removed with --rm.
	r := e.run("run", "--rm", "--name", "early", "--ready", "NEVER", "testimage", "exit", "4")
	assert.Equal(t, exitToolError, r.code)
	msg, _ := requireOneErrorLine(t, r.stderr)
	assert.Regexp(t, `container early exited.*before it was ready`, msg)
	_, err := e.rt.Inspect(context.Background(), "early")
	assert.ErrorIs(t, err, ctrgate.ErrNotFound)

	// Timeout: without --rm the container is left running and the hint says so.
	start := time.Now()
	r = e.run("run", "--name", "slow", "--ready", "NEVER", "--ready-timeout", "300ms", "testimage", "sleep", "60")
	assert.Equal(t, exitToolError, r.code)
	assert.Less(t, time.Since(start), 10*time.Second)
	msg, hint := requireOneErrorLine(t, r.stderr)
	assert.Equal(t, "container slow was not ready after 300ms", msg)
	assert.Contains(t, hint, "ctrgate rm -f slow")
	running, err := ctrgate.IsRunning(context.Background(), e.rt, "slow")
	require.NoError(t, err)
	assert.True(t, running)

	// Attached timeout with --rm: removed.
	r = e.run("run", "-a", "--rm", "--name", "slow2", "--ready-regexp", "^NEV.R$", "--ready-timeout", "300ms", "testimage", "echo", "x", ";", "sleep", "60")
	assert.Equal(t, exitToolError, r.code)
	assert.Equal(t, "x\n", r.stdout)
	assert.Contains(t, r.stderr, "ctrgate: container slow2 was not ready after 300ms (removed)\n")
	_, err = e.rt.Inspect(context.Background(), "slow2")
	assert.ErrorIs(t, err, ctrgate.ErrNotFound)

	// Attached: exits 0 without the marker: still a readiness failure.
	r = e.run("run", "-a", "--rm", "--ready", "NEVER", "testimage", "echo", "x")
	assert.Equal(t, exitToolError, r.code)
	assert.Contains(t, r.stderr, "exited with code 0 before it was ready")
}

func TestSecretsNeverPrinted(t *testing.T) {
	e := newFakeEnv(t)
	const secret = "s3cr3t-value-xyz"
	const keyed = "keyed-value-abc"
	const hostSecret = "from-host-env-789"
	e.vars["HOST_SECRET"] = hostSecret
	checkClean := func(r result) {
		t.Helper()
		for _, s := range []string{secret, keyed, hostSecret} {
			assert.NotContains(t, r.stdout, s)
			assert.NotContains(t, r.stderr, s)
		}
	}
	// Container output: plain print of a secret value, env listing, stderr.
	r := e.run("run", "-a", "--rm", "--secret-env", "PLAINNAME="+secret, "-e", "MY_API_KEY="+keyed,
		"--secret-env", "HOST_SECRET", "-e", "VISIBLE=shown",
		"testimage", "getenv", "PLAINNAME", ";", "env", ";", "echo-err", secret, keyed, ";", "getenv", "HOST_SECRET")
	assert.Equal(t, 0, r.code, r.stderr)
	checkClean(r)
	assert.Contains(t, r.stdout, "VISIBLE=shown")
	assert.Contains(t, r.stdout, "[REDACTED]")
	assert.Contains(t, r.stderr, "[REDACTED] [REDACTED]")

	// JSON output of the same.
	r = e.run("--json", "run", "-a", "--rm", "--secret-env", "PLAINNAME="+secret, "testimage", "getenv", "PLAINNAME")
	assert.Equal(t, 0, r.code, r.stderr)
	checkClean(r)
	assert.Contains(t, r.stdout, `"text":"[REDACTED]"`)

	// Error paths: the secret inside an invalid image reference and a name.
	r = e.run("run", "--secret-env", "X="+secret, "testimage:"+secret+"-missing")
	assert.Equal(t, exitToolError, r.code)
	checkClean(r)
	requireOneErrorLine(t, r.stderr)
	r = e.run("run", "--secret-env", "X="+secret, "--name", "bad name "+secret, "testimage")
	assert.Equal(t, exitToolError, r.code)
	checkClean(r)

	// exec output.
	r = e.run("run", "--name", "sec", "testimage", "sleep", "60")
	require.Equal(t, 0, r.code, r.stderr)
	r = e.run("exec", "--secret-env", "TOK="+secret, "sec", "/testprog", "getenv", "TOK", ";", "echo-err", secret)
	assert.Equal(t, 0, r.code, r.stderr)
	checkClean(r)
	assert.Equal(t, "[REDACTED]\n", r.stdout)
	r = e.run("exec", "--json", "--secret-env", "TOK="+secret, "sec", "/testprog", "getenv", "TOK")
	checkClean(r)

	// A later `logs` cannot know the values, but KEY=VALUE pairs with
	// sensitive keys are masked anyway.
	r = e.run("run", "-a", "--name", "envdump", "-e", "DB_PASSWORD="+keyed, "testimage", "env")
	require.Equal(t, 0, r.code, r.stderr)
	checkClean(r)
	r = e.run("logs", "envdump")
	require.Equal(t, 0, r.code, r.stderr)
	checkClean(r)
	assert.Contains(t, r.stdout, "DB_PASSWORD=[REDACTED]")
}

func TestErrorsExit125(t *testing.T) {
	e := newFakeEnv(t)
	cases := []struct {
		args     []string
		msg      string
		hintPart string
	}{
		{[]string{"frobnicate"}, `unknown command "frobnicate"`, "ctrgate -h"},
		{[]string{"ps", "--bogus"}, "ps: unknown flag: --bogus", "ctrgate ps -h"},
		{[]string{"image", "rm", "--bogus", "x"}, "image rm: unknown flag: --bogus", "ctrgate image rm -h"},
		{[]string{"image"}, "image: want a subcommand", "ctrgate image -h"},
		{[]string{"nosuchcommand"}, `unknown command "nosuchcommand"`, "ctrgate -h"},
		{[]string{"run"}, "run: want an image", "ctrgate run -h"},
		{[]string{"run", "-p", "x:y", "testimage"}, `invalid port "x:y"`, "ctrgate run -h"},
		{[]string{"run", "--pull", "never", "nosuchimage"}, "nosuchimage", "ctrgate pull"},
		{[]string{"inspect", "ghost"}, "ghost", "ctrgate ps -a"},
		{[]string{"logs", "ghost"}, "ghost", "ctrgate ps -a"},
		{[]string{"wait", "ghost"}, "wait ghost", "ctrgate ps -a"},
		{[]string{"exec", "ghost", "true"}, "ghost", "ctrgate ps -a"},
		{[]string{"run", "--name", "-bad", "testimage"}, "invalid spec: Name", "Name"},
		{[]string{"logs", "--since", "yesterday", "x"}, "invalid --since", "ctrgate logs -h"},
		{[]string{"kill", "-s", "SIGNOPE", "x"}, "unknown signal", "Signal"},
		{[]string{"images", "-l", "=x"}, "the name before '=' is empty", "ctrgate images -h"},
		{[]string{"images", "a", "b"}, "at most one reference prefix", "ctrgate images -h"},
		{[]string{"run", "--gpus", "all", "testimage", "echo"}, "GPU", ctrgate.GPUHint},
		{[]string{"run", "--gpus", ",,,", "testimage", "echo"}, `--gpus ",,," names no device`, "ctrgate run -h"},
		{[]string{"run", "--user", "::", "testimage", "echo"}, `invalid spec: User: invalid user "::"`, "fix the User value"},
		{[]string{"run", "-l", "=v", "testimage", "echo"}, `invalid label "=v": the name before '=' is empty`, "ctrgate run -h"},
	}
	for _, c := range cases {
		t.Run(strings.Join(c.args, "_"), func(t *testing.T) {
			r := e.run(c.args...)
			assert.Equal(t, exitToolError, r.code, "stderr: %s", r.stderr)
			msg, hint := requireOneErrorLine(t, r.stderr)
			assert.Contains(t, msg, c.msg)
			assert.Contains(t, hint, c.hintPart)
		})
	}
	r := e.run("run", "--name", "dup", "testimage", "sleep", "60")
	require.Equal(t, 0, r.code, r.stderr)
	r = e.run("run", "--name", "dup", "testimage", "sleep", "60")
	assert.Equal(t, exitToolError, r.code)
	_, hint := requireOneErrorLine(t, r.stderr)
	assert.Contains(t, hint, "rm -f")

	// --timeout bounds blocking commands.
	r = e.run("--timeout", "200ms", "wait", "dup")
	assert.Equal(t, exitToolError, r.code)
	_, hint = requireOneErrorLine(t, r.stderr)
	assert.Contains(t, hint, "--timeout")
}

func TestHelpAndVersion(t *testing.T) {
	e := newFakeEnv(t)
	r := e.run("-h")
	assert.Equal(t, 0, r.code)
	for _, c := range commands() {
		assert.Contains(t, r.stdout, "  "+c.name)
	}
	r = e.run("run", "-h")
	assert.Equal(t, 0, r.code)
	assert.Contains(t, r.stdout, "-ready-timeout")
	r = e.run("help", "ps")
	assert.Equal(t, 0, r.code)
	assert.Contains(t, r.stdout, "-prefix")
	r = e.run("version", "--json")
	assert.Equal(t, 0, r.code)
	assert.JSONEq(t, `{"version":"dev"}`, r.stdout)
	r = e.run()
	assert.Equal(t, exitToolError, r.code)
	assert.Contains(t, r.stderr, "ctrgate: no command given\n")

	// Subcommands have their own help; global flags go before or after
	// the command name; flags stop at the first argument.
	r = e.run("image", "-h")
	assert.Equal(t, 0, r.code)
	for _, sub := range []string{"ls", "exists", "rm", "import-testimage"} {
		assert.Contains(t, r.stdout, "  "+sub)
	}
	r = e.run("--json", "image", "exists", "testimage")
	assert.Equal(t, 0, r.code, r.stderr)
	assert.JSONEq(t, `{"ref":"testimage","exists":true}`, r.stdout)
	r = e.run("image", "exists", "--json", "testimage")
	assert.Equal(t, 0, r.code, r.stderr)
	assert.JSONEq(t, `{"ref":"testimage","exists":true}`, r.stdout)
	r = e.run("run", "-a", "--rm", "testimage", "echo", "-a", "--json")
	assert.Equal(t, 0, r.code, r.stderr)
	assert.Equal(t, "-a --json\n", r.stdout, "flags after the image belong to the container's command")

	// Shell completion, from the same command table.
	for _, sh := range []string{"bash", "zsh", "fish"} {
		r = e.run("completion", sh)
		assert.Equal(t, 0, r.code, r.stderr)
		assert.Contains(t, r.stdout, "ctrgate", sh)
	}
	r = e.run("__complete", "im")
	assert.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, "images\t")
	assert.Contains(t, r.stdout, "image\t")
}

func TestInfo(t *testing.T) {
	e := newFakeEnv(t)
	r := e.run("info")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Regexp(t, `(?m)^Backend:\s+fake$`, r.stdout)
	assert.Regexp(t, `(?m)^GPUs \(CDI\):\s+not configured`, r.stdout)
	r = e.run("info", "--json")
	require.Equal(t, 0, r.code, r.stderr)
	var ji jsonInfo
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &ji))
	want, err := e.rt.Info(context.Background())
	require.NoError(t, err)
	opts := ji.Options
	ji.Options = []jsonOption{}
	assert.Equal(t, toJSONInfo(want), ji)
	require.Len(t, opts, 3, "the fake's options: %+v", opts)
	assert.Equal(t, jsonOption{Key: "timeout", Value: "2m0s", Source: "default", Default: "2m0s",
		Doc: opts[0].Doc}, opts[0])
	assert.Equal(t, jsonOption{Key: "liveness_probe", Value: "10s", Source: "default", Default: "10s",
		Doc: opts[1].Doc}, opts[1])
	assert.Equal(t, "unset", opts[2].Source)
	human := e.run("info").stdout
	assert.Regexp(t, `(?m)^Options:\s+timeout=2m0s \(default\)$`, human)
	assert.Regexp(t, `(?m)^\s+liveness_probe=10s \(default\)$`, human)
}

func TestImageLsIsImages(t *testing.T) {
	e := newFakeEnv(t)
	a, b := e.run("images", "-q"), e.run("image", "ls", "-q")
	assert.Equal(t, 0, a.code, a.stderr)
	assert.Equal(t, a, b)
	assert.NotEmpty(t, a.stdout)
}

func TestImagesList(t *testing.T) {
	e := newFakeEnv(t)
	require.NoError(t, e.rt.AddImage("localhost/app/web:1", fake.ImageConfig{Labels: map[string]string{"tier": "front", "api_token": "s3cr3t"},
		Files: map[string][]byte{"/etc/motd": []byte("hello")}}))
	require.NoError(t, e.rt.AddImage("localhost/app/db:1", fake.ImageConfig{Labels: map[string]string{"tier": "back"}}))

	r := e.run("images", "localhost/app/")
	require.Equal(t, 0, r.code, r.stderr)
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	require.Len(t, lines, 3, r.stdout)
	assert.Regexp(t, `^REFERENCE\s+IMAGE ID\s+CREATED\s+SIZE$`, lines[0])
	assert.Regexp(t, `^localhost/app/(web|db):1\s+[0-9a-f]{12}\s+\d+ seconds ago\s+\d+B$`, lines[1])

	r = e.run("images", "-q", "-l", "tier=front")
	require.Equal(t, 0, r.code, r.stderr)
	imgs, err := e.rt.ListImages(context.Background(), ctrgate.ImageFilter{RefPrefix: "localhost/app/web"})
	require.NoError(t, err)
	require.Len(t, imgs, 1)
	assert.Equal(t, imgs[0].ID+"\n", r.stdout)

	r = e.run("--json", "images", "localhost/app/w")
	require.Equal(t, 0, r.code, r.stderr)
	var out []jsonImageEntry
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &out))
	require.Len(t, out, 1)
	assert.Equal(t, []string{"localhost/app/web:1"}, out[0].Refs)
	assert.Equal(t, int64(5), out[0].Size)
	assert.Equal(t, "front", out[0].Labels["tier"])
	assert.NotContains(t, r.stdout, "s3cr3t", "sensitive label values are masked")

	r = e.run("--json", "images", "nothing/")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Equal(t, "[]\n", r.stdout)
}

func TestImagesPullImport(t *testing.T) {
	e := newFakeEnv(t)
	r := e.run("image", "exists", "testimage")
	assert.Equal(t, 0, r.code, r.stderr)
	assert.Equal(t, "testimage: present\n", r.stdout)
	r = e.run("image", "exists", "--json", "nope")
	assert.Equal(t, exitImageAbsent, r.code)
	assert.JSONEq(t, `{"ref":"nope","exists":false}`, r.stdout)

	// pull with the terminal progress display.
	e.tty = true
	r = e.run("pull", "testimage")
	assert.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stderr, "pulling testimage")
	assert.True(t, strings.HasSuffix(r.stderr, "\r\033[K"), "the progress line is cleared: %q", r.stderr)
	assert.Regexp(t, `^testimage: pulled \(`, r.stdout)
	r = e.run("--json", "pull", "testimage")
	assert.Equal(t, 0, r.code, r.stderr)
	assert.Empty(t, r.stderr, "no progress display with --json, even on a terminal")
	e.tty = false
	r = e.run("pull", "--policy", "missing", "nosuch/image:1")
	assert.Equal(t, exitToolError, r.code)
	assert.Empty(t, r.stderr[:strings.Index(r.stderr, "ctrgate:")], "no progress display without a terminal")

	// import a rootfs tar from a file and from stdin; the fake runs the
	// registered /testprog for the entrypoint.
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	require.NoError(t, tw.WriteHeader(&tar.Header{Name: "etc/", Typeflag: tar.TypeDir, Mode: 0o755}))
	require.NoError(t, tw.Close())
	file := filepath.Join(t.TempDir(), "rootfs.tar")
	require.NoError(t, os.WriteFile(file, buf.Bytes(), 0o644))
	r = e.run("import", "--entrypoint", "/testprog", "--cmd", `["echo","imported ok"]`, file, "localhost/mine:1")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Equal(t, "localhost/mine:1: imported\n", r.stdout)
	r = e.run("run", "-a", "--rm", "localhost/mine:1")
	assert.Equal(t, 0, r.code, r.stderr)
	assert.Equal(t, "imported ok\n", r.stdout)
	r = e.runStdin(buf.String(), "import", "--json", "--entrypoint", "/testprog", "-", "localhost/other:2")
	require.Equal(t, 0, r.code, r.stderr)
	assert.JSONEq(t, `{"ref":"localhost/other:2","imported":true}`, r.stdout)

	r = e.run("image", "rm", "localhost/other:2")
	assert.Equal(t, 0, r.code, r.stderr)
	r = e.run("image", "exists", "localhost/other:2")
	assert.Equal(t, exitImageAbsent, r.code)
}

func TestPortsVolumesOnFake(t *testing.T) {
	e := newFakeEnv(t)
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "f.txt"), []byte("from host\n"), 0o644))
	r := e.run("run", "-a", "--rm", "-v", dir+":/mnt:ro", "--tmpfs", "/scratch:size=1m",
		"testimage", "cat", "/mnt/f.txt", ";", "write", "/scratch/x", "y", ";", "cat", "/scratch/x")
	assert.Equal(t, 0, r.code, r.stderr)
	assert.Equal(t, "from host\ny\n", r.stdout, "a final line without newline is printed as a line")

	r = e.run("run", "--name", "srv", "-p", "127.0.0.1::8080", "--ready", "listening", "testimage", "serve-tcp", "8080")
	require.Equal(t, 0, r.code, r.stderr)
	r = e.run("ps", "--json")
	var ps []jsonContainer
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &ps))
	require.Len(t, ps, 1)
	require.Len(t, ps[0].Ports, 1)
	assert.Equal(t, 8080, ps[0].Ports[0].ContainerPort)
	assert.Equal(t, "tcp", ps[0].Ports[0].Protocol)
	assert.NotZero(t, ps[0].Ports[0].HostPort)
	r = e.run("rm", "-f", "srv")
	assert.Equal(t, 0, r.code, r.stderr)
}

func TestRunAttachedInterrupted(t *testing.T) {
	e := newFakeEnv(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	time.AfterFunc(500*time.Millisecond, cancel)
	r := e.runCtx(ctx, "", "run", "-a", "--rm", "--name", "intr", "testimage", "echo", "started", ";", "sleep", "60")
	assert.Equal(t, exitInterrupted, r.code)
	assert.Equal(t, "started\n", r.stdout)
	assert.Equal(t, "ctrgate: interrupted\n", r.stderr)
	_, err := e.rt.Inspect(context.Background(), "intr")
	assert.ErrorIs(t, err, ctrgate.ErrNotFound, "--rm removes an interrupted container")
}

func TestEvents(t *testing.T) {
	e := newFakeEnv(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan result, 1)
	go func() { done <- e.runCtx(ctx, "", "events", "--json", "--prefix", "ev-") }()
	// Wait until the events stream is open: the fake records the call.
	require.Eventually(t, func() bool { return len(e.rt.CallsTo("Events")) > 0 }, 5*time.Second, 10*time.Millisecond)
	r := e.run("run", "-a", "--rm", "--name", "ev-1", "testimage", "exit", "3")
	require.Equal(t, 3, r.code, r.stderr)
	r = e.run("run", "-a", "--rm", "--name", "other", "testimage", "exit", "0")
	require.Equal(t, 0, r.code, r.stderr)
	var types []string
	// The remove event of ev-1 precedes the second run's events, so once
	// the second run has finished, every event of ev-1 has been delivered.
	require.Eventually(t, func() bool { return len(e.rt.CallsTo("Remove")) >= 2 }, 5*time.Second, 10*time.Millisecond)
	time.Sleep(100 * time.Millisecond)
	cancel()
	r = <-done
	assert.Equal(t, 0, r.code, r.stderr)
	for _, line := range strings.Split(strings.TrimSpace(r.stdout), "\n") {
		var ev jsonEvent
		require.NoError(t, json.Unmarshal([]byte(line), &ev), line)
		assert.Equal(t, "ev-1", ev.Name)
		types = append(types, ev.Type)
		if ev.Type == "die" {
			require.NotNil(t, ev.ExitCode)
			assert.Equal(t, 3, *ev.ExitCode)
		}
	}
	assert.Equal(t, []string{"create", "start", "die", "remove"}, types)
}

// runWithOpen runs an invocation on the real opener (openDefault) whose
// backend.Open is replaced by open.
func runWithOpen(t *testing.T, open func(context.Context, backend.Config) (ctrgate.ContainerRuntime, error),
	getenv func(string) string, args ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	a := newApp(strings.NewReader(""), &out, &errb, getenv)
	a.openBackend = open
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	code := a.main(ctx, args)
	return result{code: code, stdout: out.String(), stderr: errb.String()}
}

func TestAutoWithoutEngineFails(t *testing.T) {
	var got []backend.Config
	noEngine := func(_ context.Context, cfg backend.Config) (ctrgate.ContainerRuntime, error) {
		got = append(got, cfg)
		return nil, ctrgate.NewEngineError("auto", "open", "", ctrgate.ErrEngineUnavailable,
			"no container engine found (probed podman-api: no socket; podman-cli: not installed; docker: no socket)", nil, nil)
	}
	noEnv := func(string) string { return "" }
	r := runWithOpen(t, noEngine, noEnv, "run", "--rm", "-a", "--ready", "READY", "testimage", "marker", "READY", "500ms")
	assert.Equal(t, exitToolError, r.code, r.stderr)
	assert.Empty(t, r.stdout, "no container ran")
	lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
	require.Len(t, lines, 2, r.stderr)
	assert.Equal(t, "ctrgate: auto: open: container engine unavailable: no container engine found (probed podman-api: no socket; podman-cli: not installed; docker: no socket)", lines[0])
	assert.Contains(t, lines[1], "hint: no engine answered (probed podman-api, podman-cli, docker): start one")
	assert.Contains(t, lines[1], "--backend fake")
	require.Len(t, got, 1)
	assert.Equal(t, "auto", got[0].Backend)

	r = runWithOpen(t, noEngine, noEnv, "info", "--json")
	assert.Equal(t, exitToolError, r.code, r.stderr)
	assert.Empty(t, r.stdout)

	// The fake, chosen explicitly, forgets containers between invocations;
	// the hint says so.
	r = runWithOpen(t, backend.Open, noEnv, "--backend", "fake", "logs", "gone")
	assert.Equal(t, exitToolError, r.code)
	assert.Contains(t, r.stderr, "forgets its containers")

	// An explicitly chosen backend gets its own hint.
	env := func(k string) string {
		if k == "CTRGATE_BACKEND" {
			return "docker"
		}
		return ""
	}
	unavailable := func(_ context.Context, cfg backend.Config) (ctrgate.ContainerRuntime, error) {
		got = append(got, cfg)
		return nil, ctrgate.NewEngineError(cfg.Backend, "open", "", ctrgate.ErrEngineUnavailable, "cannot connect", nil, nil)
	}
	r = runWithOpen(t, unavailable, env, "ps")
	assert.Equal(t, exitToolError, r.code)
	msg, hint := requireOneErrorLine(t, r.stderr)
	assert.Equal(t, "docker: open: container engine unavailable: cannot connect", msg)
	assert.Contains(t, hint, "dockerd")
	assert.Equal(t, "docker", got[len(got)-1].Backend)
	// --backend beats the environment.
	r = runWithOpen(t, unavailable, env, "--backend", "podman-api", "ps")
	assert.Equal(t, exitToolError, r.code)
	assert.Equal(t, "podman-api", got[len(got)-1].Backend)
}

func TestBackendFakeFlagHasTestImage(t *testing.T) {
	r := runWithOpen(t, backend.Open, func(string) string { return "" }, "--backend", "fake", "run", "-a", "--rm", "testimage", "echo", "hi")
	assert.Equal(t, 0, r.code, r.stderr)
	assert.Equal(t, "hi\n", r.stdout)
	assert.Empty(t, r.stderr)
}

func TestConfigFile(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.json")
	require.NoError(t, os.WriteFile(good, []byte(`{"backend": "fake"}`), 0o644))
	bad := filepath.Join(dir, "bad.json")
	require.NoError(t, os.WriteFile(bad, []byte(`{"backend": "fake", "bogus": 1}`), 0o644))
	r := runWithOpen(t, backend.Open, func(string) string { return "" }, "--config", good, "info", "--json")
	assert.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, `"backend": "fake"`)
	r = runWithOpen(t, backend.Open, func(string) string { return "" }, "--config", bad, "info")
	assert.Equal(t, exitToolError, r.code)
	_, hint := requireOneErrorLine(t, r.stderr)
	assert.Contains(t, hint, "config file")
}

func TestSecretInLaterFlagError(t *testing.T) {
	e := newFakeEnv(t)
	const secret = "early-secret-4711"
	// A flag error after --secret-env: the value was recorded on Set.
	r := e.run("run", "--secret-env", "A="+secret, "--ready-timeout", secret, "testimage")
	assert.Equal(t, exitToolError, r.code)
	assert.NotContains(t, r.stderr, secret)
	assert.Contains(t, r.stderr, "[REDACTED]")
}

func TestLogsFollowAndTimestamps(t *testing.T) {
	e := newFakeEnv(t)
	r := e.run("run", "--name", "lf", "testimage", "echo", "a", ";", "sleep", "300ms", ";", "echo-err", "b")
	require.Equal(t, 0, r.code, r.stderr)
	start := time.Now()
	r = e.run("logs", "-f", "lf")
	assert.Equal(t, 0, r.code, r.stderr)
	assert.Equal(t, "a\n", r.stdout)
	assert.Equal(t, "b\n", r.stderr)
	assert.GreaterOrEqual(t, time.Since(start), 200*time.Millisecond, "followed until the container exited")
	r = e.run("logs", "-t", "lf")
	assert.Equal(t, 0, r.code, r.stderr)
	assert.Regexp(t, `^\d{4}-\d\d-\d\dT\S+Z a\n$`, r.stdout)
	r = e.run("logs", "--since", "1h", "lf")
	assert.Equal(t, "a\n", r.stdout)
	r = e.run("logs", "--since", time.Now().Add(time.Hour).Format(time.RFC3339), "lf")
	assert.Empty(t, r.stdout)
}
