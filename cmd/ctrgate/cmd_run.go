package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"sync/atomic"
	"time"

	"github.com/spf13/pflag"

	"github.com/docker/go-units"

	"github.com/ctrgate/ctrgate"
)

// defaultReadyTimeout is how long run waits for --ready by default.
const defaultReadyTimeout = 60 * time.Second

// cleanupTimeout bounds the removal done after a failed or interrupted run.
const cleanupTimeout = 30 * time.Second

// notReadyError reports a container that did not become ready in time.
type notReadyError struct {
	name    string
	timeout time.Duration
	removed bool
}

func (e *notReadyError) Error() string {
	s := fmt.Sprintf("container %s was not ready after %s", e.name, e.timeout)
	if e.removed {
		s += " (removed)"
	}
	return s
}

// runOptions are the parsed flags of `ctrgate run`.
type runOptions struct {
	spec         ctrgate.ContainerSpec
	attach       bool
	rm           bool
	match        func(ctrgate.LogLine) bool
	readyTimeout time.Duration
}

func (a *app) cmdRun(fs *pflag.FlagSet) runFunc {
	attach := fs.BoolP("attach", "a", false, "attach: stream the output until the container exits, then exit with its exit code")
	detach := fs.BoolP("detach", "d", false, "detach (the default): print the container ID once started (and ready)")
	name := fs.String("name", "", "container name (default: chosen by the engine)")
	var env, secretEnv, labels, ports, volumes, tmpfs listFlag
	fs.VarP(envFlag{&env, a.sec, false}, "env", "e", "set environment variable K=V (K alone: from this environment); repeatable")
	fs.Var(envFlag{&secretEnv, a.sec, true}, "secret-env", "like -e, but the value is a secret and never printed; repeatable")
	fs.VarP(&labels, "label", "l", "set label k=v; repeatable")
	fs.VarP(&ports, "publish", "p", "publish a port: [hostip:]hostport:containerport[/tcp|udp] (hostport empty or omitted: any free port); repeatable")
	fs.VarP(&volumes, "volume", "v", "mount src:dst[:ro|rw|z|Z] (absolute src: bind mount, otherwise a named volume); repeatable")
	fs.Var(&tmpfs, "tmpfs", "mount a tmpfs at dst[:size=64m]; repeatable")
	gpus := fs.String("gpus", "", "GPUs to expose: all, or a comma separated list (0,1 or nvidia.com/gpu=0)")
	rm := fs.Bool("rm", false, "remove the container when it exits (attached: after its exit code is read)")
	user := fs.StringP("user", "u", "", "user[:group] to run as")
	workdir := fs.StringP("workdir", "w", "", "working directory inside the container")
	network := fs.String("network", "", "network: none, host, bridge, slirp4netns[:OPTS], pasta[:OPTS], or the name of a bridge network")
	entrypoint := fs.String("entrypoint", "", `override the image's entrypoint: a program, or a JSON array ["/bin/sh","-c"]`)
	pull := fs.String("pull", "missing", "pull policy: missing, never or always")
	hostname := fs.String("hostname", "", "host name inside the container")
	var ulimits, capAdd, capDrop, securityOpt, addHosts, annotations listFlag
	memory := fs.StringP("memory", "m", "", "memory limit, e.g. 512m or 2g")
	cpus := fs.Float64("cpus", 0, "number of CPUs, e.g. 1.5")
	pidsLimit := fs.Int64("pids-limit", 0, "maximum number of processes (0: engine default)")
	fs.Var(&ulimits, "ulimit", "resource limit name=soft[:hard], e.g. nofile=1024:2048; repeatable")
	stopSignal := fs.String("stop-signal", "", "signal sent by stop (default SIGTERM)")
	stopTimeout := fs.Int("stop-timeout", 0, "seconds stop waits before SIGKILL (0: engine default, 10)")
	fs.Var(&capAdd, "cap-add", "add a Linux capability, e.g. NET_ADMIN; repeatable")
	fs.Var(&capDrop, "cap-drop", "drop a Linux capability, e.g. ALL; repeatable")
	fs.Var(&securityOpt, "security-opt", "security option, e.g. label=disable or no-new-privileges; repeatable")
	readOnly := fs.Bool("read-only", false, "mount the container's root file system read-only")
	initProc := fs.Bool("init", false, "run an init process as PID 1 that forwards signals and reaps zombies")
	userns := fs.String("userns", "", "user namespace: host, auto, keep-id or keep-id:uid=N,gid=N (rootless podman)")
	fs.Var(&addHosts, "add-host", "add an /etc/hosts line host:ip; repeatable")
	fs.Var(&annotations, "annotation", "set OCI annotation k=v; repeatable")
	ociRuntime := fs.String("runtime", "", "OCI runtime: crun, runc, krun, ... (default: the engine's)")
	ready := fs.String("ready", "", "wait until an output line contains this marker")
	readyRe := fs.String("ready-regexp", "", "wait until an output line matches this regular expression")
	readyTimeout := durationFlag{d: defaultReadyTimeout, set: true}
	fs.Var(&readyTimeout, "ready-timeout", "how long to wait for --ready / --ready-regexp (default 1m0s)")
	return func(ctx context.Context, args []string) (int, error) {
		evs := a.collectEnv(env, secretEnv)
		if len(args) < 1 {
			return 0, usagef("run", "run: want an image (and optionally a command)")
		}
		if *attach && *detach {
			return 0, usagef("run", "run: -a and -d exclude each other")
		}
		o := runOptions{attach: *attach, rm: *rm, readyTimeout: readyTimeout.d}
		s := &o.spec
		s.Name, s.Image, s.Command, s.Env = *name, args[0], args[1:], evs
		s.User, s.WorkDir, s.Hostname = *user, *workdir, *hostname
		s.PullPolicy = ctrgate.PullPolicy(*pull)
		var err error
		if s.Labels, err = parseKV("run", "label", labels); err != nil {
			return 0, err
		}
		for _, p := range ports {
			pms, err := parsePort(p)
			if err != nil {
				return 0, usagef("run", "run: %v", err)
			}
			s.Ports = append(s.Ports, pms...)
		}
		for _, v := range volumes {
			m, err := parseVolume(v)
			if err != nil {
				return 0, usagef("run", "run: %v", err)
			}
			s.Mounts = append(s.Mounts, m)
		}
		for _, v := range tmpfs {
			m, err := parseTmpfs(v)
			if err != nil {
				return 0, usagef("run", "run: %v", err)
			}
			s.Mounts = append(s.Mounts, m)
		}
		if *gpus != "" {
			if s.GPUs, err = parseGPUs(*gpus); err != nil {
				return 0, usagef("run", "run: %v", err)
			}
		}
		if s.Entrypoint, err = parseCommandLine(*entrypoint); err != nil {
			return 0, usagef("run", "run: --entrypoint: %v", err)
		}
		if s.Network, err = parseNetwork(*network); err != nil {
			return 0, usagef("run", "run: %v", err)
		}
		if *memory != "" {
			if s.Resources.MemoryBytes, err = parseSize(*memory); err != nil {
				return 0, usagef("run", "run: --memory: %v", err)
			}
		}
		s.Resources.CPUs, s.Resources.PidsLimit = *cpus, *pidsLimit
		for _, u := range ulimits {
			ul, err := units.ParseUlimit(u)
			if err != nil {
				return 0, usagef("run", "run: --ulimit %q: %v", u, err)
			}
			s.Ulimits = append(s.Ulimits, ctrgate.Ulimit{Name: ul.Name, Soft: ul.Soft, Hard: ul.Hard})
		}
		if *stopTimeout < 0 {
			return 0, usagef("run", "run: --stop-timeout must not be negative")
		}
		s.StopSignal, s.StopTimeout = *stopSignal, time.Duration(*stopTimeout)*time.Second
		s.CapAdd, s.CapDrop = capAdd, capDrop
		s.SecurityOpt, s.NoNewPrivileges = splitNoNewPrivileges(securityOpt)
		s.ReadOnlyRootfs, s.Init, s.OCIRuntime = *readOnly, *initProc, *ociRuntime
		if s.UserNS, err = parseUserNS(*userns); err != nil {
			return 0, usagef("run", "run: --userns: %v", err)
		}
		for _, h := range addHosts {
			he, err := parseHostEntry(h)
			if err != nil {
				return 0, usagef("run", "run: --add-host: %v", err)
			}
			s.ExtraHosts = append(s.ExtraHosts, he)
		}
		if s.Annotations, err = parseKV("run", "annotation", annotations); err != nil {
			return 0, err
		}
		switch {
		case *ready != "" && *readyRe != "":
			return 0, usagef("run", "run: --ready and --ready-regexp exclude each other")
		case *ready != "":
			o.match = ctrgate.MatchSubstring(*ready)
		case *readyRe != "":
			re, err := regexp.Compile(*readyRe)
			if err != nil {
				return 0, usagef("run", "run: --ready-regexp: %v", err)
			}
			o.match = ctrgate.MatchRegexp(re)
		}
		if o.readyTimeout <= 0 {
			return 0, usagef("run", "run: --ready-timeout must be positive")
		}
		// Detached containers are removed by the engine when they exit;
		// attached ones by us once the exit code has been read.
		s.AutoRemove = o.rm && !o.attach
		if err := ctrgate.ValidateSpec(*s); err != nil {
			return 0, err
		}
		rt, err := a.runtime(ctx)
		if err != nil {
			return 0, err
		}
		// "testimage" on a real engine: import the built-in one if absent.
		if err := a.ensureTestImage(ctx, rt, s.Image); err != nil {
			return 0, err
		}
		if o.attach {
			return a.runAttached(ctx, rt, &o)
		}
		return a.runDetached(ctx, rt, &o)
	}
}

