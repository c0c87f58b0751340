package driver_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/ctrgate/ctrgate/driver"
	"github.com/ctrgate/ctrgate/fake"

	"github.com/ctrgate/ctrgate"
)

type awaitResult struct {
	c   *ctrgate.Container
	err error
}

// awaitStartAsync runs AwaitStart in a goroutine.
func awaitStartAsync(ctx context.Context, rt ctrgate.ContainerRuntime, name string) <-chan awaitResult {
	ch := make(chan awaitResult, 1)
	go func() {
		c, err := driver.AwaitStart(ctx, rt, name)
		ch <- awaitResult{c, err}
	}()
	return ch
}

// notYet fails the test if ch delivers within d.
func notYet(t *testing.T, ch <-chan awaitResult, d time.Duration) {
	t.Helper()
	select {
	case r := <-ch:
		t.Fatalf("AwaitStart returned (%v, %v) for a container that was never started", r.c, r.err)
	case <-time.After(d):
	}
}

// result waits for ch.
func result(t *testing.T, ch <-chan awaitResult) awaitResult {
	t.Helper()
	select {
	case r := <-ch:
		return r
	case <-time.After(10 * time.Second):
		t.Fatal("AwaitStart did not return")
		return awaitResult{}
	}
}

// waitForEventsCall waits until the fake has been asked for events n
// times, so that AwaitStart is blocked on its stream.
func waitForEventsCall(t *testing.T, calls func() int, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for calls() < n {
		if time.Now().After(deadline) {
			t.Fatalf("AwaitStart never subscribed to events (%d calls)", calls())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestAwaitStartStartedLater(t *testing.T) {
	ctx := context.Background()
	rt := newExampleRuntime()
	defer rt.Close()
	id, err := rt.Create(ctx, ctrgate.ContainerSpec{Name: "later", Image: "example.com/job:1", Command: []string{"serve"}})
	if err != nil {
		t.Fatal(err)
	}
	// A container whose name shares the prefix: its events must not end
	// the wait.
	if _, err := ctrgate.Run(ctx, rt, ctrgate.ContainerSpec{Name: "later-2", Image: "example.com/job:1", Command: []string{"once"}}); err != nil {
		t.Fatal(err)
	}
	rt.ResetCalls()
	ch := awaitStartAsync(ctx, rt, "later")
	waitForEventsCall(t, func() int { return len(rt.CallsTo(ctrgate.OpEvents)) }, 1)
	if _, err := ctrgate.Run(ctx, rt, ctrgate.ContainerSpec{Name: "later-3", Image: "example.com/job:1", Command: []string{"once"}}); err != nil {
		t.Fatal(err)
	}
	notYet(t, ch, 200*time.Millisecond)
	inspects := len(rt.CallsTo(ctrgate.OpInspect))

	began := time.Now()
	if err := rt.Start(ctx, "later"); err != nil {
		t.Fatal(err)
	}
	r := result(t, ch)
	if r.err != nil {
		t.Fatal(r.err)
	}
	if took := time.Since(began); took > time.Second {
		t.Errorf("AwaitStart took %v after the start", took)
	}
	if r.c.ID != id || r.c.State.StartedAt.IsZero() {
		t.Errorf("got %s, state %+v; want %s, started", r.c.ID, r.c.State, id)
	}
	if n := len(rt.CallsTo(ctrgate.OpEvents)); n != 1 {
		t.Errorf("%d Events calls, want 1", n)
	}
	// Not polling: while blocked, only events of this container (none
	// came) lead to an Inspect.
	if inspects > 2 {
		t.Errorf("%d Inspect calls before the start, want 2 (inspect, subscribe, inspect)", inspects)
	}
}

func TestAwaitStartRemovedWhileWaiting(t *testing.T) {
	ctx := context.Background()
	rt := newExampleRuntime()
	defer rt.Close()
	if _, err := rt.Create(ctx, ctrgate.ContainerSpec{Name: "gone", Image: "example.com/job:1", Command: []string{"serve"}}); err != nil {
		t.Fatal(err)
	}
	ch := awaitStartAsync(ctx, rt, "gone")
	waitForEventsCall(t, func() int { return len(rt.CallsTo(ctrgate.OpEvents)) }, 1)
	notYet(t, ch, 50*time.Millisecond)
	if err := rt.Remove(ctx, "gone", ctrgate.RemoveOptions{}); err != nil {
		t.Fatal(err)
	}
	r := result(t, ch)
	if !errors.Is(r.err, ctrgate.ErrNotFound) {
		t.Fatalf("got (%v, %v), want ErrNotFound", r.c, r.err)
	}
}

func TestAwaitStartMissing(t *testing.T) {
	rt := newExampleRuntime()
	defer rt.Close()
	_, err := driver.AwaitStart(context.Background(), rt, "never-created")
	if !errors.Is(err, ctrgate.ErrNotFound) {
		t.Fatalf("got %v, want ErrNotFound", err)
	}
	if n := len(rt.CallsTo(ctrgate.OpEvents)); n != 0 {
		t.Errorf("%d Events calls, want 0", n)
	}
}

func TestAwaitStartDeadline(t *testing.T) {
	rt := newExampleRuntime()
	defer rt.Close()
	if _, err := rt.Create(context.Background(), ctrgate.ContainerSpec{Name: "idle", Image: "example.com/job:1"}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Millisecond)
	defer cancel()
	began := time.Now()
	_, err := driver.AwaitStart(ctx, rt, "idle")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v, want context.DeadlineExceeded", err)
	}
	if took := time.Since(began); took > 2*time.Second {
		t.Errorf("AwaitStart returned %v after the deadline", took)
	}

	// Cancelled while waiting.
	ctx2, cancel2 := context.WithCancel(context.Background())
	ch := awaitStartAsync(ctx2, rt, "idle")
	waitForEventsCall(t, func() int { return len(rt.CallsTo(ctrgate.OpEvents)) }, 2)
	cancel2()
	if r := result(t, ch); !errors.Is(r.err, context.Canceled) {
		t.Fatalf("got %v, want context.Canceled", r.err)
	}
}

func TestAwaitStartAlreadyStarted(t *testing.T) {
	ctx := context.Background()
	rt := newExampleRuntime()
	defer rt.Close()
	if _, err := ctrgate.Run(ctx, rt, ctrgate.ContainerSpec{Name: "up", Image: "example.com/job:1", Command: []string{"serve"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := ctrgate.Run(ctx, rt, ctrgate.ContainerSpec{Name: "done", Image: "example.com/job:1", Command: []string{"once", "fail"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := rt.Wait(ctx, "done"); err != nil {
		t.Fatal(err)
	}
	rt.ResetCalls()
	for _, name := range []string{"up", "done"} {
		c, err := driver.AwaitStart(ctx, rt, name)
		if err != nil {
			t.Fatal(err)
		}
		if c.Name != name || c.State.Status == ctrgate.StateCreated {
			t.Errorf("%s: got %s in state %s", name, c.Name, c.State.Status)
		}
	}
	if n := len(rt.CallsTo(ctrgate.OpEvents)); n != 0 {
		t.Errorf("%d Events calls for started containers, want 0", n)
	}
	if n := len(rt.CallsTo(ctrgate.OpInspect)); n != 2 {
		t.Errorf("%d Inspect calls, want 1 per container", n)
	}
}

// Without events, AwaitStart polls.
func TestAwaitStartEventsUnsupported(t *testing.T) {
	ctx := context.Background()
	rt := newExampleRuntime()
	defer rt.Close()
	rt.InjectError(ctrgate.OpEvents, ctrgate.ErrUnsupported, 0)
	if _, err := rt.Create(ctx, ctrgate.ContainerSpec{Name: "polled", Image: "example.com/job:1", Command: []string{"serve"}}); err != nil {
		t.Fatal(err)
	}
	ch := awaitStartAsync(ctx, rt, "polled")
	waitForEventsCall(t, func() int { return len(rt.CallsTo(ctrgate.OpEvents)) }, 1)
	notYet(t, ch, 200*time.Millisecond)
	if err := rt.Start(ctx, "polled"); err != nil {
		t.Fatal(err)
	}
	r := result(t, ch)
	if r.err != nil || r.c.State.Status != ctrgate.StateRunning {
		t.Fatalf("got (%v, %v), want the running container", r.c, r.err)
	}

	// Other Events failures are returned.
	rt.InjectError(ctrgate.OpEvents, nil, 0)
	boom := errors.New("boom")
	rt.InjectError(ctrgate.OpEvents, boom, 1)
	if _, err := rt.Create(ctx, ctrgate.ContainerSpec{Name: "failing", Image: "example.com/job:1"}); err != nil {
		t.Fatal(err)
	}
	if _, err := driver.AwaitStart(ctx, rt, "failing"); !errors.Is(err, boom) {
		t.Fatalf("got %v, want the Events error", err)
	}
}

// endingEvents is a runtime whose first `ends` event streams end at once
// (as an engine ending the stream would).
type endingEvents struct {
	ctrgate.ContainerRuntime
	mu    sync.Mutex
	ends  int
	calls int
}

type endedStream struct{}

func (endedStream) Next() (ctrgate.Event, error) { return ctrgate.Event{}, io.EOF }
func (endedStream) Close() error                 { return nil }

func (e *endingEvents) Events(ctx context.Context, f ctrgate.EventFilter) (ctrgate.EventStream, error) {
	e.mu.Lock()
	e.calls++
	end := e.calls <= e.ends
	e.mu.Unlock()
	if end {
		return endedStream{}, nil
	}
	return e.ContainerRuntime.Events(ctx, f)
}

func (e *endingEvents) eventsCalls() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.calls
}

// A stream the engine ends is opened again; streams that keep ending make
// AwaitStart fail instead of spinning.
func TestAwaitStartStreamEnds(t *testing.T) {
	ctx := context.Background()
	frt := newExampleRuntime()
	defer frt.Close()
	if _, err := frt.Create(ctx, ctrgate.ContainerSpec{Name: "resub", Image: "example.com/job:1", Command: []string{"serve"}}); err != nil {
		t.Fatal(err)
	}
	rt := &endingEvents{ContainerRuntime: frt, ends: 2}
	ch := awaitStartAsync(ctx, rt, "resub")
	waitForEventsCall(t, rt.eventsCalls, 3)
	notYet(t, ch, 100*time.Millisecond)
	if err := frt.Start(ctx, "resub"); err != nil {
		t.Fatal(err)
	}
	if r := result(t, ch); r.err != nil || r.c.State.Status != ctrgate.StateRunning {
		t.Fatalf("got (%v, %v), want the running container", r.c, r.err)
	}

	if _, err := frt.Create(ctx, ctrgate.ContainerSpec{Name: "broken", Image: "example.com/job:1"}); err != nil {
		t.Fatal(err)
	}
	rt = &endingEvents{ContainerRuntime: frt, ends: 100}
	_, err := driver.AwaitStart(ctx, rt, "broken")
	if !errors.Is(err, ctrgate.ErrEngineUnavailable) {
		t.Fatalf("got %v, want ErrEngineUnavailable", err)
	}
	if n := rt.eventsCalls(); n != 3 {
		t.Errorf("%d Events calls, want 3", n)
	}
}

// newExampleRuntime is a fake with image example.com/job:1, whose program
// prints its arguments and "ready", then serves until stopped ("serve"),
// fails with code 3 ("fail" second) or exits 0.
func newExampleRuntime() *fake.Runtime {
	rt := fake.New()
	rt.RegisterProgram("/job", func(p *fake.Process) int {
		args := p.Args()[1:]
		fmt.Fprintln(p.Stdout(), "args:", args)
		fmt.Fprintln(p.Stdout(), "ready")
		if len(args) > 0 && args[0] == "serve" {
			select {
			case <-p.Signals():
				return 0
			case <-p.Done():
				return 137
			}
		}
		if len(args) > 1 && args[1] == "fail" {
			fmt.Fprintln(p.Stderr(), "failing on purpose")
			return 3
		}
		return 0
	})
	if err := rt.AddImage("example.com/job:1", fake.ImageConfig{Entrypoint: []string{"/job"}}); err != nil {
		panic(err)
	}
	return rt
}
