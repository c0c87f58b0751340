package fake

import (
	"context"
	"fmt"
	"io/fs"
	"maps"
	"net"
	"os"
	"path"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/ctrgate/ctrgate"
)

// container is one container of the fake.
type container struct {
	id, name string
	spec     ctrgate.ContainerSpec
	img      ImageConfig
	imageID  string
	labels   map[string]string // image labels merged with spec labels
	created  time.Time

	root   *memFS
	mounts []*mountEntry
	view   *view

	state      ctrgate.State
	exitCode   int
	startedAt  time.Time
	finishedAt time.Time
	errMsg     string
	pid        int
	exits      int // number of runs that ended
	removed    bool

	logs    []ctrgate.LogLine
	changed chan struct{} // closed and replaced on every state or log change

	run   *run
	execs map[*execProc]struct{}
	ports []ctrgate.PortMapping // as reported: bound host ports while running
}

// notifyLocked wakes everyone waiting for a change of c.
func (c *container) notifyLocked() {
	close(c.changed)
	c.changed = make(chan struct{})
}

func (c *container) describeLocked() ctrgate.Container {
	ports := append([]ctrgate.PortMapping(nil), c.ports...)
	return ctrgate.Container{
		ID:      c.id,
		Name:    c.name,
		Image:   c.spec.Image,
		ImageID: c.imageID,
		Created: c.created,
		State: ctrgate.ContainerState{
			Status:     c.state,
			Raw:        string(c.state),
			ExitCode:   c.exitCode,
			Pid:        c.pid,
			StartedAt:  c.startedAt,
			FinishedAt: c.finishedAt,
			Error:      c.errMsg,
		},
		Labels: maps.Clone(c.labels),
		Ports:  ports,
	}
}

func configuredPorts(spec ctrgate.ContainerSpec) []ctrgate.PortMapping {
	out := make([]ctrgate.PortMapping, len(spec.Ports))
	for i, p := range spec.Ports {
		if p.Protocol == "" {
			p.Protocol = "tcp"
		}
		out[i] = p
	}
	return out
}

// lookupLocked finds a container by name, full ID or unique ID prefix (at
// least 3 characters).
func (r *engine) lookupLocked(name string) *container {
	if c, ok := r.names[name]; ok {
		return c
	}
	if c, ok := r.containers[name]; ok {
		return c
	}
	if len(name) < 3 {
		return nil
	}
	var found *container
	for id, c := range r.containers {
		if strings.HasPrefix(id, name) {
			if found != nil {
				return nil
			}
			found = c
		}
	}
	return found
}

func notFound(method, name string) error {
	return engineErr(method, name, ctrgate.ErrNotFound, fmt.Sprintf("no container with name or ID %q found: no such container", name), nil)
}

// publishLocked sends an event to the subscribers.
func (r *engine) publishLocked(c *container, t ctrgate.EventType, code int) {
	ev := ctrgate.Event{Type: t, Raw: string(t), ID: c.id, Name: c.name, Image: c.spec.Image,
		ExitCode: code, Labels: maps.Clone(c.labels), Time: time.Now()}
	for s := range r.subs {
		if s.filter.Matches(c.name, c.labels) {
			s.pushLocked(ev)
		}
	}
}

