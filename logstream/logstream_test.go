package logstream_test

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/ctrgate/ctrgate"
	"github.com/ctrgate/ctrgate/logstream"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func readAll(t *testing.T, s ctrgate.LogStream) ([]ctrgate.LogLine, error) {
	t.Helper()
	var out []ctrgate.LogLine
	for {
		l, err := s.Next()
		if err != nil {
			return out, err
		}
		out = append(out, l)
	}
}

func TestLinesSplitAcrossWritesAndFinalLineWithoutNewline(t *testing.T) {
	s := logstream.New(context.Background(), "test", "c", nil)
	defer s.Close()
	long := strings.Repeat("x", 1<<20)
	go func() {
		out, errw := s.Writer(ctrgate.Stdout), s.Writer(ctrgate.Stderr)
		io.WriteString(out, "hel")
		io.WriteString(out, "lo\r\nwor")
		io.WriteString(errw, "oops\n")
		io.WriteString(out, "ld\n"+long+"\nlast")
		out.Close()
		errw.Close()
		s.Finish(nil)
	}()
	lines, err := readAll(t, s)
	require.ErrorIs(t, err, io.EOF)
	var stdout []string
	for _, l := range lines {
		if l.Stream == ctrgate.Stdout {
			stdout = append(stdout, l.Text)
		} else {
			assert.Equal(t, "oops", l.Text)
		}
	}
	assert.Equal(t, []string{"hello", "world", long, "last"}, stdout)
}

func TestFinishErrorAfterLines(t *testing.T) {
	s := logstream.New(context.Background(), "test", "c", nil)
	boom := errors.New("boom")
	s.Send(ctrgate.LogLine{Text: "a"})
	s.Finish(boom)
	lines, err := readAll(t, s)
	assert.ErrorIs(t, err, boom)
	assert.Len(t, lines, 1)
	require.NoError(t, s.Close())
}

func TestCloseStopsProducerAndCallsStop(t *testing.T) {
	stopped := make(chan struct{})
	s := logstream.New(context.Background(), "test", "c", func() { close(stopped) })
	done := make(chan error)
	go func() {
		w := s.Writer(ctrgate.Stdout)
		for {
			if _, err := io.WriteString(w, "line\n"); err != nil {
				done <- err
				return
			}
		}
	}()
	_, err := s.Next()
	require.NoError(t, err)
	require.NoError(t, s.Close())
	require.NoError(t, s.Close(), "Close is idempotent")
	<-stopped
	assert.ErrorIs(t, <-done, io.ErrClosedPipe)
	_, err = s.Next()
	assert.ErrorIs(t, err, io.EOF)
}

func TestContextCancelEndsNext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	s := logstream.New(ctx, "test", "c", nil)
	defer s.Close()
	cancel()
	_, err := s.Next()
	require.ErrorIs(t, err, context.Canceled)
	var ee *ctrgate.EngineError
	require.ErrorAs(t, err, &ee, "the context's end is an error of the Logs call")
	assert.Equal(t, ctrgate.OpLogs, ee.Op)
	assert.Equal(t, "test", ee.Backend)
	assert.Equal(t, "c", ee.Target)
	assert.Contains(t, err.Error(), "logs: context canceled")
}
