// Package rootless builds the settings rootless Podman needs: a user
// namespace that keeps the caller's uid/gid (keep-id), and user-mode
// networking (slirp4netns or pasta) that lets a container reach services
// listening on the host's loopback interface under the name
// host.containers.internal.
//
// Every helper comes twice: as podman CLI arguments (for the CLI backend)
// and as a mutation of a ctrgate.ContainerSpec (for backends that build
// engine structs from the spec).
package rootless

import (
	"os"
	"strconv"

	"github.com/ctrgate/ctrgate"
)

// HostAlias is the name under which a container reaches the host.
const HostAlias = "host.containers.internal"

// Host loopback addresses as seen from inside the container.
const (
	// Slirp4netnsHostIP is the address slirp4netns maps to the host's
	// loopback when allow_host_loopback=true.
	Slirp4netnsHostIP = "10.0.2.2"
	// PastaHostIP is the link-local address pasta maps to the host's
	// loopback with --map-host-loopback.
	PastaHostIP = "169.254.1.2"
)

// Euid returns the effective user id; tests replace it to pretend to be
// root or not.
var Euid = os.Geteuid

// IsRoot reports whether the process runs as root (Euid() == 0).
func IsRoot() bool { return Euid() == 0 }

// KeepIDArgs returns the podman argument that maps the caller's uid/gid into
// the container: "--userns=keep-id", or "--userns=keep-id:uid=U,gid=G" when
// uid and/or gid are given. It returns nil when euid is 0: keep-id only
// applies to rootless Podman.
func KeepIDArgs(euid int, uid, gid *int) []string {
	if euid == 0 {
		return nil
	}
	return []string{"--userns=" + KeepIDValue(uid, gid)}
}

// KeepIDArgsCurrent is KeepIDArgs for the current process (Euid()).
func KeepIDArgsCurrent(uid, gid *int) []string { return KeepIDArgs(Euid(), uid, gid) }

// KeepIDValue returns the --userns value "keep-id", "keep-id:uid=U",
// "keep-id:gid=G" or "keep-id:uid=U,gid=G".
func KeepIDValue(uid, gid *int) string {
	v := "keep-id"
	var opts []string
	if uid != nil {
		opts = append(opts, "uid="+strconv.Itoa(*uid))
	}
	if gid != nil {
		opts = append(opts, "gid="+strconv.Itoa(*gid))
	}
	for i, o := range opts {
		if i == 0 {
			v += ":" + o
		} else {
			v += "," + o
		}
	}
	return v
}

// ApplyKeepID sets spec.UserNS to keep-id with the given uid/gid when euid
// is not 0, and leaves spec untouched when running as root. It reports
// whether spec was changed.
func ApplyKeepID(spec *ctrgate.ContainerSpec, euid int, uid, gid *int) bool {
	if euid == 0 {
		return false
	}
	spec.UserNS = ctrgate.UserNSSpec{Mode: ctrgate.UserNSKeepID, UID: cloneInt(uid), GID: cloneInt(gid)}
	return true
}

func cloneInt(p *int) *int {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}

// NetworkMode picks the rootless network mode for an engine: pasta when
// info.RootlessNetworkMode says "pasta", slirp4netns otherwise (also when
// the engine does not say, as Podman 4.3 does not). A nil info gives
// slirp4netns.
func NetworkMode(info *ctrgate.EngineInfo) ctrgate.NetworkMode {
	if info != nil && info.RootlessNetworkMode == string(ctrgate.NetworkPasta) {
		return ctrgate.NetworkPasta
	}
	return ctrgate.NetworkSlirp4netns
}

// HostIP returns the address the host's loopback has inside a container on
// network mode: PastaHostIP for pasta, Slirp4netnsHostIP otherwise.
func HostIP(mode ctrgate.NetworkMode) string {
	if mode == ctrgate.NetworkPasta {
		return PastaHostIP
	}
	return Slirp4netnsHostIP
}

// HostLoopbackNetwork returns the NetworkSpec that lets a container reach
// the host's loopback on mode (pasta or slirp4netns; anything else is
// treated as slirp4netns):
//
//	slirp4netns: {Mode: slirp4netns, Options: [allow_host_loopback=true]}
//	pasta:       {Mode: pasta, Options: [--map-host-loopback, 169.254.1.2]}
func HostLoopbackNetwork(mode ctrgate.NetworkMode) ctrgate.NetworkSpec {
	if mode == ctrgate.NetworkPasta {
		return ctrgate.NetworkSpec{Mode: ctrgate.NetworkPasta, Options: []string{"--map-host-loopback", PastaHostIP}}
	}
	return ctrgate.NetworkSpec{Mode: ctrgate.NetworkSlirp4netns, Options: []string{"allow_host_loopback=true"}}
}

// HostLoopbackArgs returns the podman arguments for HostLoopbackNetwork(mode)
// plus the host alias:
//
//	slirp4netns: --network slirp4netns:allow_host_loopback=true --add-host host.containers.internal:10.0.2.2
//	pasta:       --network pasta:--map-host-loopback,169.254.1.2 --add-host host.containers.internal:169.254.1.2
func HostLoopbackArgs(mode ctrgate.NetworkMode) []string {
	n := HostLoopbackNetwork(mode)
	return []string{
		"--network", NetworkValue(n),
		"--add-host", HostAlias + ":" + HostIP(n.Mode),
	}
}

// HostLoopbackArgsFor is HostLoopbackArgs(NetworkMode(info)).
func HostLoopbackArgsFor(info *ctrgate.EngineInfo) []string {
	return HostLoopbackArgs(NetworkMode(info))
}

// NetworkValue renders a NetworkSpec as the value of podman's --network:
// the mode, followed by ":" and the options joined with ",", if any.
// NetworkBridge with a Name renders the name. The default mode renders "".
func NetworkValue(n ctrgate.NetworkSpec) string {
	if n.Mode == ctrgate.NetworkBridge && n.Name != "" {
		return n.Name
	}
	v := string(n.Mode)
	for i, o := range n.Options {
		if i == 0 {
			v += ":" + o
		} else {
			v += "," + o
		}
	}
	return v
}

// ApplyHostLoopback sets spec.Network to HostLoopbackNetwork(mode) and adds
// the host alias to spec.ExtraHosts (replacing an existing entry for
// HostAlias).
func ApplyHostLoopback(spec *ctrgate.ContainerSpec, mode ctrgate.NetworkMode) {
	n := HostLoopbackNetwork(mode)
	spec.Network = n
	hosts := make([]ctrgate.HostEntry, 0, len(spec.ExtraHosts)+1)
	for _, h := range spec.ExtraHosts {
		if h.Host != HostAlias {
			hosts = append(hosts, h)
		}
	}
	spec.ExtraHosts = append(hosts, ctrgate.HostEntry{Host: HostAlias, IP: HostIP(n.Mode)})
}

// ApplyHostLoopbackFor is ApplyHostLoopback(spec, NetworkMode(info)).
func ApplyHostLoopbackFor(spec *ctrgate.ContainerSpec, info *ctrgate.EngineInfo) {
	ApplyHostLoopback(spec, NetworkMode(info))
}
