package fake

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
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
	if ctx == nil {
		ctx = context.Background()
	}
	_, cancel, err := r.enter(ctx, ctrgate.OpLogs, name, true, 0, nil)
	defer cancel()
	if err != nil {
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
	if ctx == nil {
		ctx = context.Background()
	}
	_, cancel, err := r.enter(ctx, ctrgate.OpEvents, filter.NamePrefix, true, 0, nil)
	defer cancel()
	if err != nil {
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

// containerView returns the container's file system.
func (r *engine) containerView(method, name string) (*container, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil, unavailable(method, name)
	}
	c := r.lookupLocked(name)
	if c == nil {
		return nil, notFound(method, name)
	}
	return c, nil
}

// CopyTo extracts the tar stream archive (optionally gzip-compressed) into
// dstDir of the container, which must exist (ErrNotFound otherwise).
// Read-only mounts refuse the copy; a read-only root does not.
func (r *engine) CopyTo(ctx context.Context, name, dstDir string, archive io.Reader) (err error) {
	defer r.record(ctrgate.OpCopyTo, name, &err)()
	ctx, cancel, err := r.enter(ctx, ctrgate.OpCopyTo, name, false, 0, nil)
	defer cancel()
	if err != nil {
		return err
	}
	c, err := r.containerView(ctrgate.OpCopyTo, name)
	if err != nil {
		return err
	}
	dst := cleanAbs("/", dstDir)
	fi, err := c.view.Stat(dst)
	if err != nil {
		kind := error(nil)
		if errors.Is(err, fs.ErrNotExist) {
			kind = ctrgate.ErrNotFound
		}
		return engineErr(ctrgate.OpCopyTo, name, kind, fmt.Sprintf("%s: %v", dst, err), nil, c.secrets)
	}
	if !fi.IsDir() {
		return engineErr(ctrgate.OpCopyTo, name, nil, fmt.Sprintf("%s: not a directory", dst), nil, c.secrets)
	}
	v := *c.view
	v.forceWrite = true
	done := make(chan error, 1)
	go func() { done <- extractTar(&v, dst, archive) }()
	select {
	case err := <-done:
		if err != nil {
			return engineErr(ctrgate.OpCopyTo, name, nil, err.Error(), nil, c.secrets)
		}
		return nil
	case <-ctx.Done():
		return ctxErr(ctrgate.OpCopyTo, name, ctx.Err())
	}
}

// CopyFrom returns a tar stream of srcPath in the container (entries named
// from its base name, as "docker cp" does). Missing path: ErrNotFound.
func (r *engine) CopyFrom(ctx context.Context, name, srcPath string) (_ io.ReadCloser, err error) {
	defer r.record(ctrgate.OpCopyFrom, name, &err)()
	_, cancel, err := r.enter(ctx, ctrgate.OpCopyFrom, name, false, 0, nil)
	defer cancel()
	if err != nil {
		return nil, err
	}
	c, err := r.containerView(ctrgate.OpCopyFrom, name)
	if err != nil {
		return nil, err
	}
	src := cleanAbs("/", srcPath)
	if _, err := c.view.Lstat(src); err != nil {
		kind := error(nil)
		if errors.Is(err, fs.ErrNotExist) {
			kind = ctrgate.ErrNotFound
		}
		return nil, engineErr(ctrgate.OpCopyFrom, name, kind, fmt.Sprintf("%s: %v", src, err), nil, c.secrets)
	}
	base := path.Base(src)
	if src == "/" {
		base = "."
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	if err := writeTar(c.view, tw, src, base); err != nil {
		return nil, engineErr(ctrgate.OpCopyFrom, name, nil, err.Error(), nil, c.secrets)
	}
	if err := tw.Close(); err != nil {
		return nil, engineErr(ctrgate.OpCopyFrom, name, nil, err.Error(), nil, c.secrets)
	}
	return io.NopCloser(&buf), nil
}
