package ctrgate

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Driver is what a backend implements: the engine work behind a
// ContainerRuntime. A user holds the *Runtime that Enforce puts over it,
// which keeps the parts of the contract every backend shares (as
// database/sql's DB does over a driver): arguments are checked before the
// driver is called, calls after Close fail without reaching it, a call
// returns at its caller's deadline or cancellation even when the driver's
// work lingers, and every error says which method failed on which backend.
//
// Its method set is ContainerRuntime's. A driver alone (each backend's
// NewDriver) does engine work only: it checks no argument, applies no
// default timeout and redacts no secret value it was given; the layer does
// all three (see Enforce).
type Driver interface {
	ContainerRuntime
}

// Runtime is the contract layer over a Driver; see Enforce. It implements
// ContainerRuntime and is safe for concurrent use.
type Runtime struct {
	backend string
	drv     Driver
	timeout time.Duration // default per-call timeout; 0: none
	// promptReads: the driver's reads end with their context (PromptReader)
	promptReads bool

	mu     sync.Mutex
	closed bool
	calls  sync.WaitGroup // driver calls in flight, abandoned ones included

	secrets secretBook // the secret values of the containers it created

	live liveness // the probe of the engine while long calls are open
}

// CloseWait bounds how long Close waits for driver calls that their
// callers abandoned at a deadline (the driver's own context is done by
// then, so a driver that honours it ends well before).
const CloseWait = 10 * time.Second

// DefaultCallTimeout bounds every call whose context has no deadline (see
// WithCallTimeout).
const DefaultCallTimeout = 2 * time.Minute

// unknownStopGrace is what Stop gets on top of the call timeout when it
// leaves the grace period to the container's own stop timeout, which the
// layer does not know.
const unknownStopGrace = 10 * time.Minute

// DefaultLivenessInterval is how often the layer checks that the engine
// still answers while a long call is open (see WithLivenessProbe).
const DefaultLivenessInterval = 10 * time.Second

// EnforceOption configures the contract layer.
type EnforceOption func(*Runtime)

// WithCallTimeout sets the default per-call timeout: a call whose context
// has no deadline fails after d with an *EngineError of the method that is
// both ErrEngineUnavailable and context.DeadlineExceeded ("no answer within
// the call timeout"), whatever the driver does. Wait has none (it
// waits for an exit by design); for a followed Logs, Events and CopyFrom d
// bounds the opening of the stream, not its reading, while a log that is
// not followed must be read to its end within d; Stop gets its grace
// period on top. 0 means DefaultCallTimeout; a negative d turns the default off.
func WithCallTimeout(d time.Duration) EnforceOption {
	return func(r *Runtime) {
		switch {
		case d == 0:
			r.timeout = DefaultCallTimeout
		case d < 0:
			r.timeout = 0
		default:
			r.timeout = d
		}
	}
}

// WithLivenessProbe sets how often the layer checks that the engine still
// answers while a long call is open: a Wait, or a followed Logs, an Events
// or a CopyFrom stream, none of which the default timeout bounds. Each
// probe is the driver's Ping (see Pinger), or Info, bounded by every. When
// two probes in a row get no answer (they time out, or fail with
// ErrEngineUnavailable: a cut link, a killed or frozen engine), every long
// call open then ends with an *EngineError that is ErrEngineUnavailable
// ("the engine stopped answering"): a Wait returns it, a stream's Next
// returns it (never a clean end of stream). So a long call on an engine
// that went away ends within about three intervals, where a connection
// that nothing travels on could otherwise hang for good. Probes run only
// while long calls are open, one at a time per runtime however many calls
// there are. 0 means DefaultLivenessInterval; a negative every turns the
// probe off.
func WithLivenessProbe(every time.Duration) EnforceOption {
	return func(r *Runtime) {
		switch {
		case every == 0:
			r.live.every = DefaultLivenessInterval
		case every < 0:
			r.live.every = 0
		default:
			r.live.every = every
		}
	}
}

