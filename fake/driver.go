package fake

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/ctrgate/ctrgate"
)

// BackendName is the backend name the fake reports in EngineInfo and errors.
const BackendName = "fake"

// Version is the engine version the fake reports.
const Version = "1.0.0"

// DefaultCallTimeout is the per-call timeout the contract layer applies
// when a context has no deadline (see ctrgate.WithCallTimeout).
const DefaultCallTimeout = ctrgate.DefaultCallTimeout

// Call is one recorded method call.
type Call struct {
	Method   string        // ContainerRuntime method name, e.g. "Create"
	Target   string        // container name/ID or image reference ("" if none)
	Time     time.Time     // when the call started
	Duration time.Duration // how long it took
	Err      error         // the error it returned (nil on success)
}

// Option configures a Runtime.
type Option func(*engine)

// WithCDIDevices makes the named CDI devices (e.g. "nvidia.com/gpu=0",
// "nvidia.com/gpu=all") resolvable, so GPU requests for them succeed and
// Info reports them. "nvidia.com/gpu=all" is resolvable when it is listed or
// when any "nvidia.com/gpu=..." device is.
func WithCDIDevices(names ...string) Option {
	return func(r *engine) {
		for _, n := range names {
			r.cdi[n] = true
		}
	}
}

// WithCallTimeout sets the per-call timeout the contract layer applies
// when a context has no deadline (default DefaultCallTimeout).
func WithCallTimeout(d time.Duration) Option {
	return func(r *engine) { r.callTimeout = d }
}

// WithLivenessProbe sets how often the contract layer checks that the
// engine answers while a Wait or a followed stream is open
// (ctrgate.WithLivenessProbe); the fake's probe is its Info, so
// SetLatency("Info", ...) makes an engine that stopped answering.
func WithLivenessProbe(every time.Duration) Option {
	return func(r *engine) { r.liveness = every }
}

// WithProgramGrace sets how long Close waits for programs to return after
// closing their Done channels (default 5 s).
func WithProgramGrace(d time.Duration) Option {
	return func(r *engine) { r.programGrace = d }
}

// methods are the ContainerRuntime methods, for InjectError and SetLatency.
var methods = func() map[string]bool {
	m := map[string]bool{}
	for _, op := range ctrgate.Ops() {
		m[op] = true
	}
	return m
}()

type injection struct {
	err       error
	remaining int // 0: always
}

// Runtime is the in-memory ctrgate.ContainerRuntime: the contract layer
// (ctrgate.Runtime, whose methods it has) over the in-memory engine, as
// every backend is, with the fake's own methods beside (programs, images,
// the call log, error injection). Create one with New. It is safe for
// concurrent use.
type Runtime struct {
	*ctrgate.Runtime
	e *engine
}

// engine is the fake's driver: the in-memory engine. It trusts the
// contract layer for the checks of arguments.
type engine struct {
	callTimeout  time.Duration
	liveness     time.Duration
	programGrace time.Duration
	cdi          map[string]bool
	registries   []*Registry

	mu         sync.Mutex
	closed     bool
	closeCh    chan struct{}
	images     map[string]*image // by normalised ref
	programs   map[string]Program
	containers map[string]*container // by ID
	names      map[string]*container // by name
	volumes    map[string]*memFS
	subs       map[*eventStream]struct{}
	logCancels map[*logFollower]struct{}
	calls      []Call
	inject     map[string][]*injection
	latency    map[string]time.Duration
	pid        int
	live       int // program goroutines running

	wg     sync.WaitGroup // internal goroutines: proxies, log producers, exec watchers
	progWG sync.WaitGroup // program goroutines
}

var _ ctrgate.ContainerRuntime = (*engine)(nil)

// New returns an empty fake runtime: no images, no programs, no containers,
// no GPUs.
func New(opts ...Option) *Runtime {
	e := newEngine(opts...)
	return &Runtime{Runtime: ctrgate.Enforce(BackendName, e, ctrgate.WithCallTimeout(e.callTimeout), ctrgate.WithLivenessProbe(e.liveness)), e: e}
}

