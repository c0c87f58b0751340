package podmancli

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ctrgate/ctrgate"
	"github.com/ctrgate/ctrgate/backend"
	"github.com/ctrgate/ctrgate/internal/libpod"
)

func intp(i int) *int { return &i }

func fullSpec() ctrgate.ContainerSpec {
	return ctrgate.ContainerSpec{
		Name:       "web-1",
		Image:      "localhost/app:1",
		PullPolicy: ctrgate.PullNever,
		Command:    []string{"serve", "--port", "8080"},
		Entrypoint: []string{"/bin/app", "-v"},
		Env: []ctrgate.EnvVar{
			{Name: "MODE", Value: "prod"},
			{Name: "DB_PASSWORD", Value: "pw-very-secret"},
			{Name: "OPAQUE", Value: "marked-secret-value", Secret: true},
			{Name: "HTTPS_PROXY", Value: "http://user:proxy-secret@proxy:3128", Secret: true},
		},
		Labels:      map[string]string{"b": "2", "a": "1"},
		Annotations: map[string]string{"io.x": "y"},
		Mounts: []ctrgate.Mount{
			{Type: ctrgate.MountBind, Source: "/srv/data", Target: "/data", ReadOnly: true, Relabel: ctrgate.RelabelPrivate},
			{Type: ctrgate.MountVolume, Source: "cache", Target: "/cache"},
			{Type: ctrgate.MountTmpfs, Target: "/tmp", Size: 1 << 20},
		},
		Ports: []ctrgate.PortMapping{
			{HostIP: "127.0.0.1", HostPort: 8080, ContainerPort: 80},
			{ContainerPort: 53, Protocol: "udp"},
			{HostIP: "::1", ContainerPort: 443},
			{HostPort: 9000, ContainerPort: 9000},
		},
		Network:         ctrgate.NetworkSpec{Mode: ctrgate.NetworkSlirp4netns, Options: []string{"allow_host_loopback=true"}},
		ExtraHosts:      []ctrgate.HostEntry{{Host: "db", IP: "10.0.0.5"}},
		User:            "1000:1000",
		UserNS:          ctrgate.UserNSSpec{Mode: ctrgate.UserNSKeepID, UID: intp(1000), GID: intp(1000)},
		WorkDir:         "/work",
		Hostname:        "box",
		GPUs:            ctrgate.GPURequest{All: true},
		CapAdd:          []string{"NET_ADMIN"},
		CapDrop:         []string{"ALL"},
		SecurityOpt:     []string{"label=disable"},
		NoNewPrivileges: true,
		ReadOnlyRootfs:  true,
		Resources:       ctrgate.Resources{MemoryBytes: 256 << 20, CPUs: 1.5, PidsLimit: 100},
		Ulimits:         []ctrgate.Ulimit{{Name: "nofile", Soft: 1024, Hard: 2048}},
		Init:            true,
		StopSignal:      "SIGINT",
		StopTimeout:     1500 * time.Millisecond,
		AutoRemove:      true,
		OCIRuntime:      "runc",
	}
}

// pairs returns the values that follow flag in args.
func pairs(args []string, flag string) []string {
	var out []string
	for i := 0; i < len(args)-1; i++ {
		if args[i] == "--" {
			break
		}
		if args[i] == flag {
			out = append(out, args[i+1])
		}
	}
	return out
}

