package main

import (
	"bytes"
	"context"
	"io"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ctrgate/ctrgate"
	"github.com/ctrgate/ctrgate/fake"
)

// specRecorder keeps the spec of the last Create.
type specRecorder struct {
	ctrgate.ContainerRuntime
	got *ctrgate.ContainerSpec
}

func (r specRecorder) Create(ctx context.Context, spec ctrgate.ContainerSpec) (string, error) {
	*r.got = spec
	return r.ContainerRuntime.Create(ctx, spec)
}

func (r specRecorder) Close() error { return nil }

// runFlagsSetting lists, for every leaf field of ctrgate.ContainerSpec
// (nested structs and slice elements by field name), `ctrgate run`
// arguments that set it. TestRunFlagsCoverSpec fails when a field has none.
var runFlagsSetting = map[string][]string{
	"Name":                  {"--name", "flags-name"},
	"Image":                 {},
	"PullPolicy":            {"--pull", "never"},
	"Command":               {},
	"Entrypoint":            {"--entrypoint", "/testprog"},
	"Env.Name":              {"-e", "A=1"},
	"Env.Value":             {"-e", "A=1"},
	"Env.Secret":            {"--secret-env", "S=x"},
	"Labels":                {"-l", "a=b"},
	"Annotations":           {"--annotation", "a=b"},
	"Mounts.Type":           {"-v", "/tmp:/mnt"},
	"Mounts.Source":         {"-v", "/tmp:/mnt"},
	"Mounts.Target":         {"-v", "/tmp:/mnt"},
	"Mounts.ReadOnly":       {"-v", "/tmp:/mnt:ro"},
	"Mounts.Relabel":        {"-v", "/tmp:/mnt:Z"},
	"Mounts.Size":           {"--tmpfs", "/scratch:size=1m"},
	"Ports.HostIP":          {"-p", "127.0.0.1:8080:80"},
	"Ports.HostPort":        {"-p", "8080:80"},
	"Ports.ContainerPort":   {"-p", "80"},
	"Ports.Protocol":        {"-p", "53/udp"},
	"Network.Mode":          {"--network", "none"},
	"Network.Name":          {"--network", "mynet"},
	"Network.Options":       {"--network", "slirp4netns:allow_host_loopback=true"},
	"ExtraHosts.Host":       {"--add-host", "db:10.0.0.2"},
	"ExtraHosts.IP":         {"--add-host", "db:10.0.0.2"},
	"User":                  {"--user", "1000:1000"},
	"UserNS.Mode":           {"--userns", "keep-id"},
	"UserNS.UID":            {"--userns", "keep-id:uid=1000"},
	"UserNS.GID":            {"--userns", "keep-id:gid=1000"},
	"WorkDir":               {"-w", "/tmp"},
	"Hostname":              {"--hostname", "box"},
	"GPUs.All":              {"--gpus", "all"},
	"GPUs.Devices":          {"--gpus", "0"},
	"CapAdd":                {"--cap-add", "NET_ADMIN"},
	"CapDrop":               {"--cap-drop", "ALL"},
	"SecurityOpt":           {"--security-opt", "label=disable"},
	"NoNewPrivileges":       {"--security-opt", "no-new-privileges"},
	"ReadOnlyRootfs":        {"--read-only"},
	"Resources.MemoryBytes": {"--memory", "64m"},
	"Resources.CPUs":        {"--cpus", "1.5"},
	"Resources.PidsLimit":   {"--pids-limit", "100"},
	"Ulimits.Name":          {"--ulimit", "nofile=1024:2048"},
	"Ulimits.Soft":          {"--ulimit", "nofile=1024:2048"},
	"Ulimits.Hard":          {"--ulimit", "nofile=1024:2048"},
	"Init":                  {"--init"},
	"StopSignal":            {"--stop-signal", "SIGINT"},
	"StopTimeout":           {"--stop-timeout", "3"},
	"AutoRemove":            {"--rm"},
	"OCIRuntime":            {"--runtime", "runc"},
}