// Create validates spec, resolves the image and creates the container.
func (r *engine) Create(ctx context.Context, spec ctrgate.ContainerSpec) (id string, err error) {
	target := spec.Name
	defer r.recordTarget(time.Now(), ctrgate.OpCreate, &target, &err)
	if err := r.enter(ctx, ctrgate.OpCreate, spec.Name); err != nil {
		return "", err
	}
	if spec.GPUs.Requested() {
		var missing []string
		r.mu.Lock()
		for _, d := range spec.GPUs.CDIDevices() {
			if !r.cdiResolvable(d) {
				missing = append(missing, d)
			}
		}
		r.mu.Unlock()
		if len(missing) > 0 {
			return "", ctrgate.NewGPUConfigError(BackendName,
				"setting up CDI devices: unresolvable CDI devices "+strings.Join(missing, ", "), nil, nil)
		}
	}
	// bind mount sources must exist, as on podman
	for _, m := range spec.Mounts {
		if m.Type == ctrgate.MountBind {
			if _, err := os.Stat(m.Source); err != nil {
				return "", engineErr(ctrgate.OpCreate, spec.Name, nil,
					fmt.Sprintf("statfs %s: no such file or directory", m.Source), nil)
			}
		}
	}

	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return "", unavailable(ctrgate.OpCreate, spec.Name)
	}
	img, err := r.resolveLocked(ctrgate.OpCreate, spec.Image, spec.PullPolicy)
	if err != nil {
		return "", err
	}
	if spec.Name != "" {
		if _, taken := r.names[spec.Name]; taken {
			return "", engineErr(ctrgate.OpCreate, spec.Name, ctrgate.ErrAlreadyExists,
				fmt.Sprintf("creating container storage: the container name %q is already in use", spec.Name), nil)
		}
	}
	argv := containerArgv(spec, img.cfg)
	if len(argv) == 0 && img.cfg.Program == nil {
		return "", engineErr(ctrgate.OpCreate, spec.Name, nil, "no command or entrypoint provided, and no CMD or ENTRYPOINT from image", nil)
	}
	id = newID()
	name := spec.Name
	if name == "" {
		name = "fake_" + id[:12]
		target = name
	}
	c := &container{
		id: id, name: name, spec: cloneSpec(spec), img: img.cfg, imageID: img.id,
		created: time.Now(), root: img.fs.clone(),
		state: ctrgate.StateCreated, changed: make(chan struct{}),
		execs: map[*execProc]struct{}{}, ports: configuredPorts(spec),
	}
	c.labels = maps.Clone(img.cfg.Labels)
	if c.labels == nil {
		c.labels = map[string]string{}
	}
	maps.Copy(c.labels, spec.Labels)
	for _, m := range spec.Mounts {
		me := &mountEntry{target: path.Clean(m.Target), typ: string(m.Type), ro: m.ReadOnly}
		switch m.Type {
		case ctrgate.MountBind:
			me.fsys = hostFS{root: m.Source}
		case ctrgate.MountVolume:
			if m.Source == "" {
				me.mem = newMemFS()
			} else {
				if r.volumes[m.Source] == nil {
					r.volumes[m.Source] = newMemFS()
				}
				me.mem = r.volumes[m.Source]
			}
			me.fsys = me.mem
		case ctrgate.MountTmpfs:
			me.mem = newMemFS()
			me.mem.setDirMode("/", 0o1777)
			me.fsys = me.mem
		}
		c.mounts = append(c.mounts, me)
		// the engine creates the mount point
		if fi, err := os.Stat(m.Source); m.Type == ctrgate.MountBind && err == nil && !fi.IsDir() {
			_ = c.root.MkdirAll(path.Dir(me.target), 0o755)
		} else {
			_ = c.root.MkdirAll(me.target, 0o755)
		}
	}
	c.view = &view{root: c.root, mounts: c.mounts, readOnly: spec.ReadOnlyRootfs}
	// the files engines generate for every container (a mount over them wins)
	_ = c.root.MkdirAll("/etc", 0o755)
	_ = c.root.writeFileMode("/etc/hosts", []byte(hostsFile(c)), 0o644)
	_ = c.root.writeFileMode("/etc/hostname", []byte(c.hostname()+"\n"), 0o644)
	if wd := c.workDir(); wd != "/" {
		cv := *c.view
		cv.forceWrite = true
		_ = cv.MkdirAll(wd, 0o755)
	}
	r.containers[id] = c
	r.names[name] = c
	r.publishLocked(c, ctrgate.EventCreate, 0)
	return id, nil
}

