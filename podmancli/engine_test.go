package podmancli_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/ctrgate/ctrgate"
	"github.com/ctrgate/ctrgate/conformance"
	"github.com/ctrgate/ctrgate/podmancli"
)

const testImage = "localhost/ctrgate/podmancli-test:1"

// engineFixture returns a runtime on the real engine with the test image
// imported, and a unique name prefix whose containers are removed at the
// end of the test.
func engineFixture(t *testing.T) (ctrgate.ContainerRuntime, string) {
	t.Helper()
	cfg := engineConfig(t)
	tarball := conformance.TestImageTar(t)
	rt := newEngine(t, cfg)
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	prefix := "pcli-" + hex.EncodeToString(b) + "-"
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	require.NoError(t, rt.ImportImage(ctx, testImage, bytes.NewReader(tarball),
		ctrgate.ImportOptions{Entrypoint: []string{conformance.TestProgPath}}))
	t.Cleanup(func() {
		_ = rt.Close()
		rt := newEngine(t, cfg) // the test may have closed its runtime
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		cs, err := rt.List(ctx, ctrgate.ListFilter{NamePrefix: prefix, All: true})
		if assert.NoError(t, err) {
			var names []string
			for _, c := range cs {
				names = append(names, c.Name)
			}
			assert.NoError(t, ctrgate.FirstError(ctrgate.RemoveAll(ctx, rt, names)))
		}
		assert.NoError(t, rt.Close())
	})
	return rt, prefix
}

func run(t *testing.T, ctx context.Context, rt ctrgate.ContainerRuntime, spec ctrgate.ContainerSpec) {
	t.Helper()
	if spec.Image == "" {
		spec.Image = testImage
	}
	spec.PullPolicy = ctrgate.PullNever
	_, err := ctrgate.Run(ctx, rt, spec)
	require.NoError(t, err)
}

