#!/usr/bin/env bash
# scripts/docker.sh — a private Docker engine for ctrgate's tests.
#
# Usage: scripts/docker.sh up|down|env|status
#
#   up      start (idempotently) a dockerd of its own, with its own containerd,
#           and wait until it answers. On Debian/Ubuntu, as root, docker.io is
#           installed with apt-get when dockerd is missing.
#   down    stop that dockerd and its containerd (idempotent); images and
#           containers stay in the state directory for the next `up`.
#   env     print the export line that points clients at it:
#               eval "$(scripts/docker.sh env)"
#   status  say whether it is running (exit 0) or not (exit 1).
#
# Everything lives under S=${CTRGATE_STATE_DIR:-/var/tmp/ctrgate}/docker:
#   docker.sock        the engine's API socket (DOCKER_HOST=unix://$S/docker.sock)
#   data/ exec/        dockerd's --data-root and --exec-root
#   docker.pid         dockerd's pid file
#   daemon.json        dockerd's (empty) config file, so /etc/docker/daemon.json is not read
#   containerd/        containerd's socket, root, state and config (containerd.toml)
#   dockerd.log, containerd.log
# so it neither needs nor disturbs a system Docker or containerd: other socket,
# data, pid files, containerd, cgroup parent (/ctrgate-docker), a bridge of its
# own (${CTRGATE_DOCKER_BRIDGE:-ctrgate0}, ${CTRGATE_DOCKER_BIP:-172.30.99.1/24})
# instead of docker0, and no iptables/ip-forward/masquerade changes on the
# host (published ports are served by docker-proxy, the userland proxy; the
# price is that containers cannot reach networks beyond this host, which the
# tests do not need: their images are imported, never pulled).
# The storage driver is dockerd's choice (overlay2 where the file system
# allows it) unless CTRGATE_DOCKER_STORAGE_DRIVER names one.
# containerd is started explicitly (not dockerd's managed one) because dockerd
# 20.10 silently attaches to /run/containerd/containerd.sock whenever a
# system containerd is running. The only shared path is containerd's shim
# socket directory /run/containerd/s, whose names are hashed per containerd
# address, so nothing collides.
#
# More instances side by side: CTRGATE_DOCKER_INSTANCE=NAME (lower-case
# letters and digits, up to 8) gives an instance of its own: state directory
# ${CTRGATE_STATE_DIR}/docker-NAME (so its own socket, pid files, data and exec
# roots, containerd with its own socket, root and state), bridge ctgdk-NAME,
# subnet 172.30.X.0/24 (X in 100..249, derived from NAME; never the default
# instance's 99 nor Podman's 10.89.0.0/16), cgroup parent /ctrgate-docker-NAME;
# CTRGATE_DOCKER_BRIDGE and CTRGATE_DOCKER_BIP apply to the default instance
# only. Its `env` prints CTRGATE_DOCKER_NAME_HOST and CTRGATE_DOCKER_NAME_STATE
# (NAME in upper case) instead of DOCKER_HOST, so that it never replaces the
# default instance in a shell that evaluates both (the fault tests use an
# instance "fault": CTRGATE_DOCKER_FAULT_STATE). `up`, `down` and `status` of
# one instance touch nothing of another. Neither instance changes iptables.
#
# `down` leaves nothing running or mounted: after dockerd (which stops its
# containers) and containerd, any process still in the instance's cgroups and
# any containerd shim of its containerd is killed, the mounts under the state
# directory are released, the bridge deleted and the instance's (empty)
# cgroups under its cgroup parent removed.
#
# Needs root (dockerd does). If you already have a Docker engine, you do not
# need this script: set DOCKER_HOST (e.g. unix:///var/run/docker.sock,
# tcp://host:2376 with DOCKER_TLS_VERIFY/DOCKER_CERT_PATH) and the docker
# backend and its tests use that engine instead.
set -euo pipefail

STATE_DIR=${CTRGATE_STATE_DIR:-/var/tmp/ctrgate}
INSTANCE=${CTRGATE_DOCKER_INSTANCE:-}
if [[ -n $INSTANCE ]]; then
	[[ $INSTANCE =~ ^[a-z0-9]{1,8}$ ]] || { echo "docker.sh: CTRGATE_DOCKER_INSTANCE must be 1-8 lower-case letters or digits" >&2; exit 2; }
	S=$STATE_DIR/docker-$INSTANCE
	BRIDGE=ctgdk-$INSTANCE # at most 14 characters (IFNAMSIZ is 16 with the NUL)
	# 172.30.100.0/24 .. 172.30.249.0/24, never the default instance's 99
	OCTET=$((100 + $(printf %s "$INSTANCE" | cksum | cut -d' ' -f1) % 150))
	BIP=172.30.$OCTET.1/24
	CGROUP_PARENT=/ctrgate-docker-$INSTANCE
	ENV_PREFIX=CTRGATE_DOCKER_${INSTANCE^^}
