package docker

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strconv"
	"time"

	"github.com/ctrgate/ctrgate/driver"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/pkg/stdcopy"

	"github.com/ctrgate/ctrgate"
	"github.com/ctrgate/ctrgate/logstream"
)

// Logs streams the container's output as lines (see
// ctrgate.ContainerRuntime.Logs). The engine's multiplexed stream is split
// with stdcopy into stdout and stderr; each frame carries an engine
// timestamp, which becomes LogLine.Time. Following a created container that
// has not been started waits for its start with driver.AwaitStart (Docker
// would end the stream at once). A followed stream that ends by itself is
// completed by logstream.Complete (Docker 20.10 can end it before an
// unterminated last line written at exit is in the log); on Podman, whose
// followed stream loses lines in the middle, following is done by polling
// plain reads once the container has started (see podmanFollow). Without
// Follow the contract layer's default timeout bounds the whole read.
func (r *Runtime) Logs(ctx context.Context, name string, opts ctrgate.LogOptions) (ctrgate.LogStream, error) {
	return logstream.Complete(ctx, r, BackendName, name, opts, func(ctx context.Context, opts ctrgate.LogOptions) (ctrgate.LogStream, error) {
		return r.logs(ctx, name, opts)
	})
}

// logs is one logs request (or, for a followed log on Podman, one
// polling follower).
func (r *Runtime) logs(ctx context.Context, name string, opts ctrgate.LogOptions) (ctrgate.LogStream, error) {
	// sctx bounds the requests (Close of the runtime); the stream itself
	// follows the caller's ctx, so that a finished producer never turns
	// into a context error in Next.
	sctx, cancel, err := r.begin(ctx, ctrgate.OpLogs, name)
	if err != nil {
		return nil, err
	}
	in, err := r.cli.ContainerInspect(sctx, name)
	if err != nil {
		merr := r.mapErr(sctx, ctrgate.OpLogs, name, err)
		cancel()
		return nil, merr
	}
	f, err := r.engine(sctx)
	if err != nil {
		merr := r.mapErr(sctx, ctrgate.OpLogs, name, err)
		cancel()
		return nil, merr
	}
	if path := podmanLogFile(f.podman, in); path != "" {
		// Podman on this machine, its conmon's k8s-file log readable: read
		// it directly (exact, nanosecond times, lines at once; Podman's
		// compat follower loses lines and its timestamps are whole
		// seconds).
		id := in.ID
		exited := func(ctx context.Context) error {
			_, err := r.Wait(ctx, id)
			if err != nil && ctx.Err() == nil && !errors.Is(err, ctrgate.ErrNotFound) {
				return driver.WithOp(err, ctrgate.OpLogs)
			}
			return err
		}
		if s, err := logstream.K8sFile(ctx, BackendName, name, path, opts, exited, cancel); err == nil {
			return s, nil
		}
	}
	lo := container.LogsOptions{ShowStdout: true, ShowStderr: true, Follow: opts.Follow, Timestamps: true}
	if !opts.Since.IsZero() {
		lo.Since = strconv.FormatInt(opts.Since.Unix(), 10) + "." + pad9(opts.Since.Nanosecond())
	}
	if opts.Tail > 0 {
		lo.Tail = strconv.Itoa(opts.Tail)
	}
	stream := logstream.New(ctx, BackendName, name, cancel)
	created := in.State != nil && ctrgate.ParseState(in.State.Status) == ctrgate.StateCreated
	polled := opts.Follow && f.podman
	var body io.ReadCloser
	if !(opts.Follow && created) && !polled {
		// Podman's transient "read /proc/PID/cgroup: no such process" of a
		// container exiting at that moment answers a log request too (seen
		// on rootless 4.3): asked again, as a wait is
		_, err = driver.RetryTransientWait(sctx, func() (int, error) {
			var lerr error
			body, lerr = r.cli.ContainerLogs(sctx, name, lo)
			return 0, lerr
		})
		if err != nil {
			merr := r.mapErr(sctx, ctrgate.OpLogs, name, err)
			cancel()
			return nil, merr
		}
	}
	go func() {
		defer cancel()
		tr := &frameTracker{}
		out := &frameWriter{s: stream, stream: ctrgate.Stdout, tr: tr, follow: opts.Follow}
		errw := &frameWriter{s: stream, stream: ctrgate.Stderr, tr: tr, follow: opts.Follow}
		var cerr error
		if polled {
			gone := false
			if created {
				// Nothing to read before the start: wait for it on the
				// event stream instead of polling an empty log.
				if _, err := driver.AwaitStart(sctx, r, name); err != nil {
					if sctx.Err() == nil && errors.Is(err, ctrgate.ErrNotFound) {
						gone = true // removed before it was started: no output
					} else {
						cerr = r.startErr(sctx, ctrgate.OpLogs, name, err)
					}
				}
			}
			if cerr == nil && !gone {
				cerr = r.podmanFollow(sctx, name, lo, opts, in, stream, tr, out, errw)
			}
		} else {
			cerr = r.streamLogs(sctx, name, lo, body, tr, out, errw)
		}
		if cerr == nil {
			cerr = out.flush()
			if e := errw.flush(); cerr == nil {
				cerr = e
			}
		}
		if cerr != nil {
			stream.Finish(endErr(ctx, r.mapErr(sctx, ctrgate.OpLogs, name, cerr)))
			return
		}
		stream.Finish(nil)
	}()
	return stream, nil
}

