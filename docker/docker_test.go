package docker

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/events"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/go-connections/nat"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/ctrgate/ctrgate"
	"github.com/ctrgate/ctrgate/backend"
)

func TestMain(m *testing.M) {
	if addr := os.Getenv("DOCKER_FAKE_SSH_TARGET"); addr != "" {
		// Acting as "ssh ... docker system dial-stdio" for TestSSHHost.
		os.Exit(stdioProxy(addr))
	}
	goleak.VerifyTestMain(m)
}

func TestToCreateConfigFull(t *testing.T) {
	uid := 1000
	_ = uid
	spec := ctrgate.ContainerSpec{
		Name:       "web",
		Image:      "localhost/img:1",
		Command:    []string{"serve", "--port", "8080"},
		Entrypoint: []string{"/bin/app"},
		Env:        []ctrgate.EnvVar{{Name: "A", Value: "1"}, {Name: "TOKEN", Value: "s3cret", Secret: true}},
		Labels:     map[string]string{"app": "web"},
		Mounts: []ctrgate.Mount{
			{Type: ctrgate.MountBind, Source: "/srv", Target: "/data", ReadOnly: true},
			{Type: ctrgate.MountBind, Source: "/srv2", Target: "/data2", Relabel: ctrgate.RelabelPrivate},
			{Type: ctrgate.MountVolume, Source: "vol", Target: "/vol"},
			{Type: ctrgate.MountTmpfs, Target: "/tmp", Size: 1 << 20},
		},
		Ports: []ctrgate.PortMapping{
			{ContainerPort: 8080},
			{HostIP: "127.0.0.1", HostPort: 9000, ContainerPort: 53, Protocol: "udp"},
		},
		Network:         ctrgate.NetworkSpec{Mode: ctrgate.NetworkBridge, Name: "mynet"},
		ExtraHosts:      []ctrgate.HostEntry{{Host: "db", IP: "10.0.0.2"}},
		User:            "1000:1000",
		UserNS:          ctrgate.UserNSSpec{Mode: ctrgate.UserNSHost},
		WorkDir:         "/work",
		Hostname:        "h1",
		CapAdd:          []string{"NET_ADMIN"},
		CapDrop:         []string{"ALL"},
		SecurityOpt:     []string{"label=disable"},
		NoNewPrivileges: true,
		ReadOnlyRootfs:  true,
		Resources:       ctrgate.Resources{MemoryBytes: 64 << 20, CPUs: 1.5, PidsLimit: 100},
		Ulimits:         []ctrgate.Ulimit{{Name: "nofile", Soft: 1024, Hard: 2048}},
		Init:            true,
		StopSignal:      "TERM",
		StopTimeout:     1500 * time.Millisecond,
		AutoRemove:      true,
		OCIRuntime:      "runc",
	}
	require.NoError(t, ctrgate.ValidateSpec(spec))
	cfg, hc, _, err := toCreateConfig(spec, engineFeatures{apiVersion: "1.41"})
	require.NoError(t, err)

	assert.Equal(t, "localhost/img:1", cfg.Image)
	assert.Equal(t, []string{"serve", "--port", "8080"}, []string(cfg.Cmd))
	assert.Equal(t, []string{"/bin/app"}, []string(cfg.Entrypoint))
	assert.Equal(t, []string{"A=1", "TOKEN=s3cret"}, cfg.Env)
	assert.Equal(t, map[string]string{"app": "web"}, cfg.Labels)
	assert.Equal(t, "1000:1000", cfg.User)
	assert.Equal(t, "/work", cfg.WorkingDir)
	assert.Equal(t, "h1", cfg.Hostname)
	assert.Equal(t, "SIGTERM", cfg.StopSignal)
	require.NotNil(t, cfg.StopTimeout)
	assert.Equal(t, 2, *cfg.StopTimeout, "stop timeout rounds up to whole seconds")
	assert.Contains(t, cfg.ExposedPorts, nat.Port("8080/tcp"))
	assert.Contains(t, cfg.ExposedPorts, nat.Port("53/udp"))

	assert.Equal(t, nat.PortMap{
		"8080/tcp": {{HostIP: "", HostPort: ""}},
		"53/udp":   {{HostIP: "127.0.0.1", HostPort: "9000"}},
	}, hc.PortBindings)
	assert.Equal(t, container.NetworkMode("mynet"), hc.NetworkMode)
	assert.Equal(t, []string{"db:10.0.0.2"}, hc.ExtraHosts)
	assert.Equal(t, container.UsernsMode("host"), hc.UsernsMode)
	assert.Equal(t, []string{"/srv2:/data2:Z"}, hc.Binds)
	require.Len(t, hc.Mounts, 3)
	assert.Equal(t, "bind", string(hc.Mounts[0].Type))
	assert.True(t, hc.Mounts[0].ReadOnly)
	assert.Equal(t, "volume", string(hc.Mounts[1].Type))
	assert.Equal(t, "vol", hc.Mounts[1].Source)
	assert.Equal(t, "tmpfs", string(hc.Mounts[2].Type))
	require.NotNil(t, hc.Mounts[2].TmpfsOptions)
	assert.Equal(t, int64(1<<20), hc.Mounts[2].TmpfsOptions.SizeBytes)
	assert.Equal(t, []string{"NET_ADMIN"}, []string(hc.CapAdd))
	assert.Equal(t, []string{"ALL"}, []string(hc.CapDrop))
	assert.Equal(t, []string{"label=disable", "no-new-privileges"}, hc.SecurityOpt)
	assert.True(t, hc.ReadonlyRootfs)
	assert.Equal(t, int64(64<<20), hc.Memory)
	assert.Equal(t, int64(1_500_000_000), hc.NanoCPUs)
	require.NotNil(t, hc.PidsLimit)
	assert.Equal(t, int64(100), *hc.PidsLimit)
	require.Len(t, hc.Ulimits, 1)
	assert.Equal(t, container.Ulimit{Name: "nofile", Soft: 1024, Hard: 2048}, *hc.Ulimits[0])
	require.NotNil(t, hc.Init)
	assert.True(t, *hc.Init)
	assert.True(t, hc.AutoRemove)
	assert.Equal(t, "runc", hc.Runtime)
	assert.Empty(t, hc.DeviceRequests)
}

func TestToCreateConfigDefaults(t *testing.T) {
	cfg, hc, _, err := toCreateConfig(ctrgate.ContainerSpec{Image: "img"}, engineFeatures{apiVersion: "1.41"})
	require.NoError(t, err)
	assert.Nil(t, cfg.Cmd, "no command keeps the image's")
	assert.Nil(t, cfg.Entrypoint, "no entrypoint keeps the image's")
	assert.Nil(t, cfg.StopTimeout)
	assert.Empty(t, cfg.StopSignal)
	assert.Nil(t, hc.Init)
	assert.Nil(t, hc.PidsLimit)
	assert.Empty(t, string(hc.NetworkMode))
}

