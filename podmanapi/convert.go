package podmanapi

import (
	"fmt"
	"net"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/blang/semver/v4"
	"github.com/containers/podman/v5/libpod/define"
	"github.com/containers/podman/v5/pkg/domain/entities/types"
	"github.com/containers/podman/v5/pkg/specgen"
	spec "github.com/opencontainers/runtime-spec/specs-go"
	nettypes "go.podman.io/common/libnetwork/types"

	"github.com/ctrgate/ctrgate"
	"github.com/ctrgate/ctrgate/gpu"
)

// pastaMinVersion is the first Podman release that knows pasta networking.
const pastaMinVersion = "4.4.0"

// cpuPeriod is the CFS period used to express Resources.CPUs as a quota.
const cpuPeriod = 100000

// toSpecGen converts a validated spec into the libpod create request.
// server is the service's API version (nil: assume the newest); features
// the service lacks fail with ctrgate.ErrUnsupported, options this backend
// cannot express with ctrgate.ErrInvalidSpec, before any engine call. The
// steps after the process's own settings are those of every backend's
// conversion (docker's toCreateConfig, podmancli's createArgs), in the same
// order: mounts, ports, network, user namespace, devices, security,
// resources.
func toSpecGen(s ctrgate.ContainerSpec, server *semver.Version) (*specgen.SpecGenerator, error) {
	g := specgen.NewSpecGenerator(s.Image, false)
	g.Name = s.Name
	if len(s.Command) > 0 {
		g.Command = append([]string(nil), s.Command...)
	}
	if s.Entrypoint != nil {
		g.Entrypoint = append([]string(nil), s.Entrypoint...)
	}
	env := append(append([]ctrgate.EnvVar(nil), gpu.Env(s.GPUs)...), s.Env...)
	if len(env) > 0 {
		g.Env = make(map[string]string, len(env))
		for _, e := range env {
			g.Env[e.Name] = e.Value
		}
	}
	if len(s.Labels) > 0 {
		g.Labels = copyMap(s.Labels)
	}
	if len(s.Annotations) > 0 {
		g.Annotations = copyMap(s.Annotations)
	}
	g.User = s.User
	g.WorkDir = s.WorkDir
	g.Hostname = s.Hostname
	if s.Init {
		g.Init = boolPtr(true)
	}
	if s.StopSignal != "" {
		sig, err := ctrgate.ParseSignal(s.StopSignal)
		if err != nil {
			return nil, err
		}
		g.StopSignal = &sig
	}
	if s.StopTimeout > 0 {
		t := durationSeconds(s.StopTimeout)
		g.StopTimeout = &t
	}
	if s.AutoRemove {
		g.Remove = boolPtr(true)
	}
	g.OCIRuntime = s.OCIRuntime
	g.Terminal = boolPtr(false)

	if err := setMounts(g, s.Mounts); err != nil {
		return nil, err
	}
	setPorts(g, s.Ports)
	if err := setNetwork(g, s, server); err != nil {
		return nil, err
	}
	setUserNS(g, s.UserNS)
	setDevices(g, s.GPUs)
	if err := setSecurity(g, s); err != nil {
		return nil, err
	}
	setResources(g, s)
	return g, nil
}

// durationSeconds rounds d up to whole seconds (the API's unit).
func durationSeconds(d time.Duration) uint {
	if d <= 0 {
		return 0
	}
	return uint((d + time.Second - 1) / time.Second)
}

// setMounts converts the mounts: binds and tmpfs as OCI mounts, volumes as
// named volumes.
func setMounts(g *specgen.SpecGenerator, mounts []ctrgate.Mount) error {
	for i, m := range mounts {
		switch m.Type {
		case ctrgate.MountBind:
			opts := []string{"rbind"}
			if m.ReadOnly {
				opts = append(opts, "ro")
			} else {
				opts = append(opts, "rw")
			}
			switch m.Relabel {
			case ctrgate.RelabelShared:
				opts = append(opts, "z")
			case ctrgate.RelabelPrivate:
				opts = append(opts, "Z")
			}
			g.Mounts = append(g.Mounts, spec.Mount{Type: "bind", Source: m.Source, Destination: m.Target, Options: opts})
		case ctrgate.MountVolume:
			var opts []string
			if m.ReadOnly {
				opts = append(opts, "ro")
			}
			g.Volumes = append(g.Volumes, &specgen.NamedVolume{Name: m.Source, Dest: m.Target, Options: opts})
		case ctrgate.MountTmpfs:
			opts := []string{"rw"}
			if m.ReadOnly {
				opts = []string{"ro"}
			}
			if m.Size > 0 {
				opts = append(opts, "size="+strconv.FormatInt(m.Size, 10))
			}
			g.Mounts = append(g.Mounts, spec.Mount{Type: "tmpfs", Source: "tmpfs", Destination: m.Target, Options: opts})
		default:
			return &ctrgate.SpecError{Field: fmt.Sprintf("Mounts[%d].Type", i), Reason: fmt.Sprintf("unknown mount type %q", m.Type)}
		}
	}
	return nil
}

