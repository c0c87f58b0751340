package driver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"sync"
	"time"

	"github.com/ctrgate/ctrgate"
	"github.com/ctrgate/ctrgate/pipe"
)

// NormaliseEventType maps an engine's event word (Docker's "destroy",
// Podman's "died", "remove", ...) to an EventType; ok is false for events
// outside the normalised set (exec, attach, cleanup, init, ...).
func NormaliseEventType(raw string) (t ctrgate.EventType, ok bool) {
	switch raw {
	case "create":
		return ctrgate.EventCreate, true
	case "start":
		return ctrgate.EventStart, true
	case "die", "died":
		return ctrgate.EventDie, true
	case "remove", "destroy":
		return ctrgate.EventRemove, true
	}
	return "", false
}

// EventSubscriber opens one subscription to an engine's container events:
// the events at or after since, or, when since is zero, those that happen
// after the call. ResumeEvents calls it again, with the time of the last
// event delivered, when a subscription ends.
type EventSubscriber func(ctx context.Context, since time.Time) (ctrgate.EventStream, error)

// ResumeOptions configures ResumeEvents.
type ResumeOptions struct {
	// Closed reports whether the runtime has been closed; the stream then
	// ends at once with ErrEngineUnavailable instead of resubscribing.
	Closed func() bool
	// Window is how long the engine may stay unreachable (no subscription
	// possible, or every subscription ending at once without events) before
	// the stream ends with ErrEngineUnavailable; zero means ResumeWindow.
	Window time.Duration
	// CtxError is the error Next returns once ctx is done; nil means
	// "events: " + ctx.Err().
	CtxError func(ctx context.Context) error
}

// Defaults of ResumeEvents.
const (
	// ResumeWindow is the default ResumeOptions.Window: long enough for a
	// quick service or daemon restart (0.4-0.5 s for the project's Podman
	// service, 0.3-0.5 s for its dockerd), short enough that the stream of
	// an engine that died ends with ErrEngineUnavailable within about a
	// second. Backends take it as their option "events_resume_window"; a
	// program that must ride out slower restarts sets a longer one.
	ResumeWindow = time.Second
	// resumeOverlap is how far before the last delivered event a new
	// subscription starts: engines stamp events with their own clock and
	// may write them slightly out of order.
	resumeOverlap = 2 * time.Second
	// resumeHealthy is how long a subscription must have been open for its
	// end to count as an interruption rather than a failed attempt.
	resumeHealthy = time.Second
	// resumeKeys is how many recent events are remembered to drop the
	// repeats of a new subscription.
	resumeKeys = 4096
)

// ResumeEvents is the one implementation of the Events contract's
// "the stream survives the engine" part, shared by the backends: it opens
// a subscription with subscribe and, whenever that subscription ends while
// ctx is live and the stream is open (Podman rotating its events log, a
// service or daemon restart, a broken connection), subscribes again from
// shortly before the last event delivered (or the call, before the first
// one), dropping the events already delivered (same time, container,
// type and engine word) and those older than the call. So an event is
// delivered once, and none is lost across the interruption as long as the
// engine still has it.
//
// Only when no subscription can be made, or every new one ends at once
// without an event, for opts.Window (ResumeWindow by default) does the stream end,
// with an error wrapping ErrEngineUnavailable (and the last error seen).
// Errors that are not ErrEngineUnavailable (an invalid filter, a refusal)
// end it at once. The first subscription's error is returned by
// ResumeEvents itself.
func ResumeEvents(ctx context.Context, subscribe EventSubscriber, opts ResumeOptions) (ctrgate.EventStream, error) {
	if opts.Window <= 0 {
		opts.Window = ResumeWindow
	}
	if opts.Closed == nil {
		opts.Closed = func() bool { return false }
	}
	ctxErr := opts.CtxError
	if ctxErr == nil {
		ctxErr = func(ctx context.Context) error { return fmt.Errorf("events: %w", ctx.Err()) }
	}
	called := time.Now()
	sctx, cancel := context.WithCancel(ctx)
	first, err := subscribe(sctx, time.Time{})
	if err != nil {
		cancel()
		return nil, err
	}
	p := pipe.New[ctrgate.Event](ctx, cancel, pipe.Buffer(64), pipe.CtxErrorFirst(), pipe.CtxError(ctxErr))
	rs := &resumedEvents{Pipe: p, done: make(chan struct{})}
	go func() {
		defer close(rs.done)
		defer cancel()
		p.Finish(resume(sctx, p, first, subscribe, opts, called))
	}()
	return rs, nil
}

