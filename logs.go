package ctrgate

import (
	"context"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"time"
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

// LogLine is one line of container output, without its line terminator.
type LogLine struct {
	Stream Stream
	Text   string
	Time   time.Time // when the engine recorded it; zero if unknown
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
// returns that line. It returns as soon as the line arrives. If the
// container exits first, the error is an *ExitedError carrying its exit
// code (errors.Is(err, ErrNotRunning)). Output written before the call is
// examined too.
func WaitReady(ctx context.Context, rt ContainerRuntime, name string, match func(LogLine) bool) (LogLine, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	s, err := rt.Logs(ctx, name, LogOptions{Follow: true})
	if err != nil {
		return LogLine{}, err
	}
	defer s.Close()
	for {
		l, err := s.Next()
		if err == nil {
			if match(l) {
				return l, nil
			}
			continue
		}
		if !errors.Is(err, io.EOF) {
			return LogLine{}, err
		}
		if ctx.Err() != nil {
			return LogLine{}, fmt.Errorf("waiting for %s to be ready: %w", name, ctx.Err())
		}
		code, werr := rt.Wait(ctx, name)
		if werr != nil {
			return LogLine{}, werr
		}
		return LogLine{}, &ExitedError{Name: name, ExitCode: code}
	}
}

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
