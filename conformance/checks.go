// Helpers and checks that several groups share.

package conformance

import (
	"bytes"
	"context"
	"fmt"
	"github.com/ctrgate/ctrgate"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"io"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// names lists the names matching f, sorted.
func names(t testing.TB, rt ctrgate.ContainerRuntime, ctx context.Context, f ctrgate.ListFilter) []string {
	t.Helper()
	cs, err := rt.List(ctx, f)
	require.NoError(t, err)
	out := []string{}
	for _, c := range cs {
		out = append(out, c.Name)
	}
	sort.Strings(out)
	return out
}

func itoa(n int) string { return strconv.Itoa(n) }

// AssertExitedEverywhere checks what every view of rt says of the container
// name right after its Wait returned code: Inspect and StatesByPrefix say
// exited with that code, and List of running containers leaves it out.
// The suite's Wait/EveryViewAgreesAfterWait and the backends' own Wait
// tests share it.
func AssertExitedEverywhere(t testing.TB, ctx context.Context, rt ctrgate.ContainerRuntime, name string, code int) {
	t.Helper()
	st, err := ctrgate.StateOf(ctx, rt, name)
	require.NoError(t, err)
	assert.Equal(t, ctrgate.StateExited, st.Status, "Inspect right after Wait: %s", name)
	assert.Equal(t, code, st.ExitCode, "Inspect right after Wait: %s", name)
	assert.NotContains(t, names(t, rt, ctx, ctrgate.ListFilter{NamePrefix: name}), name, "List of running containers right after Wait")
	states, err := ctrgate.StatesByPrefix(ctx, rt, name)
	require.NoError(t, err)
	assert.Equal(t, ctrgate.StateExited, states[name].Status, "StatesByPrefix right after Wait: %s", name)
	assert.Equal(t, code, states[name].ExitCode, "StatesByPrefix right after Wait: %s", name)
}

// nameMethod is one ContainerRuntime method that takes a container name.
type nameMethod struct {
	name  string
	call  func(ctx context.Context, rt ctrgate.ContainerRuntime, n string) error
	needs Capability // "" when every backend has the method
	op    string     // the EngineError.Op its failures carry (the method's name)
}

// nameMethods lists every method that takes a container name and that the
// backend supports.
func (s *suite) nameMethods() []nameMethod {
	var out []nameMethod
	for _, m := range allNameMethods() {
		if _, lacks := s.h.Lacks[m.needs]; m.needs == "" || !lacks {
			out = append(out, m)
		}
	}
	return out
}

func allNameMethods() []nameMethod {
	return []nameMethod{
		{"Start", func(ctx context.Context, rt ctrgate.ContainerRuntime, n string) error { return rt.Start(ctx, n) }, "", ctrgate.OpStart},
		{"Stop", func(ctx context.Context, rt ctrgate.ContainerRuntime, n string) error {
			return rt.Stop(ctx, n, time.Second)
		}, "", ctrgate.OpStop},
		{"Kill", func(ctx context.Context, rt ctrgate.ContainerRuntime, n string) error {
			return rt.Kill(ctx, n, "SIGTERM")
		}, "", ctrgate.OpKill},
		{"Remove", func(ctx context.Context, rt ctrgate.ContainerRuntime, n string) error {
			return rt.Remove(ctx, n, ctrgate.RemoveOptions{})
		}, "", ctrgate.OpRemove},
		{"RemoveForce", func(ctx context.Context, rt ctrgate.ContainerRuntime, n string) error {
			return rt.Remove(ctx, n, ctrgate.RemoveOptions{Force: true})
		}, "", ctrgate.OpRemove},
		{"Inspect", func(ctx context.Context, rt ctrgate.ContainerRuntime, n string) error {
			_, err := rt.Inspect(ctx, n)
			return err
		}, "", ctrgate.OpInspect},
		{"Wait", func(ctx context.Context, rt ctrgate.ContainerRuntime, n string) error {
			_, err := rt.Wait(ctx, n)
			return err
		}, "", ctrgate.OpWait},
		{"Logs", func(ctx context.Context, rt ctrgate.ContainerRuntime, n string) error {
			st, err := rt.Logs(ctx, n, ctrgate.LogOptions{})
			if err == nil {
				st.Close()
			}
			return err
		}, "", ctrgate.OpLogs},
		{"LogsFollow", func(ctx context.Context, rt ctrgate.ContainerRuntime, n string) error {
			st, err := rt.Logs(ctx, n, ctrgate.LogOptions{Follow: true})
			if err == nil {
				st.Close()
			}
			return err
		}, "", ctrgate.OpLogs},
		{"Exec", func(ctx context.Context, rt ctrgate.ContainerRuntime, n string) error {
			_, err := rt.Exec(ctx, n, ctrgate.ExecOptions{Cmd: []string{TestProgPath, "echo", "x"}})
			return err
		}, "", ctrgate.OpExec},
		{"CopyTo", func(ctx context.Context, rt ctrgate.ContainerRuntime, n string) error {
			return rt.CopyTo(ctx, n, "/data", bytes.NewReader(emptyTar()))
		}, CapCopy, ctrgate.OpCopyTo},
		{"CopyFrom", func(ctx context.Context, rt ctrgate.ContainerRuntime, n string) error {
			rc, err := rt.CopyFrom(ctx, n, "/data")
			if err == nil {
				rc.Close()
			}
			return err
		}, CapCopy, ctrgate.OpCopyFrom},
	}
}

// emptyTar is a tar stream with no entries.
func emptyTar() []byte { return make([]byte, 1024) }

// assertSentinelWords checks that err's text holds the words of the
// sentinel it matches ("no such container", "no such image", ...): a user
// reads the same words for the same failure on every backend, whatever the
// engine's own text (kept as detail).
func assertSentinelWords(t testing.TB, err, sentinel error, what string) {
	t.Helper()
	if err != nil {
		assert.Contains(t, strings.ToLower(err.Error()), sentinel.Error(), "%s: the message says %q", what, sentinel.Error())
	}
}

// bulkInOrder runs a container writing bulkLines numbered lines, follows
// its log while they are written and reads it again after the exit: both
// must hold every line once, in order. It returns how many lines the
// followed read lost and how many it delivered twice.
func bulkInOrder(t *testing.T, s *suite, suffix string) (lost, doubled int) {
	ctx := s.ctx(t)
	name := s.name(t, suffix)
	s.run(t, ctx, s.spec(name, "bulk", itoa(bulkLines)))
	check := func(what string, out []string) (lost, doubled int) {
		t.Helper()
		seen := make(map[string]int, len(out))
		for _, l := range out {
			seen[l]++
		}
		for i := 1; i <= bulkLines; i++ {
			switch c := seen[fmt.Sprintf("line %d", i)]; {
			case c == 0:
				lost++
			case c > 1:
				doubled += c - 1
			}
		}
		if lost > 0 || doubled > 0 || len(out) != bulkLines {
			t.Errorf("%s: %d lines, %d of %d lost, %d delivered twice; %s", what, len(out), lost, bulkLines, doubled, firstMismatch(out))
			return lost, doubled
		}
		for i, l := range out {
			if l != fmt.Sprintf("line %d", i+1) {
				t.Errorf("%s: line %d is %q, want %q", what, i+1, l, fmt.Sprintf("line %d", i+1))
				break
			}
		}
		return 0, 0
	}
	lost, doubled = check("followed while written", texts(s.logs(t, ctx, name, ctrgate.LogOptions{Follow: true}), ctrgate.Stdout))
	assert.Equal(t, 0, s.wait(t, ctx, name))
	check("read after exit", texts(s.logs(t, ctx, name, ctrgate.LogOptions{}), ctrgate.Stdout))
	return lost, doubled
}

// endsOnClose checks that a blocked next returns io.EOF soon after close
// is called from another goroutine, and that a second close is a no-op.
func endsOnClose(t *testing.T, what string, next func() error, close func() error) {
	t.Helper()
	time.AfterFunc(200*time.Millisecond, func() { _ = close() })
	began := time.Now()
	assert.ErrorIs(t, next(), io.EOF, "%s: Next after Close", what)
	within(t, time.Since(began), 5*time.Second, what+": Next after Close")
	assert.NoError(t, close(), "%s: Close is idempotent", what)
}

// endsOnCancel checks that a blocked next returns soon after cancel with
// an error that wraps context.Canceled and is an *ctrgate.EngineError of
// op, as every other failed call.
func endsOnCancel(t *testing.T, what, op string, next func() error, cancel func()) {
	t.Helper()
	time.AfterFunc(200*time.Millisecond, cancel)
	began := time.Now()
	err := next()
	assert.ErrorIs(t, err, context.Canceled, "%s: Next after the context is cancelled", what)
	assertOp(t, err, op, what+": Next after the context is cancelled")
	within(t, time.Since(began), 5*time.Second, what+": Next after cancellation")
}

// assertOp checks that err is an *ctrgate.EngineError whose Op is op: every
// failed call says which method failed, a context's end included.
func assertOp(t testing.TB, err error, op, what string) {
	t.Helper()
	var ee *ctrgate.EngineError
	if assert.ErrorAs(t, err, &ee, "%s: the error is an *ctrgate.EngineError: %v", what, err) {
		assert.Equal(t, op, ee.Op, "%s: EngineError.Op", what)
	}
}

// createdAndExited makes two containers that are not running: one created
// and never started (name suffix+"-created"), one that ran and exited 0
// (suffix+"-exited"); it returns their names in that order.
func (s *suite) createdAndExited(t *testing.T, ctx context.Context, suffix string) []string {
	t.Helper()
	created, exited := s.name(t, suffix+"-created"), s.name(t, suffix+"-exited")
	s.create(t, ctx, s.spec(created, "exit", "0"))
	require.Equal(t, 0, s.runToExit(t, ctx, s.spec(exited, "exit", "0")))
	return []string{created, exited}
}
