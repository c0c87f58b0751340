package rootless_test

import (
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ctrgate/ctrgate"
	"github.com/ctrgate/ctrgate/rootless"
)

func intp(v int) *int { return &v }

func TestKeepIDArgs(t *testing.T) {
	tests := []struct {
		name     string
		euid     int
		uid, gid *int
		want     []string
	}{
		{"root gets nothing", 0, nil, nil, nil},
		{"root ignores uid/gid", 0, intp(1000), intp(1000), nil},
		{"plain keep-id", 1000, nil, nil, []string{"--userns=keep-id"}},
		{"uid only", 1000, intp(0), nil, []string{"--userns=keep-id:uid=0"}},
		{"gid only", 1000, nil, intp(100), []string{"--userns=keep-id:gid=100"}},
		{"uid and gid", 1000, intp(1001), intp(1002), []string{"--userns=keep-id:uid=1001,gid=1002"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, rootless.KeepIDArgs(tc.euid, tc.uid, tc.gid))
		})
	}
}

func TestKeepIDArgsCurrentUsesInjectableEuid(t *testing.T) {
	orig := rootless.Euid
	t.Cleanup(func() { rootless.Euid = orig })

	rootless.Euid = func() int { return 0 }
	assert.True(t, rootless.IsRoot())
	assert.Nil(t, rootless.KeepIDArgsCurrent(nil, nil))

	rootless.Euid = func() int { return 1234 }
	assert.False(t, rootless.IsRoot())
	assert.Equal(t, []string{"--userns=keep-id:uid=5"}, rootless.KeepIDArgsCurrent(intp(5), nil))

	rootless.Euid = orig
	assert.Equal(t, os.Geteuid() == 0, rootless.IsRoot(), "default reads the real euid")
}

func TestApplyKeepID(t *testing.T) {
	spec := ctrgate.ContainerSpec{Image: "img"}
	assert.False(t, rootless.ApplyKeepID(&spec, 0, intp(1), intp(2)))
	assert.Equal(t, ctrgate.UserNSSpec{}, spec.UserNS, "root: untouched")

	uid, gid := 7, 8
	require.True(t, rootless.ApplyKeepID(&spec, 1000, &uid, &gid))
	assert.Equal(t, ctrgate.UserNSKeepID, spec.UserNS.Mode)
	require.NotNil(t, spec.UserNS.UID)
	require.NotNil(t, spec.UserNS.GID)
	assert.Equal(t, 7, *spec.UserNS.UID)
	assert.Equal(t, 8, *spec.UserNS.GID)
	uid = 99
	assert.Equal(t, 7, *spec.UserNS.UID, "spec does not alias the caller's variables")
	require.NoError(t, ctrgate.ValidateSpec(spec))

	spec2 := ctrgate.ContainerSpec{Image: "img"}
	require.True(t, rootless.ApplyKeepID(&spec2, 1000, nil, nil))
	assert.Equal(t, ctrgate.UserNSSpec{Mode: ctrgate.UserNSKeepID}, spec2.UserNS)
	require.NoError(t, ctrgate.ValidateSpec(spec2))
}

func TestNetworkMode(t *testing.T) {
	tests := []struct {
		name string
		info *ctrgate.EngineInfo
		want ctrgate.NetworkMode
	}{
		{"nil info", nil, ctrgate.NetworkSlirp4netns},
		{"podman 4.3 says nothing", &ctrgate.EngineInfo{Engine: "podman", Version: "4.3.1"}, ctrgate.NetworkSlirp4netns},
		{"slirp4netns", &ctrgate.EngineInfo{RootlessNetworkMode: "slirp4netns"}, ctrgate.NetworkSlirp4netns},
		{"pasta", &ctrgate.EngineInfo{RootlessNetworkMode: "pasta"}, ctrgate.NetworkPasta},
		{"unknown word", &ctrgate.EngineInfo{RootlessNetworkMode: "vpnkit"}, ctrgate.NetworkSlirp4netns},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, rootless.NetworkMode(tc.info))
		})
	}
}

func TestHostLoopbackArgs(t *testing.T) {
	slirp := []string{"--network", "slirp4netns:allow_host_loopback=true", "--add-host", "host.containers.internal:10.0.2.2"}
	pasta := []string{"--network", "pasta:--map-host-loopback,169.254.1.2", "--add-host", "host.containers.internal:169.254.1.2"}
	assert.Equal(t, slirp, rootless.HostLoopbackArgs(ctrgate.NetworkSlirp4netns))
	assert.Equal(t, pasta, rootless.HostLoopbackArgs(ctrgate.NetworkPasta))
	assert.Equal(t, slirp, rootless.HostLoopbackArgs(ctrgate.NetworkDefault), "anything but pasta is slirp4netns")

	assert.Equal(t, slirp, rootless.HostLoopbackArgsFor(&ctrgate.EngineInfo{}))
	assert.Equal(t, slirp, rootless.HostLoopbackArgsFor(nil))
	assert.Equal(t, pasta, rootless.HostLoopbackArgsFor(&ctrgate.EngineInfo{RootlessNetworkMode: "pasta"}))
}

