package driver

import (
	"errors"
	"io"
	"net"
	"strings"
	"syscall"

	"github.com/ctrgate/ctrgate"
)

// WithOp returns err with the Op of its outermost *EngineError set to op
// (a copy; err itself is not changed). Backends use it when a method's
// failure comes from a helper call made for another method (e.g. Logs
// looking the container up with Inspect). Any other error is returned as it
// is.
func WithOp(err error, op string) error {
	if ee, ok := err.(*ctrgate.EngineError); ok && ee.Op != op {
		cp := *ee
		cp.Op = op
		return &cp
	}
	return err
}

// registryUnreachable are the texts (lower-case) of a pull that did not get
// an answer from the registry, as Podman (containers/image) and Docker word
// them.
var registryUnreachable = []string{
	"connection refused", "no such host", "i/o timeout", "network is unreachable",
	"no route to host", "connection reset", "server misbehaving", "temporary failure in name resolution",
	"tls handshake", "x509:", "http response to https client", "context deadline exceeded (client.timeout",
}

// registryAnswered are the texts of a registry's own answer that the
// reference is not there (or not for us), which win over the above when
// both appear (Podman lists every registry it tried).
var registryAnswered = []string{
	"manifest unknown", "name unknown", "not found", "repository does not exist", "pull access denied",
	"requested access to the resource is denied", "unauthorized", "short-name",
}

// PullFailureKind returns the sentinel a failed pull maps to, from the
// engine's error text: ErrImageNotFound when a registry answered that it
// does not have the reference (or when nothing better is known), and
// ErrRegistryUnavailable when no registry answered at all. Backends call
// it for every failed pull, so that the two mean the same on each.
func PullFailureKind(msg string) error {
	m := strings.ToLower(msg)
	for _, s := range registryAnswered {
		if strings.Contains(m, s) {
			return ctrgate.ErrImageNotFound
		}
	}
	for _, s := range registryUnreachable {
		if strings.Contains(m, s) {
			return ctrgate.ErrRegistryUnavailable
		}
	}
	return ctrgate.ErrImageNotFound
}

// gpuErrorMarkers are substrings of engine messages that mean "GPUs were
// requested and the engine's GPU/CDI setup cannot provide them".
var gpuErrorMarkers = []string{
	"cdi.k8s.io",
	"nvidia.com/gpu",
	"unresolvable cdi devices",
	"cdi device",
	"could not select device driver",
	"nvidia-container-cli",
	"nvidia-container-runtime",
}

// IsGPUConfigMessage reports whether an engine message says that requested
// GPUs cannot be provided (missing CDI specs, no NVIDIA runtime, Docker's
// "could not select device driver").
func IsGPUConfigMessage(msg string) bool {
	m := strings.ToLower(msg)
	for _, marker := range gpuErrorMarkers {
		if strings.Contains(m, marker) {
			return true
		}
	}
	return strings.Contains(msg, "CDI")
}

// IsBrokenConnection reports whether err is a connection to an engine that
// could not be made or broke under an answer: refused, reset, a broken
// pipe, a missing socket, an answer cut short (io.ErrUnexpectedEOF) or a
// closed connection. Backends map it to ErrEngineUnavailable.
func IsBrokenConnection(err error) bool {
	for _, e := range []error{syscall.ECONNREFUSED, syscall.ECONNRESET, syscall.EPIPE, syscall.ENOENT,
		io.ErrUnexpectedEOF, net.ErrClosed} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}
