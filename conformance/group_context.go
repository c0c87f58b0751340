package conformance

import (
	"bytes"
	"context"
	"github.com/ctrgate/ctrgate"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// ctxCall is one ContainerRuntime call made under a given context.
type ctxCall struct {
	name  string
	call  func(ctx context.Context, rt ctrgate.ContainerRuntime) error
	needs Capability // "" when every backend has the method
}

// ctxCalls lists a call of every method; existing is a running container
// and fresh a name that is free.
func ctxCalls(s *suite, existing, fresh string) []ctxCall {
	return []ctxCall{
		{"Info", func(ctx context.Context, rt ctrgate.ContainerRuntime) error { _, err := rt.Info(ctx); return err }, ""},
		{"ImageExists", func(ctx context.Context, rt ctrgate.ContainerRuntime) error {
			_, err := rt.ImageExists(ctx, s.image)
			return err
		}, ""},
		{"PullImage", func(ctx context.Context, rt ctrgate.ContainerRuntime) error {
			return rt.PullImage(ctx, s.image, ctrgate.PullNever)
		}, ""},
		{"ImportImage", func(ctx context.Context, rt ctrgate.ContainerRuntime) error {
			return rt.ImportImage(ctx, "localhost/ctrgate/ctx-import-"+randHex(3)+":v1", bytes.NewReader(emptyTar()), ctrgate.ImportOptions{})
		}, ""},
		{"ListImages", func(ctx context.Context, rt ctrgate.ContainerRuntime) error {
			_, err := rt.ListImages(ctx, ctrgate.ImageFilter{RefPrefix: "localhost/ctrgate/"})
			return err
		}, ""},
		{"RemoveImage", func(ctx context.Context, rt ctrgate.ContainerRuntime) error {
			return rt.RemoveImage(ctx, "localhost/ctrgate/ctx-none-"+randHex(3)+":v1", false)
		}, ""},
		{"Create", func(ctx context.Context, rt ctrgate.ContainerRuntime) error {
			_, err := rt.Create(ctx, s.spec(fresh, "exit", "0"))
			return err
		}, ""},
		{"Start", func(ctx context.Context, rt ctrgate.ContainerRuntime) error { return rt.Start(ctx, existing) }, ""},
		{"Stop", func(ctx context.Context, rt ctrgate.ContainerRuntime) error {
			return rt.Stop(ctx, existing, time.Second)
		}, ""},
		{"Kill", func(ctx context.Context, rt ctrgate.ContainerRuntime) error { return rt.Kill(ctx, existing, "SIGTERM") }, ""},
		{"Remove", func(ctx context.Context, rt ctrgate.ContainerRuntime) error {
			return rt.Remove(ctx, existing, ctrgate.RemoveOptions{Force: true})
		}, ""},
		{"Inspect", func(ctx context.Context, rt ctrgate.ContainerRuntime) error {
			_, err := rt.Inspect(ctx, existing)
			return err
		}, ""},
		{"List", func(ctx context.Context, rt ctrgate.ContainerRuntime) error {
			_, err := rt.List(ctx, ctrgate.ListFilter{NamePrefix: s.prefix, All: true})
			return err
		}, ""},
		{"Wait", func(ctx context.Context, rt ctrgate.ContainerRuntime) error {
			_, err := rt.Wait(ctx, existing)
			return err
		}, ""},
		{"Exec", func(ctx context.Context, rt ctrgate.ContainerRuntime) error {
			_, err := rt.Exec(ctx, existing, ctrgate.ExecOptions{Cmd: []string{TestProgPath, "echo", "x"}})
			return err
		}, ""},
		{"CopyTo", func(ctx context.Context, rt ctrgate.ContainerRuntime) error {
			return rt.CopyTo(ctx, existing, "/data", bytes.NewReader(emptyTar()))
		}, CapCopy},
	}
}

func contextGroup() group {
	return group{name: "Context", tests: []suiteTest{
		{name: "DoneContextFailsEveryCall", parallel: true, fn: func(t *testing.T, s *suite) {
			// A call under a context that is already done fails with the
			// context's error and changes nothing.
			ctx := s.ctx(t)
			existing := s.name(t, "ctx-running")
			fresh := s.name(t, "ctx-fresh")
			s.run(t, ctx, s.spec(existing, sleeper()...))
			s.waitReady(t, ctx, existing, "ready")

			cancelled, cancel := context.WithCancel(ctx)
			cancel()
			expired, cancel2 := context.WithDeadline(ctx, time.Now().Add(-time.Second))
			defer cancel2()
			for _, c := range ctxCalls(s, existing, fresh) {
				if _, lacks := s.h.Lacks[c.needs]; c.needs != "" && lacks {
					continue
				}
				began := time.Now()
				err := c.call(cancelled, s.rt)
				assert.ErrorIs(t, err, context.Canceled, "%s with a cancelled context", c.name)
				assertOp(t, err, c.name, c.name+" with a cancelled context")
				err = c.call(expired, s.rt)
				assert.ErrorIs(t, err, context.DeadlineExceeded, "%s with an expired deadline", c.name)
				assertOp(t, err, c.name, c.name+" with an expired deadline")
				within(t, time.Since(began), 5*time.Second, c.name+" with a done context")
			}
			for _, follow := range []bool{false, true} {
				_, err := s.rt.Logs(cancelled, existing, ctrgate.LogOptions{Follow: follow})
				assert.ErrorIs(t, err, context.Canceled, "Logs(Follow=%v) with a cancelled context", follow)
				assertOp(t, err, ctrgate.OpLogs, "Logs with a cancelled context")
			}
			if _, lacks := s.h.Lacks[CapCopy]; !lacks {
				_, err := s.rt.CopyFrom(cancelled, existing, "/data")
				assert.ErrorIs(t, err, context.Canceled, "CopyFrom with a cancelled context")
				assertOp(t, err, ctrgate.OpCopyFrom, "CopyFrom with a cancelled context")
			}
			if _, lacks := s.h.Lacks[CapEvents]; !lacks {
				_, err := s.rt.Events(cancelled, ctrgate.EventFilter{NamePrefix: s.prefix})
				assert.ErrorIs(t, err, context.Canceled, "Events with a cancelled context")
				assertOp(t, err, ctrgate.OpEvents, "Events with a cancelled context")
			}

			running, err := ctrgate.IsRunning(ctx, s.rt, existing)
			require.NoError(t, err)
			assert.True(t, running, "calls under a done context changed nothing")
			_, err = s.rt.Inspect(ctx, fresh)
			assert.ErrorIs(t, err, ctrgate.ErrNotFound, "Create under a done context created nothing")
		}},
		{name: "CancelDuringExec", parallel: true, fn: func(t *testing.T, s *suite) {
			// A context that ends in the middle of a long Exec ends the call
			// promptly, with the context's error.
			ctx := s.ctx(t)
			name := s.name(t, "ctx-exec")
			s.run(t, ctx, s.spec(name, sleeper()...))
			s.waitReady(t, ctx, name, "ready")
			for _, kind := range []string{"cancel", "deadline"} {
				cctx, cancel := context.WithCancel(ctx)
				want := context.Canceled
				if kind == "deadline" {
					cctx, cancel = context.WithTimeout(ctx, 800*time.Millisecond)
					want = context.DeadlineExceeded
				} else {
					time.AfterFunc(800*time.Millisecond, cancel)
				}
				began := time.Now()
				_, err := s.rt.Exec(cctx, name, ctrgate.ExecOptions{Cmd: []string{TestProgPath, "sleep", "60s"}})
				cancel()
				assert.ErrorIs(t, err, want, "Exec ended by %s", kind)
				within(t, time.Since(began), 5*time.Second, "Exec whose context ends after 0.8s ("+kind+")")
			}
			running, err := ctrgate.IsRunning(ctx, s.rt, name)
			require.NoError(t, err)
			assert.True(t, running, "the container outlives a cancelled Exec")
		}},
		{name: "CancelDuringStop", parallel: true, fn: func(t *testing.T, s *suite) {
			// A context that ends during Stop's grace period ends the call
			// promptly, with the context's error.
			// Then Remove with Force ends the process: nothing is left running
			// (Podman 4.3 leaves a container whose `podman stop` was
			// interrupted "stopping", and its rm --force then leaves the
			// process running). The program writes a heartbeat file through
			// a bind mount; after the removal it must stop changing.
			ctx := s.ctx(t)
			name := s.name(t, "ctx-stop")
			spec := s.spec(name, "heartbeat", "/hb/beat")
			if _, lacks := s.h.Lacks[CapBindMounts]; lacks {
				spec = s.spec(name, "ignore-term")
			}
			dir := t.TempDir()
			require.NoError(t, os.Chmod(dir, 0o777)) // umask
			spec.Mounts = append(spec.Mounts, ctrgate.Mount{Type: ctrgate.MountBind, Source: dir, Target: "/hb"})
			if _, lacks := s.h.Lacks[CapBindMounts]; lacks {
				spec.Mounts = nil
			}
			s.run(t, ctx, spec)
			s.waitReady(t, ctx, name, "ignoring SIGTERM")
			cctx, cancel := context.WithTimeout(ctx, time.Second)
			defer cancel()
			began := time.Now()
			err := s.rt.Stop(cctx, name, 30*time.Second)
			assert.ErrorIs(t, err, context.DeadlineExceeded, "Stop whose deadline ends in the grace period")
			within(t, time.Since(began), 6*time.Second, "Stop with a 1s deadline and a 30s grace period")

			require.NoError(t, s.rt.Remove(ctx, name, ctrgate.RemoveOptions{Force: true}), "Remove with Force after the cancelled Stop")
			s.requireGone(t, ctx, name)
			if spec.Mounts == nil {
				return
			}
			beat := filepath.Join(dir, "beat")
			first, err := os.ReadFile(beat)
			require.NoError(t, err, "the program wrote its heartbeat")
			time.Sleep(time.Second)
			second, err := os.ReadFile(beat)
			require.NoError(t, err)
			assert.Equal(t, string(first), string(second), "the process of a removed container still runs (its heartbeat changes)")
		}},
	}}
}