// ExitContainer makes the running container's main process end with code,
// as if the program had returned it: Process.Done is closed, the die event
// carries code, Wait returns it. It fails with ErrNotFound or ErrNotRunning.
func (r *Runtime) ExitContainer(name string, code int) error {
	return r.e.ExitContainer(name, code)
}

// EmitLog appends text to the container's log on stream, as if its main
// process had written it: every line of text (split at '\n'; a final line
// without a newline counts too) is stored with the current time and
// delivered to followers. The container may be in any state. It fails with
// ErrNotFound.
func (r *Runtime) EmitLog(name string, stream ctrgate.Stream, text string) error {
	return r.e.EmitLog(name, stream, text)
}

// Volumes returns the names of the named volumes created so far, sorted.
func (r *Runtime) Volumes() []string {
	return r.e.Volumes()
}

// ReadFile reads a file of a container's file system (any state), as a
// test would look inside with "podman cp". It fails with ErrNotFound for a
// missing container and with an *fs.PathError for a missing file.
func (r *Runtime) ReadFile(name, filePath string) ([]byte, error) {
	return r.e.ReadFile(name, filePath)
}

// WriteFile writes a file into a container's file system (any state),
// creating missing parent directories; read-only mounts refuse it.
func (r *Runtime) WriteFile(name, filePath string, data []byte, perm fs.FileMode) error {
	return r.e.WriteFile(name, filePath, data, perm)
}

// Calls returns a copy of the call log, oldest first: the calls that
// reached the in-memory engine (not those the contract layer refused: bad
// arguments, calls after Close, a context already done).
func (r *Runtime) Calls() []Call {
	return r.e.Calls()
}

// CallsTo returns the recorded calls of one method, oldest first.
func (r *Runtime) CallsTo(method string) []Call {
	return r.e.CallsTo(method)
}

// ResetCalls empties the call log.
func (r *Runtime) ResetCalls() {
	r.e.ResetCalls()
}

// InjectError makes method (a ContainerRuntime method name such as
// "Create") fail with err: on every call when times is 0, otherwise on the
// next times calls. Injections queue up in order. The error takes the path a
// real engine failure would: input validation still comes first, and err is
// wrapped in a *ctrgate.EngineError for the method (unless it already is an
// *EngineError or *GPUConfigError), so errors.Is(result, err) holds.
// InjectError(method, nil, 0) removes every injection for method. It panics
// on an unknown method name.
func (r *Runtime) InjectError(method string, err error, times int) {
	r.e.InjectError(method, err, times)
}

// SetLatency makes every call of method sleep d (honouring its context)
// before it does anything else after input validation, as a slow engine
// would. d <= 0 removes the latency. It panics on an unknown method name.
func (r *Runtime) SetLatency(method string, d time.Duration) {
	r.e.SetLatency(method, d)
}

// AddImage stores image ref with the given configuration (replacing an
// existing tag), as if it had been pulled. It fails with
// ctrgate.ErrInvalidSpec for a bad reference and ErrEngineUnavailable after
// Close.
func (r *Runtime) AddImage(ref string, cfg ImageConfig) error {
	return r.e.AddImage(ref, cfg)
}

// RegisterProgram registers prog as the executable at the absolute path
// (e.g. "/testprog" or "/usr/bin/myapp") in every container of this
// runtime. It replaces an earlier registration and panics when path is not
// absolute or prog is nil.
func (r *Runtime) RegisterProgram(p string, prog Program) {
	r.e.RegisterProgram(p, prog)
}

func newEngine(opts ...Option) *engine {
	r := &engine{
		callTimeout:  DefaultCallTimeout,
		programGrace: 5 * time.Second,
		cdi:          map[string]bool{},
		closeCh:      make(chan struct{}),
		images:       map[string]*image{},
		programs:     map[string]Program{},
		containers:   map[string]*container{},
		names:        map[string]*container{},
		volumes:      map[string]*memFS{},
		subs:         map[*eventStream]struct{}{},
		logCancels:   map[*logFollower]struct{}{},
		inject:       map[string][]*injection{},
		latency:      map[string]time.Duration{},
		pid:          1000,
	}
	for _, o := range opts {
		o(r)
	}
	return r
}