func TestToCreateConfigUnsupported(t *testing.T) {
	docker := engineFeatures{apiVersion: "1.41"}
	podman := engineFeatures{apiVersion: "1.41", podman: true}
	cases := []struct {
		name string
		spec ctrgate.ContainerSpec
	}{
		{"slirp4netns", ctrgate.ContainerSpec{Image: "i", Network: ctrgate.NetworkSpec{Mode: ctrgate.NetworkSlirp4netns}}},
		{"pasta", ctrgate.ContainerSpec{Image: "i", Network: ctrgate.NetworkSpec{Mode: ctrgate.NetworkPasta}}},
		{"keep-id", ctrgate.ContainerSpec{Image: "i", UserNS: ctrgate.UserNSSpec{Mode: ctrgate.UserNSKeepID}}},
		{"auto", ctrgate.ContainerSpec{Image: "i", UserNS: ctrgate.UserNSSpec{Mode: ctrgate.UserNSAuto}}},
		{"annotations on API 1.41", ctrgate.ContainerSpec{Image: "i", Annotations: map[string]string{"a": "b"}}},
		{"non-NVIDIA CDI device without CDI", ctrgate.ContainerSpec{Image: "i", GPUs: ctrgate.GPURequest{Devices: []string{"amd.com/gpu=0"}}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			require.NoError(t, ctrgate.ValidateSpec(tc.spec))
			_, _, _, err := toCreateConfig(tc.spec, docker)
			assert.ErrorIs(t, err, ctrgate.ErrUnsupported)
		})
	}
	// Podman's compatibility API takes its own modes.
	uid := 0
	_, hc, _, err := toCreateConfig(ctrgate.ContainerSpec{Image: "i", UserNS: ctrgate.UserNSSpec{Mode: ctrgate.UserNSKeepID, UID: &uid}}, podman)
	require.NoError(t, err)
	assert.Equal(t, container.UsernsMode("keep-id:uid=0"), hc.UsernsMode)
	_, hc, _, err = toCreateConfig(ctrgate.ContainerSpec{Image: "i", Network: ctrgate.NetworkSpec{Mode: ctrgate.NetworkSlirp4netns, Options: []string{"allow_host_loopback=true"}}}, podman)
	require.NoError(t, err)
	assert.Equal(t, container.NetworkMode("slirp4netns:allow_host_loopback=true"), hc.NetworkMode)
	// Annotations from API 1.43 on.
	_, hc, _, err = toCreateConfig(ctrgate.ContainerSpec{Image: "i", Annotations: map[string]string{"a": "b"}}, engineFeatures{apiVersion: "1.44"})
	require.NoError(t, err)
	assert.Equal(t, map[string]string{"a": "b"}, hc.Annotations)
}

func TestGPURequest(t *testing.T) {
	dr, err := gpuRequest(ctrgate.GPURequest{All: true}, true)
	require.NoError(t, err)
	assert.Equal(t, []container.DeviceRequest{{Driver: "cdi", Capabilities: [][]string{{"cdi"}}, DeviceIDs: []string{"nvidia.com/gpu=all"}}}, dr)

	dr, err = gpuRequest(ctrgate.GPURequest{Devices: []string{"nvidia.com/gpu=0", "vendor.com/x=y"}}, true)
	require.NoError(t, err)
	assert.Equal(t, []container.DeviceRequest{{Driver: "cdi", Capabilities: [][]string{{"cdi"}}, DeviceIDs: []string{"nvidia.com/gpu=0", "vendor.com/x=y"}}}, dr)

	dr, err = gpuRequest(ctrgate.GPURequest{All: true}, false)
	require.NoError(t, err)
	assert.Equal(t, []container.DeviceRequest{{Count: -1, Capabilities: [][]string{{"gpu"}}}}, dr)

	dr, err = gpuRequest(ctrgate.GPURequest{Devices: []string{"nvidia.com/gpu=0", "nvidia.com/gpu=GPU-abc"}}, false)
	require.NoError(t, err)
	assert.Equal(t, []container.DeviceRequest{{DeviceIDs: []string{"0", "GPU-abc"}, Capabilities: [][]string{{"gpu"}}}}, dr)

	_, err = gpuRequest(ctrgate.GPURequest{Devices: []string{"amd.com/gpu=0"}}, false)
	assert.ErrorIs(t, err, ctrgate.ErrUnsupported)
}

func TestImportChanges(t *testing.T) {
	ch, err := importChanges(ctrgate.ImportOptions{
		Entrypoint: []string{"/testprog", "a b"},
		Cmd:        []string{"x"},
		Env:        []string{`A=x y "q" $HOME \n`},
		WorkDir:    "/w",
		Labels:     map[string]string{"b": "2", "a": "1"},
	})
	require.NoError(t, err)
	assert.Equal(t, []string{
		`ENTRYPOINT ["/testprog","a b"]`,
		`CMD ["x"]`,
		`ENV A="x y \"q\" \$HOME \\n"`,
		`WORKDIR /w`,
		`LABEL "a"="1"`,
		`LABEL "b"="2"`,
	}, ch)

}

// engineErr mimics the client's errors: an errdefs class and a message.
func engineErr(class error, msg string) error {
	return fmt.Errorf("Error response from daemon: %s: %w", msg, class)
}

func TestClassify(t *testing.T) {
	cases := []struct {
		op   string
		err  error
		want error
	}{
		{ctrgate.OpInspect, engineErr(cerrdefs.ErrNotFound, "No such container: x"), ctrgate.ErrNotFound},
		{ctrgate.OpWait, engineErr(cerrdefs.ErrNotFound, "No such container: x"), ctrgate.ErrNotFound},
		{ctrgate.OpWait, errors.New("container abc does not exist in database: no such container"), ctrgate.ErrNotFound},
		// rootless Podman 4.3's compat API, seen in the matrix lane rl43/docker-on-podman
		{ctrgate.OpWait, errors.New("container has already been removed"), ctrgate.ErrNotFound},
		{ctrgate.OpCreate, engineErr(cerrdefs.ErrConflict, `Conflict. The container name "/x" is already in use by container "abc"`), ctrgate.ErrAlreadyExists},
		{ctrgate.OpCreate, engineErr(cerrdefs.ErrNotFound, "No such image: localhost/x:1"), ctrgate.ErrImageNotFound},
		{ctrgate.OpCreate, engineErr(cerrdefs.ErrNotFound, "network mynet not found"), nil},
		{ctrgate.OpRemove, engineErr(cerrdefs.ErrConflict, "You cannot remove a running container abc. Stop the container before attempting removal or force remove"), ctrgate.ErrRunning},
		{ctrgate.OpKill, engineErr(cerrdefs.ErrConflict, "Cannot kill container: x: Container abc is not running"), ctrgate.ErrNotRunning},
		{ctrgate.OpExec, engineErr(cerrdefs.ErrConflict, "Container abc is not running"), ctrgate.ErrNotRunning},
		{ctrgate.OpExec, engineErr(cerrdefs.ErrConflict, "Container abc is paused, unpause the container before exec"), ctrgate.ErrNotRunning},
		{ctrgate.OpExec, engineErr(cerrdefs.ErrInternal, "container state improper"), ctrgate.ErrNotRunning},
		{ctrgate.OpCopyFrom, engineErr(cerrdefs.ErrNotFound, "Could not find the file /nosuch in container x"), ctrgate.ErrNotFound},
		{ctrgate.OpCopyTo, engineErr(cerrdefs.ErrNotFound, "No such container:path: x:/nodir"), ctrgate.ErrNotFound},
		{ctrgate.OpRemoveImage, engineErr(cerrdefs.ErrNotFound, "No such image: x:1"), ctrgate.ErrImageNotFound},
		{ctrgate.OpRemoveImage, engineErr(cerrdefs.ErrConflict, `conflict: unable to remove repository reference "x" (must force) - container abc is using its referenced image def`), ctrgate.ErrRunning},
		{ctrgate.OpPullImage, engineErr(cerrdefs.ErrInternal, `Get "http://localhost/v2/": dial tcp 127.0.0.1:80: connect: connection refused`), ctrgate.ErrRegistryUnavailable},
		{ctrgate.OpPullImage, engineErr(cerrdefs.ErrNotFound, "pull access denied for x, repository does not exist"), ctrgate.ErrImageNotFound},
		{ctrgate.OpStart, engineErr(cerrdefs.ErrInternal, "OCI runtime create failed"), nil},
	}
	for _, tc := range cases {
		t.Run(tc.op+"/"+tc.err.Error(), func(t *testing.T) {
			got := classify(tc.op, tc.err, tc.err.Error())
			if tc.want == nil {
				assert.Nil(t, got)
				return
			}
			assert.Equal(t, tc.want, got)
		})
	}
	// GPU setup failures at create and start.
	for _, msg := range []string{
		`could not select device driver "" with capabilities: [[gpu]]`,
		"unresolvable CDI devices nvidia.com/gpu=all",
		"failed to inject CDI devices: unresolvable CDI devices nvidia.com/gpu=0",
	} {
		assert.Equal(t, errGPU, classify(ctrgate.OpStart, engineErr(cerrdefs.ErrInternal, msg), msg), msg)
		assert.Equal(t, errGPU, classify(ctrgate.OpCreate, engineErr(cerrdefs.ErrInvalidArgument, msg), msg), msg)
	}
}

