#!/usr/bin/env bash
# scripts/remote.sh — two remote "hosts" for ctrgate's tests of remote engines.
#
# Usage: scripts/remote.sh up|down [--purge]|env|lane-env PATH|status
#        scripts/remote.sh link-down|link-up|kill-sshd|start-sshd h1|h2
#
#   up          start (idempotently) the two hosts and everything on them, then
#               check every access path for real (podman over ssh on both
#               hosts, docker over tcp+TLS and over ssh on h1); fails loudly,
#               with the end of the failing service's log, otherwise.
#               Installs what is missing on Debian, as root (openssh-server,
#               openssl; podman and docker.io as scripts/podman.sh and
#               scripts/docker.sh do).
#   down        stop everything `up` started and delete the hosts: no process,
#               namespace, veth, mount or cgroup of this script is left; keys,
#               certificates and the engines' storage stay in the state
#               directory for the next `up` (--purge removes the directory).
#               A no-op success when nothing is up.
#   env         print `export` lines for the tests (see below).
#   lane-env PATH
#               print the environment of the conformance lane over the
#               network PATH (podman-api-ssh, podman-cli-ssh, docker-ssh,
#               docker-tls) for scripts/lanes.sh.
#   status      say what runs (exit 0 when everything does, 1 otherwise).
#   link-down HOST / link-up HOST
#               set the host's network interface (its end of the veth pair,
#               eth0 in its namespace) down / up: a cable cut as the client
#               sees it (its own side stays up; packets to the host are
#               dropped silently: no RST, no ICMP; connections in flight hang
#               and new ones time out) and the cable back.
#   kill-sshd HOST / start-sshd HOST
#               SIGKILL the host's sshd: the listener and every session
#               process (the connections of podman and docker over ssh break
#               at once); start the listener again.
#
# The hosts are network namespaces ctg-h1 and ctg-h2, each joined to the root
# namespace by a veth pair (ctgrm-h1 / ctgrm-h2 here, eth0 inside) on a /30 of
# its own: h1 is NET.1.2 (this side NET.1.1), h2 is NET.2.2, NET being
# CTRGATE_REMOTE_NET (two octets; 10.203 by default; remembered in the state
# directory by `up` for the other verbs); `up` refuses when another interface
# or route of this machine already uses those subnets, and never routes
# anything beyond this machine. Services run in a host's network namespace only (started with
# nsenter --net, not `ip netns exec`, which would remount /sys and lose
# /sys/fs/cgroup); the file system is shared, so a "remote" engine's unix
# socket is a path of this machine that only its sshd is meant to reach.
#
# On each host:
#   sshd on ADDR:22 with host keys of its own, key-only authentication, root
#     login by key only (the client key below), StrictModes no (/var/tmp is
#     world-writable), UsePAM no; SetEnv puts CONTAINER_HOST (the host's
#     Podman) and, on h1, DOCKER_HOST (its dockerd) into every session, so
#     `docker system dial-stdio` (Docker's ssh transport) reaches that dockerd.
#   a Podman service of its own: scripts/podman.sh instance hN with
#     CTRGATE_STATE_DIR=$R (state $R/podman-hN, socket $R/podman-hN/podman.sock),
#     started inside the namespace, so its bridge and firewall rules are the
#     host's own. Reached as ssh://root@ADDR:22$R/podman-hN/podman.sock.
# On h1 only:
#   a dockerd of its own, with its own containerd (state $R/h1/docker, cgroup
#     parent /ctrgate-remote-h1, its default bridge inside the namespace, no
#     iptables changes), on unix://$R/h1/docker/docker.sock (for ssh) and on
#     tcp://ADDR:2376 with --tlsverify (client certificates of the CA below
#     required).
#
# Client material (R=${CTRGATE_STATE_DIR:-/var/tmp/ctrgate}/remote):
#   $R/client/id_ed25519         the client key (root@both hosts)
#   $R/client/known_hosts        both hosts' keys, as "ADDR ssh-ed25519 ..." (port 22)
#   $R/client/ssh_config         IdentityFile, IdentitiesOnly, UserKnownHostsFile,
#                                StrictHostKeyChecking yes, BatchMode yes
#   $R/client/bin/ssh            `exec /usr/bin/ssh -F $R/client/ssh_config "$@"`: put
#                                $R/client/bin first in PATH for DOCKER_HOST=ssh://
#                                (Docker's CLI and SDK run `ssh`, which reads the
#                                passwd entry's ~/.ssh, never $HOME)
#   $R/client/home/.ssh/known_hosts
#                                a link to the known_hosts above: HOME=$R/client/home
#                                for Podman's Go ssh client, which reads
#                                $HOME/.ssh/known_hosts (and appends unknown hosts)
#   $R/client/tls/               ca.pem cert.pem key.pem: DOCKER_CERT_PATH for tcp+TLS
#   $R/client/tls-bad/           ca.pem (the right CA) with a cert.pem/key.pem signed
#                                by another CA: the engine refuses it
#   $R/client/docker/            an empty DOCKER_CONFIG for the checks of `up`
#
# `env` prints CTRGATE_REMOTE_STATE, CTRGATE_REMOTE_H1_ADDR, CTRGATE_REMOTE_H2_ADDR,
# CTRGATE_REMOTE_H1_PODMAN_URL, CTRGATE_REMOTE_H2_PODMAN_URL, CTRGATE_REMOTE_IDENTITY,
# CTRGATE_REMOTE_KNOWN_HOSTS, CTRGATE_REMOTE_SSH_CONFIG, CTRGATE_REMOTE_SSH_WRAPPER_DIR,
# CTRGATE_REMOTE_HOME, CTRGATE_REMOTE_DOCKER_SSH_HOST, CTRGATE_REMOTE_DOCKER_TLS_HOST,
# CTRGATE_REMOTE_DOCKER_CERT_PATH and CTRGATE_REMOTE_DOCKER_BAD_CERT_PATH.
#
# Needs root (namespaces, veths, sshd on port 22, dockerd).
set -euo pipefail

