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

func errorsGroup() group {
	return group{name: "Errors", tests: []suiteTest{
		{name: "MissingContainer", parallel: true, fn: func(t *testing.T, s *suite) {
			ctx := s.ctx(t)
			missing := s.prefix + "missing-" + randHex(3)
			for _, m := range s.nameMethods() {
				began := time.Now()
				err := m.call(ctx, s.rt, missing)
				assert.ErrorIs(t, err, ctrgate.ErrNotFound, "%s on a missing container", m.name)
				assertSentinelWords(t, err, ctrgate.ErrNotFound, m.name+" on a missing container")
				within(t, time.Since(began), 10*time.Second, m.name+" on a missing container")
			}
		}},
		{name: "OpIsMethodName", parallel: true, fn: func(t *testing.T, s *suite) {
			// An engine failure is an *EngineError whose Op is the name of
			// the method that failed (ctrgate.Op*), whatever the backend,
			// even when the backend looked the container up with another
			// call first.
			ctx := s.ctx(t)
			missing := s.prefix + "missing-op-" + randHex(3)
			check := func(what, op string, err error) { t.Helper(); assertOp(t, err, op, what) }
			for _, m := range s.nameMethods() {
				check(m.name+" on a missing container", m.op, m.call(ctx, s.rt, missing))
			}
			ref := "localhost/ctrgate/no-such-image-" + randHex(4) + ":v1"
			check("PullImage(PullNever) of a missing image", ctrgate.OpPullImage, s.rt.PullImage(ctx, ref, ctrgate.PullNever))
			check("RemoveImage of a missing image", ctrgate.OpRemoveImage, s.rt.RemoveImage(ctx, ref, false))
			spec := s.spec(s.name(t, "op-noimage"), "exit", "0")
			spec.Image = ref
			_, err := s.rt.Create(ctx, spec)
			check("Create with a missing image", ctrgate.OpCreate, err)
			s.requireGone(t, ctx, spec.Name)
		}},
		{name: "NameConflict", parallel: true, fn: func(t *testing.T, s *suite) {
			ctx := s.ctx(t)
			name := s.name(t, "err-conflict")
			id := s.create(t, ctx, s.spec(name, "exit", "0"))
			_, err := s.rt.Create(ctx, s.spec(name, "exit", "1"))
			assert.ErrorIs(t, err, ctrgate.ErrAlreadyExists)
			assertSentinelWords(t, err, ctrgate.ErrAlreadyExists, "create with a taken name")
			c, err := s.rt.Inspect(ctx, name)
			require.NoError(t, err)
			assert.Equal(t, id, c.ID, "the first container is untouched")
		}},
		{name: "UnknownImage", parallel: true, fn: func(t *testing.T, s *suite) {
			ctx := s.ctx(t)
			name := s.name(t, "err-noimage")
			ref := "localhost/ctrgate/no-such-image-" + randHex(4) + ":v1"
			spec := s.spec(name, "exit", "0")
			spec.Image = ref
			_, err := s.rt.Create(ctx, spec)
			assert.ErrorIs(t, err, ctrgate.ErrImageNotFound, "create with PullNever and a missing image")
			assertSentinelWords(t, err, ctrgate.ErrImageNotFound, "create with a missing image")
			s.requireGone(t, ctx, name)
			err = s.rt.PullImage(ctx, ref, ctrgate.PullNever)
			assert.ErrorIs(t, err, ctrgate.ErrImageNotFound)
			assertSentinelWords(t, err, ctrgate.ErrImageNotFound, "PullImage(PullNever) of a missing image")
			err = s.rt.RemoveImage(ctx, ref, false)
			assert.ErrorIs(t, err, ctrgate.ErrImageNotFound)
			assertSentinelWords(t, err, ctrgate.ErrImageNotFound, "RemoveImage of a missing image")
			assert.ErrorIs(t, s.rt.RemoveImage(ctx, ref, true), ctrgate.ErrImageNotFound,
				"force does not turn a missing image into a success")
		}},
		{name: "MissingBindSource", parallel: true, fn: func(t *testing.T, s *suite) {
			// A bind mount whose host source does not exist is refused at
			// Create, and the source is not created: no engine makes a
			// directory on the host for it (Podman's Docker-compatible API
			// would, were the docker backend not to refuse it first).
			if !s.need(t, CapBindMounts) {
				return
			}
			ctx := s.ctx(t)
			name := s.name(t, "err-nobind")
			missing := filepath.Join(t.TempDir(), "no-such-dir")
			spec := s.spec(name, "exit", "0")
			spec.Mounts = []ctrgate.Mount{{Type: ctrgate.MountBind, Source: missing, Target: "/mnt/x"}}
			id, err := s.rt.Create(ctx, spec)
			assert.Empty(t, id)
			var ee *ctrgate.EngineError
			if assert.ErrorAs(t, err, &ee, "Create with a missing bind source: %v", err) {
				assert.Equal(t, ctrgate.OpCreate, ee.Op)
				assert.Contains(t, err.Error(), missing, "the error names the missing source")
			}
			assert.NotErrorIs(t, err, ctrgate.ErrNotFound, "a missing source is not a missing container")
			_, serr := os.Stat(missing)
			assert.ErrorIs(t, serr, os.ErrNotExist, "the missing source was not created on the host")
			s.requireGone(t, ctx, name)
		}},
		{name: "KillNotRunning", parallel: true, fn: func(t *testing.T, s *suite) {
			ctx := s.ctx(t)
			for _, n := range s.createdAndExited(t, ctx, "err-kill") {
				err := s.rt.Kill(ctx, n, "SIGTERM")
				assert.ErrorIs(t, err, ctrgate.ErrNotRunning, "kill %s", n)
				assertSentinelWords(t, err, ctrgate.ErrNotRunning, "kill of a container that is not running")
				assert.ErrorIs(t, s.rt.Kill(ctx, n, ""), ctrgate.ErrNotRunning, "kill -9 %s", n)
			}
		}},
		{name: "RemoveRunning", parallel: true, fn: func(t *testing.T, s *suite) {
			ctx := s.ctx(t)
			name := s.name(t, "err-rm-running")
			s.run(t, ctx, s.spec(name, sleeper()...))
			err := s.rt.Remove(ctx, name, ctrgate.RemoveOptions{})
			assert.ErrorIs(t, err, ctrgate.ErrRunning)
			assertSentinelWords(t, err, ctrgate.ErrRunning, "remove of a running container")
			running, err := ctrgate.IsRunning(ctx, s.rt, name)
			require.NoError(t, err)
			assert.True(t, running, "a refused Remove leaves the container running")
			require.NoError(t, s.rt.Remove(ctx, name, ctrgate.RemoveOptions{Force: true}))
			s.requireGone(t, ctx, name)
		}},
		{name: "KillUnknownSignal", parallel: true, fn: func(t *testing.T, s *suite) {
			ctx := s.ctx(t)
			name := s.name(t, "err-badsig")
			s.run(t, ctx, s.spec(name, sleeper()...))
			assert.ErrorIs(t, s.rt.Kill(ctx, name, "SIGNOPE"), ctrgate.ErrInvalidSpec)
			running, err := ctrgate.IsRunning(ctx, s.rt, name)
			require.NoError(t, err)
			assert.True(t, running)
		}},
		{name: "CallsAfterClose", parallel: true, fn: func(t *testing.T, s *suite) {
			// A closed runtime fails every call at once with
			// ErrEngineUnavailable (an *EngineError of the method), ends
			// the streams it had opened, and touches no container.
			ctx := s.ctx(t)
			existing := s.name(t, "closed-running")
			s.run(t, ctx, s.spec(existing, sleeper()...))
			rt := s.open(t)
			var open ctrgate.EventStream
			if _, lacks := s.h.Lacks[CapEvents]; !lacks {
				var err error
				open, err = rt.Events(ctx, ctrgate.EventFilter{NamePrefix: s.prefix + "closed-none-"})
				require.NoError(t, err)
				defer open.Close()
			}
			require.NoError(t, rt.Close())
			assert.NoError(t, rt.Close(), "a second Close")
			if open != nil {
				ended := make(chan error, 1)
				go func() { // events delivered before Close may still come; then the end
					for {
						if _, err := open.Next(); err != nil {
							ended <- err
							return
						}
					}
				}()
				select {
				case err := <-ended:
					assert.Error(t, err, "an Events stream of a closed runtime ends")
				case <-time.After(5 * time.Second):
					t.Error("an Events stream opened before Close did not end within 5 s of it")
					_ = open.Close()
				}
			}
			calls := ctxCalls(s, existing, s.name(t, "closed-fresh"))
			calls = append(calls,
				ctxCall{ctrgate.OpLogs, func(ctx context.Context, rt ctrgate.ContainerRuntime) error {
					_, err := rt.Logs(ctx, existing, ctrgate.LogOptions{Follow: true})
					return err
				}, ""},
				ctxCall{ctrgate.OpEvents, func(ctx context.Context, rt ctrgate.ContainerRuntime) error {
					_, err := rt.Events(ctx, ctrgate.EventFilter{})
					return err
				}, CapEvents},
				ctxCall{ctrgate.OpCopyFrom, func(ctx context.Context, rt ctrgate.ContainerRuntime) error {
					_, err := rt.CopyFrom(ctx, existing, "/data")
					return err
				}, CapCopy})
			for _, c := range calls {
				if _, lacks := s.h.Lacks[c.needs]; c.needs != "" && lacks {
					continue
				}
				began := time.Now()
				err := c.call(ctx, rt)
				assert.ErrorIs(t, err, ctrgate.ErrEngineUnavailable, "%s after Close", c.name)
				assertOp(t, err, c.name, c.name+" after Close")
				within(t, time.Since(began), time.Second, c.name+" after Close")
			}
			running, err := ctrgate.IsRunning(ctx, s.rt, existing)
			require.NoError(t, err)
			assert.True(t, running, "calls on a closed runtime change nothing")
		}},
		{name: "RemoveImageInUse", fn: func(t *testing.T, s *suite) {
			// Refused without force while a container uses it. Not parallel:
			// if a backend wrongly removes the image, it is imported again
			// before other tests need it.
			ctx := s.ctx(t)
			name := s.name(t, "err-img-inuse")
			s.create(t, ctx, s.spec(name, "exit", "0"))
			assert.ErrorIs(t, s.rt.RemoveImage(ctx, s.image, false), ctrgate.ErrRunning)
			ok, err := s.rt.ImageExists(ctx, s.image)
			require.NoError(t, err)
			if !assert.True(t, ok, "the image in use survives RemoveImage without force") {
				require.NoError(t, s.rt.ImportImage(ctx, s.image, bytes.NewReader(TestImageTar(t)),
					ctrgate.ImportOptions{Entrypoint: []string{TestProgPath}}), "re-importing the test image")
			}
		}},
	}}
}
