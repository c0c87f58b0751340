package docker

import (
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/mount"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/go-connections/nat"

	"github.com/ctrgate/ctrgate"
)

// engineFeatures is what the conversion needs to know about the engine.
type engineFeatures struct {
	podman     bool   // Podman's compatibility API (takes slirp4netns/pasta, keep-id, auto)
	cdi        bool   // CDI device requests are understood
	apiVersion string // negotiated API version
}

// unsupported builds an ErrUnsupported error for a spec field.
func unsupported(field, why string) error {
	return ctrgate.NewEngineError(BackendName, ctrgate.OpCreate, "", ctrgate.ErrUnsupported, field+": "+why, nil, nil)
}

// toCreateConfig converts a validated spec into the Docker API's create
// request. It fails with ErrUnsupported for what the engine cannot express.
// The steps after the process's own settings are those of every backend's
// conversion (podmanapi's toSpecGen, podmancli's createArgs), in the same
// order: mounts, ports, network, user namespace, devices, security,
// resources.
func toCreateConfig(spec ctrgate.ContainerSpec, f engineFeatures) (*container.Config, *container.HostConfig, *network.NetworkingConfig, error) {
	cfg := &container.Config{
		Image:      spec.Image,
		Env:        ctrgate.EnvStrings(spec.Env),
		Labels:     copyMap(spec.Labels),
		User:       spec.User,
		WorkingDir: spec.WorkDir,
		Hostname:   spec.Hostname,
	}
	if len(spec.Command) > 0 {
		cfg.Cmd = append([]string(nil), spec.Command...)
	}
	if len(spec.Entrypoint) > 0 {
		cfg.Entrypoint = append([]string(nil), spec.Entrypoint...)
	}
	if spec.StopSignal != "" {
		sig, err := ctrgate.ParseSignal(spec.StopSignal)
		if err != nil {
			return nil, nil, nil, err
		}
		cfg.StopSignal = ctrgate.SignalName(sig)
	}
	if spec.StopTimeout > 0 {
		secs := durationSeconds(spec.StopTimeout)
		cfg.StopTimeout = &secs
	}
	hc := &container.HostConfig{AutoRemove: spec.AutoRemove, Runtime: spec.OCIRuntime}
	if spec.Init {
		t := true
		hc.Init = &t
	}
	if len(spec.Annotations) > 0 {
		if lessAPI(f.apiVersion, "1.43") {
			return nil, nil, nil, unsupported("Annotations", "the engine's API "+f.apiVersion+" has no container annotations (needs 1.43, Docker 24+)")
		}
		hc.Annotations = copyMap(spec.Annotations)
	}

	setMounts(hc, spec.Mounts)
	setPorts(cfg, hc, spec.Ports)
	if err := setNetwork(hc, spec, f); err != nil {
		return nil, nil, nil, err
	}
	if err := setUserNS(hc, spec.UserNS, f); err != nil {
		return nil, nil, nil, err
	}
	if err := setDevices(hc, spec.GPUs, f); err != nil {
		return nil, nil, nil, err
	}
	setSecurity(hc, spec)
	setResources(hc, spec)
	return cfg, hc, nil, nil
}

// setMounts converts the mounts: the Mounts API for everything except
// relabelled binds, which only the legacy Binds syntax ("src:dst:z") can
// express.
func setMounts(hc *container.HostConfig, mounts []ctrgate.Mount) {
	for _, m := range mounts {
		switch m.Type {
		case ctrgate.MountBind:
			if m.Relabel != ctrgate.RelabelNone {
				opts := []string{}
				if m.ReadOnly {
					opts = append(opts, "ro")
				}
				if m.Relabel == ctrgate.RelabelShared {
					opts = append(opts, "z")
				} else {
					opts = append(opts, "Z")
				}
				hc.Binds = append(hc.Binds, m.Source+":"+m.Target+":"+strings.Join(opts, ","))
				continue
			}
			hc.Mounts = append(hc.Mounts, mount.Mount{Type: mount.TypeBind, Source: m.Source, Target: m.Target, ReadOnly: m.ReadOnly})
		case ctrgate.MountVolume:
			hc.Mounts = append(hc.Mounts, mount.Mount{Type: mount.TypeVolume, Source: m.Source, Target: m.Target, ReadOnly: m.ReadOnly})
		case ctrgate.MountTmpfs:
			mm := mount.Mount{Type: mount.TypeTmpfs, Target: m.Target, ReadOnly: m.ReadOnly}
			if m.Size > 0 {
				mm.TmpfsOptions = &mount.TmpfsOptions{SizeBytes: m.Size}
			}
			hc.Mounts = append(hc.Mounts, mm)
		}
	}
}

