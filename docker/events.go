package docker

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/docker/docker/api/types/events"
	"github.com/docker/docker/api/types/filters"

	"github.com/ctrgate/ctrgate"
)

// Events streams container lifecycle events after the call. The request
// asks the engine for container events since the moment of the call (the
// engine replays what it buffered while the subscription was being set up,
// so nothing that happens after Events returns is missed) and events older
// than the call are dropped. Docker's "destroy" becomes EventRemove; "die"
// carries the exitCode attribute. Label filters go to the engine and, with
// the literal name prefix, are applied again here. This relies on the
// engine's clock agreeing with the local one (same host, or synchronised).
func (r *Runtime) Events(ctx context.Context, filter ctrgate.EventFilter) (ctrgate.EventStream, error) {
	if err := ctrgate.ValidatePrefix(filter.NamePrefix); err != nil {
		return nil, err
	}
	start := time.Now()
	sctx, cancel, err := r.beginTimeout(ctx, opEvents, filter.NamePrefix, 0)
	if err != nil {
		return nil, err
	}
	args := filters.NewArgs(filters.Arg("type", string(events.ContainerEventType)))
	for k, v := range filter.Labels {
		if v == "" {
			args.Add("label", k)
		} else {
			args.Add("label", k+"="+v)
		}
	}
	since := start.Add(-time.Millisecond)
	msgs, errs := r.cli.Events(sctx, events.ListOptions{
		Filters: args,
		Since:   strconv.FormatInt(since.Unix(), 10) + "." + pad9(since.Nanosecond()),
	})
	// client.Events returns once the engine has answered the request; a
	// refusal is already waiting in errs.
	select {
	case err := <-errs:
		if err != nil {
			merr := r.mapErr(sctx, opEvents, filter.NamePrefix, err, nil)
			cancel()
			return nil, merr
		}
	default:
	}
	s := &eventStream{
		ctx:    ctx,
		out:    make(chan ctrgate.Event, 64),
		done:   make(chan struct{}),
		cancel: cancel,
	}
	go s.run(sctx, r, msgs, errs, filter, start)
	return s, nil
}

// eventStream is the ctrgate.EventStream of Events.
type eventStream struct {
	ctx    context.Context // the caller's
	out    chan ctrgate.Event
	done   chan struct{} // closed when run ends; err is set before
	err    error
	cancel context.CancelFunc

	closeOnce sync.Once
	closed    chan struct{}
	mu        sync.Mutex
}

func (s *eventStream) run(ctx context.Context, r *Runtime, msgs <-chan events.Message, errs <-chan error, f ctrgate.EventFilter, start time.Time) {
	defer close(s.done)
	defer s.cancel()
	for {
		select {
		case <-ctx.Done():
			if s.ctx.Err() == nil && r.life.Err() != nil {
				s.err = r.errClosed(opEvents, f.NamePrefix)
			}
			return
		case err := <-errs:
			if err == nil || s.ctx.Err() != nil {
				return
			}
			s.err = r.mapErr(ctx, opEvents, f.NamePrefix, err, nil)
			return
		case m := <-msgs:
			ev, ok := normaliseEvent(m)
			if !ok || ev.Time.Before(start) || !f.Matches(ev.Name, ev.Labels) {
				continue
			}
			select {
			case s.out <- ev:
			case <-ctx.Done():
				return
			}
		}
	}
}

// normaliseEvent converts a Docker event message; ok is false for events
// outside ctrgate's set.
func normaliseEvent(m events.Message) (ctrgate.Event, bool) {
	if m.Type != "" && m.Type != events.ContainerEventType {
		return ctrgate.Event{}, false
	}
	action := string(m.Action)
	if action == "" {
		action = m.Status
	}
	// Docker appends details to some actions ("exec_start: sh -c ..."); the
	// lifecycle ones are plain words.
	action, _, _ = strings.Cut(action, ":")
	t, ok := ctrgate.NormaliseEventType(action)
	if !ok {
		return ctrgate.Event{}, false
	}
	attrs := m.Actor.Attributes
	ev := ctrgate.Event{
		Type:   t,
		Raw:    string(m.Action),
		ID:     m.Actor.ID,
		Name:   strings.TrimPrefix(attrs["name"], "/"),
		Image:  attrs["image"],
		Labels: map[string]string{},
	}
	if ev.ID == "" {
		ev.ID = m.ID
	}
	if ev.Image == "" {
		ev.Image = m.From
	}
	if ref := attrs[ImageLabel]; ref != "" {
		ev.Image = ref
	}
	switch {
	case m.TimeNano != 0:
		ev.Time = time.Unix(0, m.TimeNano)
	case m.Time != 0:
		ev.Time = time.Unix(m.Time, 0)
	}
	if t == ctrgate.EventDie {
		ev.ExitCode, _ = strconv.Atoi(attrs["exitCode"])
	}
	// Docker and Podman put the container's labels among the attributes,
	// next to their own keys (name, image, exitCode, signal; Podman adds
	// containerExitCode and podId).
	for k, v := range attrs {
		switch k {
		case "name", "image", "exitCode", "containerExitCode", "signal", "container", "execID", "execDuration", "podId", ImageLabel:
			continue
		}
		ev.Labels[k] = v
	}
	return ev, true
}

// Next returns the next event.
func (s *eventStream) Next() (ctrgate.Event, error) {
	select {
	case <-s.closedCh():
		return ctrgate.Event{}, io.EOF
	default:
	}
	select {
	case ev := <-s.out:
		return ev, nil
	case <-s.closedCh():
		return ctrgate.Event{}, io.EOF
	case <-s.ctx.Done():
		return ctrgate.Event{}, fmt.Errorf("events: %w", s.ctx.Err())
	case <-s.done:
		select {
		case ev := <-s.out:
			return ev, nil
		default:
		}
		if s.ctx.Err() != nil {
			return ctrgate.Event{}, fmt.Errorf("events: %w", s.ctx.Err())
		}
		if s.err != nil {
			return ctrgate.Event{}, s.err
		}
		return ctrgate.Event{}, io.EOF
	}
}

func (s *eventStream) closedCh() chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed == nil {
		s.closed = make(chan struct{})
	}
	return s.closed
}

// Close ends the stream and waits for its goroutine; idempotent.
func (s *eventStream) Close() error {
	ch := s.closedCh()
	s.closeOnce.Do(func() {
		close(ch)
		s.cancel()
	})
	<-s.done
	return nil
}
