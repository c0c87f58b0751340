package logstream

import (
	"context"
	"errors"
	"io"
	"time"

	"github.com/ctrgate/ctrgate/driver"

	"github.com/ctrgate/ctrgate"
)

// Opener opens one of a backend's own log streams (its Logs before
// completion): a plain read, or a follower, of the container the
// completion is for.
type Opener func(ctx context.Context, opts ctrgate.LogOptions) (ctrgate.LogStream, error)

// Completion bounds: a follower that the engine keeps ending at once while
// the container runs is opened again after a pause that grows to
// reopenMax; after reopenLimit such quick ends in a row the stream ends
// with the engine's failure.
const (
	reopenMin   = 20 * time.Millisecond
	reopenMax   = 500 * time.Millisecond
	reopenQuick = time.Second
	reopenLimit = 50
)

// Complete is the one implementation of the Logs contract's completeness
// for followed streams, shared by the backends: rt is the backend, open
// its own Logs. Without opts.Follow it is open itself.
//
// A followed stream counts, per output stream, the lines it delivers (and
// the bytes of a partial line). When the engine ends its follower while
// ctx is live and the stream open, Complete looks at the container: when it
// is gone the stream ends; when it has exited, the log is read once more
// without Follow (same Since) and exactly the lines not delivered yet are
// delivered, in order, before io.EOF; when it still runs (the engine
// ended the follower early), a new follower is opened and its first lines,
// already delivered, are skipped. So under load, when an engine ends a
// follower before it has read its log to the end (Podman's service did),
// no line is lost and none is repeated.
//
// With opts.Tail the last Tail lines are found by a plain read of the whole
// log (they are delivered from it), and the follower starts from the
// start of the log, skipping what that read delivered: the follower's own
// start could not be found again otherwise.
//
// The counts assume what every engine gives: a follower delivers, per
// output stream, a prefix of what a plain read returns, with the same
// lines.
func Complete(ctx context.Context, rt ctrgate.ContainerRuntime, backend, name string, opts ctrgate.LogOptions, open Opener) (ctrgate.LogStream, error) {
	if !opts.Follow || ctx == nil {
		return open(ctx, opts) // (a nil ctx is the backend's to refuse)
	}
	fopts := opts
	fopts.Tail = 0
	ictx, cancel := context.WithCancel(ctx)
	var (
		first ctrgate.LogStream
		err   error
	)
	if opts.Tail > 0 {
		first, err = open(ictx, ctrgate.LogOptions{Since: opts.Since})
	} else {
		first, err = open(ictx, fopts)
	}
	if err != nil {
		cancel()
		return nil, err
	}
	s := New(ctx, backend, name, cancel)
	c := &completer{rt: rt, name: name, opts: fopts, open: open, out: s}
	go func() {
		defer cancel()
		s.Finish(c.run(ictx, first, opts.Tail))
	}()
	return s, nil
}

// position is what has been delivered of one output stream.
type position struct {
	lines   int // complete lines
	partial int // bytes of the line in progress delivered as partial pieces
}

// completer is one followed stream being completed.
type completer struct {
	rt   ctrgate.ContainerRuntime
	name string
	opts ctrgate.LogOptions // Follow, Since; no Tail
	open Opener
	out  *Stream

	delivered [3]position // by ctrgate.Stream
	// closing holds, by stream, the empty piece that ends a line whose text
	// was all delivered as partial pieces: it is sent before the stream's
	// next line, and dropped at the end of the log (where the end ends the
	// line), so that a log read after the exit does not end with an empty
	// piece.
	closing [3]*ctrgate.LogLine
}

// errStop ends run when the consumer has closed the stream.
var errStop = errors.New("logstream: closed")

