#!/usr/bin/env bash
# scripts/registry.sh — a local image registry for ctrgate's pull tests.
#
# Usage: scripts/registry.sh up|down|env|status
#        scripts/registry.sh up-netns NS|down-netns NS
#
#   up          install Debian's docker-registry (distribution 2.8) when
#               missing, then serve plain HTTP on 127.0.0.1:PORT (a free
#               port, kept across runs while it stays free) from storage of
#               its own. Idempotent.
#   up-netns NS serve the same storage on 127.0.0.1:PORT inside network
#               namespace NS too (the engines of scripts/matrix.sh that live
#               in a namespace of their own see the registry at the very same
#               address; only the host's registry is pushed to).
#   down        stop every registry process started here and delete the
#               storage: the tests push what they pull, every run anew.
#   env         print `export CTRGATE_REGISTRY=127.0.0.1:PORT`.
#   status      say whether the registry answers.
#
# The engines are told the registry is plain HTTP in the project's own
# configuration only: scripts/podman.sh and scripts/matrix.sh include
# $R/registries.conf (a containers-registries.conf(5) with
# `insecure = true` for 127.0.0.1:PORT); Docker treats 127.0.0.0/8 as
# insecure by default.
#
# State: ${CTRGATE_STATE_DIR:-/var/tmp/ctrgate}/registry (config.yml, addr,
# registries.conf, storage/, pid files, logs).
set -euo pipefail

STATE_ROOT=${CTRGATE_STATE_DIR:-/var/tmp/ctrgate}
R=$STATE_ROOT/registry
CONF=$R/config.yml
BIN=/usr/bin/docker-registry

die() { echo "registry.sh: $*" >&2; exit 1; }
say() { echo "registry.sh: $*" >&2; }

ensure_installed() {
	[ -x "$BIN" ] && command -v curl >/dev/null 2>&1 && return 0
	[ -r /etc/debian_version ] || die "$BIN missing; this is not Debian: install the CNCF distribution registry 2.x and run again"
	[ "$(id -u)" -eq 0 ] || die "$BIN missing; run as root (or: sudo apt-get install -y docker-registry)"
	say "installing docker-registry curl"
	# The package's init script may start a registry of its own on :5000;
	# policy-rc.d keeps services from starting during the install.
	local policy=/usr/sbin/policy-rc.d created=
	if [ ! -e "$policy" ]; then printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod 0755 "$policy" && created=1; fi
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q docker-registry curl >&2 || {
		DEBIAN_FRONTEND=noninteractive apt-get update -q >&2
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q docker-registry curl >&2
	}
	if [ -n "$created" ]; then rm -f "$policy"; fi
	[ -x "$BIN" ] || die "$BIN still missing after apt-get install"
}

port_free() { ! ss -Htln "sport = :$1" 2>/dev/null | grep -q .; }

addr() { cat "$R/addr" 2>/dev/null; }

answers() { curl -fsS --max-time 3 "http://$1/v2/" >/dev/null 2>&1; }

# pid_file NS: the pid file of the registry of netns NS ("" = the host).
pid_file() { if [ -n "${1:-}" ]; then echo "$R/pid-$1"; else echo "$R/pid"; fi; }

# live_pid FILE: the registry process named by FILE, if it still runs.
live_pid() {
	local f=$1 pid
	[ -s "$f" ] || return 1
	pid=$(cat "$f")
	[ -d "/proc/$pid" ] || return 1
	tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q -- "$BIN serve $CONF" || return 1
	echo "$pid"
}

write_config() {
	local a=$1 tmp
	mkdir -p "$R/storage"
	tmp=$(mktemp "$R/.conf.XXXXXX")
	cat >"$tmp" <<EOF
# Written by scripts/registry.sh; private to ctrgate's tests.
version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $R/storage
  delete:
    enabled: true
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: $a
EOF
	chmod 0644 "$tmp"
	mv "$tmp" "$CONF"
	tmp=$(mktemp "$R/.conf.XXXXXX")
	cat >"$tmp" <<EOF
# Written by scripts/registry.sh: the project's registry speaks plain HTTP.
[[registry]]
location = "$a"
insecure = true
EOF
	chmod 0644 "$tmp"
	mv "$tmp" "$R/registries.conf"
	echo "$a" >"$R/addr"
}

