package podmancli

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"os/exec"
	"strconv"
	"sync"
	"time"

	"github.com/ctrgate/ctrgate"
	"github.com/ctrgate/ctrgate/logstream"
	"github.com/ctrgate/ctrgate/pipe"
)

// ---- CopyFrom ----

// CopyFrom returns a tar stream of srcPath in the container
// (`podman cp NAME:PATH -`). The stream is read from podman as it produces
// it; Close kills podman if it is still running and reaps it.
func (r *Runtime) CopyFrom(ctx context.Context, name, srcPath string) (io.ReadCloser, error) {
	// Podman answers with an empty archive while a container that has just
	// exited is being cleaned up: open it again then.
	return ctrgate.RetryEmptyArchive(ctx, func() (io.ReadCloser, error) { return r.copyFrom(ctx, name, srcPath) })
}

// copyFrom is one CopyFrom request.
func (r *Runtime) copyFrom(ctx context.Context, name, srcPath string) (io.ReadCloser, error) {
	if ctx == nil {
		return nil, ctrgate.NewEngineError(BackendName, ctrgate.OpCopyFrom, name, ctrgate.ErrInvalidSpec, "", errNoCtx, nil)
	}
	if err := r.checkOpen(ctrgate.OpCopyFrom, name); err != nil {
		return nil, err
	}
	cctx, cancel := r.callCtx(ctx, 0)
	cmd := r.command(cctx, []string{"cp", "--", name + ":" + srcPath, "-"}, nil)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		cancel()
		return nil, ctrgate.NewEngineError(BackendName, ctrgate.OpCopyFrom, name, nil, "", err, nil)
	}
	if err := cmd.Start(); err != nil {
		cancel()
		return nil, ctrgate.NewEngineError(BackendName, ctrgate.OpCopyFrom, name, ctrgate.ErrEngineUnavailable, "cannot run podman", err, nil)
	}
	rc := &copyReader{r: r, name: name, cmd: cmd, cancel: cancel, ctx: cctx, stderr: &stderr, br: bufio.NewReaderSize(stdout, 64<<10)}
	if !r.track(rc) { // closed meanwhile
		rc.cancel()
		_ = rc.finish()
		return nil, ctrgate.NewEngineError(BackendName, ctrgate.OpCopyFrom, name, ctrgate.ErrEngineUnavailable, "runtime is closed", nil, nil)
	}
	if _, err := rc.br.Peek(1); err != nil {
		// nothing came: podman failed (or the archive is empty)
		werr := rc.finish()
		if werr != nil {
			return nil, werr
		}
		return rc, nil
	}
	return rc, nil
}

// copyReader streams podman cp's stdout.
type copyReader struct {
	r      *Runtime
	name   string
	cmd    *exec.Cmd
	cancel context.CancelFunc
	ctx    context.Context
	stderr *bytes.Buffer
	br     *bufio.Reader

	once sync.Once
	err  error // outcome of the process, set by finish
	done bool
}

// finish reaps podman once and maps its outcome.
func (c *copyReader) finish() error {
	c.once.Do(func() {
		werr := c.cmd.Wait()
		defer c.cancel()
		defer c.r.untrack(c)
		c.done = true
		if cerr := c.ctx.Err(); cerr != nil {
			c.err = ctxError(ctrgate.OpCopyFrom, c.name, cerr)
			return
		}
		var ee *exec.ExitError
		if errors.As(werr, &ee) && ee.ExitCode() != 0 {
			c.err = c.r.failure(ctrgate.OpCopyFrom, c.name, exited(ee.ProcessState, c.stderr.Bytes()), nil)
		} else if werr != nil && !errors.Is(werr, exec.ErrWaitDelay) {
			c.err = ctrgate.NewEngineError(BackendName, ctrgate.OpCopyFrom, c.name, nil, "", werr, nil)
		}
	})
	return c.err
}

func (c *copyReader) Read(p []byte) (int, error) {
	n, err := c.br.Read(p)
	if err == io.EOF {
		if ferr := c.finish(); ferr != nil {
			return n, ferr
		}
	}
	return n, err
}

func (c *copyReader) Close() error {
	c.cancel() // kills podman's group if it still runs
	_ = c.finish()
	return nil
}

// ---- Logs ----

// Logs streams the container's output (`podman logs`, with
// --follow when asked). stdout and stderr come from separate pipes. With
// Follow a created container that has not started yet is waited for.
//
// A followed stream is completed by logstream.Complete: when podman ends
// it, what it did not deliver is read again.
func (r *Runtime) Logs(ctx context.Context, name string, opts ctrgate.LogOptions) (ctrgate.LogStream, error) {
	return logstream.Complete(ctx, r, BackendName, name, opts, func(ctx context.Context, opts ctrgate.LogOptions) (ctrgate.LogStream, error) {
		return r.logs(ctx, name, opts)
	})
}