// setPorts converts the published ports.
func setPorts(g *specgen.SpecGenerator, ports []ctrgate.PortMapping) {
	for _, p := range ports {
		proto := p.Protocol
		if proto == "" {
			proto = "tcp"
		}
		g.PortMappings = append(g.PortMappings, nettypes.PortMapping{
			HostIP:        p.HostIP,
			HostPort:      uint16(p.HostPort),
			ContainerPort: uint16(p.ContainerPort),
			Protocol:      proto,
			Range:         1,
		})
	}
}

// setNetwork converts the network mode and its options (pasta only from
// Podman pastaMinVersion on) and the extra hosts.
func setNetwork(g *specgen.SpecGenerator, s ctrgate.ContainerSpec, server *semver.Version) error {
	for _, h := range s.ExtraHosts {
		g.HostAdd = append(g.HostAdd, h.Host+":"+h.IP)
	}
	n := s.Network
	switch n.Mode {
	case ctrgate.NetworkDefault:
		if len(n.Options) > 0 {
			return &ctrgate.SpecError{Field: "Network.Options", Reason: "options need an explicit network mode"}
		}
	case ctrgate.NetworkNone:
		g.NetNS = specgen.Namespace{NSMode: specgen.NoNetwork}
	case ctrgate.NetworkHost:
		g.NetNS = specgen.Namespace{NSMode: specgen.Host}
	case ctrgate.NetworkBridge:
		g.NetNS = specgen.Namespace{NSMode: specgen.Bridge}
		if n.Name == "" && len(n.Options) > 0 {
			return &ctrgate.SpecError{Field: "Network.Options", Reason: "bridge options need a network Name with the podman-api backend"}
		}
		if n.Name != "" {
			opts, err := perNetworkOptions(n.Options)
			if err != nil {
				return err
			}
			g.Networks = map[string]nettypes.PerNetworkOptions{n.Name: opts}
		}
	case ctrgate.NetworkSlirp4netns:
		g.NetNS = specgen.Namespace{NSMode: specgen.Slirp}
		if len(n.Options) > 0 {
			g.NetworkOptions = map[string][]string{"slirp4netns": append([]string(nil), n.Options...)}
		}
	case ctrgate.NetworkPasta:
		if server != nil && server.Major > 0 {
			if min, _ := semver.Parse(pastaMinVersion); server.LT(min) {
				return ctrgate.NewEngineError(BackendName, ctrgate.OpCreate, "", ctrgate.ErrUnsupported,
					fmt.Sprintf("network mode pasta needs Podman >= %s, the service is %s", pastaMinVersion, server), nil, nil)
			}
		}
		g.NetNS = specgen.Namespace{NSMode: specgen.Pasta}
		if len(n.Options) > 0 {
			g.NetworkOptions = map[string][]string{"pasta": append([]string(nil), n.Options...)}
		}
	default:
		return &ctrgate.SpecError{Field: "Network.Mode", Reason: fmt.Sprintf("unknown network mode %q", n.Mode)}
	}
	return nil
}

// setUserNS converts the user namespace mode.
func setUserNS(g *specgen.SpecGenerator, ns ctrgate.UserNSSpec) {
	switch ns.Mode {
	case ctrgate.UserNSDefault:
	case ctrgate.UserNSHost:
		g.UserNS = specgen.Namespace{NSMode: specgen.Host}
	case ctrgate.UserNSAuto:
		g.UserNS = specgen.Namespace{NSMode: specgen.Auto}
	case ctrgate.UserNSKeepID:
		var opts []string
		if ns.UID != nil {
			opts = append(opts, "uid="+strconv.Itoa(*ns.UID))
		}
		if ns.GID != nil {
			opts = append(opts, "gid="+strconv.Itoa(*ns.GID))
		}
		g.UserNS = specgen.Namespace{NSMode: specgen.KeepID, Value: strings.Join(opts, ",")}
	}
}

// setDevices converts the GPU request into CDI devices.
func setDevices(g *specgen.SpecGenerator, gpus ctrgate.GPURequest) {
	if !gpus.Requested() {
		return
	}
	for _, d := range gpus.CDIDevices() {
		g.Devices = append(g.Devices, spec.LinuxDevice{Path: d})
	}
}

