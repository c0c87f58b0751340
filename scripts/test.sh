#!/usr/bin/env bash
# scripts/test.sh — every test of ctrgate, on real engines.
#
# On a fresh Debian machine as root it installs what is missing (podman,
# runc, docker.io), starts a Podman (CLI + API service) and a dockerd for the
# project only (state under ${CTRGATE_STATE_DIR:-/var/tmp/ctrgate}), runs
# gofmt, go vet, the mock freshness check, staticcheck and `go test -race` on every
# package with the conformance suite against the fake, podman-cli,
# podman-api, docker and docker-on-podman, then stops the engines it started.
#
# Elsewhere (not root, not Debian) the engine scripts say what is missing.
# With CI=true a missing engine fails the run; a developer without engines
# can run `go test ./...` alone, and the engine tests skip loudly.
set -euo pipefail
cd "$(dirname "$0")/.."

TAGS=containers_image_openpgp,exclude_graphdriver_btrfs
# the instance names below are given per command; none may leak in
unset CTRGATE_PODMAN_INSTANCE CTRGATE_DOCKER_INSTANCE
export CTRGATE_STATE_DIR=${CTRGATE_STATE_DIR:-/var/tmp/ctrgate}
mkdir -p "$CTRGATE_STATE_DIR"
log=$CTRGATE_STATE_DIR/go-test.log

cleanup() {
  if [ -n "${scpid:-}" ]; then kill -- "-$scpid" 2>/dev/null || true; fi
  scripts/matrix.sh down >/dev/null 2>&1 || true
  scripts/docker.sh down || true
  scripts/podman.sh down || true
  CTRGATE_PODMAN_INSTANCE=rot scripts/podman.sh down || true
  CTRGATE_DOCKER_INSTANCE=fault scripts/docker.sh down || true
  scripts/remote.sh down || true
  scripts/registry.sh down || true
}
trap cleanup EXIT

echo "== engines"
# the registry first: the engines' configuration names it (plain HTTP)
scripts/registry.sh up
scripts/podman.sh up
scripts/docker.sh up
# A second Podman whose events log rotates every ~20 kB, for the tests of
# event streams across rotations and service restarts (TestEventsAcrossRotation*).
CTRGATE_PODMAN_INSTANCE=rot CTRGATE_PODMAN_EVENTS_MAX_SIZE=20k scripts/podman.sh up
export CTRGATE_PODMAN_ROTATE_STATE=$CTRGATE_STATE_DIR/podman-rot
# A second dockerd (its own containerd, bridge, subnet and cgroup parent),
# which the fault tests stop, kill and restart (TestDeadlineAgainstStoppedEngine,
# TestRefusedConnection, TestEngineKilledMidStream); they import the test
# image into it themselves. Exports CTRGATE_DOCKER_FAULT_STATE/_HOST.
CTRGATE_DOCKER_INSTANCE=fault scripts/docker.sh up
eval "$(CTRGATE_DOCKER_INSTANCE=fault scripts/docker.sh env)"
# Two remote "hosts" (network namespaces with sshd, a Podman service each,
# and on h1 a dockerd on ssh and on tcp+TLS) for the tests of remote
# engines (internal/remote). Exports CTRGATE_REMOTE_*.
scripts/remote.sh up
eval "$(scripts/remote.sh env)"
eval "$(scripts/podman.sh env)"
eval "$(scripts/docker.sh env)"
eval "$(scripts/registry.sh env)"

echo "== gofmt"
bad=$(gofmt -l $(git ls-files '*.go'))
if [ -n "$bad" ]; then echo "gofmt would change: $bad"; exit 1; fi

echo "== go vet"
go vet -tags "$TAGS" ./...

echo "== mock is current"
scripts/check-mock.sh

# staticcheck (pinned) runs beside the tests; its verdict is read at the end.
STATICCHECK=honnef.co/go/tools/cmd/staticcheck@v0.8.2
sclog=$CTRGATE_STATE_DIR/staticcheck.log
setsid go run "$STATICCHECK" -tags "$TAGS" ./... >"$sclog" 2>&1 &
scpid=$!

echo "== go test -race"
set +e
go test -race -tags "$TAGS" -count=1 -timeout 40m -skip 'UnderLoad' -v ./... >"$log" 2>&1
rc=$?
# The load lane: Logs and Readiness again, and BulkInOrder 20 times, on
# every backend while busy goroutines keep every CPU occupied
# (conformance.RunUnderLoad, bounded by conformance.LoadTimeout); one
# package at a time, so that the load is the test's own.
echo "== load lane (TestConformanceUnderLoad)"
go test -race -tags "$TAGS" -count=1 -timeout 20m -p 1 -run 'UnderLoad' -v ./... >>"$log" 2>&1 || rc=1
grep -E 'load lane ' "$log" | sed 's/^ *//' || true
set -e
# Package results, failures and the conformance groups of every backend.
grep -E '^(ok|FAIL|panic:)|^--- (FAIL|SKIP)|^--- PASS: TestConformance|^    --- (PASS|FAIL): TestConformance[^/]*/[^/ ]+ |NOT APPLICABLE|KNOWN DIFFERENCE' "$log" || true
if [ $rc -ne 0 ]; then
  echo "== failures (full log: $log)"
  grep -E -B2 -A25 -- '--- FAIL' "$log" | head -400 || true
fi
echo "== README's main command (make demo), on the engine found"
set +e
demo=$(make --no-print-directory demo 2>&1)
drc=$?
set -e
echo "$demo"
if [ $drc -ne 0 ] || [ "$(printf '%s\n' "$demo" | grep -c '^READY$')" != 1 ]; then
  echo "make demo failed (exit $drc)"; rc=1
fi
# The engine matrix: every backend's suite on rootless Podman 4.3, Podman 5.4
# (root, rootless) and Docker 26 (scripts/matrix.sh, scripts/lanes.sh).
echo "== engine matrix lanes"
rm -f "$CTRGATE_STATE_DIR/matrix/lanes/totals"
scripts/lanes.sh || rc=1
echo "== staticcheck"
if wait "$scpid"; then
  echo "staticcheck: clean"
else
  cat "$sclog"; echo "staticcheck found problems (or could not run)"; rc=1
fi
pass=$(grep -cE -- '^\s*--- PASS' "$log" || true)
fail=$(grep -cE -- '^\s*--- FAIL' "$log" || true)
skip=$(grep -cE -- '^\s*--- SKIP' "$log" || true)
# plus the matrix lanes' leaf tests (scripts/lanes.sh writes its totals)
if read -r lp lf ls <"$CTRGATE_STATE_DIR/matrix/lanes/totals" 2>/dev/null; then
  pass=$((pass + lp)) fail=$((fail + lf)) skip=$((skip + ls))
fi
echo "tests: $pass passed, $fail failed, $skip skipped"
# In CI a skipped test is a failure: every engine, registry and lane is
# provisioned above, so a skip means a test did not run what it claims.
if [ "${CI:-}" = true ] && [ "$skip" != 0 ]; then
  echo "CI=true and $skip test(s) skipped:"; grep -E -- '^\s*--- SKIP' "$log" | head -20 || true
  rc=1
fi
exit $rc