func TestCreateArgs(t *testing.T) {
	spec := fullSpec()
	require.NoError(t, ctrgate.ValidateSpec(spec))
	plan, err := planEnv(spec.Env)
	require.NoError(t, err)
	args := createArgs(spec, plan)

	assert.Equal(t, "create", args[0])
	dd := indexOf(args, "--")
	require.Positive(t, dd)
	assert.Equal(t, []string{"localhost/app:1", "serve", "--port", "8080"}, args[dd+1:], "image and command follow --")
	assert.Equal(t, []string{"web-1"}, pairs(args, "--name"))
	assert.Equal(t, []string{"never"}, pairs(args, "--pull"))
	assert.Equal(t, []string{`["/bin/app","-v"]`}, pairs(args, "--entrypoint"))
	assert.Equal(t, []string{"MODE=prod", "DB_PASSWORD", "OPAQUE", "NVIDIA_VISIBLE_DEVICES=all", "NVIDIA_DRIVER_CAPABILITIES=all"}, pairs(args, "--env"))
	assert.Equal(t, []string{"nvidia.com/gpu=all"}, pairs(args, "--device"))
	assert.Equal(t, []string{"a=1", "b=2"}, pairs(args, "--label"), "sorted")
	assert.Equal(t, []string{"io.x=y"}, pairs(args, "--annotation"))
	assert.Equal(t, []string{
		"type=bind,source=/srv/data,target=/data,ro=true,relabel=private",
		"type=volume,source=cache,target=/cache",
		"type=tmpfs,target=/tmp,tmpfs-size=1048576",
	}, pairs(args, "--mount"))
	assert.Equal(t, []string{"127.0.0.1:8080:80/tcp", "53/udp", "[::1]::443/tcp", "9000:9000/tcp"}, pairs(args, "--publish"))
	assert.Equal(t, []string{"slirp4netns:allow_host_loopback=true"}, pairs(args, "--network"))
	assert.Equal(t, []string{"db:10.0.0.5"}, pairs(args, "--add-host"))
	assert.Equal(t, []string{"1000:1000"}, pairs(args, "--user"))
	assert.Equal(t, []string{"keep-id:uid=1000,gid=1000"}, pairs(args, "--userns"))
	assert.Equal(t, []string{"/work"}, pairs(args, "--workdir"))
	assert.Equal(t, []string{"box"}, pairs(args, "--hostname"))
	assert.Equal(t, []string{"NET_ADMIN"}, pairs(args, "--cap-add"))
	assert.Equal(t, []string{"ALL"}, pairs(args, "--cap-drop"))
	assert.Equal(t, []string{"label=disable", "no-new-privileges"}, pairs(args, "--security-opt"))
	assert.Contains(t, args[:dd], "--read-only")
	assert.Contains(t, args[:dd], "--init")
	assert.Contains(t, args[:dd], "--rm")
	assert.Equal(t, []string{"268435456b"}, pairs(args, "--memory"))
	assert.Equal(t, []string{"1.5"}, pairs(args, "--cpus"))
	assert.Equal(t, []string{"100"}, pairs(args, "--pids-limit"))
	assert.Equal(t, []string{"nofile=1024:2048"}, pairs(args, "--ulimit"))
	assert.Equal(t, []string{strconv.Itoa(int(syscall.SIGINT))}, pairs(args, "--stop-signal"))
	assert.Equal(t, []string{"2"}, pairs(args, "--stop-timeout"), "rounded up to whole seconds")
	assert.Equal(t, []string{"runc"}, pairs(args, "--runtime"))

	// secrets never on the command line
	joined := strings.Join(args, " ")
	for _, s := range ctrgate.SecretValues(spec.Env) {
		assert.NotContains(t, joined, s)
	}
	assert.Equal(t, []string{"DB_PASSWORD=pw-very-secret", "OPAQUE=marked-secret-value"}, plan.childEnv)
	assert.Equal(t, []string{"HTTPS_PROXY=http://user:proxy-secret@proxy:3128"}, plan.fileEntries,
		"a secret podman would read itself goes through the env file")
}

func indexOf(s []string, x string) int {
	for i, v := range s {
		if v == x {
			return i
		}
	}
	return -1
}

