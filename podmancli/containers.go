package podmancli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/ctrgate/ctrgate/driver"
	"github.com/ctrgate/ctrgate/internal/conmon"

	"github.com/ctrgate/ctrgate"
)

// Create creates a container from spec (`podman create`) and returns its ID.
func (r *Runtime) Create(ctx context.Context, spec ctrgate.ContainerSpec) (string, error) {
	return r.createOrRun(ctx, spec, "create")
}

var _ ctrgate.RunDriver = (*Runtime)(nil)

// Run creates and starts the container with one podman process, `podman
// run --detach` (ctrgate.RunDriver; ctrgate.Run uses it). A container
// that was created but failed to start is removed (podman writes its ID
// to the --cidfile before it starts it), and the error is Start's.
func (r *Runtime) Run(ctx context.Context, spec ctrgate.ContainerSpec) (string, error) {
	id, err := r.createOrRun(ctx, spec, "run")
	if err == nil {
		r.known.started(id, spec.AutoRemove, spec.Name)
	}
	return id, err
}

// createOrRun is Create (verb "create") or Run (verb "run").
func (r *Runtime) createOrRun(ctx context.Context, spec ctrgate.ContainerSpec, verb string) (string, error) {
	plan, err := planEnv(spec.Env)
	if err != nil {
		return "", err
	}
	args := createArgs(spec, plan)
	pre := []string{verb}
	if len(plan.fileEntries) > 0 {
		path, cleanup, err := writeEnvFile(plan.fileEntries)
		if err != nil {
			return "", ctrgate.NewEngineError(BackendName, ctrgate.OpCreate, spec.Name, nil, "cannot write env file", err, nil)
		}
		defer cleanup()
		pre = append(pre, "--env-file", path)
	}
	var cidfile string
	if verb == "run" {
		dir, err := os.MkdirTemp("", "ctrgate-run-")
		if err != nil {
			return "", ctrgate.NewEngineError(BackendName, ctrgate.OpCreate, spec.Name, nil, "cannot make a temporary directory", err, nil)
		}
		defer os.RemoveAll(dir)
		cidfile = filepath.Join(dir, "cid")
		pre = append(pre, "--detach", "--cidfile", cidfile)
	}
	args = append(pre, args[1:]...)
	target := spec.Name
	if target == "" {
		target = spec.Image
	}
	res, err := r.call(ctx, ctrgate.OpCreate, target, args, runOpts{env: plan.childEnv, maxStdout: maxIDOutput})
	if err != nil {
		if cidfile != "" {
			if b, rerr := os.ReadFile(cidfile); rerr == nil && containerIDPattern.Match(bytes.TrimSpace(b)) {
				// created, not started: removed, and the error is Start's
				id := string(bytes.TrimSpace(b))
				rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
				defer cancel()
				_ = r.Remove(rctx, id, ctrgate.RemoveOptions{Force: true, Volumes: true})
				return "", driver.WithOp(err, ctrgate.OpStart)
			}
		}
		return "", err
	}
	return containerID(ctrgate.OpCreate, target, res)
}

// maxIDOutput bounds what is read of the stdout of a podman command that
// prints a container ID (64 hex digits and a newline).
const maxIDOutput = 4096

// containerIDPattern is a full container ID as podman prints it.
var containerIDPattern = regexp.MustCompile(`^[0-9a-f]{64}$`)

// containerID returns the container ID that podman printed (create, run
// -d): its whole stdout, trimmed, must be one full ID. Anything else (no
// output, a short ID, other text, more than maxIDOutput bytes) is an
// *EngineError: a garbage "ID" must never reach the caller.
func containerID(op, target string, res *result) (string, error) {
	out := strings.TrimSpace(string(res.stdout))
	switch {
	case res.stdoutOverflow:
		return "", ctrgate.NewEngineError(BackendName, op, target, nil,
			fmt.Sprintf("podman printed more than %d bytes where a container ID was expected", maxIDOutput), nil, nil)
	case out == "":
		return "", ctrgate.NewEngineError(BackendName, op, target, nil, "podman printed no container ID", nil, nil)
	case !containerIDPattern.MatchString(out):
		shown := out
		if len(shown) > 80 {
			shown = shown[:80] + "..."
		}
		return "", ctrgate.NewEngineError(BackendName, op, target, nil,
			fmt.Sprintf("podman printed %q where a container ID (64 hex digits) was expected", shown), nil, nil)
	}
	return out, nil
}

// lastLine returns the last non-empty line of out.
func lastLine(out []byte) string {
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}