func TestMapErrContextAndRedaction(t *testing.T) {
	r := &Runtime{life: context.Background()}
	ctx, cancel := context.WithTimeout(context.Background(), time.Nanosecond)
	defer cancel()
	<-ctx.Done()
	err := r.mapErr(ctx, ctrgate.OpInspect, "x", errors.New("request failed"))
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	var ee *ctrgate.EngineError
	assert.ErrorAs(t, err, &ee)

	err = r.mapErr(context.Background(), ctrgate.OpStart, "x", engineErr(cerrdefs.ErrInternal, "exec failed: env PASSWORD=hunter2 TOKEN=abc"))
	assert.NotContains(t, err.Error(), "hunter2")
	assert.NotContains(t, err.Error(), "=abc")

	err = r.mapErr(context.Background(), ctrgate.OpStart, "x", engineErr(cerrdefs.ErrInternal, `could not select device driver "" with capabilities: [[gpu]] key=hunter2`))
	var ge *ctrgate.GPUConfigError
	require.ErrorAs(t, err, &ge)
	assert.Equal(t, ctrgate.GPUHint, ge.Hint)
	assert.NotContains(t, err.Error(), "hunter2")
}

func TestListNamePattern(t *testing.T) {
	assert.Equal(t, `^/?ctg\.x\+-`, listNamePattern("ctg.x+-"))
	assert.Equal(t, "a", summaryName([]string{"/b/a-alias", "/a"}))
	assert.Equal(t, "solo", summaryName([]string{"solo"}))
}

func TestFromPortMapMergesWildcards(t *testing.T) {
	got := fromPortMap(nat.PortMap{
		"8080/tcp": {{HostIP: "0.0.0.0", HostPort: "32768"}, {HostIP: "::", HostPort: "32768"}},
		"53/udp":   {{HostIP: "127.0.0.1", HostPort: "5353"}},
	})
	assert.Equal(t, []ctrgate.PortMapping{
		{HostIP: "127.0.0.1", HostPort: 5353, ContainerPort: 53, Protocol: "udp"},
		{HostIP: "", HostPort: 32768, ContainerPort: 8080, Protocol: "tcp"},
	}, got)
}

func TestParseTime(t *testing.T) {
	assert.True(t, parseTime("0001-01-01T00:00:00Z").IsZero())
	assert.True(t, parseTime("").IsZero())
	assert.Equal(t, time.Date(2024, 5, 1, 10, 0, 0, 123456789, time.UTC), parseTime("2024-05-01T10:00:00.123456789Z").UTC())
}

func TestNormaliseEvent(t *testing.T) {
	now := time.Now()
	ev, ok := normaliseEvent(events.Message{Type: events.ContainerEventType, Action: "die",
		Actor:    events.Actor{ID: "abc", Attributes: map[string]string{"name": "c1", "image": "img", "exitCode": "124", "containerExitCode": "124", "podId": "", "app": "x"}},
		TimeNano: now.UnixNano()})
	require.True(t, ok)
	assert.Equal(t, ctrgate.EventDie, ev.Type)
	assert.Equal(t, 124, ev.ExitCode)
	assert.Equal(t, "c1", ev.Name)
	assert.Equal(t, "abc", ev.ID)
	assert.Equal(t, "img", ev.Image)
	assert.Equal(t, map[string]string{"app": "x"}, ev.Labels)
	assert.Equal(t, now.UnixNano(), ev.Time.UnixNano())

	ev, ok = normaliseEvent(events.Message{Type: events.ContainerEventType, Action: "destroy", Actor: events.Actor{ID: "abc"}})
	require.True(t, ok)
	assert.Equal(t, ctrgate.EventRemove, ev.Type)
	assert.Equal(t, "destroy", ev.Raw)

	for _, a := range []string{"exec_start: sh -c true", "exec_die", "attach", "kill", "stop", "cleanup", "init"} {
		_, ok = normaliseEvent(events.Message{Type: events.ContainerEventType, Action: events.Action(a)})
		assert.False(t, ok, a)
	}
	_, ok = normaliseEvent(events.Message{Type: events.ImageEventType, Action: "remove"})
	assert.False(t, ok)
}

// frame builds one multiplexed stream frame.
func frame(stream byte, payload string) []byte {
	h := make([]byte, 8, 8+len(payload))
	h[0] = stream
	binary.BigEndian.PutUint32(h[4:], uint32(len(payload)))
	return append(h, payload...)
}

func TestLogsFromFakeEngine(t *testing.T) {
	f := newFakeAPI(t)
	long := strings.Repeat("x", 40000)
	f.handle("GET /containers/c1/json", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, map[string]any{"Id": "abc", "Name": "/c1", "State": map[string]any{"Status": "exited"}})
	})
	f.handle("GET /containers/c1/logs", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/vnd.docker.multiplexed-stream")
		w.WriteHeader(200)
		ts := "2024-05-01T10:00:00.000000001Z "
		var b []byte
		b = append(b, frame(1, ts+"one\n")...)
		b = append(b, frame(2, ts+"err line\r\n")...)
		// A long line split by the engine into pieces, each with a timestamp.
		b = append(b, frame(1, ts+long[:16384])...)
		b = append(b, frame(1, "2024-05-01T10:00:00.5Z "+long[16384:32768])...)
		b = append(b, frame(1, "2024-05-01T10:00:01Z "+long[32768:]+"\n")...)
		b = append(b, frame(1, ts+"2024-05-01T10:00:00Z looks like a time\n")...)
		b = append(b, frame(1, ts+"last without newline")...)
		_, _ = w.Write(b)
	})
	rt := f.runtime()
	st, err := rt.Logs(context.Background(), "c1", ctrgate.LogOptions{Tail: 5, Since: time.Unix(100, 5)})
	require.NoError(t, err)
	var lines []ctrgate.LogLine
	for {
		l, err := st.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err)
		lines = append(lines, l)
	}
	require.NoError(t, st.Close())
	require.Len(t, lines, 5)
	assert.Equal(t, ctrgate.LogLine{Stream: ctrgate.Stdout, Text: "one", Time: time.Date(2024, 5, 1, 10, 0, 0, 1, time.UTC)}, lines[0])
	assert.Equal(t, ctrgate.Stderr, lines[1].Stream)
	assert.Equal(t, "err line", lines[1].Text)
	assert.Equal(t, long, lines[2].Text, "a split line comes back whole")
	assert.Equal(t, "2024-05-01T10:00:00Z looks like a time", lines[3].Text, "only the engine's timestamp is removed")
	assert.Equal(t, "last without newline", lines[4].Text)

	q := f.last("/containers/c1/logs").URL.Query()
	assert.Equal(t, "5", q.Get("tail"))
	assert.Equal(t, "100.000000005", q.Get("since"))
	assert.Equal(t, "1", q.Get("timestamps"))
	assert.Empty(t, q.Get("follow"))
}

