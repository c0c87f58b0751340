package driver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/ctrgate/ctrgate"
)

// Backoff of AwaitStart's polling fallback (only used when Events is
// unsupported).
const (
	awaitStartPoll    = 50 * time.Millisecond
	awaitStartPollMax = 500 * time.Millisecond
)

// awaitStartQuickEnds is how many event streams in a row may end (without
// ctx being done) within awaitStartQuickEnd of being opened before
// AwaitStart gives up with the stream's error; a stream that lasted longer
// resets the count.
const (
	awaitStartQuickEnds = 3
	awaitStartQuickEnd  = 5 * time.Second
)

// AwaitStart blocks until the container name is no longer "created and
// never started", that is until its State.Status is not StateCreated or its
// State.StartedAt is set, and returns it as Inspect describes it then. A
// container that has already been started (running, exited, ...) is
// returned after one Inspect, without any other engine call. Backends use
// it where an engine answers at once for a container that has not been
// started yet (Wait, Logs with Follow).
//
// It does not poll: after an Inspect that finds the container not started,
// it subscribes to rt.Events for the container's name, then inspects again
// (so a start between the two calls is not missed), and then inspects only
// when an event of this container (matched by ID or name) arrives. Only
// when Events fails with ErrUnsupported does it fall back to polling
// Inspect, every 50 ms at first, backing off to 500 ms. An event stream that
// ends while ctx is live is opened again (subscribe, then inspect); after
// three streams in a row ended within 5 s of being opened, the last
// stream's error is returned.
//
// Errors: Inspect's (ErrNotFound when the container is missing or is
// removed while AwaitStart waits; after the first Inspect the container is
// addressed by its ID), or Events' when it cannot be subscribed to. When
// ctx is done the returned error wraps ctx.Err(), so
// errors.Is(err, context.DeadlineExceeded) holds on a deadline. Errors are
// returned as the runtime reported them (an *EngineError keeps the Op of
// the failing call, e.g. OpInspect); callers that report them as their own
// set the Op with WithOp.
func AwaitStart(ctx context.Context, rt ctrgate.ContainerRuntime, name string) (*ctrgate.Container, error) {
	c, err := rt.Inspect(ctx, name)
	if err != nil {
		return nil, awaitStartErr(ctx, name, err)
	}
	if hasStarted(c) {
		return c, nil
	}
	id := c.ID
	quick := 0
	for {
		started, ended, err := awaitStartEvents(ctx, rt, name, c)
		switch {
		case err == nil && ended == nil:
			return started, nil
		case errors.Is(err, ctrgate.ErrUnsupported):
			return awaitStartPolling(ctx, rt, name, id)
		case err != nil:
			return nil, awaitStartErr(ctx, name, err)
		}
		// The stream ended by itself and the container has not started.
		if ended.quick {
			if quick++; quick >= awaitStartQuickEnds {
				return nil, awaitStartErr(ctx, name, ended.err)
			}
		} else {
			quick = 0
		}
	}
}

// streamEnd describes an event stream that ended while ctx was live.
type streamEnd struct {
	err   error // the stream's error (never io.EOF)
	quick bool  // it ended within awaitStartQuickEnd of being opened
}

// awaitStartEvents subscribes to the events of container c (not started
// yet), inspects it again, and waits on the stream until it has started.
// It returns the started container; or ended when the stream ended by
// itself with the container still not started; or an error (ErrUnsupported
// from Events included).
func awaitStartEvents(ctx context.Context, rt ctrgate.ContainerRuntime, name string, c *ctrgate.Container) (*ctrgate.Container, *streamEnd, error) {
	id, cname := c.ID, c.Name
	ectx, cancel := context.WithCancel(ctx)
	defer cancel()
	opened := time.Now()
	es, err := rt.Events(ectx, ctrgate.EventFilter{NamePrefix: cname})
	if err != nil {
		return nil, nil, err
	}
	defer es.Close()
	for {
		// Subscribed first, then checked: a start after this Inspect
		// produces an event on es.
		c, err := rt.Inspect(ctx, id)
		if err != nil {
			return nil, nil, err
		}
		if hasStarted(c) {
			return c, nil, nil
		}
		for {
			ev, err := es.Next()
			if err != nil {
				if ctx.Err() != nil {
					return nil, nil, err
				}
				if errors.Is(err, io.EOF) {
					err = fmt.Errorf("ctrgate: the event stream for %s ended: %w", name, ctrgate.ErrEngineUnavailable)
				}
				// The engine ended the stream. Look once more: the runtime
				// may be closed, the container gone or started.
				c, ierr := rt.Inspect(ctx, id)
				if ierr != nil {
					return nil, nil, ierr
				}
				if hasStarted(c) {
					return c, nil, nil
				}
				return nil, &streamEnd{err: err, quick: time.Since(opened) < awaitStartQuickEnd}, nil
			}
			if ev.ID == id || ev.Name == cname {
				break
			}
		}
	}
}

// awaitStartPolling is AwaitStart for runtimes without Events: Inspect
// with backoff.
func awaitStartPolling(ctx context.Context, rt ctrgate.ContainerRuntime, name, id string) (*ctrgate.Container, error) {
	for delay := awaitStartPoll; ; delay = min(delay*2, awaitStartPollMax) {
		c, err := rt.Inspect(ctx, id)
		if err != nil {
			return nil, awaitStartErr(ctx, name, err)
		}
		if hasStarted(c) {
			return c, nil
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, awaitStartErr(ctx, name, ctx.Err())
		case <-t.C:
		}
	}
}

// hasStarted reports whether c is no longer "created and never started".
func hasStarted(c *ctrgate.Container) bool {
	return c.State.Status != ctrgate.StateCreated || !c.State.StartedAt.IsZero()
}

// awaitStartErr returns err, making sure it wraps ctx.Err() when ctx is
// done.
func awaitStartErr(ctx context.Context, name string, err error) error {
	if cerr := ctx.Err(); cerr != nil && !errors.Is(err, cerr) {
		return fmt.Errorf("ctrgate: waiting for %s to start: %w (%v)", name, cerr, err)
	}
	return err
}
