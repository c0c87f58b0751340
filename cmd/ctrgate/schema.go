package main

import (
	"sort"
	"strings"
	"time"

	"github.com/ctrgate/ctrgate"
	"github.com/ctrgate/ctrgate/redact"
)

// The types below are the --json output of the commands. Their field names
// are a stable interface documented in doc.go and pinned by the golden test
// (testdata/*.golden): add fields, never rename or remove them.

// jsonInfo is the output of `ctrgate info --json`.
type jsonInfo struct {
	Backend             string   `json:"backend"`
	Engine              string   `json:"engine"`
	Version             string   `json:"version"`
	APIVersion          string   `json:"api_version"`
	Rootless            bool     `json:"rootless"`
	CgroupVersion       string   `json:"cgroup_version"`
	RootlessNetworkMode string   `json:"rootless_network_mode"`
	OCIRuntime          string   `json:"oci_runtime"`
	CDIGPUs             bool     `json:"cdi_gpus"`
	CDIDevices          []string `json:"cdi_devices"`
	Fallback            bool     `json:"fallback"` // always false: auto never falls back to the fake (kept for schema stability)
	// Options are the backend's options as it was opened with them.
	Options []jsonOption `json:"options"`
}

// jsonOption is one backend option in `ctrgate info --json`: its value
// and where the value came from (code, env, file, default or unset).
type jsonOption struct {
	Key     string `json:"key"`
	Value   string `json:"value"`
	Source  string `json:"source"`
	Env     string `json:"env,omitempty"`
	Default string `json:"default,omitempty"`
	Doc     string `json:"doc"`
}

func toJSONInfo(i *ctrgate.EngineInfo) jsonInfo {
	devs := append([]string{}, i.CDIDevices...)
	return jsonInfo{
		Backend: i.Backend, Engine: i.Engine, Version: i.Version, APIVersion: i.APIVersion,
		Rootless: i.Rootless, CgroupVersion: i.CgroupVersion, RootlessNetworkMode: i.RootlessNetworkMode,
		OCIRuntime: i.OCIRuntime, CDIGPUs: i.CDIGPUs, CDIDevices: devs, Options: []jsonOption{},
	}
}

// jsonPort is one published port.
type jsonPort struct {
	HostIP        string `json:"host_ip"`
	HostPort      int    `json:"host_port"`
	ContainerPort int    `json:"container_port"`
	Protocol      string `json:"protocol"`
}

func toJSONPorts(ps []ctrgate.PortMapping) []jsonPort {
	out := make([]jsonPort, 0, len(ps))
	for _, p := range ps {
		proto := p.Protocol
		if proto == "" {
			proto = "tcp"
		}
		out = append(out, jsonPort{HostIP: p.HostIP, HostPort: p.HostPort, ContainerPort: p.ContainerPort, Protocol: proto})
	}
	return out
}

// jsonContainer is one element of `ctrgate ps --json` and the output of
// `ctrgate inspect --json`.
type jsonContainer struct {
	ID         string            `json:"id"`
	Name       string            `json:"name"`
	Image      string            `json:"image"`
	ImageID    string            `json:"image_id,omitempty"`
	Status     string            `json:"status"`
	RawStatus  string            `json:"raw_status"`
	Running    bool              `json:"running"`
	ExitCode   int               `json:"exit_code"`
	Created    string            `json:"created,omitempty"`
	StartedAt  string            `json:"started_at,omitempty"`
	FinishedAt string            `json:"finished_at,omitempty"`
	Pid        int               `json:"pid,omitempty"`
	OOMKilled  bool              `json:"oom_killed,omitempty"`
	Error      string            `json:"error,omitempty"`
	Labels     map[string]string `json:"labels"`
	Ports      []jsonPort        `json:"ports"`
}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

// safeLabels masks the values of labels whose keys look sensitive.
func safeLabels(in map[string]string) map[string]string {
	out := make(map[string]string, len(in))
	for k, v := range in {
		if redact.IsSensitiveKey(k) && v != "" {
			v = redact.Mask
		}
		out[k] = v
	}
	return out
}

func toJSONContainer(c ctrgate.Container, sec *secretSet) jsonContainer {
	return jsonContainer{
		ID: c.ID, Name: c.Name, Image: c.Image, ImageID: c.ImageID,
		Status: string(c.State.Status), RawStatus: c.State.Raw, Running: c.State.Running(),
		ExitCode: c.State.ExitCode, Created: fmtTime(c.Created),
		StartedAt: fmtTime(c.State.StartedAt), FinishedAt: fmtTime(c.State.FinishedAt),
		Pid: c.State.Pid, OOMKilled: c.State.OOMKilled, Error: sec.text(c.State.Error),
		Labels: safeLabels(c.Labels), Ports: toJSONPorts(c.Ports),
	}
}

