#!/usr/bin/env bash
# podman.sh — provision Podman for ctrgate's tests and for development.
#
# Usage: scripts/podman.sh up|down|env|status [--purge]
#
#   up      install podman (Debian, root, only when missing), write a private
#           configuration under the state directory and start
#           `podman system service` on a private unix socket. Idempotent.
#   down    stop the API service started by `up`. With --purge also remove
#           every container, pod, volume and untagged image of the project's
#           private storage.
#   env     print `export` lines for the tests: CONTAINERS_CONF,
#           CONTAINERS_STORAGE_CONF, CONTAINERS_REGISTRIES_CONF,
#           CTRGATE_PODMAN_SOCKET, CONTAINER_HOST.
#   status  say whether the service runs and answers.
#
# Everything lives under ${CTRGATE_STATE_DIR:-/var/tmp/ctrgate}/podman: its own
# containers.conf, storage.conf and registries.conf (only the project's
# registry of scripts/registry.sh, plain HTTP, when it runs; graphroot, runroot, tmp_dir, file locks,
# network configuration), so the user's own containers, images and locks are
# untouched.
#
# The configuration fits this kind of machine: crun fails on hybrid cgroups
# (use runc); without CAP_SYS_RESOURCE Podman's default ulimits cannot be set
# (nofile/nproc are pinned to values that work); there is no journald (file
# events logger, k8s-file log driver); cgroup v1 with cgroupfs.
#
# More instances side by side: CTRGATE_PODMAN_INSTANCE=NAME (lower-case
# letters and digits, up to 8) gives an instance with its own state
# directory ($STATE_ROOT/podman-NAME), socket, bridge (ctgpm-NAME), subnet
# (10.89.X.0/24, X derived from NAME) and network id; the default instance
# (no name) keeps bridge ctrgatepm0 and 10.89.77.0/24.
# CTRGATE_PODMAN_EVENTS_MAX_SIZE (e.g. "20k") sets events_logfile_max_size,
# so that Podman rotates its events log often (the tests of event streams
# across a rotation use an instance "rot" with "20k").
set -euo pipefail

STATE_ROOT=${CTRGATE_STATE_DIR:-/var/tmp/ctrgate}
INSTANCE=${CTRGATE_PODMAN_INSTANCE:-}
if [ -n "$INSTANCE" ]; then
	[[ $INSTANCE =~ ^[a-z0-9]{1,8}$ ]] || { echo "podman.sh: CTRGATE_PODMAN_INSTANCE must be 1-8 lower-case letters or digits" >&2; exit 2; }
	STATE=$STATE_ROOT/podman-$INSTANCE
	BRIDGE=ctgpm-$INSTANCE
	NETSEED=ctrgate-$INSTANCE
	# 10.89.78.0/24 .. 10.89.227.0/24, never the default instance's 77
	OCTET=$((78 + $(printf %s "$INSTANCE" | cksum | cut -d' ' -f1) % 150))
	SUBNET=10.89.$OCTET.0/24
	GATEWAY=10.89.$OCTET.1
else
	STATE=$STATE_ROOT/podman
	BRIDGE=ctrgatepm0
	NETSEED=ctrgate
	SUBNET=10.89.77.0/24
	GATEWAY=10.89.77.1
fi
# The size is remembered in the state directory: a later `up` without the
# variable keeps it ("default" goes back to Podman's default).
EVENTS_MAX_SIZE=${CTRGATE_PODMAN_EVENTS_MAX_SIZE:-}
if [ -z "$EVENTS_MAX_SIZE" ] && [ -r "$STATE/events_max_size" ]; then EVENTS_MAX_SIZE=$(cat "$STATE/events_max_size"); fi
[ "$EVENTS_MAX_SIZE" = default ] && EVENTS_MAX_SIZE=""
[[ $EVENTS_MAX_SIZE =~ ^([0-9]+[bkmgBKMG]?)?$ ]] || { echo "podman.sh: CTRGATE_PODMAN_EVENTS_MAX_SIZE must be a size such as 20k" >&2; exit 2; }
CONF=$STATE/containers.conf
STORAGE_CONF=$STATE/storage.conf
REGISTRIES_CONF=$STATE/registries.conf
# the project's registry (scripts/registry.sh), when it runs; an instance
# whose state root is elsewhere (scripts/remote.sh's hosts) is told its path
PROJECT_REGISTRIES_CONF=${CTRGATE_REGISTRIES_CONF:-$STATE_ROOT/registry/registries.conf}
SOCK=$STATE/podman.sock
PIDFILE=$STATE/service.pid
LOG=$STATE/service.log
PKGS=(podman runc uidmap slirp4netns conmon containernetworking-plugins netavark catatonit)

die() { echo "podman.sh: $*" >&2; exit 1; }
say() { echo "podman.sh: $*" >&2; }

