#!/usr/bin/env bash
# scripts/coldrun.sh — `make test` as on a fresh machine, on a busy one.
#
# Usage: scripts/coldrun.sh [COMMIT]       (default: HEAD; Debian, root)
#
# Makes this machine as cold as a new one for the project, then runs the
# README's test command from a fresh clone with CPU load alongside:
#   1. every engine the project runs is stopped and its packages purged
#      (podman, runc, conmon, docker.io, containerd, docker-registry,
#      debootstrap, ...), the state directory (with the Debian 13 root of
#      the matrix) and the matrix user deleted;
#   2. Go's build and module caches are emptied (private ones for this run:
#      GOCACHE, GOMODCACHE and GOPATH under a new temporary directory);
#   3. COMMIT is cloned into a new temporary directory;
#   4. CTRGATE_COLD_LOAD busy processes (default 1: one core of a 2-core
#      machine kept busy) run at normal priority for the whole run;
#   5. `CI=true .ci/run` (make test) runs; its output goes to
#      $CTRGATE_COLD_LOG (default /var/tmp/ctrgate-cold-<time>.log).
# It prints the commit, the load, the wall time and the closing lines of
# make test, and exits with make test's status. Everything it made is
# removed at the end but the log.
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" -eq 0 ] && [ -r /etc/debian_version ] || { echo "coldrun.sh: needs root on Debian" >&2; exit 2; }

commit=$(git rev-parse "${1:-HEAD}")
load=${CTRGATE_COLD_LOAD:-1}
log=${CTRGATE_COLD_LOG:-/var/tmp/ctrgate-cold-$(date -u +%Y%m%dT%H%M%SZ).log}
repo=$(pwd)
work=$(mktemp -d /var/tmp/ctrgate-coldrun.XXXXXX)
loaders=()

finish() {
	local p
	for p in "${loaders[@]}"; do kill "$p" 2>/dev/null || true; done
	chmod -R u+w "$work" 2>/dev/null || true
	rm -rf "$work"
}
trap finish EXIT

say() { echo "coldrun.sh: $*" >&2; }

say "1. stopping the project's engines and purging their packages"
if [ -x scripts/matrix.sh ]; then scripts/matrix.sh down --purge >/dev/null 2>&1 || true; fi
scripts/docker.sh down >/dev/null 2>&1 || true
scripts/podman.sh down >/dev/null 2>&1 || true
CTRGATE_PODMAN_INSTANCE=rot scripts/podman.sh down >/dev/null 2>&1 || true
CTRGATE_DOCKER_INSTANCE=fault scripts/docker.sh down >/dev/null 2>&1 || true
if [ -x scripts/remote.sh ]; then scripts/remote.sh down >/dev/null 2>&1 || true; fi
if [ -x scripts/registry.sh ]; then scripts/registry.sh down >/dev/null 2>&1 || true; fi
DEBIAN_FRONTEND=noninteractive apt-get purge -y -q podman buildah runc conmon crun containernetworking-plugins \
	netavark catatonit slirp4netns uidmap fuse-overlayfs docker.io containerd tini docker-registry \
	debootstrap >/dev/null 2>&1 || true
DEBIAN_FRONTEND=noninteractive apt-get autoremove -y -q >/dev/null 2>&1 || true
for d in /var/tmp/ctrgate/podman/storage/overlay /var/tmp/ctrgate/podman-rot/storage/overlay; do
	if mountpoint -q "$d" 2>/dev/null; then umount "$d" || true; fi
done
rm -rf /var/tmp/ctrgate
for b in podman docker dockerd containerd runc conmon docker-registry debootstrap; do
	if command -v "$b" >/dev/null 2>&1; then say "still installed after the purge: $b ($(command -v "$b"))"; fi
done

say "2. empty Go caches under $work/go"
export GOCACHE=$work/go/cache GOMODCACHE=$work/go/mod GOPATH=$work/go/path
mkdir -p "$GOCACHE" "$GOMODCACHE" "$GOPATH"

say "3. fresh clone of $commit"
git clone -q --no-local "$repo" "$work/src"
git -C "$work/src" checkout -q "$commit"

say "4. load: $load busy process(es)"
for _ in $(seq 1 "$load"); do
	(while :; do :; done) &
	loaders+=($!)
done

say "5. CI=true .ci/run (log: $log)"
t0=$(date +%s)
set +e
(cd "$work/src" && CI=true .ci/run) >"$log" 2>&1
rc=$?
set -e
t1=$(date +%s)
echo "commit $commit, load $load busy process(es) on $(nproc) cores, exit $rc, wall $(( (t1 - t0) / 60 )) min $(( (t1 - t0) % 60 )) s"
grep -E '^tests: |staticcheck: |lanes.sh: .*(lanes|FAIL)|^FAIL|^--- FAIL' "$log" | tail -15 || true
exit $rc