else
	S=$STATE_DIR/docker
	BRIDGE=${CTRGATE_DOCKER_BRIDGE:-ctrgate0}
	BIP=${CTRGATE_DOCKER_BIP:-172.30.99.1/24}
	CGROUP_PARENT=/ctrgate-docker
	ENV_PREFIX=
fi
SOCK=$S/docker.sock
CTRD=$S/containerd
CTRD_SOCK=$CTRD/containerd.sock
START_TIMEOUT=${CTRGATE_DOCKER_START_TIMEOUT:-60}

die() { echo "docker.sh${INSTANCE:+ ($INSTANCE)}: $*" >&2; exit 1; }
log() { echo "docker.sh${INSTANCE:+ ($INSTANCE)}: $*" >&2; }

client() { DOCKER_HOST="unix://$SOCK" docker "$@"; }

# running PID: the process exists and is not a zombie (a daemon that was
# killed stays one until the init process reaps it, which may take a while).
running() {
	local st
	st=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	st=${st##*) }
	[[ -n $st && ${st%% *} != Z ]]
}

# pid_alive FILE NAME: the pid in FILE is a live process whose command is NAME.
pid_alive() {
	local f=$1 name=$2 pid
	[[ -s $f ]] || return 1
	pid=$(<"$f")
	[[ $pid =~ ^[0-9]+$ ]] || return 1
	[[ -r /proc/$pid/comm ]] || return 1
	[[ $(</proc/"$pid"/comm) == "$name" ]] && running "$pid"
}

answers() { [[ -S $SOCK ]] && timeout 5 env DOCKER_HOST="unix://$SOCK" docker version --format '{{.Server.Version}}' >/dev/null 2>&1; }

# close_inherited_fds closes every descriptor above stderr in this
# (sub)shell, before it execs a daemon: a daemon must not keep what its
# caller had open, e.g. the instance's test.lock when `up` runs under
# flock(1), which would hold the lock for the daemon's whole life.
close_inherited_fds() {
	local fd
	for fd in /proc/"$BASHPID"/fd/*; do
		fd=${fd##*/}
		if [[ $fd =~ ^[0-9]+$ ]] && ((fd > 2)); then
			eval "exec $fd>&-" 2>/dev/null || true
		fi
	done
}

ensure_installed() {
	if command -v dockerd >/dev/null && command -v containerd >/dev/null && command -v docker >/dev/null; then
		return
	fi
	[[ $(id -u) -eq 0 ]] || die "dockerd/containerd/docker missing and not root: install docker.io (Debian) or set DOCKER_HOST to an existing engine"
	command -v apt-get >/dev/null || die "dockerd missing and no apt-get: install Docker or set DOCKER_HOST to an existing engine"
	log "installing docker.io with apt-get"
	DEBIAN_FRONTEND=noninteractive apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends docker.io containerd runc iptables >&2
	command -v dockerd >/dev/null || die "apt-get install docker.io did not provide dockerd"
}

ensure_bridge() {
	# another interface (the other instance's bridge, Podman's, the host's)
	# on this subnet would make both unreachable: refuse rather than share it
	local net=${BIP%.*}. other
	other=$(ip -4 -o addr show | awk -v b="$BRIDGE" -v n="$net" '$2 != b && index($4, n) == 1 { print $2 " " $4 }')
	[[ -z $other ]] || die "subnet of $BIP already used by another interface: $other"
	if ! ip link show "$BRIDGE" >/dev/null 2>&1; then
		ip link add name "$BRIDGE" type bridge || die "cannot create bridge $BRIDGE"
	fi
	if ! ip -4 addr show dev "$BRIDGE" | grep -qF " ${BIP} "; then
		ip addr add "$BIP" dev "$BRIDGE" 2>/dev/null || true
	fi
	ip link set "$BRIDGE" up || die "cannot bring up bridge $BRIDGE"
}

