package podmancli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"net"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/ctrgate/ctrgate/driver"

	"github.com/ctrgate/ctrgate"
	"github.com/ctrgate/ctrgate/gpu"
	"github.com/ctrgate/ctrgate/logstream"
	"github.com/ctrgate/ctrgate/redact"
	"github.com/ctrgate/ctrgate/rootless"
)

// envPlan says how environment entries reach podman: plain ones as
// "--env K=V" arguments, secret ones as "--env K" with the value in podman's
// own environment (childEnv), and secret ones whose names would change
// podman's behaviour through a 0600 env file (fileEntries).
type envPlan struct {
	args        []string // "--env", "K=V" / "--env", "K"
	childEnv    []string // K=V for podman's environment
	fileEntries []string // K=V lines for an --env-file
}

// podmanOwnEnv reports whether podman itself reads the variable, so a
// secret with this name must not be put into podman's environment.
func podmanOwnEnv(name string) bool {
	u := strings.ToUpper(name)
	switch u {
	case "PATH", "HOME", "TMPDIR", "USER", "LOGNAME", "SHELL", "PWD", "TERM", "TZ", "LANG",
		"HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "ALL_PROXY", "FTP_PROXY",
		"REGISTRY_AUTH_FILE", "NOTIFY_SOCKET", "GODEBUG", "GOMAXPROCS", "GOGC", "GOTRACEBACK",
		"DBUS_SESSION_BUS_ADDRESS", "SSH_AUTH_SOCK", "STORAGE_DRIVER", "STORAGE_OPTS":
		return true
	}
	for _, p := range []string{"CONTAINERS_", "CONTAINER_", "PODMAN_", "BUILDAH_", "DOCKER_", "XDG_",
		"LD_", "LC_", "SSL_", "GO", "CTRGATE_", "_CONTAINERS_", "NVIDIA_", "CDI_"} {
		if strings.HasPrefix(u, p) {
			return true
		}
	}
	return false
}

// planEnv splits env into the three ways of passing it; see envPlan.
func planEnv(env []ctrgate.EnvVar) (envPlan, error) {
	var p envPlan
	for i, e := range env {
		secret := e.Secret || redact.IsSensitiveKey(e.Name)
		switch {
		case !secret:
			p.args = append(p.args, "--env", e.Name+"="+e.Value)
		case !podmanOwnEnv(e.Name):
			p.args = append(p.args, "--env", e.Name)
			p.childEnv = append(p.childEnv, e.Name+"="+e.Value)
		default:
			if strings.ContainsAny(e.Value, "\r\n") {
				return envPlan{}, &ctrgate.SpecError{Field: fmt.Sprintf("Env[%d].Value", i),
					Reason: fmt.Sprintf("secret %s holds a line break; podman-cli can pass such values only for names podman does not read itself", e.Name)}
			}
			p.fileEntries = append(p.fileEntries, e.Name+"="+e.Value)
		}
	}
	return p, nil
}

// writeEnvFile writes entries to a fresh 0600 file and returns its path and
// a function removing it.
func writeEnvFile(entries []string) (string, func(), error) {
	f, err := os.CreateTemp("", "ctrgate-podman-env-*")
	if err != nil {
		return "", func() {}, err
	}
	path := f.Name()
	cleanup := func() { _ = os.Remove(path) }
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		cleanup()
		return "", func() {}, err
	}
	_, werr := f.WriteString(strings.Join(entries, "\n") + "\n")
	cerr := f.Close()
	if werr != nil || cerr != nil {
		cleanup()
		if werr == nil {
			werr = cerr
		}
		return "", func() {}, werr
	}
	return path, cleanup, nil
}

// seconds rounds a duration up to whole seconds (podman's unit).
func seconds(d time.Duration) int {
	if d <= 0 {
		return 0
	}
	return int(math.Ceil(d.Seconds()))
}