func TestCreateArgsMinimalAndEntrypointReset(t *testing.T) {
	args := createArgs(ctrgate.ContainerSpec{Image: "img"}, envPlan{})
	assert.Equal(t, []string{"create", "--pull", "missing", "--", "img"}, args)
	args = createArgs(ctrgate.ContainerSpec{Image: "img", Entrypoint: []string{}}, envPlan{})
	assert.Equal(t, []string{""}, pairs(args, "--entrypoint"))
	// the spec's own NVIDIA variables win over the GPU defaults
	args = createArgs(ctrgate.ContainerSpec{Image: "img", GPUs: ctrgate.GPURequest{Devices: []string{"nvidia.com/gpu=0"}},
		Env: []ctrgate.EnvVar{{Name: "NVIDIA_DRIVER_CAPABILITIES", Value: "compute"}}},
		envPlan{args: []string{"--env", "NVIDIA_DRIVER_CAPABILITIES=compute"}})
	assert.Equal(t, []string{"NVIDIA_DRIVER_CAPABILITIES=compute", "NVIDIA_VISIBLE_DEVICES=all"}, pairs(args, "--env"))
	assert.Equal(t, []string{"nvidia.com/gpu=0"}, pairs(args, "--device"))
}

func TestPlanEnvRejectsLineBreakInFileSecret(t *testing.T) {
	_, err := planEnv([]ctrgate.EnvVar{{Name: "HOME", Value: "a\nb", Secret: true}})
	require.ErrorIs(t, err, ctrgate.ErrInvalidSpec)
	assert.NotContains(t, err.Error(), "a\nb")
	p, err := planEnv([]ctrgate.EnvVar{{Name: "API_TOKEN", Value: "multi\nline"}})
	require.NoError(t, err, "other secrets with line breaks go through podman's environment")
	assert.Equal(t, []string{"--env", "API_TOKEN"}, p.args)
}

func TestWriteEnvFile(t *testing.T) {
	path, cleanup, err := writeEnvFile([]string{"A=1", "B=2"})
	require.NoError(t, err)
	st, err := os.Stat(path)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), st.Mode().Perm())
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, "A=1\nB=2\n", string(b))
	cleanup()
	_, err = os.Stat(path)
	assert.True(t, os.IsNotExist(err))
}

func TestListArgs(t *testing.T) {
	args := listArgs(ctrgate.ListFilter{NamePrefix: "ctg.a-", Labels: map[string]string{"team": "x", "any": ""}, All: true})
	assert.Equal(t, []string{"ps", "--format", "json", "--all", "--filter", `name=^ctg\.a-`,
		"--filter", "label=any", "--filter", "label=team=x"}, args)
	assert.Equal(t, []string{"ps", "--format", "json"}, listArgs(ctrgate.ListFilter{}))
}

func TestImportChanges(t *testing.T) {
	ch, err := importChanges(ctrgate.ImportOptions{
		Entrypoint: []string{"/testprog"},
		Cmd:        []string{"echo", `say "hi"`},
		Env:        []string{"A=b c", `Q=x"y\z`},
		WorkDir:    "/w",
		Labels:     map[string]string{"org.x": "v 1"},
	})
	require.NoError(t, err)
	assert.Equal(t, []string{
		`ENTRYPOINT ["/testprog"]`,
		`CMD ["echo","say \"hi\""]`,
		`ENV A="b c"`,
		`ENV Q="x\"y\\z"`,
		`WORKDIR /w`,
		`LABEL "org.x"="v 1"`,
	}, ch)
}

