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

func logsGroup() group {
	return group{name: "Logs", tests: []suiteTest{
		{name: "StdoutAndStderrApart", parallel: true, fn: func(t *testing.T, s *suite) {
			ctx := s.ctx(t)
			name := s.name(t, "logs-streams")
			assert.Equal(t, 0, s.runToExit(t, ctx, s.spec(name, "echo", "out-1", ";", "echo-err", "err-1", ";",
				"echo", "out-2", ";", "echo-err", "err-2")))
			lines := s.logs(t, ctx, name, ctrgate.LogOptions{})
			assert.Equal(t, []string{"out-1", "out-2"}, texts(lines, ctrgate.Stdout))
			assert.Equal(t, []string{"err-1", "err-2"}, texts(lines, ctrgate.Stderr))
			assert.Len(t, lines, 4, "no other lines")
			for _, l := range lines {
				assert.False(t, l.Time.IsZero(), "LogLine.Time of %q (a plain read carries the engine's times)", l.Text)
			}
		}},
		{name: "FollowEndsOnExit", parallel: true, fn: func(t *testing.T, s *suite) {
			ctx := s.ctx(t)
			name := s.name(t, "logs-follow")
			s.run(t, ctx, s.spec(name, "echo", "a", ";", "sleep", "1s", ";", "echo", "b", ";", "exit", "2"))
			lines := s.logs(t, ctx, name, ctrgate.LogOptions{Follow: true})
			assert.Equal(t, []string{"a", "b"}, texts(lines, ctrgate.Stdout))
			st, err := ctrgate.StateOf(ctx, s.rt, name)
			require.NoError(t, err)
			assert.False(t, st.Running(), "a followed log ends when the container has exited")
			assert.Equal(t, 2, s.wait(t, ctx, name))
		}},
		{name: "FinalLineWithoutNewline", parallel: true, fn: func(t *testing.T, s *suite) {
			ctx := s.ctx(t)
			name := s.name(t, "logs-nonl")
			assert.Equal(t, 0, s.runToExit(t, ctx, s.spec(name, "echo", "first", ";", "no-newline", "last")))
			assert.Equal(t, []string{"first", "last"}, texts(s.logs(t, ctx, name, ctrgate.LogOptions{}), ctrgate.Stdout))
			assert.Equal(t, []string{"first", "last"}, texts(s.logs(t, ctx, name, ctrgate.LogOptions{Follow: true}), ctrgate.Stdout),
				"Follow on an exited container delivers the log and ends")
		}},
		{name: "FollowFinalLineWithoutNewline", parallel: true, fn: func(t *testing.T, s *suite) {
			ctx := s.ctx(t)
			name := s.name(t, "logs-follow-nonl")
			s.run(t, ctx, s.spec(name, "echo", "first", ";", "sleep", "1s", ";", "no-newline", "last"))
			// Followed from while the container runs: the unterminated last
			// line is written at exit and must still arrive.
			assert.Equal(t, []string{"first", "last"}, texts(s.logs(t, ctx, name, ctrgate.LogOptions{Follow: true}), ctrgate.Stdout))
		}},
		{name: "LongLine", parallel: true, fn: func(t *testing.T, s *suite) {
			ctx := s.ctx(t)
			name := s.name(t, "logs-long")
			const n = 1 << 20
			assert.Equal(t, 0, s.runToExit(t, ctx, s.spec(name, "long-line", itoa(n), ";", "echo", "after")))
			out := texts(s.logs(t, ctx, name, ctrgate.LogOptions{}), ctrgate.Stdout)
			require.Len(t, out, 2, "a 1 MiB line is one line, however the engine stores it")
			assert.Len(t, out[0], n)
			assert.Equal(t, "", strings.Trim(out[0], "x"), "the line holds only 'x'")
			assert.Equal(t, "after", out[1])
		}},
		{name: "BulkInOrder", parallel: true, fn: func(t *testing.T, s *suite) { bulkInOrder(t, s, "logs-bulk") }},
		{name: "Tail", parallel: true, fn: func(t *testing.T, s *suite) {
			ctx := s.ctx(t)
			name := s.name(t, "logs-tail")
			assert.Equal(t, 0, s.runToExit(t, ctx, s.spec(name, "bulk", "100")))
			var want []string
			for i := 91; i <= 100; i++ {
				want = append(want, fmt.Sprintf("line %d", i))
			}
			assert.Equal(t, want, texts(s.logs(t, ctx, name, ctrgate.LogOptions{Tail: 10}), ctrgate.Stdout))
			assert.Equal(t, want[7:], texts(s.logs(t, ctx, name, ctrgate.LogOptions{Tail: 3, Follow: true}), ctrgate.Stdout))
		}},
		{name: "Since", parallel: true, fn: func(t *testing.T, s *suite) {
			// "late" is written 3 s after "early". Since is put between
			// them with the engine's line times when the backend reports
			// them, else with this machine's clock (the engine shares it):
			// "early" is written right after the start, so shortly after
			// Run returns.
			ctx := s.ctx(t)
			name := s.name(t, "logs-since")
			s.run(t, ctx, s.spec(name, "echo", "early", ";", "sleep", "3s", ";", "echo", "late"))
			since := time.Now().Add(time.Second)
			assert.Equal(t, 0, s.wait(t, ctx, name))

			lines := s.logs(t, ctx, name, ctrgate.LogOptions{})
			require.Len(t, lines, 2)
			if early, late := lines[0].Time, lines[1].Time; !early.IsZero() && !late.IsZero() {
				assert.GreaterOrEqual(t, late.Sub(early), 2500*time.Millisecond, "line times follow the program's pace")
				since = early.Add(late.Sub(early) / 2)
			}
			assert.Equal(t, []string{"late"}, texts(s.logs(t, ctx, name, ctrgate.LogOptions{Since: since}), ctrgate.Stdout))
			assert.Equal(t, []string{"late"}, texts(s.logs(t, ctx, name, ctrgate.LogOptions{Since: since, Follow: true}), ctrgate.Stdout))
			assert.Equal(t, []string{"early", "late"}, texts(s.logs(t, ctx, name, ctrgate.LogOptions{Since: since.Add(-time.Minute)}), ctrgate.Stdout))
		}},
		{name: "SinceWhileFollowing", parallel: true, fn: func(t *testing.T, s *suite) {
			// Since applies to a followed stream of a running container:
			// lines written before it are skipped, later ones arrive live.
			ctx := s.ctx(t)
			name := s.name(t, "logs-since-follow")
			s.run(t, ctx, s.spec(name, "echo", "early", ";", "sleep", "3s", ";", "echo", "late", ";", "sleep", "600s"))
			early := s.waitReady(t, ctx, name, "early")
			since := time.Now().Add(time.Second)
			if !early.Time.IsZero() {
				since = early.Time.Add(1500 * time.Millisecond)
			}
			fctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			defer cancel()
			st, err := s.rt.Logs(fctx, name, ctrgate.LogOptions{Follow: true, Since: since})
			require.NoError(t, err)
			defer st.Close()
			l, err := st.Next()
			require.NoError(t, err, "the line written after Since arrives while the container runs")
			assert.Equal(t, "late", l.Text, "the line written before Since is skipped")
		}},
		{name: "CloseAndCancelEndFollow", parallel: true, fn: func(t *testing.T, s *suite) {
			ctx := s.ctx(t)
			name := s.name(t, "logs-close")
			s.run(t, ctx, s.spec(name, sleeper()...))

			st, err := s.rt.Logs(ctx, name, ctrgate.LogOptions{Follow: true})
			require.NoError(t, err)
			l, err := st.Next()
			require.NoError(t, err)
			assert.Equal(t, "ready", l.Text)
			assert.Equal(t, ctrgate.Stdout, l.Stream)
			endsOnClose(t, "Logs", func() error { _, err := st.Next(); return err }, st.Close)

			cctx, cancel := context.WithCancel(ctx)
			st, err = s.rt.Logs(cctx, name, ctrgate.LogOptions{Follow: true})
			require.NoError(t, err)
			defer st.Close()
			_, err = st.Next()
			require.NoError(t, err)
			endsOnCancel(t, "Logs", ctrgate.OpLogs, func() error { _, err := st.Next(); return err }, cancel)
		}},
	}}
}

// bulkLines is how many lines BulkInOrder writes.
const bulkLines = 5000

// firstMismatch describes where out first differs from "line 1", "line 2", ...
func firstMismatch(out []string) string {
	for i, l := range out {
		if want := fmt.Sprintf("line %d", i+1); l != want {
			end := min(i+5, len(out))
			return fmt.Sprintf("from line %d on: %q (want %q)", i+1, out[i:end], want)
		}
	}
	return fmt.Sprintf("the first %d lines are right", len(out))
}