// run delivers the tail (tail > 0: cur is a plain read of the whole log),
// then follows, completing at the end. It returns the stream's final error.
func (c *completer) run(ctx context.Context, cur ctrgate.LogStream, tail int) error {
	if tail > 0 {
		lines, err := drain(cur)
		if err != nil {
			return err
		}
		for _, l := range lines {
			c.count(l)
		}
		if len(lines) > tail {
			lines = lines[len(lines)-tail:]
		}
		for _, l := range lines {
			if !c.out.Send(l) {
				return nil
			}
		}
		if cur, err = c.open(ctx, c.opts); err != nil {
			return err
		}
	}
	quick := 0
	delay := reopenMin
	for {
		opened := time.Now()
		err := c.copy(cur)
		_ = cur.Close()
		switch {
		case errors.Is(err, errStop), ctx.Err() != nil:
			return nil // closed, or ctx done: Next reports it
		case err != nil:
			return err // the engine failed: never a clean end
		}
		// The engine ended its follower. Is there more to come?
		ct, ierr := c.rt.Inspect(ctx, c.name)
		switch {
		case ctx.Err() != nil:
			return nil
		case errors.Is(ierr, ctrgate.ErrNotFound):
			return nil // removed: its log is gone
		case ierr != nil:
			return driver.WithOp(ierr, ctrgate.OpLogs)
		}
		if !ct.State.Running() && ct.State.Status != ctrgate.StateCreated {
			// Exited: the log is complete; read what was not delivered.
			po := c.opts
			po.Follow = false
			rest, err := c.open(ctx, po)
			if err != nil {
				if errors.Is(err, ctrgate.ErrNotFound) {
					return nil
				}
				return err
			}
			err = c.copy(rest)
			_ = rest.Close()
			if errors.Is(err, errStop) || ctx.Err() != nil {
				return nil
			}
			return err
		}
		// Still running (or restarting): the engine ended early.
		if time.Since(opened) < reopenQuick {
			if quick++; quick > reopenLimit {
				return ctrgate.NewEngineError("", ctrgate.OpLogs, c.name, ctrgate.ErrEngineUnavailable,
					"the engine keeps ending the followed log of a running container", nil, nil)
			}
			t := time.NewTimer(delay)
			select {
			case <-ctx.Done():
				t.Stop()
				return nil
			case <-t.C:
			}
			delay = min(delay*2, reopenMax)
		} else {
			quick, delay = 0, reopenMin
		}
		if cur, err = c.open(ctx, c.opts); err != nil {
			if errors.Is(err, ctrgate.ErrNotFound) {
				return nil
			}
			return err
		}
	}
}

// copy delivers the lines of in (a follower or a plain read from the start
// of the log, with the same Since) that have not been delivered yet,
// skipping per output stream what the counts say was delivered. It
// returns nil at in's io.EOF, errStop when the consumer closed the stream,
// or in's error.
func (c *completer) copy(in ctrgate.LogStream) error {
	var seen [3]position // of in, by stream
	for {
		l, err := in.Next()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		i := int(l.Stream)
		if i < 0 || i >= len(seen) {
			i = 0
		}
		d, s := &c.delivered[i], &seen[i]
		// Where l falls in what was delivered already.
		if s.lines < d.lines {
			if !l.Partial {
				s.lines++
			}
			continue
		}
		if s.lines == d.lines && d.partial > 0 {
			// The line in progress: skip its delivered bytes.
			skip := d.partial - s.partial
			if skip > 0 {
				if len(l.Text) <= skip {
					s.partial += len(l.Text)
					if !l.Partial {
						// in ends the line within what was delivered: only
						// its end is new.
						s.lines++
						s.partial = 0
						l.Text = ""
						c.count(l)
						c.closing[i] = &l
					}
					continue
				}
				l.Text = l.Text[skip:]
				s.partial += skip
			}
		}
		if !l.Partial {
			s.lines++
			s.partial = 0
		} else {
			s.partial += len(l.Text)
		}
		if !c.send(l) {
			return errStop
		}
	}
}

// send delivers l and counts it.
func (c *completer) send(l ctrgate.LogLine) bool {
	i := int(l.Stream)
	if i >= 0 && i < len(c.closing) && c.closing[i] != nil {
		if !c.out.Send(*c.closing[i]) {
			return false
		}
		c.closing[i] = nil
	}
	if !c.out.Send(l) {
		return false
	}
	c.count(l)
	return true
}

// count records l as delivered.
func (c *completer) count(l ctrgate.LogLine) {
	i := int(l.Stream)
	if i < 0 || i >= len(c.delivered) {
		i = 0
	}
	d := &c.delivered[i]
	if l.Partial {
		d.partial += len(l.Text)
		return
	}
	d.lines++
	d.partial = 0
}

// drain reads a plain log to its end.
func drain(in ctrgate.LogStream) ([]ctrgate.LogLine, error) {
	defer in.Close()
	var out []ctrgate.LogLine
	for {
		l, err := in.Next()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		out = append(out, l)
	}
}
