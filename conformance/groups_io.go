package conformance

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ctrgate/ctrgate"
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
			time.AfterFunc(200*time.Millisecond, func() { _ = st.Close() })
			began := time.Now()
			_, err = st.Next()
			assert.ErrorIs(t, err, io.EOF, "Next after Close")
			within(t, time.Since(began), 5*time.Second, "Next after Close")
			assert.NoError(t, st.Close(), "Close is idempotent")

			cctx, cancel := context.WithCancel(ctx)
			st, err = s.rt.Logs(cctx, name, ctrgate.LogOptions{Follow: true})
			require.NoError(t, err)
			defer st.Close()
			_, err = st.Next()
			require.NoError(t, err)
			time.AfterFunc(200*time.Millisecond, cancel)
			began = time.Now()
			_, err = st.Next()
			assert.ErrorIs(t, err, context.Canceled, "Next after the Logs context is cancelled")
			within(t, time.Since(began), 5*time.Second, "Next after cancellation")
		}},
	}}
}

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

func execGroup() group {
	return group{name: "Exec", tests: []suiteTest{
		{name: "Running", parallel: true, fn: func(t *testing.T, s *suite) {
			ctx := s.ctx(t)
			name := s.name(t, "exec-run")
			spec := s.spec(name, sleeper()...)
			spec.Env = []ctrgate.EnvVar{{Name: "CTG_BASE", Value: "from-spec"}}
			s.run(t, ctx, spec)
			s.waitReady(t, ctx, name, "ready")
			exec := func(t *testing.T, opts ctrgate.ExecOptions, args ...string) *ctrgate.ExecResult {
				t.Helper()
				opts.Cmd = append([]string{TestProgPath}, args...)
				r, err := s.rt.Exec(ctx, name, opts)
				require.NoError(t, err, "exec %v", args)
				require.NotNil(t, r)
				return r
			}
			t.Run("ExitCode", func(t *testing.T) {
				assert.Equal(t, 0, exec(t, ctrgate.ExecOptions{}, "exit", "0").ExitCode)
				assert.Equal(t, 3, exec(t, ctrgate.ExecOptions{}, "exit", "3").ExitCode, "an exit code is not an error")
			})
			t.Run("StdoutStderr", func(t *testing.T) {
				r := exec(t, ctrgate.ExecOptions{}, "echo", "to-out", ";", "echo-err", "to-err", ";", "no-newline", "tail")
				assert.Equal(t, "to-out\ntail", string(r.Stdout))
				assert.Equal(t, "to-err\n", string(r.Stderr))
			})
			t.Run("Env", func(t *testing.T) {
				r := exec(t, ctrgate.ExecOptions{Env: []ctrgate.EnvVar{{Name: "CTG_EXEC", Value: "a b=c"}}},
					"getenv", "CTG_EXEC", ";", "getenv", "CTG_BASE")
				assert.Equal(t, "a b=c\nfrom-spec\n", string(r.Stdout), "exec env plus the container's env")
				r = exec(t, ctrgate.ExecOptions{Env: []ctrgate.EnvVar{{Name: "CTG_BASE", Value: "from-exec"}}}, "getenv", "CTG_BASE")
				assert.Equal(t, "from-exec\n", string(r.Stdout), "exec env overrides the container's")
			})
			t.Run("WorkDir", func(t *testing.T) {
				assert.Equal(t, "/\n", string(exec(t, ctrgate.ExecOptions{}, "pwd").Stdout), "the container's workdir")
				assert.Equal(t, "/tmp\n", string(exec(t, ctrgate.ExecOptions{WorkDir: "/tmp"}, "pwd").Stdout))
			})
			t.Run("User", func(t *testing.T) {
				assert.Equal(t, "0:0\n", string(exec(t, ctrgate.ExecOptions{}, "id").Stdout))
				assert.Equal(t, "1000:1000\n", string(exec(t, ctrgate.ExecOptions{User: "1000:1000"}, "id").Stdout))
				assert.Equal(t, "1000:1000\n", string(exec(t, ctrgate.ExecOptions{User: "ctrgate"}, "id").Stdout), "user by name")
			})
			t.Run("Stdin", func(t *testing.T) {
				in := "line one\nline two\nno newline"
				r := exec(t, ctrgate.ExecOptions{Stdin: strings.NewReader(in)}, "stdin")
				assert.Equal(t, 0, r.ExitCode)
				assert.Equal(t, in, string(r.Stdout))
			})
			t.Run("LargeOutput", func(t *testing.T) {
				r := exec(t, ctrgate.ExecOptions{}, "long-line", itoa(256<<10), ";", "echo-err", "done")
				assert.Len(t, r.Stdout, 256<<10+1)
				assert.Equal(t, "done\n", string(r.Stderr))
			})
		}},
		{name: "DefaultsFromContainer", parallel: true, fn: func(t *testing.T, s *suite) {
			// Exec without User or WorkDir runs as the container's user in
			// the container's working directory (not root in /).
			ctx := s.ctx(t)
			name := s.name(t, "exec-defaults")
			spec := s.spec(name, sleeper()...)
			spec.User, spec.WorkDir = "1000:1000", "/tmp"
			s.run(t, ctx, spec)
			s.waitReady(t, ctx, name, "ready")
			r, err := s.rt.Exec(ctx, name, ctrgate.ExecOptions{Cmd: []string{TestProgPath, "id", ";", "pwd"}})
			require.NoError(t, err)
			assert.Equal(t, "1000:1000\n/tmp\n", string(r.Stdout), "the container's user and workdir")
			r, err = s.rt.Exec(ctx, name, ctrgate.ExecOptions{Cmd: []string{TestProgPath, "id", ";", "pwd"}, User: "0:0", WorkDir: "/"})
			require.NoError(t, err)
			assert.Equal(t, "0:0\n/\n", string(r.Stdout), "explicit User and WorkDir win")
		}},
		{name: "NotRunning", parallel: true, fn: func(t *testing.T, s *suite) {
			ctx := s.ctx(t)
			created, exited := s.name(t, "exec-created"), s.name(t, "exec-exited")
			s.create(t, ctx, s.spec(created, "exit", "0"))
			assert.Equal(t, 0, s.runToExit(t, ctx, s.spec(exited, "exit", "0")))
			for _, n := range []string{created, exited} {
				_, err := s.rt.Exec(ctx, n, ctrgate.ExecOptions{Cmd: []string{TestProgPath, "echo", "x"}})
				assert.ErrorIs(t, err, ctrgate.ErrNotRunning, "exec in %s", n)
			}
		}},
	}}
}

