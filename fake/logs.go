package fake

import (
	"context"
	"fmt"
	"sync"

	"github.com/ctrgate/ctrgate"
	"github.com/ctrgate/ctrgate/logstream"
)

// logFollower is a running Logs producer, ended by Close.
type logFollower struct {
	once   sync.Once
	s      *logstream.Stream
	cancel func()
}

// Logs returns the container's stored output. With Follow it streams new
// lines until the run that was going on at the call ends (a container that
// is not running ends the stream after the stored lines). Tail applies to
// the stored lines, after Since.
func (r *engine) Logs(ctx context.Context, name string, opts ctrgate.LogOptions) (_ ctrgate.LogStream, err error) {
	defer r.record(ctrgate.OpLogs, name, &err)()
	if err := r.enter(ctx, ctrgate.OpLogs, name); err != nil {
		return nil, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil, unavailable(ctrgate.OpLogs, name)
	}
	c := r.lookupLocked(name)
	if c == nil {
		return nil, notFound(ctrgate.OpLogs, name)
	}
	// The stored records joined into lines (the last one may be a partial
	// record still going on: a follower delivers it as such).
	var (
		initial []ctrgate.LogLine
		j       ctrgate.LineJoiner
	)
	for _, l := range c.logs {
		if l, ok := j.Add(l); ok && (opts.Since.IsZero() || !l.Time.Before(opts.Since)) {
			initial = append(initial, l)
		}
	}
	for _, st := range []ctrgate.Stream{ctrgate.Stdout, ctrgate.Stderr} {
		if l, ok := j.Pending(st); ok && (opts.Since.IsZero() || !l.Time.Before(opts.Since)) {
			l.Partial = opts.Follow && c.run != nil
			initial = append(initial, l)
		}
	}
	if opts.Tail > 0 && len(initial) > opts.Tail {
		initial = initial[len(initial)-opts.Tail:]
	}
	idx := len(c.logs)
	var ru *run
	if opts.Follow {
		ru = c.run
	}
	// Following a container that was created but never started waits for
	// its start, as the contract says.
	waitStart := opts.Follow && ru == nil && c.state == ctrgate.StateCreated && c.startedAt.IsZero()
	sctx, scancel := context.WithCancel(ctx)
	f := &logFollower{}
	s := logstream.New(sctx, BackendName, name, scancel)
	f.s = s
	f.cancel = func() {
		f.once.Do(func() {
			s.Finish(unavailable(ctrgate.OpLogs, name))
			scancel()
		})
	}
	r.logCancels[f] = struct{}{}
	// end finishes the stream: with the context's error when it is done,
	// so Next reports the cancellation rather than a clean io.EOF.
	end := func() {
		if err := sctx.Err(); err != nil {
			s.Finish(ctxErr(ctrgate.OpLogs, name, fmt.Errorf("logs: %w", err)))
			return
		}
		s.Finish(nil)
	}
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		defer func() {
			r.mu.Lock()
			delete(r.logCancels, f)
			r.mu.Unlock()
		}()
		for _, l := range initial {
			if !s.Send(l) {
				end()
				return
			}
		}
		for waitStart && ru == nil {
			r.mu.Lock()
			ru = c.run
			gone := c.removed || c.state != ctrgate.StateCreated
			ch := c.changed
			r.mu.Unlock()
			if ru != nil {
				break
			}
			if gone {
				end()
				return
			}
			select {
			case <-ch:
			case <-sctx.Done():
				end()
				return
			}
		}
		if ru == nil {
			end()
			return
		}
		for {
			r.mu.Lock()
			lines := c.logs[idx:]
			idx = len(c.logs)
			ended := ru.isEnded()
			ch := c.changed
			r.mu.Unlock()
			for _, l := range lines {
				if !opts.Since.IsZero() && l.Time.Before(opts.Since) {
					continue
				}
				if !s.Send(l) {
					end()
					return
				}
			}
			if ended {
				end()
				return
			}
			select {
			case <-ch:
			case <-sctx.Done():
				end()
				return
			}
		}
	}()
	return s, nil
}