// Pinger is implemented by a driver that has a cheap way to check that its
// engine answers (an API's ping); the layer's liveness probe uses it
// rather than Info.
type Pinger interface {
	// Ping returns nil when the engine answered; ErrEngineUnavailable (or
	// the context's error) when it did not.
	Ping(ctx context.Context) error
}

// RunDriver is implemented by a driver that creates and starts a
// container in one step (podman run --detach); ctrgate.Run then takes
// that step. Run's contract is ctrgate.Run's: the new container's ID, or an
// error, with no container of this call left behind; a failure to start
// is an error of OpStart, one to create of OpCreate.
type RunDriver interface {
	Run(ctx context.Context, spec ContainerSpec) (string, error)
}

// PromptReader is implemented by a driver whose reads of the engine's
// state (Inspect, List, ImageExists, ListImages) are each one request that
// returns as soon as its context ends. The layer then makes those calls on
// the caller's goroutine, the default timeout in their context, instead of
// on a goroutine of their own that it could abandon at the deadline: the
// hand-off costs about 20 µs, 8 % of a Docker Inspect. Every other call
// keeps its own goroutine (a Wait, a stream, a call that reads the
// caller's input).
type PromptReader interface {
	// PromptReads reports whether the driver's reads are prompt.
	PromptReads() bool
}

// Enforce returns drv behind the contract layer, its errors stamped with
// backend (the name backend.Open knows it by). Of a runtime that has a
// layer already (see Layer) it returns that layer, options ignored.
//
// The layer alone, for every backend: checks every argument before the
// driver is called (*SpecError, ErrInvalidSpec); refuses calls after Close
// with ErrEngineUnavailable; bounds a call whose context has no deadline
// with the default per-call timeout (WithCallTimeout); ends the long calls
// (Wait, open streams) on an engine that stopped answering
// (WithLivenessProbe); returns at the caller's deadline or cancellation
// even when the driver's work lingers;
// stamps the method (Op) and backend on every error; and redacts from every
// error, and from a container's State.Error, the secret values it has seen
// (ContainerSpec.Env and ExecOptions.Env entries that are Secret or have a
// sensitive name) besides what package redact masks on its own.
func Enforce(backend string, drv Driver, opts ...EnforceOption) *Runtime {
	if l := Layer(drv); l != nil {
		return l
	}
	r := &Runtime{backend: backend, drv: drv, timeout: DefaultCallTimeout}
	if p, ok := drv.(PromptReader); ok && p.PromptReads() {
		r.promptReads = true
	}
	r.live.every = DefaultLivenessInterval
	for _, o := range opts {
		o(r)
	}
	return r
}

// layered is implemented by *Runtime and by the types that embed one.
type layered interface{ contractLayer() *Runtime }

func (r *Runtime) contractLayer() *Runtime { return r }

// Layer returns the contract layer of rt: rt itself when it is a *Runtime,
// the *Runtime it embeds (as the fake's Runtime does), or nil when rt is a
// driver alone.
func Layer(rt ContainerRuntime) *Runtime {
	if l, ok := rt.(layered); ok {
		return l.contractLayer()
	}
	return nil
}

// DriverOf returns the driver under the contract layer of rt, or rt itself
// when it is not a *Runtime: for the few callers that need a backend's
// own methods (the fake's call log, for instance).
func DriverOf(rt ContainerRuntime) ContainerRuntime {
	if r, ok := rt.(*Runtime); ok {
		return r.drv
	}
	return rt
}

// Backend returns the backend name the layer stamps on errors.
func (r *Runtime) Backend() string { return r.backend }

// CallTimeout returns the default per-call timeout (0: none); see
// WithCallTimeout.
func (r *Runtime) CallTimeout() time.Duration { return r.timeout }

// callInfo describes one call for call.
type callInfo struct {
	op, target string
	check      error         // the arguments' validation error, if any
	unbounded  bool          // no default timeout (Wait); watched by the liveness probe
	whole      bool          // the default timeout bounds the stream's whole life (Logs without Follow)
	extra      time.Duration // added to the default timeout (Stop's grace)
	secrets    []string      // values to redact besides those known for target
	read       bool          // a read of the engine's state (see PromptReader)
}

