package docker

import (
	"bytes"
	"context"
	"io"
	"strconv"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/pkg/stdcopy"

	"github.com/ctrgate/ctrgate"
	"github.com/ctrgate/ctrgate/logstream"
)

// Logs streams the container's output as lines (see
// ctrgate.ContainerRuntime.Logs). The engine's multiplexed stream is split
// with stdcopy into stdout and stderr; each frame carries an engine
// timestamp, which becomes LogLine.Time. Following a created container that
// has not been started waits for its start (Docker would end the stream at
// once). Without Follow the default timeout bounds the whole read.
func (r *Runtime) Logs(ctx context.Context, name string, opts ctrgate.LogOptions) (ctrgate.LogStream, error) {
	if err := ctrgate.ValidateName(name); err != nil {
		return nil, err
	}
	if opts.Tail < 0 {
		return nil, &ctrgate.SpecError{Field: "Tail", Reason: "negative"}
	}
	timeout := r.timeout
	if opts.Follow {
		timeout = 0
	}
	// sctx bounds the requests (default timeout, Close of the runtime); the
	// stream itself follows the caller's ctx, so that a finished producer
	// never turns into a context error in Next.
	sctx, cancel, err := r.beginTimeout(ctx, opLogs, name, timeout)
	if err != nil {
		return nil, err
	}
	in, err := r.cli.ContainerInspect(sctx, name)
	if err != nil {
		merr := r.mapErr(sctx, opLogs, name, err, nil)
		cancel()
		return nil, merr
	}
	lo := container.LogsOptions{ShowStdout: true, ShowStderr: true, Follow: opts.Follow, Timestamps: true}
	if !opts.Since.IsZero() {
		lo.Since = strconv.FormatInt(opts.Since.Unix(), 10) + "." + pad9(opts.Since.Nanosecond())
	}
	if opts.Tail > 0 {
		lo.Tail = strconv.Itoa(opts.Tail)
	}
	stream := logstream.New(ctx, cancel)
	created := in.State != nil && ctrgate.ParseState(in.State.Status) == ctrgate.StateCreated
	var body io.ReadCloser
	if !(opts.Follow && created) {
		body, err = r.cli.ContainerLogs(sctx, name, lo)
		if err != nil {
			merr := r.mapErr(sctx, opLogs, name, err, nil)
			cancel()
			return nil, merr
		}
	}
	go func() {
		defer cancel()
		if body == nil {
			if err := r.waitStarted(sctx, name); err != nil {
				stream.Finish(endErr(ctx, r.mapErr(sctx, opLogs, name, err, nil)))
				return
			}
			var err error
			body, err = r.cli.ContainerLogs(sctx, name, lo)
			if err != nil {
				stream.Finish(endErr(ctx, r.mapErr(sctx, opLogs, name, err, nil)))
				return
			}
		}
		tr := &frameTracker{}
		out := &frameWriter{s: stream, stream: ctrgate.Stdout, tr: tr}
		errw := &frameWriter{s: stream, stream: ctrgate.Stderr, tr: tr}
		_, cerr := stdcopy.StdCopy(out, errw, body)
		body.Close()
		if cerr == nil && opts.Follow && r.podman && sctx.Err() == nil {
			cerr = r.podmanCatchUp(sctx, name, lo, tr, out, errw)
		}
		if cerr == nil {
			cerr = out.flush()
			if e := errw.flush(); cerr == nil {
				cerr = e
			}
		}
		if cerr != nil {
			stream.Finish(endErr(ctx, r.mapErr(sctx, opLogs, name, cerr, nil)))
			return
		}
		stream.Finish(nil)
	}()
	return stream, nil
}

// podmanCatchUp reads what a followed log stream missed. Podman's
// compatibility API (4.x) may end a followed stream when the container exits
// before it has sent the last lines (measured under load: 2658 of 5005
// frames). Its timestamps have whole-second precision and its frames follow
// the engine's partial records, so the missing output is found by byte
// position per stream instead: the log is read again, without Follow, with
// the same Since, and the bytes already delivered on each stream are
// skipped. With Tail the start position of the followed stream is unknown,
// so nothing is caught up (a documented limitation on Podman).
func (r *Runtime) podmanCatchUp(ctx context.Context, name string, lo container.LogsOptions, tr *frameTracker, out, errw *frameWriter) error {
	if lo.Tail != "" {
		return nil
	}
	lo.Follow = false
	tr.skip = tr.seen
	tr.seen = [3]int64{}
	body, err := r.cli.ContainerLogs(ctx, name, lo)
	if err != nil {
		return err
	}
	defer body.Close()
	_, err = stdcopy.StdCopy(out, errw, body)
	return err
}