# podman_env runs a command with this instance's configuration, as a local
# podman (a CONTAINER_HOST inherited from another instance's env would make
# podman a remote client).
podman_env() {
	env -u CONTAINER_HOST -u CONTAINER_CONNECTION CONTAINERS_CONF="$CONF" CONTAINERS_STORAGE_CONF="$STORAGE_CONF" \
		CONTAINERS_REGISTRIES_CONF="$REGISTRIES_CONF" "$@"
}

is_debian() { [ -r /etc/debian_version ]; }

ensure_installed() {
	local missing=()
	command -v podman >/dev/null 2>&1 || missing+=(podman)
	command -v runc >/dev/null 2>&1 || [ -x /usr/sbin/runc ] || missing+=(runc)
	command -v conmon >/dev/null 2>&1 || [ -x /usr/libexec/podman/conmon ] || missing+=(conmon)
	command -v curl >/dev/null 2>&1 || missing+=(curl)
	[ ${#missing[@]} -eq 0 ] && return 0
	if ! is_debian; then
		die "missing: ${missing[*]}; this is not Debian, install them with your package manager (podman >= 4.3, runc, conmon, uidmap, slirp4netns) and run again"
	fi
	if [ "$(id -u)" -ne 0 ]; then
		die "missing: ${missing[*]}; run as root (or: sudo apt-get install -y ${PKGS[*]} curl) and run again"
	fi
	say "installing: ${PKGS[*]} curl (missing: ${missing[*]})"
	DEBIAN_FRONTEND=noninteractive apt-get update -q >&2
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${PKGS[@]}" curl >&2
	command -v podman >/dev/null 2>&1 || die "podman still missing after apt-get install"
}

runc_path() {
	command -v runc 2>/dev/null || { [ -x /usr/sbin/runc ] && echo /usr/sbin/runc; } || echo runc
}

write_config() {
	mkdir -p "$STATE/storage" "$STATE/run" "$STATE/tmp" "$STATE/networks" "$STATE/volumes"
	chmod 0700 "$STATE"
	local driver=overlay
	# overlay works as root on ext4/xfs; anything odd (overlay on overlay,
	# rootless without fuse-overlayfs) falls back to vfs.
	if [ "$(id -u)" -ne 0 ] && ! command -v fuse-overlayfs >/dev/null 2>&1; then
		driver=vfs
	fi
	local fstype
	fstype=$(stat -f -c %T "$STATE" 2>/dev/null || echo unknown)
	case $fstype in overlayfs|tmpfs|nfs*|fuse*) driver=vfs ;; esac
	if [ -n "${CTRGATE_PODMAN_STORAGE_DRIVER:-}" ]; then driver=$CTRGATE_PODMAN_STORAGE_DRIVER; fi
	local tmp events_max=""
	printf '%s\n' "$EVENTS_MAX_SIZE" >"$STATE/events_max_size"
	if [ -n "$EVENTS_MAX_SIZE" ]; then events_max="events_logfile_max_size = \"$EVENTS_MAX_SIZE\""; fi
	tmp=$(mktemp "$STATE/.conf.XXXXXX")
	cat >"$tmp" <<EOF
# Written by scripts/podman.sh; private to ctrgate's tests.
[containers]
log_driver = "k8s-file"
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]

[engine]
runtime = "runc"
events_logger = "file"
events_logfile_path = "$STATE/tmp/events/events.log"
$events_max
cgroup_manager = "cgroupfs"
tmp_dir = "$STATE/tmp"
static_dir = "$STATE/storage/libpod"
volume_path = "$STATE/volumes"
# file locks under tmp_dir: the default shm segment /libpod_lock is shared
# with the system's podman and would be reset by either runtime.
lock_type = "file"
# conmon of an exec session waits this long before its cleanup, so that an
# API client can read the exit code; the default (300 s) leaves a pair of
# conmon processes behind for five minutes after every exec.
exit_command_delay = 5
# image imports copy through a temporary file: keep those in the state
# directory rather than the system's /var/tmp
image_copy_tmp_dir = "$STATE/tmp"

[engine.runtimes]
runc = ["$(runc_path)"]

[network]
network_config_dir = "$STATE/networks"
default_network = "ctrgate"
default_subnet = "$SUBNET"
EOF
	mv "$tmp" "$CONF"
	tmp=$(mktemp "$STATE/.conf.XXXXXX")
	cat >"$tmp" <<EOF
# Written by scripts/podman.sh; private to ctrgate's tests.
[storage]
driver = "$driver"
graphroot = "$STATE/storage"
runroot = "$STATE/run"
EOF
	mv "$tmp" "$STORAGE_CONF"
	# The registries: none but the project's own (plain HTTP), when it runs.
	tmp=$(mktemp "$STATE/.conf.XXXXXX")
	{
		echo "# Written by scripts/podman.sh; private to ctrgate's tests."
		if [ -r "$PROJECT_REGISTRIES_CONF" ]; then cat "$PROJECT_REGISTRIES_CONF"; fi
	} >"$tmp"
	chmod 0644 "$tmp"
	if ! cmp -s "$tmp" "$REGISTRIES_CONF" 2>/dev/null; then
		REGISTRIES_CHANGED=1
	fi
	mv "$tmp" "$REGISTRIES_CONF"
	# The default network, on its own bridge ($BRIDGE) and subnet, so it does
	# not share podman0 and its IP allocations with the system's podman (nor
	# with another instance).
	if [ ! -e "$STATE/networks/ctrgate.json" ]; then
		tmp=$(mktemp "$STATE/.conf.XXXXXX")
		cat >"$tmp" <<NETEOF
{
  "name": "ctrgate",
  "id": "$(printf %s "$NETSEED" | sha256sum | cut -d' ' -f1)",
  "driver": "bridge",
  "network_interface": "$BRIDGE",
  "created": "$(date -u +%Y-%m-%dT%H:%M:%SZ)",
  "subnets": [{"subnet": "$SUBNET", "gateway": "$GATEWAY"}],
  "ipv6_enabled": false,
  "internal": false,
  "dns_enabled": false,
  "ipam_options": {"driver": "host-local"}
}
NETEOF
		chmod 0644 "$tmp"
		mv "$tmp" "$STATE/networks/ctrgate.json"
	fi
	chmod 0644 "$CONF" "$STORAGE_CONF"
}

