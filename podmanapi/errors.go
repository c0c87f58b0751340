package podmanapi

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/url"
	"strings"

	"github.com/ctrgate/ctrgate/driver"
	"github.com/ctrgate/ctrgate/internal/libpod"

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

// classify maps a service error of operation op to a ctrgate sentinel, or
// nil when none fits: its message as libpod.Classify reads it (the same
// texts the podman command prints), else its HTTP status.
func classify(op string, code int, msg string) error {
	if kind := libpod.Classify(op, msg); kind != nil {
		return kind
	}
	switch code {
	case http.StatusNotFound:
		switch op {
		case ctrgate.OpRemoveImage:
			return ctrgate.ErrImageNotFound
		case ctrgate.OpCopyFrom, ctrgate.OpCopyTo, ctrgate.OpStart, ctrgate.OpStop, ctrgate.OpKill, ctrgate.OpRemove, ctrgate.OpInspect, ctrgate.OpWait, ctrgate.OpLogs, ctrgate.OpExec:
			return ctrgate.ErrNotFound
		}
	case http.StatusConflict:
		switch op {
		case ctrgate.OpKill, ctrgate.OpExec:
			return ctrgate.ErrNotRunning
		case ctrgate.OpRemove, ctrgate.OpRemoveImage:
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