// streamLogs copies one logs response (requested here when body is nil,
// after the container has started) and, for a followed stream that ended by
// itself, catches up with what it missed.
func (r *Runtime) streamLogs(ctx context.Context, name string, lo container.LogsOptions, body io.ReadCloser, tr *frameTracker, out, errw *frameWriter) error {
	if body == nil {
		if _, err := driver.AwaitStart(ctx, r, name); err != nil {
			return r.startErr(ctx, ctrgate.OpLogs, name, err)
		}
		var err error
		if body, err = r.cli.ContainerLogs(ctx, name, lo); err != nil {
			return err
		}
	}
	_, err := stdcopy.StdCopy(out, errw, body)
	body.Close()
	return err
}

// podmanFollow follows a container's log on Podman by polling: Podman
// 4.3's followed compatibility stream is unreliable under load (measured: a
// followed read of 5000 lines delivered lines 1-486 and 983 only, or ended
// after 2658 of them), while its plain reads are complete. Each poll reads
// the log without Follow from the second of the last frame delivered (the
// engine's timestamps have whole-second precision) and skips the bytes
// already delivered with that timestamp, per stream; the first poll reads
// from opts.Since and applies opts.Tail here, keeping the last Tail lines.
// The loop ends after a read that began once the container had exited, or
// when it is gone. Polls come every 50 ms while output flows, backing off to
// 250 ms when it does not. in is the state Logs saw before any read.
func (r *Runtime) podmanFollow(ctx context.Context, name string, lo container.LogsOptions, opts ctrgate.LogOptions,
	in container.InspectResponse, stream *logstream.Stream, tr *frameTracker, out, errw *frameWriter) error {
	lo.Follow, lo.Tail = false, ""
	var tail []ctrgate.LogLine
	if opts.Tail > 0 {
		keep := func(l ctrgate.LogLine) bool {
			tail = append(tail, l)
			if len(tail) > opts.Tail {
				tail = tail[1:]
			}
			return true
		}
		out.sink, errw.sink = keep, keep
	}
	delay := 50 * time.Millisecond
	for first := true; ; first = false {
		if !first {
			var err error
			if in, err = r.cli.ContainerInspect(ctx, name); err != nil {
				if errors.Is(r.mapErr(ctx, ctrgate.OpLogs, name, err), ctrgate.ErrNotFound) {
					return nil // removed: its log is gone
				}
				return err
			}
		}
		done := false
		if in.State != nil {
			switch ctrgate.ParseState(in.State.Status) {
			case ctrgate.StateExited, ctrgate.StateDead, ctrgate.StateRemoving:
				done = true
			}
		}
		q := lo
		if !first && !tr.lastT.IsZero() {
			from := tr.lastT.Truncate(time.Second)
			if from.Before(opts.Since) {
				from = opts.Since
			}
			q.Since = strconv.FormatInt(from.Unix(), 10) + "." + pad9(from.Nanosecond())
			tr.skip = tr.atLast
		} else {
			tr.skip = tr.seen
		}
		body, err := r.cli.ContainerLogs(ctx, name, q)
		if err != nil {
			if errors.Is(r.mapErr(ctx, ctrgate.OpLogs, name, err), ctrgate.ErrNotFound) {
				return nil
			}
			return err
		}
		before := tr.seen
		_, err = stdcopy.StdCopy(out, errw, body)
		body.Close()
		if err != nil {
			return err
		}
		// Text without a newline that stays so: a partial line.
		if err := out.partial(); err != nil {
			return err
		}
		if err := errw.partial(); err != nil {
			return err
		}
		if first && opts.Tail > 0 {
			out.sink, errw.sink = nil, nil
			for _, l := range tail {
				if !stream.Send(l) {
					return io.ErrClosedPipe
				}
			}
			tail = nil
		}
		if done {
			return nil
		}
		if tr.seen != before {
			delay = 50 * time.Millisecond
		} else {
			delay = min(delay*2, 250*time.Millisecond)
		}
		if err := sleepCtx(ctx, delay); err != nil {
			return err
		}
	}
}