// hostsFile is the /etc/hosts an engine writes: localhost, the extra
// hosts, then the container's own names.
func hostsFile(c *container) string {
	var b strings.Builder
	b.WriteString("127.0.0.1\tlocalhost localhost.localdomain localhost4 localhost4.localdomain4\n")
	b.WriteString("::1\tlocalhost localhost.localdomain localhost6 localhost6.localdomain6\n")
	for _, h := range c.spec.ExtraHosts {
		b.WriteString(h.IP + "\t" + h.Host + "\n")
	}
	b.WriteString("127.0.0.1\t" + c.hostname() + " " + c.name + "\n")
	return b.String()
}

func cloneSpec(s ctrgate.ContainerSpec) ctrgate.ContainerSpec {
	s.Command = append([]string(nil), s.Command...)
	s.Entrypoint = append([]string(nil), s.Entrypoint...)
	s.Env = append([]ctrgate.EnvVar(nil), s.Env...)
	s.Labels = maps.Clone(s.Labels)
	s.Annotations = maps.Clone(s.Annotations)
	s.Mounts = append([]ctrgate.Mount(nil), s.Mounts...)
	s.Ports = append([]ctrgate.PortMapping(nil), s.Ports...)
	s.ExtraHosts = append([]ctrgate.HostEntry(nil), s.ExtraHosts...)
	return s
}

// containerArgv is ENTRYPOINT + CMD: the spec's, each falling back to the
// image's (a spec Entrypoint without Command drops the image CMD, as the
// engines do).
func containerArgv(spec ctrgate.ContainerSpec, img ImageConfig) []string {
	ep := img.Entrypoint
	cmd := img.Cmd
	if len(spec.Entrypoint) > 0 {
		ep = spec.Entrypoint
		cmd = nil
	}
	if len(spec.Command) > 0 {
		cmd = spec.Command
	}
	return append(append([]string(nil), ep...), cmd...)
}

func (c *container) workDir() string {
	if c.spec.WorkDir != "" {
		return path.Clean(c.spec.WorkDir)
	}
	if c.img.WorkDir != "" {
		return cleanAbs("/", c.img.WorkDir)
	}
	return "/"
}

func (c *container) hostname() string {
	if c.spec.Hostname != "" {
		return c.spec.Hostname
	}
	return c.id[:12]
}

// defaultPath is the PATH engines set when the image has none.
const defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// mergeEnv applies KEY=VALUE entries in order; a later key replaces an
// earlier one in place.
func mergeEnv(base []string, add ...string) []string {
	out := append([]string(nil), base...)
	for _, e := range add {
		k, _, _ := strings.Cut(e, "=")
		replaced := false
		for i, o := range out {
			if ok, _, _ := strings.Cut(o, "="); ok == k {
				out[i] = e
				replaced = true
				break
			}
		}
		if !replaced {
			out = append(out, e)
		}
	}
	return out
}

// environ is the main process's environment.
func (c *container) environ() []string {
	env := mergeEnv([]string{"PATH=" + defaultPath}, c.img.Env...)
	env = mergeEnv(env, ctrgate.EnvStrings(c.spec.Env)...)
	return mergeEnv(env, "HOSTNAME="+c.hostname())
}

// resolveProgram finds the program for argv in a container of r.
func (r *engine) resolveProgramLocked(c *container, argv []string, env []string) (Program, bool) {
	if len(argv) > 0 {
		name := argv[0]
		if path.IsAbs(name) {
			if p, ok := r.programs[path.Clean(name)]; ok {
				return p, true
			}
		} else if !strings.Contains(name, "/") {
			pathVar := defaultPath
			for _, e := range env {
				if v, ok := strings.CutPrefix(e, "PATH="); ok {
					pathVar = v
				}
			}
			for _, dir := range strings.Split(pathVar, ":") {
				if p, ok := r.programs[path.Join("/", dir, name)]; ok {
					return p, true
				}
			}
		}
	}
	if c.img.Program != nil {
		return c.img.Program, true
	}
	return nil, false
}

func missingExecMessage(argv []string) string {
	name := ""
	if len(argv) > 0 {
		name = argv[0]
	}
	return fmt.Sprintf("fake: exec: %q: stat %s: no such file or directory: OCI runtime attempted to invoke a command that was not found", name, name)
}