// setPorts converts the published ports (exposed and bound).
func setPorts(cfg *container.Config, hc *container.HostConfig, ports []ctrgate.PortMapping) {
	if len(ports) == 0 {
		return
	}
	cfg.ExposedPorts = nat.PortSet{}
	hc.PortBindings = nat.PortMap{}
	for _, p := range ports {
		proto := p.Protocol
		if proto == "" {
			proto = "tcp"
		}
		port := nat.Port(fmt.Sprintf("%d/%s", p.ContainerPort, proto))
		cfg.ExposedPorts[port] = struct{}{}
		b := nat.PortBinding{HostIP: p.HostIP}
		if p.HostPort != 0 {
			b.HostPort = strconv.Itoa(p.HostPort)
		}
		hc.PortBindings[port] = append(hc.PortBindings[port], b)
	}
}

// setNetwork converts the network mode (Podman's user-mode networks only
// on Podman's compatibility API) and the extra hosts.
func setNetwork(hc *container.HostConfig, spec ctrgate.ContainerSpec, f engineFeatures) error {
	switch spec.Network.Mode {
	case ctrgate.NetworkDefault:
	case ctrgate.NetworkNone, ctrgate.NetworkHost:
		hc.NetworkMode = container.NetworkMode(spec.Network.Mode)
	case ctrgate.NetworkBridge:
		hc.NetworkMode = "bridge"
		if spec.Network.Name != "" {
			hc.NetworkMode = container.NetworkMode(spec.Network.Name)
		}
	case ctrgate.NetworkSlirp4netns, ctrgate.NetworkPasta:
		if !f.podman {
			return unsupported("Network.Mode", fmt.Sprintf("%q is a Podman network mode; Docker has no user-mode networking", spec.Network.Mode))
		}
		mode := string(spec.Network.Mode)
		if len(spec.Network.Options) > 0 {
			mode += ":" + strings.Join(spec.Network.Options, ",")
		}
		hc.NetworkMode = container.NetworkMode(mode)
	}
	if len(spec.Network.Options) > 0 && spec.Network.Mode != ctrgate.NetworkSlirp4netns && spec.Network.Mode != ctrgate.NetworkPasta {
		return unsupported("Network.Options", "network options are only understood for slirp4netns and pasta")
	}
	for _, h := range spec.ExtraHosts {
		hc.ExtraHosts = append(hc.ExtraHosts, h.Host+":"+h.IP)
	}
	return nil
}

// setUserNS converts the user namespace mode (keep-id and auto only on
// Podman's compatibility API).
func setUserNS(hc *container.HostConfig, ns ctrgate.UserNSSpec, f engineFeatures) error {
	switch ns.Mode {
	case ctrgate.UserNSDefault:
	case ctrgate.UserNSHost:
		hc.UsernsMode = "host"
	case ctrgate.UserNSKeepID, ctrgate.UserNSAuto:
		if !f.podman {
			return unsupported("UserNS.Mode", fmt.Sprintf("%q is a Podman user namespace mode; Docker only has the daemon-wide userns-remap", ns.Mode))
		}
		mode := string(ns.Mode)
		var o []string
		if ns.UID != nil {
			o = append(o, "uid="+strconv.Itoa(*ns.UID))
		}
		if ns.GID != nil {
			o = append(o, "gid="+strconv.Itoa(*ns.GID))
		}
		if len(o) > 0 {
			mode += ":" + strings.Join(o, ",")
		}
		hc.UsernsMode = container.UsernsMode(mode)
	}
	return nil
}

// setDevices converts the GPU request into device requests.
func setDevices(hc *container.HostConfig, g ctrgate.GPURequest, f engineFeatures) error {
	if !g.Requested() {
		return nil
	}
	dr, err := gpuRequest(g, f.cdi)
	if err != nil {
		return err
	}
	hc.DeviceRequests = dr
	return nil
}

