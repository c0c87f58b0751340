package conformance

import (
	"errors"
	"github.com/ctrgate/ctrgate"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"testing"
	"time"
)

func lifecycleGroup() group {
	return group{name: "Lifecycle", tests: []suiteTest{
		{name: "CreateStartStopRemove", parallel: true, fn: func(t *testing.T, s *suite) {
			ctx := s.ctx(t)
			name := s.name(t, "life-1")
			id := s.create(t, ctx, s.spec(name, sleeper()...))

			c, err := s.rt.Inspect(ctx, name)
			require.NoError(t, err)
			assert.Equal(t, id, c.ID, "Inspect(name).ID is Create's ID")
			assert.Equal(t, name, c.Name)
			assert.Equal(t, s.image, c.Image, "Image as given at create")
			assert.Equal(t, ctrgate.StateCreated, c.State.Status)
			assert.NotEmpty(t, c.State.Raw, "State.Raw keeps the engine's word")
			assert.False(t, c.State.Running())

			byID, err := s.rt.Inspect(ctx, id)
			require.NoError(t, err, "containers are addressed by ID too")
			assert.Equal(t, name, byID.Name)

			require.NoError(t, s.rt.Start(ctx, name))
			c, err = s.rt.Inspect(ctx, name)
			require.NoError(t, err)
			assert.Equal(t, ctrgate.StateRunning, c.State.Status)
			assert.True(t, c.State.Running())
			s.waitReady(t, ctx, name, "ready")

			began := time.Now()
			require.NoError(t, s.rt.Stop(ctx, name, 10*time.Second))
			within(t, time.Since(began), 8*time.Second, "Stop of a program that exits on SIGTERM")
			c, err = s.rt.Inspect(ctx, name)
			require.NoError(t, err)
			assert.Equal(t, ctrgate.StateExited, c.State.Status, "Stop returns once the container has exited")
			assert.Equal(t, 143, c.State.ExitCode)

			require.NoError(t, s.rt.Remove(ctx, name, ctrgate.RemoveOptions{}))
			_, err = s.rt.Inspect(ctx, name)
			assert.ErrorIs(t, err, ctrgate.ErrNotFound)
			_, err = s.rt.Inspect(ctx, id)
			assert.ErrorIs(t, err, ctrgate.ErrNotFound)
		}},
		{name: "RunHelper", parallel: true, fn: func(t *testing.T, s *suite) {
			ctx := s.ctx(t)
			name := s.name(t, "life-run")
			id := s.run(t, ctx, s.spec(name, sleeper()...))
			running, err := ctrgate.IsRunning(ctx, s.rt, name)
			require.NoError(t, err)
			assert.True(t, running)
			st, err := ctrgate.StateOf(ctx, s.rt, id)
			require.NoError(t, err)
			assert.Equal(t, ctrgate.StateRunning, st.Status)
			require.NoError(t, s.rt.Remove(ctx, name, ctrgate.RemoveOptions{Force: true}))
			s.requireGone(t, ctx, name)
		}},
		{name: "RunRemovesOnStartFailure", parallel: true, fn: func(t *testing.T, s *suite) {
			ctx := s.ctx(t)
			name := s.name(t, "life-badstart")
			spec := s.spec(name, "echo", "never")
			spec.Entrypoint = []string{"/no/such/program-" + randHex(3)}
			_, err := ctrgate.Run(ctx, s.rt, spec)
			require.Error(t, err, "starting a container whose program does not exist")
			s.requireGone(t, ctx, name)
		}},
		{name: "RestartExited", parallel: true, fn: func(t *testing.T, s *suite) {
			ctx := s.ctx(t)
			name := s.name(t, "life-restart")
			assert.Equal(t, 0, s.runToExit(t, ctx, s.spec(name, "echo", "hi")))
			require.NoError(t, s.rt.Start(ctx, name), "an exited container can be started again")
			assert.Equal(t, 0, s.wait(t, ctx, name))
			c, err := s.rt.Inspect(ctx, name)
			require.NoError(t, err)
			assert.Equal(t, ctrgate.StateExited, c.State.Status)
			assert.Equal(t, []string{"hi", "hi"}, texts(s.logs(t, ctx, name, ctrgate.LogOptions{}), ctrgate.Stdout),
				"both runs are in the log")
		}},
		{name: "KillDeliversSignal", parallel: true, fn: func(t *testing.T, s *suite) {
			ctx := s.ctx(t)
			name := s.name(t, "life-kill")
			s.run(t, ctx, s.spec(name, sleeper()...))
			s.waitReady(t, ctx, name, "ready")
			require.NoError(t, s.rt.Kill(ctx, name, "HUP"), "a signal name without SIG")
			assert.Equal(t, 129, s.wait(t, ctx, name), "SIGHUP ends the test program with 128+1")

			name2 := s.name(t, "life-kill9")
			s.run(t, ctx, s.spec(name2, "ignore-term"))
			s.waitReady(t, ctx, name2, "ignoring")
			require.NoError(t, s.rt.Kill(ctx, name2, ""), `"" means SIGKILL`)
			assert.Equal(t, 137, s.wait(t, ctx, name2))
		}},
		{name: "AutoRemove", parallel: true, fn: func(t *testing.T, s *suite) {
			ctx := s.ctx(t)
			name := s.name(t, "life-autorm")
			spec := s.spec(name, "exit", "0")
			spec.AutoRemove = true
			s.run(t, ctx, spec)
			code, err := s.rt.Wait(ctx, name)
			if err != nil {
				assert.ErrorIs(t, err, ctrgate.ErrNotFound, "Wait on an auto-removed container")
			} else {
				assert.Equal(t, 0, code)
			}
			assert.Eventually(t, func() bool {
				_, err := s.rt.Inspect(ctx, name)
				return errors.Is(err, ctrgate.ErrNotFound)
			}, 20*time.Second, 100*time.Millisecond, "the container removes itself after exiting")
		}},
	}}
}