service_pid() {
	[ -r "$PIDFILE" ] || return 1
	local pid
	pid=$(cat "$PIDFILE")
	[ -n "$pid" ] && [ -d "/proc/$pid" ] || return 1
	# make sure the pid still belongs to our service
	tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q -- "system service.*$SOCK" || return 1
	echo "$pid"
}

ping() {
	curl -fsS --max-time 3 --unix-socket "$SOCK" http://d/v4.0.0/libpod/_ping >/dev/null 2>&1
}

# forget_volatile_state_after_reboot empties runroot and tmp_dir when the
# machine has rebooted since the last `up`: they live on disk here, but
# podman expects them on tmpfs (it notices a reboot by the missing
# tmp_dir/alive file and then refreshes container states and locks).
forget_volatile_state_after_reboot() {
	local boot_file=$STATE/boot_id cur
	cur=$(cat /proc/sys/kernel/random/boot_id 2>/dev/null || echo unknown)
	if [ -r "$boot_file" ] && [ "$(cat "$boot_file")" != "$cur" ] && ! service_pid >/dev/null; then
		say "reboot since the last up: clearing $STATE/run and $STATE/tmp"
		rm -rf "${STATE:?}/run" "${STATE:?}/tmp"
	fi
	mkdir -p "$STATE"
	echo "$cur" >"$boot_file"
}

# trim_events keeps the event log (read from its start by every
# `podman events --since`) small; only while the service is stopped.
trim_events() {
	local log=$STATE/tmp/events/events.log
	if [ -f "$log" ] && [ "$(stat -c %s "$log")" -gt $((64 << 20)) ] && ! service_pid >/dev/null; then
		: >"$log"
		say "event log over 64 MiB: emptied"
	fi
}

# prune_untagged removes the untagged images that earlier runs left: every
# run re-imports its test images under the same tags, and the old ones,
# left to pile up (200 after a day of runs), slowed podman's image list to
# seconds and made it fail while other tests removed images.
prune_untagged() {
	podman_env podman image prune -f >/dev/null 2>&1 || true
}