// lookupUser resolves "user[:group]" (numbers, or names from the
// container's /etc/passwd and /etc/group) to uid and gid.
func lookupUser(v *view, user string) (int, int, error) {
	if user == "" {
		return 0, 0, nil
	}
	u, g, hasGroup := strings.Cut(user, ":")
	uid, gid := -1, 0
	if n, err := strconv.Atoi(u); err == nil && n >= 0 {
		uid = n
		gid = 0
		if e, ok := findEntry(v, "/etc/passwd", func(f []string) bool { return f[2] == u }); ok {
			gid, _ = strconv.Atoi(e[3])
		}
	} else {
		e, ok := findEntry(v, "/etc/passwd", func(f []string) bool { return f[0] == u })
		if !ok {
			if u == "root" {
				uid = 0
			} else {
				return 0, 0, fmt.Errorf("unable to find user %s: no matching entries in passwd file", u)
			}
		} else {
			uid, _ = strconv.Atoi(e[2])
			gid, _ = strconv.Atoi(e[3])
		}
	}
	if hasGroup {
		if n, err := strconv.Atoi(g); err == nil && n >= 0 {
			gid = n
		} else {
			e, ok := findEntry(v, "/etc/group", func(f []string) bool { return f[0] == g })
			if !ok {
				if g != "root" {
					return 0, 0, fmt.Errorf("unable to find group %s: no matching entries in group file", g)
				}
				gid = 0
			} else {
				gid, _ = strconv.Atoi(e[2])
			}
		}
	}
	return uid, gid, nil
}

func findEntry(v *view, file string, match func([]string) bool) ([]string, bool) {
	data, err := v.ReadFile(file)
	if err != nil {
		return nil, false
	}
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Split(line, ":")
		if len(f) >= 4 && match(f) {
			return f, true
		}
	}
	return nil, false
}

// Start starts a created or exited container; a running one is left alone.
func (r *engine) Start(ctx context.Context, name string) (err error) {
	defer r.record(ctrgate.OpStart, name, &err)()
	if err := r.enter(ctx, ctrgate.OpStart, name); err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return unavailable(ctrgate.OpStart, name)
	}
	c := r.lookupLocked(name)
	if c == nil {
		return notFound(ctrgate.OpStart, name)
	}
	if c.state == ctrgate.StateRunning {
		return nil
	}
	return r.startLocked(c)
}

func (r *engine) startLocked(c *container) error {
	// a new run: tmpfs mounts start empty
	for _, m := range c.mounts {
		if m.typ == string(ctrgate.MountTmpfs) {
			m.mem.reset()
			m.mem.setDirMode("/", 0o1777)
		}
	}
	uid, gid, err := lookupUser(c.view, c.spec.User)
	if err != nil {
		return engineErr(ctrgate.OpStart, c.name, nil, err.Error(), nil)
	}
	argv := containerArgv(c.spec, c.img)
	env := c.environ()
	prog, ok := r.resolveProgramLocked(c, argv, env)
	if !ok {
		msg := missingExecMessage(argv)
		now := time.Now()
		c.state, c.exitCode, c.errMsg = ctrgate.StateExited, 127, msg
		c.startedAt, c.finishedAt = now, now
		c.exits++
		c.notifyLocked()
		r.publishLocked(c, ctrgate.EventDie, 127)
		if c.spec.AutoRemove {
			r.removeLocked(c)
		}
		return engineErr(ctrgate.OpStart, c.name, nil, msg, nil)
	}
	ru := &run{c: c, ended: make(chan struct{}), listeners: map[int]*memListener{}, closers: map[interface{ Close() error }]struct{}{}}
	// publish ports before the program runs
	ports := configuredPorts(c.spec)
	for i, pm := range ports {
		if pm.Protocol != "tcp" {
			continue
		}
		host := pm.HostIP
		if host == "" {
			host = "127.0.0.1"
		}
		ln, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(pm.HostPort)))
		if err != nil {
			for _, l := range ru.hostListeners {
				l.Close()
			}
			return engineErr(ctrgate.OpStart, c.name, nil, fmt.Sprintf("cannot listen on the TCP port: %v", err), nil)
		}
		ru.hostListeners = append(ru.hostListeners, ln)
		ports[i].HostPort = ln.Addr().(*net.TCPAddr).Port
		r.wg.Add(1)
		go r.acceptLoop(ru, ln, pm.ContainerPort)
	}
	r.pid++
	now := time.Now()
	c.run = ru
	c.ports = ports
	c.state, c.exitCode, c.errMsg = ctrgate.StateRunning, 0, ""
	c.startedAt, c.finishedAt, c.pid = now, time.Time{}, r.pid
	ru.stdout = &logWriter{r: r, ru: ru, stream: ctrgate.Stdout}
	ru.stderr = &logWriter{r: r, ru: ru, stream: ctrgate.Stderr}
	ru.proc = &Process{
		r: r, c: c, ru: ru, args: argv, env: env, wd: c.workDir(), uid: uid, gid: gid,
		stdin: emptyReader{}, stdout: ru.stdout, stderr: ru.stderr,
		signals: make(chan os.Signal, 16), done: ru.ended,
	}
	c.notifyLocked()
	r.publishLocked(c, ctrgate.EventStart, 0)
	r.progWG.Add(1)
	r.live++
	go func() {
		defer r.progWG.Done()
		code := runProgram(prog, ru.proc)
		r.mu.Lock()
		defer r.mu.Unlock()
		r.live--
		if c.run == ru {
			r.endRunLocked(c, ru, code, endNormal)
		}
	}()
	return nil
}

