package conformance

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ctrgate/ctrgate"
)

// EnvRotateState names the state directory of the private Podman instance
// whose events log rotates often (scripts/podman.sh with
// CTRGATE_PODMAN_INSTANCE=rot and CTRGATE_PODMAN_EVENTS_MAX_SIZE=20k;
// scripts/test.sh starts it and sets this variable).
const EnvRotateState = "CTRGATE_PODMAN_ROTATE_STATE"

// RotateInstance is the instance name scripts/test.sh gives that Podman.
const RotateInstance = "rot"

// RotatingPodman is the private Podman instance of EnvRotateState.
type RotatingPodman struct {
	State string // its state directory
}

// RotatingPodmanFromEnv returns the instance named by EnvRotateState. When
// the variable is unset the test fails under CI=true and is skipped loudly
// otherwise.
func RotatingPodmanFromEnv(t testing.TB) RotatingPodman {
	t.Helper()
	dir := os.Getenv(EnvRotateState)
	if dir == "" {
		msg := EnvRotateState + " is unset: start the rotating Podman with " +
			"CTRGATE_PODMAN_INSTANCE=rot CTRGATE_PODMAN_EVENTS_MAX_SIZE=20k scripts/podman.sh up " +
			"and export " + EnvRotateState + "=/var/tmp/ctrgate/podman-rot (scripts/test.sh does)"
		EngineMissing(t, msg)
	}
	return RotatingPodman{State: dir}
}

// ContainersConf is the instance's containers.conf.
func (p RotatingPodman) ContainersConf() string { return filepath.Join(p.State, "containers.conf") }

// StorageConf is the instance's storage.conf.
func (p RotatingPodman) StorageConf() string { return filepath.Join(p.State, "storage.conf") }

// Socket is the unix:// URL of the instance's API service.
func (p RotatingPodman) Socket() string { return "unix://" + filepath.Join(p.State, "podman.sock") }

// EventsLog is the instance's events log.
func (p RotatingPodman) EventsLog() string {
	return filepath.Join(p.State, "tmp", "events", "events.log")
}

// Restart stops and starts the instance's API service with
// scripts/podman.sh (found from this source file's directory).
func (p RotatingPodman) Restart(ctx context.Context) error {
	if err := p.Stop(ctx); err != nil {
		return err
	}
	return p.Start(ctx)
}

// Stop stops the instance's API service (scripts/podman.sh down): its
// socket is gone until Start.
func (p RotatingPodman) Stop(ctx context.Context) error { return p.script(ctx, "down") }

// Start starts the instance's API service (scripts/podman.sh up).
func (p RotatingPodman) Start(ctx context.Context) error { return p.script(ctx, "up") }

func (p RotatingPodman) script(ctx context.Context, verb string) error {
	_, file, _, _ := runtime.Caller(0)
	script := filepath.Join(filepath.Dir(file), "..", "scripts", "podman.sh")
	cmd := exec.CommandContext(ctx, script, verb)
	cmd.Env = append(os.Environ(), "CTRGATE_PODMAN_INSTANCE="+filepath.Base(p.State)[len("podman-"):],
		"CTRGATE_STATE_DIR="+filepath.Dir(p.State))
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("podman.sh %s: %v: %s", verb, err, out)
	}
	return nil
}

// Lock gives the calling test the instance alone (tests of several
// packages run in parallel and one of them restarts the service) until the
// test ends.
func (p RotatingPodman) Lock(t testing.TB) { t.Helper(); lockInstance(t, p.State) }

// lockInstance takes the test.lock of an engine instance's state directory
// (flock, across test processes) until the test ends.
func lockInstance(t testing.TB, state string) {
	t.Helper()
	f, err := os.OpenFile(filepath.Join(state, "test.lock"), os.O_CREATE|os.O_RDWR, 0o600)
	require.NoError(t, err)
	require.NoError(t, syscall.Flock(int(f.Fd()), syscall.LOCK_EX))
	t.Cleanup(func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		_ = f.Close()
	})
}

// RotationOptions configures EventsAcrossRotation.
type RotationOptions struct {
	// Image is the reference the test image is imported as.
	Image string
	// EventsLog is the engine's events log, watched for rotations.
	EventsLog string
	// Rotations is how many rotations the stream must live through (3 if 0).
	Rotations int
	// Restart, if set, restarts the engine's service once in the middle.
	Restart func(ctx context.Context) error
}