// Real podman 4.3.1 messages (captured with scripts/podman.sh's engine).
func TestClassify(t *testing.T) {
	for _, tc := range []struct {
		op, stderr string
		want       error
	}{
		{ctrgate.OpInspect, `Error: inspecting object: no such container "nosuch"`, ctrgate.ErrNotFound},
		{ctrgate.OpStart, `Error: no container with name or ID "nosuch" found: no such container`, ctrgate.ErrNotFound},
		{ctrgate.OpKill, "Error: can only kill running containers. 1f24cec2 is in state created: container state improper", ctrgate.ErrNotRunning},
		{ctrgate.OpRemove, "Error: cannot remove container 1b670b96 as it is running - running or paused containers cannot be removed without force: container state improper", ctrgate.ErrRunning},
		{ctrgate.OpCreate, `Error: creating container storage: the container name "fx-running" is already in use by 1b670b96. You have to remove that container to be able to reuse that name: that name is already in use`, ctrgate.ErrAlreadyExists},
		{ctrgate.OpCreate, "Error: localhost/nosuch:1: image not known", ctrgate.ErrImageNotFound},
		{ctrgate.OpCreate, "Trying to pull localhost/nosuch:1...\nError: initializing source docker://localhost/nosuch:1: pinging container registry localhost: Get \"https://localhost/v2/\": dial tcp 127.0.0.1:443: connect: connection refused", ctrgate.ErrImageNotFound},
		{ctrgate.OpRemoveImage, "Error: localhost/nosuch:1: image not known", ctrgate.ErrImageNotFound},
		{ctrgate.OpRemoveImage, "Error: image used by c52858f5: image is in use by a container: consider listing external containers and force-removing image", ctrgate.ErrRunning},
		{ctrgate.OpExec, "Error: can only create exec sessions on running containers: container state improper", ctrgate.ErrNotRunning},
		{ctrgate.OpCopyFrom, `Error: "/nosuch" could not be found on container fx-running: no such file or directory`, ctrgate.ErrNotFound},
		{ctrgate.OpCopyTo, `Error: container "nosuch" does not exist`, ctrgate.ErrNotFound},
		{ctrgate.OpInfo, "Error: unable to connect to Podman socket: Get \"http://d/v4.3.1/libpod/_ping\": dial unix /x/podman.sock: connect: no such file or directory", ctrgate.ErrEngineUnavailable},
		{ctrgate.OpCreate, "Error: mount /nonexistent: no such file or directory", nil},
	} {
		got := libpod.Classify(tc.op, errorText([]byte(tc.stderr)))
		assert.Equal(t, tc.want, got, "%s: %s", tc.op, tc.stderr)
	}
}

func TestFailureGPUAndRedaction(t *testing.T) {
	r := &Runtime{}
	err := r.failure(ctrgate.OpStart, "gpu-1", &result{code: 125,
		stderr: []byte("Error: setting up CDI devices: unresolvable CDI devices nvidia.com/gpu=all (TOKEN=abc123def)")})
	var gce *ctrgate.GPUConfigError
	require.ErrorAs(t, err, &gce)
	assert.Equal(t, ctrgate.GPUHint, gce.Hint)
	assert.NotContains(t, err.Error(), "abc123def")

	err = r.failure(ctrgate.OpCreate, "x", &result{code: 125, stderr: []byte("Error: bad value in spec")})
	var ee *ctrgate.EngineError
	require.ErrorAs(t, err, &ee)
	assert.Contains(t, err.Error(), "status 125")
}

func TestNewMissingBinary(t *testing.T) {
	_, err := New(Config{Binary: "/nonexistent/podman-xyz"})
	assert.ErrorIs(t, err, ctrgate.ErrEngineUnavailable)
	_, err = New(Config{Binary: "podman-does-not-exist-xyz"})
	assert.ErrorIs(t, err, ctrgate.ErrEngineUnavailable)
}

func TestConfigFromMap(t *testing.T) {
	t.Setenv(EnvRemote, "")
	t.Setenv("CONTAINER_HOST", "")
	t.Setenv("CONTAINER_CONNECTION", "")
	t.Setenv(EnvArgs, "--log-level error")
	cfg, err := ConfigFromMap(map[string]string{"binary": "/usr/bin/podman", "timeout": "30s", "env": "A=1\nB=2"})
	require.NoError(t, err)
	assert.Equal(t, "/usr/bin/podman", cfg.Binary)
	assert.Equal(t, []string{"--log-level", "error"}, cfg.GlobalArgs)
	assert.Equal(t, 30*time.Second, cfg.DefaultTimeout)
	assert.Equal(t, []string{"A=1", "B=2"}, cfg.Env)
	assert.True(t, cfg.Local)

	cfg, err = ConfigFromMap(map[string]string{"remote": "true", "socket": "unix:///x.sock"})
	require.NoError(t, err)
	assert.False(t, cfg.Local)
	assert.Equal(t, []string{"--url", "unix:///x.sock", "--log-level", "error"}, cfg.GlobalArgs)

	_, err = ConfigFromMap(map[string]string{"timeout": "soon"})
	assert.ErrorIs(t, err, ctrgate.ErrInvalidSpec)
}

