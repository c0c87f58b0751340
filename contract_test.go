package ctrgate_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/mock/gomock"

	"github.com/ctrgate/ctrgate"
	"github.com/ctrgate/ctrgate/ctrgatemock"
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

func TestEnforceDefaultTimeout(t *testing.T) {
	drv := newMock(t)
	release := make(chan struct{})
	drv.EXPECT().Inspect(gomock.Any(), "c").DoAndReturn(func(context.Context, string) (*ctrgate.Container, error) {
		<-release // a driver that ignores its context
		return &ctrgate.Container{}, nil
	})
	drv.EXPECT().Close().Return(nil)
	rt := ctrgate.Enforce("mock", drv, ctrgate.WithCallTimeout(100*time.Millisecond))
	assert.Equal(t, 100*time.Millisecond, rt.CallTimeout())
	began := time.Now()
	_, err := rt.Inspect(context.Background(), "c")
	took := time.Since(began)
	close(release)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.ErrorIs(t, err, ctrgate.ErrEngineUnavailable, "no answer in time: the engine is unavailable")
	assertOp(t, err, ctrgate.OpInspect)
	assert.Contains(t, err.Error(), "call timeout (100ms)")
	assert.Less(t, took, time.Second, "returned after %v", took)
	require.NoError(t, rt.Close())

	// a driver that honours its context: the same error
	drv2 := newMock(t)
	drv2.EXPECT().Inspect(gomock.Any(), "c").DoAndReturn(func(ctx context.Context, _ string) (*ctrgate.Container, error) {
		<-ctx.Done()
		return nil, ctrgate.NewEngineError("mock", ctrgate.OpInspect, "c", nil, "", ctx.Err(), nil)
	})
	drv2.EXPECT().Close().Return(nil)
	rt2 := ctrgate.Enforce("mock", drv2, ctrgate.WithCallTimeout(50*time.Millisecond))
	_, err = rt2.Inspect(context.Background(), "c")
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Contains(t, err.Error(), "call timeout (50ms)")
	require.NoError(t, rt2.Close())

	assert.Equal(t, ctrgate.DefaultCallTimeout, ctrgate.Enforce("mock", newMock(t)).CallTimeout())
	assert.Zero(t, ctrgate.Enforce("mock", newMock(t), ctrgate.WithCallTimeout(-1)).CallTimeout())
}

func TestEnforceDefaultTimeoutSpares(t *testing.T) {
	drv := newMock(t)
	rt := ctrgate.Enforce("mock", drv, ctrgate.WithCallTimeout(50*time.Millisecond))
	// Wait has none: it waits for an exit by design.
	drv.EXPECT().Wait(gomock.Any(), "c").DoAndReturn(func(ctx context.Context, _ string) (int, error) {
		time.Sleep(150 * time.Millisecond)
		return 7, ctx.Err()
	})
	code, err := rt.Wait(context.Background(), "c")
	require.NoError(t, err)
	assert.Equal(t, 7, code)
	// Stop gets its grace period on top.
	drv.EXPECT().Stop(gomock.Any(), "c", 200*time.Millisecond).DoAndReturn(func(ctx context.Context, _ string, _ time.Duration) error {
		time.Sleep(150 * time.Millisecond)
		return ctx.Err()
	})
	require.NoError(t, rt.Stop(context.Background(), "c", 200*time.Millisecond))
	// A stream: the timeout bounds its opening, not its reading.
	var streamCtx context.Context
	drv.EXPECT().Logs(gomock.Any(), "c", ctrgate.LogOptions{Follow: true}).DoAndReturn(func(ctx context.Context, _ string, _ ctrgate.LogOptions) (ctrgate.LogStream, error) {
		streamCtx = ctx
		return endless{}, nil
	})
	ls, err := rt.Logs(context.Background(), "c", ctrgate.LogOptions{Follow: true})
	require.NoError(t, err)
	time.Sleep(150 * time.Millisecond)
	assert.NoError(t, streamCtx.Err(), "the stream's context outlives the call timeout")
	require.NoError(t, ls.Close())
	assert.Error(t, streamCtx.Err(), "Close releases the stream's context")
	// A log that is not followed must be read to its end within the timeout.
	drv.EXPECT().Logs(gomock.Any(), "c", ctrgate.LogOptions{}).DoAndReturn(func(ctx context.Context, _ string, _ ctrgate.LogOptions) (ctrgate.LogStream, error) {
		streamCtx = ctx
		return endless{}, nil
	})
	ls, err = rt.Logs(context.Background(), "c", ctrgate.LogOptions{})
	require.NoError(t, err)
	select {
	case <-streamCtx.Done():
		assert.ErrorIs(t, streamCtx.Err(), context.DeadlineExceeded)
	case <-time.After(5 * time.Second):
		t.Fatal("the context of a log that is not followed outlived the call timeout")
	}
	require.NoError(t, ls.Close())

	drv.EXPECT().Close().Return(nil)
	require.NoError(t, rt.Close())
}