func TestFakeEngineErrors(t *testing.T) {
	f := newFakeAPI(t)
	f.fail("GET /containers/gone/json", 404, "No such container: gone")
	f.fail("POST /containers/create", 500, "failed to create: env PASSWORD=hunter2 rejected")
	f.handle("GET /images/localhost/img:1/json", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, map[string]any{"Id": "sha256:1"})
	})
	f.fail("GET /images/localhost/nosuch:1/json", 404, "No such image: localhost/nosuch:1")
	rt := ctrgate.Enforce(BackendName, f.runtime()) // as users get it: validation is the layer's
	ctx := context.Background()

	_, err := rt.Inspect(ctx, "gone")
	assert.ErrorIs(t, err, ctrgate.ErrNotFound)
	_, err = rt.Wait(ctx, "gone")
	assert.ErrorIs(t, err, ctrgate.ErrNotFound)

	_, err = rt.Create(ctx, ctrgate.ContainerSpec{Name: "c", Image: "localhost/img:1",
		Env: []ctrgate.EnvVar{{Name: "PASSWORD", Value: "hunter2"}}})
	require.Error(t, err)
	assert.NotContains(t, err.Error(), "hunter2")

	var body struct{ Labels map[string]string }
	f.handle("POST /containers/create", func(w http.ResponseWriter, r *http.Request) {
		assert.NoError(t, json.NewDecoder(r.Body).Decode(&body))
		assert.Equal(t, "c", r.URL.Query().Get("name"))
		writeJSON(w, 201, map[string]any{"Id": "new"})
	})
	id, err := rt.Create(ctx, ctrgate.ContainerSpec{Name: "c", Image: "localhost/img:1", Labels: map[string]string{"a": "b"}})
	require.NoError(t, err)
	assert.Equal(t, "new", id)
	assert.Equal(t, map[string]string{"a": "b", ImageLabel: "localhost/img:1"}, body.Labels)

	_, err = rt.Create(ctx, ctrgate.ContainerSpec{Name: "c", Image: "localhost/nosuch:1", PullPolicy: ctrgate.PullNever})
	assert.ErrorIs(t, err, ctrgate.ErrImageNotFound)

	ok, err := rt.ImageExists(ctx, "localhost/nosuch:1")
	require.NoError(t, err)
	assert.False(t, ok)

	// Validation happens before any request.
	n := len(f.requests)
	_, err = rt.Create(ctx, ctrgate.ContainerSpec{Name: "-bad", Image: "img"})
	assert.ErrorIs(t, err, ctrgate.ErrInvalidSpec)
	err = rt.Kill(ctx, "c", "SIGNOPE")
	assert.ErrorIs(t, err, ctrgate.ErrInvalidSpec)
	_, err = rt.List(ctx, ctrgate.ListFilter{NamePrefix: "-x"})
	assert.ErrorIs(t, err, ctrgate.ErrInvalidSpec)
	assert.Equal(t, n, len(f.requests), "invalid input reached the engine")
}

func TestFakeEngineWaitStopKill(t *testing.T) {
	f := newFakeAPI(t)
	f.handle("GET /containers/done/json", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, map[string]any{"Id": "d", "Name": "/done", "State": map[string]any{"Status": "exited", "ExitCode": 124}})
	})
	f.handle("POST /containers/done/stop", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(304) })
	f.handle("POST /containers/done/kill", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 409, map[string]string{"message": "Cannot kill container: done: Container d is not running"})
	})
	rt := f.runtime()
	ctx := context.Background()

	code, err := rt.Wait(ctx, "done")
	require.NoError(t, err)
	assert.Equal(t, 124, code, "an exited container gives its recorded code")
	assert.Nil(t, f.last("/containers/done/wait"), "no wait request for an exited container")

	require.NoError(t, rt.Stop(ctx, "done", 1500*time.Millisecond))
	assert.Equal(t, "2", f.last("/containers/done/stop").URL.Query().Get("t"))
	require.NoError(t, rt.Stop(ctx, "done", -1))
	assert.Empty(t, f.last("/containers/done/stop").URL.Query().Get("t"), "negative timeout: container default")
	require.NoError(t, rt.Stop(ctx, "done", 0))
	assert.Equal(t, "0", f.last("/containers/done/stop").URL.Query().Get("t"))

	err = rt.Kill(ctx, "done", "TERM")
	assert.ErrorIs(t, err, ctrgate.ErrNotRunning)
	assert.Equal(t, "SIGTERM", f.last("/containers/done/kill").URL.Query().Get("signal"))
}

func TestFakeEngineWaitCreatedThenStarted(t *testing.T) {
	f := newFakeAPI(t)
	var mu sync.Mutex
	cur := "created"
	inspects := 0
	started := make(chan struct{})
	f.handle("GET /containers/c/json", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		st := cur
		inspects++
		mu.Unlock()
		writeJSON(w, 200, map[string]any{"Id": "c", "Name": "/c", "State": map[string]any{"Status": st}})
	})
	// Wait learns of the start from the event stream, not by polling.
	f.handle("GET /events", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(200)
		w.(http.Flusher).Flush()
		select {
		case <-started:
			_ = json.NewEncoder(w).Encode(events.Message{Type: "container", Action: "start",
				Actor: events.Actor{ID: "c", Attributes: map[string]string{"name": "c"}}, TimeNano: time.Now().UnixNano()})
			w.(http.Flusher).Flush()
		case <-r.Context().Done():
			return
		}
		<-r.Context().Done()
	})
	f.handle("POST /containers/c/wait", func(w http.ResponseWriter, r *http.Request) {
		assert.Equal(t, "not-running", r.URL.Query().Get("condition"))
		writeJSON(w, 200, map[string]any{"StatusCode": 3})
	})
	rt := f.runtime()
	done := make(chan int)
	go func() {
		code, err := rt.Wait(context.Background(), "c")
		assert.NoError(t, err)
		done <- code
	}()
	select {
	case <-done:
		t.Fatal("Wait returned for a created container")
	case <-time.After(300 * time.Millisecond):
	}
	mu.Lock()
	cur = "running"
	assert.LessOrEqual(t, inspects, 2, "inspect, subscribe, inspect again: no polling")
	mu.Unlock()
	close(started)
	select {
	case code := <-done:
		assert.Equal(t, 3, code)
	case <-time.After(5 * time.Second):
		t.Fatal("Wait did not notice the start")
	}
}

func TestFakeEngineListFilters(t *testing.T) {
	f := newFakeAPI(t)
	f.handle("GET /containers/json", func(w http.ResponseWriter, r *http.Request) {
		// An engine's regular expression match is looser than a literal
		// prefix: return extra names that must be dropped.
		writeJSON(w, 200, []map[string]any{
			{"Id": "1", "Names": []string{"/p.x-a"}, "State": "running", "Status": "Up 1 second", "Labels": map[string]string{"k": "v"},
				"Ports": []map[string]any{{"IP": "0.0.0.0", "PrivatePort": 80, "PublicPort": 32768, "Type": "tcp"}, {"IP": "::", "PrivatePort": 80, "PublicPort": 32768, "Type": "tcp"}}},
			{"Id": "2", "Names": []string{"/pzx-b"}, "State": "running", "Labels": map[string]string{"k": "v"}},
			{"Id": "3", "Names": []string{"/p.x-c"}, "State": "exited", "Status": "Exited (137) 2 seconds ago", "Image": "sha256:0123",
				"Labels": map[string]string{"k": "v", ImageLabel: "localhost/img:1"}},
			{"Id": "4", "Names": []string{"/p.x-d"}, "State": "running", "Labels": map[string]string{"k": "other"}},
		})
	})
	rt := f.runtime()
	got, err := rt.List(context.Background(), ctrgate.ListFilter{NamePrefix: "p.x-", Labels: map[string]string{"k": "v"}, All: true})
	require.NoError(t, err)
	var names []string
	for _, c := range got {
		names = append(names, c.Name)
	}
	assert.Equal(t, []string{"p.x-a", "p.x-c"}, names)
	assert.Equal(t, []ctrgate.PortMapping{{HostPort: 32768, ContainerPort: 80, Protocol: "tcp"}}, got[0].Ports)
	assert.Equal(t, 137, got[1].State.ExitCode)
	assert.Equal(t, "localhost/img:1", got[1].Image, "the reference as given at create, even after the tag moved")
	assert.Equal(t, map[string]string{"k": "v"}, got[1].Labels, "the image label stays internal")
	assert.Equal(t, ctrgate.StateExited, got[1].State.Status)

	req := f.last("/containers/json")
	require.NotNil(t, req)
	assert.Equal(t, "1", req.URL.Query().Get("all"))
	args, err := filters.FromJSON(req.URL.Query().Get("filters"))
	require.NoError(t, err)
	assert.Equal(t, []string{`^/?p\.x-`}, args.Get("name"))
	assert.Equal(t, []string{"k=v"}, args.Get("label"))
	assert.Equal(t, 1, countPaths(f, "/containers/json"), "one engine round trip")
}

