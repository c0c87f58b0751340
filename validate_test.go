package ctrgate_test

import (
	"errors"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ctrgate/ctrgate"
)

func ip(v int) *int { return &v }

// fullSpec uses every field with a valid value.
func fullSpec() ctrgate.ContainerSpec {
	return ctrgate.ContainerSpec{
		Name:        "web-1",
		Image:       "localhost/ctrgate/testprog:conformance",
		PullPolicy:  ctrgate.PullNever,
		Command:     []string{"serve", "--port", "8080"},
		Entrypoint:  []string{"/testprog"},
		Env:         []ctrgate.EnvVar{{Name: "A", Value: "1"}, {Name: "API_KEY", Value: "k", Secret: true}},
		Labels:      map[string]string{"app": "web", "io.ctrgate/test": ""},
		Annotations: map[string]string{"org.opencontainers.x": "y"},
		Mounts: []ctrgate.Mount{
			{Type: ctrgate.MountBind, Source: "/srv/data", Target: "/data", ReadOnly: true, Relabel: ctrgate.RelabelPrivate},
			{Type: ctrgate.MountVolume, Source: "vol1", Target: "/vol"},
			{Type: ctrgate.MountVolume, Target: "/anon"},
			{Type: ctrgate.MountTmpfs, Target: "/tmp", Size: 1 << 20},
		},
		Ports: []ctrgate.PortMapping{
			{ContainerPort: 8080},
			{HostIP: "127.0.0.1", HostPort: 18080, ContainerPort: 8081, Protocol: "tcp"},
			{HostIP: "::1", ContainerPort: 53, Protocol: "udp"},
		},
		Network:         ctrgate.NetworkSpec{Mode: ctrgate.NetworkBridge, Name: "mynet"},
		ExtraHosts:      []ctrgate.HostEntry{{Host: "host.containers.internal", IP: "10.0.2.2"}},
		User:            "1000:1000",
		UserNS:          ctrgate.UserNSSpec{Mode: ctrgate.UserNSKeepID, UID: ip(1000), GID: ip(0)},
		WorkDir:         "/work",
		Hostname:        "web",
		GPUs:            ctrgate.GPURequest{Devices: []string{"nvidia.com/gpu=0"}},
		CapAdd:          []string{"NET_ADMIN"},
		CapDrop:         []string{"ALL"},
		SecurityOpt:     []string{"label=disable"},
		NoNewPrivileges: true,
		ReadOnlyRootfs:  true,
		Resources:       ctrgate.Resources{MemoryBytes: 64 << 20, CPUs: 1.5, PidsLimit: 100},
		Ulimits:         []ctrgate.Ulimit{{Name: "nofile", Soft: 1024, Hard: 2048}},
		Init:            true,
		StopSignal:      "SIGINT",
		StopTimeout:     5 * time.Second,
		AutoRemove:      true,
		OCIRuntime:      "runc",
	}
}

func TestValidateSpecAcceptsValid(t *testing.T) {
	require.NoError(t, ctrgate.ValidateSpec(fullSpec()))
	require.NoError(t, ctrgate.ValidateSpec(ctrgate.ContainerSpec{Image: "alpine"}), "minimal spec")
	for _, img := range []string{
		"alpine", "alpine:3.20", "docker.io/library/alpine:latest", "localhost:5000/a/b:Tag_1",
		"quay.io/x/y@sha256:0123456789abcdef", "Registry.Example.com/team/app:v1", "a+b",
	} {
		s := ctrgate.ContainerSpec{Image: img}
		assert.NoError(t, ctrgate.ValidateSpec(s), "image %q", img)
	}
	for _, mode := range []ctrgate.NetworkMode{"", "none", "host", "bridge", "slirp4netns", "pasta"} {
		assert.NoError(t, ctrgate.ValidateSpec(ctrgate.ContainerSpec{Image: "a", Network: ctrgate.NetworkSpec{Mode: mode}}), "mode %q", mode)
	}
	for _, ns := range []ctrgate.UserNSMode{"", "host", "keep-id", "auto"} {
		assert.NoError(t, ctrgate.ValidateSpec(ctrgate.ContainerSpec{Image: "a", UserNS: ctrgate.UserNSSpec{Mode: ns}}), "userns %q", ns)
	}
	for _, sig := range []string{"TERM", "sigterm", "SIGHUP", "9", "15"} {
		assert.NoError(t, ctrgate.ValidateSpec(ctrgate.ContainerSpec{Image: "a", StopSignal: sig}), "signal %q", sig)
	}
}