// logs is one `podman logs` run.
func (r *Runtime) logs(ctx context.Context, name string, opts ctrgate.LogOptions) (ctrgate.LogStream, error) {
	c, logFile, err := r.inspectLog(ctx, name) // ErrNotFound now, and the state
	if err != nil {
		return nil, ctrgate.WithOp(err, ctrgate.OpLogs)
	}
	if logFile != "" {
		// conmon's k8s-file log on this machine: read it directly (exact,
		// with times, at once; see logstream.K8sFile). Otherwise podman
		// logs.
		if s, err := r.fileLogs(ctx, name, c.ID, logFile, opts); err == nil {
			return s, nil
		}
	}
	// No --timestamps: Podman 4.3 prefixes every partial k8s-file record
	// with its own timestamp, which would split long lines with text that
	// cannot be told apart from the program's output. LogLine.Time stays
	// zero (unknown).
	args := []string{"logs"}
	if opts.Follow {
		args = append(args, "--follow")
	}
	if !opts.Since.IsZero() {
		args = append(args, "--since", opts.Since.UTC().Format(time.RFC3339Nano))
	}
	if opts.Tail > 0 {
		args = append(args, "--tail", strconv.Itoa(opts.Tail))
	}
	args = append(args, "--", c.ID)

	var (
		pctx context.Context
		stop context.CancelFunc
	)
	if _, ok := ctx.Deadline(); !ok && !opts.Follow {
		pctx, stop = context.WithTimeout(ctx, r.timeout)
	} else {
		pctx, stop = context.WithCancel(ctx)
	}
	s := logstream.New(ctx, BackendName, name, stop)
	ls := &logStream{Stream: s}
	if !r.track(ls) {
		stop()
		return nil, ctrgate.NewEngineError(BackendName, ctrgate.OpLogs, name, ctrgate.ErrEngineUnavailable, "runtime is closed", nil, nil)
	}
	waitStart := opts.Follow && c.State.Status == ctrgate.StateCreated && c.State.StartedAt.IsZero()
	go func() {
		defer r.untrack(ls)
		defer stop()
		if waitStart {
			if _, err := ctrgate.AwaitStart(pctx, r, c.ID); err != nil {
				switch {
				case pctx.Err() != nil:
					s.Finish(ctxError(ctrgate.OpLogs, name, pctx.Err())) // after Close, Next says EOF
				case errors.Is(err, ctrgate.ErrNotFound):
					s.Finish(nil) // removed before it was started: no output
				default:
					s.Finish(startErr(pctx, ctrgate.OpLogs, name, err))
				}
				return
			}
		}
		s.Finish(r.runLogs(pctx, name, args, opts.Follow, s))
	}()
	return ls, nil
}

// fileLogs reads the container's k8s-file log at path (see
// logstream.K8sFile); a followed read ends when `podman wait` returns.
func (r *Runtime) fileLogs(ctx context.Context, name, id, path string, opts ctrgate.LogOptions) (ctrgate.LogStream, error) {
	if err := r.checkOpen(ctrgate.OpLogs, name); err != nil {
		return nil, err
	}
	ls := &fileStream{}
	exited := func(ctx context.Context) error {
		_, err := r.Wait(ctx, id)
		if err != nil && ctx.Err() == nil && !errors.Is(err, ctrgate.ErrNotFound) {
			return ctrgate.WithOp(err, ctrgate.OpLogs)
		}
		return err
	}
	s, err := logstream.K8sFile(ctx, BackendName, name, path, opts, exited, func() { r.untrack(ls) })
	if err != nil {
		return nil, err
	}
	ls.LogStream = s
	if !r.track(ls) {
		_ = s.Close()
		return nil, ctrgate.NewEngineError(BackendName, ctrgate.OpLogs, name, ctrgate.ErrEngineUnavailable, "runtime is closed", nil, nil)
	}
	return ls, nil
}

// fileStream is a k8s-file log stream the runtime can close.
type fileStream struct {
	ctrgate.LogStream
}

// logStream is a logstream.Stream the runtime can close.
type logStream struct {
	*logstream.Stream
}

// runLogs runs podman logs into s and returns the stream's final error.
func (r *Runtime) runLogs(ctx context.Context, name string, args []string, follow bool, s *logstream.Stream) error {
	if err := ctx.Err(); err != nil {
		return ctxError(ctrgate.OpLogs, name, err) // after Close, Next says EOF
	}
	cmd := r.command(ctx, args, nil)
	writer := s.Writer
	if follow {
		writer = s.FollowWriter
	}
	out := writer(ctrgate.Stdout)
	errw := writer(ctrgate.Stderr)
	errTail := &tailWriter{w: errw, keep: 4096}
	cmd.Stdout = out
	cmd.Stderr = errTail
	err := cmd.Run()
	_ = out.Close() // a final line without a newline
	_ = errw.Close()
	if cerr := ctx.Err(); cerr != nil {
		// cancelled, closed (Next then says EOF) or the default timeout
		return ctxError(ctrgate.OpLogs, name, cerr)
	}
	var ee *exec.ExitError
	switch {
	case err == nil, errors.Is(err, exec.ErrWaitDelay):
		return nil
	case errors.As(err, &ee):
		return r.failure(ctrgate.OpLogs, name, exited(ee.ProcessState, errTail.tail), nil)
	default:
		return ctrgate.NewEngineError(BackendName, ctrgate.OpLogs, name, ctrgate.ErrEngineUnavailable, "cannot run podman", err, nil)
	}
}