// acceptLoop serves one published host port until the run ends.
func (r *engine) acceptLoop(ru *run, ln net.Listener, port int) {
	defer r.wg.Done()
	for {
		tc, err := ln.Accept()
		if err != nil {
			return
		}
		r.mu.Lock()
		ml := ru.listeners[port]
		if ml == nil || ru.isEnded() {
			r.mu.Unlock()
			tc.Close() // nobody listens: the connection is refused
			continue
		}
		a, b := newPipe(tc.RemoteAddr(), ml.addr)
		ru.closers[tc] = struct{}{}
		ru.closers[a] = struct{}{}
		r.mu.Unlock()
		if !ml.deliver(b) {
			tc.Close()
			a.Close()
			b.Close()
			continue
		}
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			proxyConn(tc, a)
			r.mu.Lock()
			delete(ru.closers, tc)
			delete(ru.closers, a)
			r.mu.Unlock()
		}()
	}
}

// Ways a run ends, for endRunLocked.
const (
	endNormal   = iota // die event, then auto-removal if the spec asks
	endNoRemove        // die event, no auto-removal (the caller removes)
	endSilent          // no event, no removal (Close)
)

// endRunLocked ends a run with code: the program returned, or it is ended
// from outside (Done is closed either way; a program still running must
// return, and its return value is ignored).
func (r *engine) endRunLocked(c *container, ru *run, code int, how int) {
	if ru.isEnded() {
		return
	}
	close(ru.ended)
	ru.stdout.flushLocked()
	ru.stderr.flushLocked()
	for _, l := range ru.listeners {
		l.closeLocked()
	}
	for _, l := range ru.hostListeners {
		l.Close()
	}
	for cl := range ru.closers {
		cl.Close()
	}
	for x := range c.execs {
		x.kill()
	}
	for _, m := range c.mounts { // a tmpfs goes with the run
		if m.typ == string(ctrgate.MountTmpfs) {
			m.mem.reset()
			m.mem.setDirMode("/", 0o1777)
		}
	}
	c.run = nil
	c.state = ctrgate.StateExited
	c.exitCode = code
	c.finishedAt = time.Now()
	c.pid = 0
	c.ports = nil // no binding outlives the run
	c.exits++
	c.notifyLocked()
	if how == endSilent {
		return
	}
	r.publishLocked(c, ctrgate.EventDie, code)
	if c.spec.AutoRemove && how == endNormal {
		r.removeLocked(c)
	}
}