// createArgs builds `podman create` arguments for a validated spec; the
// environment comes from plan. The image and command follow "--". The
// steps after the process's own settings are those of every backend's
// conversion (docker's toCreateConfig, podmanapi's toSpecGen), in the same
// order: mounts, ports, network, user namespace, devices, security,
// resources.
func createArgs(spec ctrgate.ContainerSpec, plan envPlan) []string {
	a := []string{"create"}
	if spec.Name != "" {
		a = append(a, "--name", spec.Name)
	}
	pull := spec.PullPolicy
	if pull == "" {
		pull = ctrgate.PullMissing
	}
	a = append(a, "--pull", string(pull))
	if spec.Entrypoint != nil {
		if len(spec.Entrypoint) == 0 {
			a = append(a, "--entrypoint", "")
		} else {
			b, _ := json.Marshal(spec.Entrypoint)
			a = append(a, "--entrypoint", string(b))
		}
	}
	a = append(a, plan.args...)
	for _, k := range sortedKeys(spec.Labels) {
		a = append(a, "--label", k+"="+spec.Labels[k])
	}
	for _, k := range sortedKeys(spec.Annotations) {
		a = append(a, "--annotation", k+"="+spec.Annotations[k])
	}
	if spec.User != "" {
		a = append(a, "--user", spec.User)
	}
	if spec.WorkDir != "" {
		a = append(a, "--workdir", spec.WorkDir)
	}
	if spec.Hostname != "" {
		a = append(a, "--hostname", spec.Hostname)
	}
	if spec.Init {
		a = append(a, "--init")
	}
	if spec.StopSignal != "" {
		sig, _ := ctrgate.ParseSignal(spec.StopSignal) // validated
		a = append(a, "--stop-signal", strconv.Itoa(int(sig)))
	}
	if spec.StopTimeout > 0 {
		a = append(a, "--stop-timeout", strconv.Itoa(seconds(spec.StopTimeout)))
	}
	if spec.AutoRemove {
		a = append(a, "--rm")
	}
	if spec.OCIRuntime != "" {
		a = append(a, "--runtime", spec.OCIRuntime)
	}
	a = append(a, mountArgs(spec.Mounts)...)
	a = append(a, portArgs(spec.Ports)...)
	a = append(a, networkArgs(spec)...)
	a = append(a, userNSArgs(spec.UserNS)...)
	a = append(a, deviceArgs(spec)...)
	a = append(a, securityArgs(spec)...)
	a = append(a, resourceArgs(spec)...)
	a = append(a, "--", spec.Image)
	return append(a, spec.Command...)
}

// mountArgs converts the mounts.
func mountArgs(mounts []ctrgate.Mount) []string {
	var a []string
	for _, m := range mounts {
		a = append(a, "--mount", mountArg(m))
	}
	return a
}

// portArgs converts the published ports.
func portArgs(ports []ctrgate.PortMapping) []string {
	var a []string
	for _, p := range ports {
		a = append(a, "--publish", portArg(p))
	}
	return a
}

// networkArgs converts the network mode and its options and the extra
// hosts.
func networkArgs(spec ctrgate.ContainerSpec) []string {
	var a []string
	if nv := rootless.NetworkValue(spec.Network); nv != "" {
		a = append(a, "--network", nv)
	}
	for _, h := range spec.ExtraHosts {
		a = append(a, "--add-host", h.Host+":"+h.IP)
	}
	return a
}

// userNSArgs converts the user namespace mode.
func userNSArgs(ns ctrgate.UserNSSpec) []string {
	switch ns.Mode {
	case ctrgate.UserNSDefault:
		return nil
	case ctrgate.UserNSKeepID:
		return []string{"--userns", rootless.KeepIDValue(ns.UID, ns.GID)}
	}
	return []string{"--userns", string(ns.Mode)}
}