// call runs f, the driver's part of a method, under the layer's rules:
// the validation error (c.check) first, then the closed check and ctx; f
// runs in a goroutine of its own when its context can end, so that the
// call returns at once when that context ends (the caller's, or the
// default timeout's), whatever f does. A result that f delivers after the
// caller has gone is passed to undo (a created container removed, a
// stream closed), so nothing the caller never saw is left behind. When
// keep is not nil, the result is a stream that outlives the call: the
// default timeout bounds its opening only (its whole life with c.whole),
// and keep ties the release of the call's context to the stream's Close
// and maps the stream's errors with mapErr (the liveness probe's verdict
// replaces the error, or the end, of a stream it ended).
func call[T any](r *Runtime, ctx context.Context, c callInfo, f func(context.Context) (T, error), undo func(T), keep func(v T, release func(), mapErr func(error) error) T) (T, error) {
	var zero T
	if c.check != nil {
		return zero, c.check
	}
	if ctx == nil {
		ctx = context.Background()
	}
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return zero, NewEngineError(r.backend, c.op, c.target, ErrEngineUnavailable, "runtime is closed", nil, nil)
	}
	r.calls.Add(1)
	r.mu.Unlock()
	if err := ctx.Err(); err != nil {
		r.calls.Done()
		return zero, r.ctxErr(ctx, c.op, c.target)
	}
	secrets := slices.Concat(c.secrets, r.secrets.of(c.target))

	// dctx is the driver's context: ctx, ended after the default timeout
	// when ctx has no deadline (tctx), and, for a long call, when the
	// liveness probe finds the engine gone.
	dctx, release := ctx, func() {}
	var timer *time.Timer
	var tctx context.Context // the default timeout's context, if it has one
	limit := r.timeout + c.extra
	if _, ok := ctx.Deadline(); ok || r.timeout <= 0 || c.unbounded {
		// the caller's context alone
	} else if c.whole || keep == nil {
		dctx, release = context.WithTimeout(ctx, limit)
		tctx = dctx
	} else { // a stream's opening only: a timer that its opening stops
		var cancel context.CancelCauseFunc
		dctx, cancel = context.WithCancelCause(ctx)
		release = func() { cancel(nil) }
		timer = time.AfterFunc(limit, func() { cancel(context.DeadlineExceeded) })
	}
	var gone func() error // the liveness probe's verdict, for a watched call
	if (c.unbounded || (keep != nil && !c.whole)) && r.live.every > 0 {
		var cancel context.CancelCauseFunc
		dctx, cancel = context.WithCancelCause(dctx)
		unwatch := r.live.watch(r, cancel)
		inner, wctx := release, dctx
		release = func() { unwatch(); cancel(nil); inner() }
		gone = func() error {
			var ge *engineGoneError
			if errors.As(context.Cause(wctx), &ge) {
				return r.goneErr(c.op, c.target, ge)
			}
			return nil
		}
	}
	if dctx.Done() == nil { // it cannot end: run f here
		defer r.calls.Done()
		defer release() // nothing to release: dctx is ctx
		v, err := f(dctx)
		return v, r.finish(c.op, c.target, err, secrets)
	}
	if c.read && r.promptReads && keep == nil && gone == nil { // f ends with dctx: run it here
		defer r.calls.Done()
		defer release()
		v, err := f(dctx)
		switch {
		case err == nil:
		case ctx.Err() != nil: // as for a call abandoned at the caller's end
			return zero, r.ctxErr(ctx, c.op, c.target)
		case tctx != nil && tctx.Err() != nil:
			return zero, r.timeoutErr(c.op, c.target, limit)
		}
		return v, r.finish(c.op, c.target, err, secrets)
	}

	type result struct {
		v   T
		err error
	}
	var (
		mu        sync.Mutex
		abandoned bool
		done      = make(chan result, 1)
	)
	go func() {
		defer r.calls.Done()
		v, err := f(dctx)
		mu.Lock()
		gone := abandoned
		if !gone {
			done <- result{v, err}
		}
		mu.Unlock()
		if gone && err == nil && undo != nil {
			undo(v)
		}
	}()
	outcome := func(res result) (T, error) {
		// The liveness probe ended the call: the engine is gone.
		if gone != nil && ctx.Err() == nil {
			if err := gone(); err != nil {
				if res.err == nil && undo != nil {
					undo(res.v)
				}
				release()
				return zero, err
			}
		}
		// The default timeout ended the call (or the stream it opened):
		// its error says so, whether the driver gave up first or not.
		fired := (timer != nil && !timer.Stop()) || (tctx != nil && tctx.Err() != nil)
		if fired && ctx.Err() == nil && (res.err != nil || keep != nil) {
			if res.err == nil && undo != nil {
				undo(res.v)
			}
			release()
			return zero, r.timeoutErr(c.op, c.target, limit)
		}
		if res.err != nil || keep == nil {
			release()
			return res.v, r.finish(c.op, c.target, res.err, secrets)
		}
		if dctx == ctx { // nothing to release
			return res.v, nil
		}
		return keep(res.v, release, func(err error) error {
			if gone != nil && err != nil && ctx.Err() == nil {
				if gerr := gone(); gerr != nil {
					return gerr
				}
			}
			return err
		}), nil
	}
	select {
	case res := <-done:
		return outcome(res)
	case <-dctx.Done():
		mu.Lock()
		defer mu.Unlock()
		select {
		case res := <-done: // it ended as the context did: its outcome stands
			return outcome(res)
		default:
			abandoned = true
			var gerr error
			if gone != nil && ctx.Err() == nil {
				gerr = gone()
			}
			release()
			switch {
			case gerr != nil:
				return zero, gerr
			case ctx.Err() == nil:
				return zero, r.timeoutErr(c.op, c.target, limit)
			}
			return zero, r.ctxErr(ctx, c.op, c.target)
		}
	}
}

