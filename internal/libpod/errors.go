package libpod

import (
	"strings"

	"github.com/ctrgate/ctrgate"
	"github.com/ctrgate/ctrgate/driver"
)

// Classify returns the sentinel that one of libpod's error texts means for
// the method op (one of the ctrgate.Op constants), or nil when none fits.
// The texts are the same whether `podman` printed them on its stderr or the
// service answered them in an API error's message; the Podman backends
// each add only what their channel tells besides (an exit status, an HTTP
// status code).
func Classify(op, msg string) error {
	m := strings.ToLower(msg)
	has := func(subs ...string) bool {
		for _, s := range subs {
			if strings.Contains(m, s) {
				return true
			}
		}
		return false
	}
	if has("cannot connect to podman", "unable to connect to podman", "connect: no such file or directory",
		"podman.sock: connect", "database is locked by another", "cannot open database") {
		return ctrgate.ErrEngineUnavailable
	}
	// podman as a remote client: its connection to the host could not be
	// made ("failed to connect: dial tcp h:22: connect: connection refused",
	// an ssh handshake), or broke during a request to the service (whose
	// URLs podman-remote writes as http://d/v<version>/...)
	if has("failed to connect: dial", "ssh: handshake failed") ||
		(has(`"http://d/v`) && has(`": eof`, "unexpected eof", "connection reset by peer", "broken pipe")) {
		return ctrgate.ErrEngineUnavailable
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
		return nil
	case ctrgate.OpCopyFrom, ctrgate.OpCopyTo:
		if has("not exist", "could not be found on container", "could not find", "no such file or directory", "enoent") {
			return ctrgate.ErrNotFound
		}
	case ctrgate.OpRemove:
		if has("as it is running", "running or paused containers cannot be removed") ||
			(has("cannot remove container") && has("running", "container state improper")) {
			return ctrgate.ErrRunning
		}
	}
	switch {
	case has("no such container", "no container with name or id", "no container with id", "no container with name"):
		return ctrgate.ErrNotFound
	case has("already in use", "name is in use", "already exists"):
		return ctrgate.ErrAlreadyExists
	case has("image not known", "no such image", "image not found", "manifest unknown", "name unknown",
		"repository does not exist", "requested access to the resource is denied",
		"initializing source", "pinging container registry", "reading manifest",
		"unable to find image", "short-name resolution", "failed to resolve image name"):
		return ctrgate.ErrImageNotFound
	case has("is not running", "container state improper", "can only kill running",
		"can only create exec sessions on running"),
		(op == ctrgate.OpKill || op == ctrgate.OpExec) && has("not running"):
		return ctrgate.ErrNotRunning
	}
	return nil
}