// Start starts the container (`podman start`).
func (r *Runtime) Start(ctx context.Context, name string) error {
	_, err := r.call(ctx, ctrgate.OpStart, name, []string{"start", "--", name}, runOpts{})
	if err == nil {
		r.known.restarted(name)
	}
	return err
}

// Stop stops the container (`podman stop -t N`); see ctrgate.ContainerRuntime.
func (r *Runtime) Stop(ctx context.Context, name string, timeout time.Duration) error {
	args := []string{"stop"}
	if timeout >= 0 {
		args = append(args, "--time", strconv.Itoa(seconds(timeout)))
	}
	args = append(args, "--", name)
	_, err := r.call(ctx, ctrgate.OpStop, name, args, runOpts{})
	return err
}

// Kill sends a signal to the container (`podman kill -s N`).
func (r *Runtime) Kill(ctx context.Context, name string, signal string) error {
	sig, err := ctrgate.ParseSignal(signal)
	if err != nil {
		return err
	}
	_, err = r.call(ctx, ctrgate.OpKill, name, []string{"kill", "--signal", strconv.Itoa(int(sig)), "--", name}, runOpts{})
	return err
}

// Remove deletes the container (`podman rm`).
func (r *Runtime) Remove(ctx context.Context, name string, opts ctrgate.RemoveOptions) error {
	args := []string{"rm"}
	if opts.Force {
		args = append(args, "--force", "--time", "0")
		// Podman leaves a container whose `podman stop` was interrupted
		// "stopping"; `rm --force` then deletes the container and leaves the
		// process running. A kill first ends the process in every state
		// (a failure only means there is nothing to kill); not needed for
		// a container whose exit this runtime saw.
		if k, ok := r.known.lookup(name); !ok || !k.exited {
			_, _ = r.run(ctx, ctrgate.OpRemove, name, []string{"kill", "--signal", "KILL", "--", name}, runOpts{})
		}
	}
	defer r.known.forget(name)
	if opts.Volumes {
		args = append(args, "--volumes")
	}
	args = append(args, "--", name)
	res, err := r.call(ctx, ctrgate.OpRemove, name, args, runOpts{})
	if err != nil {
		return err
	}
	if opts.Force && len(bytes.TrimSpace(res.stdout)) == 0 {
		// podman rm --force ignores a missing container and prints nothing
		return ctrgate.NewEngineError(BackendName, ctrgate.OpRemove, name, ctrgate.ErrNotFound,
			fmt.Sprintf("no container with name or ID %q", name), nil, nil)
	}
	return nil
}

// Inspect describes the container (`podman container inspect`).
func (r *Runtime) Inspect(ctx context.Context, name string) (*ctrgate.Container, error) {
	res, err := r.call(ctx, ctrgate.OpInspect, name, []string{"container", "inspect", "--format", "json", "--", name}, runOpts{})
	if err != nil {
		return nil, err
	}
	cs, err := parseInspect(res.stdout)
	if err != nil {
		return nil, ctrgate.NewEngineError(BackendName, ctrgate.OpInspect, name, nil, "", err, nil)
	}
	if len(cs) != 1 {
		return nil, ctrgate.NewEngineError(BackendName, ctrgate.OpInspect, name, ctrgate.ErrNotFound,
			fmt.Sprintf("podman returned %d containers", len(cs)), nil, nil)
	}
	r.learnExitDir(&cs[0])
	return &cs[0], nil
}

// learnExitDir learns conmon's exit directory from the conmon of a running
// container c, while it is not known.
func (r *Runtime) learnExitDir(c *ctrgate.Container) {
	if r.exitFiles && c.State.Pid > 0 {
		r.exits.Discover(func() (*os.File, bool) { return conmon.ExitDirOfParent(c.State.Pid, c.ID) })
	}
}

// inspectLog is Inspect that also returns the path of the container's
// k8s-file log when podman writes one that this process can read on this
// machine ("" otherwise).
func (r *Runtime) inspectLog(ctx context.Context, name string) (*ctrgate.Container, string, error) {
	res, err := r.call(ctx, ctrgate.OpInspect, name, []string{"container", "inspect", "--format", "json", "--", name}, runOpts{})
	if err != nil {
		return nil, "", err
	}
	cs, err := parseInspect(res.stdout)
	if err != nil {
		return nil, "", ctrgate.NewEngineError(BackendName, ctrgate.OpInspect, name, nil, "", err, nil)
	}
	if len(cs) != 1 {
		return nil, "", ctrgate.NewEngineError(BackendName, ctrgate.OpInspect, name, ctrgate.ErrNotFound,
			fmt.Sprintf("podman returned %d containers", len(cs)), nil, nil)
	}
	return &cs[0], parseLogFile(res.stdout, cs[0].ID), nil
}

