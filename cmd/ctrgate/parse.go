package main

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/docker/go-connections/nat"
	"github.com/docker/go-units"

	"github.com/ctrgate/ctrgate"
	"github.com/ctrgate/ctrgate/redact"
)

// listFlag is a repeatable string flag.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }

// Set implements pflag.Value.
func (l *listFlag) Set(s string) error {
	*l = append(*l, s)
	return nil
}

// Type implements pflag.Value.
func (l *listFlag) Type() string { return "value" }

// envFlag is a repeatable -e / --secret-env flag. It records secret values
// (every value of --secret-env, and values whose keys look sensitive) the
// moment it is set, so even an error in a later flag cannot print them.
type envFlag struct {
	vals   *listFlag
	sec    *secretSet
	secret bool
}

func (e envFlag) String() string {
	if e.vals == nil {
		return ""
	}
	return strings.Join(*e.vals, ",")
}

// Type implements pflag.Value.
func (e envFlag) Type() string { return "K=V" }

// Set implements pflag.Value.
func (e envFlag) Set(s string) error {
	*e.vals = append(*e.vals, s)
	if k, v, ok := strings.Cut(s, "="); ok && (e.secret || redact.IsSensitiveKey(k)) {
		e.sec.add(v)
	}
	return nil
}

// durationFlag accepts a Go duration ("1m30s") or a number of seconds.
type durationFlag struct {
	d   time.Duration
	set bool
}

func (d *durationFlag) String() string {
	if d == nil || !d.set {
		return ""
	}
	return d.d.String()
}

// Type implements pflag.Value.
func (d *durationFlag) Type() string { return "duration" }

// Set implements pflag.Value.
func (d *durationFlag) Set(s string) error {
	if n, err := strconv.ParseFloat(s, 64); err == nil {
		d.d = time.Duration(n * float64(time.Second))
		d.set = true
		return nil
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("%q is neither a duration (30s, 1m) nor a number of seconds", s)
	}
	d.d, d.set = v, true
	return nil
}

// usageError is a mistake on the command line (exit code 125, hint to -h).
type usageError struct {
	cmd string
	msg string
}

func (e *usageError) Error() string { return e.msg }

func usagef(cmd, format string, args ...any) error {
	return &usageError{cmd: cmd, msg: fmt.Sprintf(format, args...)}
}

// parseEnv turns -e / --secret-env values into env entries. "K=V" sets K;
// a bare "K" takes the value of K from the caller's environment and is
// skipped when it is unset (as docker and podman do).
func parseEnv(vals []string, secret bool, getenv func(string) string) []ctrgate.EnvVar {
	var out []ctrgate.EnvVar
	for _, v := range vals {
		k, val, ok := strings.Cut(v, "=")
		if !ok {
			val = getenv(k)
			if val == "" {
				continue
			}
		}
		out = append(out, ctrgate.EnvVar{Name: k, Value: val, Secret: secret})
	}
	return out
}

// parseKV parses repeated k=v flags into a map ("k" alone gives an empty
// value, which as a filter matches any value).
func parseKV(cmd, what string, vals []string) (map[string]string, error) {
	if len(vals) == 0 {
		return nil, nil
	}
	out := make(map[string]string, len(vals))
	for _, v := range vals {
		k, val, _ := strings.Cut(v, "=")
		if k == "" {
			return nil, usagef(cmd, "invalid %s %q: the name before '=' is empty", what, v)
		}
		out[k] = val
	}
	return out, nil
}

