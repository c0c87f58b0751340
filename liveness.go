package ctrgate

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// livenessFailures is how many probes in a row must get no answer before
// the engine counts as gone.
const livenessFailures = 2

// liveness probes the engine while long calls are open (see
// WithLivenessProbe): one goroutine per runtime, started by the first
// watched call and ended when the last one is released.
type liveness struct {
	every time.Duration // 0: off

	mu      sync.Mutex
	watched map[*watchEntry]struct{}
	running bool
	stopped bool               // the runtime was closed
	kick    chan struct{}      // wakes the prober when the last call is released
	cancel  context.CancelFunc // ends the probe in flight (and the prober's context)
	wg      sync.WaitGroup     // the prober
}

type watchEntry struct{ cancel context.CancelCauseFunc }

// engineGoneError is the cause a watched call's context is cancelled with
// when the probe finds the engine gone.
type engineGoneError struct {
	probes int
	every  time.Duration
	last   error
}

func (e *engineGoneError) Error() string {
	return fmt.Sprintf("the engine stopped answering: %d liveness probes in a row (every %v) got no answer: %v",
		e.probes, e.every, e.last)
}

func (e *engineGoneError) Unwrap() error { return e.last }

// watch registers a long call's cancel function; the returned function
// unregisters it (idempotent).
func (l *liveness) watch(r *Runtime, cancel context.CancelCauseFunc) func() {
	e := &watchEntry{cancel: cancel}
	l.mu.Lock()
	if l.watched == nil {
		l.watched = map[*watchEntry]struct{}{}
		l.kick = make(chan struct{}, 1)
	}
	l.watched[e] = struct{}{}
	if !l.running && !l.stopped {
		l.running = true
		l.wg.Add(1)
		go l.run(r)
	}
	l.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			l.mu.Lock()
			delete(l.watched, e)
			idle := len(l.watched) == 0
			if idle && l.cancel != nil {
				l.cancel() // no probe is needed any more
			}
			l.mu.Unlock()
			if idle {
				l.wake()
			}
		})
	}
}

func (l *liveness) wake() {
	select {
	case l.kick <- struct{}{}:
	default:
	}
}

// stop ends the prober for good (the runtime's Close) and waits for it.
func (l *liveness) stop() {
	l.mu.Lock()
	l.stopped = true
	clear(l.watched)
	if l.cancel != nil {
		l.cancel()
	}
	l.mu.Unlock()
	if l.kick != nil {
		l.wake()
	}
	l.wg.Wait()
}

// run probes every l.every while calls are watched; after livenessFailures
// probes in a row without an answer it cancels every watched call with an
// *engineGoneError. It returns when no call is watched any more (the
// probe in flight is cancelled then) or the runtime closed.
func (l *liveness) run(r *Runtime) {
	defer l.wg.Done()
	timer := time.NewTimer(l.every)
	defer timer.Stop()
	failures := 0
	for {
		select {
		case <-timer.C:
		case <-l.kick:
		}
		l.mu.Lock()
		if len(l.watched) == 0 || l.stopped {
			l.running = false
			l.mu.Unlock()
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), l.every)
		l.cancel = cancel
		l.mu.Unlock()
		began := time.Now()
		err := r.probe(ctx)
		cancelled := errors.Is(ctx.Err(), context.Canceled)
		cancel()
		if cancelled { // no call is watched any more, or the runtime closed
			timer.Reset(0)
			continue
		}
		if err == nil || !noAnswer(err) {
			failures = 0
			timer.Reset(l.every)
			continue
		}
		failures++
		if failures < livenessFailures {
			// the next probe at once after the first one's time ran out
			timer.Reset(max(0, l.every-time.Since(began)))
			continue
		}
		gone := &engineGoneError{probes: failures, every: l.every, last: err}
		failures = 0
		l.mu.Lock()
		for e := range l.watched {
			e.cancel(gone)
			delete(l.watched, e)
		}
		l.mu.Unlock()
		timer.Reset(l.every)
	}
}

// noAnswer tells a probe that got no answer (a timeout, an unreachable or
// closed engine) from one the engine answered, even with an error.
func noAnswer(err error) bool {
	return errors.Is(err, context.DeadlineExceeded) || errors.Is(err, ErrEngineUnavailable)
}

// probe asks the engine whether it answers: the driver's Ping, or Info,
// while ctx lasts. It counts as a call in flight, which Close waits for.
func (r *Runtime) probe(ctx context.Context) error {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil // Close ends the calls itself
	}
	r.calls.Add(1)
	r.mu.Unlock()
	done := make(chan error, 1)
	go func() {
		defer r.calls.Done()
		if p, ok := r.drv.(Pinger); ok {
			done <- p.Ping(ctx)
			return
		}
		_, err := r.drv.Info(ctx)
		done <- err
	}()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err() // a driver that ignores its context is no answer either
	}
}

// goneErr is the error of a long call the liveness probe ended.
func (r *Runtime) goneErr(op, target string, cause *engineGoneError) error {
	return NewEngineError(r.backend, op, target, ErrEngineUnavailable, "", cause, nil)
}