func TestValidateSpecRejects(t *testing.T) {
	tests := []struct {
		name  string
		mut   func(*ctrgate.ContainerSpec)
		field string
	}{
		// Name
		{"name leading dash", func(s *ctrgate.ContainerSpec) { s.Name = "-rm" }, "Name"},
		{"name with space", func(s *ctrgate.ContainerSpec) { s.Name = "a b" }, "Name"},
		{"name with slash", func(s *ctrgate.ContainerSpec) { s.Name = "a/b" }, "Name"},
		{"name leading dot", func(s *ctrgate.ContainerSpec) { s.Name = ".a" }, "Name"},
		{"name too long", func(s *ctrgate.ContainerSpec) { s.Name = strings.Repeat("a", 254) }, "Name"},
		// Image
		{"image empty", func(s *ctrgate.ContainerSpec) { s.Image = "" }, "Image"},
		{"image leading dash", func(s *ctrgate.ContainerSpec) { s.Image = "-alpine" }, "Image"},
		{"image upper case", func(s *ctrgate.ContainerSpec) { s.Image = "Alpine" }, "Image"},
		{"image upper case with tag", func(s *ctrgate.ContainerSpec) { s.Image = "Alpine:3" }, "Image"},
		{"image upper case path after registry port", func(s *ctrgate.ContainerSpec) { s.Image = "localhost:5000/Foo" }, "Image"},
		{"image upper case with digest", func(s *ctrgate.ContainerSpec) { s.Image = "Foo@sha256:abc" }, "Image"},
		{"image with space", func(s *ctrgate.ContainerSpec) { s.Image = "alpine latest" }, "Image"},
		{"image with semicolon", func(s *ctrgate.ContainerSpec) { s.Image = "alpine;rm" }, "Image"},
		// PullPolicy
		{"pull policy", func(s *ctrgate.ContainerSpec) { s.PullPolicy = "sometimes" }, "PullPolicy"},
		// Env
		{"env empty name", func(s *ctrgate.ContainerSpec) { s.Env = []ctrgate.EnvVar{{Name: "", Value: "x"}} }, "Env[0].Name"},
		{"env name with =", func(s *ctrgate.ContainerSpec) { s.Env = []ctrgate.EnvVar{{Name: "A", Value: "1"}, {Name: "B=2"}} }, "Env[1].Name"},
		{"env name with NUL", func(s *ctrgate.ContainerSpec) { s.Env = []ctrgate.EnvVar{{Name: "A\x00B"}} }, "Env[0].Name"},
		{"env value with NUL", func(s *ctrgate.ContainerSpec) { s.Env = []ctrgate.EnvVar{{Name: "A", Value: "x\x00y"}} }, "Env[0].Value"},
		// Labels, annotations
		{"label empty key", func(s *ctrgate.ContainerSpec) { s.Labels = map[string]string{"": "x"} }, "Labels"},
		{"label key with =", func(s *ctrgate.ContainerSpec) { s.Labels = map[string]string{"a=b": "x"} }, "Labels"},
		{"label key with NUL", func(s *ctrgate.ContainerSpec) { s.Labels = map[string]string{"a\x00": "x"} }, "Labels"},
		{"annotation empty key", func(s *ctrgate.ContainerSpec) { s.Annotations = map[string]string{"": "x"} }, "Annotations"},
		{"annotation key with =", func(s *ctrgate.ContainerSpec) { s.Annotations = map[string]string{"a=b": "x"} }, "Annotations"},
		// Mounts
		{"mount relative target", func(s *ctrgate.ContainerSpec) {
			s.Mounts = []ctrgate.Mount{{Type: ctrgate.MountTmpfs, Target: "tmp"}}
		}, "Mounts[0].Target"},
		{"mount target with colon", func(s *ctrgate.ContainerSpec) {
			s.Mounts = []ctrgate.Mount{{Type: ctrgate.MountTmpfs, Target: "/a:b"}}
		}, "Mounts[0]"},
		{"mount target with comma", func(s *ctrgate.ContainerSpec) {
			s.Mounts = []ctrgate.Mount{{Type: ctrgate.MountTmpfs, Target: "/a,b"}}
		}, "Mounts[0]"},
		{"mount source with comma", func(s *ctrgate.ContainerSpec) {
			s.Mounts = []ctrgate.Mount{{Type: ctrgate.MountBind, Source: "/a,b", Target: "/b"}}
		}, "Mounts[0]"},
		{"bind relative source", func(s *ctrgate.ContainerSpec) {
			s.Mounts = []ctrgate.Mount{{Type: ctrgate.MountTmpfs, Target: "/t"}, {Type: ctrgate.MountBind, Source: "data", Target: "/d"}}
		}, "Mounts[1].Source"},
		{"bind empty source", func(s *ctrgate.ContainerSpec) {
			s.Mounts = []ctrgate.Mount{{Type: ctrgate.MountBind, Target: "/d"}}
		}, "Mounts[0].Source"},
		{"volume bad name", func(s *ctrgate.ContainerSpec) {
			s.Mounts = []ctrgate.Mount{{Type: ctrgate.MountVolume, Source: "-v", Target: "/d"}}
		}, "Mounts[0].Source"},
		{"tmpfs with source", func(s *ctrgate.ContainerSpec) {
			s.Mounts = []ctrgate.Mount{{Type: ctrgate.MountTmpfs, Source: "x", Target: "/d"}}
		}, "Mounts[0].Source"},
		{"tmpfs negative size", func(s *ctrgate.ContainerSpec) {
			s.Mounts = []ctrgate.Mount{{Type: ctrgate.MountTmpfs, Target: "/d", Size: -1}}
		}, "Mounts[0].Size"},
		{"mount unknown type", func(s *ctrgate.ContainerSpec) {
			s.Mounts = []ctrgate.Mount{{Type: "overlay", Target: "/d"}}
		}, "Mounts[0].Type"},
		{"mount empty type", func(s *ctrgate.ContainerSpec) {
			s.Mounts = []ctrgate.Mount{{Target: "/d"}}
		}, "Mounts[0].Type"},
		{"relabel on volume", func(s *ctrgate.ContainerSpec) {
			s.Mounts = []ctrgate.Mount{{Type: ctrgate.MountVolume, Source: "v", Target: "/d", Relabel: ctrgate.RelabelShared}}
		}, "Mounts[0].Relabel"},
		{"unknown relabel", func(s *ctrgate.ContainerSpec) {
			s.Mounts = []ctrgate.Mount{{Type: ctrgate.MountBind, Source: "/s", Target: "/d", Relabel: "z"}}
		}, "Mounts[0].Relabel"},
		// Ports
		{"container port 0", func(s *ctrgate.ContainerSpec) { s.Ports = []ctrgate.PortMapping{{ContainerPort: 0}} }, "Ports[0].ContainerPort"},
		{"container port too big", func(s *ctrgate.ContainerSpec) {
			s.Ports = []ctrgate.PortMapping{{ContainerPort: 80}, {ContainerPort: 65536}}
		}, "Ports[1].ContainerPort"},
		{"host port negative", func(s *ctrgate.ContainerSpec) { s.Ports = []ctrgate.PortMapping{{ContainerPort: 80, HostPort: -1}} }, "Ports[0].HostPort"},
		{"host port too big", func(s *ctrgate.ContainerSpec) { s.Ports = []ctrgate.PortMapping{{ContainerPort: 80, HostPort: 70000}} }, "Ports[0].HostPort"},
		{"protocol", func(s *ctrgate.ContainerSpec) { s.Ports = []ctrgate.PortMapping{{ContainerPort: 80, Protocol: "sctp"}} }, "Ports[0].Protocol"},
		{"protocol upper case", func(s *ctrgate.ContainerSpec) { s.Ports = []ctrgate.PortMapping{{ContainerPort: 80, Protocol: "TCP"}} }, "Ports[0].Protocol"},
		{"host ip", func(s *ctrgate.ContainerSpec) {
			s.Ports = []ctrgate.PortMapping{{ContainerPort: 80, HostIP: "localhost"}}
		}, "Ports[0].HostIP"},
		// Network
		{"network mode", func(s *ctrgate.ContainerSpec) { s.Network = ctrgate.NetworkSpec{Mode: "macvlan"} }, "Network.Mode"},
		{"network name without bridge", func(s *ctrgate.ContainerSpec) {
			s.Network = ctrgate.NetworkSpec{Mode: ctrgate.NetworkHost, Name: "n"}
		}, "Network.Name"},
		{"network bad name", func(s *ctrgate.ContainerSpec) {
			s.Network = ctrgate.NetworkSpec{Mode: ctrgate.NetworkBridge, Name: "-n"}
		}, "Network.Name"},
		{"ports with network none", func(s *ctrgate.ContainerSpec) {
			s.Ports = []ctrgate.PortMapping{{ContainerPort: 80}}
			s.Network = ctrgate.NetworkSpec{Mode: ctrgate.NetworkNone}
		}, "Ports"},
		{"ports with network host", func(s *ctrgate.ContainerSpec) {
			s.Ports = []ctrgate.PortMapping{{ContainerPort: 80}}
			s.Network = ctrgate.NetworkSpec{Mode: ctrgate.NetworkHost}
		}, "Ports"},
		// ExtraHosts
		{"extra host empty", func(s *ctrgate.ContainerSpec) { s.ExtraHosts = []ctrgate.HostEntry{{Host: "", IP: "1.2.3.4"}} }, "ExtraHosts[0].Host"},
		{"extra host with colon", func(s *ctrgate.ContainerSpec) { s.ExtraHosts = []ctrgate.HostEntry{{Host: "a:b", IP: "1.2.3.4"}} }, "ExtraHosts[0].Host"},
		{"extra host with space", func(s *ctrgate.ContainerSpec) { s.ExtraHosts = []ctrgate.HostEntry{{Host: "a b", IP: "1.2.3.4"}} }, "ExtraHosts[0].Host"},
		{"extra host bad ip", func(s *ctrgate.ContainerSpec) {
			s.ExtraHosts = []ctrgate.HostEntry{{Host: "a", IP: "1.2.3.4"}, {Host: "b", IP: "host-gateway"}}
		}, "ExtraHosts[1].IP"},
		// User, UserNS
		{"user leading dash", func(s *ctrgate.ContainerSpec) { s.User = "-u" }, "User"},
		{"user with space", func(s *ctrgate.ContainerSpec) { s.User = "a b" }, "User"},
		{"user only colons", func(s *ctrgate.ContainerSpec) { s.User = "::" }, "User"},
		{"user empty user part", func(s *ctrgate.ContainerSpec) { s.User = ":100" }, "User"},
		{"user empty group", func(s *ctrgate.ContainerSpec) { s.User = "100:" }, "User"},
		{"user two colons", func(s *ctrgate.ContainerSpec) { s.User = "a:b:c" }, "User"},
		{"userns mode", func(s *ctrgate.ContainerSpec) { s.UserNS = ctrgate.UserNSSpec{Mode: "private"} }, "UserNS.Mode"},
		{"userns uid without keep-id", func(s *ctrgate.ContainerSpec) { s.UserNS = ctrgate.UserNSSpec{Mode: ctrgate.UserNSAuto, UID: ip(1)} }, "UserNS"},
		{"userns gid without mode", func(s *ctrgate.ContainerSpec) { s.UserNS = ctrgate.UserNSSpec{GID: ip(1)} }, "UserNS"},
		{"userns negative uid", func(s *ctrgate.ContainerSpec) { s.UserNS = ctrgate.UserNSSpec{Mode: ctrgate.UserNSKeepID, UID: ip(-1)} }, "UserNS"},
		{"userns negative gid", func(s *ctrgate.ContainerSpec) { s.UserNS = ctrgate.UserNSSpec{Mode: ctrgate.UserNSKeepID, GID: ip(-1)} }, "UserNS"},
		// WorkDir, Hostname
		{"workdir relative", func(s *ctrgate.ContainerSpec) { s.WorkDir = "work" }, "WorkDir"},
		{"hostname leading dash", func(s *ctrgate.ContainerSpec) { s.Hostname = "-h" }, "Hostname"},
		{"hostname with slash", func(s *ctrgate.ContainerSpec) { s.Hostname = "a/b" }, "Hostname"},
		{"hostname too long", func(s *ctrgate.ContainerSpec) { s.Hostname = strings.Repeat("h", 65) }, "Hostname"},
		// GPUs
		{"gpu empty device", func(s *ctrgate.ContainerSpec) { s.GPUs = ctrgate.GPURequest{Devices: []string{""}} }, "GPUs.Devices[0]"},
		{"gpu device leading dash", func(s *ctrgate.ContainerSpec) {
			s.GPUs = ctrgate.GPURequest{Devices: []string{"nvidia.com/gpu=0", "-x"}}
		}, "GPUs.Devices[1]"},
		{"gpu device with space", func(s *ctrgate.ContainerSpec) { s.GPUs = ctrgate.GPURequest{Devices: []string{"a b"}} }, "GPUs.Devices[0]"},
		// Capabilities, security options
		{"cap add empty", func(s *ctrgate.ContainerSpec) { s.CapAdd = []string{""} }, "CapAdd[0]"},
		{"cap add comma", func(s *ctrgate.ContainerSpec) { s.CapAdd = []string{"NET_ADMIN", "A,B"} }, "CapAdd[1]"},
		{"cap drop leading dash", func(s *ctrgate.ContainerSpec) { s.CapDrop = []string{"-ALL"} }, "CapDrop[0]"},
		{"cap drop space", func(s *ctrgate.ContainerSpec) { s.CapDrop = []string{"A B"} }, "CapDrop[0]"},
		{"security opt empty", func(s *ctrgate.ContainerSpec) { s.SecurityOpt = []string{""} }, "SecurityOpt"},
		{"security opt leading dash", func(s *ctrgate.ContainerSpec) { s.SecurityOpt = []string{"--privileged"} }, "SecurityOpt"},
		// Resources
		{"memory negative", func(s *ctrgate.ContainerSpec) { s.Resources.MemoryBytes = -1 }, "Resources.MemoryBytes"},
		{"cpus negative", func(s *ctrgate.ContainerSpec) { s.Resources.CPUs = -0.5 }, "Resources.CPUs"},
		{"pids negative", func(s *ctrgate.ContainerSpec) { s.Resources.PidsLimit = -1 }, "Resources.PidsLimit"},
		// Ulimits
		{"ulimit unknown", func(s *ctrgate.ContainerSpec) { s.Ulimits = []ctrgate.Ulimit{{Name: "files", Soft: 1, Hard: 1}} }, "Ulimits[0].Name"},
		{"ulimit negative", func(s *ctrgate.ContainerSpec) {
			s.Ulimits = []ctrgate.Ulimit{{Name: "nofile", Soft: 1, Hard: 1}, {Name: "nproc", Soft: -1, Hard: 1}}
		}, "Ulimits[1]"},
		{"ulimit soft above hard", func(s *ctrgate.ContainerSpec) { s.Ulimits = []ctrgate.Ulimit{{Name: "nofile", Soft: 2, Hard: 1}} }, "Ulimits[0]"},
		// Stop
		{"stop signal", func(s *ctrgate.ContainerSpec) { s.StopSignal = "SIGFOO" }, "StopSignal"},
		{"stop signal number out of range", func(s *ctrgate.ContainerSpec) { s.StopSignal = "99" }, "StopSignal"},
		{"stop timeout negative", func(s *ctrgate.ContainerSpec) { s.StopTimeout = -time.Second }, "StopTimeout"},
		// OCI runtime
		{"oci runtime leading dash", func(s *ctrgate.ContainerSpec) { s.OCIRuntime = "--crun" }, "OCIRuntime"},
		{"oci runtime with space", func(s *ctrgate.ContainerSpec) { s.OCIRuntime = "c run" }, "OCIRuntime"},
		// Entrypoint, Command
		{"entrypoint empty first", func(s *ctrgate.ContainerSpec) { s.Entrypoint = []string{"", "x"} }, "Entrypoint"},
		{"entrypoint NUL", func(s *ctrgate.ContainerSpec) { s.Entrypoint = []string{"/bin/sh", "a\x00"} }, "Entrypoint[1]"},
		{"command NUL", func(s *ctrgate.ContainerSpec) { s.Command = []string{"ok", "also", "b\x00"} }, "Command[2]"},
	}
	seen := map[string]bool{}
	for _, tc := range tests {
		require.False(t, seen[tc.name], "duplicate case name %q", tc.name)
		seen[tc.name] = true
		t.Run(tc.name, func(t *testing.T) {
			s := fullSpec()
			tc.mut(&s)
			err := ctrgate.ValidateSpec(s)
			require.Error(t, err)
			assert.ErrorIs(t, err, ctrgate.ErrInvalidSpec)
			var se *ctrgate.SpecError
			require.ErrorAs(t, err, &se)
			assert.Equal(t, tc.field, se.Field)
			assert.NotEmpty(t, se.Reason)
			assert.Equal(t, "invalid spec: "+se.Field+": "+se.Reason, err.Error())
			assert.NotErrorIs(t, err, ctrgate.ErrNotFound)
		})
	}
}

