package logstream_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ctrgate/ctrgate"
	"github.com/ctrgate/ctrgate/fake"
	"github.com/ctrgate/ctrgate/logstream"
)

// scripted is a LogStream of fixed lines that then ends.
func scripted(ctx context.Context, lines []ctrgate.LogLine) ctrgate.LogStream {
	s := logstream.New(ctx, "test", "c", nil)
	go func() {
		for _, l := range lines {
			if !s.Send(l) {
				break
			}
		}
		s.Finish(nil)
	}()
	return s
}

func numbered(from, to int) []ctrgate.LogLine {
	var out []ctrgate.LogLine
	for i := from; i <= to; i++ {
		out = append(out, ctrgate.LogLine{Stream: ctrgate.Stdout, Text: fmt.Sprintf("line %d", i)})
	}
	return out
}

// TestCompleteFollowsAgainAndCatchesUp: an engine that ends its follower
// while the container runs (the follower is opened again, its first lines
// skipped) and then ends it before the end of the log (the rest is read
// once more after the exit): every line once, in order, and a line split
// into partial pieces is continued, not repeated.
func TestCompleteFollowsAgainAndCatchesUp(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rt := fake.New()
	defer rt.Close()
	release := make(chan struct{})
	rt.RegisterProgram("/app", func(p *fake.Process) int {
		select {
		case <-release:
			return 0
		case <-p.Done():
			return 137
		}
	})
	require.NoError(t, rt.AddImage("app", fake.ImageConfig{Entrypoint: []string{"/app"}}))
	_, err := ctrgate.Run(ctx, rt, ctrgate.ContainerSpec{Name: "c", Image: "app", PullPolicy: ctrgate.PullNever})
	require.NoError(t, err)

	var (
		mu    sync.Mutex
		calls []ctrgate.LogOptions
	)
	open := func(ctx context.Context, o ctrgate.LogOptions) (ctrgate.LogStream, error) {
		mu.Lock()
		defer mu.Unlock()
		calls = append(calls, o)
		switch len(calls) {
		case 1: // ends early while the container runs
			return scripted(ctx, numbered(1, 3)), nil
		case 2: // again from the start; ends in the middle of line 7, and the container exits
			lines := append(numbered(1, 6), ctrgate.LogLine{Stream: ctrgate.Stdout, Text: "li", Partial: true})
			close(release)
			for {
				c, err := rt.Inspect(ctx, "c")
				if err != nil || !c.State.Running() {
					break
				}
				time.Sleep(5 * time.Millisecond)
			}
			return scripted(ctx, lines), nil
		default: // the plain read after the exit: the whole log
			return scripted(ctx, append(numbered(1, 9), ctrgate.LogLine{Stream: ctrgate.Stderr, Text: "err"})), nil
		}
	}
	s, err := logstream.Complete(ctx, rt, "test", "c", ctrgate.LogOptions{Follow: true}, open)
	require.NoError(t, err)
	var pieces []string
	var j ctrgate.LineJoiner
	var lines []string
	for _, l := range readLines(t, s) {
		pieces = append(pieces, fmt.Sprintf("%s%v", l.Text, map[bool]string{true: "+", false: ""}[l.Partial]))
		if w, ok := j.Add(l); ok {
			lines = append(lines, w.Text)
		}
	}
	want := []string{}
	for i := 1; i <= 9; i++ {
		want = append(want, fmt.Sprintf("line %d", i))
	}
	want = append(want, "err")
	assert.Equal(t, want, lines, "every line once, in order")
	assert.Contains(t, pieces, "li+")
	assert.Contains(t, pieces, "ne 7", "the rest of the partial line, not the line again")
	mu.Lock()
	defer mu.Unlock()
	require.Len(t, calls, 3)
	assert.True(t, calls[0].Follow && calls[1].Follow && !calls[2].Follow)
}

// TestCompleteTail: Tail with Follow delivers the last lines of the log,
// then what comes after them.
func TestCompleteTail(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rt := fake.New()
	defer rt.Close()
	rt.RegisterProgram("/app", func(p *fake.Process) int { return 0 })
	require.NoError(t, rt.AddImage("app", fake.ImageConfig{Entrypoint: []string{"/app"}}))
	_, err := ctrgate.Run(ctx, rt, ctrgate.ContainerSpec{Name: "c", Image: "app", PullPolicy: ctrgate.PullNever})
	require.NoError(t, err)
	_, err = rt.Wait(ctx, "c")
	require.NoError(t, err)
	n := 0
	open := func(ctx context.Context, o ctrgate.LogOptions) (ctrgate.LogStream, error) {
		assert.Zero(t, o.Tail, "the backend is asked for the whole log")
		n++
		if n == 1 {
			return scripted(ctx, numbered(1, 5)), nil // plain: the log so far
		}
		return scripted(ctx, numbered(1, 7)), nil // followers and the last read
	}
	s, err := logstream.Complete(ctx, rt, "test", "c", ctrgate.LogOptions{Follow: true, Tail: 2}, open)
	require.NoError(t, err)
	var got []string
	for _, l := range readLines(t, s) {
		got = append(got, l.Text)
	}
	assert.Equal(t, []string{"line 4", "line 5", "line 6", "line 7"}, got)
}