// timeoutErr is the error of a call that the default timeout ended: the
// engine gave no answer in time, so it is ErrEngineUnavailable as well as
// context.DeadlineExceeded.
func (r *Runtime) timeoutErr(op, target string, limit time.Duration) error {
	return NewEngineError(r.backend, op, target, ErrEngineUnavailable, "",
		fmt.Errorf("%s: no answer within the call timeout (%v): %w", op, limit, context.DeadlineExceeded), nil)
}

// finish stamps and redacts a driver's error.
func (r *Runtime) finish(op, target string, err error, secrets []string) error {
	return redactError(r.stamp(op, target, err), secrets)
}

// ctxErr is the error of a call whose context ended.
func (r *Runtime) ctxErr(ctx context.Context, op, target string) error {
	return NewEngineError(r.backend, op, target, nil, "", fmt.Errorf("%s: %w", op, context.Cause(ctx)), nil)
}

// stamp makes every error of the driver an *EngineError of op on the
// layer's backend; the package's other error types (*SpecError,
// *GPUConfigError, *ExitedError, *HostKeyError) stay what they are.
func (r *Runtime) stamp(op, target string, err error) error {
	if err == nil {
		return nil
	}
	var ee *EngineError
	var se *SpecError
	var ge *GPUConfigError
	var xe *ExitedError
	var he *HostKeyError
	if errors.As(err, &ee) || errors.As(err, &se) || errors.As(err, &ge) || errors.As(err, &xe) || errors.As(err, &he) {
		return err
	}
	return NewEngineError(r.backend, op, target, nil, "", err, nil)
}

// Info describes the engine.
func (r *Runtime) Info(ctx context.Context) (*EngineInfo, error) {
	return call(r, ctx, callInfo{op: OpInfo}, r.drv.Info, nil, nil)
}

// ImageExists reports whether the image is present.
func (r *Runtime) ImageExists(ctx context.Context, ref string) (bool, error) {
	return call(r, ctx, callInfo{op: OpImageExists, target: ref, check: ValidateImageRef(ref), read: true}, func(ctx context.Context) (bool, error) {
		return r.drv.ImageExists(ctx, ref)
	}, nil, nil)
}