// tell prints one line of a run's story on stderr (stdout stays the
// container's).
func (a *app) tell(format string, args ...any) {
	fmt.Fprintf(a.stderr, "ctrgate: "+format+"\n", args...)
}

// engineLabel names the backend and engine behind rt, e.g.
// "podman-api (podman 4.3.1)".
func (a *app) engineLabel(ctx context.Context, rt ctrgate.ContainerRuntime) string {
	info, err := rt.Info(ctx)
	if err != nil || info == nil {
		return a.backendName(ctx, rt)
	}
	if info.Version == "" {
		return fmt.Sprintf("%s (%s)", info.Backend, info.Engine)
	}
	return fmt.Sprintf("%s (%s %s)", info.Backend, info.Engine, info.Version)
}

// parseNetwork maps --network to a NetworkSpec: a known mode with optional
// options after a colon (slirp4netns:allow_host_loopback=true,
// pasta:--map-host-loopback,169.254.1.2), or the name of a bridge network.
func parseNetwork(s string) (ctrgate.NetworkSpec, error) {
	mode, opts, hasOpts := strings.Cut(s, ":")
	switch m := ctrgate.NetworkMode(mode); m {
	case ctrgate.NetworkDefault, ctrgate.NetworkNone, ctrgate.NetworkHost, ctrgate.NetworkBridge,
		ctrgate.NetworkSlirp4netns, ctrgate.NetworkPasta:
		spec := ctrgate.NetworkSpec{Mode: m}
		if hasOpts {
			if opts == "" {
				return spec, fmt.Errorf("--network %q: empty options after ':'", s)
			}
			spec.Options = strings.Split(opts, ",")
		}
		return spec, nil
	}
	if hasOpts {
		return ctrgate.NetworkSpec{}, fmt.Errorf("--network %q: options are for none, host, bridge, slirp4netns or pasta", s)
	}
	return ctrgate.NetworkSpec{Mode: ctrgate.NetworkBridge, Name: s}, nil
}

