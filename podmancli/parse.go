package podmancli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/ctrgate/ctrgate"
	"github.com/ctrgate/ctrgate/logstream"
)

// The JSON shapes below are the subsets of podman's machine output that the
// backend reads. They accept Podman 4.x and 5.x alike: Go's JSON decoding
// matches keys case-insensitively (events "Status"/"status", "Time"/"time"),
// and fields whose type changed between versions (ps "Created": unix seconds
// in 4.x, RFC 3339 text in 5.x; events "Time": RFC 3339 text in 4.x, unix
// seconds plus "timeNano" in 5.x) are decoded through flexTime.

// flexTime is a time given as RFC 3339 text, unix seconds or unix
// nanoseconds. Podman's "never" (0001-01-01, or unix -62135596800) and 0
// decode to the zero time.
type flexTime struct{ time.Time }

func (t *flexTime) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) == 0 || string(b) == "null" {
		t.Time = time.Time{}
		return nil
	}
	if b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		if s == "" {
			t.Time = time.Time{}
			return nil
		}
		v, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			// some versions print Go's default time format
			v, err = time.Parse("2006-01-02 15:04:05.999999999 -0700 MST", s)
			if err != nil {
				return fmt.Errorf("podman time %q: %w", s, err)
			}
		}
		t.Time = normTime(v)
		return nil
	}
	n, err := strconv.ParseInt(string(b), 10, 64)
	if err != nil {
		f, ferr := strconv.ParseFloat(string(b), 64)
		if ferr != nil {
			return fmt.Errorf("podman time %s: %w", b, err)
		}
		n = int64(f)
	}
	switch {
	case n <= 0:
		t.Time = time.Time{}
	case n > 1e14: // nanoseconds
		t.Time = time.Unix(0, n).UTC()
	default:
		t.Time = time.Unix(n, 0).UTC()
	}
	return nil
}

// normTime maps podman's "never" to the zero time.
func normTime(v time.Time) time.Time {
	if v.Year() <= 1 {
		return time.Time{}
	}
	return v
}

// psPort is one entry of ps "Ports" (netavark/CNI PortMapping, 4.x and 5.x).
type psPort struct {
	HostIP        string `json:"host_ip"`
	ContainerPort int    `json:"container_port"`
	HostPort      int    `json:"host_port"`
	Range         int    `json:"range"`
	Protocol      string `json:"protocol"`
}

// psEntry is one element of `podman ps --format json`.
type psEntry struct {
	ID       string            `json:"Id"`
	Names    json.RawMessage   `json:"Names"` // a list; a string in very old versions
	Image    string            `json:"Image"`
	ImageID  string            `json:"ImageID"`
	Created  flexTime          `json:"Created"`
	State    string            `json:"State"`
	Exited   bool              `json:"Exited"`
	ExitCode int               `json:"ExitCode"`
	Labels   map[string]string `json:"Labels"`
	Ports    []psPort          `json:"Ports"`
	Pid      int               `json:"Pid"`
	Started  flexTime          `json:"StartedAt"`
	ExitedAt flexTime          `json:"ExitedAt"`
}

func (p psEntry) name() string {
	var names []string
	if err := json.Unmarshal(p.Names, &names); err == nil {
		if len(names) > 0 {
			return strings.TrimPrefix(names[0], "/")
		}
		return ""
	}
	var s string
	if err := json.Unmarshal(p.Names, &s); err == nil {
		return strings.TrimPrefix(strings.Split(s, ",")[0], "/")
	}
	return ""
}