// setSecurity converts capabilities, security options, no-new-privileges
// and the read-only root file system.
func setSecurity(g *specgen.SpecGenerator, s ctrgate.ContainerSpec) error {
	g.CapAdd = append([]string(nil), s.CapAdd...)
	g.CapDrop = append([]string(nil), s.CapDrop...)
	if err := setSecurityOpts(g, s.SecurityOpt); err != nil {
		return err
	}
	if s.NoNewPrivileges {
		g.NoNewPrivileges = boolPtr(true)
	}
	if s.ReadOnlyRootfs {
		g.ReadOnlyFilesystem = boolPtr(true)
	}
	return nil
}

// perNetworkOptions parses bridge options: ip=, mac=, alias=, interface_name=.
func perNetworkOptions(opts []string) (nettypes.PerNetworkOptions, error) {
	var out nettypes.PerNetworkOptions
	for i, o := range opts {
		k, v, ok := strings.Cut(o, "=")
		field := fmt.Sprintf("Network.Options[%d]", i)
		if !ok || v == "" {
			return out, &ctrgate.SpecError{Field: field, Reason: fmt.Sprintf("%q is not key=value", o)}
		}
		switch k {
		case "ip", "ip6":
			ip := net.ParseIP(v)
			if ip == nil {
				return out, &ctrgate.SpecError{Field: field, Reason: fmt.Sprintf("%q is not an IP address", v)}
			}
			out.StaticIPs = append(out.StaticIPs, ip)
		case "mac":
			mac, err := net.ParseMAC(v)
			if err != nil {
				return out, &ctrgate.SpecError{Field: field, Reason: fmt.Sprintf("%q is not a MAC address", v)}
			}
			out.StaticMAC = nettypes.HardwareAddr(mac)
		case "alias":
			out.Aliases = append(out.Aliases, v)
		case "interface_name":
			out.InterfaceName = v
		default:
			return out, &ctrgate.SpecError{Field: field, Reason: fmt.Sprintf("unknown bridge option %q (want ip, ip6, mac, alias or interface_name)", k)}
		}
	}
	return out, nil
}

// setSecurityOpts translates podman's --security-opt values.
func setSecurityOpts(g *specgen.SpecGenerator, opts []string) error {
	for i, o := range opts {
		k, v, _ := strings.Cut(o, "=")
		if k == "no-new-privileges" && v == "" {
			v = "true"
		}
		if v == "" {
			k, v, _ = strings.Cut(o, ":")
		}
		switch k {
		case "label":
			g.SelinuxOpts = append(g.SelinuxOpts, v)
		case "seccomp":
			g.SeccompProfilePath = v
		case "apparmor":
			g.ApparmorProfile = v
		case "no-new-privileges":
			b, err := strconv.ParseBool(v)
			if err != nil {
				return &ctrgate.SpecError{Field: fmt.Sprintf("SecurityOpt[%d]", i), Reason: fmt.Sprintf("%q: want true or false", o)}
			}
			g.NoNewPrivileges = boolPtr(b)
		case "mask":
			g.Mask = append(g.Mask, strings.Split(v, ":")...)
		case "unmask":
			g.Unmask = append(g.Unmask, strings.Split(v, ":")...)
		case "proc-opts":
			g.ProcOpts = append(g.ProcOpts, strings.Split(v, ",")...)
		default:
			return &ctrgate.SpecError{Field: fmt.Sprintf("SecurityOpt[%d]", i), Reason: fmt.Sprintf("unsupported security option %q", o)}
		}
	}
	return nil
}

// setResources converts the resource limits and ulimits.
func setResources(g *specgen.SpecGenerator, s ctrgate.ContainerSpec) {
	for _, u := range s.Ulimits {
		g.Rlimits = append(g.Rlimits, spec.POSIXRlimit{
			Type: "RLIMIT_" + strings.ToUpper(u.Name),
			Soft: uint64(u.Soft),
			Hard: uint64(u.Hard),
		})
	}
	r := s.Resources
	if r.MemoryBytes == 0 && r.CPUs == 0 && r.PidsLimit == 0 {
		return
	}
	res := &spec.LinuxResources{}
	if r.MemoryBytes > 0 {
		m := r.MemoryBytes
		res.Memory = &spec.LinuxMemory{Limit: &m}
	}
	if r.CPUs > 0 {
		period := uint64(cpuPeriod)
		quota := int64(r.CPUs * cpuPeriod)
		res.CPU = &spec.LinuxCPU{Quota: &quota, Period: &period}
	}
	if r.PidsLimit > 0 {
		res.Pids = &spec.LinuxPids{Limit: r.PidsLimit}
	}
	g.ResourceLimits = res
}