// displayName returns the container's name for messages.
func (a *app) displayName(ctx context.Context, rt ctrgate.ContainerRuntime, o *runOptions, id string) string {
	if o.spec.Name != "" {
		return o.spec.Name
	}
	if c, err := rt.Inspect(ctx, id); err == nil && c.Name != "" {
		return c.Name
	}
	return shortID(id)
}

// cleanup force-removes a container after a failed or interrupted run,
// with its own short deadline (the command's may be spent).
func (a *app) cleanup(ctx context.Context, rt ctrgate.ContainerRuntime, id string) bool {
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	defer cancel()
	err := rt.Remove(cctx, id, ctrgate.RemoveOptions{Force: true, Volumes: true})
	return err == nil || errors.Is(err, ctrgate.ErrNotFound)
}

func (a *app) runDetached(ctx context.Context, rt ctrgate.ContainerRuntime, o *runOptions) (int, error) {
	id, err := ctrgate.Run(ctx, rt, o.spec)
	if err != nil {
		return 0, err
	}
	name := a.displayName(ctx, rt, o, id)
	res := jsonRun{ID: id, Name: name, Image: o.spec.Image}
	if o.match != nil {
		start := time.Now()
		rctx, cancel := context.WithTimeout(ctx, o.readyTimeout)
		line, err := ctrgate.WaitReady(rctx, rt, id, o.match)
		cancel()
		if err != nil {
			return 0, a.readyFailed(ctx, rt, o, id, name, err)
		}
		res.Ready, res.ReadyLine, res.ReadyAfterMS = true, a.sec.text(line.Text), time.Since(start).Milliseconds()
	}
	if a.g.json {
		return exitOK, writeJSON(a.stdout, res)
	}
	fmt.Fprintln(a.stdout, id)
	return exitOK, nil
}

