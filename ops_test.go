package ctrgate_test

import (
	"archive/tar"
	"bytes"
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

func TestLabelFilters(t *testing.T) {
	assert.Equal(t, []string{"a=1", "b", "c=x=y"},
		ctrgate.LabelFilters(map[string]string{"c": "x=y", "a": "1", "b": ""}),
		"sorted by key; an empty value filters on the key alone")
	assert.Empty(t, ctrgate.LabelFilters(nil))
}

func TestApplyPullPolicy(t *testing.T) {
	ctx := context.Background()
	boom := errors.New("boom")
	for _, tc := range []struct {
		policy  ctrgate.PullPolicy
		present bool
		pulled  bool
		wantErr error
	}{
		{ctrgate.PullNever, true, false, nil},
		{ctrgate.PullNever, false, false, ctrgate.ErrImageNotFound},
		{ctrgate.PullMissing, true, false, nil},
		{ctrgate.PullMissing, false, true, nil},
		{"", false, true, nil},
		{ctrgate.PullAlways, true, true, nil},
	} {
		pulled := false
		err := ctrgate.ApplyPullPolicy(ctx, "test", "img", tc.policy,
			func(context.Context, string) (bool, error) { return tc.present, nil },
			func(context.Context) error { pulled = true; return nil })
		if tc.wantErr != nil {
			assert.ErrorIs(t, err, tc.wantErr, "%s present=%v", tc.policy, tc.present)
		} else {
			assert.NoError(t, err, "%s present=%v", tc.policy, tc.present)
		}
		assert.Equal(t, tc.pulled, pulled, "%s present=%v: pulled", tc.policy, tc.present)
	}
	err := ctrgate.ApplyPullPolicy(ctx, "test", "img", ctrgate.PullMissing,
		func(context.Context, string) (bool, error) {
			return false, ctrgate.NewEngineError("test", ctrgate.OpImageExists, "img", nil, "", boom, nil)
		},
		func(context.Context) error { t.Fatal("must not pull when the check failed"); return nil })
	assert.ErrorIs(t, err, boom, "a failed check is an error, not 'absent'")
	var ee *ctrgate.EngineError
	require.ErrorAs(t, err, &ee)
	assert.Equal(t, ctrgate.OpPullImage, ee.Op)
}

func TestRetryImageListing(t *testing.T) {
	ctx := context.Background()
	calls := 0
	got, err := ctrgate.RetryImageListing(ctx, func() (int, error) {
		calls++
		if calls < 3 {
			return 0, ctrgate.NewEngineError("podman-api", ctrgate.OpListImages, "", ctrgate.ErrImageNotFound, "image not known", nil, nil)
		}
		return 42, nil
	})
	require.NoError(t, err)
	assert.Equal(t, 42, got)
	assert.Equal(t, 3, calls, "retried while an image vanished during the listing")

	calls = 0
	boom := errors.New("boom")
	_, err = ctrgate.RetryImageListing(ctx, func() (int, error) { calls++; return 0, boom })
	assert.ErrorIs(t, err, boom)
	assert.Equal(t, 1, calls, "other errors return at once")

	calls = 0
	race := errors.New(`retrieving parent of image "6a": locating item named "manifest" for image with ID "3f": file does not exist`)
	got, err = ctrgate.RetryImageListing(ctx, func() (int, error) {
		calls++
		if calls == 1 {
			return 0, race
		}
		return 7, nil
	})
	require.NoError(t, err)
	assert.Equal(t, 7, got, "Podman's other words for an image removed during the listing")

	calls = 0
	_, err = ctrgate.RetryImageListing(ctx, func() (int, error) { calls++; return 0, ctrgate.ErrImageNotFound })
	assert.ErrorIs(t, err, ctrgate.ErrImageNotFound)
	assert.Equal(t, 8, calls, "bounded")
}

func TestFilterImages(t *testing.T) {
	imgs := ctrgate.FilterImages([]ctrgate.Image{
		{ID: "sha256:bb", Refs: []string{"b:1", "<none>:<none>"}},
		{ID: "aa", Refs: []string{"a:2", "a@sha256:00", "a:1"}, Labels: map[string]string{"k": "v"}},
		{ID: "aa", Refs: []string{"a:1", "a:3"}, Labels: map[string]string{"k": "v"}},
	}, ctrgate.ImageFilter{})
	require.Len(t, imgs, 2)
	assert.Equal(t, "aa", imgs[0].ID)
	assert.Equal(t, []string{"a:1", "a:2", "a:3"}, imgs[0].Refs)
	assert.Equal(t, "bb", imgs[1].ID)
	assert.Equal(t, []string{"b:1"}, imgs[1].Refs)
	assert.Len(t, ctrgate.FilterImages(imgs, ctrgate.ImageFilter{RefPrefix: "a:"}), 1)
	assert.Empty(t, ctrgate.FilterImages(imgs, ctrgate.ImageFilter{RefPrefix: "a."}), "literal prefix")
	assert.Len(t, ctrgate.FilterImages(imgs, ctrgate.ImageFilter{Labels: map[string]string{"k": ""}}), 1)
}

func TestEngineImageLabelFilters(t *testing.T) {
	got := ctrgate.EngineImageLabelFilters(ctrgate.ImageFilter{Labels: map[string]string{"b": "x,y", "a": "1", "c": ""}})
	assert.Equal(t, []string{"a=1", "c"}, got, "a value with a comma is left to FilterImages")
}

func TestRetryEmptyArchive(t *testing.T) {
	ctx := context.Background()
	var full bytes.Buffer
	tw := tar.NewWriter(&full)
	require.NoError(t, tw.WriteHeader(&tar.Header{Name: "out.txt", Mode: 0o644, Size: 2}))
	_, err := tw.Write([]byte("hi"))
	require.NoError(t, err)
	require.NoError(t, tw.Close())
	var empty bytes.Buffer
	require.NoError(t, tar.NewWriter(&empty).Close()) // end-of-archive blocks only

	for _, first := range [][]byte{nil, empty.Bytes()} {
		calls := 0
		rc, err := ctrgate.RetryEmptyArchive(ctx, func() (io.ReadCloser, error) {
			calls++
			if calls < 3 {
				return io.NopCloser(bytes.NewReader(first)), nil
			}
			return io.NopCloser(bytes.NewReader(full.Bytes())), nil
		})
		require.NoError(t, err)
		got, err := io.ReadAll(rc)
		require.NoError(t, err)
		require.NoError(t, rc.Close())
		assert.Equal(t, full.Bytes(), got, "the stream starts at the archive's first byte")
		assert.Equal(t, 3, calls, "an empty archive (%d bytes) is asked again", len(first))
	}

	calls := 0
	rc, err := ctrgate.RetryEmptyArchive(ctx, func() (io.ReadCloser, error) {
		calls++
		return io.NopCloser(bytes.NewReader(empty.Bytes())), nil
	})
	require.NoError(t, err)
	require.NoError(t, rc.Close())
	assert.Equal(t, 5, calls, "bounded: the last answer is returned")

	boom := errors.New("boom")
	_, err = ctrgate.RetryEmptyArchive(ctx, func() (io.ReadCloser, error) { return nil, boom })
	assert.ErrorIs(t, err, boom)
}

func TestRetryTransientWait(t *testing.T) {
	transient := errors.New(`read /proc/4242/cgroup: no such process`)
	n := 0
	code, err := ctrgate.RetryTransientWait(context.Background(), func() (int, error) {
		if n++; n < 3 {
			return 0, transient
		}
		return 7, nil
	})
	require.NoError(t, err)
	assert.Equal(t, 7, code)
	assert.Equal(t, 3, n, "waited again twice")

	n = 0
	gone := ctrgate.NewEngineError("mock", ctrgate.OpWait, "c", ctrgate.ErrNotFound, "no such process group", nil, nil)
	_, err = ctrgate.RetryTransientWait(context.Background(), func() (int, error) { n++; return 0, gone })
	assert.ErrorIs(t, err, ctrgate.ErrNotFound)
	assert.Equal(t, 1, n, "an error a sentinel explains is not waited out")

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	n = 0
	_, err = ctrgate.RetryTransientWait(ctx, func() (int, error) { n++; return 0, transient })
	assert.ErrorIs(t, err, transient)
	assert.Equal(t, 1, n, "not again once ctx is done")
}
