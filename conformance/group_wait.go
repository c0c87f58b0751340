package conformance

import (
	"context"
	"github.com/ctrgate/ctrgate"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"testing"
	"time"
)

func waitGroup() group {
	return group{name: "Wait", tests: []suiteTest{
		{name: "ExitCodesAreNotErrors", parallel: true, fn: func(t *testing.T, s *suite) {
			ctx := s.ctx(t)
			codes := []int{0, 3, 124}
			var ns []string
			for _, c := range codes {
				n := s.name(t, "wait-code-"+itoa(c))
				s.run(t, ctx, s.spec(n, "exit", itoa(c)))
				ns = append(ns, n)
			}
			for i, n := range ns {
				code, err := s.rt.Wait(ctx, n)
				require.NoError(t, err, "an exit code is never an error")
				assert.Equal(t, codes[i], code)
			}
		}},
		{name: "AlreadyExited", parallel: true, fn: func(t *testing.T, s *suite) {
			ctx := s.ctx(t)
			name := s.name(t, "wait-exited")
			assert.Equal(t, 5, s.runToExit(t, ctx, s.spec(name, "exit", "5")))
			began := time.Now()
			assert.Equal(t, 5, s.wait(t, ctx, name), "the recorded exit code")
			within(t, time.Since(began), 3*time.Second, "Wait on an exited container")
		}},
		{name: "CreatedThenStarted", parallel: true, fn: func(t *testing.T, s *suite) {
			ctx := s.ctx(t)
			name := s.name(t, "wait-created")
			s.create(t, ctx, s.spec(name, "sleep", "200ms", ";", "exit", "6"))
			type res struct {
				code int
				err  error
			}
			ch := make(chan res, 1)
			go func() {
				code, err := s.rt.Wait(ctx, name)
				ch <- res{code, err}
			}()
			select {
			case r := <-ch:
				t.Fatalf("Wait on a never-started container returned (%d, %v); it must wait for a start and an exit", r.code, r.err)
			case <-time.After(700 * time.Millisecond):
			}
			require.NoError(t, s.rt.Start(ctx, name))
			select {
			case r := <-ch:
				require.NoError(t, r.err)
				assert.Equal(t, 6, r.code)
			case <-ctx.Done():
				t.Fatal("Wait did not return after the container was started and exited")
			}
		}},
		{name: "CreatedThenRemoved", parallel: true, fn: func(t *testing.T, s *suite) {
			// A Wait pending on a created container ends with ErrNotFound
			// when the container is removed instead of started.
			ctx := s.ctx(t)
			name := s.name(t, "wait-created-rm")
			s.create(t, ctx, s.spec(name, "exit", "0"))
			ch := make(chan error, 1)
			go func() {
				_, err := s.rt.Wait(ctx, name)
				ch <- err
			}()
			select {
			case err := <-ch:
				t.Fatalf("Wait on a never-started container returned early: %v", err)
			case <-time.After(700 * time.Millisecond):
			}
			require.NoError(t, s.rt.Remove(ctx, name, ctrgate.RemoveOptions{}))
			began := time.Now()
			select {
			case err := <-ch:
				assert.ErrorIs(t, err, ctrgate.ErrNotFound, "Wait ends when its container is removed")
				within(t, time.Since(began), 30*time.Second, "Wait after the removal (a generous bound: rootless Podman 4.3 under load took 17 s)")
			case <-ctx.Done():
				t.Fatal("Wait did not return after the created container was removed")
			}
		}},
		{name: "EveryViewAgreesAfterWait", parallel: true, fn: func(t *testing.T, s *suite) {
			// Once Wait has returned, Inspect, List and StatesByPrefix
			// report the exit at once (Docker serves List from a view it
			// updates a moment after the wait answers).
			ctx := s.ctx(t)
			var ns []string
			for i := 0; i < 3; i++ {
				n := s.name(t, "wait-views-"+itoa(i))
				s.run(t, ctx, s.spec(n, "sleep", "300ms", ";", "exit", itoa(40+i)))
				ns = append(ns, n)
			}
			for i, n := range ns {
				require.Equal(t, 40+i, s.wait(t, ctx, n))
				AssertExitedEverywhere(t, ctx, s.rt, n, 40+i)
			}
		}},
		{name: "Missing", parallel: true, fn: func(t *testing.T, s *suite) {
			ctx := s.ctx(t)
			began := time.Now()
			_, err := s.rt.Wait(ctx, s.prefix+"missing-"+randHex(3))
			assert.ErrorIs(t, err, ctrgate.ErrNotFound)
			within(t, time.Since(began), 5*time.Second, "Wait on a missing container")
		}},
		{name: "ContextEndsWait", parallel: true, fn: func(t *testing.T, s *suite) {
			ctx := s.ctx(t)
			name := s.name(t, "wait-ctx")
			s.run(t, ctx, s.spec(name, sleeper()...))

			dctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
			defer cancel()
			began := time.Now()
			_, err := s.rt.Wait(dctx, name)
			assert.ErrorIs(t, err, context.DeadlineExceeded)
			within(t, time.Since(began), 5*time.Second, "Wait after its deadline")

			cctx, cancel2 := context.WithCancel(ctx)
			time.AfterFunc(300*time.Millisecond, cancel2)
			began = time.Now()
			_, err = s.rt.Wait(cctx, name)
			assert.ErrorIs(t, err, context.Canceled)
			within(t, time.Since(began), 5*time.Second, "Wait after cancellation")

			running, err := ctrgate.IsRunning(ctx, s.rt, name)
			require.NoError(t, err)
			assert.True(t, running, "an ended Wait does not touch the container")
		}},
	}}
}
