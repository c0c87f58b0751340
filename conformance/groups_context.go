package conformance

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ctrgate/ctrgate"
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
				err = c.call(expired, s.rt)
				assert.ErrorIs(t, err, context.DeadlineExceeded, "%s with an expired deadline", c.name)
				within(t, time.Since(began), 5*time.Second, c.name+" with a done context")
			}
			for _, follow := range []bool{false, true} {
				_, err := s.rt.Logs(cancelled, existing, ctrgate.LogOptions{Follow: follow})
				assert.ErrorIs(t, err, context.Canceled, "Logs(Follow=%v) with a cancelled context", follow)
			}
			if _, lacks := s.h.Lacks[CapCopy]; !lacks {
				_, err := s.rt.CopyFrom(cancelled, existing, "/data")
				assert.ErrorIs(t, err, context.Canceled, "CopyFrom with a cancelled context")
			}
			if _, lacks := s.h.Lacks[CapEvents]; !lacks {
				_, err := s.rt.Events(cancelled, ctrgate.EventFilter{NamePrefix: s.prefix})
				assert.ErrorIs(t, err, context.Canceled, "Events with a cancelled context")
			}

			running, err := ctrgate.IsRunning(ctx, s.rt, existing)
			require.NoError(t, err)
			assert.True(t, running, "calls under a done context changed nothing")
			_, err = s.rt.Inspect(ctx, fresh)
			assert.ErrorIs(t, err, ctrgate.ErrNotFound, "Create under a done context created nothing")
		}},
	}}
}
