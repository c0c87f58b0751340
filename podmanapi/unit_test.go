package podmanapi

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/blang/semver/v4"
	"github.com/containers/podman/v5/pkg/domain/entities/types"
	"github.com/containers/podman/v5/pkg/errorhandling"
	"github.com/containers/podman/v5/pkg/specgen"
	dockerevents "github.com/docker/docker/api/types/events"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	nettypes "go.podman.io/common/libnetwork/types"
	"go.uber.org/goleak"

	"github.com/ctrgate/ctrgate"
	"github.com/ctrgate/ctrgate/backend"
	"github.com/ctrgate/ctrgate/logstream"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// apiErr builds the error the bindings return for a libpod error answer.
func apiErr(code int, cause, msg string) error {
	return &errorhandling.ErrorModel{ResponseCode: code, Because: cause, Message: msg}
}

func TestErrorMapping(t *testing.T) {
	cases := []struct {
		op   string
		err  error
		want error
	}{
		// messages as the Podman 4.3.1 service words them
		{ctrgate.OpInspect, apiErr(404, "no such container", `no container with name or ID "x" found: no such container`), ctrgate.ErrNotFound},
		{ctrgate.OpStart, apiErr(404, "no such container", `no container with name or ID "x" found: no such container`), ctrgate.ErrNotFound},
		{ctrgate.OpCreate, apiErr(500, "that name is already in use", `creating container storage: the container name "x" is already in use by 1234. You have to remove that container to be able to reuse that name: that name is already in use`), ctrgate.ErrAlreadyExists},
		{ctrgate.OpCreate, apiErr(404, "image not known", "localhost/nope:1: image not known"), ctrgate.ErrImageNotFound},
		{ctrgate.OpKill, apiErr(500, "container state improper", "can only kill running containers. 1234 is in state created: container state improper"), ctrgate.ErrNotRunning},
		{ctrgate.OpExec, apiErr(500, "container state improper", "can only create exec sessions on running containers: container state improper"), ctrgate.ErrNotRunning},
		{ctrgate.OpRemove, apiErr(500, "container state improper", "cannot remove container 1234 as it is running - running or paused containers cannot be removed without force: container state improper"), ctrgate.ErrRunning},
		{ctrgate.OpRemove, apiErr(404, "no such container", `no container with name or ID "x" found: no such container`), ctrgate.ErrNotFound},
		{ctrgate.OpCopyFrom, apiErr(404, "", "could not find \"/nope\" on container x: no such file or directory"), ctrgate.ErrNotFound},
		{ctrgate.OpCopyTo, apiErr(404, "", "no such file or directory"), ctrgate.ErrNotFound},
		{ctrgate.OpWait, apiErr(404, "", "gone"), ctrgate.ErrNotFound},
		{ctrgate.OpRemoveImage, apiErr(404, "", "x: image not known"), ctrgate.ErrImageNotFound},
		{ctrgate.OpRemoveImage, apiErr(409, "", "image used by 1234: image is in use by a container"), ctrgate.ErrRunning},
		{ctrgate.OpPullImage, errors.New("initializing source docker://example.invalid/x:1: pinging container registry example.invalid: dial tcp: lookup example.invalid: no such host"), ctrgate.ErrRegistryUnavailable},
		{ctrgate.OpPullImage, apiErr(500, "", "something odd"), ctrgate.ErrImageNotFound},
		{ctrgate.OpInspect, &url.Error{Op: "Get", URL: "http://d/v5.8.6/libpod/containers/x/json",
			Err: &net.OpError{Op: "dial", Net: "unix", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}}, ctrgate.ErrEngineUnavailable},
		{ctrgate.OpList, fmt.Errorf("unable to connect: %w", os.NewSyscallError("connect", syscall.ENOENT)), ctrgate.ErrEngineUnavailable},
		{ctrgate.OpLogs, fmt.Errorf("reading frame: %w", io.ErrUnexpectedEOF), ctrgate.ErrEngineUnavailable},
		{ctrgate.OpCreate, errors.New("dial tcp: lookup registry: no such host"), nil},
		{ctrgate.OpInspect, apiErr(500, "", "internal trouble"), nil},
	}
	for _, tc := range cases {
		t.Run(tc.op+": "+tc.err.Error(), func(t *testing.T) {
			err := wrapErr(context.Background(), tc.op, "x", tc.err, false)
			require.Error(t, err)
			var ee *ctrgate.EngineError
			require.ErrorAs(t, err, &ee)
			assert.Equal(t, BackendName, ee.Backend)
			assert.Equal(t, tc.op, ee.Op)
			if tc.want == nil {
				assert.Nil(t, ee.Kind, "no sentinel fits")
				return
			}
			assert.ErrorIs(t, err, tc.want)
			for _, other := range []error{ctrgate.ErrNotFound, ctrgate.ErrAlreadyExists, ctrgate.ErrNotRunning,
				ctrgate.ErrRunning, ctrgate.ErrImageNotFound, ctrgate.ErrEngineUnavailable} {
				if other != tc.want {
					assert.NotErrorIs(t, err, other)
				}
			}
		})
	}
}