// TestConfigFollowsPodmansEnvironment: with "remote" unset or auto,
// podman-cli does what podman does with CONTAINER_HOST or
// CONTAINER_CONNECTION (a remote client); "false" stays local.
func TestConfigFollowsPodmansEnvironment(t *testing.T) {
	t.Setenv(EnvRemote, "")
	t.Setenv(EnvArgs, "")
	t.Setenv("CONTAINER_CONNECTION", "")
	t.Setenv("CONTAINER_HOST", "ssh://core@h/run/podman/podman.sock")
	for _, remote := range []string{"", "auto"} {
		cfg, err := ConfigFromMap(map[string]string{"remote": remote})
		require.NoError(t, err)
		assert.False(t, cfg.Local, "remote=%q", remote)
		assert.Equal(t, []string{"--url", "ssh://core@h/run/podman/podman.sock"}, cfg.GlobalArgs, "remote=%q", remote)
	}
	cfg, err := ConfigFromMap(map[string]string{"remote": "false"})
	require.NoError(t, err)
	assert.True(t, cfg.Local, "false: local, CONTAINER_HOST dropped")
	assert.Empty(t, cfg.GlobalArgs)

	t.Setenv("CONTAINER_HOST", "")
	t.Setenv("CONTAINER_CONNECTION", "prod")
	cfg, err = ConfigFromMap(nil)
	require.NoError(t, err)
	assert.False(t, cfg.Local)
	assert.Equal(t, []string{"--connection", "prod"}, cfg.GlobalArgs)

	t.Setenv("CONTAINER_CONNECTION", "")
	cfg, err = ConfigFromMap(nil)
	require.NoError(t, err)
	assert.True(t, cfg.Local, "nothing named: local")
}

func TestChildEnvLocalDropsContainerHost(t *testing.T) {
	env := childEnv([]string{"CONTAINER_HOST=unix:///x", "PATH=/bin", "A=old"}, []string{"A=new"}, true)
	assert.Equal(t, []string{"PATH=/bin", "A=new"}, env)
	env = childEnv([]string{"CONTAINER_HOST=unix:///x"}, nil, false)
	assert.Equal(t, []string{"CONTAINER_HOST=unix:///x"}, env)
}

// fakePodman writes an executable standing in for podman.
func fakePodman(t *testing.T, script string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "podman")
	require.NoError(t, os.WriteFile(p, []byte("#!/bin/sh\n"+script), 0o755))
	return p
}

func TestDeadlineKillsWholeProcessGroup(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "grandchild.pid")
	bin := fakePodman(t, "sleep 60 &\necho $! > "+pidFile+"\nsleep 60\n")
	r, err := New(Config{Binary: bin})
	require.NoError(t, err)
	defer r.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = r.Inspect(ctx, "c1")
	require.Error(t, err)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Less(t, time.Since(start), 5*time.Second, "returns promptly")
	b, err := os.ReadFile(pidFile)
	require.NoError(t, err)
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		err := syscall.Kill(pid, 0)
		return errors.Is(err, syscall.ESRCH) || isZombie(pid)
	}, 5*time.Second, 50*time.Millisecond, "the grandchild in podman's process group is killed")
}

func isZombie(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return true
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i > 0 && strings.HasPrefix(strings.TrimSpace(s[i+1:]), "Z")
}

func TestDefaultTimeoutApplies(t *testing.T) {
	bin := fakePodman(t, "sleep 60\n")
	r, err := New(Config{Binary: bin, DefaultTimeout: 200 * time.Millisecond})
	require.NoError(t, err)
	defer r.Close()
	start := time.Now()
	_, err = r.Info(context.Background())
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Less(t, time.Since(start), 5*time.Second)
}