// jsonLogLine is one line of `ctrgate logs --json` and of attached
// `ctrgate run --json` (NDJSON: one object per line).
type jsonLogLine struct {
	Stream string `json:"stream"`
	Text   string `json:"text"`
	Time   string `json:"time,omitempty"`
}

func toJSONLogLine(l ctrgate.LogLine, sec *secretSet) jsonLogLine {
	return jsonLogLine{Stream: l.Stream.String(), Text: sec.text(l.Text), Time: fmtTime(l.Time)}
}

// jsonRun is the result of `ctrgate run --json`: the only output of a
// detached run, the last NDJSON line of an attached one.
type jsonRun struct {
	ID           string `json:"id"`
	Name         string `json:"name"`
	Image        string `json:"image"`
	Ready        bool   `json:"ready"`
	ReadyLine    string `json:"ready_line,omitempty"`
	ReadyAfterMS int64  `json:"ready_after_ms,omitempty"`
	Attached     bool   `json:"attached"`
	Exited       bool   `json:"exited"`
	ExitCode     int    `json:"exit_code"`
	Removed      bool   `json:"removed"`
}

// jsonWait is one element of `ctrgate wait --json`.
type jsonWait struct {
	Name     string `json:"name"`
	ExitCode int    `json:"exit_code"`
}

// jsonExec is the output of `ctrgate exec --json`.
type jsonExec struct {
	ExitCode int    `json:"exit_code"`
	Stdout   string `json:"stdout"`
	Stderr   string `json:"stderr"`
}

// jsonResult is one element of `ctrgate stop|kill|rm --json`.
type jsonResult struct {
	Name   string `json:"name"`
	OK     bool   `json:"ok"`
	Result string `json:"result"`
	Error  string `json:"error,omitempty"`
}

// jsonImage is the output of `ctrgate image exists|rm --json`, `pull --json`
// and `import --json`.
type jsonImage struct {
	Ref       string `json:"ref"`
	Exists    *bool  `json:"exists,omitempty"`
	Removed   bool   `json:"removed,omitempty"`
	Pulled    bool   `json:"pulled,omitempty"`
	Imported  bool   `json:"imported,omitempty"`
	Policy    string `json:"policy,omitempty"`
	ElapsedMS int64  `json:"elapsed_ms,omitempty"`
}

// jsonImageEntry is one element of `ctrgate images --json`.
type jsonImageEntry struct {
	ID      string            `json:"id"`
	Refs    []string          `json:"refs"`
	Size    int64             `json:"size"`
	Created string            `json:"created,omitempty"`
	Labels  map[string]string `json:"labels"`
}

func toJSONImageEntry(im ctrgate.Image) jsonImageEntry {
	refs := im.Refs
	if refs == nil {
		refs = []string{}
	}
	labels := im.Labels
	if labels == nil {
		labels = map[string]string{}
	}
	return jsonImageEntry{ID: im.ID, Refs: refs, Size: im.Size, Created: fmtTime(im.Created), Labels: safeLabels(labels)}
}

// labelString renders labels as sorted k=v pairs, sensitive values masked.
func labelString(l map[string]string) string {
	keys := make([]string, 0, len(l))
	for k := range l {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		v := l[k]
		if redact.IsSensitiveKey(k) && v != "" {
			v = redact.Mask
		}
		parts = append(parts, k+"="+v)
	}
	return strings.Join(parts, ",")
}

// jsonEvent is one line of `ctrgate events --json` (NDJSON).
type jsonEvent struct {
	Type     string            `json:"type"`
	Raw      string            `json:"raw"`
	ID       string            `json:"id"`
	Name     string            `json:"name"`
	Image    string            `json:"image"`
	ExitCode *int              `json:"exit_code,omitempty"`
	Labels   map[string]string `json:"labels"`
	Time     string            `json:"time,omitempty"`
}

func toJSONEvent(e ctrgate.Event) jsonEvent {
	je := jsonEvent{Type: string(e.Type), Raw: e.Raw, ID: e.ID, Name: e.Name, Image: e.Image,
		Labels: safeLabels(e.Labels), Time: fmtTime(e.Time)}
	if e.Type == ctrgate.EventDie {
		code := e.ExitCode
		je.ExitCode = &code
	}
	return je
}