SCRIPTS=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
STATE_ROOT=${CTRGATE_STATE_DIR:-/var/tmp/ctrgate}
R=$STATE_ROOT/remote
# The subnet prefix of an `up` is remembered: the other verbs, and an `up`
# without the variable, keep it.
NET=${CTRGATE_REMOTE_NET:-}
if [[ -z $NET && -s $R/net ]]; then NET=$(<"$R/net"); fi
NET=${NET:-10.203}
[[ $NET =~ ^[0-9]{1,3}\.[0-9]{1,3}$ ]] || { echo "remote.sh: CTRGATE_REMOTE_NET must be two octets, e.g. 10.203" >&2; exit 2; }
HOSTS=(h1 h2)
CLIENT=$R/client
KEY=$CLIENT/id_ed25519
KNOWN=$CLIENT/known_hosts
SSHCFG=$CLIENT/ssh_config
WRAPDIR=$CLIENT/bin
CHOME=$CLIENT/home
TLSDIR=$CLIENT/tls
BADTLSDIR=$CLIENT/tls-bad
PKI=$R/pki
DOCKER_PORT=2376
START_TIMEOUT=${CTRGATE_REMOTE_START_TIMEOUT:-60}
CERT_DAYS=30

die() { echo "remote.sh: $*" >&2; exit 1; }
log() { echo "remote.sh: $*" >&2; }

# Per host: namespace, veth ends, subnet and addresses, state.
ns() { echo "ctg-$1"; }
veth_root() { echo "ctgrm-$1"; }
octet() { echo "${1#h}"; }
addr() { echo "$NET.$(octet "$1").2"; }
gw() { echo "$NET.$(octet "$1").1"; }
subnet() { echo "$NET.$(octet "$1").0/30"; }
hstate() { echo "$R/$1"; }
podman_sock() { echo "$R/podman-$1/podman.sock"; }
podman_url() { echo "ssh://root@$(addr "$1"):22$(podman_sock "$1")"; }
docker_dir() { echo "$R/$1/docker"; }
docker_sock() { echo "$(docker_dir "$1")/docker.sock"; }
docker_cgroup() { echo "/ctrgate-remote-$1"; }

check_host() {
	case ${1:-} in h1 | h2) ;; *) die "HOST must be h1 or h2 (got '${1:-}')" ;; esac
}

# running PID: the process exists and is not a zombie.
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

# close_inherited_fds closes every descriptor above stderr in this
# (sub)shell, before it execs a daemon: a daemon must not keep what its
# caller had open (a lock held by flock(1) around `up` would stay held for
# the daemon's whole life), nor this script's own lock.
close_inherited_fds() {
	local fd
	for fd in /proc/"$BASHPID"/fd/*; do
		fd=${fd##*/}
		if [[ $fd =~ ^[0-9]+$ ]] && ((fd > 2)); then
			eval "exec $fd>&-" 2>/dev/null || true
		fi
	done
}

# ---------------------------------------------------------------- packages