// TestStreamsLeaveNoProcesses opens every kind of stream (followed logs,
// events, CopyFrom), abandons them half-read, closes or cancels them, and
// checks that no podman child and no goroutine is left.
func TestStreamsLeaveNoProcesses(t *testing.T) {
	ignore := goleak.IgnoreCurrent()
	rt, prefix := engineFixture(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	name := prefix + "streams"
	run(t, ctx, rt, ctrgate.ContainerSpec{Name: name, Command: []string{"echo", "started", ";", "sleep", "60"}})

	ev, err := rt.Events(ctx, ctrgate.EventFilter{NamePrefix: prefix})
	require.NoError(t, err)

	logs, err := rt.Logs(ctx, name, ctrgate.LogOptions{Follow: true})
	require.NoError(t, err)
	l, err := logs.Next()
	require.NoError(t, err)
	assert.Equal(t, "started", l.Text)

	cp, err := rt.CopyFrom(ctx, name, conformance.TestProgPath)
	require.NoError(t, err)
	buf := make([]byte, 512)
	_, err = io.ReadFull(cp, buf)
	require.NoError(t, err)

	// a followed log ended by its context
	lctx, lcancel := context.WithCancel(ctx)
	logs2, err := rt.Logs(lctx, name, ctrgate.LogOptions{Follow: true})
	require.NoError(t, err)
	_, err = logs2.Next()
	require.NoError(t, err)
	lcancel()
	_, err = logs2.Next()
	for err == nil {
		_, err = logs2.Next()
	}
	assert.True(t, errors.Is(err, context.Canceled) || errors.Is(err, io.EOF), "got %v", err)

	require.NoError(t, cp.Close())
	require.NoError(t, logs.Close())
	require.NoError(t, logs2.Close())
	require.NoError(t, ev.Close())
	_, err = ev.Next()
	assert.ErrorIs(t, err, io.EOF)

	// a stream left open is ended by the runtime's Close
	logs3, err := rt.Logs(ctx, name, ctrgate.LogOptions{Follow: true})
	require.NoError(t, err)
	require.NoError(t, rt.Remove(ctx, name, ctrgate.RemoveOptions{Force: true}))
	require.NoError(t, rt.Close())
	for err == nil {
		_, err = logs3.Next()
	}
	requireNoPodmanChildren(t)
	assert.NoError(t, goleak.Find(ignore, goleak.IgnoreTopFunction("time.Sleep")))
}

// TestFollowEndsWhenContainerExits checks that a followed log ends by
// itself when the container exits, including a container that was only
// created when Logs was called.
func TestFollowEndsWhenContainerExits(t *testing.T) {
	rt, prefix := engineFixture(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	name := prefix + "follow"
	_, err := rt.Create(ctx, ctrgate.ContainerSpec{Name: name, Image: testImage, PullPolicy: ctrgate.PullNever,
		Command: []string{"echo", "a", ";", "sleep", "1", ";", "echo-err", "b", ";", "no-newline", "c"}})
	require.NoError(t, err)
	st, err := rt.Logs(ctx, name, ctrgate.LogOptions{Follow: true})
	require.NoError(t, err)
	defer st.Close()
	time.Sleep(300 * time.Millisecond)
	start := time.Now()
	require.NoError(t, rt.Start(ctx, name))
	var got []ctrgate.LogLine
	for {
		l, err := st.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err)
		got = append(got, ctrgate.LogLine{Stream: l.Stream, Text: l.Text})
	}
	assert.Less(t, time.Since(start), 15*time.Second)
	assert.Equal(t, []ctrgate.LogLine{{Stream: ctrgate.Stdout, Text: "a"}, {Stream: ctrgate.Stderr, Text: "b"},
		{Stream: ctrgate.Stdout, Text: "c"}}, got)
}

// TestSecretEnvDelivered checks the ways secrets reach the container (podman's
// environment for "--env NAME", the 0600 env file for names podman reads
// itself) and that podman's recorded create command does not hold them.
func TestSecretEnvDelivered(t *testing.T) {
	rt, prefix := engineFixture(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	name := prefix + "secrets"
	secretVals := []string{"tok-9f8e7d6c", "multi\nline-secret", "home-5ecret"}
	run(t, ctx, rt, ctrgate.ContainerSpec{Name: name, Env: []ctrgate.EnvVar{
		{Name: "API_TOKEN", Value: secretVals[0]},
		{Name: "CERT", Value: secretVals[1], Secret: true},
		{Name: "HOME", Value: secretVals[2], Secret: true},
		{Name: "EMPTY_TOKEN", Value: ""},
	}, Command: []string{"getenv", "API_TOKEN", ";", "getenv", "CERT", ";", "getenv", "HOME", ";", "getenv", "EMPTY_TOKEN", ";", "echo", "end"}})
	code, err := rt.Wait(ctx, name)
	require.NoError(t, err)
	assert.Equal(t, 0, code)
	st, err := rt.Logs(ctx, name, ctrgate.LogOptions{})
	require.NoError(t, err)
	defer st.Close()
	var out []string
	for {
		l, err := st.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err)
		out = append(out, l.Text)
	}
	assert.Equal(t, []string{"tok-9f8e7d6c", "multi", "line-secret", "home-5ecret", "", "end"}, out)

	// podman records its command line in the container (CreateCommand);
	// with "--env NAME" it holds no value.
	cmdline := podmanCreateCommand(t, name)
	for _, v := range secretVals {
		assert.NotContains(t, cmdline, v)
	}
}

// podmanCreateCommand returns the podman command line recorded in a container.
func podmanCreateCommand(t *testing.T, name string) string {
	t.Helper()
	var env []string
	for _, e := range os.Environ() {
		if !strings.HasPrefix(e, "CONTAINER_HOST=") {
			env = append(env, e)
		}
	}
	cmd := exec.Command("podman", "container", "inspect", "--format", "json", "--", name)
	cmd.Env = env
	out, err := cmd.Output()
	require.NoError(t, err)
	var doc []struct {
		Config struct{ CreateCommand []string }
	}
	require.NoError(t, json.Unmarshal(out, &doc))
	require.Len(t, doc, 1)
	require.NotEmpty(t, doc[0].Config.CreateCommand)
	return strings.Join(doc[0].Config.CreateCommand, " ")
}

// TestWaitAutoRemove checks that Wait reports the exit code of a container
// removed on exit, even when Wait starts after the removal began.
func TestWaitAutoRemove(t *testing.T) {
	rt, prefix := engineFixture(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	name := prefix + "autorm"
	run(t, ctx, rt, ctrgate.ContainerSpec{Name: name, AutoRemove: true, Command: []string{"sleep", "1", ";", "exit", "7"}})
	code, err := rt.Wait(ctx, name)
	require.NoError(t, err)
	assert.Equal(t, 7, code)
}

func TestMain(m *testing.M) {
	code := m.Run()
	if os.Getenv("CTRGATE_PODMANCLI_NO_LEAKCHECK") == "" {
		if err := goleak.Find(); err != nil && code == 0 {
			os.Stderr.WriteString("goroutines left: " + err.Error() + "\n")
			code = 1
		}
	}
	os.Exit(code)
}

// TestWaitReadsConmonExitFile gives the runtime a podman whose `wait`
// never answers: Wait still returns the exit code, from the exit file
// conmon writes on this machine, for a container started here (Wait then
// runs no inspect) and for one known only by name; the hung `podman wait`
// is killed and reaped.
func TestWaitReadsConmonExitFile(t *testing.T) {
	cfg := engineConfig(t)
	if os.Getenv(podmancli.EnvRemote) == "true" {
		conformance.EngineMissing(t, "podman is in remote mode ("+podmancli.EnvRemote+"=true): its exit files may be on another machine; "+
			"run this test with a local podman (scripts/lanes.sh does)")
	}
	rt, prefix := engineFixture(t) // imports the test image, removes the containers
	real := cfg.Binary
	if real == "" {
		real = "podman"
	}
	real, err := exec.LookPath(real)
	require.NoError(t, err)
	wrapper := filepath.Join(t.TempDir(), "podman")
	require.NoError(t, os.WriteFile(wrapper, []byte("#!/bin/sh\n"+
		`for a in "$@"; do [ "$a" = wait ] && exec sleep 601; done`+"\n"+
		`exec '`+real+`' "$@"`+"\n"), 0o755))
	hung := cfg
	hung.Binary = wrapper
	hrt := newEngine(t, hung)
	defer hrt.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	started := prefix + "started-here"
	run(t, ctx, hrt, ctrgate.ContainerSpec{Name: started, Command: []string{"sleep", "700ms", ";", "exit", "7"}})
	code, err := hrt.Wait(ctx, started)
	require.NoError(t, err)
	assert.Equal(t, 7, code)
	// what Podman says next agrees (its queries read the same file)
	conformance.AssertExitedEverywhere(t, ctx, hrt, started, 7)

	byName := prefix + "by-name"
	run(t, ctx, rt, ctrgate.ContainerSpec{Name: byName, Command: []string{"sleep", "700ms", ";", "exit", "9"}})
	code, err = hrt.Wait(ctx, byName)
	require.NoError(t, err)
	assert.Equal(t, 9, code)

	assert.Empty(t, childrenWhere(t, func(comm string) bool { return comm == "sleep" }), "the hung podman wait is reaped")
}
