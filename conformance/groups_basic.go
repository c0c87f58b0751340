package conformance

import (
	"context"
	"errors"
	"sort"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ctrgate/ctrgate"
)

func engineGroup() group {
	return group{name: "Engine", tests: []suiteTest{
		{name: "Info", parallel: true, fn: func(t *testing.T, s *suite) {
			info, err := s.rt.Info(s.ctx(t))
			require.NoError(t, err)
			require.NotNil(t, info)
			assert.NotEmpty(t, info.Backend, "Info.Backend")
			assert.Contains(t, []string{"podman", "docker", "fake"}, info.Engine, "Info.Engine")
			assert.NotEmpty(t, info.Version, "Info.Version")
			t.Logf("%s: backend %s, engine %s %s (API %s), rootless=%v, cgroup %q, OCI runtime %q",
				s.h.Name, info.Backend, info.Engine, info.Version, info.APIVersion, info.Rootless,
				info.CgroupVersion, info.OCIRuntime)
		}},
		{name: "ImageExists", parallel: true, fn: func(t *testing.T, s *suite) {
			ctx := s.ctx(t)
			ok, err := s.rt.ImageExists(ctx, s.image)
			require.NoError(t, err)
			assert.True(t, ok, "the imported test image %s must exist", s.image)
			missing := "localhost/ctrgate/no-such-image-" + randHex(4) + ":v1"
			ok, err = s.rt.ImageExists(ctx, missing)
			require.NoError(t, err, "a missing image is (false, nil)")
			assert.False(t, ok)
			assert.NoError(t, s.rt.PullImage(ctx, s.image, ctrgate.PullNever), "PullNever on a present image")
			assert.NoError(t, s.rt.PullImage(ctx, s.image, ctrgate.PullMissing), "PullMissing on a present image")
		}},
	}}
}

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