// errCall is call for a method that returns only an error.
func (r *Runtime) errCall(ctx context.Context, c callInfo, f func(context.Context) error) error {
	_, err := call(r, ctx, c, func(ctx context.Context) (struct{}, error) {
		return struct{}{}, f(ctx)
	}, nil, nil)
	return err
}

// PullImage makes the image present according to policy.
func (r *Runtime) PullImage(ctx context.Context, ref string, policy PullPolicy) error {
	check := ValidateImageRef(ref)
	if check == nil {
		check = ValidatePullPolicy(policy)
	}
	return r.errCall(ctx, callInfo{op: OpPullImage, target: ref, check: check}, func(ctx context.Context) error {
		return r.drv.PullImage(ctx, ref, policy)
	})
}

// ImportImage imports a root file system tarball as an image.
func (r *Runtime) ImportImage(ctx context.Context, ref string, rootfs io.Reader, opts ImportOptions) error {
	check := ValidateImageRef(ref)
	if check == nil && rootfs == nil {
		check = &SpecError{Field: "rootfs", Reason: "must not be nil"}
	}
	if check == nil {
		check = ValidateImportOptions(opts)
	}
	return r.errCall(ctx, callInfo{op: OpImportImage, target: ref, check: check}, func(ctx context.Context) error {
		return r.drv.ImportImage(ctx, ref, rootfs, opts)
	})
}

// ListImages lists the images that match filter.
func (r *Runtime) ListImages(ctx context.Context, filter ImageFilter) ([]Image, error) {
	return call(r, ctx, callInfo{op: OpListImages, target: filter.RefPrefix, check: ValidateImageFilter(filter), read: true}, func(ctx context.Context) ([]Image, error) {
		return r.drv.ListImages(ctx, filter)
	}, nil, nil)
}

// RemoveImage removes an image.
func (r *Runtime) RemoveImage(ctx context.Context, ref string, force bool) error {
	return r.errCall(ctx, callInfo{op: OpRemoveImage, target: ref, check: ValidateImageRef(ref)}, func(ctx context.Context) error {
		return r.drv.RemoveImage(ctx, ref, force)
	})
}

// Create creates a container. One that the driver creates after the
// caller's context has ended is removed again. The spec's secret values
// are redacted from the errors of every later call on the container.
func (r *Runtime) Create(ctx context.Context, spec ContainerSpec) (string, error) {
	secrets := SecretValues(spec.Env)
	id, err := call(r, ctx, callInfo{op: OpCreate, target: spec.Name, check: ValidateSpec(spec), secrets: secrets},
		func(ctx context.Context) (string, error) {
			return r.drv.Create(ctx, spec)
		}, func(id string) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			_ = r.drv.Remove(ctx, id, RemoveOptions{Force: true, Volumes: true})
		}, nil)
	if err == nil {
		r.secrets.add(secrets, id, spec.Name)
	}
	return id, err
}

// Run creates and starts a container, as ctrgate.Run does: in one step
// when the driver has one (RunDriver), else Create, Start and, when the
// start fails, Remove.
func (r *Runtime) Run(ctx context.Context, spec ContainerSpec) (string, error) {
	rd, ok := r.drv.(RunDriver)
	if !ok {
		return runInSteps(ctx, r, spec)
	}
	secrets := SecretValues(spec.Env)
	id, err := call(r, ctx, callInfo{op: OpCreate, target: spec.Name, check: ValidateSpec(spec), secrets: secrets},
		func(ctx context.Context) (string, error) {
			return rd.Run(ctx, spec)
		}, func(id string) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			_ = r.drv.Remove(ctx, id, RemoveOptions{Force: true, Volumes: true})
		}, nil)
	if err == nil {
		r.secrets.add(secrets, id, spec.Name)
	}
	return id, err
}

// nameCall is errCall for a method on a container name.
func (r *Runtime) nameCall(ctx context.Context, c callInfo, f func(context.Context) error) error {
	if c.check == nil {
		c.check = ValidateName(c.target)
	}
	return r.errCall(ctx, c, f)
}

// Start starts a created or exited container.
func (r *Runtime) Start(ctx context.Context, name string) error {
	return r.nameCall(ctx, callInfo{op: OpStart, target: name}, func(ctx context.Context) error { return r.drv.Start(ctx, name) })
}

