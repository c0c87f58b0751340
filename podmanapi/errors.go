package podmanapi

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/url"
	"strings"

	"github.com/ctrgate/ctrgate/driver"

	"github.com/containers/podman/v5/pkg/bindings"
	"github.com/containers/podman/v5/pkg/errorhandling"

	"github.com/ctrgate/ctrgate"
)

// apiError extracts the status code and the text of a libpod error
// answer. ok is false when err is not an answer of the service.
func apiError(err error) (code int, msg string, ok bool) {
	var pm *errorhandling.ErrorModel
	if errors.As(err, &pm) && pm != nil {
		return pm.ResponseCode, joinCause(pm.Message, pm.Because), true
	}
	var m errorhandling.ErrorModel
	if errors.As(err, &m) {
		return m.ResponseCode, joinCause(m.Message, m.Because), true
	}
	var pc *errorhandling.PodConflictErrorModel
	if errors.As(err, &pc) && pc != nil {
		return http.StatusConflict, pc.Error(), true
	}
	var se *statusError
	if errors.As(err, &se) {
		return se.code, se.msg, true
	}
	return 0, "", false
}

func joinCause(msg, cause string) string {
	if cause == "" || strings.Contains(msg, cause) {
		return msg
	}
	if msg == "" {
		return cause
	}
	return msg + ": " + cause
}

// statusError is an HTTP error answer that the bindings did not decode.
type statusError struct {
	code int
	msg  string
}

func (e *statusError) Error() string { return e.msg }

// classify maps a service error (status code and message) of operation op
// to a ctrgate sentinel, or nil when none fits.
func classify(op string, code int, msg string) error {
	m := strings.ToLower(msg)
	has := func(subs ...string) bool {
		for _, s := range subs {
			if strings.Contains(m, s) {
				return true
			}
		}
		return false
	}
	switch op {
	case ctrgate.OpPullImage:
		// a registry answered "not here" (ErrImageNotFound), or none
		// answered at all (ErrRegistryUnavailable)
		return driver.PullFailureKind(msg)
	case ctrgate.OpRemoveImage:
		switch {
		case has("image not known", "no such image", "image not found", "unable to find"):
			return ctrgate.ErrImageNotFound
		case has("image is in use", "in use by", "used by", "being used", "has dependent"):
			return ctrgate.ErrRunning
		}
		if code == http.StatusNotFound {
			return ctrgate.ErrImageNotFound
		}
		if code == http.StatusConflict {
			return ctrgate.ErrRunning
		}
		return nil
	}
	switch {
	case has("no such container", "no container with name or id"):
		return ctrgate.ErrNotFound
	case has("image not known", "no such image", "image not found", "unable to find image"):
		return ctrgate.ErrImageNotFound
	case has("name is in use", "name is already in use", "already in use", "already exists"):
		return ctrgate.ErrAlreadyExists
	}
	switch op {
	case ctrgate.OpRemove:
		if has("as it is running", "running or paused containers cannot be removed", "container state improper",
			"cannot remove container") {
			return ctrgate.ErrRunning
		}
	case ctrgate.OpKill, ctrgate.OpExec:
		if has("container state improper", "is not running", "can only kill running", "can only create exec sessions on running",
			"not running") {
			return ctrgate.ErrNotRunning
		}
	case ctrgate.OpCopyFrom, ctrgate.OpCopyTo:
		if has("no such file or directory", "could not find", "not exist", "enoent") {
			return ctrgate.ErrNotFound
		}
	}
	switch code {
	case http.StatusNotFound:
		switch op {
		case ctrgate.OpCopyFrom, ctrgate.OpCopyTo, ctrgate.OpStart, ctrgate.OpStop, ctrgate.OpKill, ctrgate.OpRemove, ctrgate.OpInspect, ctrgate.OpWait, ctrgate.OpLogs, ctrgate.OpExec:
			return ctrgate.ErrNotFound
		}
	case http.StatusConflict:
		switch op {
		case ctrgate.OpKill, ctrgate.OpExec:
			return ctrgate.ErrNotRunning
		case ctrgate.OpRemove:
			return ctrgate.ErrRunning
		case ctrgate.OpCreate:
			return ctrgate.ErrAlreadyExists
		}
	}
	return nil
}

// wrap turns an error of the bindings into the error the contract wants:
// the caller's context error (wrapped) when ctx is done, ErrEngineUnavailable
// when the service cannot be reached, *ctrgate.GPUConfigError for a GPU
// request the engine cannot satisfy, otherwise an *ctrgate.EngineError
// whose Kind is the matching sentinel.
func (r *Runtime) wrap(ctx context.Context, op, target string, err error) error {
	return wrapErr(ctx, op, target, err, false)
}

func wrapErr(ctx context.Context, op, target string, err error, gpu bool) error {
	if err == nil {
		return nil
	}
	var ee *ctrgate.EngineError
	var ge *ctrgate.GPUConfigError
	if errors.As(err, &ee) || errors.As(err, &ge) {
		return err
	}
	if ctx != nil && ctx.Err() != nil && errors.Is(context.Cause(ctx), errClosed) {
		return ctrgate.NewEngineError(BackendName, op, target, ctrgate.ErrEngineUnavailable, "the runtime was closed", nil, nil)
	}
	if ctx != nil && ctx.Err() != nil {
		cause := ctx.Err()
		if errors.Is(context.Cause(ctx), context.DeadlineExceeded) {
			cause = context.DeadlineExceeded
		}
		return ctrgate.NewEngineError(BackendName, op, target, nil, err.Error(), cause, nil)
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return ctrgate.NewEngineError(BackendName, op, target, nil, "", err, nil)
	}
	code, msg, ok := apiError(err)
	if ok && code == http.StatusServiceUnavailable && strings.Contains(msg, unreachableCause) {
		return ctrgate.NewEngineError(BackendName, op, target, ctrgate.ErrEngineUnavailable, msg, nil, nil)
	}
	if !ok {
		if isConnectionError(err) {
			return ctrgate.NewEngineError(BackendName, op, target, ctrgate.ErrEngineUnavailable, "", err, nil)
		}
		msg = err.Error()
	}
	if (gpu || op == ctrgate.OpCreate || op == ctrgate.OpStart) && driver.IsGPUConfigMessage(msg) {
		return ctrgate.NewGPUConfigError(BackendName, msg, err, nil)
	}
	kind := classify(op, code, msg)
	if kind == nil && !ok && op == ctrgate.OpPullImage {
		kind = driver.PullFailureKind(msg)
	}
	if ok {
		// the service's answer says it all; keep it as the message only
		return ctrgate.NewEngineError(BackendName, op, target, kind, msg, nil, nil)
	}
	return ctrgate.NewEngineError(BackendName, op, target, kind, "", err, nil)
}

// isConnectionError reports whether err means the service could not be
// reached or went away (as opposed to the service answering with an
// error): a failed dial, a transport error of the HTTP client, a
// connection cut in the middle of an answer.
func isConnectionError(err error) bool {
	var ce bindings.ConnectError
	if errors.As(err, &ce) {
		return true
	}
	var pce *bindings.ConnectError
	if errors.As(err, &pce) {
		return true
	}
	var ue *url.Error
	var oe *net.OpError
	if errors.As(err, &ue) || errors.As(err, &oe) {
		return true
	}
	return driver.IsBrokenConnection(err)
}