// setSecurity converts capabilities, security options, no-new-privileges
// and the read-only root file system.
func setSecurity(hc *container.HostConfig, spec ctrgate.ContainerSpec) {
	hc.CapAdd = append([]string(nil), spec.CapAdd...)
	hc.CapDrop = append([]string(nil), spec.CapDrop...)
	hc.SecurityOpt = append([]string(nil), spec.SecurityOpt...)
	if spec.NoNewPrivileges {
		hc.SecurityOpt = append(hc.SecurityOpt, "no-new-privileges")
	}
	hc.ReadonlyRootfs = spec.ReadOnlyRootfs
}

// setResources converts the resource limits and ulimits.
func setResources(hc *container.HostConfig, spec ctrgate.ContainerSpec) {
	hc.Memory = spec.Resources.MemoryBytes
	if spec.Resources.CPUs > 0 {
		hc.NanoCPUs = int64(math.Round(spec.Resources.CPUs * 1e9))
	}
	if spec.Resources.PidsLimit > 0 {
		pl := spec.Resources.PidsLimit
		hc.PidsLimit = &pl
	}
	for _, u := range spec.Ulimits {
		hc.Ulimits = append(hc.Ulimits, &container.Ulimit{Name: u.Name, Soft: u.Soft, Hard: u.Hard})
	}
}

// gpuRequest converts a GPU request into device requests: CDI requests when
// the engine supports them, otherwise the classic "--gpus" request (all GPUs,
// or nvidia.com/gpu=N devices by index or UUID).
func gpuRequest(g ctrgate.GPURequest, cdi bool) ([]container.DeviceRequest, error) {
	if cdi {
		return []container.DeviceRequest{{Driver: "cdi", Capabilities: [][]string{{"cdi"}}, DeviceIDs: g.CDIDevices()}}, nil
	}
	if g.All {
		return []container.DeviceRequest{{Count: -1, Capabilities: [][]string{{"gpu"}}}}, nil
	}
	var ids []string
	for _, d := range g.Devices {
		id, ok := strings.CutPrefix(d, "nvidia.com/gpu=")
		if !ok {
			return nil, unsupported("GPUs.Devices", fmt.Sprintf("CDI device %q needs an engine with CDI support (Docker 25+ with CDI enabled, Podman 5.4+); this engine only takes NVIDIA GPUs (nvidia.com/gpu=N)", d))
		}
		if id == "all" {
			return []container.DeviceRequest{{Count: -1, Capabilities: [][]string{{"gpu"}}}}, nil
		}
		ids = append(ids, id)
	}
	return []container.DeviceRequest{{DeviceIDs: ids, Capabilities: [][]string{{"gpu"}}}}, nil
}

// durationSeconds rounds a positive duration up to whole seconds.
func durationSeconds(d time.Duration) int {
	if d <= 0 {
		return 0
	}
	return int((d + time.Second - 1) / time.Second)
}

func copyMap(m map[string]string) map[string]string {
	if m == nil {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// lessAPI reports whether API version a is below b ("1.41" < "1.43").
func lessAPI(a, b string) bool {
	pa, pb := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < len(pa) || i < len(pb); i++ {
		var x, y int
		if i < len(pa) {
			x, _ = strconv.Atoi(pa[i])
		}
		if i < len(pb) {
			y, _ = strconv.Atoi(pb[i])
		}
		if x != y {
			return x < y
		}
	}
	return false
}

// importChanges converts ImportOptions into Dockerfile instructions for
// the import "changes" parameter (exec/JSON forms where Dockerfile has them).
func importChanges(o ctrgate.ImportOptions) ([]string, error) {
	var out []string
	if len(o.Entrypoint) > 0 {
		b, err := json.Marshal(o.Entrypoint)
		if err != nil {
			return nil, err
		}
		out = append(out, "ENTRYPOINT "+string(b))
	}
	if len(o.Cmd) > 0 {
		b, err := json.Marshal(o.Cmd)
		if err != nil {
			return nil, err
		}
		out = append(out, "CMD "+string(b))
	}
	for _, e := range o.Env { // checked by ctrgate.ValidateImportOptions
		k, v, _ := strings.Cut(e, "=")
		out = append(out, "ENV "+k+"="+dockerfileQuote(v))
	}
	if o.WorkDir != "" {
		out = append(out, "WORKDIR "+o.WorkDir)
	}
	keys := make([]string, 0, len(o.Labels))
	for k := range o.Labels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		out = append(out, "LABEL "+dockerfileQuote(k)+"="+dockerfileQuote(o.Labels[k]))
	}
	return out, nil
}

// dockerfileQuote quotes a word for ENV/LABEL: double quotes, with '\', '"'
// and '$' escaped (Dockerfile expands variables inside double quotes).
func dockerfileQuote(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, `$`, `\$`)
	return `"` + r.Replace(s) + `"`
}