// parsePS decodes `podman ps --format json` output. Podman prints a JSON
// array, "[]" for no containers (4.3 and 5.x alike); anything else, empty
// output and "null" included, is an error, never "no containers".
func parsePS(out []byte) ([]ctrgate.Container, error) {
	out = bytes.TrimSpace(out)
	if len(out) == 0 {
		return nil, fmt.Errorf("podman ps printed nothing (want a JSON array)")
	}
	if out[0] != '[' {
		return nil, fmt.Errorf("podman ps printed %q (want a JSON array)", shorten(out, 80))
	}
	var entries []psEntry
	if err := json.Unmarshal(out, &entries); err != nil {
		return nil, fmt.Errorf("decoding podman ps output: %w", err)
	}
	cs := make([]ctrgate.Container, 0, len(entries))
	for _, e := range entries {
		c := ctrgate.Container{
			ID:      e.ID,
			Name:    e.name(),
			Image:   e.Image,
			ImageID: e.ImageID,
			Created: e.Created.Time,
			Labels:  e.Labels,
			State: ctrgate.ContainerState{
				Status:     ctrgate.ParseState(e.State),
				Raw:        e.State,
				ExitCode:   e.ExitCode,
				Pid:        e.Pid,
				StartedAt:  e.Started.Time,
				FinishedAt: e.ExitedAt.Time,
			},
		}
		if c.State.Status == ctrgate.StateUnknown && e.Exited {
			c.State.Status = ctrgate.StateExited
		}
		if c.Labels == nil {
			c.Labels = map[string]string{}
		}
		for _, p := range e.Ports {
			n := p.Range
			if n < 1 {
				n = 1
			}
			for i := 0; i < n; i++ {
				hp := p.HostPort
				if hp != 0 {
					hp += i
				}
				c.Ports = append(c.Ports, ctrgate.PortMapping{HostIP: p.HostIP, HostPort: hp,
					ContainerPort: p.ContainerPort + i, Protocol: protoOrTCP(p.Protocol)})
			}
		}
		sortPorts(c.Ports)
		c.Ports = c.State.KeepPorts(c.Ports)
		cs = append(cs, c)
	}
	return cs, nil
}

// shorten returns b as text, cut to at most n bytes with "..." after a cut.
func shorten(b []byte, n int) string {
	if len(b) > n {
		return string(b[:n]) + "..."
	}
	return string(b)
}

func protoOrTCP(p string) string {
	if p == "" {
		return "tcp"
	}
	return strings.ToLower(p)
}

func sortPorts(ps []ctrgate.PortMapping) {
	sort.SliceStable(ps, func(i, j int) bool {
		if ps[i].ContainerPort != ps[j].ContainerPort {
			return ps[i].ContainerPort < ps[j].ContainerPort
		}
		if ps[i].Protocol != ps[j].Protocol {
			return ps[i].Protocol < ps[j].Protocol
		}
		return ps[i].HostIP < ps[j].HostIP
	})
}

// portBinding is one host binding in inspect's NetworkSettings.Ports /
// HostConfig.PortBindings.
type portBinding struct {
	HostIP   string `json:"HostIp"`
	HostPort string `json:"HostPort"`
}

// inspectEntry is one element of `podman container inspect` output.
type inspectEntry struct {
	ID        string   `json:"Id"`
	Name      string   `json:"Name"`
	Created   flexTime `json:"Created"`
	Image     string   `json:"Image"`     // image ID
	ImageName string   `json:"ImageName"` // reference given at create
	State     struct {
		Status     string   `json:"Status"`
		Running    bool     `json:"Running"`
		Paused     bool     `json:"Paused"`
		Restarting bool     `json:"Restarting"`
		OOMKilled  bool     `json:"OOMKilled"`
		Dead       bool     `json:"Dead"`
		Pid        int      `json:"Pid"`
		ExitCode   int      `json:"ExitCode"`
		Error      string   `json:"Error"`
		StartedAt  flexTime `json:"StartedAt"`
		FinishedAt flexTime `json:"FinishedAt"`
	} `json:"State"`
	Config struct {
		Labels map[string]string `json:"Labels"`
		Env    []string          `json:"Env"`
	} `json:"Config"`
	NetworkSettings struct {
		Ports map[string][]portBinding `json:"Ports"`
	} `json:"NetworkSettings"`
	HostConfig struct {
		PortBindings map[string][]portBinding `json:"PortBindings"`
	} `json:"HostConfig"`
}