// frameTracker counts the bytes delivered per stream (in all, and in the
// frames with the latest timestamp) and, for a catch-up read, drops the
// first skip bytes of each stream.
type frameTracker struct {
	seen   [3]int64 // bytes delivered, by stream
	skip   [3]int64 // bytes still to drop, by stream
	lastT  time.Time
	atLast [3]int64 // bytes delivered in frames stamped lastT, by stream
}

// admit returns the part of a frame's payload of stream s, stamped t, to
// deliver.
func (tr *frameTracker) admit(s ctrgate.Stream, t time.Time, p []byte) []byte {
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
	if !t.Equal(tr.lastT) {
		tr.lastT, tr.atLast = t, [3]int64{}
	}
	tr.atLast[i] += int64(len(p))
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
	since  time.Time // when buf last grew
	cont   bool      // pieces of the line in buf were delivered as partial
	tr     *frameTracker
	sink   func(ctrgate.LogLine) bool // where lines go instead of s, if set
	// follow: at the end of a followed stream, text without a newline is
	// delivered as a partial line (logstream.Complete completes it from a
	// plain read if the engine had more).
	follow bool
}

// send delivers a line to the sink or the stream.
func (w *frameWriter) send(l ctrgate.LogLine) bool {
	if w.sink != nil {
		return w.sink(l)
	}
	return w.s.Send(l)
}

func (w *frameWriter) Write(p []byte) (int, error) {
	n := len(p)
	ts, rest := splitTimestamp(p)
	if w.tr != nil {
		if rest = w.tr.admit(w.stream, ts, rest); len(rest) == 0 {
			return n, nil
		}
	}
	if len(w.buf) == 0 && !w.cont {
		w.t = ts
	}
	for len(rest) > 0 {
		i := bytes.IndexByte(rest, '\n')
		if i < 0 {
			w.buf = append(w.buf, rest...)
			w.since = time.Now()
			break
		}
		line := append(w.buf, rest[:i]...)
		w.buf, w.cont = nil, false
		rest = rest[i+1:]
		line = bytes.TrimSuffix(line, []byte("\r"))
		if !w.send(ctrgate.LogLine{Stream: w.stream, Text: string(line), Time: w.t}) {
			return 0, io.ErrClosedPipe
		}
		w.t = ts
	}
	return n, nil
}

// partial delivers the text without a newline that has waited for
// ctrgate.PartialIdle as a partial line (used by the polling follower).
func (w *frameWriter) partial() error {
	if len(w.buf) == 0 || w.sink != nil || time.Since(w.since) < ctrgate.PartialIdle {
		return nil
	}
	text := string(w.buf)
	w.buf, w.cont = nil, true
	if !w.send(ctrgate.LogLine{Stream: w.stream, Text: text, Time: w.t, Partial: true}) {
		return io.ErrClosedPipe
	}
	return nil
}

// flush delivers a final line without a newline.
func (w *frameWriter) flush() error {
	if len(w.buf) == 0 {
		return nil
	}
	line := w.buf
	w.buf, w.cont = nil, false
	if !w.send(ctrgate.LogLine{Stream: w.stream, Text: string(line), Time: w.t, Partial: w.follow}) {
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

// podmanLogFile returns the k8s-file log of a container of Podman's
// compatible API when it is on this machine and readable ("" otherwise).
func podmanLogFile(podman bool, in container.InspectResponse) string {
	if !podman || in.ContainerJSONBase == nil || in.ID == "" {
		return ""
	}
	path := in.LogPath
	// Podman's json-file is its k8s-file (an alias), and the compatible
	// API reports k8s-file as json-file; journald has no path.
	if in.HostConfig != nil {
		switch in.HostConfig.LogConfig.Type {
		case "", "k8s-file", "json-file":
		default:
			return ""
		}
	}
	return logstream.LocalLogFile(path, in.ID)
}
