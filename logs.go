package ctrgate

import (
	"context"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"time"

	"github.com/ctrgate/ctrgate/redact"
)

// Stream tells a container's standard output from its standard error.
type Stream int

// Output streams.
const (
	Stdout Stream = 1
	Stderr Stream = 2
)

func (s Stream) String() string {
	switch s {
	case Stdout:
		return "stdout"
	case Stderr:
		return "stderr"
	}
	return fmt.Sprintf("stream(%d)", int(s))
}

// LogLine is one line of container output, without its line terminator,
// or, when Partial is set, a piece of one.
//
// A followed log does not hold back text that has no newline yet: when
// such text has stayed unterminated for PartialIdle (a prompt such as
// "Ready> ", or "printf READY" followed by a long sleep), it is delivered
// as a LogLine with Partial set. The line goes on in the next LogLines of
// the same Stream: every piece up to and including the first one without
// Partial belongs to it (that last piece may be empty: the newline came
// later). To get whole lines, concatenate the Text of the pieces of a
// stream until a piece without Partial (LineJoiner does); a log that ends
// after a partial piece ends with that unterminated line. Lines of the
// other stream may come between the pieces. Plain (not followed) reads
// deliver whole lines only.
type LogLine struct {
	Stream  Stream
	Text    string
	Time    time.Time // when the engine recorded it; zero if unknown
	Partial bool      // Text is a piece of a line that goes on in the next piece of Stream
}

// PartialIdle is how long unterminated text of a followed log waits for
// its newline before it is delivered as a partial LogLine.
const PartialIdle = 100 * time.Millisecond

// LineJoiner puts the pieces of partial lines back together: feed it every
// LogLine of a stream in order; it returns whole lines.
type LineJoiner struct {
	pending [3]*LogLine // by Stream
}

// Add takes the next LogLine and returns the whole line it completes (ok),
// or ok == false when l is a partial piece and the line goes on. The whole
// line has the Time of its first piece and Partial unset.
func (j *LineJoiner) Add(l LogLine) (line LogLine, ok bool) {
	i := joinIndex(l.Stream)
	p := j.pending[i]
	if p != nil {
		p.Text += l.Text
	} else {
		c := l
		p = &c
	}
	if l.Partial {
		j.pending[i] = p
		return LogLine{}, false
	}
	j.pending[i] = nil
	line = *p
	line.Partial = false
	return line, true
}

// Pending returns the text of stream's line in progress so far (its
// pieces joined), and whether there is one.
func (j *LineJoiner) Pending(stream Stream) (LogLine, bool) {
	if p := j.pending[joinIndex(stream)]; p != nil {
		return *p, true
	}
	return LogLine{}, false
}

// Flush returns the lines still in progress (a log that ended after a
// partial piece), stdout's first, and forgets them.
func (j *LineJoiner) Flush() []LogLine {
	var out []LogLine
	for _, i := range []int{1, 2, 0} {
		if p := j.pending[i]; p != nil {
			l := *p
			l.Partial = false
			out = append(out, l)
			j.pending[i] = nil
		}
	}
	return out
}

func joinIndex(s Stream) int {
	if s == Stdout || s == Stderr {
		return int(s)
	}
	return 0
}

// LogStream is a sequence of log lines. Next and Close may be called from
// different goroutines; Next is not safe for concurrent use with itself.
type LogStream interface {
	// Next blocks until the next line. It returns io.EOF at the end of the
	// log, and ctx.Err() (wrapped) when the Logs context is done.
	Next() (LogLine, error)
	// Close stops the stream and releases everything behind it (processes,
	// connections, goroutines). It is idempotent; Next then returns io.EOF.
	Close() error
}

// WaitReady follows the container's logs until match accepts a line, and
// returns that line. It returns as soon as the line arrives. A line still
// without a newline counts too: match is also given the text of a line in
// progress each time a partial piece of it arrives (its pieces joined, see
// LogLine), and a match returns that text with Partial set; so a prompt
// such as "Ready> " or "printf READY" followed by a long sleep is seen
// while the container runs. If the container exits first, the error is an
// *ExitedError carrying its exit code and its last lines (up to
// ExitedLines, redacted; errors.Is(err, ErrNotRunning)). Output written
// before the call is examined too.
func WaitReady(ctx context.Context, rt ContainerRuntime, name string, match func(LogLine) bool) (LogLine, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	s, err := rt.Logs(ctx, name, LogOptions{Follow: true})
	if err != nil {
		return LogLine{}, err
	}
	defer s.Close()
	var (
		j    LineJoiner
		last []LogLine
	)
	keep := func(l LogLine) {
		if len(l.Text) > exitedLineMax {
			l.Text = l.Text[:exitedLineMax] + "..."
		}
		last = append(last, l)
		if len(last) > ExitedLines {
			last = last[1:]
		}
	}
	for {
		l, err := s.Next()
		if err == nil {
			whole, ok := j.Add(l)
			if !ok {
				if p, _ := j.Pending(l.Stream); match(p) {
					p.Partial = true
					return p, nil
				}
				continue
			}
			if match(whole) {
				return whole, nil
			}
			keep(whole)
			continue
		}
		if !errors.Is(err, io.EOF) {
			return LogLine{}, err
		}
		if ctx.Err() != nil {
			return LogLine{}, fmt.Errorf("waiting for %s to be ready: %w", name, ctx.Err())
		}
		for _, l := range j.Flush() {
			if match(l) {
				return l, nil
			}
			keep(l)
		}
		code, werr := rt.Wait(ctx, name)
		if werr != nil {
			return LogLine{}, werr
		}
		for i := range last { // redacted once, at the end
			last[i].Text = redact.Text(last[i].Text, nil)
		}
		return LogLine{}, &ExitedError{Name: name, ExitCode: code, LastLines: last}
	}
}

// ExitedLines is how many of a container's last lines an *ExitedError of
// WaitReady carries; longer lines are cut at 512 bytes.
const ExitedLines = 20

const exitedLineMax = 512

// MatchSubstring returns a WaitReady predicate that accepts a line (on
// either stream) containing marker.
func MatchSubstring(marker string) func(LogLine) bool {
	return func(l LogLine) bool { return strings.Contains(l.Text, marker) }
}

// MatchRegexp returns a WaitReady predicate that accepts a line (on either
// stream) matching re.
func MatchRegexp(re *regexp.Regexp) func(LogLine) bool {
	return func(l LogLine) bool { return re.MatchString(l.Text) }
}