// parseInspect decodes `podman container inspect` output (a JSON array).
// secrets are redacted from the state's error text.
func parseInspect(out []byte, secrets []string) ([]ctrgate.Container, error) {
	var entries []inspectEntry
	if err := json.Unmarshal(bytes.TrimSpace(out), &entries); err != nil {
		return nil, fmt.Errorf("decoding podman inspect output: %w", err)
	}
	cs := make([]ctrgate.Container, 0, len(entries))
	for _, e := range entries {
		img := e.ImageName
		if img == "" {
			img = e.Image
		}
		c := ctrgate.Container{
			ID:      e.ID,
			Name:    strings.TrimPrefix(e.Name, "/"),
			Image:   img,
			ImageID: e.Image,
			Created: e.Created.Time,
			Labels:  e.Config.Labels,
			State: ctrgate.ContainerState{
				Status:     ctrgate.ParseState(e.State.Status),
				Raw:        e.State.Status,
				ExitCode:   e.State.ExitCode,
				Pid:        e.State.Pid,
				StartedAt:  e.State.StartedAt.Time,
				FinishedAt: e.State.FinishedAt.Time,
				OOMKilled:  e.State.OOMKilled,
				Error:      redactText(e.State.Error, secrets),
			},
		}
		if c.Labels == nil {
			c.Labels = map[string]string{}
		}
		if c.State.Status == ctrgate.StateUnknown {
			switch {
			case e.State.Running:
				c.State.Status = ctrgate.StateRunning
			case e.State.Dead:
				c.State.Status = ctrgate.StateDead
			}
		}
		if !c.State.Running() {
			c.State.Pid = 0
		}
		ports := e.NetworkSettings.Ports
		if len(ports) == 0 {
			ports = e.HostConfig.PortBindings
		}
		c.Ports = c.State.KeepPorts(bindingsToPorts(ports))
		cs = append(cs, c)
	}
	return cs, nil
}

// bindingsToPorts turns {"8080/tcp": [{"HostIp": "", "HostPort": "1234"}]}
// into port mappings; unpublished ports (null bindings) are skipped.
func bindingsToPorts(m map[string][]portBinding) []ctrgate.PortMapping {
	var out []ctrgate.PortMapping
	for key, bs := range m {
		portStr, proto, _ := strings.Cut(key, "/")
		cp, err := strconv.Atoi(portStr)
		if err != nil {
			continue
		}
		for _, b := range bs {
			hp, _ := strconv.Atoi(b.HostPort)
			ip := b.HostIP
			if ip == "0.0.0.0" || ip == "::" { // Podman 5 inspect; 4.3 and ps say ""
				ip = ""
			}
			out = append(out, ctrgate.PortMapping{HostIP: ip, HostPort: hp, ContainerPort: cp,
				Protocol: protoOrTCP(proto)})
		}
	}
	sortPorts(out)
	return out
}

// infoDoc is the subset of `podman info --format json` the backend reads.
type infoDoc struct {
	Host struct {
		CgroupVersion      string `json:"cgroupVersion"`
		NetworkBackend     string `json:"networkBackend"`
		RootlessNetworkCmd string `json:"rootlessNetworkCmd"` // 5.x
		OCIRuntime         struct {
			Name string `json:"name"`
		} `json:"ociRuntime"`
		Security struct {
			Rootless bool `json:"rootless"`
		} `json:"security"`
		ServiceIsRemote bool `json:"serviceIsRemote"`
	} `json:"host"`
	Version struct {
		APIVersion string `json:"APIVersion"`
		Version    string `json:"Version"`
	} `json:"version"`
}