ensure_installed() {
	local missing=()
	[[ -x /usr/sbin/sshd ]] || missing+=(openssh-server)
	command -v ssh >/dev/null || missing+=(openssh-client)
	command -v ssh-keygen >/dev/null || missing+=(openssh-client)
	command -v openssl >/dev/null || missing+=(openssl)
	command -v ip >/dev/null || missing+=(iproute2)
	command -v nsenter >/dev/null || missing+=(util-linux)
	command -v curl >/dev/null || missing+=(curl)
	if ! command -v dockerd >/dev/null || ! command -v containerd >/dev/null || ! command -v docker >/dev/null; then
		missing+=(docker.io containerd runc)
	fi
	((${#missing[@]})) || return 0
	mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
	[[ -r /etc/debian_version ]] || die "missing: ${missing[*]}; this is not Debian: install them with your package manager and run again"
	[[ $(id -u) -eq 0 ]] || die "missing: ${missing[*]}; run as root (or: sudo apt-get install -y ${missing[*]})"
	log "installing: ${missing[*]}"
	# the packages' maintainer scripts must not start a system sshd or dockerd
	DEBIAN_FRONTEND=noninteractive apt-get update -q >&2
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >&2
	[[ -x /usr/sbin/sshd ]] || die "/usr/sbin/sshd still missing after apt-get install"
	command -v openssl >/dev/null || die "openssl still missing after apt-get install"
	command -v dockerd >/dev/null || die "dockerd still missing after apt-get install"
}

# ---------------------------------------------------------------- network

ip2int() {
	local a b c d
	IFS=. read -r a b c d <<<"$1"
	echo $(((a << 24) | (b << 16) | (c << 8) | d))
}

# overlaps A/LA B/LB: the two networks share an address.
overlaps() {
	local a=${1%/*} la=${1#*/} b=${2%/*} lb=${2#*/} m
	[[ $1 == */* ]] || la=32
	[[ $2 == */* ]] || lb=32
	m=$((la < lb ? la : lb))
	((m == 0)) && return 0
	(($(ip2int "$a") >> (32 - m) == $(ip2int "$b") >> (32 - m)))
}

# check_subnet_free HOST: no interface but the host's own veth has an address
# in its subnet, and no route of another device covers or lies in it.
check_subnet_free() {
	local h=$1 net dev mine other=() line dest
	net=$(subnet "$h")
	mine=$(veth_root "$h")
	while read -r _ dev _ cidr _; do
		[[ $dev == "$mine" ]] && continue
		overlaps "$cidr" "$net" && other+=("address $cidr on $dev")
	done < <(ip -4 -o addr show)
	while read -r line; do
		# shellcheck disable=SC2086
		set -- $line
		case $1 in local | broadcast | unicast | blackhole | unreachable | prohibit | throw | multicast | anycast | nat) shift ;; esac
		[[ $1 == default ]] && continue
		dest=$1
		dev=$(awk '{ for (i = 1; i < NF; i++) if ($i == "dev") print $(i + 1) }' <<<"$line")
		[[ $dev == "$mine" || $dev == lo ]] && continue
		[[ $dest =~ ^[0-9.]+(/[0-9]+)?$ ]] || continue
		overlaps "$dest" "$net" && other+=("route $line")
	done < <(ip -4 route show table all)
	((${#other[@]} == 0)) || die "subnet $net of $h is already used on this machine: ${other[*]}; choose another with CTRGATE_REMOTE_NET (two octets, now $NET)"
}

# ensure_host_net HOST: namespace, veth pair, addresses, links up.
ensure_host_net() {
	local h=$1 n v
	n=$(ns "$h")
	v=$(veth_root "$h")
	if [[ ! -e /run/netns/$n ]]; then
		ip netns add "$n" || die "cannot create network namespace $n"
	fi
	ip -n "$n" link set lo up
	if ! ip -n "$n" link show eth0 >/dev/null 2>&1; then
		ip link del "$v" 2>/dev/null || true
		ip link add "$v" type veth peer name "ctgrm-$h-n" || die "cannot create veth pair $v"
		ip link set "ctgrm-$h-n" netns "$n" || die "cannot move the veth end into $n"
		ip -n "$n" link set "ctgrm-$h-n" name eth0
	fi
	ip link show "$v" >/dev/null 2>&1 || die "veth $v is missing while $n has its eth0; run scripts/remote.sh down, then up"
	if ip -4 -o addr show dev "$v" | awk '{ print $4 }' | grep -qvxF "$(gw "$h")/30"; then
		die "$v has another address ($(ip -4 -o addr show dev "$v" | awk '{ print $4 }' | paste -sd' ')) than $(gw "$h")/30: the hosts run with another CTRGATE_REMOTE_NET; run scripts/remote.sh down first"
	fi
	if ! ip -4 -o addr show dev "$v" | grep -qF " $(gw "$h")/30 "; then
		ip addr add "$(gw "$h")/30" dev "$v"
	fi
	if ! ip -n "$n" -4 -o addr show dev eth0 | grep -qF " $(addr "$h")/30 "; then
		ip -n "$n" addr add "$(addr "$h")/30" dev eth0
	fi
	ip link set "$v" up
	ip -n "$n" link set eth0 up
}

# ---------------------------------------------------------------- keys, certificates

ensure_keys() {
	local h hs
	mkdir -p "$CLIENT" "$WRAPDIR" "$CHOME/.ssh" "$CLIENT/docker" "$R/ssh"
	# an empty docker CLI configuration (DOCKER_CONFIG) for the checks
	[[ -s $CLIENT/docker/config.json ]] || echo '{}' >"$CLIENT/docker/config.json"
	chmod 0711 "$R"
	chmod 0700 "$CLIENT" "$CHOME" "$CHOME/.ssh"
	[[ -s $KEY && -s $KEY.pub ]] || { rm -f "$KEY" "$KEY.pub"; ssh-keygen -q -t ed25519 -N '' -C ctrgate-remote-client -f "$KEY"; }
	chmod 0600 "$KEY"
	install -m 0600 "$KEY.pub" "$R/ssh/authorized_keys"
	for h in "${HOSTS[@]}"; do
		hs=$(hstate "$h")/ssh
		mkdir -p "$hs"
		[[ -s $hs/ssh_host_ed25519_key && -s $hs/ssh_host_ed25519_key.pub ]] || {
			rm -f "$hs/ssh_host_ed25519_key" "$hs/ssh_host_ed25519_key.pub"
			ssh-keygen -q -t ed25519 -N '' -C "ctrgate-remote-$h" -f "$hs/ssh_host_ed25519_key"
		}
	done
	local tmp
	tmp=$(mktemp "$CLIENT/.known.XXXXXX")
	for h in "${HOSTS[@]}"; do
		printf '%s %s\n' "$(addr "$h")" "$(cut -d' ' -f1,2 "$(hstate "$h")/ssh/ssh_host_ed25519_key.pub")"
	done >"$tmp"
	chmod 0644 "$tmp"
	mv "$tmp" "$KNOWN"
	ln -sfn "$KNOWN" "$CHOME/.ssh/known_hosts"
	tmp=$(mktemp "$CLIENT/.cfg.XXXXXX")
	{
		echo "# Written by scripts/remote.sh: the remote hosts of ctrgate's tests."
		echo "Host $(addr h1) $(addr h2)"
		echo "  User root"
		echo "  IdentityFile $KEY"
		echo "  IdentitiesOnly yes"
		echo "  UserKnownHostsFile $KNOWN"
		echo "  GlobalKnownHostsFile /dev/null"
		echo "  StrictHostKeyChecking yes"
		echo "  UpdateHostKeys no"
		echo "  BatchMode yes"
	} >"$tmp"
	chmod 0644 "$tmp"
	mv "$tmp" "$SSHCFG"
	tmp=$(mktemp "$WRAPDIR/.ssh.XXXXXX")
	printf '#!/bin/sh\n# Written by scripts/remote.sh: ssh with the remote hosts'"'"' configuration.\nexec /usr/bin/ssh -F %q "$@"\n' "$SSHCFG" >"$tmp"
	chmod 0755 "$tmp"
	mv "$tmp" "$WRAPDIR/ssh"
}

# cert_ok CERT CA [IP]: CERT exists, is signed by CA, valid for one more day
# (and names IP).
cert_ok() {
	[[ -s $1 ]] || return 1
	openssl x509 -in "$1" -noout -checkend 86400 >/dev/null 2>&1 || return 1
	openssl verify -CAfile "$2" "$1" >/dev/null 2>&1 || return 1
	[[ -z ${3:-} ]] || openssl x509 -in "$1" -noout -ext subjectAltName 2>/dev/null | grep -qF "IP Address:$3"
}

# new_ca NAME: $PKI/NAME.pem and $PKI/NAME-key.pem, unless valid ones exist.
new_ca() {
	local n=$1
	if [[ -s $PKI/$n-key.pem ]] && openssl x509 -in "$PKI/$n.pem" -noout -checkend 86400 >/dev/null 2>&1; then
		return 1
	fi
	openssl req -x509 -config "$PKI/openssl.cnf" -extensions v3_ca -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
		-days "$CERT_DAYS" -subj "/CN=ctrgate-remote-$n" -keyout "$PKI/$n-key.pem" -out "$PKI/$n.pem" 2>/dev/null ||
		die "openssl: cannot make CA $n"
	chmod 0600 "$PKI/$n-key.pem"
	return 0
}

# new_cert CA EXT CN KEY CERT: a key and a certificate signed by CA with the
# extensions section EXT of $PKI/openssl.cnf.
new_cert() {
	local ca=$1 ext=$2 cn=$3 key=$4 cert=$5 csr
	csr=$(mktemp "$PKI/.csr.XXXXXX")
	openssl req -config "$PKI/openssl.cnf" -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj "/CN=$cn" \
		-keyout "$key" -out "$csr" 2>/dev/null || die "openssl: cannot make a key for $cn"
	openssl x509 -req -in "$csr" -CA "$PKI/$ca.pem" -CAkey "$PKI/$ca-key.pem" -CAcreateserial -CAserial "$PKI/$ca.srl" \
		-days "$CERT_DAYS" -extfile "$PKI/openssl.cnf" -extensions "$ext" -out "$cert" 2>/dev/null ||
		die "openssl: cannot sign the certificate of $cn"
	rm -f "$csr"
	chmod 0600 "$key"
	chmod 0644 "$cert"
}

ensure_certs() {
	local d h1addr
	d=$(docker_dir h1)/tls
	h1addr=$(addr h1)
	mkdir -p "$PKI" "$d" "$TLSDIR" "$BADTLSDIR"
	chmod 0700 "$PKI" "$d" "$TLSDIR" "$BADTLSDIR"
	cat >"$PKI/openssl.cnf" <<EOF
# Written by scripts/remote.sh.
[ req ]
distinguished_name = dn
prompt = no
[ dn ]
[ v3_ca ]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[ server ]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = IP:$h1addr
[ client ]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = clientAuth
EOF
	if new_ca ca; then rm -f "$d/cert.pem" "$TLSDIR/cert.pem" "$BADTLSDIR/ca.pem"; fi
	if new_ca bad-ca; then rm -f "$BADTLSDIR/cert.pem"; fi
	if ! cert_ok "$d/cert.pem" "$PKI/ca.pem" "$h1addr" || [[ ! -s $d/key.pem ]]; then
		new_cert ca server "$h1addr" "$d/key.pem" "$d/cert.pem"
	fi
	install -m 0644 "$PKI/ca.pem" "$d/ca.pem"
	if ! cert_ok "$TLSDIR/cert.pem" "$PKI/ca.pem" || [[ ! -s $TLSDIR/key.pem ]]; then
		new_cert ca client ctrgate-remote-client "$TLSDIR/key.pem" "$TLSDIR/cert.pem"
	fi
	install -m 0644 "$PKI/ca.pem" "$TLSDIR/ca.pem"
	# the wrong client: the server's CA (so the client trusts the engine),
	# a certificate of another CA (so the engine refuses the client)
	if ! cert_ok "$BADTLSDIR/cert.pem" "$PKI/bad-ca.pem" || [[ ! -s $BADTLSDIR/key.pem ]]; then
		new_cert bad-ca client ctrgate-remote-wrong-client "$BADTLSDIR/key.pem" "$BADTLSDIR/cert.pem"
	fi
	install -m 0644 "$PKI/ca.pem" "$BADTLSDIR/ca.pem"
}

# ---------------------------------------------------------------- sshd

sshd_conf() { echo "$(hstate "$1")/ssh/sshd_config"; }
sshd_pidfile() { echo "$(hstate "$1")/ssh/sshd.pid"; }

write_sshd_config() {
	local h=$1 hs tmp setenv
	hs=$(hstate "$h")/ssh
	setenv="CONTAINER_HOST=unix://$(podman_sock "$h")"
	if [[ $h == h1 ]]; then setenv+=" DOCKER_HOST=unix://$(docker_sock h1)"; fi
	tmp=$(mktemp "$hs/.conf.XXXXXX")
	cat >"$tmp" <<EOF
# Written by scripts/remote.sh: the sshd of remote host $h ($(ns "$h")).
Port 22
ListenAddress $(addr "$h")
HostKey $hs/ssh_host_ed25519_key
PidFile $hs/sshd.listener.pid
AuthorizedKeysFile $R/ssh/authorized_keys
StrictModes no
UsePAM no
PermitRootLogin prohibit-password
AllowUsers root
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
HostbasedAuthentication no
X11Forwarding no
AllowAgentForwarding no
AllowTcpForwarding yes
AllowStreamLocalForwarding yes
PermitTunnel no
PrintMotd no
PrintLastLog no
UseDNS no
MaxStartups 100:30:200
MaxSessions 100
Subsystem sftp /usr/lib/openssh/sftp-server
SetEnv $setenv
EOF
	mv "$tmp" "$hs/sshd_config"
}

start_sshd() {
	local h=$1 pf log i
	pf=$(sshd_pidfile "$h")
	log=$(hstate "$h")/ssh/sshd.log
	write_sshd_config "$h"
	if pid_alive "$pf" sshd; then return 0; fi
	# sshd's privilege separation directory (the package's own path, made by
	# its init script or systemd unit, which do not run here); `down`
	# removes it again when this script made it
	if [[ ! -d /run/sshd ]]; then
		mkdir -m 0755 /run/sshd
		: >"$R/.made-run-sshd"
	fi
	/usr/sbin/sshd -t -f "$(sshd_conf "$h")" 2>>"$log" || die "sshd of $h: bad configuration $(sshd_conf "$h"): $(tail -n 3 "$log")"
	rm -f "$(hstate "$h")/ssh/sshd.listener.pid"
	(
		close_inherited_fds
		exec setsid nsenter --net="/run/netns/$(ns "$h")" /usr/sbin/sshd -D -f "$(sshd_conf "$h")" -E "$log"
	) </dev/null >>"$log.out" 2>&1 &
	echo $! >"$pf"
	# it listens once it has written its own pid file
	for ((i = 0; i < START_TIMEOUT * 10; i++)); do
		[[ -s $(hstate "$h")/ssh/sshd.listener.pid ]] && return 0
		running "$(<"$pf")" || die "sshd of $h exited at start; see $log: $(cat "$log" "$log.out" 2>/dev/null | tail -n 5 | tr '\n' ' ')"
		sleep 0.1
	done
	die "sshd of $h did not start within ${START_TIMEOUT}s; see $log"
}

# sshd_runs: some sshd runs on this machine (a zombie, not yet reaped by
# the init process, does not count).
sshd_runs() {
	local p
	for p in $(pgrep -x sshd); do running "$p" && return 0; done
	return 1
}

# kill_sshd HOST: the listener and every session process of the host's sshd.
kill_sshd() {
	local h=$1 pids=() all=() p n i
	n=$(ns "$h")
	# again until none is left: a session the listener forked while the
	# first ones were being killed is killed too
	for ((i = 0; i < 50; i++)); do
		pids=()
		if pid_alive "$(sshd_pidfile "$h")" sshd; then pids+=("$(<"$(sshd_pidfile "$h")")"); fi
		if [[ -e /run/netns/$n ]]; then
			for p in $(ip netns pids "$n" 2>/dev/null); do
				[[ $(cat "/proc/$p/comm" 2>/dev/null) == sshd* ]] && running "$p" && pids+=("$p")
			done
		fi
		((${#pids[@]})) || break
		kill -KILL "${pids[@]}" 2>/dev/null || true
		all+=("${pids[@]}")
		sleep 0.02
	done
	((${#pids[@]} == 0)) || die "sshd of $h: processes left after 50 rounds of SIGKILL: ${pids[*]}"
	if ((${#all[@]})); then mapfile -t all < <(printf '%s\n' "${all[@]}" | sort -un); fi
	rm -f "$(sshd_pidfile "$h")" "$(hstate "$h")/ssh/sshd.listener.pid"
	log "sshd of $h killed${all[*]:+ (pids ${all[*]})}"
}

# ---------------------------------------------------------------- podman

# podman_sh HOST ARGS...: scripts/podman.sh for the host's instance, inside
# the host's namespace (its service, netavark's bridge and rules live there).
# podman.sh gets no descriptor above stderr: the shell it leaves behind as
# the parent of the service (alive as long as the service) would keep it.
podman_sh() {
	local h=$1
	shift
	(
		close_inherited_fds
		exec nsenter --net="/run/netns/$(ns "$h")" env -u CTRGATE_PODMAN_EVENTS_MAX_SIZE -u CONTAINER_HOST -u CONTAINER_CONNECTION \
			CTRGATE_STATE_DIR="$R" CTRGATE_PODMAN_INSTANCE="$h" CTRGATE_REGISTRIES_CONF="$STATE_ROOT/registry/registries.conf" \
			bash "$SCRIPTS/podman.sh" "$@"
	)
}

# ---------------------------------------------------------------- dockerd (h1)

docker_answers() {
	local s
	s=$(docker_sock h1)
	[[ -S $s ]] && timeout 5 env -u DOCKER_CONTEXT DOCKER_CONFIG="$CLIENT/docker" DOCKER_HOST="unix://$s" \
		docker version --format '{{.Server.Version}}' >/dev/null 2>&1
}

start_containerd() {
	local d=$1 c i
	c=$d/containerd
	if pid_alive "$c/containerd.pid" containerd && [[ -S $c/containerd.sock ]]; then return 0; fi
	mkdir -p "$c/root" "$c/state" "$c/opt"
	cat >"$c/containerd.toml" <<EOF
version = 2
root = "$c/root"
state = "$c/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "$c/containerd.sock"
[ttrpc]
  address = "$c/containerd.sock.ttrpc"
[debug]
  address = ""
[metrics]
  address = ""
[plugins."io.containerd.internal.v1.opt"]
  path = "$c/opt"
EOF
	rm -f "$c/containerd.sock" "$c/containerd.sock.ttrpc"
	(
		close_inherited_fds
		exec setsid nsenter --net="/run/netns/$(ns h1)" containerd --config "$c/containerd.toml"
	) >>"$d/containerd.log" 2>&1 </dev/null &
	echo $! >"$c/containerd.pid"
	for ((i = 0; i < START_TIMEOUT * 10; i++)); do
		[[ -S $c/containerd.sock ]] && return 0
		running "$(<"$c/containerd.pid")" || die "containerd of h1 exited at start; see $d/containerd.log: $(tail -n 10 "$d/containerd.log")"
		sleep 0.1
	done
	die "containerd of h1 did not create its socket within ${START_TIMEOUT}s; see $d/containerd.log"
}

# start_dockerd: containerd and dockerd of h1; returns once dockerd was
# started (wait_dockerd waits for it to answer).
start_dockerd() {
	local d
	d=$(docker_dir h1)
	mkdir -p "$d/data" "$d/exec"
	chmod 0711 "$d"
	if pid_alive "$d/docker.pid" dockerd || pid_alive "$d/dockerd.start.pid" dockerd; then return 0; fi
	start_containerd "$d"
	[[ -s $d/daemon.json ]] || echo '{}' >"$d/daemon.json"
	rm -f "$d/docker.sock" "$d/docker.pid"
	(
		close_inherited_fds
		exec setsid nsenter --net="/run/netns/$(ns h1)" dockerd \
			--config-file "$d/daemon.json" \
			--host "unix://$d/docker.sock" \
			--host "tcp://$(addr h1):$DOCKER_PORT" \
			--tlsverify --tlscacert "$d/tls/ca.pem" --tlscert "$d/tls/cert.pem" --tlskey "$d/tls/key.pem" \
			--data-root "$d/data" \
			--exec-root "$d/exec" \
			--pidfile "$d/docker.pid" \
			--containerd "$d/containerd/containerd.sock" \
			--iptables=false --ip-forward=false --ip-masq=false --ip6tables=false \
			--cgroup-parent "$(docker_cgroup h1)"
	) >>"$d/dockerd.log" 2>&1 </dev/null &
	echo $! >"$d/dockerd.start.pid"
}

wait_dockerd() {
	local d i
	d=$(docker_dir h1)
	for ((i = 0; i < START_TIMEOUT * 10; i++)); do
		docker_answers && return 0
		if ! pid_alive "$d/docker.pid" dockerd && ! pid_alive "$d/dockerd.start.pid" dockerd; then
			die "dockerd of h1 exited at start; see $d/dockerd.log:
$(tail -n 20 "$d/dockerd.log")"
		fi
		sleep 0.1
	done
	die "dockerd of h1 did not answer on unix://$(docker_sock h1) within ${START_TIMEOUT}s; see $d/dockerd.log:
$(tail -n 20 "$d/dockerd.log")"
}

# cgroup_dirs CGROUP: that cgroup in every hierarchy where it exists.
cgroup_dirs() {
	local d
	for d in /sys/fs/cgroup"$1" /sys/fs/cgroup/*"$1"; do
		[[ -d $d ]] && readlink -f "$d"
	done | sort -u
}

stop_dockerd() {
	local d c p pids=() dir
	d=$(docker_dir h1)
	c=$d/containerd
	[[ -d $d ]] || return 0
	stop_pid "$d/docker.pid" dockerd 30
	stop_pid "$d/dockerd.start.pid" dockerd 5
	stop_pid "$c/containerd.pid" containerd 10
	rm -f "$d/docker.sock"
	# what survived: processes in its cgroups (containers), shims of its containerd
	while read -r dir; do
		while read -r p; do [[ -n $p ]] && pids+=("$p"); done < <(find "$dir" -name cgroup.procs -exec cat {} + 2>/dev/null)
	done < <(cgroup_dirs "$(docker_cgroup h1)")
	for p in /proc/[0-9]*; do
		[[ $(cat "$p/comm" 2>/dev/null) == containerd-shim* ]] || continue
		tr '\0' '\n' <"$p/cmdline" 2>/dev/null | grep -qxF -- "$c/containerd.sock" && pids+=("${p#/proc/}")
	done
	kill_pids "leftover process(es) of h1's dockerd" "${pids[@]}"
	while read -r dir; do
		find "$dir" -depth -type d -exec rmdir {} + 2>/dev/null || log "could not remove cgroup $dir"
	done < <(cgroup_dirs "$(docker_cgroup h1)")
}

# ---------------------------------------------------------------- leftovers

# kill_pids WHAT PID...: SIGKILL them (never this script) and wait.
kill_pids() {
	local what=$1 p i alive=()
	shift
	local pids=()
	for p in "$@"; do
		[[ $p =~ ^[0-9]+$ && $p != "$$" && $p != "$BASHPID" ]] && running "$p" && pids+=("$p")
	done
	((${#pids[@]})) || return 0
	mapfile -t pids < <(printf '%s\n' "${pids[@]}" | sort -un)
	log "killing ${#pids[@]} $what: ${pids[*]}"
	kill -KILL "${pids[@]}" 2>/dev/null || true
	for ((i = 0; i < 50; i++)); do
		alive=()
		for p in "${pids[@]}"; do running "$p" && alive+=("$p"); done
		((${#alive[@]})) || return 0
		sleep 0.1
	done
	log "still running after SIGKILL: ${alive[*]}"
}

# descendants PID: every process below PID.
descendants() {
	local c
	for c in $(ps -o pid= --ppid "$1" 2>/dev/null); do
		echo "$c"
		descendants "$c"
	done
}

# kill_leftovers: every process in a host's namespace, and every daemon of
# ours (its command line names this state directory: sshd, podman's service,
# conmon, containerd and its shims, dockerd) with what runs below it.
kill_leftovers() {
	local pids=() p h comm cmd
	for h in "${HOSTS[@]}"; do
		[[ -e /run/netns/$(ns "$h") ]] || continue
		for p in $(ip netns pids "$(ns "$h")" 2>/dev/null); do pids+=("$p"); done
	done
	for p in /proc/[0-9]*; do
		comm=$(cat "$p/comm" 2>/dev/null) || continue
		case $comm in sshd | podman | conmon | containerd | containerd-shim* | dockerd) ;; *) continue ;; esac
		cmd=$(tr '\0' ' ' <"$p/cmdline" 2>/dev/null) || continue
		[[ $cmd == *"$R/"* ]] || continue
		[[ $comm != podman || $cmd == *"system service"* ]] || continue
		pids+=("${p#/proc/}")
		if [[ $comm == conmon || $comm == containerd-shim* ]]; then
			mapfile -t -O "${#pids[@]}" pids < <(descendants "${p#/proc/}")
		fi
	done
	kill_pids "leftover process(es)" "${pids[@]}"
}

# cleanup_mounts: unmount whatever is mounted under the state directory.
cleanup_mounts() {
	local m
	while read -r m; do
		umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || log "could not unmount $m"
	done < <(awk -v p="$R/" 'index($2, p) == 1 { print $2 }' /proc/mounts | sort -r)
}

# ---------------------------------------------------------------- checks

# check_paths: every access path, for real, in parallel; fails with what
# each failing client said.
check_paths() {
	local out=$R/.check h rc=0 pids=() names=() i
	mkdir -p "$out"
	local -a denv=(env -u DOCKER_CONTEXT -u DOCKER_TLS_VERIFY -u DOCKER_CERT_PATH -u DOCKER_HOST DOCKER_CONFIG="$CLIENT/docker")
	for h in "${HOSTS[@]}"; do
		env -u CONTAINER_HOST -u CONTAINER_CONNECTION HOME="$CHOME" timeout 60 \
			podman --url "$(podman_url "$h")" --identity "$KEY" info --format '{{.Version.Version}}' >"$out/podman-$h" 2>&1 &
		pids+=($!)
		names+=("podman over ssh on $h ($(podman_url "$h"))")
	done
	"${denv[@]}" timeout 60 docker -H "tcp://$(addr h1):$DOCKER_PORT" --tlsverify --tlscacert "$TLSDIR/ca.pem" \
		--tlscert "$TLSDIR/cert.pem" --tlskey "$TLSDIR/key.pem" version --format '{{.Server.Version}}' >"$out/docker-tls" 2>&1 &
	pids+=($!)
	names+=("docker over tcp+TLS on h1 (tcp://$(addr h1):$DOCKER_PORT)")
	"${denv[@]}" PATH="$WRAPDIR:$PATH" DOCKER_HOST="ssh://root@$(addr h1)" timeout 60 \
		docker version --format '{{.Server.Version}}' >"$out/docker-ssh" 2>&1 &
	pids+=($!)
	names+=("docker over ssh on h1 (ssh://root@$(addr h1))")
	local files=("$out/podman-h1" "$out/podman-h2" "$out/docker-tls" "$out/docker-ssh")
	for i in "${!pids[@]}"; do
		if wait "${pids[$i]}"; then
			log "ok: ${names[$i]}: $(tail -n 1 "${files[$i]}")"
		else
			log "FAILED: ${names[$i]}: $(tr '\n' ' ' <"${files[$i]}")"
			rc=1
		fi
	done
	rm -rf "$out"
	return "$rc"
}

# ---------------------------------------------------------------- verbs

lock() {
	mkdir -p "$R"
	exec 9>"$R/.lock"
	flock 9
}

cmd_up() {
	[[ $(id -u) -eq 0 ]] || die "needs root (network namespaces, veths, sshd, dockerd)"
	ensure_installed
	lock
	local h began=$SECONDS pids=() i rc
	# every subnet is checked before anything is made
	for h in "${HOSTS[@]}"; do
		ip link show "$(veth_root "$h")" >/dev/null 2>&1 || check_subnet_free "$h"
	done
	for h in "${HOSTS[@]}"; do ensure_host_net "$h"; done
	echo "$NET" >"$R/net"
	ensure_keys
	ensure_certs
	for h in "${HOSTS[@]}"; do start_sshd "$h"; done
	# the project's registry (scripts/registry.sh), when it runs, at the same
	# address inside each host (the engines there pull from it)
	if "$SCRIPTS/registry.sh" status >/dev/null 2>&1; then
		for h in "${HOSTS[@]}"; do "$SCRIPTS/registry.sh" up-netns "$(ns "$h")" 9>&-; done
	fi
	start_dockerd
	# the two Podman services start side by side
	for h in "${HOSTS[@]}"; do
		mkdir -p "$(hstate "$h")"
		podman_sh "$h" up >"$(hstate "$h")/podman-up.log" 2>&1 &
		pids+=($!)
	done
	rc=0
	for i in "${!pids[@]}"; do
		h=${HOSTS[$i]}
		if ! wait "${pids[$i]}"; then
			log "Podman of $h did not start: $(tr '\n' ' ' <"$(hstate "$h")/podman-up.log")"
			rc=1
		fi
	done
	((rc == 0)) || die "up failed (scripts/remote.sh down cleans up)"
	wait_dockerd
	check_paths || die "up failed: an access path does not work (scripts/remote.sh down cleans up)"
	log "up in $((SECONDS - began))s: h1 $(addr h1) (sshd, podman, dockerd :$DOCKER_PORT TLS), h2 $(addr h2) (sshd, podman); eval \"\$(scripts/remote.sh env)\""
}

cmd_down() {
	local purge=${1:-} h n
	if [[ ! -d $R ]]; then
		log "nothing to stop"
		return 0
	fi
	[[ $(id -u) -eq 0 ]] || die "needs root"
	lock
	# the Podman services (and their containers: rm -a -f, run in the host's
	# namespace so that netavark tears down there), while the namespaces exist
	local pids=()
	for h in "${HOSTS[@]}"; do
		if [[ -e /run/netns/$(ns "$h") && -r $R/podman-$h/containers.conf ]]; then
			podman_sh "$h" down --purge >"$(hstate "$h")/podman-down.log" 2>&1 &
			pids+=($!)
		fi
	done
	stop_dockerd
	for i in "${pids[@]}"; do wait "$i" || log "scripts/podman.sh down failed: see $R/h*/podman-down.log"; done
	for h in "${HOSTS[@]}"; do
		stop_pid "$(sshd_pidfile "$h")" sshd 5
	done
	kill_leftovers
	for h in "${HOSTS[@]}"; do
		n=$(ns "$h")
		"$SCRIPTS/registry.sh" down-netns "$n" >/dev/null 2>&1 || true
		if [[ -e /run/netns/$n ]]; then
			ip netns del "$n" 2>/dev/null || log "could not delete network namespace $n"
		fi
		ip link del "$(veth_root "$h")" 2>/dev/null || true
		rm -f "$(hstate "$h")/ssh/sshd.listener.pid"
	done
	cleanup_mounts
	if [[ -e $R/.made-run-sshd ]] && ! sshd_runs; then
		rmdir /run/sshd 2>/dev/null || true
		rm -f "$R/.made-run-sshd"
	fi
	if [[ $purge == --purge ]]; then
		rm -rf "${R:?}"
		log "stopped; state directory $R removed"
		return 0
	fi
	log "stopped"
}

cmd_env() {
	[[ -s $KEY && -s $KNOWN ]] || die "not provisioned: run scripts/remote.sh up first"
	printf 'export CTRGATE_REMOTE_STATE=%q\n' "$R"
	printf 'export CTRGATE_REMOTE_H1_ADDR=%q\n' "$(addr h1)"
	printf 'export CTRGATE_REMOTE_H2_ADDR=%q\n' "$(addr h2)"
	printf 'export CTRGATE_REMOTE_H1_PODMAN_URL=%q\n' "$(podman_url h1)"
	printf 'export CTRGATE_REMOTE_H2_PODMAN_URL=%q\n' "$(podman_url h2)"
	printf 'export CTRGATE_REMOTE_IDENTITY=%q\n' "$KEY"
	printf 'export CTRGATE_REMOTE_KNOWN_HOSTS=%q\n' "$KNOWN"
	printf 'export CTRGATE_REMOTE_SSH_CONFIG=%q\n' "$SSHCFG"
	printf 'export CTRGATE_REMOTE_SSH_WRAPPER_DIR=%q\n' "$WRAPDIR"
	printf 'export CTRGATE_REMOTE_HOME=%q\n' "$CHOME"
	printf 'export CTRGATE_REMOTE_DOCKER_SSH_HOST=%q\n' "ssh://root@$(addr h1)"
	printf 'export CTRGATE_REMOTE_DOCKER_TLS_HOST=%q\n' "tcp://$(addr h1):$DOCKER_PORT"
	printf 'export CTRGATE_REMOTE_DOCKER_CERT_PATH=%q\n' "$TLSDIR"
	printf 'export CTRGATE_REMOTE_DOCKER_BAD_CERT_PATH=%q\n' "$BADTLSDIR"
}

# cmd_lane_env PATH: the environment of a conformance lane over the network
# (scripts/lanes.sh): the variables a user of that way to a remote engine
# sets, the client home whose .ssh/known_hosts is the script's, where the
# engine's published ports are reached, and a test image tag of the lane's
# own (the two docker lanes share h1's dockerd).
#   podman-api-ssh  podman-api, CONTAINER_HOST=ssh://root@h1/... + CONTAINER_SSHKEY
#   podman-cli-ssh  podman-cli in remote mode, the same on h2
#   docker-ssh      docker, DOCKER_HOST=ssh://root@h1 (the system ssh of the wrapper)
#   docker-tls      docker, DOCKER_HOST=tcp://h1:2376, DOCKER_TLS_VERIFY, DOCKER_CERT_PATH
cmd_lane_env() {
	[[ -s $KEY && -s $KNOWN ]] || die "not provisioned: run scripts/remote.sh up first"
	local h
	case ${1:-} in
	podman-api-ssh | docker-ssh | docker-tls) h=h1 ;;
	podman-cli-ssh) h=h2 ;;
	*) die "lane-env podman-api-ssh|podman-cli-ssh|docker-ssh|docker-tls" ;;
	esac
	printf 'export HOME=%q\n' "$CHOME"
	printf 'export CTRGATE_ENGINE_PORT_ADDR=%q\n' "$(addr "$h")"
	printf 'export CTRGATE_TEST_IMAGE_SUFFIX=%q\n' "$1"
	case $1 in
	podman-*)
		printf 'export CONTAINER_HOST=%q\n' "$(podman_url "$h")"
		printf 'export CONTAINER_SSHKEY=%q\n' "$KEY"
		if [[ $1 == podman-cli-ssh ]]; then printf 'export CTRGATE_PODMAN_REMOTE=true\n'; fi
		;;
	docker-ssh)
		printf 'export DOCKER_HOST=%q\n' "ssh://root@$(addr h1)"
		printf 'export PATH=%q\n' "$WRAPDIR:$PATH"
		;;
	docker-tls)
		printf 'export DOCKER_HOST=%q\n' "tcp://$(addr h1):$DOCKER_PORT"
		printf 'export DOCKER_TLS_VERIFY=1\n'
		printf 'export DOCKER_CERT_PATH=%q\n' "$TLSDIR"
		;;
	esac
}

cmd_status() {
	local h ok=0 d
	d=$(docker_dir h1)
	for h in "${HOSTS[@]}"; do
		local parts=()
		if [[ -e /run/netns/$(ns "$h") ]]; then
			parts+=("netns $(ns "$h")")
			if [[ $(ip -n "$(ns "$h")" -o link show eth0 2>/dev/null) == *",UP"* ]]; then parts+=("link up"); else parts+=("LINK DOWN"); ok=1; fi
		else
			parts+=("NO NAMESPACE")
			ok=1
		fi
		if pid_alive "$(sshd_pidfile "$h")" sshd; then parts+=("sshd pid $(<"$(sshd_pidfile "$h")")"); else parts+=("SSHD DOWN"); ok=1; fi
		if [[ -S $(podman_sock "$h") ]] && curl -fsS --max-time 3 --unix-socket "$(podman_sock "$h")" http://d/v4.0.0/libpod/_ping >/dev/null 2>&1; then
			parts+=("podman $(podman_url "$h")")
		else
			parts+=("PODMAN DOWN")
			ok=1
		fi
		if [[ $h == h1 ]]; then
			if docker_answers; then parts+=("dockerd pid $(cat "$d/docker.pid" 2>/dev/null) tcp://$(addr h1):$DOCKER_PORT"); else parts+=("DOCKERD DOWN"); ok=1; fi
		fi
		echo "$h $(addr "$h"): ${parts[*]}"
	done
	return "$ok"
}

case ${1:-} in
up) cmd_up ;;
down) cmd_down "${2:-}" ;;
env) cmd_env ;;
lane-env) cmd_lane_env "${2:-}" ;;
status) cmd_status ;;
link-down | link-up)
	check_host "${2:-}"
	[[ -e /run/netns/$(ns "$2") ]] || die "$2 is not up"
	ip -n "$(ns "$2")" link set eth0 "${1#link-}"
	log "$2: link ${1#link-}"
	;;
kill-sshd)
	check_host "${2:-}"
	kill_sshd "$2"
	;;
start-sshd)
	check_host "${2:-}"
	[[ -e /run/netns/$(ns "$2") ]] || die "$2 is not up"
	start_sshd "$2"
	log "sshd of $2 running (pid $(<"$(sshd_pidfile "$2")"))"
	;;
*)
	echo "usage: $0 up|down [--purge]|env|lane-env PATH|status|link-down HOST|link-up HOST|kill-sshd HOST|start-sshd HOST (HOST: h1 or h2)" >&2
	exit 2
	;;
esac
