package fake

import (
	"context"
	"fmt"
	"io"

	"github.com/ctrgate/ctrgate"
)

// eventStream is an Events subscription.
type eventStream struct {
	r       *engine
	ctx     context.Context
	filter  ctrgate.EventFilter
	queue   []ctrgate.Event
	changed chan struct{}
	closed  bool
	err     error
}

func (s *eventStream) pushLocked(ev ctrgate.Event) {
	s.queue = append(s.queue, ev)
	close(s.changed)
	s.changed = make(chan struct{})
}

func (s *eventStream) endLocked(err error) {
	s.err = err
	close(s.changed)
	s.changed = make(chan struct{})
}

// Next returns the next event; see ctrgate.EventStream.
func (s *eventStream) Next() (ctrgate.Event, error) {
	r := s.r
	for {
		r.mu.Lock()
		if s.closed {
			r.mu.Unlock()
			return ctrgate.Event{}, io.EOF
		}
		if err := s.ctx.Err(); err != nil {
			delete(r.subs, s)
			r.mu.Unlock()
			return ctrgate.Event{}, ctxErr(ctrgate.OpEvents, s.filter.NamePrefix, fmt.Errorf("events: %w", err))
		}
		if len(s.queue) > 0 {
			ev := s.queue[0]
			s.queue = s.queue[1:]
			r.mu.Unlock()
			return ev, nil
		}
		if s.err != nil {
			err := s.err
			r.mu.Unlock()
			return ctrgate.Event{}, err
		}
		ch := s.changed
		r.mu.Unlock()
		select {
		case <-ch:
		case <-s.ctx.Done():
		}
	}
}

// Close ends the stream; idempotent.
func (s *eventStream) Close() error {
	r := s.r
	r.mu.Lock()
	defer r.mu.Unlock()
	if !s.closed {
		s.closed = true
		delete(r.subs, s)
		close(s.changed)
		s.changed = make(chan struct{})
	}
	return nil
}

// Events streams the lifecycle events that happen after the call.
func (r *engine) Events(ctx context.Context, filter ctrgate.EventFilter) (_ ctrgate.EventStream, err error) {
	defer r.record(ctrgate.OpEvents, filter.NamePrefix, &err)()
	if err := r.enter(ctx, ctrgate.OpEvents, filter.NamePrefix); err != nil {
		return nil, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil, unavailable(ctrgate.OpEvents, "")
	}
	s := &eventStream{r: r, ctx: ctx, filter: filter, changed: make(chan struct{})}
	r.subs[s] = struct{}{}
	return s, nil
}