func statesGroup() group {
	return group{name: "StatesListing", tests: []suiteTest{
		{name: "LiteralPrefix", parallel: true, fn: func(t *testing.T, s *suite) {
			ctx := s.ctx(t)
			dot := s.name(t, "a.b-1")
			x := s.name(t, "aXb-1")
			mid := s.name(t, "q"+s.prefix+"a.b-1") // holds the prefix, but not at the start
			for _, n := range []string{dot, x, mid} {
				s.create(t, ctx, s.spec(n, "exit", "0"))
			}
			got := names(t, s.rt, ctx, ctrgate.ListFilter{NamePrefix: s.prefix + "a.b-", All: true})
			assert.Equal(t, []string{dot}, got, "NamePrefix is literal ('.' is no wildcard) and anchored")
			got = names(t, s.rt, ctx, ctrgate.ListFilter{NamePrefix: s.prefix + "a", All: true})
			assert.Subset(t, got, []string{dot, x}) // other tests' names may start with "a" too
			assert.NotContains(t, got, mid)

			states, err := ctrgate.StatesByPrefix(ctx, s.rt, s.prefix+"a.b-")
			require.NoError(t, err)
			assert.Len(t, states, 1)
			assert.Contains(t, states, dot)
		}},
		{name: "LabelFilter", parallel: true, fn: func(t *testing.T, s *suite) {
			ctx := s.ctx(t)
			p := s.prefix + "lab-"
			n1, n2 := s.name(t, "lab-1"), s.name(t, "lab-2")
			sp1 := s.spec(n1, "exit", "0")
			sp1.Labels = map[string]string{"ctg.role": "x", "ctg.extra": "1"}
			sp2 := s.spec(n2, "exit", "0")
			sp2.Labels = map[string]string{"ctg.role": "y"}
			s.create(t, ctx, sp1)
			s.create(t, ctx, sp2)

			cs, err := s.rt.List(ctx, ctrgate.ListFilter{NamePrefix: p, Labels: map[string]string{"ctg.role": "x"}, All: true})
			require.NoError(t, err)
			require.Len(t, cs, 1)
			assert.Equal(t, n1, cs[0].Name)
			assert.Equal(t, "x", cs[0].Labels["ctg.role"], "List fills Labels")
			assert.Equal(t, "1", cs[0].Labels["ctg.extra"])

			assert.Equal(t, sorted(n1, n2), names(t, s.rt, ctx, ctrgate.ListFilter{NamePrefix: p,
				Labels: map[string]string{"ctg.role": ""}, All: true}), "an empty label value matches any value")
			assert.Equal(t, []string{n1}, names(t, s.rt, ctx, ctrgate.ListFilter{NamePrefix: p,
				Labels: map[string]string{"ctg.role": "x", "ctg.extra": "1"}, All: true}), "every label must match")
			assert.Empty(t, names(t, s.rt, ctx, ctrgate.ListFilter{NamePrefix: p,
				Labels: map[string]string{"ctg.role": "x", "ctg.extra": "2"}, All: true}))
			assert.Empty(t, names(t, s.rt, ctx, ctrgate.ListFilter{NamePrefix: p,
				Labels: map[string]string{"ctg.nope": ""}, All: true}))

			// Values are matched literally, whatever they hold: Podman 4's
			// CLI splits a filter value at its commas and refuses a '"'.
			n3 := s.name(t, "lab-3")
			sp3 := s.spec(n3, "exit", "0")
			sp3.Labels = map[string]string{"ctg.role": "x,y", "ctg.note": `say "hi"`}
			s.create(t, ctx, sp3)
			assert.Equal(t, []string{n3}, names(t, s.rt, ctx, ctrgate.ListFilter{NamePrefix: p,
				Labels: map[string]string{"ctg.role": "x,y"}, All: true}), "a label value with a comma")
			assert.Equal(t, []string{n3}, names(t, s.rt, ctx, ctrgate.ListFilter{NamePrefix: p,
				Labels: map[string]string{"ctg.role": "x,y", "ctg.note": `say "hi"`}, All: true}), "a label value with quotes")
			assert.Equal(t, []string{n1}, names(t, s.rt, ctx, ctrgate.ListFilter{NamePrefix: p,
				Labels: map[string]string{"ctg.role": "x"}, All: true}), "a part of a value with a comma is not the value")
			assert.Empty(t, names(t, s.rt, ctx, ctrgate.ListFilter{NamePrefix: p,
				Labels: map[string]string{"ctg.role": "y,x"}, All: true}))
			assert.Equal(t, sorted(n1, n2, n3), names(t, s.rt, ctx, ctrgate.ListFilter{NamePrefix: p,
				Labels: map[string]string{"ctg.role": ""}, All: true}))
		}},
		{name: "AllVersusRunning", parallel: true, fn: func(t *testing.T, s *suite) {
			ctx := s.ctx(t)
			p := s.prefix + "avr-"
			created, running, exited := s.name(t, "avr-c"), s.name(t, "avr-r"), s.name(t, "avr-x")
			createdID := s.create(t, ctx, s.spec(created, "exit", "0"))
			runningID := s.run(t, ctx, s.spec(running, sleeper()...))
			assert.Equal(t, 0, s.runToExit(t, ctx, s.spec(exited, "exit", "0")))

			cs, err := s.rt.List(ctx, ctrgate.ListFilter{NamePrefix: p})
			require.NoError(t, err)
			require.Len(t, cs, 1, "without All only running containers are listed, neither created nor exited ones: %+v", cs)
			assert.Equal(t, running, cs[0].Name)
			assert.Equal(t, runningID, cs[0].ID)
			assert.Equal(t, ctrgate.StateRunning, cs[0].State.Status)

			cs, err = s.rt.List(ctx, ctrgate.ListFilter{NamePrefix: p, All: true})
			require.NoError(t, err)
			require.Len(t, cs, 3)
			byName := map[string]ctrgate.Container{}
			for _, c := range cs {
				byName[c.Name] = c
				assert.Equal(t, s.image, c.Image, "List fills Image")
				assert.NotEmpty(t, c.State.Raw, "List keeps the engine's state word")
			}
			assert.Equal(t, createdID, byName[created].ID)
			assert.Equal(t, ctrgate.StateCreated, byName[created].State.Status)
			assert.Equal(t, ctrgate.StateRunning, byName[running].State.Status)
			assert.Equal(t, ctrgate.StateExited, byName[exited].State.Status)
		}},
		{name: "StatesByPrefix", parallel: true, fn: func(t *testing.T, s *suite) {
			ctx := s.ctx(t)
			created, running, exited := s.name(t, "sbp-c"), s.name(t, "sbp-r"), s.name(t, "sbp-x")
			s.create(t, ctx, s.spec(created, "exit", "0"))
			s.run(t, ctx, s.spec(running, sleeper()...))
			assert.Equal(t, 3, s.runToExit(t, ctx, s.spec(exited, "exit", "3")))

			states, err := ctrgate.StatesByPrefix(ctx, s.rt, s.prefix+"sbp-")
			require.NoError(t, err)
			require.Len(t, states, 3)
			want := map[string]ctrgate.State{created: ctrgate.StateCreated, running: ctrgate.StateRunning, exited: ctrgate.StateExited}
			for n, st := range want {
				got, ok := states[n]
				if assert.True(t, ok, "state of %s", n) {
					assert.Equal(t, st, got.Status, n)
					assert.NotEmpty(t, got.Raw, "Raw of %s", n)
					assert.Equal(t, st, ctrgate.ParseState(got.Raw), "Raw %q of %s normalises to Status", got.Raw, n)
				}
			}
			assert.Equal(t, 3, states[exited].ExitCode)
			assert.True(t, states[running].Running())
			assert.False(t, states[exited].Running())

			c, err := s.rt.Inspect(ctx, exited)
			require.NoError(t, err)
			assert.Equal(t, ctrgate.StateExited, c.State.Status)
			assert.Equal(t, 3, c.State.ExitCode)
			assert.NotEmpty(t, c.State.Raw)
		}},
		{name: "MissingIsAnError", parallel: true, fn: func(t *testing.T, s *suite) {
			ctx := s.ctx(t)
			missing := s.prefix + "missing-" + randHex(3)
			running, err := ctrgate.IsRunning(ctx, s.rt, missing)
			assert.ErrorIs(t, err, ctrgate.ErrNotFound, "IsRunning on a missing container is an error, not false")
			assert.False(t, running)
			_, err = ctrgate.StateOf(ctx, s.rt, missing)
			assert.ErrorIs(t, err, ctrgate.ErrNotFound)
		}},
		{name: "EmptyResultIsNotAnError", parallel: true, fn: func(t *testing.T, s *suite) {
			ctx := s.ctx(t)
			cs, err := s.rt.List(ctx, ctrgate.ListFilter{NamePrefix: s.prefix + "nothing-", All: true})
			require.NoError(t, err)
			assert.Empty(t, cs)
			states, err := ctrgate.StatesByPrefix(ctx, s.rt, s.prefix+"nothing-")
			require.NoError(t, err)
			assert.Empty(t, states)
		}},
	}}
}

// names lists the names matching f, sorted.
func names(t testing.TB, rt ctrgate.ContainerRuntime, ctx context.Context, f ctrgate.ListFilter) []string {
	t.Helper()
	cs, err := rt.List(ctx, f)
	require.NoError(t, err)
	out := []string{}
	for _, c := range cs {
		out = append(out, c.Name)
	}
	sort.Strings(out)
	return out
}

func sorted(s ...string) []string {
	out := append([]string{}, s...)
	sort.Strings(out)
	return out
}

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