// Stop stops a running container. The default timeout is extended by the
// grace period (timeout; 10 minutes when the container's own stop timeout
// applies, which the layer does not know).
func (r *Runtime) Stop(ctx context.Context, name string, timeout time.Duration) error {
	grace := timeout
	if timeout < 0 {
		grace = unknownStopGrace
	}
	return r.nameCall(ctx, callInfo{op: OpStop, target: name, extra: grace}, func(ctx context.Context) error { return r.drv.Stop(ctx, name, timeout) })
}

// Kill sends a signal to the container's main process.
func (r *Runtime) Kill(ctx context.Context, name string, signal string) error {
	check := ValidateName(name)
	if check == nil {
		_, check = ParseSignal(signal)
	}
	return r.nameCall(ctx, callInfo{op: OpKill, target: name, check: check}, func(ctx context.Context) error { return r.drv.Kill(ctx, name, signal) })
}

// Remove removes a container.
func (r *Runtime) Remove(ctx context.Context, name string, opts RemoveOptions) error {
	err := r.nameCall(ctx, callInfo{op: OpRemove, target: name}, func(ctx context.Context) error { return r.drv.Remove(ctx, name, opts) })
	if err == nil || errors.Is(err, ErrNotFound) {
		r.secrets.forget(name)
	}
	return err
}

// Inspect describes a container.
func (r *Runtime) Inspect(ctx context.Context, name string) (*Container, error) {
	c, err := call(r, ctx, callInfo{op: OpInspect, target: name, check: ValidateName(name), read: true}, func(ctx context.Context) (*Container, error) {
		return r.drv.Inspect(ctx, name)
	}, nil, nil)
	if c != nil {
		r.secrets.redactState(c)
	}
	return c, err
}

// List lists the containers that match filter.
func (r *Runtime) List(ctx context.Context, filter ListFilter) ([]Container, error) {
	cs, err := call(r, ctx, callInfo{op: OpList, target: filter.NamePrefix, check: ValidatePrefix(filter.NamePrefix), read: true}, func(ctx context.Context) ([]Container, error) {
		return r.drv.List(ctx, filter)
	}, nil, nil)
	for i := range cs {
		r.secrets.redactState(&cs[i])
	}
	return cs, err
}

// Wait waits for the container's exit and returns its code. It has no
// default timeout.
func (r *Runtime) Wait(ctx context.Context, name string) (int, error) {
	return call(r, ctx, callInfo{op: OpWait, target: name, check: ValidateName(name), unbounded: true}, func(ctx context.Context) (int, error) {
		return r.drv.Wait(ctx, name)
	}, nil, nil)
}

// Logs streams the container's output.
func (r *Runtime) Logs(ctx context.Context, name string, opts LogOptions) (LogStream, error) {
	check := ValidateName(name)
	if check == nil {
		check = ValidateLogOptions(opts)
	}
	return call(r, ctx, callInfo{op: OpLogs, target: name, check: check, whole: !opts.Follow}, func(ctx context.Context) (LogStream, error) {
		return r.drv.Logs(ctx, name, opts)
	}, func(s LogStream) { _ = s.Close() }, func(s LogStream, release func(), mapErr func(error) error) LogStream {
		return &releasingLogStream{LogStream: s, streamEnd: streamEnd{release: release, mapErr: mapErr}}
	})
}

// Exec runs a command in a running container. Its Env's secret values are
// redacted from its errors.
func (r *Runtime) Exec(ctx context.Context, name string, opts ExecOptions) (*ExecResult, error) {
	check := ValidateName(name)
	if check == nil {
		check = ValidateExecOptions(opts)
	}
	return call(r, ctx, callInfo{op: OpExec, target: name, check: check, secrets: SecretValues(opts.Env)}, func(ctx context.Context) (*ExecResult, error) {
		return r.drv.Exec(ctx, name, opts)
	}, nil, nil)
}

