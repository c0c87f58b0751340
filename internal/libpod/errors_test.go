package libpod

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/ctrgate/ctrgate"
)

// Texts of Podman 4.3.1 and 5.4.2, from the service's answers and the
// command's stderr (the same texts).
func TestClassify(t *testing.T) {
	for _, tc := range []struct {
		op, msg string
		want    error
	}{
		{ctrgate.OpInspect, `no such container "nosuch"`, ctrgate.ErrNotFound},
		{ctrgate.OpStart, `no container with name or ID "nosuch" found: no such container`, ctrgate.ErrNotFound},
		{ctrgate.OpKill, "can only kill running containers. 1f24cec2 is in state created: container state improper", ctrgate.ErrNotRunning},
		{ctrgate.OpExec, "container 1f24 is not running", ctrgate.ErrNotRunning},
		{ctrgate.OpRemove, "cannot remove container 1b670b96 as it is running - running or paused containers cannot be removed without force: container state improper", ctrgate.ErrRunning},
		{ctrgate.OpRemove, "cannot remove container c as it could not be stopped: sending SIGKILL to container c: container state improper: stopped", ctrgate.ErrRunning},
		{ctrgate.OpCreate, `creating container storage: the container name "x" is already in use by 1b670b96. You have to remove that container to be able to reuse that name: that name is already in use`, ctrgate.ErrAlreadyExists},
		{ctrgate.OpCreate, "localhost/nosuch:1: image not known", ctrgate.ErrImageNotFound},
		{ctrgate.OpRemoveImage, "localhost/nosuch:1: image not known", ctrgate.ErrImageNotFound},
		{ctrgate.OpRemoveImage, "image used by c52858f5: image is in use by a container", ctrgate.ErrRunning},
		{ctrgate.OpRemoveImage, "something else", nil},
		{ctrgate.OpPullImage, "initializing source docker://127.0.0.1:1/x:1: pinging container registry 127.0.0.1:1: Get \"http://127.0.0.1:1/v2/\": dial tcp 127.0.0.1:1: connect: connection refused", ctrgate.ErrRegistryUnavailable},
		{ctrgate.OpPullImage, "reading manifest v1 in 127.0.0.1:5000/x: manifest unknown", ctrgate.ErrImageNotFound},
		{ctrgate.OpCopyFrom, `"/nosuch" could not be found on container x: no such file or directory`, ctrgate.ErrNotFound},
		{ctrgate.OpCopyTo, `container "nosuch" does not exist`, ctrgate.ErrNotFound},
		{ctrgate.OpInfo, "unable to connect to Podman socket: dial unix /x/podman.sock: connect: no such file or directory", ctrgate.ErrEngineUnavailable},
		// podman as a remote client over ssh (measured: sshd killed, link cut)
		{ctrgate.OpInspect, "failed to connect: dial tcp 10.203.2.2:22: connect: connection refused", ctrgate.ErrEngineUnavailable},
		{ctrgate.OpInspect, "failed to connect: dial tcp 10.203.2.2:22: connect: no route to host", ctrgate.ErrEngineUnavailable},
		{ctrgate.OpWait, `Post "http://d/v4.3.1/libpod/containers/a2f2/wait?interval=250ms": EOF`, ctrgate.ErrEngineUnavailable},
		{ctrgate.OpLogs, `Get "http://d/v5.4.2/libpod/containers/a2f2/logs": read: connection reset by peer`, ctrgate.ErrEngineUnavailable},
		{ctrgate.OpCreate, "mount /nonexistent: no such file or directory", nil},
	} {
		assert.Equal(t, tc.want, Classify(tc.op, tc.msg), "%s: %s", tc.op, tc.msg)
	}
}
