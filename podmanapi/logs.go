package podmanapi

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/ctrgate/ctrgate/driver"

	"github.com/containers/podman/v5/pkg/bindings/containers"

	"github.com/ctrgate/ctrgate"
	"github.com/ctrgate/ctrgate/logstream"
)

// Logs returns the container's output as lines, stdout and stderr told
// apart, with the engine's timestamps (whole seconds on Podman 4.x).
//
// The bindings deliver the output frame by frame on two channels and block
// while sending; Logs drains both until the request ends, so closing the
// stream or cancelling ctx always ends the request and its goroutines.
//
// A followed stream is completed by logstream.Complete: the service may end
// a follower before it has read the log to the end (under load, lines
// 3305..5000 of 5000 were missing); what it did not deliver is read again.
func (r *Runtime) Logs(ctx context.Context, name string, opts ctrgate.LogOptions) (ctrgate.LogStream, error) {
	return logstream.Complete(ctx, r, BackendName, name, opts, func(ctx context.Context, opts ctrgate.LogOptions) (ctrgate.LogStream, error) {
		return r.logs(ctx, name, opts)
	})
}

// logs is one logs request.
func (r *Runtime) logs(ctx context.Context, name string, opts ctrgate.LogOptions) (ctrgate.LogStream, error) {
	// Ask once, so that a missing container fails here and not on Next.
	ct, logFile, err := r.inspectLog(ctx, name)
	if err != nil {
		return nil, driver.WithOp(err, ctrgate.OpLogs)
	}
	if logFile != "" {
		// The service runs on this machine and its conmon writes a k8s-file
		// log we can read: read it directly (exact under load, where the
		// service's follower skips records; times; live partial lines).
		exited := func(ctx context.Context) error {
			_, err := r.Wait(ctx, ct.ID)
			if err != nil && ctx.Err() == nil && !errors.Is(err, ctrgate.ErrNotFound) {
				return driver.WithOp(err, ctrgate.OpLogs)
			}
			return err
		}
		if s, err := logstream.K8sFile(ctx, BackendName, name, logFile, opts, exited, nil); err == nil {
			return s, nil
		}
	}
	// A Podman 4.x service ends a followed log of a container that was
	// never started at once; follow it from its start instead.
	awaitStart := opts.Follow && ct.State.Status == ctrgate.StateCreated && ct.State.StartedAt.IsZero()
	c, cancel, err := r.call(ctx, ctrgate.OpLogs, name)
	if err != nil {
		return nil, err
	}
	lo := &containers.LogOptions{
		Follow:     boolPtr(opts.Follow),
		Stdout:     boolPtr(true),
		Stderr:     boolPtr(true),
		Timestamps: boolPtr(true),
	}
	if !opts.Since.IsZero() {
		lo.Since = strPtr(opts.Since.UTC().Format(time.RFC3339Nano))
	}
	if opts.Tail > 0 {
		lo.Tail = strPtr(strconv.Itoa(opts.Tail))
	}
	s := logstream.New(ctx, BackendName, name, cancel)
	outCh := make(chan string) // unbuffered: frames keep their order across both streams
	errCh := make(chan string)
	done := make(chan error, 1)
	go func() {
		if awaitStart {
			if _, err := driver.AwaitStart(c, r, ct.ID); err != nil {
				done <- startErr(c, ctrgate.OpLogs, name, err)
				return
			}
		}
		done <- containers.Logs(c, name, lo, outCh, errCh)
	}()
	go func() {
		defer cancel()
		out := &frameSplitter{s: s, stream: ctrgate.Stdout, follow: opts.Follow}
		errs := &frameSplitter{s: s, stream: ctrgate.Stderr, follow: opts.Follow}
		var lerr error
	loop:
		for {
			select {
			case f := <-outCh:
				out.frame(f)
			case f := <-errCh:
				errs.frame(f)
			case lerr = <-done:
				break loop
			}
		}
		// Logs has returned, so no send is pending; nothing is left behind.
		out.flush()
		errs.flush()
		switch {
		case lerr == nil:
			s.Finish(nil)
		case ctx.Err() != nil:
			s.Finish(wrapErr(ctx, ctrgate.OpLogs, name, ctx.Err(), false))
		case errors.Is(context.Cause(c), errClosed):
			s.Finish(wrapErr(c, ctrgate.OpLogs, name, lerr, false)) // the runtime was closed
		case c.Err() != nil && !isDeadline(c):
			s.Finish(nil) // closed by the consumer
		default:
			s.Finish(wrapErr(c, ctrgate.OpLogs, name, lerr, false))
		}
	}()
	return s, nil
}

