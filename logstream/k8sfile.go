package logstream

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/ctrgate/ctrgate"
)

// K8sFilePoll is how often a followed k8s-file log is looked at for new
// records while it does not grow.
const K8sFilePoll = 5 * time.Millisecond

// K8sFile reads a container log that Podman's conmon writes in the
// "k8s-file" format (one record per line: "<RFC 3339 time> <stdout|stderr>
// <P|F> <text>", P for a piece of a line, F for its end), straight from the
// file at path: for a Podman on this machine it is exact, carries every
// line's time and is read as soon as conmon has written it (Podman's own
// follower polls the file every 250 ms and, under load, skips records).
//
// Without opts.Follow it delivers the log as it is and ends. With Follow
// it keeps reading what conmon appends (looking every K8sFilePoll) until
// exited returns (it blocks until the container has exited or is gone, e.g.
// the runtime's Wait); then it reads the file to its end and ends. An
// error of exited other than ErrNotFound ends the stream with that error
// (never a clean end) unless ctx is done. Since and Tail apply to the lines
// (a line's time is that of its first record); in a followed read, text
// without a newline that stays so for ctrgate.PartialIdle is delivered as a
// partial LogLine. stop, if not nil, is called by Close. The stream's
// errors are those of container name on backend (see New).
//
// It fails with an error wrapping os.ErrNotExist or os.ErrPermission when
// the file cannot be opened: the caller then reads through the engine.
func K8sFile(ctx context.Context, backend, name, path string, opts ctrgate.LogOptions, exited func(context.Context) error, stop func()) (ctrgate.LogStream, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	rctx, cancel := context.WithCancel(ctx)
	s := New(ctx, backend, name, func() {
		cancel()
		if stop != nil {
			stop()
		}
	})
	kr := &k8sReader{s: s, opts: opts, f: f, br: bufio.NewReaderSize(f, 256<<10), initial: fi.Size()}
	if !opts.Follow {
		kr.initial = math.MaxInt64 // Tail over the whole file, at the end
	}
	go func() {
		defer cancel()
		defer f.Close()
		s.Finish(kr.run(rctx, exited))
	}()
	return s, nil
}

// k8sLine is a line being assembled from records.
type k8sLine struct {
	text      []byte
	t         time.Time
	open      bool      // a P record has been read for it
	since     time.Time // when its last piece was read
	delivered bool      // pieces of it have been delivered as partial
	skip      bool      // before Since: dropped
}

type k8sReader struct {
	s       *Stream
	opts    ctrgate.LogOptions
	f       *os.File
	br      *bufio.Reader
	initial int64 // size at open: the "existing output" Tail applies to
	read    int64 // bytes consumed
	rec     []byte
	lines   [3]k8sLine
	tail    []ctrgate.LogLine // while reading the existing output with Tail
	tailing bool
}

var errClosedStream = errors.New("logstream: closed")

func (k *k8sReader) run(ctx context.Context, exited func(context.Context) error) error {
	k.tailing = k.opts.Tail > 0
	if !k.opts.Follow {
		if err := k.readAvailable(); err != nil {
			return k.endErr(err)
		}
		if err := k.flushOpen(); err != nil {
			return k.endErr(err)
		}
		return k.endErr(k.flushTail())
	}
	done := make(chan error, 1)
	ectx, ecancel := context.WithCancel(ctx)
	defer ecancel()
	go func() { done <- exited(ectx) }()
	tick := time.NewTicker(K8sFilePoll)
	defer tick.Stop()
	for {
		if err := k.readAvailable(); err != nil {
			ecancel()
			<-done
			return k.endErr(err)
		}
		if k.tailing && k.read >= k.initial {
			if err := k.flushTail(); err != nil {
				ecancel()
				<-done
				return k.endErr(err)
			}
		}
		if err := k.partials(); err != nil {
			ecancel()
			<-done
			return k.endErr(err)
		}
		select {
		case <-ctx.Done():
			<-done
			return nil
		case err := <-done:
			if err != nil && !errors.Is(err, ctrgate.ErrNotFound) && ctx.Err() == nil {
				return err
			}
			if ctx.Err() != nil {
				return nil
			}
			// Exited: conmon has written everything.
			if err := k.readAvailable(); err != nil {
				return k.endErr(err)
			}
			if err := k.flushOpen(); err != nil {
				return k.endErr(err)
			}
			return k.endErr(k.flushTail())
		case <-tick.C:
		}
	}
}

// endErr maps the consumer's Close to a clean end.
func (k *k8sReader) endErr(err error) error {
	if errors.Is(err, errClosedStream) {
		return nil
	}
	return err
}

