#!/usr/bin/env bash
# scripts/matrix.sh — the engine matrix: rootless Podman 4.3, and Podman 5.4
# (root and rootless) plus Docker 26 from a Debian 13 root, for ctrgate's
# conformance lanes (scripts/lanes.sh runs them).
#
# Usage: scripts/matrix.sh up|down|env LANE|status|wrappers
#
#   up      (Debian 12, root) install what is missing (debootstrap, uidmap,
#           slirp4netns), create the user ctrgate-rl, build the Debian 13 root
#           once per machine (cached in $M/trixie, reused while present; it is
#           built in a temporary directory and renamed at the end, so an
#           interrupted build is never reused) and start, idempotently:
#             rl43  rootless Podman 4.3.1 (host's podman) API service, user ctrgate-rl
#             p5    Podman 5.4 root API service, in netns ctrgate-p5 + own mount ns
#             rl5   rootless Podman 5.4 API service (pivot_root + setpriv), user ctrgate-rl
#             d26   Docker 26 (dockerd + its managed containerd), netns ctrgate-d26
#   down    stop all of them and leave nothing behind: every process of the
#           engines (services, conmon, containers, pause processes of the user),
#           their mount namespaces, netns ctrgate-p5/ctrgate-d26 (with the
#           bridges inside them), the cgroups they made and /dev/net/tun's
#           mode (0666 while up, for slirp4netns and pasta). The Debian 13 root
#           and the engines' storage stay for the next `up` (`down --purge`
#           removes the whole $M).
#   env LANE  print export lines for one engine: rl43, p5, rl5, d26.
#   status  one line per engine; exit 0 when all answer.
#
# Everything lives under M=${CTRGATE_STATE_DIR:-/var/tmp/ctrgate}/matrix.
# podman-cli talks to each Podman through a wrapper in $M/bin (podman-rl43,
# podman-p5, podman-rl5) that runs the engine's own podman binary as the
# engine's user, in the engine's namespaces, on the engine's storage:
#   podman-rl43  setpriv to ctrgate-rl with the engine's XDG_RUNTIME_DIR and
#                containers.conf/storage.conf (the host's podman 4.3.1);
#   podman-p5    nsenter into the p5 service's mount+net namespaces and root
#                (the Debian 13 root): the local podman 5.4 on the service's storage;
#   podman-rl5   nsenter into the rl5 service's mount namespace and root, then
#                setpriv to ctrgate-rl: the same long-lived runtime dir
#                (/run/user/UID) as the service, so no pause process per call.
# Files that the tests hand to an engine by path (podman-cli's --env-file, bind
# mount sources) are created in $M/xfer (mode 1777; the lanes set TMPDIR
# there), which every engine's mount namespace sees at the same path. The
# lanes of the rootless engines run their test process as ctrgate-rl, as a
# rootless user would.
set -euo pipefail
# The engines of scripts/podman.sh and scripts/docker.sh are selected by
# these variables (scripts/test.sh exports them); the matrix's engines and
# lanes set their own, so none may leak in from the caller.
unset CONTAINERS_CONF CONTAINERS_STORAGE_CONF CONTAINERS_REGISTRIES_CONF CONTAINER_HOST CONTAINER_CONNECTION \
	CTRGATE_PODMAN_SOCKET CTRGATE_PODMAN_BINARY CTRGATE_PODMAN_ROTATE_STATE CTRGATE_DOCKER_FAULT_STATE CTRGATE_DOCKER_FAULT_HOST \
	CTRGATE_ENGINE_ROOT DOCKER_HOST DOCKER_CONTEXT