// parseInfo decodes `podman info --format json`.
func parseInfo(out []byte) (*ctrgate.EngineInfo, error) {
	var d infoDoc
	if err := json.Unmarshal(bytes.TrimSpace(out), &d); err != nil {
		return nil, fmt.Errorf("decoding podman info output: %w", err)
	}
	info := &ctrgate.EngineInfo{
		Backend:       BackendName,
		Engine:        "podman",
		Version:       d.Version.Version,
		APIVersion:    d.Version.APIVersion,
		Rootless:      d.Host.Security.Rootless,
		CgroupVersion: d.Host.CgroupVersion,
		OCIRuntime:    d.Host.OCIRuntime.Name,
	}
	if info.APIVersion == "" {
		info.APIVersion = info.Version
	}
	if info.Rootless {
		info.RootlessNetworkMode = d.Host.RootlessNetworkCmd
	}
	return info, nil
}

// eventDoc is one line of `podman events --format json`: 4.x prints
// "Status" and "Time" (RFC 3339 text) and omits ContainerExitCode when it
// is 0; 5.x prints "Status", "time" (unix seconds), "timeNano" and
// ContainerExitCode whenever it is known. Labels are in "Attributes" in both
// (mixed with podman's own keys such as "podId").
type eventDoc struct {
	ContainerExitCode *int              `json:"ContainerExitCode"`
	ID                string            `json:"ID"`
	Image             string            `json:"Image"`
	Name              string            `json:"Name"`
	Status            string            `json:"Status"`
	Action            string            `json:"Action"` // defensive: docker-style spelling
	Time              flexTime          `json:"Time"`
	TimeNano          int64             `json:"timeNano"`
	Type              string            `json:"Type"`
	Attributes        map[string]string `json:"Attributes"`
}

// parseEvent decodes one events line. ok is false for events outside the
// normalised set or not about containers.
func parseEvent(line []byte) (ev ctrgate.Event, ok bool, err error) {
	var d eventDoc
	if err := json.Unmarshal(line, &d); err != nil {
		return ctrgate.Event{}, false, fmt.Errorf("decoding podman event: %w", err)
	}
	if d.Type != "" && !strings.EqualFold(d.Type, "container") {
		return ctrgate.Event{}, false, nil
	}
	raw := d.Status
	if raw == "" {
		raw = d.Action
	}
	t, ok := ctrgate.NormaliseEventType(strings.ToLower(raw))
	if !ok {
		return ctrgate.Event{}, false, nil
	}
	ev = ctrgate.Event{Type: t, Raw: raw, ID: d.ID, Name: strings.TrimPrefix(d.Name, "/"), Image: d.Image,
		Time: d.Time.Time, Labels: map[string]string{}}
	if d.TimeNano > 0 {
		ev.Time = time.Unix(0, d.TimeNano).UTC()
	}
	if t == ctrgate.EventDie && d.ContainerExitCode != nil {
		ev.ExitCode = *d.ContainerExitCode
	}
	for k, v := range d.Attributes {
		switch k {
		case "podId":
			// podman's own attribute, not a label
		default:
			ev.Labels[k] = v
		}
	}
	return ev, true, nil
}

// parseLogFile returns the k8s-file log path of the container id in
// `podman container inspect` output, when the log driver is k8s-file, the
// path names the container (a path of this machine's Podman) and the file
// is readable here; "" otherwise.
func parseLogFile(out []byte, id string) string {
	var entries []struct {
		LogPath    string `json:"LogPath"`
		HostConfig struct {
			LogConfig struct {
				Type string `json:"Type"`
				Path string `json:"Path"`
			} `json:"LogConfig"`
		} `json:"HostConfig"`
	}
	if json.Unmarshal(bytes.TrimSpace(out), &entries) != nil || len(entries) != 1 {
		return ""
	}
	e := entries[0]
	path := e.LogPath
	if path == "" {
		path = e.HostConfig.LogConfig.Path
	}
	if e.HostConfig.LogConfig.Type != "k8s-file" {
		return ""
	}
	return logstream.LocalLogFile(path, id)
}