func countPaths(f *fakeAPI, suffix string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, r := range f.requests {
		if strings.HasSuffix(r.URL.Path, suffix) {
			n++
		}
	}
	return n
}

func TestNewEngineUnavailableQuickly(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	start := time.Now()
	_, err = New(context.Background(), Config{Host: "tcp://" + addr})
	assert.ErrorIs(t, err, ctrgate.ErrEngineUnavailable)
	assert.Less(t, time.Since(start), 3*time.Second)

	_, err = New(context.Background(), Config{Host: "unix:///nonexistent/docker.sock"})
	assert.ErrorIs(t, err, ctrgate.ErrEngineUnavailable)
}

func TestNewHangingEngineTimesOut(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	var conns []net.Conn
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c) // accept, never answer
		}
	}()
	start := time.Now()
	_, err = New(context.Background(), Config{Host: "tcp://" + l.Addr().String(), PingTimeout: 300 * time.Millisecond})
	assert.ErrorIs(t, err, ctrgate.ErrEngineUnavailable)
	assert.Less(t, time.Since(start), 3*time.Second)
}

func TestClosedRuntime(t *testing.T) {
	f := newFakeAPI(t)
	rt := f.runtime()
	require.NoError(t, rt.Close())
	require.NoError(t, rt.Close(), "Close is idempotent")
	_, err := rt.Info(context.Background())
	assert.ErrorIs(t, err, ctrgate.ErrEngineUnavailable)
	_, err = rt.Inspect(context.Background(), "x")
	assert.ErrorIs(t, err, ctrgate.ErrEngineUnavailable)
	_, err = rt.Events(context.Background(), ctrgate.EventFilter{})
	assert.ErrorIs(t, err, ctrgate.ErrEngineUnavailable)
}

func TestDefaultTimeoutApplies(t *testing.T) {
	f := newFakeAPI(t)
	release := make(chan struct{})
	defer close(release)
	f.handle("GET /containers/slow/json", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	rt, err := New(context.Background(), Config{Host: "tcp://" + strings.TrimPrefix(f.srv.URL, "http://"), DefaultTimeout: 200 * time.Millisecond})
	require.NoError(t, err)
	defer rt.Close()
	start := time.Now()
	_, err = rt.Inspect(context.Background(), "slow")
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Less(t, time.Since(start), 3*time.Second)
}

func TestEventsFromFakeEngine(t *testing.T) {
	f := newFakeAPI(t)
	now := time.Now()
	f.handle("GET /events", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(200)
		enc := json.NewEncoder(w)
		msgs := []events.Message{
			{Type: "container", Action: "create", Actor: events.Actor{ID: "old", Attributes: map[string]string{"name": "p-old"}}, TimeNano: now.Add(-time.Hour).UnixNano()},
			{Type: "container", Action: "create", Actor: events.Actor{ID: "1", Attributes: map[string]string{"name": "p-1", "k": "v"}}, TimeNano: now.Add(time.Second).UnixNano()},
			{Type: "container", Action: "create", Actor: events.Actor{ID: "2", Attributes: map[string]string{"name": "q-2", "k": "v"}}, TimeNano: now.Add(time.Second).UnixNano()},
			{Type: "container", Action: "exec_start: x", Actor: events.Actor{ID: "1", Attributes: map[string]string{"name": "p-1", "k": "v"}}, TimeNano: now.Add(time.Second).UnixNano()},
			{Type: "container", Action: "die", Actor: events.Actor{ID: "1", Attributes: map[string]string{"name": "p-1", "k": "v", "exitCode": "7"}}, TimeNano: now.Add(2 * time.Second).UnixNano()},
			{Type: "container", Action: "destroy", Actor: events.Actor{ID: "1", Attributes: map[string]string{"name": "p-1", "k": "v"}}, TimeNano: now.Add(3 * time.Second).UnixNano()},
		}
		for _, m := range msgs {
			_ = enc.Encode(m)
		}
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	})
	rt := f.runtime()
	st, err := rt.Events(context.Background(), ctrgate.EventFilter{NamePrefix: "p-", Labels: map[string]string{"k": "v"}})
	require.NoError(t, err)
	var got []string
	for len(got) < 3 {
		ev, err := st.Next()
		require.NoError(t, err)
		got = append(got, fmt.Sprintf("%s %s %d", ev.Type, ev.Name, ev.ExitCode))
	}
	assert.Equal(t, []string{"create p-1 0", "die p-1 7", "remove p-1 0"}, got)
	require.NoError(t, st.Close())
	_, err = st.Next()
	assert.ErrorIs(t, err, io.EOF)

	q := f.last("/events").URL.Query()
	args, err := filters.FromJSON(q.Get("filters"))
	require.NoError(t, err)
	assert.Equal(t, []string{"container"}, args.Get("type"))
	assert.Equal(t, []string{"k=v"}, args.Get("label"))
	assert.NotEmpty(t, q.Get("since"))
}

// podmanFake is a fake API that answers /version like Podman 4.3's
// compatibility service.
func podmanFake(t *testing.T) *fakeAPI {
	f := newFakeAPI(t)
	f.handle("GET /version", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, map[string]any{"Version": "4.3.1", "ApiVersion": "1.41",
			"Components": []map[string]any{{"Name": "Podman Engine", "Version": "4.3.1"}}})
	})
	return f
}

func TestPodmanFollowPolls(t *testing.T) {
	f := podmanFake(t)
	var mu sync.Mutex
	inspects, reads := 0, 0
	f.handle("GET /containers/c/json", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		inspects++
		status := "running"
		if inspects > 3 {
			status = "exited"
		}
		mu.Unlock()
		writeJSON(w, 200, map[string]any{"Id": "c", "Name": "c", "State": map[string]any{"Status": status}})
	})
	// The log grows by 20 lines per read while the container runs, all
	// within one second (Podman's
	// timestamps have whole-second precision); a line may be split into two
	// records. Since is honoured at second precision.
	const n = 70
	ts := "2024-05-01T10:00:00Z "
	var sinces []string
	f.handle("GET /containers/c/logs", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		assert.Empty(t, q.Get("follow"), "Podman is polled, never followed")
		mu.Lock()
		reads++
		upto := min(20*reads, n)
		if inspects > 3 { // exited: the whole output is in the log
			upto = n
		}
		sinces = append(sinces, q.Get("since"))
		mu.Unlock()
		w.WriteHeader(200)
		var b []byte
		for i := 1; i <= upto; i++ {
			if i%7 == 0 {
				b = append(b, frame(1, ts+"li")...)
				b = append(b, frame(1, fmt.Sprintf("%sne %d\n", ts, i))...)
				continue
			}
			b = append(b, frame(1+byte(i%2), fmt.Sprintf("%sline %d\n", ts, i))...)
		}
		_, _ = w.Write(b)
	})
	rt := f.runtime()
	require.True(t, rt.IsPodman())
	st, err := rt.Logs(context.Background(), "c", ctrgate.LogOptions{Follow: true})
	require.NoError(t, err)
	defer st.Close()
	var got []string
	for {
		l, err := st.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err)
		got = append(got, l.Text)
	}
	require.Len(t, got, n)
	for i, l := range got {
		assert.Equal(t, fmt.Sprintf("line %d", i+1), l)
	}
	mu.Lock()
	defer mu.Unlock()
	assert.Equal(t, 5, reads, "one read per poll, the last one begun after the exit was seen, and the completion's plain read")
	assert.Equal(t, "", sinces[0])
	want := fmt.Sprintf("%d.000000000", time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC).Unix())
	for _, s := range sinces[1:4] {
		assert.Equal(t, want, s, "later polls start at the second of the last frame")
	}
	assert.Equal(t, "", sinces[4], "the completion reads the whole log once more")
}