// readyFailed turns a readiness failure into the error to report, removing
// the container first when --rm was given.
func (a *app) readyFailed(ctx context.Context, rt ctrgate.ContainerRuntime, o *runOptions, id, name string, err error) error {
	removed := false
	if o.rm {
		removed = a.cleanup(ctx, rt, id)
	}
	var exited *ctrgate.ExitedError
	switch {
	case errors.As(err, &exited):
		msg := fmt.Errorf("container %s exited with code %d before it was ready", name, exited.ExitCode)
		if !a.g.json && len(exited.LastLines) > 0 {
			fmt.Fprintf(a.stderr, "last output of %s:\n", name)
			for _, l := range exited.LastLines {
				fmt.Fprintf(a.stderr, "  %s: %s\n", l.Stream, a.sec.text(l.Text))
			}
		}
		if removed {
			return withHint(msg, "it was removed (--rm); run it without --rm and see its output with 'ctrgate logs "+name+"'")
		}
		return withHint(msg, "see its output with 'ctrgate logs "+name+"'")
	case errors.Is(err, ctrgate.ErrNotFound):
		// An auto-removed container that exited before the log stream opened.
		return withHint(fmt.Errorf("container %s exited (and was removed) before it was ready", name),
			"run it without --rm and see its output with 'ctrgate logs "+name+"'")
	case errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil:
		e := &notReadyError{name: name, timeout: o.readyTimeout, removed: removed}
		if removed {
			return withHint(e, "raise --ready-timeout or check the marker")
		}
		return withHint(e, "it is still there: see 'ctrgate logs "+name+"', remove it with 'ctrgate rm -f "+name+"'; or raise --ready-timeout")
	}
	return err
}

func (a *app) runAttached(ctx context.Context, rt ctrgate.ContainerRuntime, o *runOptions) (code int, err error) {
	id, err := ctrgate.Run(ctx, rt, o.spec)
	if err != nil {
		return 0, err
	}
	res := jsonRun{ID: id, Image: o.spec.Image, Attached: true}
	name := o.spec.Name
	if name == "" {
		name = a.displayName(ctx, rt, o, id)
	}
	res.Name = name
	story := o.match != nil && !a.g.json
	if story {
		a.tell("%s: started %s (%s)", a.engineLabel(ctx, rt), name, o.spec.Image)
	}
	defer func() {
		// Interrupted or failed while attached: with --rm nothing is left behind.
		if err != nil && o.rm && !res.Removed {
			res.Removed = a.cleanup(ctx, rt, id)
			if story && res.Removed {
				a.tell("%s removed", name)
			}
		}
	}()

	lctx, cancelLogs := context.WithCancel(ctx)
	defer cancelLogs()
	var readyFlag, timedOut atomic.Bool
	start := time.Now()
	if o.match != nil {
		t := time.AfterFunc(o.readyTimeout, func() {
			if !readyFlag.Load() {
				timedOut.Store(true)
				cancelLogs()
			}
		})
		defer t.Stop()
	}
	s, err := rt.Logs(lctx, id, ctrgate.LogOptions{Follow: true})
	if err != nil {
		return 0, err
	}
	defer s.Close()
	for {
		l, err := s.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			if timedOut.Load() && ctx.Err() == nil {
				return 0, a.readyFailed(ctx, rt, o, id, name, context.DeadlineExceeded)
			}
			return 0, err
		}
		if o.match != nil && !readyFlag.Load() && o.match(l) {
			readyFlag.Store(true)
			res.Ready, res.ReadyLine, res.ReadyAfterMS = true, a.sec.text(l.Text), time.Since(start).Milliseconds()
			if story {
				a.tell("%s ready after %s", name, time.Duration(res.ReadyAfterMS)*time.Millisecond)
			}
		}
		if err := a.printLogLine(l, false); err != nil {
			return 0, err
		}
	}
	if timedOut.Load() && ctx.Err() == nil {
		return 0, a.readyFailed(ctx, rt, o, id, name, context.DeadlineExceeded)
	}
	code, err = rt.Wait(ctx, id)
	if err != nil {
		return 0, err
	}
	res.Exited, res.ExitCode = true, code
	if o.match != nil && !res.Ready {
		return 0, a.readyFailed(ctx, rt, o, id, name, &ctrgate.ExitedError{Name: name, ExitCode: code})
	}
	if o.rm {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
		err := rt.Remove(cctx, id, ctrgate.RemoveOptions{Force: true, Volumes: true})
		cancel()
		if err != nil && !errors.Is(err, ctrgate.ErrNotFound) {
			return 0, fmt.Errorf("removing %s after it exited with code %d: %w", name, code, err)
		}
		res.Removed = true
	}
	if story {
		removed := ""
		if res.Removed {
			removed = "; removed"
		}
		a.tell("%s exited with code %d%s", name, code, removed)
	}
	if a.g.json {
		if err := writeJSONLine(a.stdout, res); err != nil {
			return 0, err
		}
	}
	return code, nil
}
