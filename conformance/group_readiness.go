package conformance

import (
	"context"
	"fmt"
	"github.com/ctrgate/ctrgate"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"strings"
	"testing"
	"time"
)

func readinessGroup() group {
	return group{name: "Readiness", tests: []suiteTest{
		{name: "MarkerAfterDelay", parallel: true, fn: func(t *testing.T, s *suite) {
			ctx := s.ctx(t)
			name := s.name(t, "ready-marker")
			marker := "READY-" + randHex(4)
			s.run(t, ctx, s.spec(name, "echo", "booting", ";", "marker", marker, "700ms", ";", "sleep", "600s"))
			began := time.Now()
			l := s.waitReady(t, ctx, name, marker)
			within(t, time.Since(began), 15*time.Second, "WaitReady")
			assert.Equal(t, marker, l.Text)
			assert.Equal(t, ctrgate.Stdout, l.Stream)
			running, err := ctrgate.IsRunning(ctx, s.rt, name)
			require.NoError(t, err)
			assert.True(t, running, "WaitReady returns on the marker, not at exit")
		}},
		{name: "CalledBeforeStart", parallel: true, fn: func(t *testing.T, s *suite) {
			ctx := s.ctx(t)
			name := s.name(t, "ready-before-start")
			marker := "READY-" + randHex(4)
			s.create(t, ctx, s.spec(name, "marker", marker, "200ms", ";", "sleep", "600s"))
			type result struct {
				l   ctrgate.LogLine
				err error
			}
			done := make(chan result, 1)
			go func() {
				l, err := ctrgate.WaitReady(ctx, s.rt, name, ctrgate.MatchSubstring(marker))
				done <- result{l, err}
			}()
			time.Sleep(500 * time.Millisecond) // WaitReady is following a created container
			require.NoError(t, s.rt.Start(ctx, name))
			select {
			case r := <-done:
				require.NoError(t, r.err, "WaitReady between Create and Start waits for the start")
				assert.Equal(t, marker, r.l.Text)
			case <-ctx.Done():
				t.Fatal("WaitReady called before Start did not see the marker")
			}
		}},
		{name: "ExitsFirst", parallel: true, fn: func(t *testing.T, s *suite) {
			ctx := s.ctx(t)
			name := s.name(t, "ready-exit")
			s.run(t, ctx, s.spec(name, "echo", "starting", ";", "sleep", "300ms", ";", "exit", "7"))
			began := time.Now()
			_, err := ctrgate.WaitReady(ctx, s.rt, name, ctrgate.MatchSubstring("never printed"))
			var exited *ctrgate.ExitedError
			require.ErrorAs(t, err, &exited)
			assert.Equal(t, 7, exited.ExitCode)
			assert.ErrorIs(t, err, ctrgate.ErrNotRunning)
			within(t, time.Since(began), 15*time.Second, "WaitReady on a container that exits")
		}},
		{name: "MarkerWithoutNewline", parallel: true, fn: func(t *testing.T, s *suite) {
			// A prompt: the marker has no newline and the container keeps
			// running, so only a partial line can show it.
			if !s.need(t, CapLivePartialLines) {
				return
			}
			ctx := s.ctx(t)
			name := s.name(t, "ready-nonl")
			marker := "READY-" + randHex(4)
			s.run(t, ctx, s.spec(name, "echo", "booting", ";", "sleep", "300ms", ";", "no-newline", marker, ";", "sleep", "600s"))
			began := time.Now()
			l := s.waitReady(t, ctx, name, marker)
			within(t, time.Since(began), 15*time.Second, "WaitReady")
			assert.Equal(t, marker, l.Text)
			assert.True(t, l.Partial, "the marker line has no newline yet")
			assert.Equal(t, ctrgate.Stdout, l.Stream)
			running, err := ctrgate.IsRunning(ctx, s.rt, name)
			require.NoError(t, err)
			assert.True(t, running, "WaitReady returns on the unterminated marker, not at exit")
		}},
		{name: "ExitedWithLastLines", parallel: true, fn: func(t *testing.T, s *suite) {
			ctx := s.ctx(t)
			name := s.name(t, "ready-lastlines")
			args := []string{}
			for i := 1; i <= 25; i++ {
				args = append(args, "echo", fmt.Sprintf("step %d", i), ";")
			}
			args = append(args, "echo", "fatal: API_TOKEN=hunter2-secret", ";", "exit", "3")
			s.run(t, ctx, s.spec(name, args...))
			_, err := ctrgate.WaitReady(ctx, s.rt, name, ctrgate.MatchSubstring("never printed"))
			var exited *ctrgate.ExitedError
			require.ErrorAs(t, err, &exited)
			assert.Equal(t, 3, exited.ExitCode)
			require.Len(t, exited.LastLines, ctrgate.ExitedLines, "the last lines")
			// All on stdout: engines do not order stdout against stderr
			// exactly (Docker copies them apart).
			out := texts(exited.LastLines, ctrgate.Stdout)
			require.Len(t, out, ctrgate.ExitedLines)
			assert.Equal(t, "step 7", out[0], "the oldest line kept")
			assert.Equal(t, "step 25", out[len(out)-2])
			assert.NotContains(t, out[len(out)-1], "hunter2", "secrets are redacted")
			assert.Contains(t, out[len(out)-1], "fatal: API_TOKEN=")
			assert.NotContains(t, err.Error(), "hunter2")
			msgShows := strings.Contains(err.Error(), "step 25") || strings.Contains(err.Error(), "fatal: API_TOKEN=")
			assert.True(t, msgShows, "the message shows the last lines: %v", err)
		}},
		{name: "MarkerAtEndOf50MiB", parallel: true, fn: func(t *testing.T, s *suite) {
			// 50 MiB of output, the marker, then 30 s before the exit:
			// WaitReady must see the marker (not report the exit).
			if s.loaded {
				s.notApplicable(t, "not in the load lane (50 MiB per backend)")
				return
			}
			ctx, cancel := context.WithTimeout(context.Background(), 2*TestTimeout)
			t.Cleanup(cancel)
			name := s.name(t, "ready-50mib")
			marker := "READY-" + randHex(4)
			var args []string
			for range 50 {
				args = append(args, "long-line", itoa(1<<20), ";")
			}
			args = append(args, "echo", marker, ";", "sleep", "30s")
			s.run(t, ctx, s.spec(name, args...))
			began := time.Now()
			l := s.waitReady(t, ctx, name, marker)
			assert.Equal(t, marker, l.Text)
			t.Logf("marker after 50 MiB seen in %v", time.Since(began).Round(time.Millisecond))
			running, err := ctrgate.IsRunning(ctx, s.rt, name)
			require.NoError(t, err)
			assert.True(t, running, "the container runs 30 s after its marker")
		}},
		{name: "MarkerBeforeCall", parallel: true, fn: func(t *testing.T, s *suite) {
			ctx := s.ctx(t)
			name := s.name(t, "ready-before")
			assert.Equal(t, 0, s.runToExit(t, ctx, s.spec(name, "echo-err", "DONE-early")))
			l := s.waitReady(t, ctx, name, "DONE-early")
			assert.Equal(t, ctrgate.Stderr, l.Stream, "markers on stderr count too")
		}},
	}}
}