func TestValidateSpecEnvErrorHidesValue(t *testing.T) {
	s := ctrgate.ContainerSpec{Image: "a", Env: []ctrgate.EnvVar{{Name: "MY_VAR=opaque-secret-value", Secret: true}}}
	err := ctrgate.ValidateSpec(s)
	require.ErrorIs(t, err, ctrgate.ErrInvalidSpec)
	assert.NotContains(t, err.Error(), "opaque-secret-value")
	assert.Contains(t, err.Error(), "MY_VAR")

	s.Env = []ctrgate.EnvVar{{Name: "PASSWORD", Value: "p\x00w-secret"}}
	err = ctrgate.ValidateSpec(s)
	require.ErrorIs(t, err, ctrgate.ErrInvalidSpec)
	assert.NotContains(t, err.Error(), "w-secret")
}

func TestValidateName(t *testing.T) {
	for _, ok := range []string{"a", "web-1", "a_b.c", "0abc", strings.Repeat("a", 253), "3f2a9c0d1e"} {
		assert.NoError(t, ctrgate.ValidateName(ok), "%q", ok)
	}
	for _, bad := range []string{"", "-a", "--rm", "a b", "a/b", "_a", ".a", "a\x00", "a;b", strings.Repeat("a", 254)} {
		err := ctrgate.ValidateName(bad)
		assert.ErrorIs(t, err, ctrgate.ErrInvalidSpec, "%q", bad)
		var se *ctrgate.SpecError
		if assert.ErrorAs(t, err, &se) {
			assert.Equal(t, "Name", se.Field)
		}
	}
}

