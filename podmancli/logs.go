package podmancli

import (
	"context"
	"errors"
	"io"
	"os/exec"
	"strconv"
	"time"

	"github.com/ctrgate/ctrgate/driver"

	"github.com/ctrgate/ctrgate"
	"github.com/ctrgate/ctrgate/logstream"
)

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
		return nil, driver.WithOp(err, ctrgate.OpLogs)
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

	pctx, stop := context.WithCancel(ctx)
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
			if _, err := driver.AwaitStart(pctx, r, c.ID); err != nil {
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
			return driver.WithOp(err, ctrgate.OpLogs)
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
		// cancelled, closed (Next then says EOF) or the layer's default timeout
		return ctxError(ctrgate.OpLogs, name, cerr)
	}
	var ee *exec.ExitError
	switch {
	case err == nil, errors.Is(err, exec.ErrWaitDelay):
		return nil
	case errors.As(err, &ee):
		return r.failure(ctrgate.OpLogs, name, exited(ee.ProcessState, errTail.tail))
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
