package pipe_test

import (
	"context"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/ctrgate/ctrgate/pipe"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func readAll[T any](t *testing.T, p *pipe.Pipe[T]) ([]T, error) {
	t.Helper()
	var out []T
	for {
		v, err := p.Next()
		if err != nil {
			return out, err
		}
		out = append(out, v)
	}
}

func TestValuesInOrderThenEOF(t *testing.T) {
	p := pipe.New[int](context.Background(), nil)
	defer p.Close()
	const n = 1000 // more than the buffer: the producer blocks and resumes
	go func() {
		for i := range n {
			if !p.Send(i) {
				return
			}
		}
		p.Finish(nil)
	}()
	got, err := readAll(t, p)
	require.ErrorIs(t, err, io.EOF)
	require.Len(t, got, n)
	for i, v := range got {
		require.Equal(t, i, v)
	}
	_, err = p.Next()
	assert.ErrorIs(t, err, io.EOF, "Next keeps saying EOF")
}

func TestFinishErrorAfterValues(t *testing.T) {
	p := pipe.New[string](context.Background(), nil)
	boom := errors.New("boom")
	require.True(t, p.Send("a"))
	require.True(t, p.Send("b"))
	p.Finish(boom)
	p.Finish(nil) // only the first call counts
	got, err := readAll(t, p)
	assert.ErrorIs(t, err, boom)
	assert.Equal(t, []string{"a", "b"}, got, "values sent before Finish come first")
	_, err = p.Next()
	assert.ErrorIs(t, err, boom, "Next keeps returning Finish's error")
	require.NoError(t, p.Close())
}

func TestFinishedChannel(t *testing.T) {
	p := pipe.New[int](context.Background(), nil)
	defer p.Close()
	select {
	case <-p.Finished():
		t.Fatal("Finished closed before Finish")
	default:
	}
	p.Finish(nil)
	select {
	case <-p.Finished():
	case <-time.After(5 * time.Second):
		t.Fatal("Finished not closed by Finish")
	}
}

func TestCloseStopsProducerAndCallsStop(t *testing.T) {
	stops := 0
	stopped := make(chan struct{})
	p := pipe.New[int](context.Background(), func() { stops++; close(stopped) })
	done := make(chan int)
	go func() {
		sent := 0
		for p.Send(sent) {
			sent++
		}
		done <- sent
	}()
	v, err := p.Next()
	require.NoError(t, err)
	assert.Equal(t, 0, v)
	require.NoError(t, p.Close())
	require.NoError(t, p.Close(), "Close is idempotent")
	<-stopped
	assert.Greater(t, <-done, 0)
	assert.Equal(t, 1, stops, "stop is called once")
	_, err = p.Next()
	assert.ErrorIs(t, err, io.EOF)
	assert.False(t, p.Send(1), "Send after Close")
	assert.False(t, p.SendContext(context.Background(), 1), "SendContext after Close")
}

func TestCloseWinsOverBufferedValuesAndFinish(t *testing.T) {
	p := pipe.New[int](context.Background(), nil)
	require.True(t, p.Send(1))
	p.Finish(errors.New("boom"))
	require.NoError(t, p.Close())
	_, err := p.Next()
	assert.ErrorIs(t, err, io.EOF)
}

func TestContextCancelEndsNextAndSend(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	p := pipe.New[int](ctx, nil, pipe.Buffer(0))
	defer p.Close()
	cancel()
	_, err := p.Next()
	assert.ErrorIs(t, err, context.Canceled)
	assert.Equal(t, context.Canceled, err, "without an option, the bare ctx error")
	assert.False(t, p.Send(1))
}

func TestPrefix(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	p := pipe.New[int](ctx, nil, pipe.Prefix("events"))
	defer p.Close()
	cancel()
	_, err := p.Next()
	require.ErrorIs(t, err, context.Canceled)
	assert.Equal(t, "events: context canceled", err.Error())
}

type myErr struct{ cause error }

func (e *myErr) Error() string { return "mine: " + e.cause.Error() }
func (e *myErr) Unwrap() error { return e.cause }

func TestCtxError(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Millisecond)
	defer cancel()
	p := pipe.New[int](ctx, nil, pipe.CtxError(func(c context.Context) error {
		return &myErr{cause: c.Err()}
	}))
	defer p.Close()
	_, err := p.Next()
	var me *myErr
	require.ErrorAs(t, err, &me)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
}

func TestCtxErrorFirst(t *testing.T) {
	boom := errors.New("boom")
	for _, finishErr := range []error{nil, boom} {
		ctx, cancel := context.WithCancel(context.Background())
		p := pipe.New[int](ctx, nil, pipe.Prefix("events"), pipe.CtxErrorFirst())
		p.Finish(finishErr)
		cancel()
		for range 50 { // without the option the outcome would be random
			_, err := p.Next()
			require.ErrorIs(t, err, context.Canceled)
			require.NotErrorIs(t, err, boom)
		}
		require.NoError(t, p.Close())
	}
}

func TestFinishOutcomeWhenContextLive(t *testing.T) {
	boom := errors.New("boom")
	p := pipe.New[int](context.Background(), nil, pipe.CtxErrorFirst())
	defer p.Close()
	require.True(t, p.Send(7))
	p.Finish(boom)
	v, err := p.Next()
	require.NoError(t, err)
	assert.Equal(t, 7, v)
	_, err = p.Next()
	assert.ErrorIs(t, err, boom)
}

func TestBufferZeroBlocksSendUntilNext(t *testing.T) {
	p := pipe.New[int](context.Background(), nil, pipe.Buffer(0))
	defer p.Close()
	sent := make(chan bool)
	go func() { sent <- p.Send(1) }()
	select {
	case <-sent:
		t.Fatal("Send returned with no reader and no buffer")
	case <-time.After(50 * time.Millisecond):
	}
	v, err := p.Next()
	require.NoError(t, err)
	assert.Equal(t, 1, v)
	assert.True(t, <-sent)
}

func TestSendContextGivesUpWithItsContext(t *testing.T) {
	p := pipe.New[int](context.Background(), nil, pipe.Buffer(0))
	defer p.Close()
	ctx, cancel := context.WithCancel(context.Background())
	res := make(chan bool)
	go func() { res <- p.SendContext(ctx, 1) }()
	cancel()
	assert.False(t, <-res)
	// the pipe itself is unaffected
	go func() { res <- p.SendContext(context.Background(), 2) }()
	v, err := p.Next()
	require.NoError(t, err)
	assert.Equal(t, 2, v)
	assert.True(t, <-res)
}
