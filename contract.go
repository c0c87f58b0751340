package ctrgate

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
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
// NewDriver) checks no argument and trusts the layer for the rest; the
// default per-call timeout and the redaction of secrets are still the
// drivers' own.
type Driver interface {
	ContainerRuntime
}

// Runtime is the contract layer over a Driver; see Enforce. It implements
// ContainerRuntime and is safe for concurrent use.
type Runtime struct {
	backend string
	drv     Driver

	mu     sync.Mutex
	closed bool
	calls  sync.WaitGroup // driver calls in flight, abandoned ones included
}

// CloseWait bounds how long Close waits for driver calls that their
// callers abandoned at a deadline (the driver's own context is done by
// then, so a driver that honours it ends well before).
const CloseWait = 10 * time.Second

// Enforce returns drv behind the contract layer, its errors stamped with
// backend (the name backend.Open knows it by). Of a runtime that has a
// layer already (see Layer) it returns that layer.
func Enforce(backend string, drv Driver) *Runtime {
	if l := Layer(drv); l != nil {
		return l
	}
	return &Runtime{backend: backend, drv: drv}
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

// call runs f, the driver's part of method op on target, under the
// layer's rules: check (the validation of the arguments, already done)
// first, then the closed check and ctx; f runs in a goroutine of its own
// when ctx can end, so that the call returns at once when ctx ends, with
// the context's error, whatever f does. A result that f delivers after the
// caller has gone is passed to undo (a created container removed, a
// stream closed), so nothing the caller never saw is left behind.
func call[T any](r *Runtime, ctx context.Context, op, target string, check error, f func(context.Context) (T, error), undo func(T)) (T, error) {
	var zero T
	if check != nil {
		return zero, check
	}
	if ctx == nil {
		ctx = context.Background()
	}
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return zero, NewEngineError(r.backend, op, target, ErrEngineUnavailable, "runtime is closed", nil, nil)
	}
	r.calls.Add(1)
	r.mu.Unlock()
	if err := ctx.Err(); err != nil {
		r.calls.Done()
		return zero, r.ctxErr(ctx, op, target)
	}
	if ctx.Done() == nil { // it cannot end: the driver's own timeout bounds it
		defer r.calls.Done()
		v, err := f(ctx)
		return v, r.stamp(op, target, err)
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
		v, err := f(ctx)
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
	select {
	case res := <-done:
		return res.v, r.stamp(op, target, res.err)
	case <-ctx.Done():
		mu.Lock()
		defer mu.Unlock()
		select {
		case res := <-done: // it ended as ctx did: its outcome stands
			return res.v, r.stamp(op, target, res.err)
		default:
			abandoned = true
			return zero, r.ctxErr(ctx, op, target)
		}
	}
}

// ctxErr is the error of a call whose context ended.
func (r *Runtime) ctxErr(ctx context.Context, op, target string) error {
	return NewEngineError(r.backend, op, target, nil, "", fmt.Errorf("%s: %w", op, context.Cause(ctx)), nil)
}

// stamp makes every error of the driver an *EngineError of op on the
// layer's backend; the package's other error types (*SpecError,
// *GPUConfigError, *ExitedError) stay what they are.
func (r *Runtime) stamp(op, target string, err error) error {
	if err == nil {
		return nil
	}
	var ee *EngineError
	var se *SpecError
	var ge *GPUConfigError
	var xe *ExitedError
	if errors.As(err, &ee) || errors.As(err, &se) || errors.As(err, &ge) || errors.As(err, &xe) {
		return err
	}
	return NewEngineError(r.backend, op, target, nil, "", err, nil)
}

// Info describes the engine.
func (r *Runtime) Info(ctx context.Context) (*EngineInfo, error) {
	return call(r, ctx, OpInfo, "", nil, r.drv.Info, nil)
}

// ImageExists reports whether the image is present.
func (r *Runtime) ImageExists(ctx context.Context, ref string) (bool, error) {
	return call(r, ctx, OpImageExists, ref, ValidateImageRef(ref), func(ctx context.Context) (bool, error) {
		return r.drv.ImageExists(ctx, ref)
	}, nil)
}

// PullImage makes the image present according to policy.
func (r *Runtime) PullImage(ctx context.Context, ref string, policy PullPolicy) error {
	check := ValidateImageRef(ref)
	if check == nil {
		check = ValidatePullPolicy(policy)
	}
	_, err := call(r, ctx, OpPullImage, ref, check, func(ctx context.Context) (struct{}, error) {
		return struct{}{}, r.drv.PullImage(ctx, ref, policy)
	}, nil)
	return err
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
	_, err := call(r, ctx, OpImportImage, ref, check, func(ctx context.Context) (struct{}, error) {
		return struct{}{}, r.drv.ImportImage(ctx, ref, rootfs, opts)
	}, nil)
	return err
}

// ListImages lists the images that match filter.
func (r *Runtime) ListImages(ctx context.Context, filter ImageFilter) ([]Image, error) {
	return call(r, ctx, OpListImages, filter.RefPrefix, ValidateImageFilter(filter), func(ctx context.Context) ([]Image, error) {
		return r.drv.ListImages(ctx, filter)
	}, nil)
}

// RemoveImage removes an image.
func (r *Runtime) RemoveImage(ctx context.Context, ref string, force bool) error {
	_, err := call(r, ctx, OpRemoveImage, ref, ValidateImageRef(ref), func(ctx context.Context) (struct{}, error) {
		return struct{}{}, r.drv.RemoveImage(ctx, ref, force)
	}, nil)
	return err
}

// Create creates a container. One that the driver creates after the
// caller's context has ended is removed again.
func (r *Runtime) Create(ctx context.Context, spec ContainerSpec) (string, error) {
	return call(r, ctx, OpCreate, spec.Name, ValidateSpec(spec), func(ctx context.Context) (string, error) {
		return r.drv.Create(ctx, spec)
	}, func(id string) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		_ = r.drv.Remove(ctx, id, RemoveOptions{Force: true, Volumes: true})
	})
}

