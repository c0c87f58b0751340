package conmon

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/fsnotify/fsnotify"
)

// maxDiscoveries bounds the failed attempts to find the exit directory
// (Discover): an engine whose conmon this process cannot see (another
// machine, another PID namespace) costs no more than that many looks.
const maxDiscoveries = 8

// lingerFor is how long the watch stays open after its last waiter left:
// closing an inotify instance waits for a grace period of the kernel
// (10–20 ms), which neither the Wait that returns nor the next one should
// pay.
var lingerFor = 2 * time.Second

// ExitWatcher watches the exit directory of one engine for the exit files
// of the containers being waited for: one inotify watch, opened with the
// first waiter and closed lingerFor after the last one left (or by
// Close), so that nothing of it runs while no Wait does. The zero value
// knows no directory yet (Learn, Discover) and then leaves every Wait to
// the engine. It is safe for concurrent use.
type ExitWatcher struct {
	mu      sync.Mutex
	dirFile *os.File // the exit directory, open (Learn)
	dir     string   // its path through this process's file table
	misses  int      // failed discoveries
	closed  bool
	users   int // Waits using dir
	w       *fsnotify.Watcher
	done    chan struct{} // closed when w's dispatcher ended
	waiters map[string]map[chan struct{}]struct{}
	idle    *time.Timer // closes w lingerFor after the last waiter left
	// unsettled maps the ID and name of each container whose exit file
	// answered a Wait, until Settle saw it removed, to its ID
	unsettled map[string]string
	closing   sync.WaitGroup // watches being closed
}

// Dir returns the path of the exit directory (through this process's file
// table), "" while it is not known.
func (x *ExitWatcher) Dir() string {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.dir
}

// Learn makes dir, open, the exit directory, if none is known yet and the
// watcher is not closed; it owns dir from then on (and closes it at once
// otherwise).
func (x *ExitWatcher) Learn(dir *os.File) {
	if dir == nil {
		return
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.dirFile != nil || x.closed {
		dir.Close()
		return
	}
	x.dirFile, x.dir = dir, fdPath(dir)
}

// Discover calls find, while the directory is unknown and fewer than
// maxDiscoveries calls found nothing, and learns what it found.
func (x *ExitWatcher) Discover(find func() (*os.File, bool)) {
	x.mu.Lock()
	if x.dirFile != nil || x.closed || x.misses >= maxDiscoveries {
		x.mu.Unlock()
		return
	}
	x.mu.Unlock()
	dir, ok := find()
	if !ok {
		x.mu.Lock()
		x.misses++
		x.mu.Unlock()
		return
	}
	x.Learn(dir)
}

// Wait returns the exit code of container id from its exit file, or the
// answer of engineWait (the engine's own wait, given a context that ends
// when the file answered first), whichever comes first. A file already
// there answers at once, without engineWait. engineWait has returned when
// Wait returns: nothing it started is left running. With no known
// directory, or no watch possible, Wait is engineWait.
//
// A file that answers means Podman's cleanup of the container has not run
// yet: Wait remembers id, and name, for Settle.
func (x *ExitWatcher) Wait(ctx context.Context, id, name string, engineWait func(context.Context) (int, error)) (int, error) {
	dir, done := x.use()
	defer done()
	if dir == "" {
		return engineWait(ctx)
	}
	changed, stop, err := x.watch(id)
	if err != nil {
		return engineWait(ctx)
	}
	defer stop()
	if code, ok := ReadExitCode(dir, id); ok {
		x.answered(id, name)
		return code, nil
	}
	ectx, cancel := context.WithCancel(ctx)
	defer cancel()
	type answer struct {
		code int
		err  error
	}
	engine := make(chan answer, 1)
	go func() {
		code, err := engineWait(ectx)
		engine <- answer{code, err}
	}()
	for {
		select {
		case a := <-engine:
			if a.err != nil && ctx.Err() == nil {
				// the engine failed to say (a container removed on exit):
				// the file may have come meanwhile
				if code, ok := ReadExitCode(dir, id); ok {
					x.answered(id, name)
					return code, nil
				}
			}
			return a.code, a.err
		case <-changed:
			if code, ok := ReadExitCode(dir, id); ok {
				cancel()
				<-engine
				x.answered(id, name)
				return code, nil
			}
		}
	}
}

// maxUnsettled bounds the containers Settle remembers.
const maxUnsettled = 1024

// answered remembers that id's exit file answered a Wait (by id and by
// name), so that Settle waits for Podman's cleanup of it.
func (x *ExitWatcher) answered(id, name string) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.unsettled == nil || len(x.unsettled) >= maxUnsettled {
		x.unsettled = map[string]string{}
	}
	x.unsettled[id] = id
	if name != "" {
		x.unsettled[name] = id
	}
}

// SettleLimit is the longest a backend's copy waits in Settle.
const SettleLimit = 5 * time.Second

// Settle waits, for at most limit, until Podman's cleanup of the container
// nameOrID has begun, if Wait returned its exit from the exit file before
// that cleanup (which unmounts the container's storage) ran: an operation
// on its storage made in between (podman cp) can lose the mount under it.
// The cleanup removes the exit file while it holds the container's lock,
// and the operations that follow wait for that lock. Settle returns at
// once for other containers.
func (x *ExitWatcher) Settle(ctx context.Context, nameOrID string, limit time.Duration) {
	x.mu.Lock()
	id, ok := x.unsettled[nameOrID]
	x.mu.Unlock()
	if !ok {
		return
	}
	defer x.Forget(id) // settled, or never will be within limit
	dir, done := x.use()
	defer done()
	settled := func() bool {
		_, err := os.Lstat(filepath.Join(dir, id))
		return err != nil
	}
	if dir != "" && !settled() {
		changed, stop, err := x.watch(id)
		if err == nil {
			defer stop()
			t := time.NewTimer(limit)
			defer t.Stop()
			for !settled() {
				select {
				case <-changed:
				case <-t.C:
					return
				case <-ctx.Done():
					return
				}
			}
		}
	}
}