// CopyTo extracts a tar stream into a directory of the container.
func (r *Runtime) CopyTo(ctx context.Context, name, dstDir string, archive io.Reader) error {
	check := ValidateName(name)
	if check == nil {
		check = ValidateContainerPath("dstDir", dstDir)
	}
	if check == nil && archive == nil {
		check = &SpecError{Field: "archive", Reason: "must not be nil"}
	}
	return r.nameCall(ctx, callInfo{op: OpCopyTo, target: name, check: check}, func(ctx context.Context) error { return r.drv.CopyTo(ctx, name, dstDir, archive) })
}

// CopyFrom returns a tar stream of a path in the container.
func (r *Runtime) CopyFrom(ctx context.Context, name, srcPath string) (io.ReadCloser, error) {
	check := ValidateName(name)
	if check == nil {
		check = ValidateContainerPath("srcPath", srcPath)
	}
	return call(r, ctx, callInfo{op: OpCopyFrom, target: name, check: check}, func(ctx context.Context) (io.ReadCloser, error) {
		return r.drv.CopyFrom(ctx, name, srcPath)
	}, func(rc io.ReadCloser) { _ = rc.Close() }, func(rc io.ReadCloser, release func(), mapErr func(error) error) io.ReadCloser {
		return &releasingReadCloser{ReadCloser: rc, streamEnd: streamEnd{release: release, mapErr: mapErr}}
	})
}

// Events streams container lifecycle events.
func (r *Runtime) Events(ctx context.Context, filter EventFilter) (EventStream, error) {
	return call(r, ctx, callInfo{op: OpEvents, target: filter.NamePrefix, check: ValidatePrefix(filter.NamePrefix)}, func(ctx context.Context) (EventStream, error) {
		return r.drv.Events(ctx, filter)
	}, func(s EventStream) { _ = s.Close() }, func(s EventStream, release func(), mapErr func(error) error) EventStream {
		return &releasingEventStream{EventStream: s, streamEnd: streamEnd{release: release, mapErr: mapErr}}
	})
}

// Close closes the driver and waits (up to CloseWait) for the driver calls
// still in flight, those abandoned at a deadline included. Calls after
// Close fail with ErrEngineUnavailable; a second Close does nothing.
func (r *Runtime) Close() error {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil
	}
	r.closed = true
	r.mu.Unlock()
	r.live.stop()
	err := r.drv.Close()
	ended := make(chan struct{})
	go func() { r.calls.Wait(); close(ended) }()
	select {
	case <-ended:
	case <-time.After(CloseWait):
	}
	return err
}

// streamEnd is what the layer's stream wrappers share: the release of the
// call's context on Close, and the mapping of the stream's errors (the
// liveness probe's verdict) until then.
type streamEnd struct {
	release func()
	mapErr  func(error) error
	closed  atomic.Bool
}

func (s *streamEnd) mapped(err error) error {
	if err == nil || s.closed.Load() {
		return err
	}
	return s.mapErr(err)
}

func (s *streamEnd) closeWith(closeStream func() error) error {
	s.closed.Store(true)
	err := closeStream()
	s.release()
	return err
}

// releasingLogStream releases its call's context on Close and maps its
// errors.
type releasingLogStream struct {
	LogStream
	streamEnd
}

func (s *releasingLogStream) Next() (LogLine, error) {
	l, err := s.LogStream.Next()
	return l, s.mapped(err)
}

func (s *releasingLogStream) Close() error { return s.closeWith(s.LogStream.Close) }

// releasingEventStream releases its call's context on Close and maps its
// errors.
type releasingEventStream struct {
	EventStream
	streamEnd
}

func (s *releasingEventStream) Next() (Event, error) {
	e, err := s.EventStream.Next()
	return e, s.mapped(err)
}

func (s *releasingEventStream) Close() error { return s.closeWith(s.EventStream.Close) }

// releasingReadCloser releases its call's context on Close and maps its
// errors.
type releasingReadCloser struct {
	io.ReadCloser
	streamEnd
}

func (s *releasingReadCloser) Read(p []byte) (int, error) {
	n, err := s.ReadCloser.Read(p)
	return n, s.mapped(err)
}

func (s *releasingReadCloser) Close() error { return s.closeWith(s.ReadCloser.Close) }