func TestHostIP(t *testing.T) {
	assert.Equal(t, "10.0.2.2", rootless.HostIP(ctrgate.NetworkSlirp4netns))
	assert.Equal(t, "169.254.1.2", rootless.HostIP(ctrgate.NetworkPasta))
}

func TestNetworkValue(t *testing.T) {
	tests := []struct {
		n    ctrgate.NetworkSpec
		want string
	}{
		{ctrgate.NetworkSpec{}, ""},
		{ctrgate.NetworkSpec{Mode: ctrgate.NetworkHost}, "host"},
		{ctrgate.NetworkSpec{Mode: ctrgate.NetworkNone}, "none"},
		{ctrgate.NetworkSpec{Mode: ctrgate.NetworkBridge}, "bridge"},
		{ctrgate.NetworkSpec{Mode: ctrgate.NetworkBridge, Name: "mynet"}, "mynet"},
		{ctrgate.NetworkSpec{Mode: ctrgate.NetworkSlirp4netns, Options: []string{"allow_host_loopback=true", "mtu=1500"}},
			"slirp4netns:allow_host_loopback=true,mtu=1500"},
		{ctrgate.NetworkSpec{Mode: ctrgate.NetworkPasta, Options: []string{"--map-host-loopback", "169.254.1.2"}},
			"pasta:--map-host-loopback,169.254.1.2"},
	}
	for _, tc := range tests {
		assert.Equal(t, tc.want, rootless.NetworkValue(tc.n), "%+v", tc.n)
	}
}

func TestApplyHostLoopback(t *testing.T) {
	for _, tc := range []struct {
		mode   ctrgate.NetworkMode
		wantIP string
		opts   []string
	}{
		{ctrgate.NetworkSlirp4netns, "10.0.2.2", []string{"allow_host_loopback=true"}},
		{ctrgate.NetworkPasta, "169.254.1.2", []string{"--map-host-loopback", "169.254.1.2"}},
	} {
		t.Run(string(tc.mode), func(t *testing.T) {
			spec := ctrgate.ContainerSpec{
				Image: "img",
				ExtraHosts: []ctrgate.HostEntry{
					{Host: "db", IP: "10.1.1.1"},
					{Host: rootless.HostAlias, IP: "1.2.3.4"}, // stale entry is replaced
				},
			}
			rootless.ApplyHostLoopback(&spec, tc.mode)
			assert.Equal(t, ctrgate.NetworkSpec{Mode: tc.mode, Options: tc.opts}, spec.Network)
			assert.Equal(t, []ctrgate.HostEntry{
				{Host: "db", IP: "10.1.1.1"},
				{Host: "host.containers.internal", IP: tc.wantIP},
			}, spec.ExtraHosts)
			require.NoError(t, ctrgate.ValidateSpec(spec))
		})
	}
}

func TestApplyHostLoopbackFor(t *testing.T) {
	spec := ctrgate.ContainerSpec{Image: "img"}
	rootless.ApplyHostLoopbackFor(&spec, &ctrgate.EngineInfo{Engine: "podman", Version: "4.3.1"})
	assert.Equal(t, ctrgate.NetworkSlirp4netns, spec.Network.Mode)
	assert.Equal(t, []ctrgate.HostEntry{{Host: rootless.HostAlias, IP: rootless.Slirp4netnsHostIP}}, spec.ExtraHosts)

	spec = ctrgate.ContainerSpec{Image: "img"}
	rootless.ApplyHostLoopbackFor(&spec, &ctrgate.EngineInfo{RootlessNetworkMode: "pasta"})
	assert.Equal(t, ctrgate.NetworkPasta, spec.Network.Mode)
	assert.Equal(t, []ctrgate.HostEntry{{Host: rootless.HostAlias, IP: rootless.PastaHostIP}}, spec.ExtraHosts)
}

// The spec form and the CLI form agree.
func TestSpecAndArgsAgree(t *testing.T) {
	for _, mode := range []ctrgate.NetworkMode{ctrgate.NetworkSlirp4netns, ctrgate.NetworkPasta} {
		spec := ctrgate.ContainerSpec{Image: "img"}
		rootless.ApplyHostLoopback(&spec, mode)
		args := rootless.HostLoopbackArgs(mode)
		assert.Equal(t, rootless.NetworkValue(spec.Network), args[1])
		assert.Equal(t, spec.ExtraHosts[0].Host+":"+spec.ExtraHosts[0].IP, args[3])
	}
	uid := 3
	spec := ctrgate.ContainerSpec{Image: "img"}
	rootless.ApplyKeepID(&spec, 1000, &uid, nil)
	assert.Equal(t, []string{"--userns=" + rootless.KeepIDValue(spec.UserNS.UID, spec.UserNS.GID)},
		rootless.KeepIDArgs(1000, &uid, nil))
}
