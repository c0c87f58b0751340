package conformance

import (
	"github.com/ctrgate/ctrgate"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"testing"
	"time"
)

func idempotenceGroup() group {
	return group{name: "Idempotence", tests: []suiteTest{
		{name: "StartTwice", parallel: true, fn: func(t *testing.T, s *suite) {
			ctx := s.ctx(t)
			name := s.name(t, "idem-start")
			s.run(t, ctx, s.spec(name, sleeper()...))
			s.waitReady(t, ctx, name, "ready")
			c1, err := s.rt.Inspect(ctx, name)
			require.NoError(t, err)
			require.NoError(t, s.rt.Start(ctx, name), "starting a running container is a no-op")
			time.Sleep(300 * time.Millisecond) // a restarted program would print "ready" again at once
			c2, err := s.rt.Inspect(ctx, name)
			require.NoError(t, err)
			assert.Equal(t, ctrgate.StateRunning, c2.State.Status)
			if c1.State.Pid != 0 {
				assert.Equal(t, c1.State.Pid, c2.State.Pid, "the process was not restarted")
			}
			assert.Equal(t, []string{"ready"}, texts(s.logs(t, ctx, name, ctrgate.LogOptions{}), ctrgate.Stdout),
				"the program ran once")
		}},
		{name: "StopTwice", parallel: true, fn: func(t *testing.T, s *suite) {
			ctx := s.ctx(t)
			name := s.name(t, "idem-stop")
			s.run(t, ctx, s.spec(name, sleeper()...))
			s.waitReady(t, ctx, name, "ready")
			require.NoError(t, s.rt.Stop(ctx, name, 10*time.Second))
			began := time.Now()
			require.NoError(t, s.rt.Stop(ctx, name, 10*time.Second), "stopping an exited container is a no-op")
			within(t, time.Since(began), 5*time.Second, "Stop of an exited container")
			st, err := ctrgate.StateOf(ctx, s.rt, name)
			require.NoError(t, err)
			assert.Equal(t, 143, st.ExitCode, "the second Stop did not change the exit code")

			created := s.name(t, "idem-stop-c")
			s.create(t, ctx, s.spec(created, "exit", "0"))
			require.NoError(t, s.rt.Stop(ctx, created, time.Second), "stopping a created container is a no-op")
			st, err = ctrgate.StateOf(ctx, s.rt, created)
			require.NoError(t, err)
			assert.False(t, st.Running())
		}},
		{name: "RemoveAllGone", parallel: true, fn: func(t *testing.T, s *suite) {
			ctx := s.ctx(t)
			existing := s.name(t, "idem-rm-1")
			s.create(t, ctx, s.spec(existing, "exit", "0"))
			running := s.name(t, "idem-rm-2")
			s.run(t, ctx, s.spec(running, sleeper()...))
			ns := []string{s.prefix + "idem-gone-1", existing, s.prefix + "idem-gone-2", running}
			res := ctrgate.RemoveAll(ctx, s.rt, ns)
			require.Len(t, res, len(ns))
			for i, r := range res {
				assert.Equal(t, ns[i], r.Name)
				assert.NoError(t, r.Err, "RemoveAll(%s)", r.Name)
			}
			assert.NoError(t, ctrgate.FirstError(res))
			s.requireGone(t, ctx, existing)
			s.requireGone(t, ctx, running)
			assert.NoError(t, ctrgate.FirstError(ctrgate.RemoveAll(ctx, s.rt, ns)), "again, all gone")
		}},
	}}
}
