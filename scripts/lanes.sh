#!/usr/bin/env bash
# scripts/lanes.sh — the conformance suite of every backend on every engine
# of the matrix (scripts/matrix.sh): podman-cli, podman-api and
# docker-on-podman on rootless Podman 4.3, Podman 5.4 and rootless Podman
# 5.4; docker on Docker 26. (Root Podman 4.3 and Docker 20.10 are the lanes
# of the `go test ./...` step of scripts/test.sh.) And over the network, on
# the remote hosts of scripts/remote.sh: podman-api over ssh (h1), podman-cli
# over ssh (h2), docker over ssh and over tcp+TLS (h1), each configured as a
# user would (CONTAINER_HOST + CONTAINER_SSHKEY, DOCKER_HOST and
# DOCKER_TLS_VERIFY/DOCKER_CERT_PATH; `scripts/remote.sh lane-env PATH`).
#
# Usage: scripts/lanes.sh [LANE...]     (default: every lane; e.g. rl5/podman-cli)
#
# Each backend's test binary is compiled once (go test -c -race); every lane
# runs it with -test.run for its conformance test and the environment of
# `scripts/matrix.sh env ENGINE` (or remote.sh lane-env), CTRGATE_LANES_PARALLEL (2) lanes at a time,
# each into its own log under $M/lanes. The test process of a lane runs in
# the engine's network namespace (nsenter --net) when the engine has one, so
# 127.0.0.1 in the tests is the engine's host loopback; for a rootless engine
# it runs as the engine's user (setpriv), as a rootless user's program does. A
# lane table ends the
# output; the exit status is 0 only when every lane passed with 0 skipped.
# When the matrix cannot be provisioned (not root, not Debian, ...), the
# reason is printed and, unless CI=true, the lanes are skipped (exit 0);
# with CI=true that fails.
set -euo pipefail
# The engines of scripts/podman.sh and scripts/docker.sh are selected by
# these variables (scripts/test.sh exports them); the matrix's engines and
# lanes set their own, so none may leak in from the caller.
unset CONTAINERS_CONF CONTAINERS_STORAGE_CONF CONTAINERS_REGISTRIES_CONF CONTAINER_HOST CONTAINER_CONNECTION \
	CTRGATE_PODMAN_SOCKET CTRGATE_PODMAN_BINARY CTRGATE_PODMAN_ROTATE_STATE CTRGATE_DOCKER_FAULT_STATE CTRGATE_DOCKER_FAULT_HOST \
	CTRGATE_ENGINE_ROOT DOCKER_HOST DOCKER_CONTEXT
cd "$(dirname "$0")/.."

TAGS=containers_image_openpgp,exclude_graphdriver_btrfs
STATE_ROOT=${CTRGATE_STATE_DIR:-/var/tmp/ctrgate}
M=$STATE_ROOT/matrix
L=$M/lanes
PAR=${CTRGATE_LANES_PARALLEL:-2}

# lane id | engine | package dir | test binary | -test.run
# (the longest first: two at a time, they then end close together; the
# h1/ and h2/ lanes are over the network, engine remote:PATH, with the
# environment of `scripts/remote.sh lane-env PATH`)
ALL_LANES=(
	"h2/podman-cli-ssh|remote:podman-cli-ssh|podmancli|podmancli.test|^TestConformance$"
	"p5/podman-cli|p5|podmancli|podmancli.test|^(TestConformance|TestWaitReadsConmonExitFile)$"
	"rl5/podman-cli|rl5|podmancli|podmancli.test|^(TestConformance|TestWaitReadsConmonExitFile)$"
	"rl43/podman-cli|rl43|podmancli|podmancli.test|^(TestConformance|TestWaitReadsConmonExitFile)$"
	"d26/docker|d26|docker|docker.test|^TestConformanceDocker$"
	"p5/podman-api|p5|podmanapi|podmanapi.test|^(TestConformance|TestWaitReadsConmonExitFile)$"
	"rl5/podman-api|rl5|podmanapi|podmanapi.test|^(TestConformance|TestWaitReadsConmonExitFile)$"
	"rl43/podman-api|rl43|podmanapi|podmanapi.test|^(TestConformance|TestWaitReadsConmonExitFile)$"
	"p5/docker-on-podman|p5|docker|docker.test|^TestConformanceDockerOnPodman$"
	"rl5/docker-on-podman|rl5|docker|docker.test|^TestConformanceDockerOnPodman$"
	"rl43/docker-on-podman|rl43|docker|docker.test|^TestConformanceDockerOnPodman$"
	"h1/podman-api-ssh|remote:podman-api-ssh|podmanapi|podmanapi.test|^TestConformance$"
	"h1/docker-ssh|remote:docker-ssh|docker|docker.test|^TestConformanceDocker$"
	"h1/docker-tls|remote:docker-tls|docker|docker.test|^TestConformanceDocker$"
)