cmd_up() {
	ensure_installed
	forget_volatile_state_after_reboot
	write_config
	trim_events
	prune_untagged
	# a running service keeps the registries it read at start
	if [ -n "${REGISTRIES_CHANGED:-}" ] && pid=$(service_pid); then
		say "registries changed: restarting the service (pid $pid)"
		kill "$pid" 2>/dev/null || true
		for _ in $(seq 1 50); do [ -d "/proc/$pid" ] || break; sleep 0.1; done
		kill -9 "$pid" 2>/dev/null || true
	fi
	if pid=$(service_pid) && ping; then
		say "service already running (pid $pid, unix://$SOCK)"
		return 0
	fi
	if pid=$(service_pid); then
		say "service pid $pid does not answer; restarting it"
		kill "$pid" 2>/dev/null || true
		sleep 1
		kill -9 "$pid" 2>/dev/null || true
	fi
	rm -f "$SOCK"
	# check the configuration before starting the service, with a clear error
	if ! out=$(podman_env podman info --format json 2>&1 >/dev/null); then
		die "podman cannot start with $CONF / $STORAGE_CONF: $out"
	fi
	rm -f "$PIDFILE"
	# setsid may fork; the shell records its own pid and execs podman, so the
	# pid file always names the service process itself. It first closes
	# every descriptor above stderr: the service must not keep what its
	# caller had open (the instance's test.lock when `up` runs under
	# flock(1) would stay locked for the service's whole life).
	# The service writes upload files (api_load.tar*) to TMPDIR and 4.3 does
	# not always remove them: keep them in a directory that down empties.
	mkdir -p "$STATE/tmp/service"
	# The background subshell execs too (podman_env's environment, spelled
	# out): no shell of this script stays behind as the service's parent
	# holding what the script inherited.
	# shellcheck disable=SC2016
	(exec env -u CONTAINER_HOST -u CONTAINER_CONNECTION CONTAINERS_CONF="$CONF" CONTAINERS_STORAGE_CONF="$STORAGE_CONF" \
		CONTAINERS_REGISTRIES_CONF="$REGISTRIES_CONF" TMPDIR="$STATE/tmp/service" \
		setsid bash -c 'for fd in /proc/$$/fd/*; do fd=${fd##*/}; if [[ $fd =~ ^[0-9]+$ ]] && ((fd > 2)); then eval "exec $fd>&-" 2>/dev/null || true; fi; done; echo $$ >"$1"; shift; exec "$@"' bash "$PIDFILE" \
		podman system service --time=0 "unix://$SOCK") </dev/null >>"$LOG" 2>&1 &
	for _ in $(seq 1 50); do [ -s "$PIDFILE" ] && break; sleep 0.1; done
	[ -s "$PIDFILE" ] || die "podman system service did not start; see $LOG"
	local i
	for i in $(seq 1 100); do
		if ping; then
			say "service running (pid $(cat "$PIDFILE"), unix://$SOCK)"
			return 0
		fi
		if ! [ -d "/proc/$(cat "$PIDFILE")" ]; then
			die "podman system service exited at once; see $LOG: $(tail -n 5 "$LOG" 2>/dev/null | tr '\n' ' ')"
		fi
		sleep 0.1
	done
	die "podman system service (pid $(cat "$PIDFILE")) does not answer on unix://$SOCK after 10s; see $LOG"
}

cmd_down() {
	local purge=${1:-}
	if pid=$(service_pid); then
		kill "$pid" 2>/dev/null || true
		for _ in $(seq 1 50); do [ -d "/proc/$pid" ] || break; sleep 0.1; done
		if [ -d "/proc/$pid" ]; then kill -9 "$pid" 2>/dev/null || true; fi
		say "service stopped (pid $pid)"
	else
		say "service not running"
	fi
	rm -f "$PIDFILE" "$SOCK"
	rm -rf "$STATE/tmp/service"
	if [ -r "$CONF" ] && command -v podman >/dev/null 2>&1; then prune_untagged; fi
	# The overlay driver keeps its graph directory bind-mounted on itself;
	# release it (it fails, harmlessly, while a container still uses it).
	if mountpoint -q "$STATE/storage/overlay" 2>/dev/null; then
		umount "$STATE/storage/overlay" 2>/dev/null || say "$STATE/storage/overlay is still in use (a container still runs?); left mounted"
	fi
	if [ "$purge" = "--purge" ] && [ -r "$CONF" ] && command -v podman >/dev/null 2>&1; then
		podman_env podman rm -a -f -t 0 >/dev/null 2>&1 || true
		podman_env podman pod rm -a -f >/dev/null 2>&1 || true
		podman_env podman volume prune -f >/dev/null 2>&1 || true
		prune_untagged
		say "removed the containers, pods, volumes and untagged images of $STATE"
	fi
}

cmd_env() {
	[ -r "$CONF" ] || die "not provisioned: run scripts/podman.sh up first"
	printf 'export CONTAINERS_CONF=%q\n' "$CONF"
	printf 'export CONTAINERS_STORAGE_CONF=%q\n' "$STORAGE_CONF"
	printf 'export CONTAINERS_REGISTRIES_CONF=%q\n' "$REGISTRIES_CONF"
	printf 'export CTRGATE_PODMAN_SOCKET=%q\n' "unix://$SOCK"
	printf 'export CONTAINER_HOST=%q\n' "unix://$SOCK"
}

cmd_status() {
	if pid=$(service_pid) && ping; then
		echo "running: pid $pid, unix://$SOCK, state $STATE"
		return 0
	fi
	if pid=$(service_pid); then
		echo "not answering: pid $pid, unix://$SOCK"
		return 1
	fi
	echo "stopped (state $STATE)"
	return 3
}

case ${1:-} in
up) cmd_up ;;
down) cmd_down "${2:-}" ;;
env) cmd_env ;;
status) cmd_status ;;
*) echo "usage: $0 up|down [--purge]|env|status" >&2; exit 2 ;;
esac