// deviceArgs converts the GPU request into CDI devices, with the GPU
// environment the spec does not set itself.
func deviceArgs(spec ctrgate.ContainerSpec) []string {
	if !spec.GPUs.Requested() {
		return nil
	}
	var a []string
	for _, d := range spec.GPUs.CDIDevices() {
		a = append(a, "--device", d)
	}
	set := map[string]bool{}
	for _, e := range spec.Env {
		set[e.Name] = true
	}
	for _, e := range gpu.Env(spec.GPUs) {
		if !set[e.Name] {
			a = append(a, "--env", e.Name+"="+e.Value)
		}
	}
	return a
}

// securityArgs converts capabilities, security options, no-new-privileges
// and the read-only root file system.
func securityArgs(spec ctrgate.ContainerSpec) []string {
	var a []string
	for _, c := range spec.CapAdd {
		a = append(a, "--cap-add", c)
	}
	for _, c := range spec.CapDrop {
		a = append(a, "--cap-drop", c)
	}
	for _, o := range spec.SecurityOpt {
		a = append(a, "--security-opt", o)
	}
	if spec.NoNewPrivileges {
		a = append(a, "--security-opt", "no-new-privileges")
	}
	if spec.ReadOnlyRootfs {
		a = append(a, "--read-only")
	}
	return a
}

// resourceArgs converts the resource limits and ulimits.
func resourceArgs(spec ctrgate.ContainerSpec) []string {
	var a []string
	if spec.Resources.MemoryBytes > 0 {
		a = append(a, "--memory", strconv.FormatInt(spec.Resources.MemoryBytes, 10)+"b")
	}
	if spec.Resources.CPUs > 0 {
		a = append(a, "--cpus", strconv.FormatFloat(spec.Resources.CPUs, 'f', -1, 64))
	}
	if spec.Resources.PidsLimit > 0 {
		a = append(a, "--pids-limit", strconv.FormatInt(spec.Resources.PidsLimit, 10))
	}
	for _, u := range spec.Ulimits {
		a = append(a, "--ulimit", fmt.Sprintf("%s=%d:%d", u.Name, u.Soft, u.Hard))
	}
	return a
}

func sortedKeys(m map[string]string) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// mountArg renders a mount as the value of --mount.
func mountArg(m ctrgate.Mount) string {
	parts := []string{"type=" + string(m.Type)}
	if m.Source != "" {
		parts = append(parts, "source="+m.Source)
	}
	parts = append(parts, "target="+m.Target)
	if m.ReadOnly {
		parts = append(parts, "ro=true")
	}
	switch m.Relabel {
	case ctrgate.RelabelShared:
		parts = append(parts, "relabel=shared")
	case ctrgate.RelabelPrivate:
		parts = append(parts, "relabel=private")
	}
	if m.Type == ctrgate.MountTmpfs && m.Size > 0 {
		parts = append(parts, "tmpfs-size="+strconv.FormatInt(m.Size, 10))
	}
	return strings.Join(parts, ",")
}

// portArg renders a port mapping as the value of --publish:
// [hostip:][hostport:]containerport/proto.
func portArg(p ctrgate.PortMapping) string {
	proto := p.Protocol
	if proto == "" {
		proto = "tcp"
	}
	cport := strconv.Itoa(p.ContainerPort) + "/" + proto
	hp := ""
	if p.HostPort > 0 {
		hp = strconv.Itoa(p.HostPort)
	}
	switch {
	case p.HostIP != "":
		ip := p.HostIP
		if parsed := net.ParseIP(ip); parsed != nil && parsed.To4() == nil {
			ip = "[" + ip + "]"
		}
		return ip + ":" + hp + ":" + cport
	case hp != "":
		return hp + ":" + cport
	default:
		return cport
	}
}

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
func parseInspect(out []byte) ([]ctrgate.Container, error) {
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
				Error:      e.State.Error, // redacted by the contract layer
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
	t, ok := driver.NormaliseEventType(strings.ToLower(raw))
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
