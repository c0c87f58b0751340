package conformance

import (
	"github.com/ctrgate/ctrgate"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"testing"
	"time"
)

func stopGroup() group {
	return group{name: "Stop", tests: []suiteTest{
		{name: "KillsAfterTimeout", parallel: true, fn: func(t *testing.T, s *suite) {
			ctx := s.ctx(t)
			name := s.name(t, "stop-kill")
			s.run(t, ctx, s.spec(name, "ignore-term"))
			s.waitReady(t, ctx, name, "ignoring SIGTERM")
			began := time.Now()
			require.NoError(t, s.rt.Stop(ctx, name, time.Second))
			took := time.Since(began)
			assert.GreaterOrEqual(t, took, 900*time.Millisecond, "Stop waits the timeout before SIGKILL")
			within(t, took, 10*time.Second, "Stop with a 1s timeout")
			st, err := ctrgate.StateOf(ctx, s.rt, name)
			require.NoError(t, err)
			assert.False(t, st.Running(), "Stop returns only after the container has exited")
			assert.Equal(t, 137, st.ExitCode)
			assert.Equal(t, 137, s.wait(t, ctx, name))
		}},
		{name: "GracefulTerm", parallel: true, fn: func(t *testing.T, s *suite) {
			ctx := s.ctx(t)
			name := s.name(t, "stop-term")
			s.run(t, ctx, s.spec(name, sleeper()...))
			s.waitReady(t, ctx, name, "ready")
			began := time.Now()
			require.NoError(t, s.rt.Stop(ctx, name, 10*time.Second))
			within(t, time.Since(began), 8*time.Second, "Stop of a program that exits on SIGTERM")
			st, err := ctrgate.StateOf(ctx, s.rt, name)
			require.NoError(t, err)
			assert.Equal(t, ctrgate.StateExited, st.Status)
			assert.Equal(t, 143, st.ExitCode, "128+SIGTERM")
		}},
		{name: "SpecStopTimeout", parallel: true, fn: func(t *testing.T, s *suite) {
			ctx := s.ctx(t)
			name := s.name(t, "stop-spec")
			spec := s.spec(name, "ignore-term")
			spec.StopTimeout = time.Second
			s.run(t, ctx, spec)
			s.waitReady(t, ctx, name, "ignoring SIGTERM")
			began := time.Now()
			require.NoError(t, s.rt.Stop(ctx, name, -1), "a negative timeout means the spec's StopTimeout")
			took := time.Since(began)
			assert.GreaterOrEqual(t, took, 900*time.Millisecond)
			within(t, took, 8*time.Second, "Stop with the spec's 1s StopTimeout (the default would be 10s)")
			assert.Equal(t, 137, s.wait(t, ctx, name))
		}},
		{name: "ZeroTimeoutKills", parallel: true, fn: func(t *testing.T, s *suite) {
			ctx := s.ctx(t)
			name := s.name(t, "stop-zero")
			s.run(t, ctx, s.spec(name, "ignore-term"))
			s.waitReady(t, ctx, name, "ignoring SIGTERM")
			began := time.Now()
			require.NoError(t, s.rt.Stop(ctx, name, 0))
			within(t, time.Since(began), 5*time.Second, "Stop with timeout 0")
			assert.Equal(t, 137, s.wait(t, ctx, name))
		}},
		{name: "StopSignal", parallel: true, fn: func(t *testing.T, s *suite) {
			ctx := s.ctx(t)
			name := s.name(t, "stop-signal")
			spec := s.spec(name, "ignore-term") // ignores TERM, not HUP
			spec.StopSignal = "SIGHUP"
			s.run(t, ctx, spec)
			s.waitReady(t, ctx, name, "ignoring SIGTERM")
			began := time.Now()
			require.NoError(t, s.rt.Stop(ctx, name, 10*time.Second))
			within(t, time.Since(began), 8*time.Second, "Stop with StopSignal SIGHUP")
			assert.Equal(t, 129, s.wait(t, ctx, name), "the spec's StopSignal was sent")
		}},
		{name: "CreatedIsNoop", parallel: true, fn: func(t *testing.T, s *suite) {
			// Stop of a created, never-started container is a no-op: it stays
			// created, and a pending Wait keeps waiting for a start.
			ctx := s.ctx(t)
			name := s.name(t, "stop-created")
			s.create(t, ctx, s.spec(name, "sleep", "200ms", ";", "exit", "5"))
			ch := make(chan int, 1)
			go func() {
				code, err := s.rt.Wait(ctx, name)
				if err != nil {
					code = -1
				}
				ch <- code
			}()
			time.Sleep(300 * time.Millisecond)
			require.NoError(t, s.rt.Stop(ctx, name, time.Second))
			st, err := ctrgate.StateOf(ctx, s.rt, name)
			require.NoError(t, err)
			assert.Equal(t, ctrgate.StateCreated, st.Status, "Stop leaves a created container created")
			select {
			case code := <-ch:
				t.Fatalf("Stop of a created container ended a pending Wait (code %d)", code)
			case <-time.After(700 * time.Millisecond):
			}
			require.NoError(t, s.rt.Start(ctx, name))
			select {
			case code := <-ch:
				assert.Equal(t, 5, code, "the pending Wait reports the exit after the start")
			case <-ctx.Done():
				t.Fatal("Wait did not return after the start")
			}
		}},
	}}
}
