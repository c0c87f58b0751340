// Package pipe is a closable, context-aware queue between one or more
// producers and one consumer: producers Send values and Finish with the
// outcome of their work, the consumer reads with Next and may Close early.
// It carries the mechanics shared by the backends' log and event streams
// (logstream.Stream, the Events streams).
//
// The rules, from the consumer's side:
//   - values sent before Finish are read before Finish's outcome;
//   - once production has finished and the values are read, Next returns
//     the error given to Finish, or io.EOF when it was nil;
//   - after Close, Next returns io.EOF;
//   - when the pipe's context is done, Next returns the context error
//     (see CtxError), and Send gives up.
package pipe

import (
	"context"
	"fmt"
	"io"
	"sync"
)

// DefaultBuffer is the number of values a Pipe holds for a consumer that
// is behind, unless Buffer says otherwise.
const DefaultBuffer = 64

// Pipe is a queue of T from producers to one consumer. Its zero value is
// not usable: create it with New.
type Pipe[T any] struct {
	ctx      context.Context
	ch       chan T
	closed   chan struct{} // closed by Close
	finished chan struct{} // closed by Finish
	stop     func()
	ctxErr   func(context.Context) error
	ctxFirst bool

	closeOnce  sync.Once
	finishOnce sync.Once
	err        error // set before finished is closed
}

// Option configures a Pipe in New.
type Option func(*config)

type config struct {
	buffer   int
	ctxErr   func(context.Context) error
	ctxFirst bool
}

// Buffer sets how many values the pipe holds before Send blocks (0: Send
// waits for Next). A negative n is taken as 0.
func Buffer(n int) Option {
	return func(c *config) { c.buffer = max(n, 0) }
}

// CtxError sets the error Next returns when the pipe's context is done;
// f receives that context (whose Err is not nil). Without it, Next returns
// ctx.Err() itself. The last of CtxError and Prefix wins.
func CtxError(f func(ctx context.Context) error) Option {
	return func(c *config) { c.ctxErr = f }
}

// Prefix makes Next return fmt.Errorf("PREFIX: %w", ctx.Err()) when the
// pipe's context is done; for example Prefix("logs") gives
// "logs: context canceled". The last of CtxError and Prefix wins.
func Prefix(prefix string) Option {
	return CtxError(func(ctx context.Context) error {
		return fmt.Errorf("%s: %w", prefix, ctx.Err())
	})
}

// CtxErrorFirst makes a done context take precedence over Finish's
// outcome: once production has finished and the values are read, Next
// returns the context error (see CtxError) if the pipe's context is done
// by then, rather than Finish's error or io.EOF. Without it, when both
// have happened, Next returns either of them.
func CtxErrorFirst() Option {
	return func(c *config) { c.ctxFirst = true }
}

// New returns a Pipe whose consumer and producers are bound to ctx.
// stop, if not nil, is called once by Close, to release what feeds the
// pipe (kill a process, cancel a request); the producers must still call
// Finish when they end. When ctx is done, Send returns false and Next
// returns the context error; a producer whose own context derives from
// ctx stops with it.
func New[T any](ctx context.Context, stop func(), opts ...Option) *Pipe[T] {
	cfg := config{buffer: DefaultBuffer}
	for _, o := range opts {
		o(&cfg)
	}
	ctxErr := cfg.ctxErr
	if ctxErr == nil {
		ctxErr = func(ctx context.Context) error { return ctx.Err() }
	}
	return &Pipe[T]{
		ctx:      ctx,
		ch:       make(chan T, cfg.buffer),
		closed:   make(chan struct{}),
		finished: make(chan struct{}),
		stop:     stop,
		ctxErr:   ctxErr,
		ctxFirst: cfg.ctxFirst,
	}
}

// Send delivers one value. It blocks while the consumer is behind and the
// buffer is full, and returns false once the pipe is closed or its
// context is done (the producer should then stop).
func (p *Pipe[T]) Send(v T) bool { return p.send(nil, v) }

// SendContext is Send that also gives up, returning false, when ctx is
// done: for a producer whose own context can end before the pipe's (a
// request cancelled when its runtime is closed).
func (p *Pipe[T]) SendContext(ctx context.Context, v T) bool { return p.send(ctx.Done(), v) }

// send delivers v unless the pipe is closed, its context is done or done
// is closed (a nil done never is).
func (p *Pipe[T]) send(done <-chan struct{}, v T) bool {
	select { // a closed pipe refuses even when the buffer has room
	case <-p.closed:
		return false
	default:
	}
	select {
	case p.ch <- v:
		return true
	case <-p.closed:
		return false
	case <-p.ctx.Done():
		return false
	case <-done:
		return false
	}
}

// Finish marks the end of production: once the values already sent are
// read, Next returns err, or io.EOF when err is nil. Only the first call
// counts.
func (p *Pipe[T]) Finish(err error) {
	p.finishOnce.Do(func() {
		p.err = err
		close(p.finished)
	})
}

// Finished returns a channel that is closed when Finish has been called,
// for a consumer side that must wait for its producers to end.
func (p *Pipe[T]) Finished() <-chan struct{} {
	return p.finished
}

// Next returns the next value. It blocks until a value arrives, production
// finishes (Finish's error, or io.EOF), the pipe is closed (io.EOF) or its
// context is done (the context error, see CtxError).
func (p *Pipe[T]) Next() (T, error) {
	var zero T
	select {
	case <-p.closed:
		return zero, io.EOF
	default:
	}
	select {
	case v := <-p.ch:
		return v, nil
	case <-p.closed:
		return zero, io.EOF
	case <-p.ctx.Done():
		return zero, p.ctxErr(p.ctx)
	case <-p.finished:
		select { // values sent before Finish come first
		case v := <-p.ch:
			return v, nil
		default:
		}
		if p.ctxFirst && p.ctx.Err() != nil {
			return zero, p.ctxErr(p.ctx)
		}
		if p.err != nil {
			return zero, p.err
		}
		return zero, io.EOF
	}
}

// Close stops the pipe and calls stop; it is idempotent and returns nil.
// It does not wait for the producers: Send returns false to them.
func (p *Pipe[T]) Close() error {
	p.closeOnce.Do(func() {
		close(p.closed)
		if p.stop != nil {
			p.stop()
		}
	})
	return nil
}

// Closed returns a channel that is closed when the consumer has called
// Close, for a producer that waits on something else meanwhile.
func (p *Pipe[T]) Closed() <-chan struct{} {
	return p.closed
}
