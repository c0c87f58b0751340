package ctrgate_test

import (
	"context"
	"errors"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/mock/gomock"

	"github.com/ctrgate/ctrgate"
	"github.com/ctrgate/ctrgate/ctrgatemock"
)

func newMock(t *testing.T) *ctrgatemock.MockContainerRuntime {
	return ctrgatemock.NewMockContainerRuntime(gomock.NewController(t))
}

func notFound(name string) error {
	return ctrgate.NewEngineError("mock", "inspect", name, ctrgate.ErrNotFound, "", nil, nil)
}

func TestRunStartsCreatedContainer(t *testing.T) {
	rt := newMock(t)
	spec := ctrgate.ContainerSpec{Name: "web", Image: "img"}
	gomock.InOrder(
		rt.EXPECT().Create(gomock.Any(), spec).Return("id1", nil),
		rt.EXPECT().Start(gomock.Any(), "id1").Return(nil),
	)
	id, err := ctrgate.Run(context.Background(), rt, spec)
	require.NoError(t, err)
	assert.Equal(t, "id1", id)
}

func TestRunCreateFailureTouchesNothingElse(t *testing.T) {
	rt := newMock(t)
	cerr := ctrgate.NewEngineError("mock", "create", "web", ctrgate.ErrAlreadyExists, "", nil, nil)
	rt.EXPECT().Create(gomock.Any(), gomock.Any()).Return("", cerr)
	_, err := ctrgate.Run(context.Background(), rt, ctrgate.ContainerSpec{Name: "web", Image: "img"})
	assert.ErrorIs(t, err, ctrgate.ErrAlreadyExists)
}

func TestRunRemovesEvenWhenContextCancelled(t *testing.T) {
	rt := newMock(t)
	ctx, cancel := context.WithCancel(context.Background())
	rt.EXPECT().Create(gomock.Any(), gomock.Any()).Return("id1", nil)
	rt.EXPECT().Start(gomock.Any(), "id1").DoAndReturn(func(ctx context.Context, _ string) error {
		cancel()
		return ctx.Err()
	})
	rt.EXPECT().Remove(gomock.Any(), "id1", ctrgate.RemoveOptions{Force: true, Volumes: true}).
		DoAndReturn(func(ctx context.Context, _ string, _ ctrgate.RemoveOptions) error {
			assert.NoError(t, ctx.Err(), "cleanup gets a live context")
			_, ok := ctx.Deadline()
			assert.True(t, ok, "cleanup context is bounded")
			return nil
		})
	_, err := ctrgate.Run(ctx, rt, ctrgate.ContainerSpec{Image: "img"})
	assert.ErrorIs(t, err, context.Canceled)
}

func TestIsRunningAndStateOf(t *testing.T) {
	rt := newMock(t)
	rt.EXPECT().Inspect(gomock.Any(), "up").Return(&ctrgate.Container{State: ctrgate.ContainerState{Status: ctrgate.StateRunning}}, nil).Times(2)
	rt.EXPECT().Inspect(gomock.Any(), "down").Return(&ctrgate.Container{State: ctrgate.ContainerState{Status: ctrgate.StateExited, ExitCode: 3}}, nil)
	rt.EXPECT().Inspect(gomock.Any(), "gone").Return(nil, notFound("gone"))
	ctx := context.Background()

	ok, err := ctrgate.IsRunning(ctx, rt, "up")
	require.NoError(t, err)
	assert.True(t, ok)
	ok, err = ctrgate.IsRunning(ctx, rt, "down")
	require.NoError(t, err)
	assert.False(t, ok)
	_, err = ctrgate.IsRunning(ctx, rt, "gone")
	assert.ErrorIs(t, err, ctrgate.ErrNotFound, "a missing container is an error, never false")

	st, err := ctrgate.StateOf(ctx, rt, "up")
	require.NoError(t, err)
	assert.Equal(t, ctrgate.StateRunning, st.Status)
}

func TestStatesByPrefix(t *testing.T) {
	rt := newMock(t)
	rt.EXPECT().List(gomock.Any(), ctrgate.ListFilter{NamePrefix: "job-", All: true}).Return([]ctrgate.Container{
		{Name: "job-1", State: ctrgate.ContainerState{Status: ctrgate.StateRunning}},
		{Name: "job-2", State: ctrgate.ContainerState{Status: ctrgate.StateExited, ExitCode: 1}},
	}, nil).Times(1)
	got, err := ctrgate.StatesByPrefix(context.Background(), rt, "job-")
	require.NoError(t, err)
	assert.Equal(t, map[string]ctrgate.ContainerState{
		"job-1": {Status: ctrgate.StateRunning},
		"job-2": {Status: ctrgate.StateExited, ExitCode: 1},
	}, got)
}

func TestStatesByPrefixEmptyAndFailure(t *testing.T) {
	rt := newMock(t)
	gomock.InOrder(
		rt.EXPECT().List(gomock.Any(), gomock.Any()).Return(nil, nil),
		rt.EXPECT().List(gomock.Any(), gomock.Any()).Return(nil,
			ctrgate.NewEngineError("mock", "list", "", ctrgate.ErrEngineUnavailable, "", nil, nil)),
	)
	got, err := ctrgate.StatesByPrefix(context.Background(), rt, "x")
	require.NoError(t, err)
	assert.NotNil(t, got)
	assert.Empty(t, got)

	got, err = ctrgate.StatesByPrefix(context.Background(), rt, "x")
	assert.ErrorIs(t, err, ctrgate.ErrEngineUnavailable, "a failed query is never 'no containers'")
	assert.Nil(t, got)
}