// specLeaves lists the leaf field paths of t ("Mounts.Size": a field of
// the elements of a slice of structs).
func specLeaves(t reflect.Type, prefix string) []string {
	var out []string
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		path := prefix + f.Name
		ft := f.Type
		if ft.Kind() == reflect.Slice && ft.Elem().Kind() == reflect.Struct {
			ft = ft.Elem()
		}
		if ft.Kind() == reflect.Struct && ft != reflect.TypeOf(time.Time{}) {
			out = append(out, specLeaves(ft, path+".")...)
			continue
		}
		out = append(out, path)
	}
	return out
}

// fieldSet reports whether the field at path is non-zero in v (for a
// slice of structs: in any element).
func fieldSet(v reflect.Value, path []string) bool {
	if v.Kind() == reflect.Slice && v.Type().Elem().Kind() == reflect.Struct {
		for i := 0; i < v.Len(); i++ {
			if fieldSet(v.Index(i), path) {
				return true
			}
		}
		return false
	}
	if len(path) == 0 {
		return !v.IsZero()
	}
	return fieldSet(v.FieldByName(path[0]), path[1:])
}

func TestRunFlagsCoverSpec(t *testing.T) {
	leaves := specLeaves(reflect.TypeOf(ctrgate.ContainerSpec{}), "")
	require.NotEmpty(t, leaves)
	for _, leaf := range leaves {
		if _, ok := runFlagsSetting[leaf]; !ok {
			t.Errorf("ContainerSpec.%s has no `ctrgate run` flag: add one (cmd_run.go) and a row in runFlagsSetting", leaf)
		}
	}
	for path, args := range runFlagsSetting {
		t.Run(path, func(t *testing.T) {
			rt := fake.New(fake.WithCDIDevices("nvidia.com/gpu=0", "nvidia.com/gpu=all"))
			require.NoError(t, seedFake(rt))
			defer rt.Close()
			var got ctrgate.ContainerSpec
			var out, errb bytes.Buffer
			a := newApp(strings.NewReader(""), &out, &errb, func(string) string { return "" })
			a.open = func(context.Context, *app) (ctrgate.ContainerRuntime, error) {
				return specRecorder{ContainerRuntime: rt, got: &got}, nil
			}
			a.isTTY = func(io.Writer) bool { return false }
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			argv := append(append([]string{"run"}, args...), "testimage", "echo", "hi")
			a.main(ctx, argv)
			require.Equal(t, "testimage", got.Image, "Create was called for %v; stderr: %s", argv, errb.String())
			assert.True(t, fieldSet(reflect.ValueOf(got), strings.Split(path, ".")),
				"%v sets ContainerSpec.%s: got %+v", args, path, got)
		})
	}
}

func TestRunFlagValues(t *testing.T) {
	ns, err := parseUserNS("keep-id:uid=1000,gid=100")
	require.NoError(t, err)
	require.NotNil(t, ns.UID)
	require.NotNil(t, ns.GID)
	assert.Equal(t, ctrgate.UserNSKeepID, ns.Mode)
	assert.Equal(t, 1000, *ns.UID)
	assert.Equal(t, 100, *ns.GID)
	for _, bad := range []string{"bogus", "host:uid=1", "keep-id:uid=x", "keep-id:size=1"} {
		_, err := parseUserNS(bad)
		assert.Error(t, err, bad)
	}
	he, err := parseHostEntry("db:fd00::2")
	require.NoError(t, err)
	assert.Equal(t, ctrgate.HostEntry{Host: "db", IP: "fd00::2"}, he)
	_, err = parseHostEntry("db")
	assert.Error(t, err)
	n, err := parseSize("64m")
	require.NoError(t, err)
	assert.Equal(t, int64(64<<20), n)
	_, err = parseSize("lots")
	assert.Error(t, err)
	opts, nnp := splitNoNewPrivileges([]string{"label=disable", "no-new-privileges:true"})
	assert.Equal(t, []string{"label=disable"}, opts)
	assert.True(t, nnp)
	net, err := parseNetwork("pasta:--map-host-loopback,169.254.1.2")
	require.NoError(t, err)
	assert.Equal(t, ctrgate.NetworkSpec{Mode: ctrgate.NetworkPasta, Options: []string{"--map-host-loopback", "169.254.1.2"}}, net)
	_, err = parseNetwork("mynet:opt")
	assert.Error(t, err)
}