func TestValidatePrefix(t *testing.T) {
	assert.NoError(t, ctrgate.ValidatePrefix(""))
	assert.NoError(t, ctrgate.ValidatePrefix("job-"))
	assert.NoError(t, ctrgate.ValidatePrefix("a.b-"))
	for _, bad := range []string{"-x", "a b", "a*", "^a"} {
		var se *ctrgate.SpecError
		require.ErrorAs(t, ctrgate.ValidatePrefix(bad), &se, "%q", bad)
		assert.Equal(t, "NamePrefix", se.Field)
	}
}

func TestValidateImageRef(t *testing.T) {
	assert.NoError(t, ctrgate.ValidateImageRef("alpine:3.20"))
	for _, bad := range []string{"", "-x", "Alpine", "a b", "a\tb"} {
		assert.ErrorIs(t, ctrgate.ValidateImageRef(bad), ctrgate.ErrInvalidSpec, "%q", bad)
	}
}

func TestValidatePullPolicy(t *testing.T) {
	for _, p := range []ctrgate.PullPolicy{"", ctrgate.PullMissing, ctrgate.PullNever, ctrgate.PullAlways} {
		assert.NoError(t, ctrgate.ValidatePullPolicy(p), "%q", p)
	}
	assert.ErrorIs(t, ctrgate.ValidatePullPolicy("Always"), ctrgate.ErrInvalidSpec)
}