// parsePort parses -p [hostip:][hostport:]containerport[/proto]; an IPv6
// host address is written in brackets: [::1]:8080:80.
func parsePort(s string) ([]ctrgate.PortMapping, error) {
	maps, err := nat.ParsePortSpec(s)
	if err != nil {
		return nil, fmt.Errorf("invalid port %q: %v (want [hostip:][hostport:]port[/tcp|udp], ranges allowed)", s, err)
	}
	explicitProto := strings.Contains(s, "/")
	out := make([]ctrgate.PortMapping, 0, len(maps))
	for _, m := range maps {
		p := ctrgate.PortMapping{HostIP: strings.Trim(m.Binding.HostIP, "[]"), ContainerPort: m.Port.Int()}
		if explicitProto {
			p.Protocol = m.Port.Proto()
		}
		if m.Binding.HostPort != "" {
			if p.HostPort, err = strconv.Atoi(m.Binding.HostPort); err != nil {
				return nil, fmt.Errorf("invalid host port in %q", s)
			}
		}
		out = append(out, p)
	}
	return out, nil
}

// parseVolume parses -v src:dst[:opts] (opts: ro, rw, z, Z, comma
// separated). An absolute src is a bind mount, anything else a named
// volume; a lone "/dst" is an anonymous volume.
func parseVolume(s string) (ctrgate.Mount, error) {
	parts := strings.Split(s, ":")
	var m ctrgate.Mount
	switch len(parts) {
	case 1:
		m = ctrgate.Mount{Type: ctrgate.MountVolume, Target: parts[0]}
	case 2, 3:
		m = ctrgate.Mount{Source: parts[0], Target: parts[1]}
		if strings.HasPrefix(parts[0], "/") || strings.HasPrefix(parts[0], ".") {
			m.Type = ctrgate.MountBind
		} else {
			m.Type = ctrgate.MountVolume
		}
		if len(parts) == 3 {
			for _, o := range strings.Split(parts[2], ",") {
				switch o {
				case "ro":
					m.ReadOnly = true
				case "rw", "":
				case "z":
					m.Relabel = ctrgate.RelabelShared
				case "Z":
					m.Relabel = ctrgate.RelabelPrivate
				default:
					return m, fmt.Errorf("invalid volume option %q in %q (want ro, rw, z or Z)", o, s)
				}
			}
		}
	default:
		return m, fmt.Errorf("invalid volume %q: want src:dst[:ro]", s)
	}
	if m.Source == "" && len(parts) > 1 {
		return m, fmt.Errorf("invalid volume %q: empty source", s)
	}
	return m, nil
}

// parseTmpfs parses --tmpfs dst[:size=64m].
func parseTmpfs(s string) (ctrgate.Mount, error) {
	dst, opts, _ := strings.Cut(s, ":")
	m := ctrgate.Mount{Type: ctrgate.MountTmpfs, Target: dst}
	if opts == "" {
		return m, nil
	}
	for _, o := range strings.Split(opts, ",") {
		k, v, _ := strings.Cut(o, "=")
		if k != "size" {
			return m, fmt.Errorf("invalid tmpfs option %q in %q (only size=N[k|m|g])", o, s)
		}
		n, err := parseSize(v)
		if err != nil {
			return m, fmt.Errorf("invalid tmpfs size in %q: %v", s, err)
		}
		m.Size = n
	}
	return m, nil
}

// parseSize parses a size such as 512, 64k, 64m or 2g (binary units, as
// docker and podman read them).
func parseSize(v string) (int64, error) {
	n, err := units.RAMInBytes(v)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%q is not a size (want e.g. 512k, 64m, 2g)", v)
	}
	return n, nil
}

// splitNoNewPrivileges takes "no-new-privileges" (or ":true"/"=true")
// out of --security-opt values into its own field, as docker does.
func splitNoNewPrivileges(opts []string) ([]string, bool) {
	var out []string
	nnp := false
	for _, o := range opts {
		switch o {
		case "no-new-privileges", "no-new-privileges:true", "no-new-privileges=true":
			nnp = true
		case "no-new-privileges:false", "no-new-privileges=false":
			nnp = false
		default:
			out = append(out, o)
		}
	}
	return out, nnp
}

