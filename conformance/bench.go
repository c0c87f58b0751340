package conformance

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ctrgate/ctrgate"
)

// benchTimeout bounds the context of one sub-benchmark (its setup and all
// its iterations): a hung backend fails the benchmark instead of hanging it
// until go test's own timeout.
const benchTimeout = 5 * time.Minute

// Benchmark measures the common operations on the backend h describes, with
// the same code for every backend, so that their numbers compare. It
// imports the test image as Run does, then runs these sub-benchmarks, each
// reporting allocations (those of this process: the client side):
//
//   - Inspect: Inspect of a running container.
//   - StatesByPrefix: ctrgate.StatesByPrefix over 10 running containers
//     under a prefix of their own (one List).
//   - ExecTrue: Exec of "echo x" in a running container.
//   - RunWaitRemove: ctrgate.Run of a program that exits 0, Wait, forced
//     Remove; a new container per iteration.
//   - LogsFollowToExit: ctrgate.Run of a program writing 1000 lines, Logs
//     with Follow read to the end of the stream (the container's exit); a
//     new container per iteration, removed with the timer stopped.
//   - ReadinessLatency: one container prints "tick <its clock in ns>"
//     every 50 ms, 20 times; a follower (Logs with Follow) reports the
//     median and 90th percentile of the delay between the write and the
//     line's arrival (ms-median, ms-p90; the engine shares this machine's
//     clock), the number readiness detection depends on.
//
// What a sub-benchmark needs is created once, outside the timer, and
// force-removed when it ends. Every container is named "ctg-<random>-b-...";
// at the end Benchmark checks that none is left and closes the runtime.
// Use it with -run '^$' so that the conformance suite does not run too.
func Benchmark(b *testing.B, h Harness) {
	require.NotNil(b, h.New, "Harness.New is required")
	if h.Name == "" {
		h.Name = "backend"
	}
	tarball := TestImageTar(b)
	rt := h.New(b)
	require.NotNil(b, rt, "Harness.New returned nil")
	s := &suite{h: h, rt: rt, image: h.image(), prefix: "ctg-" + randHex(4) + "-b-", results: map[string]*result{}}
	// Cleanups run last-in first-out: the sweep below before Close.
	b.Cleanup(func() { _ = rt.Close() })
	b.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
		defer cancel()
		left, err := rt.List(ctx, ctrgate.ListFilter{NamePrefix: s.prefix, All: true})
		if err != nil {
			b.Errorf("listing the containers left by the benchmarks: %v", err)
			return
		}
		var names []string
		for _, c := range left {
			names = append(names, c.Name)
		}
		if len(names) > 0 {
			b.Errorf("containers left behind by the benchmarks: %v", names)
			if err := ctrgate.FirstError(ctrgate.RemoveAll(ctx, rt, names)); err != nil {
				b.Errorf("removing them: %v", err)
			}
		}
	})

	require.NoError(b, importTestImage(rt, s.image, tarball), "importing the test image %s", s.image)
	b.Logf("%s: imported %s; container names start with %s", h.Name, s.image, s.prefix)

	b.Run("ReadinessLatency", func(b *testing.B) {
		ctx := benchCtx(b)
		for b.Loop() {
			name := s.name(b, "latency-"+randHex(3))
			const ticks = 20
			s.run(b, ctx, s.spec(name, "ticks", strconv.Itoa(ticks), "50ms"))
			var raw *rawTicks
			if h.RawFollow != nil {
				raw = startRawTicks(b, ctx, h.RawFollow(ctx, name), ticks)
			}
			st, err := s.rt.Logs(ctx, name, ctrgate.LogOptions{Follow: true})
			require.NoError(b, err)
			var lat []time.Duration
			for len(lat) < ticks {
				l, err := st.Next()
				if err != nil {
					break
				}
				now := time.Now()
				if v, ok := strings.CutPrefix(l.Text, "tick "); ok {
					if ns, err := strconv.ParseInt(v, 10, 64); err == nil {
						lat = append(lat, now.Sub(time.Unix(0, ns)))
					}
				}
			}
			_ = st.Close()
			require.Len(b, lat, ticks, "ticks received")
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)/2])/1e6, "ms-median")
			b.ReportMetric(float64(lat[len(lat)*9/10])/1e6, "ms-p90")
			if raw != nil {
				rl := raw.wait(b)
				require.Len(b, rl, ticks, "ticks received by the engine's own follower")
				slices.Sort(rl)
				b.ReportMetric(float64(rl[len(rl)/2])/1e6, "raw-ms-median")
				b.ReportMetric(float64(rl[len(rl)*9/10])/1e6, "raw-ms-p90")
			}
		}
	})

	b.Run("Inspect", func(b *testing.B) {
		ctx := benchCtx(b)
		name := s.name(b, "inspect")
		s.run(b, ctx, s.spec(name, sleeper()...))
		b.ReportAllocs()
		for b.Loop() {
			c, err := rt.Inspect(ctx, name)
			if err != nil {
				b.Fatalf("inspect %s: %v", name, err)
			}
			if !c.State.Running() {
				b.Fatalf("inspect %s: state %s, want running", name, c.State.Status)
			}
		}
	})

	b.Run("StatesByPrefix", func(b *testing.B) {
		const n = 10
		ctx := benchCtx(b)
		prefix := s.prefix + "states-"
		for i := range n {
			s.run(b, ctx, s.spec(s.name(b, "states-"+strconv.Itoa(i)), sleeper()...))
		}
		b.ReportAllocs()
		for b.Loop() {
			states, err := ctrgate.StatesByPrefix(ctx, rt, prefix)
			if err != nil {
				b.Fatalf("states of %s*: %v", prefix, err)
			}
			if len(states) != n {
				b.Fatalf("states of %s*: %d containers, want %d", prefix, len(states), n)
			}
		}
	})

	b.Run("ExecTrue", func(b *testing.B) {
		ctx := benchCtx(b)
		name := s.name(b, "exec")
		s.run(b, ctx, s.spec(name, sleeper()...))
		opts := ctrgate.ExecOptions{Cmd: []string{TestProgPath, "echo", "x"}}
		b.ReportAllocs()
		for b.Loop() {
			r, err := rt.Exec(ctx, name, opts)
			if err != nil {
				b.Fatalf("exec in %s: %v", name, err)
			}
			if r.ExitCode != 0 || string(r.Stdout) != "x\n" {
				b.Fatalf("exec in %s: exit %d, stdout %q, want 0 and %q", name, r.ExitCode, r.Stdout, "x\n")
			}
		}
	})

	b.Run("RunWaitRemove", func(b *testing.B) {
		ctx := benchCtx(b)
		prefix := s.prefix + "rwr-"
		s.sweepLater(b, prefix)
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			i++
			name := prefix + strconv.Itoa(i)
			if _, err := ctrgate.Run(ctx, rt, s.spec(name, "exit", "0")); err != nil {
				b.Fatalf("run %s: %v", name, err)
			}
			code, err := rt.Wait(ctx, name)
			if err != nil || code != 0 {
				b.Fatalf("wait %s: exit %d, %v; want 0", name, code, err)
			}
			if err := rt.Remove(ctx, name, ctrgate.RemoveOptions{Force: true, Volumes: true}); err != nil {
				b.Fatalf("remove %s: %v", name, err)
			}
		}
	})

	b.Run("LogsFollowToExit", func(b *testing.B) {
		const lines = 1000
		ctx := benchCtx(b)
		prefix := s.prefix + "logs-"
		s.sweepLater(b, prefix)
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			i++
			name := prefix + strconv.Itoa(i)
			if _, err := ctrgate.Run(ctx, rt, s.spec(name, "bulk", strconv.Itoa(lines))); err != nil {
				b.Fatalf("run %s: %v", name, err)
			}
			if got, err := followToEnd(ctx, rt, name); err != nil || got != lines {
				b.Fatalf("logs of %s: %d lines, %v; want %d", name, got, err, lines)
			}
			b.StopTimer()
			if err := rt.Remove(ctx, name, ctrgate.RemoveOptions{Force: true, Volumes: true}); err != nil {
				b.Fatalf("remove %s: %v", name, err)
			}
			b.StartTimer()
		}
	})
}