start_containerd() {
	if pid_alive "$CTRD/containerd.pid" containerd && [[ -S $CTRD_SOCK ]]; then
		return
	fi
	mkdir -p "$CTRD/root" "$CTRD/state" "$CTRD/opt"
	cat >"$CTRD/containerd.toml" <<EOF
version = 2
root = "$CTRD/root"
state = "$CTRD/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "$CTRD_SOCK"
[ttrpc]
  address = "$CTRD_SOCK.ttrpc"
[debug]
  address = ""
[metrics]
  address = ""
[plugins."io.containerd.internal.v1.opt"]
  path = "$CTRD/opt"
EOF
	rm -f "$CTRD_SOCK" "$CTRD_SOCK.ttrpc"
	(
		close_inherited_fds
		exec setsid containerd --config "$CTRD/containerd.toml"
	) >>"$S/containerd.log" 2>&1 </dev/null &
	echo $! >"$CTRD/containerd.pid"
	local i
	for ((i = 0; i < START_TIMEOUT * 10; i++)); do
		[[ -S $CTRD_SOCK ]] && return
		running "$(<"$CTRD/containerd.pid")" || die "containerd exited at start; see $S/containerd.log:
$(tail -n 20 "$S/containerd.log")"
		sleep 0.1
	done
	die "containerd did not create $CTRD_SOCK within ${START_TIMEOUT}s; see $S/containerd.log"
}

cmd_up() {
	ensure_installed
	[[ $(id -u) -eq 0 ]] || die "dockerd needs root; run as root or set DOCKER_HOST to an existing engine"
	mkdir -p "$S/data" "$S/exec"
	chmod 0711 "$S"
	if pid_alive "$S/docker.pid" dockerd && answers; then
		log "dockerd already running (pid $(<"$S/docker.pid")) on unix://$SOCK"
		return
	fi
	if pid_alive "$S/docker.pid" dockerd; then
		# Running but not answering yet (or wedged): give it the start timeout below.
		:
	else
		ensure_bridge
		start_containerd
		[[ -s $S/daemon.json ]] || echo '{}' >"$S/daemon.json"
		rm -f "$SOCK" "$S/docker.pid"
		(
			close_inherited_fds
			exec setsid dockerd \
				--config-file "$S/daemon.json" \
				--host "unix://$SOCK" \
				--data-root "$S/data" \
				--exec-root "$S/exec" \
				--pidfile "$S/docker.pid" \
				--containerd "$CTRD_SOCK" \
				--bridge "$BRIDGE" \
				--iptables=false --ip-forward=false --ip-masq=false --ip6tables=false \
				--cgroup-parent "$CGROUP_PARENT" \
				${CTRGATE_DOCKER_STORAGE_DRIVER:+--storage-driver "$CTRGATE_DOCKER_STORAGE_DRIVER"}
		) >>"$S/dockerd.log" 2>&1 </dev/null &
		echo $! >"$S/dockerd.start.pid"
	fi
	local i
	for ((i = 0; i < START_TIMEOUT * 5; i++)); do
		if answers; then
			log "dockerd $(client version --format '{{.Server.Version}}') running (pid $(<"$S/docker.pid")) on unix://$SOCK"
			return
		fi
		if ! running "$(<"$S/dockerd.start.pid")"; then
			stop_pid "$CTRD/containerd.pid" containerd 20
			cleanup_mounts
			die "dockerd exited at start; see $S/dockerd.log:
$(tail -n 20 "$S/dockerd.log")"
		fi
		sleep 0.2
	done
	die "dockerd did not answer on unix://$SOCK within ${START_TIMEOUT}s; see $S/dockerd.log:
$(tail -n 20 "$S/dockerd.log")"
}

# cleanup_mounts: unmount what a dockerd that died left under $S (it makes
# its data root a private bind mount and does not always undo that).
cleanup_mounts() {
	local m
	for m in $(awk -v p="$S/" 'index($2, p) == 1 { print $2 }' /proc/mounts | sort -r); do
		umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || log "could not unmount $m"
	done
}

# stop_pid FILE NAME SECONDS: SIGTERM the process, wait, SIGKILL if needed.
stop_pid() {
	local f=$1 name=$2 secs=$3 pid i
	pid_alive "$f" "$name" || { rm -f "$f"; return 0; }
	pid=$(<"$f")
	kill -TERM "$pid" 2>/dev/null || true
	for ((i = 0; i < secs * 10; i++)); do
		running "$pid" || { rm -f "$f"; return 0; }
		sleep 0.1
	done
	log "$name (pid $pid) did not stop within ${secs}s; killing it"
	kill -KILL "$pid" 2>/dev/null || true
	sleep 0.2
	rm -f "$f"
}