func TestErrorMappingContext(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Nanosecond)
	defer cancel()
	<-ctx.Done()
	err := wrapErr(ctx, ctrgate.OpInspect, "x", errors.New("Get \"http://d/...\": context deadline exceeded"), false)
	assert.ErrorIs(t, err, context.DeadlineExceeded)

	cctx, ccancel := context.WithCancel(context.Background())
	ccancel()
	err = wrapErr(cctx, ctrgate.OpInspect, "x", errors.New("canceled"), false)
	assert.ErrorIs(t, err, context.Canceled)
	assert.NotErrorIs(t, err, ctrgate.ErrEngineUnavailable)
}

func TestErrorMappingRedactsSensitiveKeys(t *testing.T) {
	const secret = "hunter2-very-secret"
	err := wrapErr(context.Background(), ctrgate.OpCreate, "x",
		apiErr(500, "", "invalid environment entry API_TOKEN="+secret+" rejected"), false)
	require.Error(t, err)
	assert.NotContains(t, err.Error(), secret)
}

func TestErrorMappingGPU(t *testing.T) {
	// what Podman 4.3.1 answers on a machine without CDI specifications
	err := wrapErr(context.Background(), ctrgate.OpCreate, "x",
		apiErr(500, "", "setting up CDI devices: unresolvable CDI devices nvidia.com/gpu=all"), true)
	var ge *ctrgate.GPUConfigError
	require.ErrorAs(t, err, &ge)
	assert.Equal(t, ctrgate.GPUHint, ge.Hint)
	assert.Contains(t, ge.Message, "unresolvable CDI devices")
	err = wrapErr(context.Background(), ctrgate.OpStart, "x",
		apiErr(500, "", "setting up CDI devices: unresolvable CDI devices nvidia.com/gpu=0"), false)
	require.ErrorAs(t, err, &ge)
}

func intPtr(i int) *int { return &i }