// benchCtx returns the context of one sub-benchmark, cancelled when it ends.
func benchCtx(b *testing.B) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), benchTimeout)
	b.Cleanup(cancel)
	return ctx
}

// sweepLater force-removes, when the benchmark ends, every container whose
// name starts with prefix (those an iteration that failed left behind).
func (s *suite) sweepLater(b *testing.B, prefix string) {
	b.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
		defer cancel()
		left, err := s.rt.List(ctx, ctrgate.ListFilter{NamePrefix: prefix, All: true})
		if err != nil {
			b.Errorf("cleanup: listing %s*: %v", prefix, err)
			return
		}
		var names []string
		for _, c := range left {
			names = append(names, c.Name)
		}
		if err := ctrgate.FirstError(ctrgate.RemoveAll(ctx, s.rt, names)); err != nil {
			b.Errorf("cleanup: removing %v: %v", names, err)
		}
	})
}

// followToEnd follows the container's log until the stream ends and
// returns how many stdout lines it read.
func followToEnd(ctx context.Context, rt ctrgate.ContainerRuntime, name string) (int, error) {
	st, err := rt.Logs(ctx, name, ctrgate.LogOptions{Follow: true})
	if err != nil {
		return 0, err
	}
	defer st.Close()
	n := 0
	for {
		l, err := st.Next()
		if errors.Is(err, io.EOF) {
			return n, nil
		}
		if err != nil {
			return n, fmt.Errorf("after %d lines: %w", n, err)
		}
		if l.Stream == ctrgate.Stdout {
			n++
		}
	}
}

// rawTicks reads "tick <ns>" lines from the engine's own follower and
// records each line's delay.
type rawTicks struct {
	cmd  *exec.Cmd
	done chan []time.Duration
}

// startRawTicks starts cmd and collects the delays of up to n tick lines of
// its standard output.
func startRawTicks(b *testing.B, ctx context.Context, cmd *exec.Cmd, n int) *rawTicks {
	b.Helper()
	out, err := cmd.StdoutPipe()
	require.NoError(b, err)
	require.NoError(b, cmd.Start(), "starting the engine's follower %v", cmd.Args)
	r := &rawTicks{cmd: cmd, done: make(chan []time.Duration, 1)}
	go func() {
		var lat []time.Duration
		sc := bufio.NewScanner(out)
		for len(lat) < n && sc.Scan() {
			now := time.Now()
			if v, ok := strings.CutPrefix(sc.Text(), "tick "); ok {
				if ns, err := strconv.ParseInt(v, 10, 64); err == nil {
					lat = append(lat, now.Sub(time.Unix(0, ns)))
				}
			}
		}
		r.done <- lat
	}()
	return r
}

// wait returns the delays, then ends and reaps the follower.
func (r *rawTicks) wait(b *testing.B) []time.Duration {
	var lat []time.Duration
	select {
	case lat = <-r.done:
	case <-time.After(30 * time.Second):
		b.Errorf("the engine's follower %v delivered no ticks in 30 s", r.cmd.Args)
	}
	_ = r.cmd.Process.Kill()
	_ = r.cmd.Wait()
	return lat
}