// NewFromOptions returns New configured by string options, as a backend
// registry passes them: "timeout" (a Go duration: WithCallTimeout) and
// "cdi_devices" (comma-separated CDI device names: WithCDIDevices). Other
// keys are ignored. A bad value fails with ctrgate.ErrInvalidSpec.
func NewFromOptions(options map[string]string) (*Runtime, error) {
	var opts []Option
	if v := options["timeout"]; v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			return nil, &ctrgate.SpecError{Field: "Options[timeout]", Reason: fmt.Sprintf("%q is not a duration", v)}
		}
		opts = append(opts, WithCallTimeout(d))
	}
	if v := options["cdi_devices"]; v != "" {
		var devs []string
		for _, d := range strings.Split(v, ",") {
			if d = strings.TrimSpace(d); d != "" {
				devs = append(devs, d)
			}
		}
		opts = append(opts, WithCDIDevices(devs...))
	}
	return New(opts...), nil
}

// Calls is Runtime.Calls.
func (r *engine) Calls() []Call {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Call(nil), r.calls...)
}

// CallsTo is Runtime.CallsTo.
func (r *engine) CallsTo(method string) []Call {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []Call
	for _, c := range r.calls {
		if c.Method == method {
			out = append(out, c)
		}
	}
	return out
}

// ResetCalls is Runtime.ResetCalls.
func (r *engine) ResetCalls() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = nil
}

func checkMethod(method string) {
	if !methods[method] {
		panic(fmt.Sprintf("fake: %q is not a ContainerRuntime method", method))
	}
}

// InjectError is Runtime.InjectError.
func (r *engine) InjectError(method string, err error, times int) {
	checkMethod(method)
	r.mu.Lock()
	defer r.mu.Unlock()
	if err == nil {
		delete(r.inject, method)
		return
	}
	if times < 0 {
		times = 0
	}
	r.inject[method] = append(r.inject[method], &injection{err: err, remaining: times})
}

// SetLatency is Runtime.SetLatency.
func (r *engine) SetLatency(method string, d time.Duration) {
	checkMethod(method)
	r.mu.Lock()
	defer r.mu.Unlock()
	if d <= 0 {
		delete(r.latency, method)
		return
	}
	r.latency[method] = d
}

// record starts a call record; the returned func completes it with *errp.
func (r *engine) record(method, target string, errp *error) func() {
	start := time.Now()
	return func() {
		r.mu.Lock()
		defer r.mu.Unlock()
		r.calls = append(r.calls, Call{Method: method, Target: target, Time: start, Duration: time.Since(start), Err: *errp})
	}
}

// recordTarget records a call whose target is known only at its end.
func (r *engine) recordTarget(start time.Time, method string, target *string, errp *error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, Call{Method: method, Target: *target, Time: start, Duration: time.Since(start), Err: *errp})
}

// livePrograms is the number of program goroutines that have not returned.
func (r *engine) livePrograms() int { return r.live }

// engineErr builds the fake's *EngineError. method is the failing method's
// name, which is the ctrgate.Op constant for a ContainerRuntime method (the
// same Op every backend reports).
func engineErr(method, target string, kind error, msg string, err error) error {
	return ctrgate.NewEngineError(BackendName, method, target, kind, msg, err, nil)
}

func unavailable(method, target string) error {
	return engineErr(method, target, ctrgate.ErrEngineUnavailable, "runtime is closed", nil)
}