func TestValidateEnv(t *testing.T) {
	assert.NoError(t, ctrgate.ValidateEnv("Env", nil))
	assert.NoError(t, ctrgate.ValidateEnv("Env", []ctrgate.EnvVar{{Name: "A", Value: ""}, {Name: "B", Value: "x=y"}}))
	var se *ctrgate.SpecError
	require.ErrorAs(t, ctrgate.ValidateEnv("Exec.Env", []ctrgate.EnvVar{{Name: "A"}, {Name: ""}}), &se)
	assert.Equal(t, "Exec.Env[1].Name", se.Field)
}

func TestParseSignal(t *testing.T) {
	tests := []struct {
		in   string
		want syscall.Signal
	}{
		{"", syscall.SIGKILL},
		{"SIGTERM", syscall.SIGTERM},
		{"TERM", syscall.SIGTERM},
		{"term", syscall.SIGTERM},
		{"SigInt", syscall.SIGINT},
		{"KILL", syscall.SIGKILL},
		{"HUP", syscall.SIGHUP},
		{"USR1", syscall.SIGUSR1},
		{"SIGUSR2", syscall.SIGUSR2},
		{"WINCH", syscall.SIGWINCH},
		{"15", syscall.SIGTERM},
		{"9", syscall.SIGKILL},
		{"1", syscall.SIGHUP},
		{"64", syscall.Signal(64)},
	}
	for _, tc := range tests {
		got, err := ctrgate.ParseSignal(tc.in)
		require.NoError(t, err, "%q", tc.in)
		assert.Equal(t, tc.want, got, "%q", tc.in)
	}
	for _, bad := range []string{"0", "65", "-9", "SIGFOO", "FOO", "SIG", "TERM ", "1.5"} {
		_, err := ctrgate.ParseSignal(bad)
		assert.ErrorIs(t, err, ctrgate.ErrInvalidSpec, "%q", bad)
		var se *ctrgate.SpecError
		if assert.ErrorAs(t, err, &se, "%q", bad) {
			assert.Equal(t, "Signal", se.Field)
		}
	}
}