func copyMap(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func boolPtr(b bool) *bool { return &b }

// fromInspect converts libpod's inspect data.
func fromInspect(d *define.InspectContainerData) ctrgate.Container {
	out := ctrgate.Container{
		ID:      d.ID,
		Name:    strings.TrimPrefix(d.Name, "/"),
		Image:   d.ImageName,
		ImageID: d.Image,
		Created: d.Created,
	}
	if d.State != nil {
		st := d.State
		out.State = ctrgate.ContainerState{
			Status:     ctrgate.ParseState(st.Status),
			Raw:        st.Status,
			ExitCode:   int(st.ExitCode),
			Pid:        st.Pid,
			StartedAt:  nonZeroTime(st.StartedAt),
			FinishedAt: nonZeroTime(st.FinishedAt),
			OOMKilled:  st.OOMKilled,
			Error:      st.Error, // redacted by the contract layer
		}
		if st.Running && out.State.Status != ctrgate.StatePaused && out.State.Status != ctrgate.StateStopping {
			out.State.Status = ctrgate.StateRunning
		}
	}
	if d.Config != nil && len(d.Config.Labels) > 0 {
		out.Labels = copyMap(d.Config.Labels)
	}
	var ports map[string][]define.InspectHostPort
	if d.NetworkSettings != nil && len(d.NetworkSettings.Ports) > 0 {
		ports = d.NetworkSettings.Ports
	} else if d.HostConfig != nil {
		ports = d.HostConfig.PortBindings
	}
	out.Ports = out.State.KeepPorts(inspectPorts(ports))
	return out
}

// nonZeroTime maps podman's "never" timestamps to the zero time.
func nonZeroTime(t time.Time) time.Time {
	if t.IsZero() || t.Year() <= 1 || t.Unix() <= 0 {
		return time.Time{}
	}
	return t
}

// inspectPorts flattens inspect's "8080/tcp" -> bindings map, sorted.
func inspectPorts(m map[string][]define.InspectHostPort) []ctrgate.PortMapping {
	var out []ctrgate.PortMapping
	for key, binds := range m {
		portStr, proto, _ := strings.Cut(key, "/")
		if proto == "" {
			proto = "tcp"
		}
		cport, err := strconv.Atoi(portStr)
		if err != nil {
			continue
		}
		for _, b := range binds {
			hp, _ := strconv.Atoi(b.HostPort)
			ip := b.HostIP
			if ip == "0.0.0.0" || ip == "::" {
				ip = ""
			}
			out = append(out, ctrgate.PortMapping{HostIP: ip, HostPort: hp, ContainerPort: cport, Protocol: proto})
		}
	}
	sortPorts(out)
	return out
}

// listPorts expands libpod's port ranges, sorted.
func listPorts(pms []nettypes.PortMapping) []ctrgate.PortMapping {
	var out []ctrgate.PortMapping
	for _, p := range pms {
		n := int(p.Range)
		if n < 1 {
			n = 1
		}
		for _, proto := range strings.Split(p.Protocol, ",") {
			if proto == "" {
				proto = "tcp"
			}
			ip := p.HostIP
			if ip == "0.0.0.0" || ip == "::" {
				ip = ""
			}
			for i := 0; i < n; i++ {
				out = append(out, ctrgate.PortMapping{HostIP: ip, HostPort: int(p.HostPort) + i, ContainerPort: int(p.ContainerPort) + i, Protocol: proto})
			}
		}
	}
	sortPorts(out)
	return out
}

func sortPorts(p []ctrgate.PortMapping) {
	sort.Slice(p, func(i, j int) bool {
		if p[i].ContainerPort != p[j].ContainerPort {
			return p[i].ContainerPort < p[j].ContainerPort
		}
		if p[i].Protocol != p[j].Protocol {
			return p[i].Protocol < p[j].Protocol
		}
		if p[i].HostIP != p[j].HostIP {
			return p[i].HostIP < p[j].HostIP
		}
		return p[i].HostPort < p[j].HostPort
	})
}

func fromList(lc types.ListContainer) ctrgate.Container {
	name := ""
	if len(lc.Names) > 0 {
		name = strings.TrimPrefix(lc.Names[0], "/")
	}
	ct := ctrgate.Container{
		ID:      lc.ID,
		Name:    name,
		Image:   lc.Image,
		ImageID: lc.ImageID,
		Created: lc.Created,
		State: ctrgate.ContainerState{
			Status:   ctrgate.ParseState(lc.State),
			Raw:      lc.State,
			ExitCode: int(lc.ExitCode),
			Pid:      lc.Pid,
		},
	}
	ct.Ports = ct.State.KeepPorts(listPorts(lc.Ports))
	if lc.StartedAt > 0 {
		ct.State.StartedAt = time.Unix(lc.StartedAt, 0)
	}
	if lc.Exited && lc.ExitedAt > 0 {
		ct.State.FinishedAt = time.Unix(lc.ExitedAt, 0)
	}
	if len(lc.Labels) > 0 {
		ct.Labels = copyMap(lc.Labels)
	}
	return ct
}