// endless is a log stream that never ends by itself.
type endless struct{}

func (endless) Next() (ctrgate.LogLine, error) { select {} }
func (endless) Close() error                   { return nil }

func TestEnforceRedactsSecrets(t *testing.T) {
	drv := newMock(t)
	rt := ctrgate.Enforce("mock", drv)
	ctx := context.Background()
	const marked, token, execKey = "marked-4f1c9a", "token-77d0e2", "exec-key-c0ffee"
	spec := ctrgate.ContainerSpec{Name: "c", Image: "img", Env: []ctrgate.EnvVar{
		{Name: "PLAIN", Value: "plain-value"}, {Name: "CTG_X", Value: marked, Secret: true}, {Name: "API_TOKEN", Value: token}}}
	leak := errors.New("engine echoes " + marked + " and " + token + " and plain-value")

	drv.EXPECT().Create(gomock.Any(), spec).Return("", ctrgate.NewEngineError("mock", ctrgate.OpCreate, "c", ctrgate.ErrAlreadyExists, "taken: "+marked, leak, nil))
	_, err := rt.Create(ctx, spec)
	assert.ErrorIs(t, err, ctrgate.ErrAlreadyExists, "the error keeps its identity")
	assert.ErrorIs(t, err, leak)
	assertNoSecretIn(t, err, marked, token)
	assert.Contains(t, err.Error(), "plain-value", "only secret values are redacted")

	drv.EXPECT().Create(gomock.Any(), spec).Return("0123abcd", nil)
	id, err := rt.Create(ctx, spec)
	require.NoError(t, err)
	// Later calls on the container, by name or ID, are redacted too.
	drv.EXPECT().Start(gomock.Any(), "c").Return(leak)
	assertNoSecretIn(t, rt.Start(ctx, "c"), marked, token)
	drv.EXPECT().Kill(gomock.Any(), id, "KILL").Return(&ctrgate.SpecError{Field: "x", Reason: marked})
	err = rt.Kill(ctx, id, "KILL")
	assert.ErrorIs(t, err, ctrgate.ErrInvalidSpec)
	assertNoSecretIn(t, err, marked)
	drv.EXPECT().Inspect(gomock.Any(), "c").Return(&ctrgate.Container{ID: id, Name: "c", State: ctrgate.ContainerState{Error: "died: " + token}}, nil)
	c, err := rt.Inspect(ctx, "c")
	require.NoError(t, err)
	assert.NotContains(t, c.State.Error, token)
	drv.EXPECT().List(gomock.Any(), gomock.Any()).Return([]ctrgate.Container{{ID: id, Name: "c", State: ctrgate.ContainerState{Error: "died: " + marked}}}, nil)
	cs, err := rt.List(ctx, ctrgate.ListFilter{})
	require.NoError(t, err)
	assert.NotContains(t, cs[0].State.Error, marked)
	// Exec's own Env, besides the container's.
	opts := ctrgate.ExecOptions{Cmd: []string{"x"}, Env: []ctrgate.EnvVar{{Name: "K", Value: execKey, Secret: true}}}
	drv.EXPECT().Exec(gomock.Any(), "c", opts).Return(nil, &ctrgate.GPUConfigError{Backend: "mock", Message: execKey + " " + marked, Err: leak})
	_, err = rt.Exec(ctx, "c", opts)
	var ge *ctrgate.GPUConfigError
	require.ErrorAs(t, err, &ge)
	assertNoSecretIn(t, err, execKey, marked, token)
	// Removed: forgotten.
	drv.EXPECT().Remove(gomock.Any(), "c", ctrgate.RemoveOptions{}).Return(nil)
	require.NoError(t, rt.Remove(ctx, "c", ctrgate.RemoveOptions{}))
	drv.EXPECT().Start(gomock.Any(), "c").Return(leak)
	assert.Contains(t, rt.Start(ctx, "c").Error(), marked, "a removed container's secrets are forgotten")

	drv.EXPECT().Close().Return(nil)
	require.NoError(t, rt.Close())
}