func TestSignalName(t *testing.T) {
	assert.Equal(t, "SIGTERM", ctrgate.SignalName(syscall.SIGTERM))
	assert.Equal(t, "SIGKILL", ctrgate.SignalName(syscall.SIGKILL))
	assert.Equal(t, "SIGUSR1", ctrgate.SignalName(syscall.SIGUSR1))
	assert.Equal(t, "40", ctrgate.SignalName(syscall.Signal(40)))
	// Round trip for every name.
	for _, n := range []string{"HUP", "INT", "QUIT", "KILL", "USR1", "USR2", "TERM", "CHLD", "CONT", "STOP", "WINCH", "SYS"} {
		sig, err := ctrgate.ParseSignal(n)
		require.NoError(t, err)
		assert.Equal(t, "SIG"+n, ctrgate.SignalName(sig))
	}
}

func TestSecretValues(t *testing.T) {
	env := []ctrgate.EnvVar{
		{Name: "PATH", Value: "/bin"},
		{Name: "MY_OPAQUE", Value: "v1", Secret: true},
		{Name: "API_KEY", Value: "v2"},
		{Name: "GITHUB_TOKEN", Value: ""}, // empty: nothing to hide
		{Name: "CODE_REPO", Value: "https://u:p@h/r"},
		{Name: "LANG", Value: "C"},
		{Name: "EMPTY_SECRET", Secret: true},
	}
	assert.Equal(t, []string{"v1", "v2", "https://u:p@h/r"}, ctrgate.SecretValues(env))
	assert.Nil(t, ctrgate.SecretValues(nil))
	assert.Nil(t, ctrgate.SecretValues([]ctrgate.EnvVar{{Name: "A", Value: "b"}}))
	assert.Equal(t, []string{"MY_OPAQUE", "EMPTY_SECRET"}, ctrgate.SecretKeys(env))
	assert.Equal(t, []string{"A=1", "B=", "C=x=y"}, ctrgate.EnvStrings([]ctrgate.EnvVar{{Name: "A", Value: "1"}, {Name: "B"}, {Name: "C", Value: "x=y"}}))
}

