package driver_test

import (
	"context"
	"errors"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/ctrgate/ctrgate/driver"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ctrgate/ctrgate"
)

// sliceEvents is an EventStream that delivers evs, then ends with end.
type sliceEvents struct {
	ctx  context.Context
	evs  []ctrgate.Event
	end  error
	hold bool // block after evs until ctx is done instead of ending
}

func (s *sliceEvents) Next() (ctrgate.Event, error) {
	if len(s.evs) > 0 {
		ev := s.evs[0]
		s.evs = s.evs[1:]
		return ev, nil
	}
	if s.hold {
		<-s.ctx.Done()
		return ctrgate.Event{}, s.ctx.Err()
	}
	return ctrgate.Event{}, s.end
}

func (s *sliceEvents) Close() error { return nil }

func TestResumeEventsAcrossEndsWithoutLossOrRepeats(t *testing.T) {
	base := time.Now().Add(time.Second)
	ev := func(i int, typ ctrgate.EventType) ctrgate.Event {
		return ctrgate.Event{Type: typ, Raw: string(typ), ID: "id" + string(rune('a'+i)), Name: "c", Time: base.Add(time.Duration(i) * time.Millisecond)}
	}
	var (
		mu     sync.Mutex
		sinces []time.Time
	)
	calls := 0
	sub := func(ctx context.Context, since time.Time) (ctrgate.EventStream, error) {
		mu.Lock()
		defer mu.Unlock()
		calls++
		sinces = append(sinces, since)
		switch calls {
		case 1: // ends like a rotated podman events follower
			return &sliceEvents{ctx: ctx, evs: []ctrgate.Event{ev(0, "create"), ev(1, "start")}, end: io.EOF}, nil
		case 2: // the engine restarts
			return nil, ctrgate.ErrEngineUnavailable
		case 3: // replays from since: 1 again, 2 is new; then a broken connection
			return &sliceEvents{ctx: ctx, evs: []ctrgate.Event{ev(1, "start"), ev(2, "die")}, end: errors.New("unexpected EOF")}, nil
		default:
			return &sliceEvents{ctx: ctx, evs: []ctrgate.Event{ev(2, "die"), ev(3, "remove")}, hold: true}, nil
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, err := driver.ResumeEvents(ctx, sub, driver.ResumeOptions{})
	require.NoError(t, err)
	var got []ctrgate.EventType
	for len(got) < 4 {
		e, err := st.Next()
		require.NoError(t, err)
		got = append(got, e.Type)
	}
	assert.Equal(t, []ctrgate.EventType{"create", "start", "die", "remove"}, got, "every event once, in order")
	require.NoError(t, st.Close())
	_, err = st.Next()
	assert.ErrorIs(t, err, io.EOF, "Next after Close")
	mu.Lock()
	defer mu.Unlock()
	assert.True(t, sinces[0].IsZero(), "the first subscription is from now")
	assert.False(t, sinces[1].IsZero(), "later ones from the last event")
	assert.False(t, sinces[1].After(base.Add(time.Millisecond)), "from at or before the last event")
}

func TestResumeEventsEndsWhenTheEngineStaysAway(t *testing.T) {
	sub := func(ctx context.Context, since time.Time) (ctrgate.EventStream, error) {
		if since.IsZero() {
			return &sliceEvents{ctx: ctx, end: io.EOF}, nil
		}
		return nil, errors.New("dial unix /x.sock: connection refused")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, err := driver.ResumeEvents(ctx, sub, driver.ResumeOptions{Window: 500 * time.Millisecond})
	require.NoError(t, err)
	defer st.Close()
	_, err = st.Next()
	assert.ErrorIs(t, err, ctrgate.ErrEngineUnavailable)
	assert.ErrorContains(t, err, "connection refused")
}

func TestResumeEventsStopsAtOnce(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	t.Run("InvalidSpec", func(t *testing.T) {
		n := 0
		sub := func(ctx context.Context, since time.Time) (ctrgate.EventStream, error) {
			if n++; n == 1 {
				return &sliceEvents{ctx: ctx, end: io.EOF}, nil
			}
			return nil, ctrgate.ErrInvalidSpec
		}
		st, err := driver.ResumeEvents(ctx, sub, driver.ResumeOptions{})
		require.NoError(t, err)
		defer st.Close()
		_, err = st.Next()
		assert.ErrorIs(t, err, ctrgate.ErrInvalidSpec)
	})
	t.Run("RuntimeClosed", func(t *testing.T) {
		sub := func(ctx context.Context, since time.Time) (ctrgate.EventStream, error) {
			return &sliceEvents{ctx: ctx, end: io.EOF}, nil
		}
		st, err := driver.ResumeEvents(ctx, sub, driver.ResumeOptions{Closed: func() bool { return true }})
		require.NoError(t, err)
		defer st.Close()
		_, err = st.Next()
		assert.ErrorIs(t, err, ctrgate.ErrEngineUnavailable)
	})
	t.Run("Cancel", func(t *testing.T) {
		cctx, ccancel := context.WithCancel(ctx)
		sub := func(ctx context.Context, since time.Time) (ctrgate.EventStream, error) {
			return &sliceEvents{ctx: ctx, hold: true}, nil
		}
		st, err := driver.ResumeEvents(cctx, sub, driver.ResumeOptions{})
		require.NoError(t, err)
		defer st.Close()
		time.AfterFunc(50*time.Millisecond, ccancel)
		_, err = st.Next()
		assert.ErrorIs(t, err, context.Canceled)
	})
}