func TestPodmanOldGPURequestRefused(t *testing.T) {
	f := podmanFake(t)
	rt := f.runtime()
	_, err := rt.Create(context.Background(), ctrgate.ContainerSpec{Name: "g", Image: "img", GPUs: ctrgate.GPURequest{All: true},
		Env: []ctrgate.EnvVar{{Name: "X", Value: "hunter2", Secret: true}}})
	var ge *ctrgate.GPUConfigError
	require.ErrorAs(t, err, &ge)
	assert.ErrorIs(t, err, ctrgate.ErrUnsupported)
	assert.Contains(t, err.Error(), "Podman 4.3.1")
	assert.Nil(t, f.last("/containers/create"), "refused before any engine call")
}

func TestPodmanForceRemoveExitRace(t *testing.T) {
	f := podmanFake(t)
	calls := 0
	f.handle("DELETE /containers/c", func(w http.ResponseWriter, r *http.Request) {
		calls++
		if calls < 3 {
			writeJSON(w, 500, map[string]string{"message": "cannot remove container c as it could not be stopped: sending SIGKILL to container c: container state improper: stopped"})
			return
		}
		w.WriteHeader(204)
	})
	rt := f.runtime()
	require.NoError(t, rt.Remove(context.Background(), "c", ctrgate.RemoveOptions{Force: true}))
	assert.Equal(t, 3, calls)
}

// stdioProxy connects stdin/stdout to a TCP address.
func stdioProxy(addr string) int {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return 1
	}
	go func() { _, _ = io.Copy(c, os.Stdin); _ = c.(*net.TCPConn).CloseWrite() }()
	_, _ = io.Copy(os.Stdout, c)
	return 0
}

func TestSSHHost(t *testing.T) {
	f := newFakeAPI(t)
	f.handle("GET /containers/c/json", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, map[string]any{"Id": "c1", "Name": "/c", "State": map[string]any{"Status": "running"}})
	})
	dir := t.TempDir()
	script := "#!/bin/sh\necho \"$@\" >> " + filepath.Join(dir, "args") + "\nexec \"$DOCKER_FAKE_SSH_BIN\"\n"
	require.NoError(t, os.WriteFile(filepath.Join(dir, "ssh"), []byte(script), 0o755))
	t.Setenv("PATH", dir+string(os.PathListSeparator)+os.Getenv("PATH"))
	t.Setenv("DOCKER_FAKE_SSH_BIN", os.Args[0])
	t.Setenv("DOCKER_FAKE_SSH_TARGET", strings.TrimPrefix(f.srv.URL, "http://"))

	rt, err := New(context.Background(), Config{Host: "ssh://deploy@build-host:2222"})
	require.NoError(t, err)
	c, err := rt.Inspect(context.Background(), "c")
	require.NoError(t, err)
	assert.Equal(t, "c1", c.ID)
	require.NoError(t, rt.Close())

	args, err := os.ReadFile(filepath.Join(dir, "args"))
	require.NoError(t, err)
	assert.Contains(t, string(args), "-o BatchMode=yes -o StrictHostKeyChecking=yes -o ServerAliveInterval=5 -o ServerAliveCountMax=2 -l deploy -p 2222 -- build-host docker system dial-stdio")
}

func TestLayerRedactsMarkedSecrets(t *testing.T) {
	f := newFakeAPI(t)
	f.handle("GET /images/img/json", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, map[string]any{"Id": "sha256:1"})
	})
	f.handle("POST /containers/create", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 201, map[string]any{"Id": "cid"})
	})
	f.handle("GET /containers/c/json", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, map[string]any{"Id": "cid", "Name": "/c", "Config": map[string]any{"Env": []string{"CTG_X=marked-123", "API_TOKEN=tok-456"}}})
	})
	f.fail("POST /containers/c/start", 500, "OCI runtime create failed: env CTG_X=marked-123 API_TOKEN=tok-456 rejected")
	f.fail("POST /containers/c/exec", 409, "Container cid is not running (CTG_X=marked-123)")
	rt := ctrgate.Enforce(BackendName, f.runtime()) // the layer redacts what the driver reports
	ctx := context.Background()
	_, err := rt.Create(ctx, ctrgate.ContainerSpec{Name: "c", Image: "img", Env: []ctrgate.EnvVar{
		{Name: "CTG_X", Value: "marked-123", Secret: true}, {Name: "API_TOKEN", Value: "tok-456"}}})
	require.NoError(t, err)
	err = rt.Start(ctx, "c")
	require.Error(t, err)
	for _, txt := range []string{err.Error(), fmt.Sprintf("%+v", err)} {
		assert.NotContains(t, txt, "marked-123")
		assert.NotContains(t, txt, "tok-456")
	}
	_, err = rt.Exec(ctx, "c", ctrgate.ExecOptions{Cmd: []string{"true"}})
	assert.ErrorIs(t, err, ctrgate.ErrNotRunning)
	assert.NotContains(t, err.Error(), "marked-123")
}

func TestRegisteredBackend(t *testing.T) {
	assert.Contains(t, backend.Backends(), backend.Docker)
	f := newFakeAPI(t)
	host := "tcp://" + strings.TrimPrefix(f.srv.URL, "http://")
	rt, err := backend.Open(context.Background(), backend.Config{Backend: backend.Docker,
		Options: map[string]string{backend.OptHost: host, backend.OptTimeout: "5s"}})
	require.NoError(t, err)
	info, err := rt.Info(context.Background())
	require.NoError(t, err)
	assert.Equal(t, &ctrgate.EngineInfo{Backend: "docker", Engine: "docker", Version: "20.10.24", APIVersion: "1.41",
		Rootless: true, CgroupVersion: "v2", OCIRuntime: "runc"}, info)
	assert.Equal(t, 5*time.Second, ctrgate.Layer(rt).CallTimeout(), "the layer applies the option")
	require.NoError(t, rt.Close())

	_, err = backend.Open(context.Background(), backend.Config{Backend: backend.Docker,
		Options: map[string]string{backend.OptHost: "unix:///nonexistent/docker.sock"}})
	assert.ErrorIs(t, err, ctrgate.ErrEngineUnavailable)
	_, err = backend.Open(context.Background(), backend.Config{Backend: backend.Docker,
		Options: map[string]string{backend.OptHost: host, backend.OptTimeout: "soon"}})
	assert.ErrorIs(t, err, ctrgate.ErrInvalidSpec)
}