STATE_ROOT=${CTRGATE_STATE_DIR:-/var/tmp/ctrgate}
SCRIPTS=$(cd "$(dirname "$0")" && pwd)
M=$STATE_ROOT/matrix
T=$M/trixie
XFER=$M/xfer
BIN=$M/bin
RL_USER=${CTRGATE_MATRIX_USER:-ctrgate-rl}
SUBID_START=${CTRGATE_MATRIX_SUBID:-300000}
NS_P5=ctrgate-p5
NS_D26=ctrgate-d26
SOCKDIR=/var/lib/ctrgate-matrix # inside the Debian 13 root
MIRROR=${CTRGATE_DEBIAN_MIRROR:-http://deb.debian.org/debian}
T_PKGS=(podman runc conmon netavark aardvark-dns passt uidmap catatonit ca-certificates iptables nftables fuse-overlayfs docker.io containerd procps)
START_TIMEOUT=${CTRGATE_MATRIX_START_TIMEOUT:-60}

die() { echo "matrix.sh: $*" >&2; exit 1; }
say() { echo "matrix.sh: $*" >&2; }

need_root_debian() {
	[ -r /etc/debian_version ] || die "the engine matrix needs Debian (debootstrap, apt); this is not Debian"
	[ "$(id -u)" -eq 0 ] || die "the engine matrix needs root (namespaces, useradd, debootstrap); run as root"
	for c in nsenter unshare setpriv; do
		command -v "$c" >/dev/null 2>&1 || die "missing $c"
	done
}

ensure_host_pkgs() {
	local missing=()
	command -v debootstrap >/dev/null 2>&1 || missing+=(debootstrap)
	command -v newuidmap >/dev/null 2>&1 || missing+=(uidmap)
	command -v slirp4netns >/dev/null 2>&1 || missing+=(slirp4netns)
	command -v podman >/dev/null 2>&1 || missing+=(podman)
	command -v fuse-overlayfs >/dev/null 2>&1 || missing+=(fuse-overlayfs)
	command -v ip >/dev/null 2>&1 || missing+=(iproute2)
	command -v curl >/dev/null 2>&1 || missing+=(curl)
	[ ${#missing[@]} -eq 0 ] && return 0
	say "installing: ${missing[*]}"
	DEBIAN_FRONTEND=noninteractive apt-get update -q >&2
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >&2
}

rl_uid() { id -u "$RL_USER"; }
rl_gid() { id -g "$RL_USER"; }

ensure_user() {
	if ! id "$RL_USER" >/dev/null 2>&1; then
		useradd --system --no-create-home --home-dir "$M/rl43/home" --shell /usr/sbin/nologin "$RL_USER"
		say "created user $RL_USER (uid $(rl_uid))"
	fi
	local end=$((SUBID_START + 65535))
	grep -q "^$RL_USER:" /etc/subuid 2>/dev/null || usermod --add-subuids "$SUBID_START-$end" "$RL_USER"
	grep -q "^$RL_USER:" /etc/subgid 2>/dev/null || usermod --add-subgids "$SUBID_START-$end" "$RL_USER"
	# slirp4netns and pasta open /dev/net/tun as the user; it is 0600 here.
	# The mode it had is restored by down.
	[ -s "$M/tun.mode" ] || stat -c %a /dev/net/tun >"$M/tun.mode"
	chmod 0666 /dev/net/tun
}

# --- the Debian 13 root -------------------------------------------------------

# in_root_mounts DIR: the mount commands (for sh -c) that make DIR usable as
# a root: itself a mount point, proc, dev, shm, sys, private /run and /tmp,
# and $XFER at the same path.
in_root_mounts() {
	local d=$1
	cat <<EOF
mount --bind $d $d &&
mount -t proc proc $d/proc &&
mount --rbind /dev $d/dev &&
mount -t tmpfs -o mode=1777 shm $d/dev/shm &&
mount --rbind /sys $d/sys &&
mount -t tmpfs -o mode=755 tmpfs $d/run &&
mount -t tmpfs -o mode=1777 tmpfs $d/tmp &&
mkdir -p $d$XFER && mount --bind $XFER $d$XFER
EOF
}

# enter_root: the commands (for sh -c, after in_root_mounts) that make $T the
# root of the mount namespace. pivot_root, not chroot: in a chroot the
# namespace's root stays the host's /, so runc's containers (made by chroot
# too then) and every `exec` into them (setns) would see the host's files;
# and rootless podman cannot make a user namespace in a chroot at all.
enter_root() {
	echo "mkdir -p $T/.oldroot && cd $T && pivot_root . .oldroot && umount -l /.oldroot && cd /"
}

build_root() {
	if [ -e "$T/.ctrgate-complete" ]; then return 0; fi
	local tmp
	mkdir -p "$M"
	rm -rf "$M"/trixie.tmp.*
	tmp=$(mktemp -d "$M/trixie.tmp.XXXXXX")
	chmod 0755 "$tmp"
	say "building the Debian 13 root in $tmp (once per machine, ~2-4 min)"
	local t0=$SECONDS
	debootstrap --variant=minbase trixie "$tmp" "$MIRROR" >"$M/debootstrap.log" 2>&1 ||
		die "debootstrap failed; see $M/debootstrap.log: $(tail -n 5 "$M/debootstrap.log" | tr '\n' ' ')"
	mkdir -p "$XFER"
	unshare -m --propagation private sh -c "$(in_root_mounts "$tmp") &&
		cp /etc/resolv.conf $tmp/etc/resolv.conf &&
		chroot $tmp sh -c 'apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends ${T_PKGS[*]}'" \
		>>"$M/debootstrap.log" 2>&1 ||
		die "apt-get install in the Debian 13 root failed; see $M/debootstrap.log: $(tail -n 5 "$M/debootstrap.log" | tr '\n' ' ')"
	rm -rf "$tmp/var/cache/apt/archives/"*.deb "$tmp/var/lib/apt/lists/"*_Packages
	touch "$tmp/.ctrgate-complete"
	rm -rf "$T"
	mv "$tmp" "$T"
	say "Debian 13 root ready in $((SECONDS - t0)) s"
}

containers_conf_body() {
	cat <<'EOF'
[containers]
log_driver = "k8s-file"
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
exit_command_delay = 5
EOF
}

configure_root() {
	local uid gid
	uid=$(rl_uid)
	gid=$(rl_gid)
	# The user, as on the host (same uid, gid and sub-ids), with its home in the root.
	for f in passwd group subuid subgid; do
		sed -i "/^$RL_USER:/d" "$T/etc/$f"
	done
	echo "$RL_USER:x:$uid:$gid::/home/$RL_USER:/bin/sh" >>"$T/etc/passwd"
	echo "$RL_USER:x:$gid:" >>"$T/etc/group"
	grep "^$RL_USER:" /etc/subuid >>"$T/etc/subuid"
	grep "^$RL_USER:" /etc/subgid >>"$T/etc/subgid"
	mkdir -p "$T/etc/containers" "$T$SOCKDIR" "$T/home/$RL_USER/.config/containers"
	containers_conf_body >"$T/etc/containers/containers.conf"
	cat >>"$T/etc/containers/containers.conf" <<'EOF'

[network]
default_subnet = "10.89.78.0/24"
EOF
	containers_conf_body >"$T/home/$RL_USER/.config/containers/containers.conf"
	printf '[storage]\ndriver = "overlay"\n' >"$T/home/$RL_USER/.config/containers/storage.conf"
	chown -R "$uid:$gid" "$T/home/$RL_USER"
	chmod 0700 "$T/home/$RL_USER"
	mkdir -p "$T/etc/docker"
	echo '{}' >"$T/etc/docker/daemon.json"
}

# --- processes ----------------------------------------------------------------

# pid_of NAME: the live pid recorded in $M/NAME.pid.
pid_of() {
	local f=$M/$1.pid pid
	[ -s "$f" ] || return 1
	pid=$(cat "$f")
	[ -n "$pid" ] && [ -d "/proc/$pid" ] || return 1
	echo "$pid"
}

# spawn NAME CMD...: start CMD in a new session, its pid (the same through
# every exec of the chain) in $M/NAME.pid, output in $M/NAME.log.
spawn() {
	local name=$1
	shift
	rm -f "$M/$name.pid"
	# shellcheck disable=SC2016
	setsid sh -c 'echo $$ >"$1"; shift; exec "$@"' sh "$M/$name.pid" "$@" </dev/null >>"$M/$name.log" 2>&1 &
	local i
	for i in $(seq 1 50); do [ -s "$M/$name.pid" ] && return 0; sleep 0.1; done
	die "$name did not start; see $M/$name.log"
}

# wait_answer NAME PROBE...: wait until PROBE succeeds while NAME lives.
wait_answer() {
	local name=$1 i
	shift
	for ((i = 0; i < START_TIMEOUT * 10; i++)); do
		if "$@" >/dev/null 2>&1; then return 0; fi
		pid_of "$name" >/dev/null || die "$name exited at start; see $M/$name.log: $(tail -n 5 "$M/$name.log" | tr '\n' ' ')"
		sleep 0.1
	done
	die "$name does not answer after ${START_TIMEOUT}s; see $M/$name.log"
}

libpod_ping() { curl -fsS --max-time 3 --unix-socket "$1" http://d/v4.0.0/libpod/_ping; }
docker_ping() { curl -fsS --max-time 3 --unix-socket "$1" http://d/_ping; }

sock_of() {
	case $1 in
	rl43) echo "$M/rl43/xdg/podman/podman.sock" ;;
	p5) echo "$T$SOCKDIR/p5.sock" ;;
	rl5) echo "$T/home/$RL_USER/podman.sock" ;;
	d26) echo "$T$SOCKDIR/d26.sock" ;;
	esac
}

ensure_netns() {
	local ns=$1
	[ -e "/run/netns/$ns" ] || ip netns add "$ns"
	ip -n "$ns" link set lo up
}

# --- the project's registry (scripts/registry.sh) ---------------------------------

REGISTRY_DIR=$STATE_ROOT/registry

registry_running() { "$SCRIPTS/registry.sh" status >/dev/null 2>&1; }

# install_registries_conf DEST NAME: DEST says the project's registry (when it
# runs) is plain HTTP; a running service NAME that read another version is
# stopped, so that its start below reads this one.
install_registries_conf() {
	local dest=$1 name=$2 tmp pid
	tmp=$(mktemp "$M/.reg.XXXXXX")
	{
		echo "# Written by scripts/matrix.sh; private to ctrgate's tests."
		if registry_running && [ -r "$REGISTRY_DIR/registries.conf" ]; then cat "$REGISTRY_DIR/registries.conf"; fi
	} >"$tmp"
	chmod 0644 "$tmp"
	if ! cmp -s "$tmp" "$dest" 2>/dev/null && pid=$(pid_of "$name"); then
		say "$name: registries changed, restarting it"
		stop_pid "$pid"
		wait_gone "$pid" 100 || stop_pid "$pid" KILL
	fi
	mkdir -p "$(dirname "$dest")"
	mv "$tmp" "$dest"
}

# registry_in_netns NS: the project's registry, at the same address, inside NS.
registry_in_netns() {
	if registry_running; then "$SCRIPTS/registry.sh" up-netns "$1"; fi
}

# --- rootless Podman 4.3 --------------------------------------------------------

setup_rl43() {
	local uid gid d=$M/rl43
	uid=$(rl_uid)
	gid=$(rl_gid)
	install -d -m 0711 "$M"
	install -d -o "$uid" -g "$gid" -m 0700 "$d" "$d/home" "$d/xdg" "$d/xdg/podman" "$d/storage" "$d/run" "$d/tmp" "$d/volumes" "$d/networks"
	chmod 0711 "$d"
	{
		containers_conf_body
		cat <<EOF
tmp_dir = "$d/tmp"
volume_path = "$d/volumes"
events_logfile_path = "$d/tmp/events/events.log"
image_copy_tmp_dir = "$d/tmp"

[engine.runtimes]
runc = ["$(command -v runc || echo /usr/sbin/runc)"]

[network]
network_config_dir = "$d/networks"
EOF
	} >"$d/containers.conf"
	# rootless: graphroot is not read, rootless_storage_path is; the libpod
	# database stays in its default place (graphroot/libpod), since conmon's
	# cleanup command (auto-remove) finds it there from its --root argument.
	printf '[storage]\ndriver = "overlay"\nrootless_storage_path = "%s/storage"\n' "$d" >"$d/storage.conf"
	chmod 0644 "$d/containers.conf" "$d/storage.conf"
	cat >"$BIN/podman-rl43" <<EOF
#!/bin/sh
# Written by scripts/matrix.sh: rootless Podman 4.3.1 as $RL_USER (uid $uid),
# for root or for $RL_USER itself; podman runs without capabilities.
as=
[ "\$(id -u)" = $uid ] || as="--reuid=$uid --regid=$gid --init-groups"
cd /
exec setpriv \$as --inh-caps=-all --ambient-caps=-all env -u CONTAINER_HOST -u CONTAINER_CONNECTION \\
	HOME=$d/home USER=$RL_USER LOGNAME=$RL_USER XDG_RUNTIME_DIR=$d/xdg TMPDIR=$d/tmp \\
	CONTAINERS_CONF=$d/containers.conf CONTAINERS_STORAGE_CONF=$d/storage.conf CONTAINERS_REGISTRIES_CONF=$d/registries.conf \\
	PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin podman "\$@"
EOF
	chmod 0755 "$BIN/podman-rl43"
	install_registries_conf "$d/registries.conf" rl43
}

start_rl43() {
	local sock
	sock=$(sock_of rl43)
	if pid_of rl43 >/dev/null && libpod_ping "$sock" >/dev/null 2>&1; then return 0; fi
	rm -f "$sock"
	spawn rl43 "$BIN/podman-rl43" system service --time=0 "unix://$sock"
	wait_answer rl43 libpod_ping "$sock"
	say "rl43: rootless podman $("$BIN/podman-rl43" version --format '{{.Server.Version}}' 2>/dev/null) answers on unix://$sock"
}

# --- Podman 5.4 root ------------------------------------------------------------

setup_p5() {
	cat >"$BIN/podman-p5" <<EOF
#!/bin/sh
# Written by scripts/matrix.sh: podman 5.4 of the Debian 13 root, in the
# mount and network namespaces of the p5 service (the same storage and /run).
pid=\$(cat $M/p5.pid 2>/dev/null) && [ -d /proc/\$pid ] || { echo "podman-p5: the p5 service is not running (scripts/matrix.sh up)" >&2; exit 125; }
exec nsenter -t "\$pid" -m -n -r -w env -u CONTAINER_HOST -u CONTAINER_CONNECTION -u CONTAINERS_CONF -u CONTAINERS_STORAGE_CONF -u XDG_RUNTIME_DIR \\
	PODMAN_IGNORE_CGROUPSV1_WARNING=1 HOME=/root TMPDIR=/var/tmp PATH=/usr/sbin:/usr/bin:/sbin:/bin podman "\$@"
EOF
	chmod 0755 "$BIN/podman-p5"
	# p5 and rl5 read the Debian 13 root's drop-in directory
	install_registries_conf "$T/etc/containers/registries.conf.d/50-ctrgate.conf" p5
}

start_p5() {
	local sock
	sock=$(sock_of p5)
	if pid_of p5 >/dev/null && libpod_ping "$sock" >/dev/null 2>&1; then return 0; fi
	ensure_netns "$NS_P5"
	registry_in_netns "$NS_P5"
	rm -f "$sock"
	spawn p5 nsenter "--net=/run/netns/$NS_P5" unshare -m --propagation private sh -c "$(in_root_mounts "$T") &&
		$(enter_root) && exec env PODMAN_IGNORE_CGROUPSV1_WARNING=1 HOME=/root PATH=/usr/sbin:/usr/bin:/sbin:/bin \
		podman system service --time=0 unix://$SOCKDIR/p5.sock"
	wait_answer p5 libpod_ping "$sock"
	say "p5: podman $("$BIN/podman-p5" version --format '{{.Server.Version}}' 2>/dev/null) (root, netns $NS_P5) answers on unix://$sock"
}

# --- rootless Podman 5.4 --------------------------------------------------------

setup_rl5() {
	local uid gid
	uid=$(rl_uid)
	gid=$(rl_gid)
	cat >"$BIN/podman-rl5" <<EOF
#!/bin/sh
# Written by scripts/matrix.sh: rootless podman 5.4 of the Debian 13 root as
# $RL_USER, in the rl5 service's mount namespace (its runtime dir /run/user/$uid).
# The caller is root, or $RL_USER with CAP_SYS_ADMIN+CAP_SYS_CHROOT (for
# nsenter; the lanes give them); podman runs without capabilities.
pid=\$(cat $M/rl5.pid 2>/dev/null) && [ -d /proc/\$pid ] || { echo "podman-rl5: the rl5 service is not running (scripts/matrix.sh up)" >&2; exit 125; }
as=
[ "\$(id -u)" = $uid ] || as="--reuid=$uid --regid=$gid --init-groups"
exec nsenter -t "\$pid" -m -r -w setpriv \$as --inh-caps=-all --ambient-caps=-all \\
	env -u CONTAINER_HOST -u CONTAINER_CONNECTION -u CONTAINERS_CONF -u CONTAINERS_STORAGE_CONF \\
	HOME=/home/$RL_USER USER=$RL_USER LOGNAME=$RL_USER XDG_RUNTIME_DIR=/run/user/$uid TMPDIR=/var/tmp \\
	PODMAN_IGNORE_CGROUPSV1_WARNING=1 PATH=/usr/sbin:/usr/bin:/sbin:/bin podman "\$@"
EOF
	chmod 0755 "$BIN/podman-rl5"
	if ! cmp -s "$T/etc/containers/registries.conf.d/50-ctrgate.conf" "$M/rl5.registries" 2>/dev/null && pid=$(pid_of rl5); then
		stop_pid "$pid"
		wait_gone "$pid" 100 || stop_pid "$pid" KILL
	fi
	cp "$T/etc/containers/registries.conf.d/50-ctrgate.conf" "$M/rl5.registries"
}

start_rl5() {
	local sock uid gid
	uid=$(rl_uid)
	gid=$(rl_gid)
	sock=$(sock_of rl5)
	if pid_of rl5 >/dev/null && libpod_ping "$sock" >/dev/null 2>&1; then return 0; fi
	rm -f "$sock"
	spawn rl5 unshare -m --propagation private sh -c "$(in_root_mounts "$T") &&
		install -d -o $uid -g $gid -m 700 $T/run/user $T/run/user/$uid && $(enter_root) &&
		exec setpriv --reuid=$uid --regid=$gid --init-groups env -i HOME=/home/$RL_USER USER=$RL_USER LOGNAME=$RL_USER \
		PATH=/usr/sbin:/usr/bin:/sbin:/bin XDG_RUNTIME_DIR=/run/user/$uid PODMAN_IGNORE_CGROUPSV1_WARNING=1 \
		podman system service --time=0 unix:///home/$RL_USER/podman.sock"
	wait_answer rl5 libpod_ping "$sock"
	say "rl5: rootless podman $("$BIN/podman-rl5" version --format '{{.Server.Version}}' 2>/dev/null) answers on unix://$sock"
}

# --- Docker 26 ------------------------------------------------------------------

start_d26() {
	local sock
	sock=$(sock_of d26)
	if pid_of d26 >/dev/null && docker_ping "$sock" >/dev/null 2>&1; then return 0; fi
	ensure_netns "$NS_D26"
	registry_in_netns "$NS_D26"
	rm -f "$sock"
	spawn d26 nsenter "--net=/run/netns/$NS_D26" unshare -m --propagation private sh -c "$(in_root_mounts "$T") &&
		$(enter_root) && exec env HOME=/root PATH=/usr/sbin:/usr/bin:/sbin:/bin dockerd --config-file /etc/docker/daemon.json \
		--host unix://$SOCKDIR/d26.sock --data-root /var/lib/docker --exec-root /run/docker \
		--pidfile /run/docker.pid --cgroup-parent /ctrgate-docker26"
	wait_answer d26 docker_ping "$sock"
	say "d26: dockerd $(curl -fsS --unix-socket "$sock" http://d/version | sed -n 's/.*"Version":"\([^"]*\)".*/\1/p' | head -c 40) (netns $NS_D26) answers on unix://$sock"
}

# --- commands ---------------------------------------------------------------------

ENGINES=(rl43 p5 rl5 d26)

cmd_up() {
	need_root_debian
	ensure_host_pkgs
	mkdir -p "$M" "$BIN"
	chmod 0711 "$STATE_ROOT" "$M"
	install -d -m 1777 "$XFER"
	ensure_user
	build_root
	configure_root
	setup_rl43
	setup_p5
	setup_rl5
	start_rl43
	start_p5
	start_rl5
	start_d26
}

# procs_of_user: pids of every process of $RL_USER.
procs_of_user() {
	id "$RL_USER" >/dev/null 2>&1 || return 0
	ps -u "$(rl_uid)" -o pid= 2>/dev/null | tr -d ' ' || true
}

# procs_under_root: pids of processes whose root, mount or net namespace
# belongs to the matrix: root under $T, netns ctrgate-p5/ctrgate-d26, or the
# mount namespace of a service (MNTNS, recorded by cmd_down).
MNTNS=()
procs_under_root() {
	local p r n m nsino=()
	for ns in "$NS_P5" "$NS_D26"; do
		[ -e "/run/netns/$ns" ] && nsino+=("$(stat -L -c %i "/run/netns/$ns")")
	done
	for p in /proc/[0-9]*; do
		r=$(readlink "$p/root" 2>/dev/null) || continue
		case $r in "$T" | "$T"/*) echo "${p#/proc/}"; continue ;; esac
		m=$(stat -L -c %i "$p/ns/mnt" 2>/dev/null) || continue
		for i in "${MNTNS[@]}"; do [ "$m" = "$i" ] && echo "${p#/proc/}"; done
		n=$(stat -L -c %i "$p/ns/net" 2>/dev/null) || continue
		for i in "${nsino[@]}"; do [ "$n" = "$i" ] && echo "${p#/proc/}"; done
	done
	return 0
}

stop_pid() {
	local pid=$1 sig=${2:-TERM}
	kill -"$sig" "$pid" 2>/dev/null || true
}

wait_gone() {
	local i pid
	for i in $(seq 1 "${2:-50}"); do
		local left=0
		for pid in $1; do [ -d "/proc/$pid" ] && left=1; done
		[ $left = 0 ] && return 0
		sleep 0.1
	done
	return 1
}

cmd_down() {
	local name pid pids m
	[ "$(id -u)" -eq 0 ] || die "down needs root"
	# 0. the containers, removed by their engines while these answer, and
	# the untagged images every run leaves (each re-imports its test images
	# under the same tags; left to pile up, they slow Podman's image list to
	# seconds)
	for name in rl43 p5 rl5; do
		if pid_of "$name" >/dev/null; then
			timeout 120 "$BIN/podman-$name" rm -a -f -t 0 >/dev/null 2>&1 || true
			timeout 120 "$BIN/podman-$name" image prune -f >/dev/null 2>&1 || true
		fi
	done
	if pid_of d26 >/dev/null; then
		local sock id
		sock=$(sock_of d26)
		for id in $(curl -fsS --max-time 10 --unix-socket "$sock" 'http://d/containers/json?all=1' 2>/dev/null |
			grep -oE '"Id":"[0-9a-f]+"' | cut -d'"' -f4); do
			curl -fsS --max-time 30 -X DELETE --unix-socket "$sock" "http://d/containers/$id?force=1&v=1" >/dev/null 2>&1 || true
		done
	fi
	# 1. the services, gently (dockerd stops its containerd)
	pids=
	for name in "${ENGINES[@]}"; do
		if pid=$(pid_of "$name"); then
			# a namespace of its own only (rl43 runs in the host's)
			m=$(stat -L -c %i "/proc/$pid/ns/mnt")
			[ "$m" != "$(stat -L -c %i /proc/self/ns/mnt)" ] && MNTNS+=("$m")
			stop_pid "$pid"
			pids="$pids $pid"
		fi
	done
	wait_gone "$pids" 100 || true
	# 2. whatever is left: containers, conmons, shims, pause processes
	for round in 1 2 3; do
		pids="$(procs_of_user) $(procs_under_root)"
		pids=$(echo "$pids" | tr ' ' '\n' | grep -v '^$' | sort -u | grep -vx "$$" || true)
		[ -z "$pids" ] && break
		for pid in $pids; do stop_pid "$pid" KILL; done
		wait_gone "$pids" 50 || true
	done
	for name in "${ENGINES[@]}"; do rm -f "$M/$name.pid"; done
	# 3. namespaces (the bridges inside go with them), and their registries
	for ns in "$NS_P5" "$NS_D26"; do
		"$SCRIPTS/registry.sh" down-netns "$ns" >/dev/null 2>&1 || true
		if [ -e "/run/netns/$ns" ]; then ip netns del "$ns"; fi
	done
	# 4. the cgroups the engines made (dockerd's parent, podman 5's libpod parent
	#    is shared with the host's podman and cleaned by podman itself)
	local d
	for d in /sys/fs/cgroup/*/ctrgate-docker26 /sys/fs/cgroup/ctrgate-docker26; do
		if [ -d "$d" ]; then find "$d" -depth -type d -exec rmdir {} + 2>/dev/null || true; fi
	done
	rm -rf "${XFER:?}"/* 2>/dev/null || true
	if [ -s "$M/tun.mode" ]; then
		chmod "$(cat "$M/tun.mode")" /dev/net/tun
		rm -f "$M/tun.mode"
	fi
	if [ "${1:-}" = --purge ]; then
		rm -rf "${M:?}"
		if id "$RL_USER" >/dev/null 2>&1; then userdel "$RL_USER"; fi
		sed -i "/^$RL_USER:/d" /etc/subuid /etc/subgid
	fi
	say "down: no process, mount or namespace of the matrix left"
}

cmd_env() {
	local lane=${1:-}
	case $lane in
	rl43 | p5 | rl5 | d26) ;;
	*) die "env: want one of ${ENGINES[*]}" ;;
	esac
	local sock uid gid
	sock=$(sock_of "$lane")
	uid=$(rl_uid 2>/dev/null || echo "")
	gid=$(rl_gid 2>/dev/null || echo "")
	printf 'export TMPDIR=%q\n' "$XFER"
	case $lane in
	d26)
		printf 'export DOCKER_HOST=%q\n' "unix://$sock"
		printf 'export CTRGATE_NETNS=%q\n' "$NS_D26"
		;;
	*)
		printf 'export CTRGATE_PODMAN_SOCKET=%q\n' "unix://$sock"
		printf 'export CONTAINER_HOST=%q\n' "unix://$sock"
		printf 'export CTRGATE_PODMAN_BINARY=%q\n' "$BIN/podman-$lane"
		# engineConfig's marker that podman is provisioned; the wrappers set their own
		printf 'export CONTAINERS_CONF=%q\n' "$M/rl43/containers.conf"
		case $lane in
		rl43 | rl5)
			printf 'export CTRGATE_ENGINE_UID=%q CTRGATE_ENGINE_GID=%q\n' "$uid" "$gid"
			;;
		p5) printf 'export CTRGATE_NETNS=%q\n' "$NS_P5" ;;
		esac
		case $lane in
		# the engine's file system, seen from here (its log files)
		p5 | rl5) printf 'export CTRGATE_ENGINE_ROOT=%q\n' "$T" ;;
		esac
		;;
	esac
}

cmd_status() {
	local rc=0 name sock
	for name in "${ENGINES[@]}"; do
		sock=$(sock_of "$name")
		if pid_of "$name" >/dev/null && { libpod_ping "$sock" || docker_ping "$sock"; } >/dev/null 2>&1; then
			echo "$name: running (pid $(pid_of "$name")), unix://$sock"
		else
			echo "$name: stopped"
			rc=3
		fi
	done
	return $rc
}

case ${1:-} in
up) cmd_up ;;
down) cmd_down "${2:-}" ;;
env) cmd_env "${2:-}" ;;
status) cmd_status ;;
*) echo "usage: $0 up|down [--purge]|env rl43|p5|rl5|d26|status" >&2; exit 2 ;;
esac
