package podmancli

import (
	"encoding/json"
	"fmt"
	"math"
	"net"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/ctrgate/ctrgate"
	"github.com/ctrgate/ctrgate/gpu"
	"github.com/ctrgate/ctrgate/redact"
	"github.com/ctrgate/ctrgate/rootless"
)

func redactText(s string, secrets []string) string { return redact.Text(s, secrets) }

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
// environment comes from plan. The image and command follow "--".
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
	if spec.GPUs.Requested() {
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
	}
	for _, k := range sortedKeys(spec.Labels) {
		a = append(a, "--label", k+"="+spec.Labels[k])
	}
	for _, k := range sortedKeys(spec.Annotations) {
		a = append(a, "--annotation", k+"="+spec.Annotations[k])
	}
	for _, m := range spec.Mounts {
		a = append(a, "--mount", mountArg(m))
	}
	for _, p := range spec.Ports {
		a = append(a, "--publish", portArg(p))
	}
	if nv := rootless.NetworkValue(spec.Network); nv != "" {
		a = append(a, "--network", nv)
	}
	for _, h := range spec.ExtraHosts {
		a = append(a, "--add-host", h.Host+":"+h.IP)
	}
	if spec.User != "" {
		a = append(a, "--user", spec.User)
	}
	switch spec.UserNS.Mode {
	case ctrgate.UserNSDefault:
	case ctrgate.UserNSKeepID:
		a = append(a, "--userns", rootless.KeepIDValue(spec.UserNS.UID, spec.UserNS.GID))
	default:
		a = append(a, "--userns", string(spec.UserNS.Mode))
	}
	if spec.WorkDir != "" {
		a = append(a, "--workdir", spec.WorkDir)
	}
	if spec.Hostname != "" {
		a = append(a, "--hostname", spec.Hostname)
	}
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
	a = append(a, "--", spec.Image)
	return append(a, spec.Command...)
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
