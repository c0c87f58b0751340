package podmanapi

import (
	"context"
	"errors"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/ctrgate/ctrgate/driver"
	"github.com/ctrgate/ctrgate/internal/conmon"

	"github.com/containers/podman/v5/libpod/define"
	"github.com/containers/podman/v5/pkg/bindings/containers"

	"github.com/ctrgate/ctrgate"
)

// Create validates spec, makes its image available according to
// spec.PullPolicy and creates the container. It returns the container ID.
func (r *Runtime) Create(ctx context.Context, spec ctrgate.ContainerSpec) (string, error) {
	g, err := toSpecGen(spec, r.version)
	if err != nil {
		return "", err
	}
	target := spec.Name
	if target == "" {
		target = spec.Image
	}
	c, cancel, err := r.call(ctx, ctrgate.OpCreate, target)
	if err != nil {
		return "", err
	}
	defer cancel()
	if err := r.pull(c, spec.Image, spec.PullPolicy); err != nil {
		return "", driver.WithOp(err, ctrgate.OpCreate)
	}
	resp, err := containers.CreateWithSpec(c, g, nil)
	if err != nil {
		return "", wrapErr(c, ctrgate.OpCreate, target, err, spec.GPUs.Requested())
	}
	return resp.ID, nil
}

// Start starts a created or exited container; a running one is left alone.
func (r *Runtime) Start(ctx context.Context, name string) error {
	c, cancel, err := r.call(ctx, ctrgate.OpStart, name)
	if err != nil {
		return err
	}
	defer cancel()
	if err := containers.Start(c, name, nil); err != nil {
		return wrapErr(c, ctrgate.OpStart, name, err, false)
	}
	return nil
}

// Stop stops the container (stop signal, then SIGKILL after timeout) and
// returns once it has exited. See ctrgate.ContainerRuntime.Stop.
func (r *Runtime) Stop(ctx context.Context, name string, timeout time.Duration) error {
	c, cancel, err := r.call(ctx, ctrgate.OpStop, name)
	if err != nil {
		return err
	}
	defer cancel()
	opts := &containers.StopOptions{}
	if timeout >= 0 {
		t := durationSeconds(timeout)
		opts.Timeout = &t
	}
	err = containers.Stop(c, name, opts)
	if err == nil {
		return nil
	}
	if _, msg, ok := apiError(err); ok && strings.Contains(strings.ToLower(msg), "state improper") {
		// not running (created, exited, being removed): nothing to stop
		if d, ierr := containers.Inspect(c, name, nil); ierr == nil && d.State != nil && !d.State.Running && !d.State.Paused {
			return nil
		}
	}
	return wrapErr(c, ctrgate.OpStop, name, err, false)
}

// Kill sends signal to the container's main process without waiting.
func (r *Runtime) Kill(ctx context.Context, name string, signal string) error {
	sig, err := ctrgate.ParseSignal(signal)
	if err != nil {
		return err
	}
	c, cancel, err := r.call(ctx, ctrgate.OpKill, name)
	if err != nil {
		return err
	}
	defer cancel()
	s := ctrgate.SignalName(sig)
	if err := containers.Kill(c, name, &containers.KillOptions{Signal: &s}); err != nil {
		return wrapErr(c, ctrgate.OpKill, name, err, false)
	}
	return nil
}

// Remove deletes the container; see ctrgate.ContainerRuntime.Remove.
func (r *Runtime) Remove(ctx context.Context, name string, opts ctrgate.RemoveOptions) error {
	c, cancel, err := r.call(ctx, ctrgate.OpRemove, name)
	if err != nil {
		return err
	}
	defer cancel()
	o := &containers.RemoveOptions{Force: boolPtr(opts.Force), Volumes: boolPtr(opts.Volumes)}
	if opts.Force {
		zero := uint(0) // kill at once, no grace period
		o.Timeout = &zero
		// Podman leaves a container whose stop was interrupted "stopping";
		// its forced removal then deletes the container and leaves the
		// process running. A kill first ends the process in every state
		// (an error only means there is nothing to kill).
		_ = containers.Kill(c, name, new(containers.KillOptions).WithSignal("KILL"))
	}
	reports, err := containers.Remove(c, name, o)
	if err != nil {
		return wrapErr(c, ctrgate.OpRemove, name, err, false)
	}
	for _, rep := range reports {
		if rep != nil && rep.Err != nil {
			return wrapErr(c, ctrgate.OpRemove, name, rep.Err, false)
		}
	}
	return nil
}

// Inspect returns the container's current description.
func (r *Runtime) Inspect(ctx context.Context, name string) (*ctrgate.Container, error) {
	c, cancel, err := r.call(ctx, ctrgate.OpInspect, name)
	if err != nil {
		return nil, err
	}
	defer cancel()
	d, err := containers.Inspect(c, name, nil)
	if err != nil {
		return nil, wrapErr(c, ctrgate.OpInspect, name, err, false)
	}
	r.learnExitDir(d)
	out := fromInspect(d)
	return &out, nil
}

// learnExitDir learns conmon's exit directory from the conmon of a running
// container d of a local service, while it is not known.
func (r *Runtime) learnExitDir(d *define.InspectContainerData) {
	if r.local && d.State != nil && d.State.ConmonPid > 0 {
		r.exits.Discover(func() (*os.File, bool) { return conmon.ExitDirOf(d.State.ConmonPid, d.ID) })
	}
}