// nameCall is call for a method on a container name that returns only an
// error.
func (r *Runtime) nameCall(ctx context.Context, op, name string, check error, f func(context.Context) error) error {
	if check == nil {
		check = ValidateName(name)
	}
	_, err := call(r, ctx, op, name, check, func(ctx context.Context) (struct{}, error) {
		return struct{}{}, f(ctx)
	}, nil)
	return err
}

// Start starts a created or exited container.
func (r *Runtime) Start(ctx context.Context, name string) error {
	return r.nameCall(ctx, OpStart, name, nil, func(ctx context.Context) error { return r.drv.Start(ctx, name) })
}

// Stop stops a running container.
func (r *Runtime) Stop(ctx context.Context, name string, timeout time.Duration) error {
	return r.nameCall(ctx, OpStop, name, nil, func(ctx context.Context) error { return r.drv.Stop(ctx, name, timeout) })
}

// Kill sends a signal to the container's main process.
func (r *Runtime) Kill(ctx context.Context, name string, signal string) error {
	check := ValidateName(name)
	if check == nil {
		_, check = ParseSignal(signal)
	}
	return r.nameCall(ctx, OpKill, name, check, func(ctx context.Context) error { return r.drv.Kill(ctx, name, signal) })
}

// Remove removes a container.
func (r *Runtime) Remove(ctx context.Context, name string, opts RemoveOptions) error {
	return r.nameCall(ctx, OpRemove, name, nil, func(ctx context.Context) error { return r.drv.Remove(ctx, name, opts) })
}

// Inspect describes a container.
func (r *Runtime) Inspect(ctx context.Context, name string) (*Container, error) {
	return call(r, ctx, OpInspect, name, ValidateName(name), func(ctx context.Context) (*Container, error) {
		return r.drv.Inspect(ctx, name)
	}, nil)
}

// List lists the containers that match filter.
func (r *Runtime) List(ctx context.Context, filter ListFilter) ([]Container, error) {
	return call(r, ctx, OpList, filter.NamePrefix, ValidatePrefix(filter.NamePrefix), func(ctx context.Context) ([]Container, error) {
		return r.drv.List(ctx, filter)
	}, nil)
}

// Wait waits for the container's exit and returns its code.
func (r *Runtime) Wait(ctx context.Context, name string) (int, error) {
	return call(r, ctx, OpWait, name, ValidateName(name), func(ctx context.Context) (int, error) {
		return r.drv.Wait(ctx, name)
	}, nil)
}

// Logs streams the container's output.
func (r *Runtime) Logs(ctx context.Context, name string, opts LogOptions) (LogStream, error) {
	check := ValidateName(name)
	if check == nil {
		check = ValidateLogOptions(opts)
	}
	return call(r, ctx, OpLogs, name, check, func(ctx context.Context) (LogStream, error) {
		return r.drv.Logs(ctx, name, opts)
	}, func(s LogStream) { _ = s.Close() })
}

// Exec runs a command in a running container.
func (r *Runtime) Exec(ctx context.Context, name string, opts ExecOptions) (*ExecResult, error) {
	check := ValidateName(name)
	if check == nil {
		check = ValidateExecOptions(opts)
	}
	return call(r, ctx, OpExec, name, check, func(ctx context.Context) (*ExecResult, error) {
		return r.drv.Exec(ctx, name, opts)
	}, nil)
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
	return r.nameCall(ctx, OpCopyTo, name, check, func(ctx context.Context) error { return r.drv.CopyTo(ctx, name, dstDir, archive) })
}

// CopyFrom returns a tar stream of a path in the container.
func (r *Runtime) CopyFrom(ctx context.Context, name, srcPath string) (io.ReadCloser, error) {
	check := ValidateName(name)
	if check == nil {
		check = ValidateContainerPath("srcPath", srcPath)
	}
	return call(r, ctx, OpCopyFrom, name, check, func(ctx context.Context) (io.ReadCloser, error) {
		return r.drv.CopyFrom(ctx, name, srcPath)
	}, func(rc io.ReadCloser) { _ = rc.Close() })
}

// Events streams container lifecycle events.
func (r *Runtime) Events(ctx context.Context, filter EventFilter) (EventStream, error) {
	return call(r, ctx, OpEvents, filter.NamePrefix, ValidatePrefix(filter.NamePrefix), func(ctx context.Context) (EventStream, error) {
		return r.drv.Events(ctx, filter)
	}, func(s EventStream) { _ = s.Close() })
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
	err := r.drv.Close()
	ended := make(chan struct{})
	go func() { r.calls.Wait(); close(ended) }()
	select {
	case <-ended:
	case <-time.After(CloseWait):
	}
	return err
}
