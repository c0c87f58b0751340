package docker

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/ctrgate/ctrgate/driver"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"

	"github.com/ctrgate/ctrgate"
	"github.com/ctrgate/ctrgate/logstream"
)

// Create validates spec, makes its image available according to
// spec.PullPolicy and creates the container. See
// ctrgate.ContainerRuntime.Create.
func (r *Runtime) Create(ctx context.Context, spec ctrgate.ContainerSpec) (string, error) {
	ctx, cancel, err := r.begin(ctx, ctrgate.OpCreate, spec.Name)
	if err != nil {
		return "", err
	}
	defer cancel()
	f, err := r.engine(ctx)
	if err != nil {
		return "", r.mapErr(ctx, ctrgate.OpCreate, spec.Name, err)
	}
	if spec.GPUs.Requested() && f.noGPU != "" {
		return "", ctrgate.NewGPUConfigError(BackendName, f.noGPU,
			ctrgate.NewEngineError(BackendName, ctrgate.OpCreate, spec.Name, ctrgate.ErrUnsupported, f.noGPU, nil, nil), nil)
	}
	cfg, hc, nc, err := toCreateConfig(spec, engineFeatures{podman: f.podman, cdi: f.cdi, apiVersion: r.apiVersion})
	if err != nil {
		return "", err
	}
	if err := r.ensureImage(ctx, spec.Image, spec.PullPolicy); err != nil {
		return "", driver.WithOp(err, ctrgate.OpCreate)
	}
	if err := r.checkBindSources(spec, f.podman); err != nil {
		return "", err
	}
	if cfg.Labels == nil {
		cfg.Labels = map[string]string{}
	}
	cfg.Labels[ImageLabel] = spec.Image
	resp, err := r.cli.ContainerCreate(ctx, cfg, hc, nc, nil, spec.Name)
	if err != nil {
		return "", r.mapErr(ctx, ctrgate.OpCreate, spec.Name, err)
	}
	return resp.ID, nil
}

// checkBindSources refuses a bind mount whose host source does not exist,
// before the engine is asked: Podman's Docker-compatible API creates the
// missing directory on the host (where podman-cli and podman-api are
// refused), and so does Docker for a relabelled bind (the legacy Binds
// syntax), while Docker's Mounts API refuses it. The error is the one of
// the engine's own family: on Podman the podman backends' (no sentinel,
// "statfs SOURCE: no such file or directory"), on Docker its Mounts API's
// (ErrInvalidSpec). The source can only be looked up when the engine is on
// this machine (r.local); it counts as present when it exists as given or
// below $CTRGATE_ENGINE_ROOT (an engine in a mount namespace of its own),
// or when it cannot be looked up (the engine decides then). An engine in a
// VM behind a unix socket (Docker Desktop, podman machine) has a file
// system of its own: a path only it has is refused here.
func (r *Runtime) checkBindSources(spec ctrgate.ContainerSpec, podman bool) error {
	if !r.local {
		return nil
	}
	for _, m := range spec.Mounts {
		if m.Type != ctrgate.MountBind || hostPathMayExist(m.Source) {
			continue
		}
		if podman {
			return ctrgate.NewEngineError(BackendName, ctrgate.OpCreate, spec.Name, nil,
				"statfs "+m.Source+": no such file or directory", nil, nil)
		}
		return ctrgate.NewEngineError(BackendName, ctrgate.OpCreate, spec.Name, ctrgate.ErrInvalidSpec,
			`invalid mount config for type "bind": bind source path does not exist: `+m.Source, nil, nil)
	}
	return nil
}

// hostPathMayExist reports whether path is not known to be missing on this
// machine: as given, or below $CTRGATE_ENGINE_ROOT when that is set.
func hostPathMayExist(path string) bool {
	candidates := []string{path}
	if root := os.Getenv(logstream.EnvEngineRoot); root != "" {
		candidates = append(candidates, filepath.Join(root, path))
	}
	for _, p := range candidates {
		if _, err := os.Stat(p); !errors.Is(err, fs.ErrNotExist) {
			return true
		}
	}
	return false
}