func assertNoSecretIn(t *testing.T, err error, secrets ...string) {
	t.Helper()
	require.Error(t, err)
	for _, txt := range []string{err.Error(), fmt.Sprintf("%+v", err)} {
		for _, s := range secrets {
			assert.NotContains(t, txt, s)
		}
	}
}

func assertOp(t *testing.T, err error, op string) {
	t.Helper()
	var ee *ctrgate.EngineError
	require.ErrorAs(t, err, &ee)
	assert.Equal(t, op, ee.Op)
}

// inspectOnly is a driver whose Inspect answers at once (its other methods
// are never called).
type inspectOnly struct{ ctrgate.ContainerRuntime }

func (inspectOnly) Inspect(context.Context, string) (*ctrgate.Container, error) {
	return &ctrgate.Container{Name: "c"}, nil
}

// promptReads is a driver whose reads end with their context
// (ctrgate.PromptReader); Inspect and Start record the goroutine they ran
// on, and Inspect of "slow" waits for its context.
type promptReads struct {
	ctrgate.ContainerRuntime
	ran map[string]string
}

func (d promptReads) PromptReads() bool { return true }

func (d promptReads) Inspect(ctx context.Context, name string) (*ctrgate.Container, error) {
	d.ran["Inspect"] = goroutine()
	if name == "slow" {
		<-ctx.Done()
		return nil, ctrgate.NewEngineError("prompt", ctrgate.OpInspect, name, nil, "", ctx.Err(), nil)
	}
	return &ctrgate.Container{Name: name}, nil
}

func (d promptReads) Start(ctx context.Context, name string) error {
	d.ran["Start"] = goroutine()
	return nil
}

// goroutine returns the calling goroutine's header line ("goroutine 7").
func goroutine() string {
	b := make([]byte, 64)
	b = b[:runtime.Stack(b, false)]
	id, _, _ := strings.Cut(string(b), " [")
	return id
}

// TestPromptReadsRunOnTheCallersGoroutine: a PromptReader's reads are
// made on the caller's goroutine (no hand-off), its other calls on their
// own, and the errors of a read that its context ended are the layer's:
// the default timeout's (ErrEngineUnavailable and DeadlineExceeded), the
// caller's context's.
func TestPromptReadsRunOnTheCallersGoroutine(t *testing.T) {
	drv := promptReads{ran: map[string]string{}}
	rt := ctrgate.Enforce("prompt", drv, ctrgate.WithCallTimeout(100*time.Millisecond))
	_, err := rt.Inspect(context.Background(), "c")
	require.NoError(t, err)
	require.NoError(t, rt.Start(context.Background(), "c"))
	assert.Equal(t, goroutine(), drv.ran["Inspect"], "a read on the caller's goroutine")
	assert.NotEqual(t, goroutine(), drv.ran["Start"], "another call on its own")

	_, err = rt.Inspect(context.Background(), "slow")
	assert.ErrorIs(t, err, ctrgate.ErrEngineUnavailable, "the default timeout")
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	_, err = rt.Inspect(ctx, "slow")
	assert.ErrorIs(t, err, context.DeadlineExceeded, "the caller's deadline")
	assert.NotErrorIs(t, err, ctrgate.ErrEngineUnavailable)
}