func TestExitStatusMapping(t *testing.T) {
	bin := fakePodman(t, `echo 'Error: no container with name or ID "x" found: no such container' >&2; exit 125`+"\n")
	r, err := New(Config{Binary: bin})
	require.NoError(t, err)
	defer r.Close()
	ctx := context.Background()
	assert.ErrorIs(t, r.Start(ctx, "x"), ctrgate.ErrNotFound)
	_, err = r.Exec(ctx, "x", ctrgate.ExecOptions{Cmd: []string{"true"}})
	assert.ErrorIs(t, err, ctrgate.ErrNotFound)
	_, err = r.List(ctx, ctrgate.ListFilter{})
	require.Error(t, err, "a failed query is an error, never an empty list")
}

func TestExecExitCodesAreResults(t *testing.T) {
	for _, code := range []int{1, 124, 125, 126, 127} {
		bin := fakePodman(t, "echo out; echo 'command said: Error' >&2; exit "+strconv.Itoa(code)+"\n")
		r, err := New(Config{Binary: bin})
		require.NoError(t, err)
		res, err := r.Exec(context.Background(), "c", ctrgate.ExecOptions{Cmd: []string{"x"}})
		require.NoError(t, err, "exit %d", code)
		assert.Equal(t, code, res.ExitCode)
		assert.Equal(t, "out\n", string(res.Stdout))
		require.NoError(t, r.Close())
	}
}

func TestSecretsReachPodmanOnlyThroughEnvironment(t *testing.T) {
	dir := t.TempDir()
	bin := fakePodman(t, `printf '%s\n' "$@" > `+dir+`/args
env > `+dir+`/env
for a in "$@"; do case "$a" in /*ctrgate-podman-env-*) cp "$a" `+dir+`/envfile;; esac; done
echo 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
`)
	r, err := New(Config{Binary: bin})
	require.NoError(t, err)
	defer r.Close()
	spec := ctrgate.ContainerSpec{Name: "s1", Image: "img", Env: []ctrgate.EnvVar{
		{Name: "API_TOKEN", Value: "tok-123456"},
		{Name: "PLAIN", Value: "visible"},
		{Name: "HOME", Value: "home-secret-xyz", Secret: true},
	}}
	id, err := r.Create(context.Background(), spec)
	require.NoError(t, err)
	assert.Equal(t, "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", id)
	args, err := os.ReadFile(filepath.Join(dir, "args"))
	require.NoError(t, err)
	assert.NotContains(t, string(args), "tok-123456")
	assert.NotContains(t, string(args), "home-secret-xyz")
	assert.Contains(t, string(args), "PLAIN=visible")
	env, err := os.ReadFile(filepath.Join(dir, "env"))
	require.NoError(t, err)
	assert.Contains(t, string(env), "API_TOKEN=tok-123456\n")
	assert.NotContains(t, string(env), "home-secret-xyz", "HOME of podman is untouched")
	ef, err := os.ReadFile(filepath.Join(dir, "envfile"))
	require.NoError(t, err)
	assert.Equal(t, "HOME=home-secret-xyz\n", string(ef))
	left, _ := filepath.Glob(filepath.Join(os.TempDir(), "ctrgate-podman-env-*"))
	assert.Empty(t, left, "the env file is removed")
}

func TestClosedRuntime(t *testing.T) {
	bin := fakePodman(t, "exit 0\n")
	r, err := New(Config{Binary: bin})
	require.NoError(t, err)
	require.NoError(t, r.Close())
	require.NoError(t, r.Close())
	_, err = r.Info(context.Background())
	assert.ErrorIs(t, err, ctrgate.ErrEngineUnavailable)
	_, err = r.Events(context.Background(), ctrgate.EventFilter{})
	assert.ErrorIs(t, err, ctrgate.ErrEngineUnavailable)
}

