package conmon

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const id = "17ff4eb15dc0f9b7261b3017311028a276f1f700ee79934c2aa2ef719e865cfa"

func cmdline(args ...string) []byte { return []byte(strings.Join(args, "\x00") + "\x00") }

func TestExitDirArg(t *testing.T) {
	for _, c := range []struct {
		name    string
		cmdline []byte
		dir     string
	}{
		{"podman 4", cmdline("/usr/bin/conmon", "--api-version", "1", "-c", id, "-u", id, "-r", "/usr/sbin/runc",
			"-n", "xt1", "--exit-dir", "/run/libpod/exits", "--full-attach", "--exit-command-arg", "--tmpdir"), "/run/libpod/exits"},
		{"inline values", cmdline("conmon", "--cid="+id, "--exit-dir=/run/user/1000/libpod/tmp/exits"), "/run/user/1000/libpod/tmp/exits"},
		{"another container", cmdline("/usr/bin/conmon", "-c", "0123", "--exit-dir", "/run/libpod/exits"), ""},
		{"no exit dir", cmdline("/usr/bin/conmon", "-c", id), ""},
		{"relative exit dir", cmdline("/usr/bin/conmon", "-c", id, "--exit-dir", "exits"), ""},
		{"not conmon", cmdline("/usr/bin/podman", "-c", id, "--exit-dir", "/run/libpod/exits"), ""},
		{"cut short", cmdline("/usr/bin/conmon", "-c", id, "--exit-dir"), ""},
		{"empty", nil, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir, ok := exitDirArg(c.cmdline, id)
			assert.Equal(t, c.dir, dir)
			assert.Equal(t, c.dir != "", ok)
		})
	}
}

// fakeProc makes a process table with one conmon (pid 4242) monitoring id
// with exit directory exits, its container's main process (4243), and an
// unrelated process; conmon's root is this machine's /.
func fakeProc(t *testing.T, exits string) string {
	t.Helper()
	root := t.TempDir()
	write := func(pid, name string, b []byte) {
		require.NoError(t, os.MkdirAll(filepath.Join(root, pid), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(root, pid, name), b, 0o644))
	}
	write("1", "comm", []byte("init\n"))
	write("1", "cmdline", cmdline("/sbin/init"))
	write("4242", "comm", []byte("conmon\n"))
	write("4242", "cmdline", cmdline("/usr/bin/conmon", "-c", id, "--exit-dir", exits))
	require.NoError(t, os.Symlink("/", filepath.Join(root, "4242", "root")))
	write("4243", "stat", []byte("4243 (sleep (x) y) S 4242 4243 4243 0 -1 4194560 95 0 0 0\n"))
	write("4243", "comm", []byte("sleep (x) y\n"))
	write("4243", "cmdline", cmdline("sleep", "300"))
	require.NoError(t, os.MkdirAll(filepath.Join(root, "self"), 0o755))
	old := procRoot
	procRoot = root
	t.Cleanup(func() { procRoot = old })
	return root
}

// sameDir asserts that the open directory f is path.
func sameDir(t *testing.T, path string, f *os.File) {
	t.Helper()
	require.NotNil(t, f)
	defer f.Close()
	want, err := os.Stat(path)
	require.NoError(t, err)
	got, err := f.Stat()
	require.NoError(t, err)
	assert.True(t, os.SameFile(want, got), "the exit directory opened is %s", path)
}

