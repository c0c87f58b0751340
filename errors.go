package ctrgate

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/ctrgate/ctrgate/redact"
)

// Sentinel errors shared by every backend; test with errors.Is.
var (
	// ErrNotFound: the container (or the path in a container) does not exist.
	ErrNotFound = errors.New("no such container")
	// ErrAlreadyExists: the container name is taken.
	ErrAlreadyExists = errors.New("container name already in use")
	// ErrNotRunning: the operation needs a running container.
	ErrNotRunning = errors.New("container is not running")
	// ErrRunning: the operation needs a container (or image) that is not in use.
	ErrRunning = errors.New("container is running")
	// ErrImageNotFound: the image is not present and could not be pulled.
	ErrImageNotFound = errors.New("no such image")
	// ErrInvalidSpec: the request was rejected before any engine call.
	ErrInvalidSpec = errors.New("invalid spec")
	// ErrEngineUnavailable: the engine cannot be reached (not installed, not
	// running, socket missing, runtime closed).
	ErrEngineUnavailable = errors.New("container engine unavailable")
	// ErrUnsupported: the backend or engine cannot do this.
	ErrUnsupported = errors.New("not supported by this backend")
	// ErrRegistryUnavailable: a pull could not reach the image's registry
	// (refused connection, unknown host, timeout, TLS failure): the image
	// may well exist there, unlike ErrImageNotFound, where the registry
	// answered that it does not.
	ErrRegistryUnavailable = errors.New("registry unavailable")
)

// GPUHint is the advice carried by every *GPUConfigError.
const GPUHint = "GPUs were requested but the container engine has no usable GPU setup: install the " +
	"NVIDIA Container Toolkit and generate a CDI specification (sudo nvidia-ctk cdi generate " +
	"--output=/etc/cdi/nvidia.yaml), then check with 'nvidia-ctk cdi list'"

// SpecError is a request rejected by validation. It matches ErrInvalidSpec.
type SpecError struct {
	Field  string // the offending field, e.g. "Ports[0].ContainerPort"
	Reason string // what is wrong with it
}

func (e *SpecError) Error() string {
	return fmt.Sprintf("invalid spec: %s: %s", e.Field, e.Reason)
}

// Is makes errors.Is(err, ErrInvalidSpec) true.
func (e *SpecError) Is(target error) bool { return target == ErrInvalidSpec }

// invalid builds a *SpecError.
func invalid(field, format string, args ...any) error {
	return &SpecError{Field: field, Reason: fmt.Sprintf(format, args...)}
}

// EngineError is a failure reported by an engine. Message is the engine's own
// text with secrets redacted; Kind is the sentinel the failure maps to (nil
// when none fits), so errors.Is(err, ErrNotFound) and friends work.
type EngineError struct {
	// Op is the ContainerRuntime method that failed (one of the Op
	// constants, e.g. OpCreate = "Create"), the same on every backend.
	// Failures of a backend's constructor carry OpInfo.
	Op      string
	Backend string // backend name, e.g. "podman-cli"
	Target  string // container or image the operation was about ("" if none)
	Kind    error  // matching sentinel, or nil
	Message string // engine's message, redacted
	Err     error  // underlying cause (process error, transport error, ctx error), or nil
}

// NewEngineError builds an *EngineError, redacting message and the text of
// err with redact.Text using the given secret values.
func NewEngineError(backend, op, target string, kind error, message string, err error, secrets []string) *EngineError {
	e := &EngineError{Op: op, Backend: backend, Target: target, Kind: kind,
		Message: redact.Text(strings.TrimSpace(message), secrets), Err: redactErr(err, secrets)}
	return e
}

// redactErr returns err, or a wrapper keeping its identity for errors.Is/As
// whose text is redacted when err's own text holds a secret.
func redactErr(err error, secrets []string) error {
	if err == nil || isPlainSentinel(err) {
		return err
	}
	if txt := redact.Text(err.Error(), secrets); txt != err.Error() {
		return &redactedError{msg: txt, err: err}
	}
	return err
}

func isPlainSentinel(err error) bool {
	for _, s := range []error{ErrNotFound, ErrAlreadyExists, ErrNotRunning, ErrRunning,
		ErrImageNotFound, ErrInvalidSpec, ErrEngineUnavailable, ErrUnsupported} {
		if err == s {
			return true
		}
	}
	return false
}