func TestValidationBeforeEngine(t *testing.T) {
	dir := t.TempDir()
	bin := fakePodman(t, "touch "+dir+"/called\n")
	r, err := New(Config{Binary: bin})
	require.NoError(t, err)
	defer r.Close()
	ctx := context.Background()
	_, err = r.Inspect(ctx, "--all")
	assert.ErrorIs(t, err, ctrgate.ErrInvalidSpec)
	_, err = r.Create(ctx, ctrgate.ContainerSpec{Image: "-x"})
	assert.ErrorIs(t, err, ctrgate.ErrInvalidSpec)
	assert.ErrorIs(t, r.Kill(ctx, "c", "SIGNOPE"), ctrgate.ErrInvalidSpec)
	_, err = r.List(ctx, ctrgate.ListFilter{NamePrefix: "-a"})
	assert.ErrorIs(t, err, ctrgate.ErrInvalidSpec)
	assert.ErrorIs(t, r.ImportImage(ctx, "UPPER", strings.NewReader(""), ctrgate.ImportOptions{}), ctrgate.ErrInvalidSpec)
	_, err = os.Stat(filepath.Join(dir, "called"))
	assert.True(t, os.IsNotExist(err), "podman was never run")
}

func TestExecPodmanFailureLocal255(t *testing.T) {
	bin := fakePodman(t, `echo 'Error: can only create exec sessions on running containers: container state improper' >&2; exit 255`+"\n")
	r, err := New(Config{Binary: bin})
	require.NoError(t, err)
	defer r.Close()
	_, err = r.Exec(context.Background(), "c", ctrgate.ExecOptions{Cmd: []string{"x"}})
	assert.ErrorIs(t, err, ctrgate.ErrNotRunning)

	bin = fakePodman(t, "echo 'Error: my own failure' >&2; exit 255\n")
	r2, err := New(Config{Binary: bin})
	require.NoError(t, err)
	defer r2.Close()
	res, err := r2.Exec(context.Background(), "c", ctrgate.ExecOptions{Cmd: []string{"x"}})
	require.NoError(t, err, "a command's own exit 255 is a result")
	assert.Equal(t, 255, res.ExitCode)
}

func TestRemoveForceMissing(t *testing.T) {
	// podman rm --force exits 0 and prints nothing for a missing container
	bin := fakePodman(t, "exit 0\n")
	r, err := New(Config{Binary: bin})
	require.NoError(t, err)
	defer r.Close()
	assert.ErrorIs(t, r.Remove(context.Background(), "gone", ctrgate.RemoveOptions{Force: true}), ctrgate.ErrNotFound)
	bin = fakePodman(t, "echo gone\n")
	r2, err := New(Config{Binary: bin})
	require.NoError(t, err)
	defer r2.Close()
	assert.NoError(t, r2.Remove(context.Background(), "gone", ctrgate.RemoveOptions{Force: true}))
}

func TestBackendConfig(t *testing.T) {
	t.Setenv(EnvRemote, "")
	t.Setenv("CONTAINER_HOST", "")
	t.Setenv("CONTAINER_CONNECTION", "")
	c, err := backendConfig(backend.Config{Backend: BackendName, Options: map[string]string{"socket": "unix:///s.sock", "timeout": "5s"}})
	require.NoError(t, err)
	assert.False(t, c.Local)
	assert.Equal(t, []string{"--url", "unix:///s.sock"}, c.GlobalArgs[:2])
	assert.Equal(t, 5*time.Second, c.DefaultTimeout)
	c, err = backendConfig(backend.Config{Backend: BackendName})
	require.NoError(t, err)
	assert.True(t, c.Local)
	assert.Contains(t, backend.Backends(), BackendName, "registered by init")
}

func TestUnreachableServiceIsEngineUnavailable(t *testing.T) {
	r, err := New(Config{GlobalArgs: []string{"--url", "unix://" + filepath.Join(t.TempDir(), "none.sock")}})
	if err != nil {
		assert.ErrorIs(t, err, ctrgate.ErrEngineUnavailable, "no podman binary")
		return
	}
	defer r.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err = r.Info(ctx)
	assert.ErrorIs(t, err, ctrgate.ErrEngineUnavailable)
	_, err = r.List(ctx, ctrgate.ListFilter{All: true})
	assert.ErrorIs(t, err, ctrgate.ErrEngineUnavailable)
	_, err = r.Inspect(ctx, "x")
	assert.ErrorIs(t, err, ctrgate.ErrEngineUnavailable)
	assert.NotErrorIs(t, err, ctrgate.ErrNotFound)
}