// Start starts a created or exited container; a running one is left alone.
func (r *Runtime) Start(ctx context.Context, name string) error {
	ctx, cancel, err := r.begin(ctx, ctrgate.OpStart, name)
	if err != nil {
		return err
	}
	defer cancel()
	if err := r.cli.ContainerStart(ctx, name, container.StartOptions{}); err != nil {
		return r.mapErr(ctx, ctrgate.OpStart, name, err)
	}
	return nil
}

// Stop stops the container (stop signal, then SIGKILL after timeout; a
// negative timeout means the container's own stop timeout) and returns once
// it has exited. Stopping a container that is not running is a no-op.
func (r *Runtime) Stop(ctx context.Context, name string, timeout time.Duration) error {
	opts := container.StopOptions{}
	if timeout >= 0 {
		secs := durationSeconds(timeout)
		opts.Timeout = &secs
	}
	ctx, cancel, err := r.begin(ctx, ctrgate.OpStop, name)
	if err != nil {
		return err
	}
	defer cancel()
	if err := r.cli.ContainerStop(ctx, name, opts); err != nil {
		return r.mapErr(ctx, ctrgate.OpStop, name, err)
	}
	// The engine answers once the container is down; make sure of it.
	in, err := r.cli.ContainerInspect(ctx, name)
	if err != nil {
		merr := r.mapErr(ctx, ctrgate.OpStop, name, err)
		if errors.Is(merr, ctrgate.ErrNotFound) {
			return nil // auto-removed after it stopped
		}
		return merr
	}
	if in.State != nil && (in.State.Running || in.State.Restarting) {
		if _, err := r.waitNotRunning(ctx, name); err != nil && !errors.Is(err, ctrgate.ErrNotFound) {
			return err
		}
	}
	return nil
}

// Kill sends a signal (name or number; "" is SIGKILL) without waiting.
func (r *Runtime) Kill(ctx context.Context, name string, signal string) error {
	sig, err := ctrgate.ParseSignal(signal)
	if err != nil {
		return err
	}
	ctx, cancel, err := r.begin(ctx, ctrgate.OpKill, name)
	if err != nil {
		return err
	}
	defer cancel()
	if err := r.cli.ContainerKill(ctx, name, ctrgate.SignalName(sig)); err != nil {
		return r.mapErr(ctx, ctrgate.OpKill, name, err)
	}
	return nil
}

// Remove deletes the container; a running one only with opts.Force.
func (r *Runtime) Remove(ctx context.Context, name string, opts ctrgate.RemoveOptions) error {
	ctx, cancel, err := r.begin(ctx, ctrgate.OpRemove, name)
	if err != nil {
		return err
	}
	defer cancel()
	ropts := container.RemoveOptions{Force: opts.Force, RemoveVolumes: opts.Volumes}
	podman := false
	if opts.Force {
		f, err := r.engine(ctx)
		if err != nil {
			return r.mapErr(ctx, ctrgate.OpRemove, name, err)
		}
		podman = f.podman
	}
	if podman {
		// Podman leaves a container whose stop was interrupted "stopping";
		// its forced removal then deletes the container and leaves the
		// process running. A kill first ends the process in every state
		// (an error only means there is nothing to kill).
		_ = r.cli.ContainerKill(ctx, name, "KILL")
	}
	err = r.cli.ContainerRemove(ctx, name, ropts)
	// Podman's compatibility API fails a forced removal of a container that
	// is exiting at that moment ("could not be stopped: ... container state
	// improper: stopped"); it succeeds once the exit is recorded.
	for delay := 50 * time.Millisecond; err != nil && opts.Force && isExitRace(err) && delay < 2*time.Second; delay *= 2 {
		if serr := sleepCtx(ctx, delay); serr != nil {
			break
		}
		err = r.cli.ContainerRemove(ctx, name, ropts)
	}
	if err == nil {
		return nil
	}
	if strings.Contains(err.Error(), "already in progress") {
		// An auto-remove or a concurrent Remove is deleting it: wait for that.
		if werr := r.waitRemoved(ctx, name); werr != nil {
			return werr
		}
		return nil
	}
	return r.mapErr(ctx, ctrgate.OpRemove, name, err)
}