// removeLocked deletes a container that is not running.
func (r *engine) removeLocked(c *container) {
	if c.removed {
		return
	}
	c.removed = true
	delete(r.containers, c.id)
	delete(r.names, c.name)
	c.notifyLocked()
	r.publishLocked(c, ctrgate.EventRemove, 0)
}

// Stop sends the stop signal and kills the process after the timeout.
func (r *engine) Stop(ctx context.Context, name string, timeout time.Duration) (err error) {
	defer r.record(ctrgate.OpStop, name, &err)()
	if err := r.enter(ctx, ctrgate.OpStop, name); err != nil {
		return err
	}
	r.mu.Lock()
	c := r.lookupLocked(name)
	if c == nil {
		r.mu.Unlock()
		return notFound(ctrgate.OpStop, name)
	}
	ru := c.run
	if ru == nil {
		r.mu.Unlock()
		return nil
	}
	if timeout < 0 {
		timeout = 10 * time.Second
		if c.spec.StopTimeout > 0 {
			timeout = c.spec.StopTimeout
		}
	}
	sig := syscall.SIGTERM
	if c.spec.StopSignal != "" {
		sig, _ = ctrgate.ParseSignal(c.spec.StopSignal)
	}
	if sig == syscall.SIGKILL || timeout == 0 {
		r.endRunLocked(c, ru, 137, endNormal)
		r.mu.Unlock()
		return nil
	}
	ru.proc.deliver(sig)
	r.mu.Unlock()
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-ru.ended:
		return nil
	case <-t.C:
		r.mu.Lock()
		if c.run == ru {
			r.endRunLocked(c, ru, 137, endNormal)
		}
		r.mu.Unlock()
		return nil
	case <-ctx.Done():
		return ctxErr(ctrgate.OpStop, name, ctx.Err())
	case <-r.closeCh:
		return unavailable(ctrgate.OpStop, name)
	}
}

// Kill sends a signal to the main process; SIGKILL ends it with 137.
func (r *engine) Kill(ctx context.Context, name string, signal string) (err error) {
	defer r.record(ctrgate.OpKill, name, &err)()
	sig, err := ctrgate.ParseSignal(signal)
	if err != nil {
		return err
	}
	if err := r.enter(ctx, ctrgate.OpKill, name); err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return unavailable(ctrgate.OpKill, name)
	}
	c := r.lookupLocked(name)
	if c == nil {
		return notFound(ctrgate.OpKill, name)
	}
	if c.run == nil {
		return engineErr(ctrgate.OpKill, name, ctrgate.ErrNotRunning,
			fmt.Sprintf("can only kill running containers. %s is in state %s: container state improper", c.id, c.state), nil)
	}
	if sig == syscall.SIGKILL {
		r.endRunLocked(c, c.run, 137, endNormal)
		return nil
	}
	c.run.proc.deliver(sig)
	return nil
}

// Remove deletes a container; a running one only with Force.
func (r *engine) Remove(ctx context.Context, name string, opts ctrgate.RemoveOptions) (err error) {
	defer r.record(ctrgate.OpRemove, name, &err)()
	if err := r.enter(ctx, ctrgate.OpRemove, name); err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return unavailable(ctrgate.OpRemove, name)
	}
	c := r.lookupLocked(name)
	if c == nil {
		return notFound(ctrgate.OpRemove, name)
	}
	if c.run != nil {
		if !opts.Force {
			return engineErr(ctrgate.OpRemove, name, ctrgate.ErrRunning,
				fmt.Sprintf("cannot remove container %s as it is running - running or paused containers cannot be removed without force: container state improper", c.id), nil)
		}
		r.endRunLocked(c, c.run, 137, endNoRemove)
	}
	r.removeLocked(c)
	return nil
}