// parseUserNS parses --userns: "", host, auto, keep-id, or
// keep-id:uid=N,gid=N.
func parseUserNS(s string) (ctrgate.UserNSSpec, error) {
	mode, opts, hasOpts := strings.Cut(s, ":")
	ns := ctrgate.UserNSSpec{Mode: ctrgate.UserNSMode(mode)}
	switch ns.Mode {
	case ctrgate.UserNSDefault, ctrgate.UserNSHost, ctrgate.UserNSAuto, ctrgate.UserNSKeepID:
	default:
		return ns, fmt.Errorf("unknown mode %q (want host, auto or keep-id)", mode)
	}
	if !hasOpts {
		return ns, nil
	}
	if ns.Mode != ctrgate.UserNSKeepID {
		return ns, fmt.Errorf("%q: only keep-id takes options", s)
	}
	for _, o := range strings.Split(opts, ",") {
		k, v, _ := strings.Cut(o, "=")
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return ns, fmt.Errorf("%q: %q is not a uid/gid", s, v)
		}
		switch k {
		case "uid":
			ns.UID = &n
		case "gid":
			ns.GID = &n
		default:
			return ns, fmt.Errorf("%q: unknown option %q (want uid=N,gid=N)", s, k)
		}
	}
	return ns, nil
}

// parseHostEntry parses --add-host host:ip (the IP may be IPv6: the host
// ends at the first colon).
func parseHostEntry(s string) (ctrgate.HostEntry, error) {
	host, ip, ok := strings.Cut(s, ":")
	if !ok || host == "" || ip == "" {
		return ctrgate.HostEntry{}, fmt.Errorf("%q: want host:ip", s)
	}
	return ctrgate.HostEntry{Host: host, IP: strings.Trim(ip, "[]")}, nil
}

// parseGPUs parses --gpus: "all", or a comma separated list of devices,
// each a fully qualified CDI name (nvidia.com/gpu=0) or a bare index (0),
// optionally written as docker's "device=0,1".
func parseGPUs(s string) (ctrgate.GPURequest, error) {
	s = strings.TrimPrefix(strings.Trim(s, `"`), "device=")
	if s == "" {
		return ctrgate.GPURequest{}, fmt.Errorf("empty --gpus value (want all or a device list)")
	}
	if s == "all" {
		return ctrgate.GPURequest{All: true}, nil
	}
	var r ctrgate.GPURequest
	for _, d := range strings.Split(s, ",") {
		d = strings.TrimSpace(d)
		if d == "" {
			continue
		}
		if _, err := strconv.Atoi(d); err == nil || !strings.Contains(d, "=") {
			d = "nvidia.com/gpu=" + d
		}
		r.Devices = append(r.Devices, d)
	}
	if len(r.Devices) == 0 {
		return ctrgate.GPURequest{}, fmt.Errorf("--gpus %q names no device (want all or a device list such as 0,1)", s)
	}
	return r, nil
}

// parseCommandLine parses --entrypoint / --cmd: a JSON array
// (["/bin/sh","-c"]) gives several words, anything else is one word.
func parseCommandLine(s string) ([]string, error) {
	if s == "" {
		return nil, nil
	}
	if strings.HasPrefix(strings.TrimSpace(s), "[") {
		var out []string
		if err := json.Unmarshal([]byte(s), &out); err != nil {
			return nil, fmt.Errorf("invalid JSON array %q: %v", s, err)
		}
		return out, nil
	}
	return []string{s}, nil
}

// parseSince parses --since: an RFC 3339 time, a Unix timestamp, or a
// duration meaning "that long ago".
func parseSince(s string, now time.Time) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	if d, err := time.ParseDuration(s); err == nil {
		return now.Add(-d), nil
	}
	if n, err := strconv.ParseFloat(s, 64); err == nil {
		sec := int64(n)
		return time.Unix(sec, int64((n-float64(sec))*1e9)), nil
	}
	return time.Time{}, fmt.Errorf("invalid --since %q: want a duration (10m), an RFC 3339 time or a Unix timestamp", s)
}