// promptInspectOnly is inspectOnly, a PromptReader.
type promptInspectOnly struct{ inspectOnly }

func (promptInspectOnly) PromptReads() bool { return true }

// BenchmarkEnforce measures what the contract layer adds to a call: the
// driver alone; the layer with a context that cannot end and no default
// timeout (a direct call); with the default timeout (a timer, and the
// driver in a goroutine of its own); with the caller's deadline; with the
// default timeout for a PromptReader (a timer, the driver called here).
func BenchmarkEnforce(b *testing.B) {
	drv := inspectOnly{}
	rt := ctrgate.Enforce("bench", drv)
	ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
	defer cancel()
	for _, c := range []struct {
		name string
		rt   ctrgate.ContainerRuntime
		ctx  context.Context
	}{{"driver", drv, context.Background()}, {"layer-no-default-timeout", ctrgate.Enforce("bench", drv, ctrgate.WithCallTimeout(-1)), context.Background()},
		{"layer-default-timeout", rt, context.Background()}, {"layer-deadline", rt, ctx},
		{"layer-prompt-reads", ctrgate.Enforce("bench", promptInspectOnly{drv}), context.Background()}} {
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

// runDriver is a mock driver that also creates and starts in one step.
type runDriver struct {
	*ctrgatemock.MockContainerRuntime
	run func(ctx context.Context, spec ctrgate.ContainerSpec) (string, error)
}

func (d runDriver) Run(ctx context.Context, spec ctrgate.ContainerSpec) (string, error) {
	return d.run(ctx, spec)
}

// TestRunUsesTheDriversOneStep: ctrgate.Run on the layer takes a
// RunDriver's one step (no Create, no Start), after the spec is checked,
// and its errors carry the spec's secrets redacted, as Create's do.
func TestRunUsesTheDriversOneStep(t *testing.T) {
	m := newMock(t)
	m.EXPECT().Close().Return(nil)
	var runs int
	drv := runDriver{MockContainerRuntime: m, run: func(_ context.Context, spec ctrgate.ContainerSpec) (string, error) {
		runs++
		if spec.Name == "bad" {
			return "", ctrgate.NewEngineError("mock", ctrgate.OpStart, spec.Name, nil, "start failed with s3cr3t-value", nil, nil)
		}
		return "id-1", nil
	}}
	rt := ctrgate.Enforce("mock", drv)
	defer rt.Close()
	ctx := context.Background()

	id, err := ctrgate.Run(ctx, rt, ctrgate.ContainerSpec{Name: "web", Image: "localhost/app:1"})
	require.NoError(t, err)
	assert.Equal(t, "id-1", id)
	assert.Equal(t, 1, runs, "one step, no Create or Start (the mock expects neither)")

	_, err = ctrgate.Run(ctx, rt, ctrgate.ContainerSpec{Name: "bad name!", Image: "localhost/app:1"})
	assert.ErrorIs(t, err, ctrgate.ErrInvalidSpec)
	assert.Equal(t, 1, runs, "a bad spec never reaches the driver")

	_, err = ctrgate.Run(ctx, rt, ctrgate.ContainerSpec{Name: "bad", Image: "localhost/app:1",
		Env: []ctrgate.EnvVar{{Name: "TOKEN", Value: "s3cr3t-value", Secret: true}}})
	require.Error(t, err)
	assertOp(t, err, ctrgate.OpStart)
	assert.NotContains(t, err.Error(), "s3cr3t-value", "the spec's secret is redacted")
}