func TestToSpecGen(t *testing.T) {
	spec := ctrgate.ContainerSpec{
		Name:        "web",
		Image:       "localhost/img:1",
		Command:     []string{"serve", "--port", "8080"},
		Entrypoint:  []string{"/bin/app"},
		Env:         []ctrgate.EnvVar{{Name: "A", Value: "1"}, {Name: "TOKEN", Value: "s3cret", Secret: true}},
		Labels:      map[string]string{"l": "v"},
		Annotations: map[string]string{"a": "b"},
		Mounts: []ctrgate.Mount{
			{Type: ctrgate.MountBind, Source: "/host", Target: "/data", ReadOnly: true, Relabel: ctrgate.RelabelPrivate},
			{Type: ctrgate.MountBind, Source: "/host2", Target: "/data2", Relabel: ctrgate.RelabelShared},
			{Type: ctrgate.MountVolume, Source: "vol", Target: "/vol", ReadOnly: true},
			{Type: ctrgate.MountVolume, Target: "/anon"},
			{Type: ctrgate.MountTmpfs, Target: "/tmp", Size: 1 << 20},
		},
		Ports:           []ctrgate.PortMapping{{HostIP: "127.0.0.1", HostPort: 18080, ContainerPort: 8080}, {ContainerPort: 53, Protocol: "udp"}},
		Network:         ctrgate.NetworkSpec{Mode: ctrgate.NetworkBridge, Name: "mynet", Options: []string{"ip=10.1.2.3", "alias=web"}},
		ExtraHosts:      []ctrgate.HostEntry{{Host: "db", IP: "10.0.0.2"}},
		User:            "1000:1000",
		UserNS:          ctrgate.UserNSSpec{Mode: ctrgate.UserNSKeepID, UID: intPtr(1000), GID: intPtr(100)},
		WorkDir:         "/srv",
		Hostname:        "web1",
		GPUs:            ctrgate.GPURequest{All: true},
		CapAdd:          []string{"NET_ADMIN"},
		CapDrop:         []string{"ALL"},
		SecurityOpt:     []string{"label=disable", "seccomp=unconfined"},
		NoNewPrivileges: true,
		ReadOnlyRootfs:  true,
		Resources:       ctrgate.Resources{MemoryBytes: 64 << 20, CPUs: 1.5, PidsLimit: 100},
		Ulimits:         []ctrgate.Ulimit{{Name: "nofile", Soft: 1024, Hard: 2048}},
		Init:            true,
		StopSignal:      "SIGINT",
		StopTimeout:     1500 * time.Millisecond,
		AutoRemove:      true,
		OCIRuntime:      "runc",
	}
	require.NoError(t, ctrgate.ValidateSpec(spec))
	g, err := toSpecGen(spec, nil)
	require.NoError(t, err)
	assert.Equal(t, "web", g.Name)
	assert.Equal(t, "localhost/img:1", g.Image)
	assert.Equal(t, spec.Command, g.Command)
	assert.Equal(t, spec.Entrypoint, g.Entrypoint)
	assert.Equal(t, "1", g.Env["A"])
	assert.Equal(t, "s3cret", g.Env["TOKEN"])
	assert.Equal(t, "all", g.Env["NVIDIA_VISIBLE_DEVICES"])
	assert.Equal(t, spec.Labels, g.Labels)
	assert.Equal(t, spec.Annotations, g.Annotations)

	require.Len(t, g.Mounts, 3)
	assert.Equal(t, "bind", g.Mounts[0].Type)
	assert.Equal(t, "/host", g.Mounts[0].Source)
	assert.Equal(t, "/data", g.Mounts[0].Destination)
	assert.Equal(t, []string{"rbind", "ro", "Z"}, g.Mounts[0].Options)
	assert.Equal(t, []string{"rbind", "rw", "z"}, g.Mounts[1].Options)
	assert.Equal(t, "tmpfs", g.Mounts[2].Type)
	assert.Equal(t, "/tmp", g.Mounts[2].Destination)
	assert.Equal(t, []string{"rw", "size=1048576"}, g.Mounts[2].Options)
	require.Len(t, g.Volumes, 2)
	assert.Equal(t, &specgen.NamedVolume{Name: "vol", Dest: "/vol", Options: []string{"ro"}}, g.Volumes[0])
	assert.Equal(t, &specgen.NamedVolume{Dest: "/anon"}, g.Volumes[1])

	require.Len(t, g.PortMappings, 2)
	assert.Equal(t, "127.0.0.1", g.PortMappings[0].HostIP)
	assert.EqualValues(t, 18080, g.PortMappings[0].HostPort)
	assert.EqualValues(t, 8080, g.PortMappings[0].ContainerPort)
	assert.Equal(t, "tcp", g.PortMappings[0].Protocol)
	assert.EqualValues(t, 0, g.PortMappings[1].HostPort)
	assert.Equal(t, "udp", g.PortMappings[1].Protocol)

	assert.Equal(t, specgen.Bridge, g.NetNS.NSMode)
	require.Contains(t, g.Networks, "mynet")
	assert.Equal(t, "10.1.2.3", g.Networks["mynet"].StaticIPs[0].String())
	assert.Equal(t, []string{"web"}, g.Networks["mynet"].Aliases)
	assert.Equal(t, []string{"db:10.0.0.2"}, g.HostAdd)
	assert.Equal(t, "1000:1000", g.User)
	assert.Equal(t, specgen.Namespace{NSMode: specgen.KeepID, Value: "uid=1000,gid=100"}, g.UserNS)
	assert.Equal(t, "/srv", g.WorkDir)
	assert.Equal(t, "web1", g.Hostname)
	require.Len(t, g.Devices, 1)
	assert.Equal(t, "nvidia.com/gpu=all", g.Devices[0].Path)
	assert.Equal(t, []string{"NET_ADMIN"}, g.CapAdd)
	assert.Equal(t, []string{"ALL"}, g.CapDrop)
	assert.Equal(t, []string{"disable"}, g.SelinuxOpts)
	assert.Equal(t, "unconfined", g.SeccompProfilePath)
	assert.True(t, *g.NoNewPrivileges)
	assert.True(t, *g.ReadOnlyFilesystem)
	require.NotNil(t, g.ResourceLimits)
	assert.EqualValues(t, 64<<20, *g.ResourceLimits.Memory.Limit)
	assert.EqualValues(t, 150000, *g.ResourceLimits.CPU.Quota)
	assert.EqualValues(t, 100000, *g.ResourceLimits.CPU.Period)
	assert.EqualValues(t, 100, g.ResourceLimits.Pids.Limit)
	require.Len(t, g.Rlimits, 1)
	assert.Equal(t, "RLIMIT_NOFILE", g.Rlimits[0].Type)
	assert.EqualValues(t, 1024, g.Rlimits[0].Soft)
	assert.EqualValues(t, 2048, g.Rlimits[0].Hard)
	assert.True(t, *g.Init)
	assert.Equal(t, syscall.SIGINT, *g.StopSignal)
	assert.EqualValues(t, 2, *g.StopTimeout, "rounded up to whole seconds")
	assert.True(t, *g.Remove)
	assert.Equal(t, "runc", g.OCIRuntime)
	assert.False(t, *g.Terminal)
}

func TestToSpecGenDefaults(t *testing.T) {
	g, err := toSpecGen(ctrgate.ContainerSpec{Image: "img"}, nil)
	require.NoError(t, err)
	assert.Nil(t, g.Entrypoint, "nil keeps the image's entrypoint")
	assert.Nil(t, g.Command)
	assert.Empty(t, g.Env)
	assert.Nil(t, g.ResourceLimits)
	assert.Nil(t, g.StopTimeout)
	assert.Nil(t, g.StopSignal)
	assert.Nil(t, g.Remove)
	assert.True(t, g.NetNS.IsDefault())
	assert.True(t, g.UserNS.IsDefault())
}

