package ctrgate_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/mock/gomock"

	"github.com/ctrgate/ctrgate"
)

// lingering makes a mock call ignore its context for d before returning.
func lingering(d time.Duration) func(context.Context, ...any) {
	return func(context.Context, ...any) { time.Sleep(d) }
}

func TestEnforceReturnsAtTheDeadline(t *testing.T) {
	drv := newMock(t)
	drv.EXPECT().Inspect(gomock.Any(), "c").DoAndReturn(func(ctx context.Context, _ string) (*ctrgate.Container, error) {
		time.Sleep(600 * time.Millisecond) // a driver that retries with sleeps that ignore ctx
		return nil, ctx.Err()
	})
	drv.EXPECT().Close().Return(nil)
	rt := ctrgate.Enforce("mock", drv)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	began := time.Now()
	_, err := rt.Inspect(ctx, "c")
	late := time.Since(began) - 100*time.Millisecond
	t.Logf("returned %v after the deadline (the driver lingered 500 ms more)", late)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	var ee *ctrgate.EngineError
	require.ErrorAs(t, err, &ee)
	assert.Equal(t, ctrgate.OpInspect, ee.Op)
	assert.Equal(t, "mock", ee.Backend)
	assert.Equal(t, "c", ee.Target)
	assert.Less(t, late, 300*time.Millisecond, "the call returns at its deadline, not when the driver gives up")
	require.NoError(t, rt.Close(), "Close waits for the lingering driver call (goleak checks it)")
}

func TestEnforceRemovesWhatIsCreatedAfterTheDeadline(t *testing.T) {
	drv := newMock(t)
	removed := make(chan struct{})
	spec := ctrgate.ContainerSpec{Name: "late", Image: "img"}
	drv.EXPECT().Create(gomock.Any(), spec).Do(lingering(300*time.Millisecond)).Return("id-late", nil)
	drv.EXPECT().Remove(gomock.Any(), "id-late", ctrgate.RemoveOptions{Force: true, Volumes: true}).
		Do(func(context.Context, string, ctrgate.RemoveOptions) { close(removed) }).Return(nil)
	drv.EXPECT().Close().Return(nil)
	rt := ctrgate.Enforce("mock", drv)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	id, err := rt.Create(ctx, spec)
	assert.Empty(t, id)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	select {
	case <-removed:
	case <-time.After(5 * time.Second):
		t.Fatal("the container the driver created after the caller's deadline was not removed")
	}
	require.NoError(t, rt.Close())
}

func TestEnforceKeepsAResultThatCameInTime(t *testing.T) {
	drv := newMock(t)
	drv.EXPECT().Wait(gomock.Any(), "c").Return(3, nil)
	drv.EXPECT().Close().Return(nil)
	rt := ctrgate.Enforce("mock", drv)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	code, err := rt.Wait(ctx, "c")
	require.NoError(t, err)
	assert.Equal(t, 3, code)
	require.NoError(t, rt.Close())
}

func TestEnforceChecksBeforeTheDriver(t *testing.T) {
	drv := newMock(t) // any call of the driver fails the test
	drv.EXPECT().Close().Return(nil)
	rt := ctrgate.Enforce("mock", drv)
	ctx := context.Background()
	for what, err := range map[string]error{
		"Inspect of a flag":       func() error { _, err := rt.Inspect(ctx, "--all"); return err }(),
		"Create without an image": func() error { _, err := rt.Create(ctx, ctrgate.ContainerSpec{Name: "x"}); return err }(),
		"Kill with no signal":     rt.Kill(ctx, "c", "SIGNOPE"),
		"List with a bad prefix":  func() error { _, err := rt.List(ctx, ctrgate.ListFilter{NamePrefix: "-a"}); return err }(),
		"Exec without a command":  func() error { _, err := rt.Exec(ctx, "c", ctrgate.ExecOptions{}); return err }(),
		"Exec with a NUL":         func() error { _, err := rt.Exec(ctx, "c", ctrgate.ExecOptions{Cmd: []string{"a\x00"}}); return err }(),
		"CopyTo without a dir":    rt.CopyTo(ctx, "c", "", nil),
		"CopyFrom without a path": func() error { _, err := rt.CopyFrom(ctx, "c", ""); return err }(),
		"Pull with a bad policy":  rt.PullImage(ctx, "img", ctrgate.PullPolicy("sometimes")),
		"Import without a rootfs": rt.ImportImage(ctx, "img", nil, ctrgate.ImportOptions{}),
		"Import with a bad env":   rt.ImportImage(ctx, "img", strings.NewReader(""), ctrgate.ImportOptions{Env: []string{"NOVALUE"}}),
		"Logs with a bad tail":    func() error { _, err := rt.Logs(ctx, "c", ctrgate.LogOptions{Tail: -1}); return err }(),
		"Events with a bad prefix": func() error {
			_, err := rt.Events(ctx, ctrgate.EventFilter{NamePrefix: "-x"})
			return err
		}(),
	} {
		assert.ErrorIs(t, err, ctrgate.ErrInvalidSpec, what)
	}
	require.NoError(t, rt.Close())
}

func TestEnforceAfterClose(t *testing.T) {
	drv := newMock(t)
	drv.EXPECT().Close().Return(nil).Times(1)
	rt := ctrgate.Enforce("mock", drv)
	require.NoError(t, rt.Close())
	require.NoError(t, rt.Close(), "a second Close does not reach the driver")
	_, err := rt.Info(context.Background())
	assert.ErrorIs(t, err, ctrgate.ErrEngineUnavailable)
	var ee *ctrgate.EngineError
	require.ErrorAs(t, err, &ee)
	assert.Equal(t, ctrgate.OpInfo, ee.Op)
	assert.Equal(t, "mock", ee.Backend)
}

func TestEnforceStampsDriverErrors(t *testing.T) {
	drv := newMock(t)
	plain := errors.New("engine said no")
	drv.EXPECT().Start(gomock.Any(), "c").Return(plain)
	drv.EXPECT().Close().Return(nil)
	rt := ctrgate.Enforce("mock", drv)
	err := rt.Start(context.Background(), "c")
	assert.ErrorIs(t, err, plain)
	var ee *ctrgate.EngineError
	require.ErrorAs(t, err, &ee, "a driver's plain error becomes an *EngineError")
	assert.Equal(t, ctrgate.OpStart, ee.Op)
	assert.Equal(t, "mock", ee.Backend)
	assert.Same(t, rt, ctrgate.Enforce("other", rt), "Enforce of the layer is the layer")
	assert.Same(t, drv, ctrgate.DriverOf(rt), "DriverOf gives the driver")
	require.NoError(t, rt.Close())
}

// inspectOnly is a driver whose Inspect answers at once (its other methods
// are never called).
type inspectOnly struct{ ctrgate.ContainerRuntime }

func (inspectOnly) Inspect(context.Context, string) (*ctrgate.Container, error) {
	return &ctrgate.Container{Name: "c"}, nil
}

// BenchmarkEnforce measures what the contract layer adds to a call: the
// driver alone, the layer with a context that cannot end (a direct call),
// and with one that can (the driver runs in a goroutine of its own).
func BenchmarkEnforce(b *testing.B) {
	drv := inspectOnly{}
	rt := ctrgate.Enforce("bench", drv)
	ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
	defer cancel()
	for _, c := range []struct {
		name string
		rt   ctrgate.ContainerRuntime
		ctx  context.Context
	}{{"driver", drv, context.Background()}, {"layer-background", rt, context.Background()}, {"layer-deadline", rt, ctx}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.rt.Inspect(c.ctx, "c"); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