// Inspect describes a container.
func (r *engine) Inspect(ctx context.Context, name string) (_ *ctrgate.Container, err error) {
	defer r.record(ctrgate.OpInspect, name, &err)()
	if err := r.enter(ctx, ctrgate.OpInspect, name); err != nil {
		return nil, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	c := r.lookupLocked(name)
	if c == nil {
		return nil, notFound(ctrgate.OpInspect, name)
	}
	d := c.describeLocked()
	return &d, nil
}

// List returns the matching containers, oldest first.
func (r *engine) List(ctx context.Context, filter ctrgate.ListFilter) (_ []ctrgate.Container, err error) {
	defer r.record(ctrgate.OpList, filter.NamePrefix, &err)()
	if err := r.enter(ctx, ctrgate.OpList, filter.NamePrefix); err != nil {
		return nil, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	out := []ctrgate.Container{}
	for _, c := range r.containers {
		if filter.Matches(c.name, c.labels, c.state == ctrgate.StateRunning) {
			out = append(out, c.describeLocked())
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].Created.Equal(out[j].Created) {
			return out[i].Created.Before(out[j].Created)
		}
		return out[i].Name < out[j].Name
	})
	return out, nil
}

// Wait blocks until the container exits and returns its exit code.
func (r *engine) Wait(ctx context.Context, name string) (code int, err error) {
	defer r.record(ctrgate.OpWait, name, &err)()
	if err := r.enter(ctx, ctrgate.OpWait, name); err != nil {
		return 0, err
	}
	r.mu.Lock()
	c := r.lookupLocked(name)
	if c == nil {
		r.mu.Unlock()
		return 0, notFound(ctrgate.OpWait, name)
	}
	if c.state == ctrgate.StateExited {
		code := c.exitCode
		r.mu.Unlock()
		return code, nil
	}
	seen := c.exits
	for {
		if c.exits > seen {
			code := c.exitCode
			r.mu.Unlock()
			return code, nil
		}
		if c.removed {
			r.mu.Unlock()
			return 0, notFound(ctrgate.OpWait, name)
		}
		ch := c.changed
		r.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return 0, ctxErr(ctrgate.OpWait, name, ctx.Err())
		case <-r.closeCh:
			return 0, unavailable(ctrgate.OpWait, name)
		}
		r.mu.Lock()
	}
}

// ExitContainer is Runtime.ExitContainer.
func (r *engine) ExitContainer(name string, code int) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return unavailable("ExitContainer", name)
	}
	c := r.lookupLocked(name)
	if c == nil {
		return notFound("ExitContainer", name)
	}
	if c.run == nil {
		return engineErr("ExitContainer", name, ctrgate.ErrNotRunning, "container is not running", nil)
	}
	r.endRunLocked(c, c.run, code, endNormal)
	return nil
}

// EmitLog is Runtime.EmitLog.
func (r *engine) EmitLog(name string, stream ctrgate.Stream, text string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return unavailable("EmitLog", name)
	}
	c := r.lookupLocked(name)
	if c == nil {
		return notFound("EmitLog", name)
	}
	text = strings.TrimSuffix(text, "\n")
	for _, l := range strings.Split(text, "\n") {
		c.logs = append(c.logs, ctrgate.LogLine{Stream: stream, Text: strings.TrimSuffix(l, "\r"), Time: time.Now()})
	}
	c.notifyLocked()
	return nil
}

// Volumes is Runtime.Volumes.
func (r *engine) Volumes() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]string, 0, len(r.volumes))
	for n := range r.volumes {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// ReadFile is Runtime.ReadFile.
func (r *engine) ReadFile(name, filePath string) ([]byte, error) {
	c, err := r.containerView("ReadFile", name)
	if err != nil {
		return nil, err
	}
	return c.view.ReadFile(cleanAbs("/", filePath))
}

// WriteFile is Runtime.WriteFile.
func (r *engine) WriteFile(name, filePath string, data []byte, perm fs.FileMode) error {
	c, err := r.containerView("WriteFile", name)
	if err != nil {
		return err
	}
	v := *c.view
	v.forceWrite = true
	p := cleanAbs("/", filePath)
	if err := v.MkdirAll(path.Dir(p), 0o755); err != nil {
		return err
	}
	return v.WriteFile(p, data, perm)
}
