package docker

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/ctrgate/ctrgate/driver"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/client"

	"github.com/ctrgate/ctrgate"
)

// imageOp reports whether op is about an image rather than a container.
func imageOp(op string) bool {
	switch op {
	case ctrgate.OpPullImage, ctrgate.OpImportImage, ctrgate.OpImageExists, ctrgate.OpRemoveImage:
		return true
	}
	return false
}

// mapErr turns a Docker client error into a ctrgate error: an
// *ctrgate.EngineError whose Kind is the matching sentinel, or a
// *ctrgate.GPUConfigError. When ctx is done the error wraps its cause (context.DeadlineExceeded or
// context.Canceled).
func (r *Runtime) mapErr(ctx context.Context, op, target string, err error) error {
	if err == nil {
		return nil
	}
	var ee *ctrgate.EngineError
	if errors.As(err, &ee) {
		return err
	}
	var ge *ctrgate.GPUConfigError
	if errors.As(err, &ge) {
		return err
	}
	var hke *ctrgate.HostKeyError
	if errors.As(err, &hke) {
		return hke
	}
	if ctx != nil && ctx.Err() != nil {
		cause := context.Cause(ctx)
		if r != nil && r.life.Err() != nil && !errors.Is(cause, context.DeadlineExceeded) {
			return ctrgate.NewEngineError(BackendName, op, target, ctrgate.ErrEngineUnavailable, "runtime is closed", err, nil)
		}
		if !errors.Is(err, cause) {
			err = fmt.Errorf("%w (%v)", cause, err)
		}
		return ctrgate.NewEngineError(BackendName, op, target, nil, "", err, nil)
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return ctrgate.NewEngineError(BackendName, op, target, nil, "", err, nil)
	}
	msg := err.Error()
	kind := classify(op, err, msg)
	if kind == errGPU {
		return ctrgate.NewGPUConfigError(BackendName, msg, err, nil)
	}
	return ctrgate.NewEngineError(BackendName, op, target, kind, msg, err, nil)
}

// errGPU is classify's answer for GPU setup failures.
var errGPU = errors.New("gpu configuration")

// classify picks the sentinel for an engine error of operation op. The HTTP
// status (through errdefs) decides first; the message refines it, because
// one status means different things per operation (409 is "name in use" for
// create, "running" for remove, "not running" for kill and exec) and
// Podman's compatibility API answers some cases with 500.
func classify(op string, err error, msg string) error {
	m := strings.ToLower(msg)
	switch {
	case client.IsErrConnectionFailed(err), driver.IsBrokenConnection(err):
		return ctrgate.ErrEngineUnavailable
	case (op == ctrgate.OpCreate || op == ctrgate.OpStart) && driver.IsGPUConfigMessage(msg) && gpuish(m):
		return errGPU
	case op == ctrgate.OpPullImage && !cerrdefs.IsInternal(err) && !cerrdefs.IsUnavailable(err) && cerrdefs.IsNotFound(err):
		return ctrgate.ErrImageNotFound
	case op == ctrgate.OpPullImage:
		// a registry answered "not here" (ErrImageNotFound), or none
		// answered at all (ErrRegistryUnavailable)
		return driver.PullFailureKind(msg)
	}
	switch {
	case strings.Contains(m, "no such image"), strings.Contains(m, "image not known"),
		strings.Contains(m, "manifest unknown"), strings.Contains(m, "repository does not exist"),
		strings.Contains(m, "pull access denied"):
		return ctrgate.ErrImageNotFound
	}
	if imageOp(op) {
		switch {
		case cerrdefs.IsNotFound(err):
			return ctrgate.ErrImageNotFound
		case cerrdefs.IsConflict(err), strings.Contains(m, "image is in use"),
			strings.Contains(m, "is using its referenced image"), strings.Contains(m, "image used by"):
			return ctrgate.ErrRunning
		case op == ctrgate.OpPullImage && !cerrdefs.IsInternal(err) && !cerrdefs.IsUnavailable(err):
			// Anything a registry answers about a reference it cannot provide.
			return ctrgate.ErrImageNotFound
		case op == ctrgate.OpPullImage:
			return ctrgate.ErrImageNotFound
		}
		return nil
	}
	switch {
	case strings.Contains(m, "is already in use"), strings.Contains(m, "name is already in use"),
		strings.Contains(m, "already exists") && op == ctrgate.OpCreate:
		return ctrgate.ErrAlreadyExists
	case strings.Contains(m, "no such container"), strings.Contains(m, "no container with name or id"),
		strings.Contains(m, "no such object"), strings.Contains(m, "does not exist in database"),
		strings.Contains(m, "container has already been removed"): // rootless Podman 4.3's wait on an auto-removed container
		return ctrgate.ErrNotFound
	case (op == ctrgate.OpCopyFrom || op == ctrgate.OpCopyTo) && (cerrdefs.IsNotFound(err) ||
		strings.Contains(m, "could not find the file") || strings.Contains(m, "no such file or directory")):
		return ctrgate.ErrNotFound
	case strings.Contains(m, "is not running"), strings.Contains(m, "is paused"),
		strings.Contains(m, "container state improper"), strings.Contains(m, "not running"):
		if op == ctrgate.OpRemove {
			return ctrgate.ErrRunning
		}
		return ctrgate.ErrNotRunning
	case strings.Contains(m, "cannot remove a running container"), strings.Contains(m, "stop the container before"),
		strings.Contains(m, "is running or paused"):
		return ctrgate.ErrRunning
	case strings.Contains(m, "invalid signal"), strings.Contains(m, "invalid reference format"):
		return ctrgate.ErrInvalidSpec
	}
	switch {
	case cerrdefs.IsNotFound(err):
		if op == ctrgate.OpCreate {
			return nil // e.g. a network that does not exist: not the container
		}
		return ctrgate.ErrNotFound
	case cerrdefs.IsConflict(err):
		switch op {
		case ctrgate.OpCreate:
			return ctrgate.ErrAlreadyExists
		case ctrgate.OpRemove:
			return ctrgate.ErrRunning
		case ctrgate.OpKill, ctrgate.OpExec:
			return ctrgate.ErrNotRunning
		}
	case cerrdefs.IsInvalidArgument(err) && op == ctrgate.OpCreate:
		return ctrgate.ErrInvalidSpec
	case cerrdefs.IsNotImplemented(err):
		return ctrgate.ErrUnsupported
	}
	return nil
}

// gpuish guards IsGPUConfigMessage (which matches any "CDI") against
// unrelated messages: the message must be about devices or GPUs.
func gpuish(m string) bool {
	for _, w := range []string{"gpu", "cdi", "device driver", "nvidia"} {
		if strings.Contains(m, w) {
			return true
		}
	}
	return false
}
