//go:build ctrgate_podman_remote

package podmancli_test

import "testing"

// TestConformanceRemote runs the suite again with podman as a client of the
// API service (podman --url unix://...; what CONTAINER_HOST selects). It is
// built only with -tags ctrgate_podman_remote (added to the usual tags), so
// it is never a skipped test in the default run: on Podman 4.3.1 it passed
// 5 of 6 full runs; once, "podman --url ... exec" returned exit 0 with empty
// stdout (podman-remote losing a short exec's output), which no direct
// reproduction (150 concurrent runs) showed again.
func TestConformanceRemote(t *testing.T) {
	runSuite(t, "podman-cli-remote", engineConfigMode(t, "true"))
}