func TestRemoveAll(t *testing.T) {
	rt := newMock(t)
	opts := ctrgate.RemoveOptions{Force: true, Volumes: true}
	boom := errors.New("boom")
	gomock.InOrder(
		rt.EXPECT().Remove(gomock.Any(), "a", opts).Return(nil),
		rt.EXPECT().Remove(gomock.Any(), "b", opts).Return(notFound("b")),
		rt.EXPECT().Remove(gomock.Any(), "c", opts).Return(boom),
		rt.EXPECT().Remove(gomock.Any(), "d", opts).Return(nil),
	)
	res := ctrgate.RemoveAll(context.Background(), rt, []string{"a", "b", "c", "d"})
	require.Len(t, res, 4)
	for i, n := range []string{"a", "b", "c", "d"} {
		assert.Equal(t, n, res[i].Name)
	}
	assert.NoError(t, res[0].Err)
	assert.NoError(t, res[1].Err, "already gone counts as removed")
	assert.ErrorIs(t, res[2].Err, boom)
	assert.NoError(t, res[3].Err, "goes on after a failure")
	assert.ErrorIs(t, ctrgate.FirstError(res), boom)
	assert.NoError(t, ctrgate.FirstError(res[:2]))
	assert.Empty(t, ctrgate.RemoveAll(context.Background(), rt, nil))
}

// sliceStream is a LogStream over fixed lines; after them it ends with
// io.EOF, or blocks until ctx is done when block is set.
type sliceStream struct {
	ctx    context.Context
	lines  []ctrgate.LogLine
	block  bool
	mu     sync.Mutex
	closed bool
}

func (s *sliceStream) Next() (ctrgate.LogLine, error) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ctrgate.LogLine{}, io.EOF
	}
	if len(s.lines) > 0 {
		l := s.lines[0]
		s.lines = s.lines[1:]
		s.mu.Unlock()
		return l, nil
	}
	s.mu.Unlock()
	if s.block {
		<-s.ctx.Done()
		return ctrgate.LogLine{}, s.ctx.Err()
	}
	return ctrgate.LogLine{}, io.EOF
}

func (s *sliceStream) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	return nil
}

func lines(texts ...string) []ctrgate.LogLine {
	out := make([]ctrgate.LogLine, len(texts))
	for i, t := range texts {
		out[i] = ctrgate.LogLine{Stream: ctrgate.Stdout, Text: t}
	}
	return out
}

func TestWaitReadyMatch(t *testing.T) {
	rt := newMock(t)
	var stream *sliceStream
	rt.EXPECT().Logs(gomock.Any(), "svc", ctrgate.LogOptions{Follow: true}).
		DoAndReturn(func(ctx context.Context, _ string, _ ctrgate.LogOptions) (ctrgate.LogStream, error) {
			stream = &sliceStream{ctx: ctx, lines: lines("booting", "READY on 8080", "after"), block: true}
			return stream, nil
		})
	l, err := ctrgate.WaitReady(context.Background(), rt, "svc", ctrgate.MatchSubstring("READY"))
	require.NoError(t, err)
	assert.Equal(t, "READY on 8080", l.Text)
	assert.True(t, stream.closed, "the stream is closed")
}

func TestWaitReadyExited(t *testing.T) {
	rt := newMock(t)
	rt.EXPECT().Logs(gomock.Any(), "job", gomock.Any()).
		DoAndReturn(func(ctx context.Context, _ string, _ ctrgate.LogOptions) (ctrgate.LogStream, error) {
			return &sliceStream{ctx: ctx, lines: lines("failing")}, nil
		})
	rt.EXPECT().Wait(gomock.Any(), "job").Return(3, nil)
	_, err := ctrgate.WaitReady(context.Background(), rt, "job", ctrgate.MatchSubstring("READY"))
	assert.ErrorIs(t, err, ctrgate.ErrNotRunning)
	var xe *ctrgate.ExitedError
	require.ErrorAs(t, err, &xe)
	assert.Equal(t, 3, xe.ExitCode)
	assert.Equal(t, "job", xe.Name)
}

func TestWaitReadyDeadline(t *testing.T) {
	rt := newMock(t)
	rt.EXPECT().Logs(gomock.Any(), "slow", gomock.Any()).
		DoAndReturn(func(ctx context.Context, _ string, _ ctrgate.LogOptions) (ctrgate.LogStream, error) {
			return &sliceStream{ctx: ctx, lines: lines("not yet"), block: true}, nil
		})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := ctrgate.WaitReady(ctx, rt, "slow", ctrgate.MatchSubstring("READY"))
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Less(t, time.Since(start), 5*time.Second)
}

func TestWaitReadyLogsError(t *testing.T) {
	rt := newMock(t)
	rt.EXPECT().Logs(gomock.Any(), "gone", gomock.Any()).Return(nil, notFound("gone"))
	_, err := ctrgate.WaitReady(context.Background(), rt, "gone", ctrgate.MatchSubstring("x"))
	assert.ErrorIs(t, err, ctrgate.ErrNotFound)
}