// listArgs builds the one `podman ps` call of List.
func listArgs(f ctrgate.ListFilter) []string {
	args := []string{"ps", "--format", "json"}
	if f.All {
		args = append(args, "--all")
	}
	if f.NamePrefix != "" {
		args = append(args, "--filter", "name=^"+regexp.QuoteMeta(f.NamePrefix))
	}
	for _, l := range engineLabelFilters(f.Labels) {
		args = append(args, "--filter", "label="+l)
	}
	return args
}

// engineLabelFilters returns the label filters ("k" or "k=v") that podman
// can apply itself. Podman 4.x reads each --filter value as a CSV record
// (pflag's StringSlice): it splits a value at its commas ("invalid filter"
// or a wrong filter), refuses a '"' in it and cuts it at a line break. The
// labels holding one of those are left to List, which checks every label
// on podman's answer anyway.
func engineLabelFilters(labels map[string]string) []string {
	var out []string
	for _, l := range driver.LabelFilters(labels) {
		if !strings.ContainsAny(l, ",\"\r\n") {
			out = append(out, l)
		}
	}
	return out
}

// List returns the matching containers in one `podman ps` call; the filter
// is applied again (literally) to podman's answer, so that the labels
// podman cannot filter (see engineLabelFilters) are filtered here.
func (r *Runtime) List(ctx context.Context, filter ctrgate.ListFilter) ([]ctrgate.Container, error) {
	for k := range filter.Labels {
		if k == "" || strings.ContainsAny(k, "=\x00") {
			return nil, &ctrgate.SpecError{Field: "Labels", Reason: fmt.Sprintf("invalid label key %q", k)}
		}
	}
	res, err := r.call(ctx, ctrgate.OpList, "", listArgs(filter), runOpts{})
	if err != nil {
		return nil, err
	}
	cs, err := parsePS(res.stdout)
	if err != nil {
		return nil, ctrgate.NewEngineError(BackendName, ctrgate.OpList, "", nil, "", err, nil)
	}
	out := make([]ctrgate.Container, 0, len(cs))
	for _, c := range cs {
		if c.State.Running() && r.exits.Unsettled(c.ID) {
			// Wait read its exit from conmon's file: podman's list may lag
			// behind it, its inspect reads the file
			fresh, err := r.Inspect(ctx, c.ID)
			if err == nil {
				c.State = fresh.State
				r.exits.Forget(c.ID)
			} else if errors.Is(err, ctrgate.ErrNotFound) {
				r.exits.Forget(c.ID)
				continue // gone meanwhile
			}
		}
		if filter.Matches(c.Name, c.Labels, c.State.Running()) {
			out = append(out, c)
		}
	}
	return out, nil
}

// Wait blocks until the container's main process exits and returns its exit
// code. `podman wait` returns at once for a created container (Podman 4.3
// treats "created" as stopped, and "--condition running" misses a container
// that runs shorter than its polling interval), so for a created container
// Wait first waits for its start with driver.AwaitStart (on the event
// stream); then `podman wait` reports the exit code. A container removed on
// exit (--rm) before podman could read its code is looked up in the event
// log.
func (r *Runtime) Wait(ctx context.Context, name string) (int, error) {
	since := time.Now().Add(-time.Second)
	if k, ok := r.known.lookup(name); ok {
		// run here: its exit file or `podman wait` at once, no inspect first
		code, err := r.waitExit(ctx, name, k.id)
		if err == nil {
			r.known.exited(name)
			return code, nil
		}
		if !errors.Is(err, ctrgate.ErrNotFound) || ctx.Err() != nil {
			return 0, err
		}
		if k.autoRemove {
			// removed on exit, as it was run to be: the name may name
			// another container by now, this one's code is in the event log
			return r.exitFromEvents(ctx, name, k.id, k.runAt.Add(-time.Second))
		}
		r.known.forget(name) // gone or replaced: look it up
	}
	c, err := r.inspectForWait(ctx, name)
	if err != nil {
		return 0, err
	}
	id := c.ID
	if c.State.Status == ctrgate.StateCreated && c.State.StartedAt.IsZero() {
		if _, err := driver.AwaitStart(ctx, r, id); err != nil {
			if ctx.Err() == nil && errors.Is(err, ctrgate.ErrNotFound) {
				return r.exitFromEvents(ctx, name, id, since)
			}
			return 0, startErr(ctx, ctrgate.OpWait, name, err)
		}
	}
	code, err := r.waitExit(ctx, name, id)
	if errors.Is(err, ctrgate.ErrNotFound) && ctx.Err() == nil {
		return r.exitFromEvents(ctx, name, id, since)
	}
	return code, err
}