// tarOf packs files (path -> content) into a tar stream.
func tarOf(t testing.TB, files map[string]string, order ...string) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, n := range order {
		data := files[n]
		if strings.HasSuffix(n, "/") {
			require.NoError(t, tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: n, Mode: 0o755, ModTime: time.Now()}))
			continue
		}
		require.NoError(t, tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: n, Mode: 0o644, Size: int64(len(data)), ModTime: time.Now()}))
		_, err := tw.Write([]byte(data))
		require.NoError(t, err)
	}
	require.NoError(t, tw.Close())
	return buf.Bytes()
}

// untar reads a tar stream into path -> content (regular files only).
func untar(t testing.TB, r io.Reader) map[string]string {
	t.Helper()
	out := map[string]string{}
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		require.NoError(t, err)
		if h.Typeflag != tar.TypeReg {
			continue
		}
		b, err := io.ReadAll(tr)
		require.NoError(t, err)
		out[strings.TrimPrefix(path.Clean(h.Name), "/")] = string(b)
	}
}

func copyGroup() group {
	return group{name: "Copy", tests: []suiteTest{
		{name: "CopyToCreated", parallel: true, fn: func(t *testing.T, s *suite) {
			if !s.need(t, CapCopy) {
				return
			}
			ctx := s.ctx(t)
			name := s.name(t, "copy-to")
			s.create(t, ctx, s.spec(name, "cat", "/data/hello.txt", ";", "cat", "/data/sub/inner.txt"))
			archive := tarOf(t, map[string]string{"hello.txt": "hello from the host\n", "sub/inner.txt": "inner\n"},
				"hello.txt", "sub/", "sub/inner.txt")
			require.NoError(t, s.rt.CopyTo(ctx, name, "/data", bytes.NewReader(archive)))
			require.NoError(t, s.rt.Start(ctx, name))
			assert.Equal(t, 0, s.wait(t, ctx, name))
			assert.Equal(t, []string{"hello from the host", "inner"},
				texts(s.logs(t, ctx, name, ctrgate.LogOptions{}), ctrgate.Stdout))
		}},
		{name: "CopyFrom", parallel: true, fn: func(t *testing.T, s *suite) {
			if !s.need(t, CapCopy) {
				return
			}
			ctx := s.ctx(t)
			name := s.name(t, "copy-from")
			payload := "payload-" + randHex(4)
			assert.Equal(t, 0, s.runToExit(t, ctx, s.spec(name, "write", "/data/out.txt", payload)))

			rc, err := s.rt.CopyFrom(ctx, name, "/data/out.txt")
			require.NoError(t, err, "CopyFrom works on an exited container")
			files := untar(t, rc)
			require.NoError(t, rc.Close())
			assert.Equal(t, map[string]string{"out.txt": payload}, files, "a file is archived under its base name")

			rc, err = s.rt.CopyFrom(ctx, name, "/data")
			require.NoError(t, err)
			files = untar(t, rc)
			require.NoError(t, rc.Close())
			assert.Equal(t, map[string]string{"data/out.txt": payload}, files, "a directory is archived under its base name")

			_, err = s.rt.CopyFrom(ctx, name, "/data/no-such-file")
			assert.ErrorIs(t, err, ctrgate.ErrNotFound, "a missing path")
		}},
		{name: "EveryState", parallel: true, fn: func(t *testing.T, s *suite) {
			// CopyTo and CopyFrom work on created, running and exited
			// containers alike.
			if !s.need(t, CapCopy) {
				return
			}
			ctx := s.ctx(t)
			created, running, exited := s.name(t, "copy-c"), s.name(t, "copy-r"), s.name(t, "copy-x")
			s.create(t, ctx, s.spec(created, "exit", "0"))
			s.run(t, ctx, s.spec(running, sleeper()...))
			s.waitReady(t, ctx, running, "ready")
			assert.Equal(t, 0, s.runToExit(t, ctx, s.spec(exited, "exit", "0")))
			for _, n := range []string{created, running, exited} {
				payload := "state-payload-" + randHex(4)
				archive := tarOf(t, map[string]string{"f.txt": payload}, "f.txt")
				if !assert.NoError(t, s.rt.CopyTo(ctx, n, "/tmp", bytes.NewReader(archive)), "CopyTo %s", n) {
					continue
				}
				rc, err := s.rt.CopyFrom(ctx, n, "/tmp/f.txt")
				if !assert.NoError(t, err, "CopyFrom %s", n) {
					continue
				}
				files := untar(t, rc)
				require.NoError(t, rc.Close())
				assert.Equal(t, map[string]string{"f.txt": payload}, files, "round trip through %s", n)
			}
		}},
	}}
}