func TestToSpecGenNetworks(t *testing.T) {
	v431 := semver.MustParse("4.3.1")
	v50 := semver.MustParse("5.0.0")
	for _, tc := range []struct {
		net  ctrgate.NetworkSpec
		mode specgen.NamespaceMode
		opts map[string][]string
	}{
		{ctrgate.NetworkSpec{Mode: ctrgate.NetworkNone}, specgen.NoNetwork, nil},
		{ctrgate.NetworkSpec{Mode: ctrgate.NetworkHost}, specgen.Host, nil},
		{ctrgate.NetworkSpec{Mode: ctrgate.NetworkBridge}, specgen.Bridge, nil},
		{ctrgate.NetworkSpec{Mode: ctrgate.NetworkSlirp4netns, Options: []string{"allow_host_loopback=true"}}, specgen.Slirp,
			map[string][]string{"slirp4netns": {"allow_host_loopback=true"}}},
		{ctrgate.NetworkSpec{Mode: ctrgate.NetworkPasta, Options: []string{"--map-gw"}}, specgen.Pasta,
			map[string][]string{"pasta": {"--map-gw"}}},
	} {
		g, err := toSpecGen(ctrgate.ContainerSpec{Image: "img", Network: tc.net}, &v50)
		require.NoError(t, err, tc.net.Mode)
		assert.Equal(t, tc.mode, g.NetNS.NSMode)
		assert.Equal(t, tc.opts, g.NetworkOptions)
	}
	// pasta came with Podman 4.4: a 4.3 service cannot do it
	_, err := toSpecGen(ctrgate.ContainerSpec{Image: "img", Network: ctrgate.NetworkSpec{Mode: ctrgate.NetworkPasta}}, &v431)
	assert.ErrorIs(t, err, ctrgate.ErrUnsupported)
	// bridge options need a named network; unknown ones are rejected
	_, err = toSpecGen(ctrgate.ContainerSpec{Image: "img", Network: ctrgate.NetworkSpec{Mode: ctrgate.NetworkBridge, Options: []string{"ip=10.0.0.1"}}}, nil)
	assert.ErrorIs(t, err, ctrgate.ErrInvalidSpec)
	_, err = toSpecGen(ctrgate.ContainerSpec{Image: "img", Network: ctrgate.NetworkSpec{Mode: ctrgate.NetworkBridge, Name: "n", Options: []string{"bogus=1"}}}, nil)
	assert.ErrorIs(t, err, ctrgate.ErrInvalidSpec)
	_, err = toSpecGen(ctrgate.ContainerSpec{Image: "img", SecurityOpt: []string{"weird=1"}}, nil)
	assert.ErrorIs(t, err, ctrgate.ErrInvalidSpec)
}

func TestToSpecGenUserNS(t *testing.T) {
	for mode, want := range map[ctrgate.UserNSMode]specgen.Namespace{
		ctrgate.UserNSHost:   {NSMode: specgen.Host},
		ctrgate.UserNSAuto:   {NSMode: specgen.Auto},
		ctrgate.UserNSKeepID: {NSMode: specgen.KeepID},
	} {
		g, err := toSpecGen(ctrgate.ContainerSpec{Image: "img", UserNS: ctrgate.UserNSSpec{Mode: mode}}, nil)
		require.NoError(t, err)
		assert.Equal(t, want, g.UserNS, mode)
	}
}