// tailWriter passes writes on to w and keeps the last keep bytes (podman's
// own error message, if it fails, is at the end of its stderr).
type tailWriter struct {
	w    io.Writer
	keep int
	tail []byte
}

func (t *tailWriter) Write(p []byte) (int, error) {
	t.tail = append(t.tail, p...)
	if len(t.tail) > t.keep {
		t.tail = append([]byte(nil), t.tail[len(t.tail)-t.keep:]...)
	}
	return t.w.Write(p)
}

// ---- Events ----

// Events streams container lifecycle events (`podman events --format json
// --since NOW`), filtered by filter.
func (r *Runtime) Events(ctx context.Context, filter ctrgate.EventFilter) (ctrgate.EventStream, error) {
	if ctx == nil {
		return nil, ctrgate.NewEngineError(BackendName, ctrgate.OpEvents, "", ctrgate.ErrInvalidSpec, "", errNoCtx, nil)
	}
	if err := r.checkOpen(ctrgate.OpEvents, ""); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, ctxError(ctrgate.OpEvents, "", err)
	}
	// Podman 4.3 ends a `podman events` follower when it rotates its events
	// log (file logger): ResumeEvents runs it again from the last event.
	// When ctx ends, Next's error is an *EngineError of Events wrapping
	// ctx.Err(), like every other error of the stream.
	return ctrgate.ResumeEvents(ctx, func(ctx context.Context, since time.Time) (ctrgate.EventStream, error) {
		return r.subscribeEvents(ctx, filter, since)
	}, ctrgate.ResumeOptions{Closed: r.isClosed, CtxError: func(ctx context.Context) error {
		return ctxError(ctrgate.OpEvents, "", ctx.Err())
	}})
}

// isClosed reports whether Close has been called.
func (r *Runtime) isClosed() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.closed
}

// subscribeEvents runs one `podman events` follower for the events at or
// after since (zero: now).
func (r *Runtime) subscribeEvents(ctx context.Context, filter ctrgate.EventFilter, since time.Time) (ctrgate.EventStream, error) {
	if err := r.checkOpen(ctrgate.OpEvents, ""); err != nil {
		return nil, err
	}
	if since.IsZero() {
		since = time.Now()
	}
	since = since.UTC()
	args := []string{"events", "--format", "json", "--filter", "type=container",
		"--since", since.Format(time.RFC3339Nano)}
	pctx, stop := context.WithCancel(ctx)
	// Close kills the podman events process; Next says "events: ..." when
	// ctx is done.
	es := pipe.New[ctrgate.Event](ctx, stop, pipe.Buffer(64), pipe.Prefix("events"))
	if !r.track(es) {
		stop()
		return nil, ctrgate.NewEngineError(BackendName, ctrgate.OpEvents, "", ctrgate.ErrEngineUnavailable, "runtime is closed", nil, nil)
	}
	cmd := r.command(pctx, args, nil)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	cmd.Stdout = &eventWriter{es: es, filter: filter, since: since}
	if err := cmd.Start(); err != nil {
		r.untrack(es)
		stop()
		return nil, ctrgate.NewEngineError(BackendName, ctrgate.OpEvents, "", ctrgate.ErrEngineUnavailable, "cannot run podman", err, nil)
	}
	go func() {
		defer r.untrack(es)
		defer stop()
		err := cmd.Wait()
		var ee *exec.ExitError
		switch {
		case pctx.Err() != nil, err == nil, errors.Is(err, exec.ErrWaitDelay):
			es.Finish(nil)
		case errors.As(err, &ee):
			es.Finish(r.failure(ctrgate.OpEvents, "", exited(ee.ProcessState, stderr.Bytes()), nil))
		default:
			es.Finish(ctrgate.NewEngineError(BackendName, ctrgate.OpEvents, "", nil, "", err, nil))
		}
	}()
	return es, nil
}

// eventWriter parses podman events' JSON lines.
type eventWriter struct {
	es     *pipe.Pipe[ctrgate.Event]
	filter ctrgate.EventFilter
	since  time.Time
	buf    []byte
}

func (w *eventWriter) Write(p []byte) (int, error) {
	n := len(p)
	w.buf = append(w.buf, p...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			break
		}
		line := bytes.TrimSpace(w.buf[:i])
		w.buf = w.buf[i+1:]
		if len(line) == 0 {
			continue
		}
		ev, ok, err := parseEvent(line)
		if err != nil || !ok || !w.filter.Matches(ev.Name, ev.Labels) {
			continue
		}
		if !ev.Time.IsZero() && ev.Time.Before(w.since) {
			continue
		}
		if !w.es.Send(ev) {
			return n, io.ErrClosedPipe
		}
	}
	if len(w.buf) == 0 {
		w.buf = nil
	}
	return n, nil
}
