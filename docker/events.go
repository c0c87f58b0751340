package docker

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/ctrgate/ctrgate/driver"

	"github.com/docker/docker/api/types/events"
	"github.com/docker/docker/api/types/filters"

	"github.com/ctrgate/ctrgate"
	"github.com/ctrgate/ctrgate/pipe"
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
	// A daemon restart or a broken connection ends the engine's stream (and
	// Podman's service ends it when it rotates its events log):
	// ResumeEvents subscribes again from the last event.
	// When ctx ends, Next's error is an *EngineError of Events wrapping
	// ctx.Err(), like every other error of the stream.
	return driver.ResumeEvents(ctx, func(ctx context.Context, since time.Time) (ctrgate.EventStream, error) {
		return r.subscribeEvents(ctx, filter, since)
	}, driver.ResumeOptions{Closed: r.isClosed, Window: r.window, CtxError: func(ctx context.Context) error {
		return eventsCtxErr(ctx, filter)
	}})
}

// eventsCtxErr is the error of an event stream whose context is done.
func eventsCtxErr(ctx context.Context, filter ctrgate.EventFilter) error {
	return ctrgate.NewEngineError(BackendName, ctrgate.OpEvents, filter.NamePrefix, nil, "", ctx.Err(), nil)
}

// refusalWait is how long Events waits for the engine's refusal of a
// subscription that it has answered (see subscribeEvents).
const refusalWait = 20 * time.Millisecond

// isClosed reports whether Close has been called.
func (r *Runtime) isClosed() bool {
	r.closeMu.Lock()
	defer r.closeMu.Unlock()
	return r.closed
}

// subscribeEvents opens one event request for the events after the call
// (since zero) or at or after since.
func (r *Runtime) subscribeEvents(ctx context.Context, filter ctrgate.EventFilter, since0 time.Time) (ctrgate.EventStream, error) {
	start := time.Now()
	if !since0.IsZero() {
		start = since0
	}
	sctx, cancel, err := r.begin(ctx, ctrgate.OpEvents, filter.NamePrefix)
	if err != nil {
		return nil, err
	}
	args := filters.NewArgs(filters.Arg("type", string(events.ContainerEventType)))
	for _, l := range driver.LabelFilters(filter.Labels) {
		args.Add("label", l)
	}
	since := start.Add(-time.Millisecond)
	msgs, errs := r.cli.Events(sctx, events.ListOptions{
		Filters: args,
		Since:   strconv.FormatInt(since.Unix(), 10) + "." + pad9(since.Nanosecond()),
	})
	// client.Events returns once the engine has answered the request, but
	// its goroutine sends a refusal to errs only right after: wait a
	// moment for it (a stream that works sends nothing there).
	refusal := time.NewTimer(refusalWait)
	select {
	case err := <-errs:
		refusal.Stop()
		if err != nil {
			merr := r.mapErr(sctx, ctrgate.OpEvents, filter.NamePrefix, err)
			cancel()
			return nil, merr
		}
	case <-refusal.C:
	}
	// Close cancels the request; when ctx is done, also after pumpEvents
	// has ended, Next's error is an *EngineError of Events wrapping
	// ctx.Err(), like every other error of the stream.
	p := pipe.New[ctrgate.Event](ctx, cancel, pipe.Buffer(64), pipe.CtxErrorFirst(),
		pipe.CtxError(func(ctx context.Context) error { return eventsCtxErr(ctx, filter) }))
	go func() {
		err := pumpEvents(ctx, sctx, r, p, msgs, errs, filter, start)
		cancel()
		p.Finish(err)
	}()
	return eventStream{p}, nil
}

// eventStream is the ctrgate.EventStream of Events: its Close also waits
// for pumpEvents to end.
type eventStream struct {
	*pipe.Pipe[ctrgate.Event]
}

// pumpEvents pumps the engine's messages (request context sctx) into p
// until the request ends, and returns the stream's final error. ctx is the
// caller's.
func pumpEvents(ctx, sctx context.Context, r *Runtime, p *pipe.Pipe[ctrgate.Event], msgs <-chan events.Message, errs <-chan error, f ctrgate.EventFilter, start time.Time) error {
	for {
		select {
		case <-sctx.Done():
			if ctx.Err() == nil && r.life.Err() != nil {
				return r.errClosed(ctrgate.OpEvents, f.NamePrefix)
			}
			return nil
		case err := <-errs:
			if err == nil || ctx.Err() != nil {
				return nil
			}
			return r.mapErr(sctx, ctrgate.OpEvents, f.NamePrefix, err)
		case m := <-msgs:
			ev, ok := normaliseEvent(m)
			if !ok || ev.Time.Before(start) || !f.Matches(ev.Name, ev.Labels) {
				continue
			}
			if !p.SendContext(sctx, ev) {
				return nil
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
	// Action and Actor are set by every API version ctrgate speaks (1.41 and
	// later, Podman's compat API too); the old Status, ID and From fields
	// are deprecated copies.
	action := string(m.Action)
	// Docker appends details to some actions ("exec_start: sh -c ..."); the
	// lifecycle ones are plain words.
	action, _, _ = strings.Cut(action, ":")
	t, ok := driver.NormaliseEventType(action)
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

// Close ends the stream and waits for its goroutine; idempotent.
func (s eventStream) Close() error {
	_ = s.Pipe.Close()
	<-s.Finished()
	return nil
}