func TestResolveURI(t *testing.T) {
	named := map[string]*destination{
		"prod": {URI: "ssh://core@prod:22/run/podman/podman.sock", Identity: "/keys/prod"},
		"def":  {URI: "unix:///run/default.sock"},
	}
	lookup := func(withDefault bool) connectionLookup {
		return func(name string, def bool) (*destination, error) {
			if def {
				if !withDefault {
					return nil, errors.New("no default connection found")
				}
				name = "def"
			}
			d, ok := named[name]
			if !ok {
				return nil, fmt.Errorf("connection %q not found", name)
			}
			cp := *d
			return &cp, nil
		}
	}
	xdg := t.TempDir()
	rootless := filepath.Join(xdg, "podman", "podman.sock")
	cases := []struct {
		name     string
		cfg      Config
		env      map[string]string
		def      bool
		sockets  []string
		want     string
		identity string
		err      string
	}{
		{name: "config wins", cfg: Config{URI: "tcp://h:1"}, env: map[string]string{EnvContainerHost: "unix:///x"}, want: "tcp://h:1"},
		{name: "config connection", cfg: Config{Connection: "prod"}, env: map[string]string{EnvContainerHost: "unix:///x"}, want: "ssh://core@prod:22/run/podman/podman.sock", identity: "/keys/prod"},
		{name: "config connection, own key", cfg: Config{Connection: "prod", Identity: "/mine"}, want: "ssh://core@prod:22/run/podman/podman.sock", identity: "/mine"},
		{name: "bare path", cfg: Config{URI: "/run/x.sock"}, want: "unix:///run/x.sock"},
		{name: "CONTAINER_HOST", env: map[string]string{EnvContainerHost: "unix:///a.sock", EnvSocket: "unix:///b.sock"}, want: "unix:///a.sock"},
		{name: "CONTAINER_HOST with key", env: map[string]string{EnvContainerHost: "ssh://u@h/run/p.sock", EnvContainerSSHKey: "/k"}, want: "ssh://u@h/run/p.sock", identity: "/k"},
		{name: "CONTAINER_CONNECTION", env: map[string]string{EnvContainerConnection: "prod", EnvSocket: "unix:///b.sock"}, want: "ssh://core@prod:22/run/podman/podman.sock", identity: "/keys/prod"},
		{name: "unknown connection", env: map[string]string{EnvContainerConnection: "nope"}, err: `connection "nope" not found`},
		{name: "CTRGATE_PODMAN_SOCKET", env: map[string]string{EnvSocket: "/var/tmp/p.sock"}, def: true, want: "unix:///var/tmp/p.sock"},
		{name: "default connection", def: true, sockets: []string{RootSocket}, want: "unix:///run/default.sock"},
		{name: "rootless socket", env: map[string]string{"XDG_RUNTIME_DIR": xdg}, sockets: []string{rootless}, want: "unix://" + rootless},
		{name: "nothing", env: map[string]string{"XDG_RUNTIME_DIR": xdg}, err: "no Podman service found"},
	}
	if os.Geteuid() == 0 {
		cases = append(cases, struct {
			name     string
			cfg      Config
			env      map[string]string
			def      bool
			sockets  []string
			want     string
			identity string
			err      string
		}{name: "root socket first", env: map[string]string{"XDG_RUNTIME_DIR": xdg}, sockets: []string{RootSocket, rootless}, want: "unix://" + RootSocket})
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			getenv := func(k string) (string, bool) { v, ok := tc.env[k]; return v, ok }
			exists := func(p string) bool {
				for _, s := range tc.sockets {
					if s == p {
						return true
					}
				}
				return false
			}
			d, err := resolveURI(tc.cfg, getenv, lookup(tc.def), exists)
			if tc.err != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tc.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, d.URI)
			assert.Equal(t, tc.identity, d.Identity)
		})
	}
}

func TestFrameSplitter(t *testing.T) {
	ctx := context.Background()
	s := logstream.New(ctx, "test", "c", nil)
	out := &frameSplitter{s: s, stream: ctrgate.Stdout}
	errs := &frameSplitter{s: s, stream: ctrgate.Stderr}
	go func() {
		out.frame("2026-11-27T13:06:51Z hi\n")
		errs.frame("2026-11-27T13:06:51Z oops\n")
		out.frame("2026-11-27T13:06:52Z part one ")     // partial line ...
		out.frame("2026-11-27T13:06:53Z and two\r\n")   // ... continued
		out.frame("2026-11-27T13:06:54Z a\nb\n")        // two lines in one frame
		out.frame("not a timestamp\n")                  // no prefix: kept whole
		out.frame("2026-11-27T13:06:55.123456789Z end") // no final newline
		out.flush()
		errs.flush()
		s.Finish(nil)
	}()
	var got []ctrgate.LogLine
	for {
		l, err := s.Next()
		if err != nil {
			break
		}
		got = append(got, l)
	}
	want := []struct {
		stream ctrgate.Stream
		text   string
		time   string
	}{
		{ctrgate.Stdout, "hi", "2026-11-27T13:06:51Z"},
		{ctrgate.Stderr, "oops", "2026-11-27T13:06:51Z"},
		{ctrgate.Stdout, "part one and two", "2026-11-27T13:06:52Z"},
		{ctrgate.Stdout, "a", "2026-11-27T13:06:54Z"},
		{ctrgate.Stdout, "b", "2026-11-27T13:06:54Z"},
		{ctrgate.Stdout, "not a timestamp", ""},
		{ctrgate.Stdout, "end", "2026-11-27T13:06:55.123456789Z"},
	}
	require.Len(t, got, len(want))
	for i, w := range want {
		assert.Equal(t, w.stream, got[i].Stream, i)
		assert.Equal(t, w.text, got[i].Text, i)
		if w.time == "" {
			assert.True(t, got[i].Time.IsZero(), i)
		} else {
			wt, _ := time.Parse(time.RFC3339Nano, w.time)
			assert.True(t, wt.Equal(got[i].Time), "line %d: %s", i, got[i].Time)
		}
	}
}