// collectEvents reads events until stop accepts one or ctx ends.
func collectEvents(t testing.TB, st ctrgate.EventStream, stop func(ctrgate.Event) bool) []ctrgate.Event {
	t.Helper()
	var out []ctrgate.Event
	for {
		ev, err := st.Next()
		if err != nil {
			t.Errorf("event stream ended before the expected event: %v (got %v)", err, out)
			return out
		}
		out = append(out, ev)
		if stop(ev) {
			return out
		}
	}
}

func eventTypes(evs []ctrgate.Event, name string) []ctrgate.EventType {
	var out []ctrgate.EventType
	for _, e := range evs {
		if e.Name == name {
			out = append(out, e.Type)
		}
	}
	return out
}

func firstIndex(ts []ctrgate.EventType, t ctrgate.EventType) int {
	for i, x := range ts {
		if x == t {
			return i
		}
	}
	return -1
}

// assertLifecycleEvents checks that name's events hold create, start, die
// (with code) and remove in that order.
func assertLifecycleEvents(t testing.TB, evs []ctrgate.Event, name, id string, code int) {
	t.Helper()
	types := eventTypes(evs, name)
	last := -1
	for _, want := range []ctrgate.EventType{ctrgate.EventCreate, ctrgate.EventStart, ctrgate.EventDie, ctrgate.EventRemove} {
		i := firstIndex(types, want)
		if assert.GreaterOrEqual(t, i, 0, "no %s event for %s; got %v", want, name, types) {
			assert.Greater(t, i, last, "%s event out of order for %s: %v", want, name, types)
			last = i
		}
	}
	for _, e := range evs {
		if e.Name != name {
			continue
		}
		assert.NotEmpty(t, e.Raw, "Event.Raw")
		assert.Equal(t, id, e.ID, "Event.ID of %s event", e.Type)
		if e.Type == ctrgate.EventDie {
			assert.Equal(t, code, e.ExitCode, "die event exit code")
		}
	}
}