// TestFollowCompletion: a followed stream that the engine ends in the
// middle of a line, before the end of the log, is completed from a plain
// read by logstream.Complete: every line once, in order.
func TestFollowCompletion(t *testing.T) {
	f := newFakeAPI(t)
	var mu sync.Mutex
	inspects := 0
	f.handle("GET /containers/c/json", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		inspects++
		status := "running"
		if inspects > 1 {
			status = "exited"
		}
		mu.Unlock()
		writeJSON(w, 200, map[string]any{"Id": "c", "Name": "/c", "State": map[string]any{"Status": status}})
	})
	base := time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)
	stamp := func(i int) string { return base.Add(time.Duration(i)*time.Millisecond).Format(time.RFC3339Nano) + " " }
	f.handle("GET /containers/c/logs", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		assert.Empty(t, q.Get("tail"))
		w.WriteHeader(200)
		var b []byte
		for i := 1; i <= 8; i++ {
			b = append(b, frame(1, stamp(i)+fmt.Sprintf("line %d\n", i))...)
		}
		b = append(b, frame(2, stamp(9)+"err 9\n")...)
		if q.Get("follow") == "1" {
			b = append(b, frame(1, stamp(10)+"li")...) // ends in the middle of line 10
		} else {
			b = append(b, frame(1, stamp(10)+"line 10\n")...)
			b = append(b, frame(1, stamp(11)+"line 11")...)
		}
		_, _ = w.Write(b)
	})
	rt := f.runtime()
	st, err := rt.Logs(context.Background(), "c", ctrgate.LogOptions{Follow: true})
	require.NoError(t, err)
	defer st.Close()
	var (
		got []string
		j   ctrgate.LineJoiner
	)
	for {
		l, err := st.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err)
		if l, ok := j.Add(l); ok {
			got = append(got, fmt.Sprintf("%s:%s", l.Stream, l.Text))
		}
	}
	for _, l := range j.Flush() {
		got = append(got, fmt.Sprintf("%s:%s", l.Stream, l.Text))
	}
	var want []string
	for i := 1; i <= 8; i++ {
		want = append(want, fmt.Sprintf("stdout:line %d", i))
	}
	want = append(want, "stderr:err 9", "stdout:line 10", "stdout:line 11")
	assert.Equal(t, want, got)
}

func TestPodmanFollowWithTail(t *testing.T) {
	f := podmanFake(t)
	var mu sync.Mutex
	reads := 0
	f.handle("GET /containers/c/json", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		status := "running"
		if reads >= 2 {
			status = "exited"
		}
		mu.Unlock()
		writeJSON(w, 200, map[string]any{"Id": "c", "Name": "c", "State": map[string]any{"Status": status}})
	})
	ts := "2024-05-01T10:00:00Z "
	f.handle("GET /containers/c/logs", func(w http.ResponseWriter, r *http.Request) {
		assert.Empty(t, r.URL.Query().Get("tail"), "Tail is applied by the backend")
		mu.Lock()
		reads++
		upto := 10 * reads // 10 lines, then 20
		mu.Unlock()
		w.WriteHeader(200)
		var b []byte
		for i := 1; i <= min(upto, 20); i++ {
			b = append(b, frame(1, fmt.Sprintf("%sline %d\n", ts, i))...)
		}
		_, _ = w.Write(b)
	})
	rt := f.runtime()
	st, err := rt.Logs(context.Background(), "c", ctrgate.LogOptions{Follow: true, Tail: 3})
	require.NoError(t, err)
	defer st.Close()
	var got []string
	for {
		l, err := st.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err)
		got = append(got, l.Text)
	}
	var want []string
	for i := 8; i <= 20; i++ {
		want = append(want, fmt.Sprintf("line %d", i))
	}
	assert.Equal(t, want, got, "the last 3 lines at the call, then everything after")
}

func TestWaitRetriesTransientPodmanError(t *testing.T) {
	f := podmanFake(t)
	var mu sync.Mutex
	waits := 0
	f.handle("GET /containers/c/json", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		status := "running"
		if waits > 0 {
			status = "exited"
		}
		mu.Unlock()
		writeJSON(w, 200, map[string]any{"Id": "c", "Name": "c", "State": map[string]any{"Status": status, "ExitCode": 5}})
	})
	f.handle("POST /containers/c/wait", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		waits++
		mu.Unlock()
		writeJSON(w, 500, map[string]string{"message": "read /proc/17033/cgroup: no such process"})
	})
	rt := f.runtime()
	code, err := rt.Wait(context.Background(), "c")
	require.NoError(t, err)
	assert.Equal(t, 5, code)
}

// TestWaitRetriesLongTransientWindow: under load Podman's transient wait
// failure lasted longer than three quick retries (150 ms); Wait keeps
// looking for up to driver.TransientWaitFor.
func TestWaitRetriesLongTransientWindow(t *testing.T) {
	f := podmanFake(t)
	var mu sync.Mutex
	var firstWait time.Time
	exited := func() bool { return !firstWait.IsZero() && time.Since(firstWait) > 700*time.Millisecond }
	f.handle("GET /containers/c/json", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		status := "running"
		if exited() {
			status = "exited"
		}
		mu.Unlock()
		writeJSON(w, 200, map[string]any{"Id": "c", "Name": "c", "State": map[string]any{"Status": status, "ExitCode": 7}})
	})
	f.handle("POST /containers/c/wait", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		if firstWait.IsZero() {
			firstWait = time.Now()
		}
		mu.Unlock()
		writeJSON(w, 500, map[string]string{"message": "read /proc/17033/cgroup: no such process"})
	})
	rt := f.runtime()
	code, err := rt.Wait(context.Background(), "c")
	require.NoError(t, err, "the transient failure lasted 0.7 s")
	assert.Equal(t, 7, code)
}

func TestEventsRefusedAtCall(t *testing.T) {
	f := newFakeAPI(t)
	f.fail("GET /events", 500, "events backend is broken")
	rt := f.runtime()
	_, err := rt.Events(context.Background(), ctrgate.EventFilter{})
	require.Error(t, err)
	var ee *ctrgate.EngineError
	assert.ErrorAs(t, err, &ee)
	assert.Contains(t, err.Error(), "events backend is broken")
}

// Podman 4.3's compatibility /info has no "name=rootless" even when the
// service is rootless (Podman 5.4's has), and no Podman says its rootless
// network mode there: Info asks the libpod API.
func TestPodmanRootlessFromLibpod(t *testing.T) {
	for _, tc := range []struct {
		name     string
		libpod   func(w http.ResponseWriter, r *http.Request)
		rootless bool
	}{
		{"rootless 4.3", func(w http.ResponseWriter, r *http.Request) {
			writeJSON(w, 200, map[string]any{"host": map[string]any{"security": map[string]any{"rootless": true}}})
		}, true},
		{"rootless 5.4", func(w http.ResponseWriter, r *http.Request) {
			writeJSON(w, 200, map[string]any{"host": map[string]any{"rootlessNetworkCmd": "pasta", "security": map[string]any{"rootless": true}}})
		}, true},
		{"rootful 4.3", func(w http.ResponseWriter, r *http.Request) {
			writeJSON(w, 200, map[string]any{"host": map[string]any{"security": map[string]any{"rootless": false}}})
		}, false},
		{"no libpod API", nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := podmanFake(t)
			f.handle("GET /info", func(w http.ResponseWriter, r *http.Request) {
				writeJSON(w, 200, map[string]any{"DefaultRuntime": "runc", "CgroupVersion": "1",
					"SecurityOptions": []string{"name=seccomp,profile=default"}})
			})
			if tc.libpod != nil {
				f.handle("GET /v4.0.0/libpod/info", tc.libpod)
			}
			info, err := f.runtime().Info(context.Background())
			require.NoError(t, err)
			assert.Equal(t, "podman", info.Engine)
			assert.Equal(t, tc.rootless, info.Rootless)
			assert.Equal(t, "v1", info.CgroupVersion)
			if tc.name == "rootless 5.4" {
				assert.Equal(t, "pasta", info.RootlessNetworkMode, "from the libpod API: the rootless helpers pick pasta")
			} else {
				assert.Empty(t, info.RootlessNetworkMode)
			}
		})
	}
}