func TestSpecErrorIsOnlyInvalidSpec(t *testing.T) {
	err := error(&ctrgate.SpecError{Field: "F", Reason: "r"})
	assert.True(t, errors.Is(err, ctrgate.ErrInvalidSpec))
	assert.False(t, errors.Is(err, ctrgate.ErrNotFound))
	assert.Equal(t, "invalid spec: F: r", err.Error())
}

func TestValidateImportOptions(t *testing.T) {
	ok := ctrgate.ImportOptions{Entrypoint: []string{"/bin/x"}, Env: []string{"A=1", "B=", "C=x y $z"},
		WorkDir: "/w", Labels: map[string]string{"a.b": "c d", "e": ""}}
	require.NoError(t, ctrgate.ValidateImportOptions(ok))
	for what, o := range map[string]ctrgate.ImportOptions{
		"env without =":          {Env: []string{"NOVALUE"}},
		"env with an empty key":  {Env: []string{"=v"}},
		"env key with a blank":   {Env: []string{"A B=v"}},
		"env value with newline": {Env: []string{"A=1\nB=2"}},
		"relative workdir":       {WorkDir: "rel"},
		"workdir with newline":   {WorkDir: "/a\n/b"},
		"empty label key":        {Labels: map[string]string{"": "v"}},
		"label key with =":       {Labels: map[string]string{"a=b": "v"}},
		"label key with a quote": {Labels: map[string]string{`a"b`: "v"}},
		"label value with CR":    {Labels: map[string]string{"a": "v\r"}},
	} {
		err := ctrgate.ValidateImportOptions(o)
		assert.ErrorIs(t, err, ctrgate.ErrInvalidSpec, what)
	}
}