# spawn NS: start a registry (in netns NS when given) and wait for it.
spawn() {
	local ns=${1:-} pf log a
	pf=$(pid_file "$ns")
	log=$R/registry${ns:+-$ns}.log
	a=$(addr)
	local run=()
	[ -n "$ns" ] && run=(ip netns exec "$ns")
	rm -f "$pf"
	# shellcheck disable=SC2016
	"${run[@]}" setsid sh -c 'echo $$ >"$1"; shift; exec "$@"' sh "$pf" "$BIN" serve "$CONF" </dev/null >>"$log" 2>&1 &
	local i
	for i in $(seq 1 100); do
		if [ -s "$pf" ] && { if [ -n "$ns" ]; then ip netns exec "$ns" curl -fsS --max-time 2 "http://$a/v2/" >/dev/null 2>&1; else answers "$a"; fi; }; then
			return 0
		fi
		if [ -s "$pf" ] && ! [ -d "/proc/$(cat "$pf")" ]; then
			say "the registry${ns:+ of netns $ns} exited: $(tail -n 3 "$log" | tr '\n' ' ')"
			return 1
		fi
		sleep 0.1
	done
	say "the registry${ns:+ of netns $ns} does not answer on $a after 10 s; see $log"
	return 1
}

cmd_up() {
	ensure_installed
	mkdir -p "$R"
	chmod 0755 "$R"
	if pid=$(live_pid "$(pid_file)") && answers "$(addr)"; then
		say "registry already running (pid $pid, http://$(addr))"
		return 0
	fi
	if pid=$(live_pid "$(pid_file)"); then kill "$pid" 2>/dev/null || true; sleep 0.5; fi
	# The port of the last run while it is free (the engines' configuration
	# stays the same), else a new free one; a lost race to bind it is retried.
	local port="" try
	if a=$(addr) && [ -n "$a" ]; then port=${a##*:}; fi
	for try in 1 2 3 4 5; do
		if [ -z "$port" ] || ! port_free "$port"; then
			port=$((20000 + RANDOM % 30000))
			port_free "$port" || { port=""; continue; }
		fi
		write_config "127.0.0.1:$port"
		if spawn ""; then
			say "registry running (pid $(cat "$(pid_file)"), http://127.0.0.1:$port, storage $R/storage)"
			return 0
		fi
		port=""
	done
	die "could not start a registry (see $R/registry.log)"
}

cmd_up_netns() {
	local ns=$1
	[ -e "/run/netns/$ns" ] || die "no network namespace $ns"
	[ -r "$CONF" ] && a=$(addr) || die "not running: scripts/registry.sh up first"
	if pid=$(live_pid "$(pid_file "$ns")") && ip netns exec "$ns" curl -fsS --max-time 2 "http://$a/v2/" >/dev/null 2>&1; then
		return 0
	fi
	if pid=$(live_pid "$(pid_file "$ns")"); then kill "$pid" 2>/dev/null || true; sleep 0.5; fi
	ip -n "$ns" link set lo up
	spawn "$ns" || die "could not start the registry of netns $ns"
	say "registry of netns $ns running on http://$a"
}

stop_pid_file() {
	local f=$1 pid
	if pid=$(live_pid "$f"); then
		kill "$pid" 2>/dev/null || true
		for _ in $(seq 1 30); do [ -d "/proc/$pid" ] || break; sleep 0.1; done
		if [ -d "/proc/$pid" ]; then kill -9 "$pid" 2>/dev/null || true; fi
	fi
	rm -f "$f"
}

cmd_down_netns() { stop_pid_file "$(pid_file "$1")"; }

cmd_down() {
	local f
	[ -d "$R" ] || { say "not running"; return 0; }
	for f in "$R"/pid "$R"/pid-*; do
		[ -e "$f" ] && stop_pid_file "$f"
	done
	rm -rf "${R:?}/storage"
	say "stopped; storage deleted"
}

cmd_env() {
	[ -r "$R/addr" ] || die "not provisioned: run scripts/registry.sh up first"
	printf 'export CTRGATE_REGISTRY=%q\n' "$(addr)"
}

cmd_status() {
	if pid=$(live_pid "$(pid_file)") && answers "$(addr)"; then
		echo "running: pid $pid, http://$(addr)"
		return 0
	fi
	echo "stopped (state $R)"
	return 3
}

case ${1:-} in
up) cmd_up ;;
up-netns) [ -n "${2:-}" ] || die "up-netns NS"; cmd_up_netns "$2" ;;
down) cmd_down ;;
down-netns) [ -n "${2:-}" ] || die "down-netns NS"; cmd_down_netns "$2" ;;
env) cmd_env ;;
status) cmd_status ;;
*) echo "usage: $0 up|down|env|status|up-netns NS|down-netns NS" >&2; exit 2 ;;
esac