// EventsAcrossRotation subscribes to the events of this test's containers
// and creates and removes containers (with a 200-byte label, so that the
// events log fills quickly) until the engine has rotated its events log
// opts.Rotations times (and, with opts.Restart, restarted once); then it
// checks that the stream delivered every container's create and remove
// event exactly once. rt must talk to a Podman whose
// events_logfile_max_size is small (RotatingPodman).
func EventsAcrossRotation(t *testing.T, rt ctrgate.ContainerRuntime, opts RotationOptions) {
	if opts.Rotations <= 0 {
		opts.Rotations = 3
	}
	if opts.Image == "" {
		opts.Image = DefaultImage
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	require.NoError(t, importTestImage(rt, opts.Image, TestImageTar(t)), "importing the test image")

	prefix := "ctg-" + randHex(4) + "-rot-"
	st, err := rt.Events(ctx, ctrgate.EventFilter{NamePrefix: prefix})
	require.NoError(t, err)
	defer st.Close()

	// Rotations: the log shrinks (Podman keeps its newer half).
	var (
		mu        sync.Mutex
		rotations int
	)
	watchCtx, stopWatch := context.WithCancel(ctx)
	watchDone := make(chan struct{})
	go func() {
		defer close(watchDone)
		last := int64(-1)
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-watchCtx.Done():
				return
			case <-tick.C:
			}
			fi, err := os.Stat(opts.EventsLog)
			if err != nil {
				continue
			}
			if last >= 0 && fi.Size() < last {
				mu.Lock()
				rotations++
				mu.Unlock()
			}
			last = fi.Size()
		}
	}()
	defer func() { stopWatch(); <-watchDone }()
	rotated := func() int { mu.Lock(); defer mu.Unlock(); return rotations }

	// Read events meanwhile.
	type count struct{ create, remove, other int }
	var (
		emu    sync.Mutex
		counts = map[string]*count{}
		names  = map[string]string{} // ID -> name
		endErr error
	)
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		for {
			ev, err := st.Next()
			if err != nil {
				emu.Lock()
				endErr = err
				emu.Unlock()
				return
			}
			emu.Lock()
			c := counts[ev.Name]
			if c == nil {
				c = &count{}
				counts[ev.Name] = c
			}
			switch ev.Type {
			case ctrgate.EventCreate:
				c.create++
			case ctrgate.EventRemove:
				c.remove++
			default:
				c.other++
			}
			names[ev.ID] = ev.Name
			emu.Unlock()
		}
	}()

	label := strings.Repeat("r", 200)
	var made []string
	restarted := opts.Restart == nil
	began := time.Now()
	for i := 0; ; i++ {
		if rotated() >= opts.Rotations && restarted && len(made) >= 20 {
			break
		}
		require.Less(t, time.Since(began), 3*time.Minute, "the events log rotated %d times in 3 minutes", rotated())
		name := fmt.Sprintf("%s%d", prefix, i)
		sp := ctrgate.ContainerSpec{Name: name, Image: opts.Image, PullPolicy: ctrgate.PullNever,
			Command: []string{"exit", "0"}, Labels: map[string]string{"ctg.pad": label}}
		_, err := rt.Create(ctx, sp)
		require.NoError(t, err, "create %s", name)
		require.NoError(t, rt.Remove(ctx, name, ctrgate.RemoveOptions{Force: true}), "remove %s", name)
		made = append(made, name)
		// One container at a time: its events are read before the next
		// one's are written, so that a rotation cannot drop events the
		// subscriber has not had a chance to read yet (Podman keeps only
		// the newer half of a ~20 kB log: a few containers' worth). Events
		// written while the stream is being resubscribed still must come.
		for wait := time.Now().Add(10 * time.Second); time.Now().Before(wait); time.Sleep(2 * time.Millisecond) {
			emu.Lock()
			c := counts[name]
			got := c != nil && c.remove > 0
			emu.Unlock()
			if got {
				break
			}
		}
		if !restarted && rotated() >= 1 {
			rctx, rcancel := context.WithTimeout(ctx, time.Minute)
			require.NoError(t, opts.Restart(rctx), "restarting the engine")
			rcancel()
			restarted = true
			t.Logf("engine restarted after %d containers", len(made))
		}
	}
	// Every event is in; wait for the stream to deliver the last remove.
	last := made[len(made)-1]
	deadline := time.Now().Add(45 * time.Second)
	for {
		emu.Lock()
		c := counts[last]
		done := c != nil && c.remove > 0
		ended := endErr
		emu.Unlock()
		if done || ended != nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(500 * time.Millisecond) // doubles, if any, come now
	_ = st.Close()
	<-readDone

	emu.Lock()
	defer emu.Unlock()
	var lost, doubled []string
	for _, n := range made {
		c := counts[n]
		if c == nil {
			c = &count{}
		}
		if c.create == 0 || c.remove == 0 {
			lost = append(lost, fmt.Sprintf("%s(create %d, remove %d)", n, c.create, c.remove))
		}
		if c.create > 1 || c.remove > 1 {
			doubled = append(doubled, fmt.Sprintf("%s(create %d, remove %d)", n, c.create, c.remove))
		}
	}
	t.Logf("events across %d rotations of the events log (restart: %v): %d containers, %d with events lost, %d with events doubled, stream end: %v",
		rotated(), opts.Restart != nil, len(made), len(lost), len(doubled), endErr)
	assert.GreaterOrEqual(t, rotated(), opts.Rotations, "the events log rotated")
	assert.Empty(t, lost, "containers whose create or remove event was lost")
	assert.Empty(t, doubled, "containers whose create or remove event was delivered twice")
	assert.True(t, errors.Is(endErr, io.EOF), "the stream ended by itself before Close: %v", endErr)
}
