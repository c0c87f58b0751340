package podmancli

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ctrgate/ctrgate"
)

func fixture(t *testing.T, parts ...string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(append([]string{"testdata"}, parts...)...))
	require.NoError(t, err)
	return b
}

func byName(cs []ctrgate.Container) map[string]ctrgate.Container {
	m := map[string]ctrgate.Container{}
	for _, c := range cs {
		m[c.Name] = c
	}
	return m
}

func TestParsePS431(t *testing.T) {
	cs, err := parsePS(fixture(t, "podman-4.3.1", "ps.json"))
	require.NoError(t, err)
	require.Len(t, cs, 3)
	m := byName(cs)

	created := m["fx-created"]
	assert.Equal(t, ctrgate.StateCreated, created.State.Status)
	assert.Equal(t, "created", created.State.Raw)
	assert.Equal(t, map[string]string{"app": "fx", "tier": "web"}, created.Labels)
	assert.Equal(t, "localhost/hello:1", created.Image)
	assert.Len(t, created.ID, 64)
	assert.Equal(t, int64(1795784847), created.Created.Unix(), "Created is unix seconds in 4.x")
	assert.True(t, created.State.StartedAt.IsZero(), "podman's -62135596800 means never")
	assert.Equal(t, []ctrgate.PortMapping{{HostIP: "127.0.0.1", HostPort: 18081, ContainerPort: 8080, Protocol: "tcp"}}, created.Ports)

	running := m["fx-running"]
	assert.Equal(t, ctrgate.StateRunning, running.State.Status)
	assert.True(t, running.State.Running())
	assert.Positive(t, running.State.Pid)
	assert.Equal(t, []ctrgate.PortMapping{
		{HostIP: "", HostPort: 18082, ContainerPort: 8080, Protocol: "udp"},
		{HostIP: "127.0.0.1", HostPort: 38999, ContainerPort: 9090, Protocol: "tcp"},
	}, running.Ports)

	exited := m["fx-exited"]
	assert.Equal(t, ctrgate.StateExited, exited.State.Status)
	assert.Equal(t, 3, exited.State.ExitCode)
	assert.False(t, exited.State.FinishedAt.IsZero())
	assert.Empty(t, exited.Ports)
}

func TestParsePS5(t *testing.T) {
	cs, err := parsePS(fixture(t, "podman-5", "ps.json"))
	require.NoError(t, err)
	require.Len(t, cs, 2)
	m := byName(cs)
	running := m["fx-running"]
	assert.Equal(t, time.Date(2024, 11, 27, 13, 7, 27, 904563318, time.UTC), running.Created.UTC(), "Created is RFC 3339 text in 5.x")
	assert.Equal(t, ctrgate.StateRunning, running.State.Status)
	assert.Equal(t, []ctrgate.PortMapping{
		{HostPort: 18082, ContainerPort: 8080, Protocol: "udp"},
		{HostIP: "127.0.0.1", HostPort: 40000, ContainerPort: 9090, Protocol: "tcp"},
		{HostIP: "127.0.0.1", HostPort: 40001, ContainerPort: 9091, Protocol: "tcp"},
	}, running.Ports, "a range expands to one mapping per port")
	exited := m["fx-exited"]
	assert.Equal(t, 3, exited.State.ExitCode)
	assert.Equal(t, ctrgate.StateExited, exited.State.Status)
	assert.NotNil(t, exited.Labels, "null labels become an empty map")
}

func TestParsePSEmptyAndBroken(t *testing.T) {
	for _, in := range []string{"", "[]", "null", "\n"} {
		cs, err := parsePS([]byte(in))
		require.NoError(t, err, "%q", in)
		assert.Empty(t, cs)
	}
	_, err := parsePS([]byte("Up 2 seconds ago"))
	assert.Error(t, err, "a human format is an error, never an empty list")
}

func TestParseInspect431(t *testing.T) {
	for _, tc := range []struct {
		file  string
		state ctrgate.State
		code  int
		ports []ctrgate.PortMapping
	}{
		{"inspect-created.json", ctrgate.StateCreated, 0, []ctrgate.PortMapping{{HostIP: "127.0.0.1", HostPort: 18081, ContainerPort: 8080, Protocol: "tcp"}}},
		{"inspect-running.json", ctrgate.StateRunning, 0, []ctrgate.PortMapping{
			{HostPort: 18082, ContainerPort: 8080, Protocol: "udp"},
			{HostIP: "127.0.0.1", HostPort: 38999, ContainerPort: 9090, Protocol: "tcp"}}},
		{"inspect-exited.json", ctrgate.StateExited, 3, nil},
	} {
		t.Run(tc.file, func(t *testing.T) {
			cs, err := parseInspect(fixture(t, "podman-4.3.1", tc.file), nil)
			require.NoError(t, err)
			require.Len(t, cs, 1)
			c := cs[0]
			assert.Equal(t, tc.state, c.State.Status)
			assert.Equal(t, tc.code, c.State.ExitCode)
			assert.Equal(t, "localhost/hello:1", c.Image, "the reference given at create")
			assert.Len(t, c.ImageID, 64)
			assert.Equal(t, "fx", c.Labels["app"])
			assert.False(t, c.Created.IsZero())
			assert.Equal(t, tc.ports, c.Ports)
			switch tc.state {
			case ctrgate.StateCreated:
				assert.True(t, c.State.StartedAt.IsZero())
				assert.Zero(t, c.State.Pid)
			case ctrgate.StateRunning:
				assert.False(t, c.State.StartedAt.IsZero())
				assert.Positive(t, c.State.Pid)
			case ctrgate.StateExited:
				assert.False(t, c.State.StartedAt.IsZero())
				assert.False(t, c.State.FinishedAt.IsZero())
			}
		})
	}
}