// resumedEvents is the stream of ResumeEvents; Close waits for its
// goroutine.
type resumedEvents struct {
	*pipe.Pipe[ctrgate.Event]
	done chan struct{}
	once sync.Once
}

func (s *resumedEvents) Close() error {
	s.once.Do(func() {
		_ = s.Pipe.Close()
		<-s.done
	})
	return nil
}

// eventKey identifies an event across subscriptions.
func eventKey(e ctrgate.Event) string {
	return strconv.FormatInt(e.Time.UnixNano(), 10) + "|" + e.ID + "|" + string(e.Type) + "|" + e.Raw + "|" + strconv.Itoa(e.ExitCode)
}

// recentKeys is a bounded set of the keys of the last events delivered.
type recentKeys struct {
	set  map[string]struct{}
	ring []string
	next int
}

func (r *recentKeys) has(k string) bool { _, ok := r.set[k]; return ok }

func (r *recentKeys) add(k string) {
	if r.set == nil {
		r.set = make(map[string]struct{}, resumeKeys)
		r.ring = make([]string, resumeKeys)
	}
	if old := r.ring[r.next]; old != "" {
		delete(r.set, old)
	}
	r.ring[r.next] = k
	r.set[k] = struct{}{}
	r.next = (r.next + 1) % len(r.ring)
}

// resume pumps cur into p, resubscribing when it ends, and returns the
// stream's final error (nil when ctx is done or p closed).
func resume(ctx context.Context, p *pipe.Pipe[ctrgate.Event], cur ctrgate.EventStream, subscribe EventSubscriber, opts ResumeOptions, called time.Time) error {
	defer func() { _ = cur.Close() }()
	var (
		seen    recentKeys
		lastT   = called // time of the latest event delivered
		resumed bool     // cur is a resubscription
		from    time.Time
		opened  = time.Now()
		healthy = time.Now() // last time the engine was known to work
	)
	for {
		ev, err := cur.Next()
		if err == nil {
			if resumed && (ev.Time.Before(called) || (!ev.Time.IsZero() && ev.Time.Before(from))) {
				continue
			}
			k := eventKey(ev)
			if seen.has(k) {
				continue
			}
			seen.add(k)
			if ev.Time.After(lastT) {
				lastT = ev.Time
			}
			healthy = time.Now()
			if !p.Send(ev) {
				return nil
			}
			continue
		}
		_ = cur.Close()
		if ctx.Err() != nil {
			return nil
		}
		if time.Since(opened) >= resumeHealthy {
			healthy = time.Now()
		}
		lastErr := err
		for attempt := 0; ; attempt++ {
			if e := resumeFatal(ctx, lastErr, opts); e != nil || ctx.Err() != nil {
				return e
			}
			if time.Since(healthy) > opts.Window {
				if errors.Is(lastErr, io.EOF) {
					lastErr = errors.New("the engine ended every event stream at once")
				}
				return fmt.Errorf("ctrgate: event stream: the engine stayed unreachable for %v: %w (%w)",
					opts.Window, ctrgate.ErrEngineUnavailable, lastErr)
			}
			if attempt > 0 || time.Since(opened) < resumeHealthy {
				// back off, but never past the end of the window: a dead
				// engine's stream ends when the window does
				left := opts.Window - time.Since(healthy) + time.Millisecond
				delay := max(min(100*time.Millisecond<<min(attempt, 4), time.Second, left), 0)
				t := time.NewTimer(delay)
				select {
				case <-ctx.Done():
					t.Stop()
					return nil
				case <-p.Closed():
					t.Stop()
					return nil
				case <-t.C:
				}
			}
			from = lastT.Add(-resumeOverlap)
			s, err := subscribe(ctx, from)
			if err == nil {
				cur, resumed, opened = s, true, time.Now()
				break
			}
			lastErr = err
		}
	}
}

// resumeFatal returns the error that ends the stream at once instead of a
// resubscription, or nil.
func resumeFatal(ctx context.Context, err error, opts ResumeOptions) error {
	switch {
	case ctx.Err() != nil:
		return nil
	case opts.Closed():
		if errors.Is(err, ctrgate.ErrEngineUnavailable) {
			return err
		}
		return fmt.Errorf("ctrgate: event stream: runtime is closed: %w", ctrgate.ErrEngineUnavailable)
	case errors.Is(err, io.EOF), errors.Is(err, ctrgate.ErrEngineUnavailable):
		return nil
	case errors.Is(err, ctrgate.ErrInvalidSpec), errors.Is(err, ctrgate.ErrUnsupported):
		return err
	}
	return nil // anything else (a broken connection, an engine error): try again
}