func isDeadline(c context.Context) bool {
	return c.Err() == context.DeadlineExceeded
}

// frameSplitter turns the service's log frames into lines. With
// timestamps every frame starts with "<RFC 3339 time> "; a frame that does
// not end in a newline is a partial line continued by the next frame.
type frameSplitter struct {
	s      *logstream.Stream
	stream ctrgate.Stream
	buf    strings.Builder
	t      time.Time // time of the line being assembled
	open   bool      // a partial line is pending
	closed bool      // the consumer went away; drain only
	follow bool      // a followed stream: text without newline at the end is partial
}

func (f *frameSplitter) frame(frame string) {
	if f.closed {
		return
	}
	ts, rest := splitTimestamp(frame)
	if !f.open {
		f.t = ts
	}
	for {
		i := strings.IndexByte(rest, '\n')
		if i < 0 {
			break
		}
		f.buf.WriteString(rest[:i])
		f.emit()
		rest = rest[i+1:]
		f.t = ts
	}
	if rest != "" {
		f.buf.WriteString(rest)
		f.open = true
	}
}

func (f *frameSplitter) emit() {
	line := strings.TrimSuffix(f.buf.String(), "\r")
	f.buf.Reset()
	f.open = false
	if f.closed {
		return
	}
	if !f.s.Send(ctrgate.LogLine{Stream: f.stream, Text: line, Time: f.t}) {
		f.closed = true
	}
}

func (f *frameSplitter) flush() {
	if !f.open {
		return
	}
	if !f.follow {
		f.emit()
		return
	}
	// The end of a followed stream: the line may go on in the log
	// (logstream.Complete reads the rest).
	line := f.buf.String()
	f.buf.Reset()
	f.open = false
	if !f.closed && !f.s.Send(ctrgate.LogLine{Stream: f.stream, Text: line, Time: f.t, Partial: true}) {
		f.closed = true
	}
}

// splitTimestamp removes the leading "<time> " of a frame.
func splitTimestamp(frame string) (time.Time, string) {
	i := strings.IndexByte(frame, ' ')
	if i <= 0 || i > 40 {
		return time.Time{}, frame
	}
	t, err := time.Parse(time.RFC3339Nano, frame[:i])
	if err != nil {
		return time.Time{}, frame
	}
	return t, frame[i+1:]
}

// inspectLog is Inspect that also returns the path of the container's
// k8s-file log when the service's conmon writes one that this process can
// read (the service runs on this machine); "" otherwise.
func (r *Runtime) inspectLog(ctx context.Context, name string) (*ctrgate.Container, string, error) {
	c, cancel, err := r.call(ctx, ctrgate.OpInspect, name)
	if err != nil {
		return nil, "", err
	}
	defer cancel()
	d, err := containers.Inspect(c, name, nil)
	if err != nil {
		return nil, "", wrapErr(c, ctrgate.OpInspect, name, err, false)
	}
	out := fromInspect(d)
	path := ""
	if d.HostConfig != nil && d.HostConfig.LogConfig != nil && d.HostConfig.LogConfig.Type == "k8s-file" {
		path = d.HostConfig.LogConfig.Path
	}
	return &out, logstream.LocalLogFile(path, d.ID), nil
}
