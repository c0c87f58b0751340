package podmancli

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"strings"
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

func TestParsePS542(t *testing.T) {
	// captured from rootless Podman 5.4.2 (scripts/capture-fixtures.sh)
	cs, err := parsePS(fixture(t, "podman-5.4.2", "ps.json"))
	require.NoError(t, err)
	require.Len(t, cs, 3)
	m := byName(cs)
	running := m["fx-running"]
	assert.Equal(t, time.Unix(1796218141, 0).UTC(), running.Created.UTC(), "Created is unix seconds in 5.4 ps, as in 4.3")
	assert.Equal(t, ctrgate.StateRunning, running.State.Status)
	assert.Equal(t, "f093208ee3c667dd5596cca02b06e96024641436ccabb4ad5835ff38565bd023", running.ID)
	assert.Equal(t, map[string]string{"app": "fx"}, running.Labels)
	assert.Equal(t, []ctrgate.PortMapping{
		{HostPort: 18082, ContainerPort: 8080, Protocol: "udp"},
		{HostIP: "127.0.0.1", HostPort: 40000, ContainerPort: 9090, Protocol: "tcp"},
		{HostIP: "127.0.0.1", HostPort: 40001, ContainerPort: 9091, Protocol: "tcp"},
	}, running.Ports, "a range expands to one mapping per port")
	created := m["fx-created"]
	assert.Equal(t, ctrgate.StateCreated, created.State.Status)
	assert.Equal(t, []ctrgate.PortMapping{{HostIP: "127.0.0.1", HostPort: 18081, ContainerPort: 8080, Protocol: "tcp"}}, created.Ports)
	exited := m["fx-exited"]
	assert.Equal(t, 3, exited.State.ExitCode)
	assert.Equal(t, ctrgate.StateExited, exited.State.Status)
	assert.Empty(t, exited.Ports, "null ports")
}

func TestParsePSEmptyAndBroken(t *testing.T) {
	for _, dir := range []string{"podman-4.3.1"} {
		cs, err := parsePS(fixture(t, dir, "ps-empty.json"))
		require.NoError(t, err, dir)
		assert.Empty(t, cs, dir)
	}
	for _, in := range []string{"[]", " [ ]\n"} {
		cs, err := parsePS([]byte(in))
		require.NoError(t, err, "%q", in)
		assert.Empty(t, cs)
	}
	for _, in := range []string{"", "\n", "  \t\n", "null", "{}", `{"Id":"abc"}`, `[{"Id":"abc"`, "Up 2 seconds ago"} {
		cs, err := parsePS([]byte(in))
		assert.Error(t, err, "%q is an error, never an empty list", in)
		assert.Nil(t, cs)
	}
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
			cs, err := parseInspect(fixture(t, "podman-4.3.1", tc.file))
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

func TestParseInspect542(t *testing.T) {
	for _, tc := range []struct {
		file  string
		state ctrgate.State
		code  int
		ports []ctrgate.PortMapping
	}{
		{"inspect-created.json", ctrgate.StateCreated, 0, []ctrgate.PortMapping{{HostIP: "127.0.0.1", HostPort: 18081, ContainerPort: 8080, Protocol: "tcp"}}},
		// 5.4 inspect says HostIp "0.0.0.0" where 4.3 (and 5.4 ps) say "":
		// both mean every address and come out as "", as List has it.
		{"inspect-running.json", ctrgate.StateRunning, 0, []ctrgate.PortMapping{
			{HostPort: 18082, ContainerPort: 8080, Protocol: "udp"},
			{HostIP: "127.0.0.1", HostPort: 40000, ContainerPort: 9090, Protocol: "tcp"},
			{HostIP: "127.0.0.1", HostPort: 40001, ContainerPort: 9091, Protocol: "tcp"},
		}},
		{"inspect-exited.json", ctrgate.StateExited, 3, nil},
	} {
		t.Run(tc.file, func(t *testing.T) {
			cs, err := parseInspect(fixture(t, "podman-5.4.2", tc.file))
			require.NoError(t, err)
			require.Len(t, cs, 1)
			c := cs[0]
			assert.Equal(t, "fx-"+strings.TrimSuffix(strings.TrimPrefix(tc.file, "inspect-"), ".json"), c.Name)
			assert.Equal(t, tc.state, c.State.Status)
			assert.Equal(t, tc.code, c.State.ExitCode)
			assert.Equal(t, "localhost/hello:1", c.Image)
			assert.Equal(t, tc.ports, c.Ports)
			if tc.state == ctrgate.StateRunning {
				assert.Equal(t, 5703, c.State.Pid)
				assert.False(t, c.State.StartedAt.IsZero())
			}
			if tc.state == ctrgate.StateExited {
				assert.False(t, c.State.FinishedAt.IsZero())
			}
		})
	}
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

	// captured from rootless Podman 5.4.2 (Debian 13, runc, cgroup v1)
	info, err = parseInfo(fixture(t, "podman-5.4.2", "info.json"))
	require.NoError(t, err)
	assert.Equal(t, "5.4.2", info.Version)
	assert.Equal(t, "5.4.2", info.APIVersion)
	assert.True(t, info.Rootless)
	assert.Equal(t, "pasta", info.RootlessNetworkMode)
	assert.Equal(t, "v1", info.CgroupVersion)
	assert.Equal(t, "runc", info.OCIRuntime)
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

func TestParseEvents542(t *testing.T) {
	// captured from rootless Podman 5.4.2: unix "time" plus "timeNano",
	// ContainerExitCode also on "remove", a "stop" event, no image events
	// (filtered by the capture)
	evs := readEvents(t, fixture(t, "podman-5.4.2", "events.jsonl"))
	byName := map[string][]ctrgate.EventType{}
	for _, ev := range evs {
		assert.NotContains(t, []string{"init", "attach", "cleanup"}, ev.Raw, "only normalised events")
		assert.Len(t, ev.ID, 64)
		byName[ev.Name] = append(byName[ev.Name], ev.Type)
		if ev.Name == "fx-exited" && ev.Type == ctrgate.EventDie {
			assert.Equal(t, 3, ev.ExitCode)
			assert.Equal(t, time.Unix(0, 1796218142581616541).UTC(), ev.Time.UTC(), "timeNano wins over time")
			assert.Equal(t, map[string]string{"app": "fx", "tier": "web"}, ev.Labels)
		}
		if ev.Name == "fx-running" && ev.Type == ctrgate.EventDie {
			assert.Equal(t, 137, ev.ExitCode)
		}
	}
	assert.Equal(t, []ctrgate.EventType{ctrgate.EventCreate, ctrgate.EventStart, ctrgate.EventDie, ctrgate.EventRemove}, byName["fx-exited"])
	assert.Equal(t, []ctrgate.EventType{ctrgate.EventCreate, ctrgate.EventRemove}, byName["fx-created"])
	assert.Contains(t, byName["fx-running"], ctrgate.EventStart)
	assert.Contains(t, byName["fx-running"], ctrgate.EventDie)
	assert.Equal(t, ctrgate.EventRemove, byName["fx-running"][len(byName["fx-running"])-1])
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