func TestToEvent(t *testing.T) {
	e := types.Event{Message: dockerevents.Message{
		Type:   "container",
		Action: "died",
		Actor: dockerevents.Actor{ID: "abc", Attributes: map[string]string{
			"name": "web", "image": "localhost/img:1", "containerExitCode": "124", "podId": "", "tier": "front",
		}},
		TimeNano: 1700000000123456789,
	}}
	ev, ok := toEvent(e)
	require.True(t, ok)
	assert.Equal(t, ctrgate.EventDie, ev.Type)
	assert.Equal(t, "died", ev.Raw)
	assert.Equal(t, "abc", ev.ID)
	assert.Equal(t, "web", ev.Name)
	assert.Equal(t, "localhost/img:1", ev.Image)
	assert.Equal(t, 124, ev.ExitCode)
	assert.Equal(t, map[string]string{"tier": "front"}, ev.Labels)
	assert.Equal(t, int64(1700000000123456789), ev.Time.UnixNano())

	for raw, want := range map[string]ctrgate.EventType{"create": ctrgate.EventCreate, "start": ctrgate.EventStart, "remove": ctrgate.EventRemove} {
		ev, ok := toEvent(types.Event{Message: dockerevents.Message{Action: dockerevents.Action(raw), Actor: dockerevents.Actor{ID: "x"}}})
		require.True(t, ok, raw)
		assert.Equal(t, want, ev.Type)
	}
	for _, raw := range []string{"init", "cleanup", "exec", "exec_died", "attach", "mount"} {
		_, ok := toEvent(types.Event{Message: dockerevents.Message{Action: dockerevents.Action(raw)}})
		assert.False(t, ok, raw)
	}
}

func TestFilters(t *testing.T) {
	f := listFilters(ctrgate.ListFilter{NamePrefix: "ctg.a+b-", Labels: map[string]string{"b": "", "a": "1"}})
	assert.Equal(t, []string{`^ctg\.a\+b-`}, f["name"])
	assert.Equal(t, []string{"a=1", "b"}, f["label"])
	assert.Empty(t, listFilters(ctrgate.ListFilter{}))
	ef := eventFilters(ctrgate.EventFilter{NamePrefix: "x", Labels: map[string]string{"k": "v"}})
	assert.Equal(t, map[string][]string{"type": {"container"}, "label": {"k=v"}}, ef)
}

func TestImportChanges(t *testing.T) {
	ch, err := importChanges(ctrgate.ImportOptions{
		Entrypoint: []string{"/testprog", "a b"},
		Cmd:        []string{"echo", `"q"`},
		Env:        []string{"A=1", "B=with space"},
		WorkDir:    "/w",
		Labels:     map[string]string{"z": "last", "a": "first"},
	})
	require.NoError(t, err)
	assert.Equal(t, []string{
		`ENTRYPOINT ["/testprog","a b"]`,
		`CMD ["echo","\"q\""]`,
		`ENV A="1"`,
		`ENV B="with space"`,
		`WORKDIR /w`,
		`LABEL a="first"`,
		`LABEL z="last"`,
	}, ch)
}

func TestPorts(t *testing.T) {
	assert.Equal(t, []ctrgate.PortMapping{
		{HostPort: 40000, ContainerPort: 80, Protocol: "tcp"},
		{HostIP: "127.0.0.1", HostPort: 40001, ContainerPort: 8080, Protocol: "tcp"},
		{HostIP: "127.0.0.1", HostPort: 40002, ContainerPort: 8081, Protocol: "tcp"},
	}, listPorts([]nettypes.PortMapping{
		{HostIP: "127.0.0.1", HostPort: 40001, ContainerPort: 8080, Protocol: "tcp", Range: 2},
		{HostIP: "0.0.0.0", HostPort: 40000, ContainerPort: 80, Protocol: "tcp"},
	}))
}

// --- against stand-ins for the service ------------------------------------

// fakeService is a minimal libpod service on a unix socket: it answers the
// ping like Podman 4.3.1 and hands everything else to handler.
func fakeService(t *testing.T, handler http.HandlerFunc) string {
	t.Helper()
	return fakeServiceOn(t, "unix", handler)
}

// fakeServiceOn is fakeService on a unix socket or on a loopback TCP port.
func fakeServiceOn(t *testing.T, network string, handler http.HandlerFunc) string {
	t.Helper()
	var l net.Listener
	var err error
	var uri string
	if network == "tcp" {
		l, err = net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		uri = "tcp://" + l.Addr().String()
	} else {
		sock := filepath.Join(t.TempDir(), "fake.sock")
		l, err = net.Listen("unix", sock)
		require.NoError(t, err)
		uri = "unix://" + sock
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/_ping") {
			w.Header().Set("Libpod-API-Version", "4.3.1")
			_, _ = w.Write([]byte("OK"))
			return
		}
		handler(w, r)
	})
	srv := &http.Server{Handler: mux}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		srv.Close()
	})
	return uri
}