// readAvailable consumes the whole records in the file now.
func (k *k8sReader) readAvailable() error {
	for {
		chunk, err := k.br.ReadSlice('\n')
		k.rec = append(k.rec, chunk...)
		k.read += int64(len(chunk))
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if err == io.EOF {
			return nil // an incomplete record stays in k.rec
		}
		if err != nil {
			return fmt.Errorf("reading the container log: %w", err)
		}
		rec := k.rec
		k.rec = k.rec[:0]
		if err := k.record(bytes.TrimSuffix(rec, []byte("\n"))); err != nil {
			return err
		}
		if k.tailing && k.read >= k.initial {
			if err := k.flushTail(); err != nil {
				return err
			}
		}
	}
}

// record handles one k8s-file record.
func (k *k8sReader) record(rec []byte) error {
	ts, rest, ok := bytes.Cut(rec, []byte(" "))
	if !ok {
		return nil
	}
	stream, rest, ok := bytes.Cut(rest, []byte(" "))
	if !ok {
		return nil
	}
	flag, text, _ := bytes.Cut(rest, []byte(" "))
	var st ctrgate.Stream
	switch string(stream) {
	case "stdout":
		st = ctrgate.Stdout
	case "stderr":
		st = ctrgate.Stderr
	default:
		return nil
	}
	l := &k.lines[st]
	if !l.open {
		t, _ := time.Parse(time.RFC3339Nano, string(ts))
		*l = k8sLine{t: t, open: true, skip: !k.opts.Since.IsZero() && t.Before(k.opts.Since)}
	}
	l.text = append(l.text, text...)
	l.since = time.Now()
	if len(flag) == 1 && flag[0] == 'P' {
		return nil
	}
	return k.emit(st, false)
}

// emit delivers stream st's line (partial: the pieces so far).
func (k *k8sReader) emit(st ctrgate.Stream, partial bool) error {
	l := &k.lines[st]
	ll := ctrgate.LogLine{Stream: st, Text: string(l.text), Time: l.t, Partial: partial}
	skip := l.skip
	if partial {
		l.text = l.text[:0]
		l.delivered = true
	} else {
		*l = k8sLine{}
	}
	if skip {
		return nil
	}
	if k.tailing {
		k.tail = append(k.tail, ll)
		if len(k.tail) > 2*k.opts.Tail+64 {
			k.tail = append(k.tail[:0], k.tail[len(k.tail)-k.opts.Tail:]...)
		}
		return nil
	}
	if !k.s.Send(ll) {
		return errClosedStream
	}
	return nil
}

// flushTail delivers the last Tail lines of the existing output, once.
func (k *k8sReader) flushTail() error {
	if !k.tailing {
		return nil
	}
	k.tailing = false
	lines := k.tail
	k.tail = nil
	if len(lines) > k.opts.Tail {
		lines = lines[len(lines)-k.opts.Tail:]
	}
	for _, l := range lines {
		if !k.s.Send(l) {
			return errClosedStream
		}
	}
	return nil
}

// partials delivers the text that has waited for its newline for
// PartialIdle.
func (k *k8sReader) partials() error {
	if k.tailing {
		return nil
	}
	for _, st := range []ctrgate.Stream{ctrgate.Stdout, ctrgate.Stderr} {
		l := &k.lines[st]
		if l.open && len(l.text) > 0 && time.Since(l.since) >= ctrgate.PartialIdle {
			if err := k.emit(st, true); err != nil {
				return err
			}
		}
	}
	return nil
}

// flushOpen delivers the unterminated last lines at the end of the log.
func (k *k8sReader) flushOpen() error {
	for _, st := range []ctrgate.Stream{ctrgate.Stdout, ctrgate.Stderr} {
		l := &k.lines[st]
		if l.open && (len(l.text) > 0 || !l.delivered) {
			if err := k.emit(st, false); err != nil {
				return err
			}
		} else {
			*l = k8sLine{}
		}
	}
	return nil
}

// EnvEngineRoot names the directory under which this machine sees the file
// system of an engine that runs in another mount namespace (a chroot, a
// pivot_root'ed root, a container whose root is a directory here): log
// paths the engine reports are looked for below it when they are not found
// as given. Unset: only the paths as given.
const EnvEngineRoot = "CTRGATE_ENGINE_ROOT"

// LocalLogFile returns a path this process can open for the log file path
// that the engine reports for container id: path itself, or path below
// $CTRGATE_ENGINE_ROOT; "" when path does not name the container or neither
// can be opened (the engine is elsewhere: read through the engine).
func LocalLogFile(path, id string) string {
	if path == "" || id == "" || !strings.Contains(path, id) {
		return ""
	}
	candidates := []string{path}
	if root := os.Getenv(EnvEngineRoot); root != "" {
		candidates = append(candidates, filepath.Join(root, path))
	}
	for _, p := range candidates {
		if f, err := os.Open(p); err == nil {
			f.Close()
			return p
		}
	}
	return ""
}