// waitRemoved polls until the container is gone.
func (r *Runtime) waitRemoved(ctx context.Context, name string) error {
	for delay := 20 * time.Millisecond; ; delay = min(delay*2, 500*time.Millisecond) {
		_, err := r.cli.ContainerInspect(ctx, name)
		if err != nil {
			me := r.mapErr(ctx, ctrgate.OpRemove, name, err)
			if errors.Is(me, ctrgate.ErrNotFound) {
				return nil
			}
			return me
		}
		if err := sleepCtx(ctx, delay); err != nil {
			return r.mapErr(ctx, ctrgate.OpRemove, name, err)
		}
	}
}

// Inspect returns the container's description.
func (r *Runtime) Inspect(ctx context.Context, name string) (*ctrgate.Container, error) {
	ctx, cancel, err := r.begin(ctx, ctrgate.OpInspect, name)
	if err != nil {
		return nil, err
	}
	defer cancel()
	in, err := r.cli.ContainerInspect(ctx, name)
	if err != nil {
		return nil, r.mapErr(ctx, ctrgate.OpInspect, name, err)
	}
	return fromInspect(in), nil
}

// listNamePattern is the regular expression for Docker's name filter that
// selects names starting with prefix. The filter is an unanchored regular
// expression over names that carry a leading "/" (Docker) or not (Podman).
func listNamePattern(prefix string) string {
	return "^/?" + regexp.QuoteMeta(prefix)
}

// exitedStatus finds the exit code in a list entry's status text
// ("Exited (137) 5 seconds ago"): the list API has no field for it.
var exitedStatus = regexp.MustCompile(`^Exited \((-?\d+)\)`)

// ImageLabel is the label Create adds to every container: the image
// reference as given. Docker's list API reports the image ID instead of the
// reference once the tag has moved to another image; with this label List
// still reports the reference, in one round trip. List, Inspect and Events
// leave it out of Container.Labels.
const ImageLabel = "io.ctrgate.image"

// userLabels copies labels without ImageLabel (never nil).
func userLabels(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		if k != ImageLabel {
			out[k] = v
		}
	}
	return out
}

// List returns the matching containers in one ContainerList call. The name
// prefix and labels are filtered by the engine and checked again here
// (literally), so regular-expression characters in prefixes do no harm.
// State.ExitCode of exited containers comes from the list entry's status
// text, the only place the list API reports it.
func (r *Runtime) List(ctx context.Context, filter ctrgate.ListFilter) ([]ctrgate.Container, error) {
	ctx, cancel, err := r.begin(ctx, ctrgate.OpList, filter.NamePrefix)
	if err != nil {
		return nil, err
	}
	defer cancel()
	args := filters.NewArgs()
	if filter.NamePrefix != "" {
		args.Add("name", listNamePattern(filter.NamePrefix))
	}
	for _, l := range driver.LabelFilters(filter.Labels) {
		args.Add("label", l)
	}
	list, err := r.cli.ContainerList(ctx, container.ListOptions{All: filter.All, Filters: args})
	if err != nil {
		return nil, r.mapErr(ctx, ctrgate.OpList, filter.NamePrefix, err)
	}
	out := []ctrgate.Container{}
	for _, s := range list {
		name := summaryName(s.Names)
		st := ctrgate.ParseState(string(s.State))
		running := st == ctrgate.StateRunning || st == ctrgate.StatePaused || st == ctrgate.StateRestarting
		if !filter.Matches(name, s.Labels, running) {
			continue
		}
		c := ctrgate.Container{
			ID:      s.ID,
			Name:    name,
			Image:   s.Image,
			ImageID: s.ImageID,
			Labels:  userLabels(s.Labels),
			State:   ctrgate.ContainerState{Status: st, Raw: string(s.State)},
		}
		c.Ports = c.State.KeepPorts(fromSummaryPorts(s.Ports))
		if ref := s.Labels[ImageLabel]; ref != "" {
			c.Image = ref
		}
		if s.Created > 0 {
			c.Created = time.Unix(s.Created, 0)
		}
		if m := exitedStatus.FindStringSubmatch(s.Status); m != nil {
			c.State.ExitCode, _ = strconv.Atoi(m[1])
		}
		out = append(out, c)
	}
	return out, nil
}