func TestExitDirOfAndFindExitDir(t *testing.T) {
	exits := t.TempDir()
	proc := fakeProc(t, exits)

	dir, ok := ExitDirOf(4242, id)
	assert.True(t, ok)
	sameDir(t, exits, dir)
	_, ok = ExitDirOf(4242, "another")
	assert.False(t, ok, "a conmon of another container")
	_, ok = ExitDirOf(1, id)
	assert.False(t, ok, "not a conmon")
	_, ok = ExitDirOf(999, id)
	assert.False(t, ok, "no such process")

	dir, ok = ExitDirOfParent(4243, id)
	assert.True(t, ok, "the conmon of the container's main process")
	sameDir(t, exits, dir)
	_, ok = ExitDirOfParent(4242, id)
	assert.False(t, ok, "conmon has no stat here")

	dir, ok = FindExitDir(id)
	assert.True(t, ok)
	sameDir(t, exits, dir)
	_, ok = FindExitDir("another")
	assert.False(t, ok)

	// an engine in a mount namespace of its own: its /run/libpod/exits is
	// the one under its root, not this machine's
	engineRoot := t.TempDir()
	inside := filepath.Join(engineRoot, "run", "libpod", "exits")
	require.NoError(t, os.MkdirAll(inside, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(proc, "4242", "cmdline"),
		cmdline("/usr/bin/conmon", "-c", id, "--exit-dir", "/run/libpod/exits"), 0o644))
	require.NoError(t, os.Remove(filepath.Join(proc, "4242", "root")))
	require.NoError(t, os.Symlink(engineRoot, filepath.Join(proc, "4242", "root")))
	dir, ok = ExitDirOf(4242, id)
	assert.True(t, ok)
	sameDir(t, inside, dir)

	// conmon's root cannot be read (another user's process): the path as
	// given, when it is a directory here
	require.NoError(t, os.Remove(filepath.Join(proc, "4242", "root")))
	require.NoError(t, os.WriteFile(filepath.Join(proc, "4242", "cmdline"),
		cmdline("/usr/bin/conmon", "-c", id, "--exit-dir", exits), 0o644))
	dir, ok = ExitDirOf(4242, id)
	assert.True(t, ok)
	sameDir(t, exits, dir)
	require.NoError(t, os.WriteFile(filepath.Join(proc, "4242", "cmdline"),
		cmdline("/usr/bin/conmon", "-c", id, "--exit-dir", filepath.Join(exits, "missing")), 0o644))
	_, ok = ExitDirOf(4242, id)
	assert.False(t, ok, "an exit directory this process cannot open")
}

// openDir opens the directory path (a test's exit directory).
func openDir(t *testing.T, path string) *os.File {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	return f
}

// watcherOn returns a watcher that has learnt a new exit directory, dir;
// the test's end closes it.
func watcherOn(t *testing.T) (x *ExitWatcher, dir string) {
	t.Helper()
	dir = t.TempDir()
	x = &ExitWatcher{}
	t.Cleanup(x.Close)
	x.Learn(openDir(t, dir))
	return x, dir
}

// writeExitFile writes an exit file as conmon does: a temporary file
// renamed into place.
func writeExitFile(t *testing.T, dir, id, content string) {
	t.Helper()
	tmp := filepath.Join(dir, id+".TMP123")
	require.NoError(t, os.WriteFile(tmp, []byte(content), 0o644))
	require.NoError(t, os.Rename(tmp, filepath.Join(dir, id)))
}

func TestReadExitCode(t *testing.T) {
	dir := t.TempDir()
	_, ok := ReadExitCode(dir, id)
	assert.False(t, ok, "no file")
	require.NoError(t, os.WriteFile(filepath.Join(dir, id), nil, 0o644))
	_, ok = ReadExitCode(dir, id)
	assert.False(t, ok, "an empty file is one being written")
	writeExitFile(t, dir, id, "137")
	code, ok := ReadExitCode(dir, id)
	assert.True(t, ok)
	assert.Equal(t, 137, code)
}

// engine is an engine's wait that answers only when told, or when its
// context ends.
type engine struct {
	calls, cancelled, returned atomic.Int32
	answer                     chan int
}

func newEngine() *engine { return &engine{answer: make(chan int, 1)} }

func (e *engine) wait(ctx context.Context) (int, error) {
	e.calls.Add(1)
	defer e.returned.Add(1)
	select {
	case code := <-e.answer:
		return code, nil
	case <-ctx.Done():
		e.cancelled.Add(1)
		return 0, ctx.Err()
	}
}

func TestWaitTheFileAnswersFirst(t *testing.T) {
	x, dir := watcherOn(t)
	e := newEngine()
	go func() {
		time.Sleep(50 * time.Millisecond)
		require.NoError(t, os.WriteFile(filepath.Join(dir, id), nil, 0o644)) // being written
		time.Sleep(20 * time.Millisecond)
		writeExitFile(t, dir, id, "3")
	}()
	code, err := x.Wait(context.Background(), id, "", e.wait)
	require.NoError(t, err)
	assert.Equal(t, 3, code)
	assert.EqualValues(t, 1, e.calls.Load())
	assert.EqualValues(t, 1, e.cancelled.Load(), "the engine's wait is cancelled")
	assert.EqualValues(t, 1, e.returned.Load(), "and has returned when Wait returns")
}

