package podmancli

import (
	"strings"

	"github.com/ctrgate/ctrgate/driver"
	"github.com/ctrgate/ctrgate/internal/libpod"

	"github.com/ctrgate/ctrgate"
)

// failure maps a failed podman run to a typed error. A podman killed by a
// signal (the OOM killer, a crash, someone's kill) is
// ctrgate.ErrEngineUnavailable whatever it printed before: the engine
// process died, the operation's outcome is unknown.
func (r *Runtime) failure(op, target string, res *result) error {
	msg := errorText(res.stderr)
	cause := exitCause(res)
	if res.signal != 0 {
		return ctrgate.NewEngineError(BackendName, op, target, ctrgate.ErrEngineUnavailable, msg, cause, nil)
	}
	if driver.IsGPUConfigMessage(msg) && gpuOp(op) {
		return ctrgate.NewGPUConfigError(BackendName, msg, cause, nil)
	}
	kind := libpod.Classify(op, msg)
	if op == ctrgate.OpCreate && kind == ctrgate.ErrImageNotFound && pulled(msg) {
		// create --pull tried a registry: one that did not answer is not
		// "no such image"
		kind = driver.PullFailureKind(msg)
	}
	return ctrgate.NewEngineError(BackendName, op, target, kind, msg, cause, nil)
}

// pulled reports whether podman's message tells of a pull it tried.
func pulled(msg string) bool {
	m := strings.ToLower(msg)
	return strings.Contains(m, "trying to pull") || strings.Contains(m, "initializing source") ||
		strings.Contains(m, "pinging container registry")
}

// gpuOp reports whether a GPU misconfiguration can show up in op.
func gpuOp(op string) bool {
	switch op {
	case ctrgate.OpCreate, ctrgate.OpStart:
		return true
	}
	return false
}

// errorText extracts podman's message from its stderr: the text with the
// "Error: " prefixes removed, at most the last 4 KiB.
func errorText(stderr []byte) string {
	s := strings.TrimSpace(string(stderr))
	if len(s) > 4096 {
		s = "..." + s[len(s)-4096:]
	}
	lines := strings.Split(s, "\n")
	out := lines[:0]
	for _, l := range lines {
		l = strings.TrimSpace(l)
		if l == "" {
			continue
		}
		out = append(out, strings.TrimPrefix(l, "Error: "))
	}
	return strings.Join(out, "; ")
}

// ctxError wraps a context error for op.
func ctxError(op, target string, err error) error {
	return ctrgate.NewEngineError(BackendName, op, target, nil, "", err, nil)
}
