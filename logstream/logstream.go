// Package logstream is the one implementation of ctrgate.LogStream that the
// backends share: producers (process pipes, demultiplexed API streams,
// in-memory programs) write bytes or lines into it, and the consumer reads
// whole lines with Next. Lines may be of any length; a final line without a
// newline is delivered when its writer is closed.
package logstream

import (
	"bytes"
	"context"
	"fmt"
	"io"

	"github.com/ctrgate/ctrgate"
	"github.com/ctrgate/ctrgate/pipe"
)

// Stream is a ctrgate.LogStream fed by producers; a pipe.Pipe of lines.
type Stream struct {
	p *pipe.Pipe[ctrgate.LogLine]
}

// New returns the Stream of container name's logs on backend. stop, if not
// nil, is called once when the stream is closed by its consumer, to release
// what feeds it (kill a process, cancel a request); producers must then
// call Finish. When ctx is done, Send returns false and Next returns an
// *ctrgate.EngineError of ctrgate.OpLogs on backend and name that wraps
// the context's error ("logs: context canceled"), as every other failed
// call.
func New(ctx context.Context, backend, name string, stop func()) *Stream {
	return &Stream{p: pipe.New[ctrgate.LogLine](ctx, stop, pipe.Buffer(256), pipe.CtxError(func(ctx context.Context) error {
		return ctrgate.NewEngineError(backend, ctrgate.OpLogs, name, nil, "", fmt.Errorf("logs: %w", ctx.Err()), nil)
	}))}
}

// Send delivers one line. It blocks while the consumer is behind and
// returns false once the stream is closed or ctx is done (the producer
// should then stop).
func (s *Stream) Send(l ctrgate.LogLine) bool { return s.p.Send(l) }

// Finish marks the end of production: once the lines already sent are
// read, Next returns err, or io.EOF when err is nil. Only the first call
// counts.
func (s *Stream) Finish(err error) { s.p.Finish(err) }

// Next returns the next line; see ctrgate.LogStream.
func (s *Stream) Next() (ctrgate.LogLine, error) { return s.p.Next() }

// Close stops the stream and calls stop; idempotent.
func (s *Stream) Close() error { return s.p.Close() }

// Writer returns an io.WriteCloser that splits what is written into lines
// of the given stream and sends them. Close sends a final unterminated line,
// if any. Write fails with io.ErrClosedPipe once the stream is closed, so a
// copying producer stops.
func (s *Stream) Writer(stream ctrgate.Stream) io.WriteCloser {
	return &lineWriter{s: s, stream: stream}
}

// FollowWriter is Writer for a followed log: its Close sends a final
// unterminated line as a partial line (the line may go on in the log:
// Complete reads the rest).
func (s *Stream) FollowWriter(stream ctrgate.Stream) io.WriteCloser {
	return &lineWriter{s: s, stream: stream, follow: true}
}

type lineWriter struct {
	s      *Stream
	stream ctrgate.Stream
	buf    []byte
	follow bool
}

func (w *lineWriter) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			w.buf = append(w.buf, p...)
			break
		}
		line := append(w.buf, p[:i]...)
		w.buf = nil
		p = p[i+1:]
		line = bytes.TrimSuffix(line, []byte("\r"))
		if !w.s.Send(ctrgate.LogLine{Stream: w.stream, Text: string(line)}) {
			return n - len(p), io.ErrClosedPipe
		}
	}
	return n, nil
}

func (w *lineWriter) Close() error {
	if len(w.buf) > 0 {
		line := w.buf
		w.buf = nil
		if !w.s.Send(ctrgate.LogLine{Stream: w.stream, Text: string(line), Partial: w.follow}) {
			return io.ErrClosedPipe
		}
	}
	return nil
}

var _ ctrgate.LogStream = (*Stream)(nil)