// frameTracker counts the bytes delivered per stream and, for a catch-up
// read, drops the first skip bytes of each stream.
type frameTracker struct {
	seen [3]int64 // bytes delivered, by stream
	skip [3]int64 // bytes still to drop, by stream
}

// admit returns the part of a frame's payload of stream s to deliver.
func (tr *frameTracker) admit(s ctrgate.Stream, p []byte) []byte {
	i := int(s)
	if i < 0 || i >= len(tr.seen) {
		return p
	}
	if n := tr.skip[i]; n > 0 {
		if int64(len(p)) <= n {
			tr.skip[i] -= int64(len(p))
			return nil
		}
		p = p[n:]
		tr.skip[i] = 0
	}
	tr.seen[i] += int64(len(p))
	return p
}

// endErr is the error a log stream ends with: nil (io.EOF) when the
// caller's context ended (Next reports that itself), else err (a closed
// stream reports io.EOF whatever err is).
func endErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return nil
	}
	return err
}

// waitStarted polls until the container has left the created state.
func (r *Runtime) waitStarted(ctx context.Context, name string) error {
	for delay := 20 * time.Millisecond; ; delay = min(delay*2, 500*time.Millisecond) {
		in, err := r.cli.ContainerInspect(ctx, name)
		if err != nil {
			return r.mapErr(ctx, opLogs, name, err, nil)
		}
		if in.State == nil || ctrgate.ParseState(in.State.Status) != ctrgate.StateCreated {
			return nil
		}
		if err := sleepCtx(ctx, delay); err != nil {
			return err
		}
	}
}

func pad9(n int) string {
	s := strconv.Itoa(n)
	for len(s) < 9 {
		s = "0" + s
	}
	return s
}

// frameWriter turns the frames of one stream into lines. stdcopy hands it
// one frame per Write; with timestamps on, every frame (including each
// piece of a line the engine split, beyond 16 KiB on Docker) starts with
// "<RFC 3339 time> ", which is removed here. A line's time is that of its
// first frame.
type frameWriter struct {
	s      *logstream.Stream
	stream ctrgate.Stream
	buf    []byte
	t      time.Time // time of the line in buf
	tr     *frameTracker
}

func (w *frameWriter) Write(p []byte) (int, error) {
	n := len(p)
	ts, rest := splitTimestamp(p)
	if w.tr != nil {
		if rest = w.tr.admit(w.stream, rest); len(rest) == 0 {
			return n, nil
		}
	}
	if len(w.buf) == 0 {
		w.t = ts
	}
	for len(rest) > 0 {
		i := bytes.IndexByte(rest, '\n')
		if i < 0 {
			w.buf = append(w.buf, rest...)
			break
		}
		line := append(w.buf, rest[:i]...)
		w.buf = nil
		rest = rest[i+1:]
		line = bytes.TrimSuffix(line, []byte("\r"))
		if !w.s.Send(ctrgate.LogLine{Stream: w.stream, Text: string(line), Time: w.t}) {
			return 0, io.ErrClosedPipe
		}
		w.t = ts
	}
	return n, nil
}

// flush delivers a final line without a newline.
func (w *frameWriter) flush() error {
	if len(w.buf) == 0 {
		return nil
	}
	line := w.buf
	w.buf = nil
	if !w.s.Send(ctrgate.LogLine{Stream: w.stream, Text: string(line), Time: w.t}) {
		return io.ErrClosedPipe
	}
	return nil
}

// splitTimestamp removes a leading "<RFC 3339 time> " from a frame.
func splitTimestamp(p []byte) (time.Time, []byte) {
	i := bytes.IndexByte(p, ' ')
	if i < len("2006-01-02T15:04:05Z") || i > 40 {
		return time.Time{}, p
	}
	t, err := time.Parse(time.RFC3339Nano, string(p[:i]))
	if err != nil {
		return time.Time{}, p
	}
	return t, p[i+1:]
}
