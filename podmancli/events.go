package podmancli

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os/exec"
	"time"

	"github.com/ctrgate/ctrgate/driver"

	"github.com/ctrgate/ctrgate"
	"github.com/ctrgate/ctrgate/pipe"
)

// Events streams container lifecycle events (`podman events --format json
// --since NOW`), filtered by filter.
func (r *Runtime) Events(ctx context.Context, filter ctrgate.EventFilter) (ctrgate.EventStream, error) {
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
	return driver.ResumeEvents(ctx, func(ctx context.Context, since time.Time) (ctrgate.EventStream, error) {
		return r.subscribeEvents(ctx, filter, since)
	}, driver.ResumeOptions{Closed: r.isClosed, Window: r.window, CtxError: func(ctx context.Context) error {
		return ctxError(ctrgate.OpEvents, "", ctx.Err())
	}})
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
			es.Finish(r.failure(ctrgate.OpEvents, "", exited(ee.ProcessState, stderr.Bytes())))
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