func TestNewMissingSocketFailsFast(t *testing.T) {
	start := time.Now()
	_, err := New(context.Background(), Config{URI: "unix://" + filepath.Join(t.TempDir(), "none.sock")})
	assert.ErrorIs(t, err, ctrgate.ErrEngineUnavailable)
	assert.Less(t, time.Since(start), time.Second)
}

func TestNewRefusedSocketFailsFast(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "stale.sock")
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: sock, Net: "unix"})
	require.NoError(t, err)
	l.SetUnlinkOnClose(false)
	require.NoError(t, l.Close()) // the file stays, nobody listens
	start := time.Now()
	_, err = New(context.Background(), Config{URI: "unix://" + sock})
	assert.ErrorIs(t, err, ctrgate.ErrEngineUnavailable)
	assert.Less(t, time.Since(start), 3*time.Second)
}

func TestNewHungServiceHonoursContext(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "hung.sock")
	l, err := net.Listen("unix", sock)
	require.NoError(t, err)
	defer l.Close()
	accepted := make(chan net.Conn, 8)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			accepted <- c // accept, never answer
		}
	}()
	defer func() {
		l.Close()
		for {
			select {
			case c := <-accepted:
				c.Close()
			default:
				return
			}
		}
	}()
	before := goleak.IgnoreCurrent()
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = New(ctx, Config{URI: "unix://" + sock})
	assert.ErrorIs(t, err, ctrgate.ErrEngineUnavailable)
	assert.Less(t, time.Since(start), 2*time.Second)
	// the attempt itself ends with ctx (not only New): nothing is left
	// behind although the listener still accepts and never answers
	assert.Eventually(t, func() bool { return goleak.Find(before) == nil }, 3*time.Second, 50*time.Millisecond,
		"goroutines of the abandoned connection attempt")
}

func TestCallsHonourDeadlinesAndClose(t *testing.T) {
	release := make(chan struct{})
	uri := fakeService(t, func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasSuffix(r.URL.Path, "/containers/hang/json"):
			select {
			case <-release:
			case <-r.Context().Done():
			}
		case strings.HasSuffix(r.URL.Path, "/containers/gone/json"):
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusNotFound)
			_, _ = w.Write([]byte(`{"cause":"no such container","message":"no container with name or ID \"gone\" found: no such container","response":404}`))
		case strings.HasSuffix(r.URL.Path, "/containers/idle/kill"):
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusInternalServerError)
			_, _ = w.Write([]byte(`{"cause":"container state improper","message":"can only kill running containers. 123 is in state exited: container state improper","response":500}`))
		default:
			http.NotFound(w, r)
		}
	})
	defer close(release)
	drv, err := NewDriver(context.Background(), Config{URI: uri, DefaultTimeout: 300 * time.Millisecond})
	require.NoError(t, err)
	assert.Equal(t, "4.3.1", drv.ServerAPIVersion())
	rt := ctrgate.Enforce(BackendName, drv, ctrgate.WithCallTimeout(300*time.Millisecond))

	// the caller's deadline
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	start := time.Now()
	_, err = rt.Inspect(ctx, "hang")
	cancel()
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Less(t, time.Since(start), 2*time.Second)

	// the default timeout when the caller has none
	start = time.Now()
	_, err = rt.Inspect(context.Background(), "hang")
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Less(t, time.Since(start), 2*time.Second)

	_, err = rt.Inspect(context.Background(), "gone")
	assert.ErrorIs(t, err, ctrgate.ErrNotFound)
	err = rt.Kill(context.Background(), "idle", "TERM")
	assert.ErrorIs(t, err, ctrgate.ErrNotRunning)
	err = rt.Kill(context.Background(), "idle", "NOPE")
	assert.ErrorIs(t, err, ctrgate.ErrInvalidSpec)
	_, err = rt.Inspect(context.Background(), "-bad")
	assert.ErrorIs(t, err, ctrgate.ErrInvalidSpec)

	require.NoError(t, rt.Close())
	require.NoError(t, rt.Close(), "Close is idempotent")
	_, err = rt.Inspect(context.Background(), "gone")
	assert.ErrorIs(t, err, ctrgate.ErrEngineUnavailable)
	_, err = rt.Info(context.Background())
	assert.ErrorIs(t, err, ctrgate.ErrEngineUnavailable)
}

func TestRootlessNetworkMode(t *testing.T) {
	assert.Equal(t, "", rootlessNetworkMode(false, "pasta"), "a rootful Podman 5 reports its rootless default too")
	assert.Equal(t, "pasta", rootlessNetworkMode(true, "pasta"))
	assert.Equal(t, "slirp4netns", rootlessNetworkMode(true, "slirp4netns"))
	assert.Equal(t, "", rootlessNetworkMode(true, ""), "4.3 does not say; Info does not guess (conformance Rootless/InfoMatchesEngine)")
}

func TestRedactURI(t *testing.T) {
	assert.Equal(t, "ssh://u:xxxxx@h/run/p.sock", redactURI("ssh://u:pw@h/run/p.sock"))
	assert.Equal(t, "unix:///run/p.sock", redactURI("unix:///run/p.sock"))
}

