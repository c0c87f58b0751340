package podmanapi

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ctrgate/ctrgate/driver"

	"github.com/containers/podman/v5/pkg/bindings/system"
	"github.com/containers/podman/v5/pkg/domain/entities/types"

	"github.com/ctrgate/ctrgate"
	"github.com/ctrgate/ctrgate/pipe"
)

// builtinAttributes are the event attributes Podman sets itself; the
// others are the container's labels.
var builtinAttributes = map[string]bool{
	"name": true, "image": true, "containerExitCode": true, "podId": true, "exitCode": true,
	"health_status": true, "HealthStatus": true,
}

// eventFilters renders the server-side part of an EventFilter: container
// events only, and the label constraints. The name prefix is matched on
// the client (Podman's container filter is exact).
func eventFilters(f ctrgate.EventFilter) map[string][]string {
	filters := map[string][]string{"type": {"container"}}
	if len(f.Labels) > 0 {
		filters["label"] = driver.LabelFilters(f.Labels)
	}
	return filters
}

// toEvent normalises a Podman event; ok is false for events outside the
// normalised set.
func toEvent(e types.Event) (ctrgate.Event, bool) {
	// Action and Actor are set by every libpod API version (4.0 and later);
	// Status, ID and From are deprecated copies.
	raw := string(e.Action)
	t, ok := driver.NormaliseEventType(raw)
	if !ok {
		return ctrgate.Event{}, false
	}
	attrs := e.Actor.Attributes
	ev := ctrgate.Event{
		Type:  t,
		Raw:   raw,
		ID:    e.Actor.ID,
		Name:  strings.TrimPrefix(attrs["name"], "/"),
		Image: attrs["image"],
	}
	switch {
	case e.TimeNano > 0:
		ev.Time = time.Unix(0, e.TimeNano)
	case e.Time > 0:
		ev.Time = time.Unix(e.Time, 0)
	}
	if t == ctrgate.EventDie {
		for _, k := range []string{"containerExitCode", "exitCode"} {
			if v, ok := attrs[k]; ok {
				if n, err := strconv.Atoi(v); err == nil {
					ev.ExitCode = n
					break
				}
			}
		}
	}
	for k, v := range attrs {
		if builtinAttributes[k] {
			continue
		}
		if ev.Labels == nil {
			ev.Labels = map[string]string{}
		}
		ev.Labels[k] = v
	}
	return ev, true
}

// Events streams the container lifecycle events that happen after the
// call. The stream ends when ctx is done or it is closed.
func (r *Runtime) Events(ctx context.Context, filter ctrgate.EventFilter) (ctrgate.EventStream, error) {
	for k := range filter.Labels {
		if k == "" || strings.ContainsAny(k, "=\x00") {
			return nil, &ctrgate.SpecError{Field: "Labels", Reason: "invalid label key " + strconv.Quote(k)}
		}
	}
	// The service's stream may end when Podman rotates its events log or
	// the service restarts: ResumeEvents subscribes again from the last
	// event.
	return driver.ResumeEvents(ctx, func(ctx context.Context, since time.Time) (ctrgate.EventStream, error) {
		return r.subscribeEvents(ctx, filter, since)
	}, driver.ResumeOptions{
		Closed: r.closed.Load,
		Window: r.cfg.ResumeWindow,
		CtxError: func(ctx context.Context) error {
			return wrapErr(ctx, ctrgate.OpEvents, "", ctx.Err(), false)
		},
	})
}

// subscribeEvents opens one event request: from now when since is zero,
// else from since (events older than since are dropped).
func (r *Runtime) subscribeEvents(ctx context.Context, filter ctrgate.EventFilter, since time.Time) (ctrgate.EventStream, error) {
	c, cancel, err := r.call(ctx, ctrgate.OpEvents, filter.NamePrefix)
	if err != nil {
		return nil, err
	}
	in := make(chan types.Event)
	cancelCh := make(chan bool)
	var cancelOnce sync.Once
	stopReq := func() {
		cancelOnce.Do(func() {
			close(cancelCh)
			cancel()
		})
	}
	stream := true
	// No "since": with it a Podman 4.x service with the file event logger
	// reads its whole log from the start and stops following it when the
	// log is rotated (the stream then ends by itself, seen under load).
	// Without it the service follows the end of its log across rotations,
	// as podman-remote does. It answers when it starts to follow; a
	// container created right after Events returns was never missed in
	// the tests (TestEventsRightAfterTheCall).
	opts := &system.EventsOptions{Filters: eventFilters(filter), Stream: &stream}
	if !since.IsZero() {
		// A resubscription (see Events): from since, and the events before
		// it are dropped below.
		s := since.UTC().Format(time.RFC3339Nano)
		opts.Since = &s
	}

	// system.Events returns once the service has answered; a service that
	// never answers must not hang Events, so the wait is bounded.
	started := make(chan error, 1)
	go func() { started <- system.Events(c, in, cancelCh, opts) }()
	var serr error
	select {
	case serr = <-started:
	case <-c.Done():
		stopReq()
		serr = <-started
		if serr == nil {
			serr = context.DeadlineExceeded
		}
	}
	if serr != nil {
		stopReq()
		if serr == context.DeadlineExceeded {
			return nil, ctrgate.NewEngineError(BackendName, ctrgate.OpEvents, "", nil, "no answer from the service", serr, nil)
		}
		return nil, wrapErr(c, ctrgate.OpEvents, "", serr, false)
	}
	// Close ends the request. When ctx is done, Next returns the typed
	// error of wrapErr, also after the pump has finished.
	s := pipe.New[ctrgate.Event](ctx, stopReq, pipe.Buffer(64), pipe.CtxErrorFirst(),
		pipe.CtxError(func(ctx context.Context) error {
			return wrapErr(ctx, ctrgate.OpEvents, "", ctx.Err(), false)
		}))
	go func() {
		defer stopReq()
		for e := range in { // drained to the end: the bindings block while sending
			ev, ok := toEvent(e)
			if !ok || !filter.Matches(ev.Name, ev.Labels) || (!since.IsZero() && ev.Time.Before(since)) {
				continue
			}
			s.SendContext(c, ev) // on false, keep draining in
		}
		var err error
		if errors.Is(context.Cause(c), errClosed) {
			err = wrapErr(c, ctrgate.OpEvents, "", c.Err(), false)
		} else if ctx.Err() == nil && c.Err() == nil {
			err = ctrgate.NewEngineError(BackendName, ctrgate.OpEvents, "", ctrgate.ErrEngineUnavailable, "the service ended the event stream", nil, nil)
		}
		s.Finish(err)
	}()
	return s, nil
}

// diedExitCode looks up the exit code of container id in the service's
// event log (the "died" event), for a container that is gone (AutoRemove).
func (r *Runtime) diedExitCode(ctx context.Context, id string, since time.Time) (int, bool) {
	c, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	in := make(chan types.Event)
	cancelCh := make(chan bool)
	defer close(cancelCh)
	stream := false
	opts := &system.EventsOptions{
		Filters: map[string][]string{"type": {"container"}, "container": {id}, "event": {"died"}},
		Stream:  &stream,
	}
	if !since.IsZero() {
		s := since.Add(-time.Second).UTC().Format(time.RFC3339Nano)
		opts.Since = &s
	}
	if err := system.Events(c, in, cancelCh, opts); err != nil {
		return 0, false
	}
	code, found := 0, false
	for e := range in {
		if ev, ok := toEvent(e); ok && ev.Type == ctrgate.EventDie && ev.ID == id {
			code, found = ev.ExitCode, true
		}
	}
	return code, found
}