func TestParseInspect5(t *testing.T) {
	cs, err := parseInspect(fixture(t, "podman-5", "inspect-running.json"), nil)
	require.NoError(t, err)
	require.Len(t, cs, 1)
	c := cs[0]
	assert.Equal(t, "fx-running", c.Name)
	assert.Equal(t, ctrgate.StateRunning, c.State.Status)
	assert.Equal(t, 2311, c.State.Pid)
	assert.Equal(t, []ctrgate.PortMapping{
		{HostPort: 18082, ContainerPort: 8080, Protocol: "udp"},
		{HostIP: "127.0.0.1", HostPort: 40000, ContainerPort: 9090, Protocol: "tcp"},
	}, c.Ports, "unpublished ports (null) are left out")
}

func TestParseInspectRedactsStateError(t *testing.T) {
	in := `[{"Id":"x","Name":"n","State":{"Status":"exited","Error":"start failed: TOKEN=hunter22 and s3cr3tvalue"}}]`
	cs, err := parseInspect([]byte(in), []string{"s3cr3tvalue"})
	require.NoError(t, err)
	assert.NotContains(t, cs[0].State.Error, "hunter22")
	assert.NotContains(t, cs[0].State.Error, "s3cr3tvalue")
}

func TestParseInfo(t *testing.T) {
	info, err := parseInfo(fixture(t, "podman-4.3.1", "info.json"))
	require.NoError(t, err)
	assert.Equal(t, "podman-cli", info.Backend)
	assert.Equal(t, "podman", info.Engine)
	assert.Equal(t, "4.3.1", info.Version)
	assert.Equal(t, "4.3.1", info.APIVersion)
	assert.Equal(t, "v1", info.CgroupVersion)
	assert.Equal(t, "runc", info.OCIRuntime)
	assert.False(t, info.Rootless)
	assert.Empty(t, info.RootlessNetworkMode, "4.3 does not report rootlessNetworkCmd")

	info, err = parseInfo(fixture(t, "podman-5", "info.json"))
	require.NoError(t, err)
	assert.Equal(t, "5.2.5", info.Version)
	assert.True(t, info.Rootless)
	assert.Equal(t, "pasta", info.RootlessNetworkMode)
	assert.Equal(t, "v2", info.CgroupVersion)
	assert.Equal(t, "crun", info.OCIRuntime)
}

func readEvents(t *testing.T, b []byte) []ctrgate.Event {
	t.Helper()
	var out []ctrgate.Event
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		ev, ok, err := parseEvent(sc.Bytes())
		require.NoError(t, err, sc.Text())
		if ok {
			out = append(out, ev)
		}
	}
	require.NoError(t, sc.Err())
	return out
}

func TestParseEvents431(t *testing.T) {
	evs := readEvents(t, fixture(t, "podman-4.3.1", "events.jsonl"))
	var exitedTypes []ctrgate.EventType
	var exitedDie *ctrgate.Event
	for i, ev := range evs {
		assert.NotContains(t, []string{"init", "attach", "cleanup"}, ev.Raw, "only normalised events")
		assert.False(t, ev.Time.IsZero())
		assert.Len(t, ev.ID, 64)
		assert.Equal(t, "fx", ev.Labels["app"], "labels come from Attributes")
		assert.NotContains(t, ev.Labels, "podId")
		if ev.ID == "1d7fd359de3c8f71b418233232b2e60e83b5140ea52278379fb52af91685611b" { // the captured fx-exited
			exitedTypes = append(exitedTypes, ev.Type)
			if ev.Type == ctrgate.EventDie {
				exitedDie = &evs[i]
			}
		}
	}
	assert.Equal(t, []ctrgate.EventType{ctrgate.EventCreate, ctrgate.EventStart, ctrgate.EventDie, ctrgate.EventRemove}, exitedTypes)
	require.NotNil(t, exitedDie)
	assert.Equal(t, "died", exitedDie.Raw)
	assert.Equal(t, 3, exitedDie.ExitCode)
}

func TestParseEvents5(t *testing.T) {
	evs := readEvents(t, fixture(t, "podman-5", "events.jsonl"))
	var types []ctrgate.EventType
	for _, ev := range evs {
		types = append(types, ev.Type)
		if ev.Name == "fx-exited" && ev.Type == ctrgate.EventDie {
			assert.Equal(t, 3, ev.ExitCode)
			assert.Equal(t, time.Unix(0, 1732712848297190320).UTC(), ev.Time, "timeNano wins over time")
			assert.Equal(t, map[string]string{"app": "fx", "tier": "web"}, ev.Labels)
		}
	}
	assert.Equal(t, []ctrgate.EventType{ctrgate.EventCreate, ctrgate.EventStart, ctrgate.EventDie, ctrgate.EventDie, ctrgate.EventRemove}, types,
		"image events and init/cleanup are dropped")
}

func TestParseEventLowercaseKeys(t *testing.T) {
	ev, ok, err := parseEvent([]byte(`{"id":"abc","name":"n1","status":"died","containerExitCode":7,"type":"container","time":"2024-01-02T03:04:05Z"}`))
	require.NoError(t, err)
	require.True(t, ok)
	assert.Equal(t, ctrgate.EventDie, ev.Type)
	assert.Equal(t, 7, ev.ExitCode)
	assert.Equal(t, "n1", ev.Name)
	assert.Equal(t, time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC), ev.Time)
}
