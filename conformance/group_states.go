package conformance

import (
	"github.com/ctrgate/ctrgate"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"sort"
	"testing"
)

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

func sorted(s ...string) []string {
	out := append([]string{}, s...)
	sort.Strings(out)
	return out
}