func TestLogsDefaultTimeoutIsAnError(t *testing.T) {
	bin := fakePodman(t, `case "$1" in
container) echo '[{"Id":"abc","Name":"c","State":{"Status":"running","Running":true}}]';;
logs) echo partial; sleep 30;;
esac
`)
	r, err := New(Config{Binary: bin, DefaultTimeout: 500 * time.Millisecond})
	require.NoError(t, err)
	defer r.Close()
	st, err := r.Logs(context.Background(), "c", ctrgate.LogOptions{})
	require.NoError(t, err)
	defer st.Close()
	l, err := st.Next()
	require.NoError(t, err)
	assert.Equal(t, "partial", l.Text)
	_, err = st.Next()
	assert.ErrorIs(t, err, context.DeadlineExceeded, "a cut-off log is not a complete one")
}

func TestUnixURL(t *testing.T) {
	assert.Equal(t, "/run/p.sock", unixURL([]string{"--url", "unix:///run/p.sock"}))
	assert.Equal(t, "/run/p.sock", unixURL([]string{"--log-level=error", "--url=unix:///run/p.sock"}))
	assert.Equal(t, "", unixURL([]string{"--url", "ssh://u@h/run/p.sock"}), "only a local socket can be checked")
	assert.Equal(t, "", unixURL([]string{"--root", "/x"}), "local mode")
}

func TestRemoteModeRefusedAtOnce(t *testing.T) {
	dir := t.TempDir()
	bin := fakePodman(t, "touch "+dir+"/called\n")
	sock := filepath.Join(dir, "gone.sock")
	d, err := NewDriver(Config{Binary: bin, GlobalArgs: []string{"--url", "unix://" + sock}})
	require.NoError(t, err)
	defer d.Close()
	began := time.Now()
	_, err = d.Info(context.Background())
	assert.ErrorIs(t, err, ctrgate.ErrEngineUnavailable)
	assert.Less(t, time.Since(began), time.Second)
	_, serr := os.Stat(filepath.Join(dir, "called"))
	assert.True(t, os.IsNotExist(serr), "podman was not run for a socket that takes no connection")
}

func TestPlainTCPRefused(t *testing.T) {
	bin := fakePodman(t, "exit 0\n")
	_, err := New(Config{Binary: bin, GlobalArgs: []string{"--url", "tcp://192.0.2.7:8888"}})
	require.ErrorIs(t, err, ctrgate.ErrInvalidSpec, "refused before podman runs")
	assert.Contains(t, err.Error(), "allow_plain_tcp")
	_, err = New(Config{Binary: bin, GlobalArgs: []string{"--url=tcp://192.0.2.7:8888"}, AllowPlainTCP: true})
	assert.NoError(t, err)
	_, err = New(Config{Binary: bin, GlobalArgs: []string{"--url", "tcp://127.0.0.1:8888"}})
	assert.NoError(t, err, "loopback")
	cfg, err := ConfigFromMap(map[string]string{"allow_plain_tcp": "true"})
	require.NoError(t, err)
	assert.True(t, cfg.AllowPlainTCP)
}

func TestPlainTCPRefusedFromTheEnvironment(t *testing.T) {
	bin := fakePodman(t, "exit 0\n")
	t.Setenv("CONTAINER_HOST", "tcp://192.0.2.7:8888")
	_, err := New(Config{Binary: bin, Local: false})
	assert.ErrorIs(t, err, ctrgate.ErrInvalidSpec, "podman would use CONTAINER_HOST")
	_, err = New(Config{Binary: bin, Local: true})
	assert.NoError(t, err, "local mode drops CONTAINER_HOST")
}