# cgroup_dirs: the instance's cgroup parent in every cgroup hierarchy
# (v1: one per controller; v2: one), where it exists.
cgroup_dirs() {
	local d
	for d in /sys/fs/cgroup"$CGROUP_PARENT" /sys/fs/cgroup/*"$CGROUP_PARENT"; do
		[[ -d $d ]] && readlink -f "$d"
	done | sort -u # cpu and cpuacct may be links to one hierarchy
}

# kill_leftovers: SIGKILL what survived dockerd and containerd: processes
# in the instance's cgroups (containers of a dockerd that was killed) and
# the shims of its containerd (their sockets in /run/containerd/s with them).
kill_leftovers() {
	local pids=() alive=() p d i inodes
	while read -r d; do
		while read -r p; do [[ -n $p ]] && pids+=("$p"); done < <(find "$d" -name cgroup.procs -exec cat {} + 2>/dev/null)
	done < <(cgroup_dirs)
	for p in /proc/[0-9]*; do
		[[ $(cat "$p/comm" 2>/dev/null) == containerd-shim* ]] || continue
		tr '\0' '\n' <"$p/cmdline" 2>/dev/null | grep -qxF -- "$CTRD_SOCK" || continue
		pids+=("${p#/proc/}")
		# the shim's listening socket: removed by the shim on a clean exit only
		inodes=$(find "$p/fd" -lname 'socket:*' -printf '%l\n' 2>/dev/null | tr -dc '0-9\n' | sort -u | paste -sd'|')
		if [[ -n $inodes ]]; then
			awk -v re="^($inodes)\$" '$7 ~ re && $8 ~ "^/run/containerd/s/" { print $8 }' /proc/net/unix | sort -u | xargs -r rm -f
		fi
	done
	((${#pids[@]})) || return 0
	mapfile -t pids < <(printf '%s\n' "${pids[@]}" | sort -un)
	log "killing ${#pids[@]} leftover process(es): ${pids[*]}"
	kill -KILL "${pids[@]}" 2>/dev/null || true
	for ((i = 0; i < 50; i++)); do
		alive=()
		for p in "${pids[@]}"; do running "$p" && alive+=("$p"); done
		((${#alive[@]})) || return 0
		sleep 0.1
	done
	log "still running after SIGKILL: ${alive[*]}"
}

# remove_cgroups: the instance's cgroups, deepest first (they are empty now).
remove_cgroups() {
	local d
	while read -r d; do
		find "$d" -depth -type d -exec rmdir {} + 2>/dev/null || log "could not remove cgroup $d"
	done < <(cgroup_dirs)
}

cmd_down() {
	if [[ -d $S ]]; then
		# the untagged images every run leaves (each re-imports its test
		# images under the same tags) go while dockerd answers
		if [[ -S $SOCK ]]; then
			DOCKER_HOST=unix://$SOCK timeout 60 docker image prune -f >/dev/null 2>&1 || true
		fi
		# dockerd stops its containers (their own stop timeouts) when it gets SIGTERM.
		stop_pid "$S/docker.pid" dockerd 60
		stop_pid "$S/dockerd.start.pid" dockerd 5
		stop_pid "$CTRD/containerd.pid" containerd 20
		rm -f "$SOCK"
		kill_leftovers
		cleanup_mounts
	fi
	if ip link show "$BRIDGE" >/dev/null 2>&1; then
		ip link del "$BRIDGE" 2>/dev/null || log "could not delete bridge $BRIDGE"
	fi
	remove_cgroups
	log "stopped"
}

cmd_env() {
	if [[ -n $ENV_PREFIX ]]; then
		printf 'export %s_HOST=%q\n' "$ENV_PREFIX" "unix://$SOCK"
		printf 'export %s_STATE=%q\n' "$ENV_PREFIX" "$S"
		return
	fi
	echo "export DOCKER_HOST=unix://$SOCK"
}

cmd_status() {
	if pid_alive "$S/docker.pid" dockerd && answers; then
		echo "running: dockerd pid $(<"$S/docker.pid"), containerd pid $(cat "$CTRD/containerd.pid" 2>/dev/null || echo "?"), DOCKER_HOST=unix://$SOCK, version $(client version --format '{{.Server.Version}}/API {{.Server.APIVersion}}')"
		return 0
	fi
	echo "not running (state directory $S)"
	return 1
}

case ${1:-} in
up) cmd_up ;;
down) cmd_down ;;
env) cmd_env ;;
status) cmd_status ;;
*)
	echo "usage: $0 up|down|env|status" >&2
	exit 2
	;;
esac