say() { echo "lanes.sh: $*" >&2; }

want=("$@")
lanes=()
for l in "${ALL_LANES[@]}"; do
	if [ ${#want[@]} -eq 0 ]; then
		lanes+=("$l")
		continue
	fi
	for w in "${want[@]}"; do [ "${l%%|*}" = "$w" ] && lanes+=("$l"); done
done
[ ${#lanes[@]} -gt 0 ] || { say "no lane matches: $*"; exit 2; }
need_matrix=false need_remote=false
for l in "${lanes[@]}"; do
	IFS='|' read -r _ engine _ _ _ <<<"$l"
	case $engine in remote:*) need_remote=true ;; *) need_matrix=true ;; esac
done

t0=$SECONDS
# The engines: the matrix (scripts/matrix.sh) and the remote hosts
# (scripts/remote.sh; scripts/test.sh has started them already).
up_ok=true
if $need_matrix && ! scripts/matrix.sh up; then up_ok=false; fi
if $up_ok && $need_remote && ! scripts/remote.sh up; then up_ok=false; fi
if ! $up_ok; then
	if [ "${CI:-}" = true ]; then
		say "FAIL: the engine matrix or the remote hosts could not be provisioned (see above); CI=true, so every lane fails"
		exit 1
	fi
	say "SKIPPING the engine matrix lanes: the engines could not be provisioned (see above)"
	exit 0
fi
# The project's registry (scripts/registry.sh), when it runs: the lanes'
# pull tests push to it and the engines pull from it (test.sh exports this
# already; a lanes.sh run of its own finds it here).
if [ -z "${CTRGATE_REGISTRY:-}" ] && scripts/registry.sh status >/dev/null 2>&1; then
	eval "$(scripts/registry.sh env)"
fi
say "engines up in $((SECONDS - t0)) s"

mkdir -p "$L/bin"
rm -f "$L"/*.log "$L"/*.rc "$L"/*.secs "$L/totals"
t1=$SECONDS
declare -A built=()
for l in "${lanes[@]}"; do
	IFS='|' read -r _ _ pkg bin _ <<<"$l"
	[ -n "${built[$bin]:-}" ] && continue
	go test -c -race -tags "$TAGS" -o "$L/bin/$bin" "./$pkg"
	built[$bin]=1
done
CGO_ENABLED=0 go build -trimpath -ldflags=-s\ -w -o "$L/bin/testprog" ./conformance/testprog/cmd/testprog
chmod 0755 "$L/bin"/*
say "test binaries built in $((SECONDS - t1)) s"

# run_lane LANE: one lane, output in $L/<id>.log, exit code in .rc, time in .secs
run_lane() {
	local id engine pkg bin run
	IFS='|' read -r id engine pkg bin run <<<"$1"
	local f=$L/${id//\//_} start=$SECONDS rc=0 envs ns
	case $engine in
	remote:*) envs=$(scripts/remote.sh lane-env "${engine#remote:}" 2>&1) || rc=$? ;;
	*) envs=$(scripts/matrix.sh env "$engine" 2>&1) || rc=$? ;;
	esac
	if [ "$rc" != 0 ]; then
		echo "the lane's environment: $envs" >"$f.log"
		echo "$rc" >"$f.rc"
		echo 0 >"$f.secs"
		say "lane $id: no environment (exit $rc): $envs"
		return
	fi
	ns=$(eval "$envs"; echo "${CTRGATE_NETNS:-}")
	(
		cd "$pkg"
		# none of the base engines' settings leak into a lane
		unset DOCKER_HOST DOCKER_TLS_VERIFY DOCKER_CERT_PATH CONTAINER_HOST CONTAINER_SSHKEY CTRGATE_PODMAN_REMOTE \
			CTRGATE_ENGINE_PORT_ADDR CTRGATE_TEST_IMAGE_SUFFIX CONTAINERS_CONF CONTAINERS_STORAGE_CONF CTRGATE_PODMAN_SOCKET \
			CTRGATE_PODMAN_BINARY CTRGATE_ENGINE_UID CTRGATE_ENGINE_GID CTRGATE_NETNS
		eval "$envs"
		export CTRGATE_TESTPROG_BINARY=$L/bin/testprog
		pre=()
		[ -n "$ns" ] && pre=(nsenter "--net=/run/netns/$ns")
		if [ -n "${CTRGATE_ENGINE_UID:-}" ]; then
			# a rootless engine: the test process is its user, as in real use
			# (its files, its 127.0.0.1); podman-rl5 (the CLI, and the engine's
			# own info for Rootless/InfoMatchesEngine) needs nsenter's two
			# capabilities, which the wrapper drops before podman runs.
			pre+=(setpriv "--reuid=$CTRGATE_ENGINE_UID" "--regid=$CTRGATE_ENGINE_GID" --init-groups)
			[ "$engine" = rl5 ] &&
				pre+=(--inh-caps=+sys_admin,+sys_chroot --ambient-caps=+sys_admin,+sys_chroot)
			export HOME=$TMPDIR
		fi
		exec "${pre[@]}" "$L/bin/$bin" -test.run "$run" -test.v -test.count=1 -test.timeout 20m
	) >"$f.log" 2>&1 || rc=$?
	echo "$rc" >"$f.rc"
	echo $((SECONDS - start)) >"$f.secs"
	say "lane $id: exit $rc in $((SECONDS - start)) s ($f.log)"
}

t2=$SECONDS
running=0
for l in "${lanes[@]}"; do
	if [ "$running" -ge "$PAR" ]; then
		wait -n || true
		running=$((running - 1))
	fi
	run_lane "$l" &
	running=$((running + 1))
done
wait || true
say "lanes ran in $((SECONDS - t2)) s"

# The lane table.
rc=0
tp=0 tf=0 ts=0
printf '\n%-22s %-8s %-10s %-8s %-17s %6s %6s %6s %5s %6s\n' LANE ENGINE VERSION ROOTLESS BACKEND PASSED FAILED SKIPPED N/A SECS
for l in "${lanes[@]}"; do
	IFS='|' read -r id engine _ _ _ <<<"$l"
	f=$L/${id//\//_}
	backend=${id#*/}
	# leaf tests only: TestX/Group/Test
	pass=$(grep -cE -- '--- PASS: Test[^ /]+/[^ /]+/[^ ]+ ' "$f.log" || true)
	fail=$(grep -cE -- '--- FAIL: Test[^ /]+/[^ /]+/[^ ]+ ' "$f.log" || true)
	skip=$(grep -cE -- '--- SKIP: ' "$f.log" || true)
	na=$(grep -cE 'NOT APPLICABLE to' "$f.log" || true)
	pass=$((pass - na))
	ver=$(grep -oE "engine (podman|docker) [^ ]+" "$f.log" | head -n1 | awk '{print $3}')
	root=$(grep -oE "rootless=(true|false)" "$f.log" | head -n1 | cut -d= -f2)
	lrc=$(cat "$f.rc" 2>/dev/null || echo 1)
	printf '%-22s %-8s %-10s %-8s %-17s %6s %6s %6s %5s %6s\n' "$id" "$engine" "${ver:-?}" "${root:-?}" "$backend" "$pass" "$fail" "$skip" "$na" "$(cat "$f.secs" 2>/dev/null || echo ?)"
	if [ "$lrc" != 0 ] || [ "$skip" != 0 ] || [ "$((pass + fail))" = 0 ]; then
		rc=1
	fi
	tp=$((tp + pass)) tf=$((tf + fail)) ts=$((ts + skip))
done
# for scripts/test.sh's closing line
echo "$tp $tf $ts" >"$L/totals"
echo
for l in "${lanes[@]}"; do
	IFS='|' read -r id _ _ _ _ <<<"$l"
	f=$L/${id//\//_}
	grep -hoE 'KNOWN DIFFERENCE.*|NOT APPLICABLE to.*' "$f.log" | sed "s|^|$id: |" | sort -u || true
	if [ "$(cat "$f.rc" 2>/dev/null || echo 1)" != 0 ]; then
		echo "== lane $id failed (full log: $f.log)"
		grep -E -B2 -A20 -- '--- FAIL|^panic:' "$f.log" | head -150 || true
	fi
done
say "matrix total $((SECONDS - t0)) s"
exit $rc