// listFilters renders a ListFilter as libpod filters: the name prefix as
// an anchored, quoted regular expression and one label filter per label.
func listFilters(f ctrgate.ListFilter) map[string][]string {
	filters := map[string][]string{}
	if f.NamePrefix != "" {
		filters["name"] = []string{"^" + regexp.QuoteMeta(f.NamePrefix)}
	}
	if len(f.Labels) > 0 {
		filters["label"] = driver.LabelFilters(f.Labels)
	}
	return filters
}

// List returns the containers that match filter, in one API call.
func (r *Runtime) List(ctx context.Context, filter ctrgate.ListFilter) ([]ctrgate.Container, error) {
	for k := range filter.Labels {
		if k == "" || strings.ContainsAny(k, "=\x00") {
			return nil, &ctrgate.SpecError{Field: "Labels", Reason: "invalid label key " + strconv.Quote(k)}
		}
	}
	c, cancel, err := r.call(ctx, ctrgate.OpList, filter.NamePrefix)
	if err != nil {
		return nil, err
	}
	defer cancel()
	all := filter.All
	list, err := containers.List(c, &containers.ListOptions{All: &all, Filters: listFilters(filter)})
	if err != nil {
		return nil, wrapErr(c, ctrgate.OpList, filter.NamePrefix, err, false)
	}
	out := make([]ctrgate.Container, 0, len(list))
	for _, lc := range list {
		ct := fromList(lc)
		if ct.State.Running() && r.exits.Unsettled(ct.ID) {
			// Wait read its exit from conmon's file: the service's list may
			// lag behind it, its inspect reads the file
			d, err := containers.Inspect(c, ct.ID, nil)
			if err == nil {
				ct.State = fromInspect(d).State
				r.exits.Forget(ct.ID)
			} else if errors.Is(wrapErr(c, ctrgate.OpList, ct.ID, err, false), ctrgate.ErrNotFound) {
				r.exits.Forget(ct.ID)
				continue // gone meanwhile
			}
		}
		if filter.Matches(ct.Name, ct.Labels, ct.State.Running()) {
			out = append(out, ct)
		}
	}
	return out, nil
}

// Wait blocks until the container's main process exits and returns its
// exit code.
//
// A Podman 4.x service answers a wait on a created, never started
// container at once with code 0 (it counts "created" as stopped), and its
// "running" condition polls and misses short runs. Wait therefore waits
// for the start of a never-started container with driver.AwaitStart (on
// the event stream), then waits for the exit with the default condition,
// which returns the recorded code of a container that has already exited.
func (r *Runtime) Wait(ctx context.Context, name string) (int, error) {
	c, cancel, err := r.call(ctx, ctrgate.OpWait, name)
	if err != nil {
		return -1, err
	}
	defer cancel()
	d, err := containers.Inspect(c, name, nil)
	if err != nil {
		return -1, wrapErr(c, ctrgate.OpWait, name, err, false)
	}
	id, created := d.ID, d.Created
	r.learnExitDir(d)
	if d.State != nil && neverStarted(d.State) {
		if _, err := driver.AwaitStart(c, r, id); err != nil {
			if c.Err() == nil && errors.Is(err, ctrgate.ErrNotFound) {
				if code, ok := r.diedExitCode(c, id, created); ok {
					return code, nil
				}
			}
			return -1, startErr(c, ctrgate.OpWait, name, err)
		}
	}
	// The service learns of an exit by looking at conmon's exit file (its
	// "died" event comes later still, from the cleanup process), every
	// waitInterval rather than its default 250 ms, and after the cleanup
	// released the container: 100–150 ms after the exit. A local service's
	// exit file is watched (conmon.ExitWatcher) and answers within about
	// a millisecond. Podman's wait can fail while the container is
	// exiting: look again (driver.RetryTransientWait).
	code, err := r.exits.Wait(c, id, name, func(c context.Context) (int, error) {
		return driver.RetryTransientWait(c, func() (int, error) {
			code, err := containers.Wait(c, id, new(containers.WaitOptions).WithInterval(waitInterval))
			return int(code), err
		})
	})
	if err != nil {
		if code, ok := r.exitAfterRemoval(c, id, created, err); ok {
			return code, nil
		}
		return -1, wrapErr(c, ctrgate.OpWait, name, err, false)
	}
	return code, nil
}

// waitInterval is how often the service looks at a waited-for container
// (Podman's default: 250 ms).
const waitInterval = "10ms"

// startErr turns an error of driver.AwaitStart (called with the call
// context c) into one of op: a context or "closed" error when c is done,
// else an *EngineError whose Op is op.
func startErr(c context.Context, op, name string, err error) error {
	if c.Err() != nil {
		return wrapErr(c, op, name, c.Err(), false)
	}
	if _, ok := err.(*ctrgate.EngineError); ok {
		return driver.WithOp(err, op)
	}
	return ctrgate.NewEngineError(BackendName, op, name, nil, "", err, nil)
}

// neverStarted reports whether a container is still in its created state.
func neverStarted(st *define.InspectContainerState) bool {
	if st.Running || st.Paused || !nonZeroTime(st.StartedAt).IsZero() {
		return false
	}
	switch ctrgate.ParseState(st.Status) {
	case ctrgate.StateCreated:
		return true
	}
	return false
}

// exitAfterRemoval handles a container removed while being waited for
// (AutoRemove): the "died" event in the service's event log still has the
// exit code. ok is false when it cannot be told.
func (r *Runtime) exitAfterRemoval(ctx context.Context, id string, created time.Time, werr error) (int, bool) {
	if ctx.Err() != nil || !errors.Is(wrapErr(ctx, ctrgate.OpWait, id, werr, false), ctrgate.ErrNotFound) {
		return 0, false
	}
	return r.diedExitCode(ctx, id, created)
}