// Unsettled reports whether a Wait answered the exit of container id from
// its exit file and nothing settled it since (Settle, Forget): an
// engine's list may still say it runs (Podman's list reads the file only
// in some versions, and is made before the cleanup records the exit),
// where its inspect reads the file. A backend asks the inspect then, and
// forgets id.
func (x *ExitWatcher) Unsettled(id string) bool {
	x.mu.Lock()
	defer x.mu.Unlock()
	_, ok := x.unsettled[id]
	return ok
}

// Forget drops container id (and its name) from what Settle and Unsettled
// know.
func (x *ExitWatcher) Forget(id string) {
	x.mu.Lock()
	defer x.mu.Unlock()
	for k, v := range x.unsettled {
		if v == id {
			delete(x.unsettled, k)
		}
	}
}

// watch registers a waiter for id's exit file, opening the watch for the
// first one; stop unregisters it.
func (x *ExitWatcher) watch(id string) (changed <-chan struct{}, stop func(), err error) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.closed {
		return nil, nil, errClosed
	}
	if x.idle != nil {
		x.idle.Stop()
		x.idle = nil
	}
	if x.w == nil {
		w, err := fsnotify.NewWatcher()
		if err != nil {
			return nil, nil, err
		}
		if err := w.Add(x.dir); err != nil {
			x.closeWatch(w, nil)
			return nil, nil, err
		}
		x.w, x.done, x.waiters = w, make(chan struct{}), map[string]map[chan struct{}]struct{}{}
		go x.dispatch(w, x.done)
	}
	ch := make(chan struct{}, 1)
	if x.waiters[id] == nil {
		x.waiters[id] = map[chan struct{}]struct{}{}
	}
	x.waiters[id][ch] = struct{}{}
	return ch, func() { x.unwatch(id, ch) }, nil
}

func (x *ExitWatcher) unwatch(id string, ch chan struct{}) {
	x.mu.Lock()
	defer x.mu.Unlock()
	delete(x.waiters[id], ch)
	if len(x.waiters[id]) == 0 {
		delete(x.waiters, id)
	}
	if len(x.waiters) == 0 && x.w != nil && x.idle == nil {
		x.idle = time.AfterFunc(lingerFor, x.closeIdle)
	}
}

// closeIdle closes a watch that no waiter uses.
func (x *ExitWatcher) closeIdle() {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.idle = nil
	if len(x.waiters) > 0 || x.w == nil {
		return
	}
	x.closeWatch(x.w, x.done)
	x.w, x.done, x.waiters = nil, nil, nil
}

// closeWatch closes w, whose dispatcher (if any) ends by closing done, in
// the background (x.mu is held); Close waits for it.
func (x *ExitWatcher) closeWatch(w *fsnotify.Watcher, done chan struct{}) {
	x.closing.Add(1)
	go func() {
		defer x.closing.Done()
		_ = w.Close()
		if done != nil {
			<-done
		}
	}()
}

// Close closes the watch; Waits that follow are the engine's alone.
func (x *ExitWatcher) Close() {
	x.mu.Lock()
	x.closed = true
	if x.idle != nil {
		x.idle.Stop()
		x.idle = nil
	}
	if x.w != nil {
		x.closeWatch(x.w, x.done)
		x.w, x.done = nil, nil
	}
	if x.users == 0 {
		x.closeDir()
	} // else the last Wait in flight closes it
	x.mu.Unlock()
	x.closing.Wait()
}

// closeDir closes the exit directory; x.mu is held.
func (x *ExitWatcher) closeDir() {
	if x.dirFile != nil {
		_ = x.dirFile.Close()
		x.dirFile, x.dir = nil, ""
	}
}

// use returns the exit directory's path for a Wait, "" when none is known
// or the watcher is closed; done ends the use (the directory stays open
// while a Wait uses its path).
func (x *ExitWatcher) use() (dir string, done func()) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.dirFile == nil || x.closed {
		return "", func() {}
	}
	x.users++
	return x.dir, func() {
		x.mu.Lock()
		defer x.mu.Unlock()
		x.users--
		if x.closed && x.users == 0 {
			x.closeDir()
		}
	}
}

// errClosed is watch's error after Close.
var errClosed = errors.New("exit watcher closed")

// dispatch wakes the waiters of each file that changed, and every waiter
// when events were lost (they look again). It ends when w is closed.
func (x *ExitWatcher) dispatch(w *fsnotify.Watcher, done chan struct{}) {
	defer close(done)
	for {
		select {
		case ev, ok := <-w.Events:
			if !ok {
				return
			}
			x.wake(filepath.Base(ev.Name), false)
		case _, ok := <-w.Errors:
			if !ok {
				return
			}
			x.wake("", true)
		}
	}
}

func (x *ExitWatcher) wake(id string, all bool) {
	x.mu.Lock()
	defer x.mu.Unlock()
	notify := func(chans map[chan struct{}]struct{}) {
		for ch := range chans {
			select {
			case ch <- struct{}{}:
			default:
			}
		}
	}
	if !all {
		notify(x.waiters[id])
		return
	}
	for _, chans := range x.waiters {
		notify(chans)
	}
}