func TestWaitAFileAlreadyThereAnswersAlone(t *testing.T) {
	x, dir := watcherOn(t)
	writeExitFile(t, dir, id, "0")
	e := newEngine()
	code, err := x.Wait(context.Background(), id, "", e.wait)
	require.NoError(t, err)
	assert.Equal(t, 0, code)
	assert.Zero(t, e.calls.Load(), "the engine is not asked")
}

func TestWaitTheEngineAnswersFirst(t *testing.T) {
	x, _ := watcherOn(t)
	e := newEngine()
	e.answer <- 5
	code, err := x.Wait(context.Background(), id, "", e.wait)
	require.NoError(t, err)
	assert.Equal(t, 5, code)
}

func TestWaitAnEngineErrorYieldsToTheFile(t *testing.T) {
	x, dir := watcherOn(t)
	code, err := x.Wait(context.Background(), id, "", func(context.Context) (int, error) {
		writeExitFile(t, dir, id, "9") // exited, then the engine lost it
		return 0, errors.New("no such container")
	})
	require.NoError(t, err)
	assert.Equal(t, 9, code)

	_, err = x.Wait(context.Background(), "other", "", func(context.Context) (int, error) {
		return 0, errors.New("no such container")
	})
	assert.EqualError(t, err, "no such container", "no file: the engine's error")
}

func TestWaitWithoutADirectoryIsTheEngines(t *testing.T) {
	var x ExitWatcher
	defer x.Close()
	e := newEngine()
	e.answer <- 4
	code, err := x.Wait(context.Background(), id, "", e.wait)
	require.NoError(t, err)
	assert.Equal(t, 4, code)

	gone := t.TempDir()
	x.Learn(openDir(t, gone))
	require.NoError(t, os.Remove(gone)) // a directory that is gone
	e.answer <- 6
	code, err = x.Wait(context.Background(), id, "", e.wait)
	require.NoError(t, err)
	assert.Equal(t, 6, code)
}

func TestWaitCancelled(t *testing.T) {
	x, _ := watcherOn(t)
	e := newEngine()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := x.Wait(ctx, id, "", e.wait)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.EqualValues(t, 1, e.returned.Load())
}

func TestWaitManyAtOnce(t *testing.T) {
	x, dir := watcherOn(t)
	const n = 40
	var wg sync.WaitGroup
	codes := make([]int, n)
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			codes[i], errs[i] = x.Wait(context.Background(), fmt.Sprint("c", i), "", newEngine().wait)
		}()
	}
	time.Sleep(50 * time.Millisecond)
	for i := n - 1; i >= 0; i-- {
		writeExitFile(t, dir, fmt.Sprint("c", i), fmt.Sprint(i))
	}
	wg.Wait()
	for i := range n {
		require.NoError(t, errs[i])
		assert.Equal(t, i, codes[i])
	}
	x.mu.Lock()
	assert.NotNil(t, x.w, "the watch lingers after the last waiter")
	x.mu.Unlock()
	x.Close()
	assert.Nil(t, x.w, "Close closes it")
	e := newEngine()
	e.answer <- 1
	writeExitFile(t, dir, id, "0")
	code, err := x.Wait(context.Background(), id, "", e.wait)
	require.NoError(t, err)
	assert.Equal(t, 1, code, "after Close, the engine answers")
}

func TestAnIdleWatchCloses(t *testing.T) {
	defer func(d time.Duration) { lingerFor = d }(lingerFor)
	lingerFor = 20 * time.Millisecond
	x, dir := watcherOn(t)
	e := newEngine()
	e.answer <- 2
	_, err := x.Wait(context.Background(), id, "", e.wait)
	require.NoError(t, err)
	assert.Eventually(t, func() bool {
		x.mu.Lock()
		defer x.mu.Unlock()
		return x.w == nil
	}, 5*time.Second, 10*time.Millisecond, "the watch closes once idle")
	writeExitFile(t, dir, id, "8")
	code, err := x.Wait(context.Background(), id, "", newEngine().wait)
	require.NoError(t, err)
	assert.Equal(t, 8, code, "and opens again for the next waiter")
}