// waitExit waits for the exit of container id (name in errors): on its
// conmon exit file when this runtime can read the engine's (see
// conmon.ExitWatcher: about a millisecond after the exit, where Podman
// learns of it 100–250 ms later), racing `podman wait`, which answers alone
// otherwise.
func (r *Runtime) waitExit(ctx context.Context, name, id string) (int, error) {
	if r.exitFiles {
		r.exits.Discover(func() (*os.File, bool) { return conmon.FindExitDir(id) })
	}
	return r.exits.Wait(ctx, id, name, func(ctx context.Context) (int, error) { return r.podmanWait(ctx, name, id) })
}

// podmanWait runs `podman wait` on container id (name in errors) and
// returns its exit code.
func (r *Runtime) podmanWait(ctx context.Context, name, id string) (int, error) {
	// Podman's wait can fail while the container is exiting: look again
	// (driver.RetryTransientWait).
	var res *result
	_, err := driver.RetryTransientWait(ctx, func() (int, error) {
		var err error
		res, err = r.run(ctx, ctrgate.OpWait, name, []string{"wait", "--interval", waitInterval, "--", id}, runOpts{})
		if err == nil && res.code != 0 {
			err = r.failure(ctrgate.OpWait, name, res)
		}
		return 0, err
	})
	if err != nil {
		return 0, err
	}
	code, err := strconv.Atoi(lastLine(res.stdout))
	if err != nil {
		return 0, ctrgate.NewEngineError(BackendName, ctrgate.OpWait, name, nil,
			fmt.Sprintf("unexpected podman wait output %q", lastLine(res.stdout)), err, nil)
	}
	return code, nil
}

// waitInterval is how often `podman wait` looks at the container (its
// default: 250 ms); Podman itself learns of an exit only by looking.
const waitInterval = "10ms"

// inspectForWait is Inspect for Wait: its errors are Wait's.
func (r *Runtime) inspectForWait(ctx context.Context, name string) (*ctrgate.Container, error) {
	c, err := r.Inspect(ctx, name)
	return c, driver.WithOp(err, ctrgate.OpWait)
}

// startErr turns an error of driver.AwaitStart into one of op: a
// context error when ctx is done, else an *EngineError whose Op is op.
func startErr(ctx context.Context, op, name string, err error) error {
	if cerr := ctx.Err(); cerr != nil {
		return ctxError(op, name, cerr)
	}
	if _, ok := err.(*ctrgate.EngineError); ok {
		return driver.WithOp(err, op)
	}
	return ctrgate.NewEngineError(BackendName, op, name, nil, "", err, nil)
}

// exitFromEvents finds the exit code of container id in the events logged
// since since (for containers removed on exit).
func (r *Runtime) exitFromEvents(ctx context.Context, name, id string, since time.Time) (int, error) {
	args := []string{"events", "--stream=false", "--format", "json", "--filter", "type=container",
		"--filter", "container=" + id, "--filter", "event=died",
		"--since", since.UTC().Format(time.RFC3339Nano), "--until", time.Now().Add(time.Second).UTC().Format(time.RFC3339Nano)}
	for attempt := 0; attempt < 20; attempt++ {
		res, err := r.call(ctx, ctrgate.OpWait, name, args, runOpts{})
		if err != nil {
			return 0, err
		}
		code, found := -1, false
		for _, l := range bytes.Split(res.stdout, []byte("\n")) {
			if len(bytes.TrimSpace(l)) == 0 {
				continue
			}
			ev, ok, err := parseEvent(l)
			if err == nil && ok && ev.Type == ctrgate.EventDie && (ev.ID == id || ev.Name == name) {
				code, found = ev.ExitCode, true
			}
		}
		if found {
			return code, nil
		}
		select {
		case <-ctx.Done():
			return 0, ctxError(ctrgate.OpWait, name, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
		args[len(args)-1] = time.Now().Add(time.Second).UTC().Format(time.RFC3339Nano)
	}
	return 0, ctrgate.NewEngineError(BackendName, ctrgate.OpWait, name, ctrgate.ErrNotFound,
		"container was removed and its exit code is not in the event log", nil, nil)
}