func (e *EngineError) Error() string {
	var b strings.Builder
	b.WriteString(e.Backend)
	b.WriteString(": ")
	b.WriteString(e.Op)
	if e.Target != "" {
		b.WriteString(" ")
		b.WriteString(e.Target)
	}
	// Only the engine's text is redacted: the "backend: op target" prefix
	// is ours, and redacting it would mangle e.g. "podman-api: list".
	// A failure that maps to a sentinel reads the same on every backend: its
	// text holds the sentinel's words ("no such container", "no such
	// image", ...), with the engine's own words kept as detail.
	var tail strings.Builder
	switch {
	case e.Kind != nil && e.Message != "" && !strings.Contains(strings.ToLower(e.Message), e.Kind.Error()):
		tail.WriteString(": ")
		tail.WriteString(e.Kind.Error())
		tail.WriteString(": ")
		tail.WriteString(e.Message)
	case e.Kind != nil && e.Message == "":
		tail.WriteString(": ")
		tail.WriteString(e.Kind.Error())
	case e.Message != "":
		tail.WriteString(": ")
		tail.WriteString(e.Message)
	}
	if e.Err != nil && (e.Message == "" || !strings.Contains(e.Message, e.Err.Error())) {
		tail.WriteString(": ")
		tail.WriteString(e.Err.Error())
	}
	b.WriteString(redact.Text(tail.String(), nil))
	return b.String()
}

// Unwrap exposes Kind and Err to errors.Is and errors.As.
func (e *EngineError) Unwrap() []error {
	var errs []error
	if e.Kind != nil {
		errs = append(errs, e.Kind)
	}
	if e.Err != nil {
		errs = append(errs, e.Err)
	}
	return errs
}

// redactedError keeps an error's identity for errors.Is/As while printing a
// redacted text.
type redactedError struct {
	msg string
	err error
}

func (r *redactedError) Error() string { return r.msg }
func (r *redactedError) Unwrap() error { return r.err }

// GPUConfigError reports a GPU request that the engine cannot satisfy
// because GPUs (or their CDI specification) are not set up.
type GPUConfigError struct {
	Backend string // backend name
	Message string // the engine's message, redacted
	Hint    string // what to do about it (GPUHint)
	Err     error  // underlying error, or nil
}

func (e *GPUConfigError) Error() string {
	return fmt.Sprintf("%s: GPU configuration error: %s (hint: %s)", e.Backend, redact.Text(e.Message, nil), e.Hint)
}

// Unwrap returns the underlying error.
func (e *GPUConfigError) Unwrap() error { return e.Err }

// NewGPUConfigError builds a *GPUConfigError with GPUHint, redacting message
// and the text of err (as NewEngineError does) with the given secrets.
func NewGPUConfigError(backend, message string, err error, secrets []string) *GPUConfigError {
	return &GPUConfigError{Backend: backend, Message: redact.Text(strings.TrimSpace(message), secrets), Hint: GPUHint,
		Err: redactErr(err, secrets)}
}

// ExitedError reports that a container exited while the caller was waiting
// for something else (e.g. a readiness marker). It matches ErrNotRunning.
//
// LastLines holds the container's last lines of output (WaitReady keeps up
// to ExitedLines, oldest first, with secrets redacted), so that the reason
// of the exit can be shown without reading the logs again. Error shows the
// last three of them in short form.
type ExitedError struct {
	Name      string
	ExitCode  int
	LastLines []LogLine
}

func (e *ExitedError) Error() string {
	msg := fmt.Sprintf("container %s exited with code %d", e.Name, e.ExitCode)
	if len(e.LastLines) == 0 {
		return msg
	}
	const show, width = 3, 80
	lines := e.LastLines
	if len(lines) > show {
		lines = lines[len(lines)-show:]
	}
	var b strings.Builder
	b.WriteString(msg)
	b.WriteString("; last output: ")
	for i, l := range lines {
		if i > 0 {
			b.WriteString(" | ")
		}
		t := l.Text
		if len(t) > width {
			t = t[:width] + "..."
		}
		b.WriteString(strconv.Quote(t))
	}
	return b.String()
}

// Is makes errors.Is(err, ErrNotRunning) true.
func (e *ExitedError) Is(target error) bool { return target == ErrNotRunning }

// HostKeyError reports an SSH engine address whose host key the client
// does not trust: unknown (not in the known_hosts file) or changed (the
// file has another key for the host). The connection is refused; nothing
// was sent. It matches ErrEngineUnavailable.
type HostKeyError struct {
	Backend     string // backend name
	Host        string // the host as known_hosts names it, e.g. "[10.0.0.2]:2222"
	Changed     bool   // the file has another key for the host (else: none)
	Fingerprint string // the key the host offered, SHA256:... ("" when the ssh client did not say)
	KnownHosts  string // the known_hosts file consulted
}

func (e *HostKeyError) Error() string {
	if e.Changed {
		return fmt.Sprintf("%s: the host key of %s changed (it offered %s, %s holds another key): refusing to connect; "+
			"if the host was reinstalled, remove its old line from %s", e.Backend, e.Host, e.Fingerprint, e.KnownHosts, e.KnownHosts)
	}
	key := ""
	if e.Fingerprint != "" {
		key = " (" + e.Fingerprint + ")"
	}
	return fmt.Sprintf("%s: the host key of %s%s is not in %s: refusing to connect; add it after checking it "+
		"(ssh-keyscan), or set ssh_accept_new_host_keys=true to trust a host's first key", e.Backend, e.Host, key, e.KnownHosts)
}

// Is makes errors.Is(err, ErrEngineUnavailable) true.
func (e *HostKeyError) Is(target error) bool { return target == ErrEngineUnavailable }