func TestCloseEndsCallsInFlight(t *testing.T) {
	waiting := make(chan struct{}, 1)
	uri := fakeService(t, func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasSuffix(r.URL.Path, "/containers/busy/json"):
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"Id":"0123","Name":"busy","State":{"Status":"running","Running":true,"StartedAt":"2026-11-27T13:00:00Z"}}`))
		case strings.HasSuffix(r.URL.Path, "/containers/0123/wait"):
			waiting <- struct{}{}
			<-r.Context().Done() // never exits
		default:
			http.NotFound(w, r)
		}
	})
	rt, err := New(context.Background(), Config{URI: uri})
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() {
		_, err := rt.Wait(context.Background(), "busy")
		done <- err
	}()
	select {
	case <-waiting:
	case <-time.After(5 * time.Second):
		t.Fatal("Wait did not reach the service")
	}
	require.NoError(t, rt.Close())
	select {
	case err := <-done:
		assert.ErrorIs(t, err, ctrgate.ErrEngineUnavailable)
	case <-time.After(3 * time.Second):
		t.Fatal("Wait still blocked after Close")
	}
}

func TestTCPService(t *testing.T) {
	uri := fakeServiceOn(t, "tcp", func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/containers/web/json") {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"Id":"0123","Name":"web","ImageName":"localhost/img:1","Config":{"Labels":{"a":"b"}},` +
				`"State":{"Status":"running","Running":true,"Pid":42,"StartedAt":"2026-11-27T13:00:00Z"},` +
				`"NetworkSettings":{"Ports":{"8080/tcp":[{"HostIp":"","HostPort":"40000"}],"53/udp":null}}}`))
			return
		}
		http.NotFound(w, r)
	})
	rt, err := NewDriver(context.Background(), Config{URI: uri})
	require.NoError(t, err)
	defer rt.Close()
	c, err := rt.Inspect(context.Background(), "web")
	require.NoError(t, err)
	assert.Equal(t, "0123", c.ID)
	assert.Equal(t, "web", c.Name)
	assert.Equal(t, "localhost/img:1", c.Image)
	assert.Equal(t, map[string]string{"a": "b"}, c.Labels)
	assert.Equal(t, ctrgate.StateRunning, c.State.Status)
	assert.Equal(t, 0, c.State.ExitCode)
	assert.False(t, c.State.StartedAt.IsZero())
	assert.Equal(t, []ctrgate.PortMapping{{HostPort: 40000, ContainerPort: 8080, Protocol: "tcp"}}, c.Ports)
	assert.Equal(t, uri, rt.URI())
}

func TestPlainTCPRefused(t *testing.T) {
	_, err := New(context.Background(), Config{URI: "tcp://192.0.2.7:8888"})
	require.ErrorIs(t, err, ctrgate.ErrInvalidSpec, "refused before any connection")
	assert.Contains(t, err.Error(), "allow_plain_tcp")
	c, err := backendConfig(backend.Config{Options: map[string]string{"allow_plain_tcp": "yes"}})
	require.NoError(t, err)
	assert.True(t, c.AllowPlainTCP)
}

// TestFailedRequestsAreAnswered: the bindings retry a request that failed
// three times, sleeping 100, 200 and 300 ms whatever its context says, so
// the connection's transport answers a request that failed before the
// service did: 499 when its context ended (a cancelled Wait returned 600
// ms late), 503 when the service could not be dialled; other failures stay
// errors.
func TestFailedRequestsAreAnswered(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	hung := failureAnswerer{&http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		select { // a service that never accepts
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-release:
			return nil, errors.New("test over")
		}
	}}}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://d/v4.3.1/libpod/containers/x/wait", nil)
	require.NoError(t, err)
	resp, err := hung.RoundTrip(req)
	require.NoError(t, err, "an answer, not an error the bindings would retry")
	assert.Equal(t, 499, resp.StatusCode)
	body, _ := io.ReadAll(resp.Body)
	assert.Contains(t, string(body), endedCause)
	err = wrapErr(ctx, ctrgate.OpWait, "x", &errorhandling.ErrorModel{Because: endedCause, ResponseCode: 499}, false)
	assert.ErrorIs(t, err, context.DeadlineExceeded, "the call's own context says why")

	refused := failureAnswerer{&http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return nil, &net.OpError{Op: "dial", Net: "unix", Err: syscall.ECONNREFUSED}
	}}}
	req, err = http.NewRequest(http.MethodGet, "http://d/v4.3.1/libpod/_ping", nil)
	require.NoError(t, err)
	resp, err = refused.RoundTrip(req)
	require.NoError(t, err)
	assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
	resp.Body.Close()

	broken := failureAnswerer{&http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return nil, errors.New("something else")
	}}}
	_, err = broken.RoundTrip(req)
	assert.Error(t, err)
}