func eventsGroup() group {
	return group{name: "Events", tests: []suiteTest{
		{name: "ForcedRemoveOfRunning", parallel: true, fn: func(t *testing.T, s *suite) {
			// Remove with Force of a running container: a die event with its
			// exit code, then remove. The code is the signal's: Docker and
			// Podman 4 kill (137); Podman 5 sends the stop signal first, on
			// which the test program exits (143).
			if !s.need(t, CapEvents) {
				return
			}
			ctx := s.ctx(t)
			name := s.name(t, "ev-rmf")
			ectx, cancel := context.WithTimeout(ctx, time.Minute)
			defer cancel()
			st, err := s.rt.Events(ectx, ctrgate.EventFilter{NamePrefix: name})
			require.NoError(t, err)
			defer st.Close()
			s.run(t, ctx, s.spec(name, sleeper()...))
			s.waitReady(t, ctx, name, "ready")
			require.NoError(t, s.rt.Remove(ctx, name, ctrgate.RemoveOptions{Force: true}))
			evs := collectEvents(t, st, func(e ctrgate.Event) bool { return e.Name == name && e.Type == ctrgate.EventRemove })
			types := eventTypes(evs, name)
			die, rm := firstIndex(types, ctrgate.EventDie), firstIndex(types, ctrgate.EventRemove)
			if assert.GreaterOrEqual(t, die, 0, "a die event for the killed container: %v", types) {
				assert.Less(t, die, rm, "die comes before remove: %v", types)
				for _, e := range evs {
					if e.Name == name && e.Type == ctrgate.EventDie {
						assert.Contains(t, []int{137, 143}, e.ExitCode, "die carries the exit code of the signalled container")
						break
					}
				}
			}
		}},
		{name: "LifecycleByPrefix", parallel: true, fn: func(t *testing.T, s *suite) {
			if !s.need(t, CapEvents) {
				return
			}
			ctx := s.ctx(t)
			p := s.prefix + "ev-"
			st, err := s.rt.Events(ctx, ctrgate.EventFilter{NamePrefix: p})
			require.NoError(t, err)
			defer st.Close()

			other := s.name(t, "evx-1") // outside the filter
			assert.Equal(t, 0, s.runToExit(t, ctx, s.spec(other, "exit", "0")))
			require.NoError(t, s.rt.Remove(ctx, other, ctrgate.RemoveOptions{}))

			name := s.name(t, "ev-1")
			id := s.run(t, ctx, s.spec(name, "exit", "4"))
			assert.Equal(t, 4, s.wait(t, ctx, name))
			require.NoError(t, s.rt.Remove(ctx, name, ctrgate.RemoveOptions{}))

			evs := collectEvents(t, st, func(e ctrgate.Event) bool { return e.Name == name && e.Type == ctrgate.EventRemove })
			for _, e := range evs {
				assert.True(t, strings.HasPrefix(e.Name, p), "event %s for %s passed the filter %s", e.Type, e.Name, p)
			}
			assertLifecycleEvents(t, evs, name, id, 4)
		}},
		{name: "LabelFilter", parallel: true, fn: func(t *testing.T, s *suite) {
			if !s.need(t, CapEvents) {
				return
			}
			ctx := s.ctx(t)
			val := randHex(4)
			st, err := s.rt.Events(ctx, ctrgate.EventFilter{NamePrefix: s.prefix, Labels: map[string]string{"ctg.events": val}})
			require.NoError(t, err)
			defer st.Close()

			other := s.name(t, "evl-other")
			sp := s.spec(other, "exit", "0")
			sp.Labels = map[string]string{"ctg.events": "other"}
			assert.Equal(t, 0, s.runToExit(t, ctx, sp))
			require.NoError(t, s.rt.Remove(ctx, other, ctrgate.RemoveOptions{}))

			name := s.name(t, "evl-1")
			sp = s.spec(name, "exit", "9")
			sp.Labels = map[string]string{"ctg.events": val}
			id := s.run(t, ctx, sp)
			assert.Equal(t, 9, s.wait(t, ctx, name))
			require.NoError(t, s.rt.Remove(ctx, name, ctrgate.RemoveOptions{}))

			evs := collectEvents(t, st, func(e ctrgate.Event) bool { return e.Name == name && e.Type == ctrgate.EventRemove })
			for _, e := range evs {
				assert.Equal(t, name, e.Name, "event %s for %s passed the label filter", e.Type, e.Name)
			}
			assertLifecycleEvents(t, evs, name, id, 9)
		}},
		{name: "CloseAndCancelEndStream", parallel: true, fn: func(t *testing.T, s *suite) {
			if !s.need(t, CapEvents) {
				return
			}
			ctx := s.ctx(t)
			st, err := s.rt.Events(ctx, ctrgate.EventFilter{NamePrefix: s.prefix + "evc-"})
			require.NoError(t, err)
			time.AfterFunc(200*time.Millisecond, func() { _ = st.Close() })
			began := time.Now()
			_, err = st.Next()
			assert.ErrorIs(t, err, io.EOF, "Next after Close")
			within(t, time.Since(began), 5*time.Second, "Next after Close")
			assert.NoError(t, st.Close(), "Close is idempotent")

			cctx, cancel := context.WithCancel(ctx)
			st, err = s.rt.Events(cctx, ctrgate.EventFilter{NamePrefix: s.prefix + "evc-"})
			require.NoError(t, err)
			defer st.Close()
			time.AfterFunc(200*time.Millisecond, cancel)
			began = time.Now()
			_, err = st.Next()
			assert.ErrorIs(t, err, context.Canceled, "Next after the Events context is cancelled")
			within(t, time.Since(began), 5*time.Second, "Next after cancellation")
		}},
	}}
}

// bulkLines is how many lines BulkInOrder writes.
const bulkLines = 5000

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
