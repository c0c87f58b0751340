package conformance

import (
	"context"
	"github.com/ctrgate/ctrgate"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"strings"
	"testing"
	"time"
)

// collectEvents reads events until stop accepts one or ctx ends.
func collectEvents(t testing.TB, st ctrgate.EventStream, stop func(ctrgate.Event) bool) []ctrgate.Event {
	t.Helper()
	var out []ctrgate.Event
	for {
		ev, err := st.Next()
		if err != nil {
			t.Errorf("event stream ended before the expected event: %v (got %v)", err, out)
			return out
		}
		out = append(out, ev)
		if stop(ev) {
			return out
		}
	}
}

func eventTypes(evs []ctrgate.Event, name string) []ctrgate.EventType {
	var out []ctrgate.EventType
	for _, e := range evs {
		if e.Name == name {
			out = append(out, e.Type)
		}
	}
	return out
}

func firstIndex(ts []ctrgate.EventType, t ctrgate.EventType) int {
	for i, x := range ts {
		if x == t {
			return i
		}
	}
	return -1
}

// assertLifecycleEvents checks that name's events hold create, start, die
// (with code) and remove in that order.
func assertLifecycleEvents(t testing.TB, evs []ctrgate.Event, name, id string, code int) {
	t.Helper()
	types := eventTypes(evs, name)
	last := -1
	for _, want := range []ctrgate.EventType{ctrgate.EventCreate, ctrgate.EventStart, ctrgate.EventDie, ctrgate.EventRemove} {
		i := firstIndex(types, want)
		if assert.GreaterOrEqual(t, i, 0, "no %s event for %s; got %v", want, name, types) {
			assert.Greater(t, i, last, "%s event out of order for %s: %v", want, name, types)
			last = i
		}
	}
	for _, e := range evs {
		if e.Name != name {
			continue
		}
		assert.NotEmpty(t, e.Raw, "Event.Raw")
		assert.Equal(t, id, e.ID, "Event.ID of %s event", e.Type)
		if e.Type == ctrgate.EventDie {
			assert.Equal(t, code, e.ExitCode, "die event exit code")
		}
	}
}

func eventsGroup() group {
	return group{name: "Events", tests: []suiteTest{
		{name: "ForcedRemoveOfRunning", parallel: true, fn: func(t *testing.T, s *suite) {
			// Remove with Force of a running container: a die event with its
			// exit code, then remove. The code is the signal's: Docker and
			// Podman 4 kill (137); Podman 5 sends the stop signal first, on
			// which the test program exits (143).
			if !s.need(t, CapEvents) {
				return
			}
			ctx := s.ctx(t)
			name := s.name(t, "ev-rmf")
			ectx, cancel := context.WithTimeout(ctx, time.Minute)
			defer cancel()
			st, err := s.rt.Events(ectx, ctrgate.EventFilter{NamePrefix: name})
			require.NoError(t, err)
			defer st.Close()
			s.run(t, ctx, s.spec(name, sleeper()...))
			s.waitReady(t, ctx, name, "ready")
			require.NoError(t, s.rt.Remove(ctx, name, ctrgate.RemoveOptions{Force: true}))
			evs := collectEvents(t, st, func(e ctrgate.Event) bool { return e.Name == name && e.Type == ctrgate.EventRemove })
			types := eventTypes(evs, name)
			die, rm := firstIndex(types, ctrgate.EventDie), firstIndex(types, ctrgate.EventRemove)
			if assert.GreaterOrEqual(t, die, 0, "a die event for the killed container: %v", types) {
				assert.Less(t, die, rm, "die comes before remove: %v", types)
				for _, e := range evs {
					if e.Name == name && e.Type == ctrgate.EventDie {
						assert.Contains(t, []int{137, 143}, e.ExitCode, "die carries the exit code of the signalled container")
						break
					}
				}
			}
		}},
		{name: "LifecycleByPrefix", parallel: true, fn: func(t *testing.T, s *suite) {
			if !s.need(t, CapEvents) {
				return
			}
			ctx := s.ctx(t)
			p := s.prefix + "ev-"
			st, err := s.rt.Events(ctx, ctrgate.EventFilter{NamePrefix: p})
			require.NoError(t, err)
			defer st.Close()

			other := s.name(t, "evx-1") // outside the filter
			assert.Equal(t, 0, s.runToExit(t, ctx, s.spec(other, "exit", "0")))
			require.NoError(t, s.rt.Remove(ctx, other, ctrgate.RemoveOptions{}))

			name := s.name(t, "ev-1")
			id := s.run(t, ctx, s.spec(name, "exit", "4"))
			assert.Equal(t, 4, s.wait(t, ctx, name))
			require.NoError(t, s.rt.Remove(ctx, name, ctrgate.RemoveOptions{}))

			evs := collectEvents(t, st, func(e ctrgate.Event) bool { return e.Name == name && e.Type == ctrgate.EventRemove })
			for _, e := range evs {
				assert.True(t, strings.HasPrefix(e.Name, p), "event %s for %s passed the filter %s", e.Type, e.Name, p)
			}
			assertLifecycleEvents(t, evs, name, id, 4)
		}},
		{name: "LabelFilter", parallel: true, fn: func(t *testing.T, s *suite) {
			if !s.need(t, CapEvents) {
				return
			}
			ctx := s.ctx(t)
			val := randHex(4)
			st, err := s.rt.Events(ctx, ctrgate.EventFilter{NamePrefix: s.prefix, Labels: map[string]string{"ctg.events": val}})
			require.NoError(t, err)
			defer st.Close()

			other := s.name(t, "evl-other")
			sp := s.spec(other, "exit", "0")
			sp.Labels = map[string]string{"ctg.events": "other"}
			assert.Equal(t, 0, s.runToExit(t, ctx, sp))
			require.NoError(t, s.rt.Remove(ctx, other, ctrgate.RemoveOptions{}))

			name := s.name(t, "evl-1")
			sp = s.spec(name, "exit", "9")
			sp.Labels = map[string]string{"ctg.events": val}
			id := s.run(t, ctx, sp)
			assert.Equal(t, 9, s.wait(t, ctx, name))
			require.NoError(t, s.rt.Remove(ctx, name, ctrgate.RemoveOptions{}))

			evs := collectEvents(t, st, func(e ctrgate.Event) bool { return e.Name == name && e.Type == ctrgate.EventRemove })
			for _, e := range evs {
				assert.Equal(t, name, e.Name, "event %s for %s passed the label filter", e.Type, e.Name)
			}
			assertLifecycleEvents(t, evs, name, id, 9)
		}},
		{name: "CloseAndCancelEndStream", parallel: true, fn: func(t *testing.T, s *suite) {
			if !s.need(t, CapEvents) {
				return
			}
			ctx := s.ctx(t)
			st, err := s.rt.Events(ctx, ctrgate.EventFilter{NamePrefix: s.prefix + "evc-"})
			require.NoError(t, err)
			endsOnClose(t, "Events", func() error { _, err := st.Next(); return err }, st.Close)

			cctx, cancel := context.WithCancel(ctx)
			st, err = s.rt.Events(cctx, ctrgate.EventFilter{NamePrefix: s.prefix + "evc-"})
			require.NoError(t, err)
			defer st.Close()
			endsOnCancel(t, "Events", ctrgate.OpEvents, func() error { _, err := st.Next(); return err }, cancel)
		}},
	}}
}