func TestDiscoverIsBounded(t *testing.T) {
	var x ExitWatcher
	looks := 0
	for range 2 * maxDiscoveries {
		x.Discover(func() (*os.File, bool) { looks++; return nil, false })
	}
	assert.Equal(t, maxDiscoveries, looks)
	assert.Empty(t, x.Dir())

	var y ExitWatcher
	defer y.Close()
	dir := t.TempDir()
	y.Discover(func() (*os.File, bool) { return openDir(t, dir), true })
	y.Discover(func() (*os.File, bool) { t.Error("looked again"); return nil, false })
	assert.True(t, strings.HasPrefix(y.Dir(), "/proc/self/fd/"), y.Dir())
	sameDir(t, dir, openDir(t, y.Dir()))
}

func TestCloseReleasesTheDirectory(t *testing.T) {
	dir := t.TempDir()
	var x ExitWatcher
	f := openDir(t, dir)
	x.Learn(f)
	e := newEngine()
	waiting := make(chan struct{})
	go func() {
		_, _ = x.Wait(context.Background(), id, "", func(ctx context.Context) (int, error) {
			close(waiting)
			return e.wait(ctx)
		})
	}()
	<-waiting
	x.Close()
	_, err := f.Stat()
	assert.NoError(t, err, "a Wait in flight still reads the directory")
	e.answer <- 0
	assert.Eventually(t, func() bool { _, err := f.Stat(); return err != nil }, 5*time.Second, 5*time.Millisecond,
		"closed when the last Wait left")
	x.Learn(openDir(t, dir))
	assert.Empty(t, x.Dir(), "nothing is learnt after Close")
}

func TestSettleWaitsForTheCleanup(t *testing.T) {
	x, dir := watcherOn(t)
	writeExitFile(t, dir, id, "0")
	_, err := x.Wait(context.Background(), id, "web", newEngine().wait)
	require.NoError(t, err)

	removed := make(chan time.Time, 1)
	go func() {
		time.Sleep(100 * time.Millisecond)
		removed <- time.Now()
		assert.NoError(t, os.Remove(filepath.Join(dir, id))) // the cleanup
	}()
	x.Settle(context.Background(), "web", time.Minute)
	assert.False(t, time.Now().Before(<-removed), "Settle returned before the exit file was removed")
	_, err = os.Stat(filepath.Join(dir, id))
	assert.ErrorIs(t, err, os.ErrNotExist)

	// settled: forgotten, by name and by ID
	writeExitFile(t, dir, id, "0")
	done := make(chan struct{})
	go func() {
		x.Settle(context.Background(), "web", time.Minute)
		x.Settle(context.Background(), id, time.Minute)
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Settle waited for a container it had settled")
	}

	// a container whose exit the engine answered: nothing to wait for
	x.Settle(context.Background(), "other", time.Minute)

	// bounded by limit and ctx
	_, err = x.Wait(context.Background(), id, "web", newEngine().wait)
	require.NoError(t, err)
	x.Settle(context.Background(), "web", 50*time.Millisecond)
	_, err = x.Wait(context.Background(), id, "web", newEngine().wait)
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	x.Settle(ctx, id, time.Minute)
}

func TestUnsettled(t *testing.T) {
	x, dir := watcherOn(t)
	assert.False(t, x.Unsettled(id), "no Wait answered from its file")
	_, err := x.Wait(context.Background(), id, "web", func(context.Context) (int, error) { return 0, nil })
	require.NoError(t, err)
	assert.False(t, x.Unsettled(id), "the engine answered")

	writeExitFile(t, dir, id, "3")
	_, err = x.Wait(context.Background(), id, "web", newEngine().wait)
	require.NoError(t, err)
	assert.True(t, x.Unsettled(id), "the file answered")
	assert.False(t, x.Unsettled("other"))
	x.Forget(id)
	assert.False(t, x.Unsettled(id))
	assert.False(t, x.Unsettled("web"), "forgotten by name too")
}