// fromInspect converts an inspect response.
func fromInspect(in container.InspectResponse) *ctrgate.Container {
	c := &ctrgate.Container{
		ID:      in.ID,
		Name:    strings.TrimPrefix(in.Name, "/"),
		ImageID: in.Image,
		Created: parseTime(in.Created),
	}
	if in.Config != nil {
		c.Image = in.Config.Image
		c.Labels = userLabels(in.Config.Labels)
	}
	if c.Labels == nil {
		c.Labels = map[string]string{}
	}
	if in.State != nil {
		c.State = ctrgate.ContainerState{
			Status:     ctrgate.ParseState(in.State.Status),
			Raw:        in.State.Status,
			ExitCode:   in.State.ExitCode,
			Pid:        in.State.Pid,
			StartedAt:  parseTime(in.State.StartedAt),
			FinishedAt: parseTime(in.State.FinishedAt),
			OOMKilled:  in.State.OOMKilled,
			Error:      in.State.Error, // redacted by the contract layer
		}
	}
	if in.NetworkSettings != nil && len(in.NetworkSettings.Ports) > 0 {
		c.Ports = fromPortMap(in.NetworkSettings.Ports)
	}
	if len(c.Ports) == 0 && in.HostConfig != nil {
		c.Ports = fromPortMap(in.HostConfig.PortBindings)
	}
	c.Ports = c.State.KeepPorts(c.Ports)
	return c
}

// fromPortMap converts bound (or configured) ports. The wildcard addresses
// 0.0.0.0 and :: become "" and their duplicates are merged, so one
// requested mapping gives one PortMapping.
func fromPortMap(pm nat.PortMap) []ctrgate.PortMapping {
	seen := map[ctrgate.PortMapping]bool{}
	var out []ctrgate.PortMapping
	for port, bindings := range pm {
		cp := port.Int()
		proto := port.Proto()
		for _, b := range bindings {
			hp, _ := strconv.Atoi(b.HostPort)
			ip := b.HostIP
			if ip == "0.0.0.0" || ip == "::" {
				ip = ""
			}
			m := ctrgate.PortMapping{HostIP: ip, HostPort: hp, ContainerPort: cp, Protocol: proto}
			if !seen[m] {
				seen[m] = true
				out = append(out, m)
			}
		}
	}
	sortPorts(out)
	return out
}

// fromSummaryPorts converts the ports of a list entry.
func fromSummaryPorts(ps []container.Port) []ctrgate.PortMapping {
	seen := map[ctrgate.PortMapping]bool{}
	var out []ctrgate.PortMapping
	for _, p := range ps {
		if p.PublicPort == 0 {
			continue // exposed, not published
		}
		ip := p.IP
		if ip == "0.0.0.0" || ip == "::" {
			ip = ""
		}
		proto := p.Type
		if proto == "" {
			proto = "tcp"
		}
		m := ctrgate.PortMapping{HostIP: ip, HostPort: int(p.PublicPort), ContainerPort: int(p.PrivatePort), Protocol: proto}
		if !seen[m] {
			seen[m] = true
			out = append(out, m)
		}
	}
	sortPorts(out)
	return out
}

func sortPorts(ps []ctrgate.PortMapping) {
	sort.Slice(ps, func(i, j int) bool {
		a, b := ps[i], ps[j]
		if a.ContainerPort != b.ContainerPort {
			return a.ContainerPort < b.ContainerPort
		}
		if a.Protocol != b.Protocol {
			return a.Protocol < b.Protocol
		}
		if a.HostIP != b.HostIP {
			return a.HostIP < b.HostIP
		}
		return a.HostPort < b.HostPort
	})
}

// parseTime parses the engine's RFC 3339 times; Docker's "never" time
// (0001-01-01T00:00:00Z) and garbage give the zero time.
func parseTime(s string) time.Time {
	if s == "" {
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil || t.Year() <= 1 {
		return time.Time{}
	}
	return t
}