// summaryName picks the container's own name from a list entry: Docker
// lists link aliases too ("/other/alias"); the real name has one "/".
func summaryName(names []string) string {
	for _, n := range names {
		t := strings.TrimPrefix(n, "/")
		if !strings.Contains(t, "/") {
			return t
		}
	}
	if len(names) > 0 {
		return strings.TrimPrefix(names[0], "/")
	}
	return ""
}

// Wait blocks until the container's main process exits and returns its exit
// code. An exited container gives its recorded code at once. For a created
// container Wait first waits for its start with driver.AwaitStart (on the
// event stream); then Docker's "not-running" wait takes over. (Docker's
// "not-running" answers at once for a created container, and "next-exit"
// would miss an exit that happens before the wait is registered.) Missing or
// removed: ErrNotFound. Only ctx ends it early.
func (r *Runtime) Wait(ctx context.Context, name string) (int, error) {
	ctx, cancel, err := r.begin(ctx, ctrgate.OpWait, name)
	if err != nil {
		return 0, err
	}
	defer cancel()
	// Podman's wait can fail while the container is exiting: look again
	// (driver.RetryTransientWait).
	return driver.RetryTransientWait(ctx, func() (int, error) {
		c, err := driver.AwaitStart(ctx, r, name)
		if err != nil {
			return 0, r.startErr(ctx, ctrgate.OpWait, name, err)
		}
		switch c.State.Status {
		case "":
			return 0, ctrgate.NewEngineError(BackendName, ctrgate.OpWait, name, nil, "engine reported no state", nil, nil)
		case ctrgate.StateExited, ctrgate.StateDead:
			r.settleListing(ctx, c.ID)
			return c.State.ExitCode, nil
		}
		code, err := r.waitNotRunning(ctx, name)
		if err == nil {
			r.settleListing(ctx, c.ID)
		}
		return code, err
	})
}

// settleListing waits, briefly, until the engine's container listing agrees
// that container id is not running. Docker answers a wait (and an inspect)
// from the container's live state but serves List from a view it updates a
// moment later: without this, a List right after Wait could still show the
// container running (seen on Docker 26 under load). One list call when the
// view is current; at most about 2 s otherwise.
func (r *Runtime) settleListing(ctx context.Context, id string) {
	if id == "" {
		return
	}
	pause := 5 * time.Millisecond
	deadline := time.Now().Add(2 * time.Second)
	for {
		sums, err := r.cli.ContainerList(ctx, container.ListOptions{All: true, Filters: filters.NewArgs(filters.Arg("id", id))})
		if err != nil || len(sums) == 0 || sums[0].State != "running" || time.Now().After(deadline) {
			return
		}
		if sleepCtx(ctx, pause) != nil {
			return
		}
		pause = min(2*pause, 100*time.Millisecond)
	}
}

// startErr turns an error of driver.AwaitStart into one of op (Op set to
// op, a context error when ctx is done).
func (r *Runtime) startErr(ctx context.Context, op, name string, err error) error {
	return driver.WithOp(r.mapErr(ctx, op, name, err), op)
}

// waitNotRunning is Docker's "not-running" wait: the exit code of the
// current run, or the recorded one when the container is not running.
func (r *Runtime) waitNotRunning(ctx context.Context, name string) (int, error) {
	resC, errC := r.cli.ContainerWait(ctx, name, container.WaitConditionNotRunning)
	select {
	case res := <-resC:
		if res.Error != nil && res.Error.Message != "" {
			// e.g. Podman: "container ... does not exist in database: no such
			// container" when an auto-removed container went away.
			return 0, r.mapErr(ctx, ctrgate.OpWait, name, errors.New(res.Error.Message))
		}
		return int(res.StatusCode), nil
	case err := <-errC:
		return 0, r.mapErr(ctx, ctrgate.OpWait, name, err)
	}
}

// sleepCtx sleeps for d or until ctx is done.
func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

// isExitRace reports Podman's refusal to force-remove a container caught
// between exiting and being recorded as exited.
func isExitRace(err error) bool {
	m := err.Error()
	return strings.Contains(m, "could not be stopped") && strings.Contains(m, "container state improper")
}