// enter is the common prologue of every call: closed check, latency,
// context check and error injection.
func (r *engine) enter(ctx context.Context, method, target string) error {
	r.mu.Lock()
	closed := r.closed
	lat := r.latency[method]
	r.mu.Unlock()
	if closed {
		return unavailable(method, target)
	}
	if err := ctx.Err(); err != nil {
		return engineErr(method, target, nil, "", err)
	}
	if lat > 0 {
		t := time.NewTimer(lat)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return engineErr(method, target, nil, "", ctx.Err())
		case <-r.closeCh:
			t.Stop()
			return unavailable(method, target)
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return unavailable(method, target)
	}
	if inj := r.takeInjectionLocked(method); inj != nil {
		return wrapInjected(method, target, inj)
	}
	return nil
}

// takeInjectionLocked returns the error to inject into this call of
// method, or nil, and counts it.
func (r *engine) takeInjectionLocked(method string) error {
	q := r.inject[method]
	if len(q) == 0 {
		return nil
	}
	inj := q[0]
	if inj.remaining > 0 {
		inj.remaining--
		if inj.remaining == 0 {
			r.inject[method] = q[1:]
		}
	}
	return inj.err
}

func wrapInjected(method, target string, err error) error {
	var ee *ctrgate.EngineError
	var ge *ctrgate.GPUConfigError
	if errors.As(err, &ee) || errors.As(err, &ge) {
		return err
	}
	return engineErr(method, target, nil, "", err)
}

// ctxErr wraps a context error for method.
func ctxErr(method, target string, err error) error {
	return engineErr(method, target, nil, "", err)
}

// Info describes the fake engine.
func (r *engine) Info(ctx context.Context) (_ *ctrgate.EngineInfo, err error) {
	defer r.record(ctrgate.OpInfo, "", &err)()
	if err := r.enter(ctx, ctrgate.OpInfo, ""); err != nil {
		return nil, err
	}
	_ = ctx
	devs := make([]string, 0, len(r.cdi))
	for d := range r.cdi {
		devs = append(devs, d)
	}
	sort.Strings(devs)
	return &ctrgate.EngineInfo{
		Backend:    BackendName,
		Engine:     "fake",
		Version:    Version,
		APIVersion: Version,
		OCIRuntime: "fake",
		CDIGPUs:    len(devs) > 0,
		CDIDevices: devs,
	}, nil
}

// cdiResolvable reports whether a CDI device name can be resolved.
func (r *engine) cdiResolvable(dev string) bool {
	if r.cdi[dev] {
		return true
	}
	if kind, name, ok := strings.Cut(dev, "="); ok && name == "all" {
		for d := range r.cdi {
			if strings.HasPrefix(d, kind+"=") {
				return true
			}
		}
	}
	return false
}

// Close ends every container process (closing Done, as a kill would),
// listener, proxy, log and event stream, and waits for the fake's own
// goroutines. It then waits up to the program grace period for the
// programs to return; if some do not, Close returns an error saying how
// many (their goroutines leak: they ignore Process.Done). Afterwards every
// method fails with ctrgate.ErrEngineUnavailable. Close is idempotent.
func (r *engine) Close() (err error) {
	defer r.record(ctrgate.OpClose, "", &err)()
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil
	}
	var injected error
	if inj := r.takeInjectionLocked(ctrgate.OpClose); inj != nil {
		injected = wrapInjected(ctrgate.OpClose, "", inj) // the runtime is closed all the same
	}
	r.closed = true
	close(r.closeCh)
	for _, c := range r.containers {
		if c.run != nil {
			r.endRunLocked(c, c.run, 137, endSilent)
		}
		for x := range c.execs {
			x.kill()
		}
	}
	for s := range r.subs {
		s.endLocked(unavailable(ctrgate.OpEvents, ""))
	}
	r.subs = map[*eventStream]struct{}{}
	for f := range r.logCancels {
		f.cancel()
	}
	r.mu.Unlock()
	r.wg.Wait()

	done := make(chan struct{})
	go func() {
		r.progWG.Wait()
		close(done)
	}()
	t := time.NewTimer(r.programGrace)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
		r.mu.Lock()
		n := r.livePrograms()
		r.mu.Unlock()
		return fmt.Errorf("fake: %d program(s) did not return after their Process.Done was closed (they leak)", n)
	}
	return injected
}

// newID returns 64 random hex digits.
func newID() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