// TestEventsDeadlineIsEngineError: when the caller's context ends, the
// stream's error is an *EngineError of Events wrapping ctx.Err(), as every
// other error of the backend is.
func TestEventsDeadlineIsEngineError(t *testing.T) {
	f := newFakeAPI(t)
	f.handle("GET /events", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(200)
		w.(http.Flusher).Flush()
		<-r.Context().Done() // an engine with nothing to say
	})
	rt := f.runtime()
	defer rt.Close()
	for _, end := range []struct {
		name string
		want error
		ctx  func() (context.Context, context.CancelFunc)
	}{
		{"deadline", context.DeadlineExceeded, func() (context.Context, context.CancelFunc) {
			return context.WithTimeout(context.Background(), 300*time.Millisecond)
		}},
		{"cancel", context.Canceled, func() (context.Context, context.CancelFunc) {
			ctx, cancel := context.WithCancel(context.Background())
			time.AfterFunc(300*time.Millisecond, cancel)
			return ctx, cancel
		}},
	} {
		t.Run(end.name, func(t *testing.T) {
			ctx, cancel := end.ctx()
			defer cancel()
			es, err := rt.Events(ctx, ctrgate.EventFilter{})
			require.NoError(t, err)
			defer es.Close()
			_, err = es.Next()
			require.ErrorIs(t, err, end.want)
			var ee *ctrgate.EngineError
			require.ErrorAs(t, err, &ee, "%v", err)
			assert.Equal(t, ctrgate.OpEvents, ee.Op)
			assert.Equal(t, BackendName, ee.Backend)
		})
	}
}

func TestBrokenConnectionIsEngineUnavailable(t *testing.T) {
	for _, err := range []error{io.ErrUnexpectedEOF, fmt.Errorf("read: %w", syscall.ECONNRESET)} {
		got := (*Runtime)(nil).mapErr(context.Background(), ctrgate.OpLogs, "c", err)
		assert.ErrorIs(t, got, ctrgate.ErrEngineUnavailable, "%v", err)
	}
}

func TestPlainTCPRefused(t *testing.T) {
	t.Setenv("DOCKER_CERT_PATH", "")
	_, err := New(context.Background(), Config{Host: "tcp://192.0.2.7:2375", PingTimeout: time.Millisecond})
	require.ErrorIs(t, err, ctrgate.ErrInvalidSpec, "refused before any connection")
	assert.Contains(t, err.Error(), "allow_plain_tcp")
	_, err = New(context.Background(), Config{Host: "tcp://192.0.2.7:2375", PingTimeout: time.Millisecond, AllowPlainTCP: true})
	assert.ErrorIs(t, err, ctrgate.ErrEngineUnavailable, "allowed: it is tried (and nothing answers there)")
	_, err = backend.Open(context.Background(), backend.Config{Backend: backend.Docker,
		Options: map[string]string{backend.OptHost: "tcp://192.0.2.7:2375", "allow_plain_tcp": "maybe"}})
	assert.ErrorIs(t, err, ctrgate.ErrInvalidSpec)
}

func TestSSHHostKeyRefusal(t *testing.T) {
	dir := t.TempDir()
	// an ssh that refuses the host key as OpenSSH does, and says why
	script := "#!/bin/sh\necho \"$@\" > " + filepath.Join(dir, "args") + "\n" +
		"echo '@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@' >&2\n" +
		"echo '@    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @' >&2\n" +
		"echo 'The fingerprint for the ED25519 key sent by the remote host is' >&2\n" +
		"echo 'SHA256:Zm9vYmFyYmF6cXV4cXV1eHF1dXhxdXV4cXV1eHF1dXg' >&2\n" +
		"echo 'Host key verification failed.' >&2\nexit 255\n"
	require.NoError(t, os.WriteFile(filepath.Join(dir, "ssh"), []byte(script), 0o755))
	t.Setenv("PATH", dir+string(os.PathListSeparator)+os.Getenv("PATH"))
	known := filepath.Join(dir, "known_hosts")
	_, err := New(context.Background(), Config{Host: "ssh://root@build-host:2222", KnownHosts: known, PingTimeout: 5 * time.Second})
	var hke *ctrgate.HostKeyError
	require.ErrorAs(t, err, &hke)
	assert.ErrorIs(t, err, ctrgate.ErrEngineUnavailable)
	assert.True(t, hke.Changed)
	assert.Equal(t, "[build-host]:2222", hke.Host)
	assert.Equal(t, known, hke.KnownHosts)
	assert.Equal(t, "SHA256:Zm9vYmFyYmF6cXV4cXV1eHF1dXhxdXV4cXV1eHF1dXg", hke.Fingerprint)
	args, err := os.ReadFile(filepath.Join(dir, "args"))
	require.NoError(t, err)
	assert.Contains(t, string(args), "-o StrictHostKeyChecking=yes -o ServerAliveInterval=5 -o ServerAliveCountMax=2 -o UserKnownHostsFile="+known)

	_, _ = New(context.Background(), Config{Host: "ssh://root@build-host", AcceptNewHostKeys: true, PingTimeout: 5 * time.Second})
	args, err = os.ReadFile(filepath.Join(dir, "args"))
	require.NoError(t, err)
	assert.Contains(t, string(args), "-o StrictHostKeyChecking=accept-new")
}

// TestSSHRefusalSeenOnWrite: ssh may refuse the host key and end before
// the first request is written; the write then fails (its stdin closed) and
// must say why, as a read does (CI: TestSSHHostKeyRefusal saw "write |1:
// file already closed" on a busy machine).
func TestSSHRefusalSeenOnWrite(t *testing.T) {
	refusal := errors.New("host key refused")
	refused := func(stderr string) error {
		if strings.Contains(stderr, "Host key verification failed") {
			return refusal
		}
		return nil
	}
	c, err := newCommandConn(context.Background(), refused, "sh", "-c", "echo 'Host key verification failed.' >&2; exit 255")
	require.NoError(t, err)
	defer c.Close()
	<-c.(*commandConn).waited // ended, and its stdin closed by the wait
	_, err = c.Write([]byte("HEAD /_ping HTTP/1.1\r\n\r\n"))
	require.ErrorIs(t, err, refusal)
	_, err = c.Read(make([]byte, 1))
	require.ErrorIs(t, err, refusal)

	// a process that ended for another reason: the write's own error
	c2, err := newCommandConn(context.Background(), refused, "sh", "-c", "echo 'Connection refused' >&2; exit 255")
	require.NoError(t, err)
	defer c2.Close()
	<-c2.(*commandConn).waited
	_, err = c2.Write([]byte("x"))
	require.Error(t, err)
	assert.NotErrorIs(t, err, refusal)
}

// TestListAsksOnlyWhatItNeeds: a runtime that only lists (`ctrgate ps`)
// makes one ping and its request, as the docker CLI does: what the engine
// is (its /version) is asked on first need, once; Info asks it afresh.
func TestListAsksOnlyWhatItNeeds(t *testing.T) {
	f := newFakeAPI(t)
	f.handle("GET /containers/json", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, 200, []any{}) })
	rt := f.runtime()
	_, err := rt.List(context.Background(), ctrgate.ListFilter{All: true})
	require.NoError(t, err)
	assert.Equal(t, []string{"HEAD /_ping", "GET /containers/json"}, f.paths())

	assert.False(t, rt.IsPodman())
	assert.False(t, rt.IsPodman())
	_, err = rt.Info(context.Background())
	require.NoError(t, err)
	assert.Equal(t, []string{"HEAD /_ping", "GET /containers/json", "GET /version", "GET /version", "GET /info"}, f.paths(),
		"the engine's facts asked once (IsPodman twice), Info asks the engine as it is now")
}
