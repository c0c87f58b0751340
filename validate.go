package ctrgate

import (
	"fmt"
	"net"
	"regexp"
	"strconv"
	"strings"
	"syscall"

	"github.com/ctrgate/ctrgate/redact"
)

// namePattern is what Docker and Podman accept as a container name.
var namePattern = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]*$`)

// ValidateName checks a container name or ID given to a method. It must be
// non-empty, must not begin with "-" (it would be read as a flag) and may
// hold only letters, digits, '_', '.' and '-'.
func ValidateName(name string) error {
	return validateName("Name", name)
}

func validateName(field, name string) error {
	switch {
	case name == "":
		return invalid(field, "must not be empty")
	case strings.HasPrefix(name, "-"):
		return invalid(field, "%q must not begin with '-'", name)
	case len(name) > 253:
		return invalid(field, "longer than 253 characters")
	case !namePattern.MatchString(name):
		return invalid(field, "%q must match %s", name, namePattern)
	}
	return nil
}

// ValidatePrefix checks a name prefix used for listing: "" or a valid name
// start. It never begins with '-'.
func ValidatePrefix(prefix string) error {
	if prefix == "" {
		return nil
	}
	return validateName("NamePrefix", prefix)
}

// ValidateImageFilter checks a ListImages filter: the prefix has no
// whitespace or control characters, label keys are non-empty and hold no
// '=' or NUL.
func ValidateImageFilter(f ImageFilter) error {
	if strings.ContainsAny(f.RefPrefix, " \t\r\n\x00") {
		return invalid("RefPrefix", "invalid reference prefix %q", f.RefPrefix)
	}
	return validateLabelKeys("Labels", f.Labels)
}

// validateLabelKeys checks the keys of a label filter.
func validateLabelKeys(field string, labels map[string]string) error {
	for k := range labels {
		if k == "" || strings.ContainsAny(k, "=\x00") {
			return invalid(field, "invalid label key %q", k)
		}
	}
	return nil
}

// imageRefPattern is a permissive reference check: no whitespace, no
// leading '-', only characters references use.
var imageRefPattern = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.:/@+-]*$`)

// ValidateImageRef checks an image reference given to an image method or a
// spec.
func ValidateImageRef(ref string) error {
	return validateImage("Image", ref)
}

func validateImage(field, ref string) error {
	switch {
	case ref == "":
		return invalid(field, "must not be empty")
	case strings.HasPrefix(ref, "-"):
		return invalid(field, "%q must not begin with '-'", ref)
	case strings.ToLower(repositoryPath(ref)) != repositoryPath(ref):
		// repository paths are lower case; registry hosts, tags and digests may be mixed
		return invalid(field, "%q: repository names must be lower case", ref)
	case !imageRefPattern.MatchString(ref):
		return invalid(field, "%q is not a valid image reference", ref)
	}
	return nil
}

// repositoryPath returns the path part of an image reference: without the
// digest ("@..."), the tag (":..." after the last '/') and the registry host
// (a first component holding '.' or ':' or equal to "localhost").
func repositoryPath(ref string) string {
	if i := strings.IndexByte(ref, '@'); i >= 0 {
		ref = ref[:i]
	}
	if i := strings.LastIndexByte(ref, ':'); i > strings.LastIndexByte(ref, '/') {
		ref = ref[:i]
	}
	if host, rest, ok := strings.Cut(ref, "/"); ok && (strings.ContainsAny(host, ".:") || host == "localhost") {
		ref = rest
	}
	return ref
}

// ValidatePullPolicy checks a pull policy ("" is PullMissing).
func ValidatePullPolicy(p PullPolicy) error {
	switch p {
	case "", PullMissing, PullNever, PullAlways:
		return nil
	}
	return invalid("PullPolicy", "unknown policy %q (want missing, never or always)", p)
}

// ValidateLogOptions checks the options of Logs: Tail must not be negative
// (a *SpecError for field "Tail").
func ValidateLogOptions(opts LogOptions) error {
	if opts.Tail < 0 {
		return invalid("Tail", "must not be negative (got %d)", opts.Tail)
	}
	return nil
}

func validateEnvName(field, key string) error {
	switch {
	case key == "":
		return invalid(field, "empty environment variable name")
	case strings.ContainsAny(key, "=\x00"):
		// print only what precedes the '=' or NUL: what follows may be a value
		return invalid(field, "environment variable name %q... holds '=' or NUL", key[:strings.IndexAny(key, "=\x00")])
	}
	return nil
}

// ValidateEnv checks environment entries: names must be non-empty and hold
// no '=' or NUL; values must hold no NUL.
func ValidateEnv(field string, env []EnvVar) error {
	for i, e := range env {
		f := fmt.Sprintf("%s[%d]", field, i)
		if err := validateEnvName(f+".Name", e.Name); err != nil {
			return err
		}
		if strings.ContainsRune(e.Value, 0) {
			return invalid(f+".Value", "value of %s holds NUL", e.Name)
		}
	}
	return nil
}

var signalNames = map[string]syscall.Signal{
	"HUP": syscall.SIGHUP, "INT": syscall.SIGINT, "QUIT": syscall.SIGQUIT, "ILL": syscall.SIGILL,
	"TRAP": syscall.SIGTRAP, "ABRT": syscall.SIGABRT, "BUS": syscall.SIGBUS, "FPE": syscall.SIGFPE,
	"KILL": syscall.SIGKILL, "USR1": syscall.SIGUSR1, "SEGV": syscall.SIGSEGV, "USR2": syscall.SIGUSR2,
	"PIPE": syscall.SIGPIPE, "ALRM": syscall.SIGALRM, "TERM": syscall.SIGTERM, "CHLD": syscall.SIGCHLD,
	"CONT": syscall.SIGCONT, "STOP": syscall.SIGSTOP, "TSTP": syscall.SIGTSTP, "TTIN": syscall.SIGTTIN,
	"TTOU": syscall.SIGTTOU, "URG": syscall.SIGURG, "XCPU": syscall.SIGXCPU, "XFSZ": syscall.SIGXFSZ,
	"VTALRM": syscall.SIGVTALRM, "PROF": syscall.SIGPROF, "WINCH": syscall.SIGWINCH, "IO": syscall.SIGIO,
	"SYS": syscall.SIGSYS,
}

// ParseSignal turns "SIGTERM", "TERM", "term" or "15" into a signal; ""
// is SIGKILL. Unknown signals fail with ErrInvalidSpec.
func ParseSignal(s string) (syscall.Signal, error) {
	if s == "" {
		return syscall.SIGKILL, nil
	}
	if n, err := strconv.Atoi(s); err == nil {
		if n < 1 || n > 64 {
			return 0, invalid("Signal", "signal number %d out of range", n)
		}
		return syscall.Signal(n), nil
	}
	name := strings.TrimPrefix(strings.ToUpper(s), "SIG")
	if sig, ok := signalNames[name]; ok {
		return sig, nil
	}
	return 0, invalid("Signal", "unknown signal %q", s)
}

// SignalName returns the canonical "SIGxxx" name of a signal, or its number.
func SignalName(sig syscall.Signal) string {
	for n, s := range signalNames {
		if s == sig {
			return "SIG" + n
		}
	}
	return strconv.Itoa(int(sig))
}

var validNetworkModes = map[NetworkMode]bool{
	NetworkDefault: true, NetworkNone: true, NetworkHost: true, NetworkBridge: true,
	NetworkSlirp4netns: true, NetworkPasta: true,
}

var ulimitNames = map[string]bool{
	"core": true, "cpu": true, "data": true, "fsize": true, "locks": true, "memlock": true,
	"msgqueue": true, "nice": true, "nofile": true, "nproc": true, "rss": true, "rtprio": true,
	"rttime": true, "sigpending": true, "stack": true, "as": true,
}

// ValidateContainerPath checks a path in a container's file system given
// to CopyTo (field "dstDir") or CopyFrom ("srcPath"): absolute, without
// NUL, as every engine wants it.
func ValidateContainerPath(field, p string) error {
	if !strings.HasPrefix(p, "/") || strings.ContainsRune(p, 0) {
		return invalid(field, "%q must be an absolute path", p)
	}
	return nil
}

// ValidateImportOptions checks the image configuration of ImportImage:
// Env entries are KEY=VALUE with a key free of blanks, quotes, newlines and
// NUL and a value free of line breaks and NUL; WorkDir, if any, is an
// absolute path without line breaks or NUL; label keys are non-empty and
// free of '=', blanks, quotes, line breaks and NUL, their values of line
// breaks and NUL. (Every engine turns these into Dockerfile-like
// instructions, one per line.)
func ValidateImportOptions(o ImportOptions) error {
	for i, e := range o.Env {
		k, v, ok := strings.Cut(e, "=")
		if !ok || k == "" || strings.ContainsAny(k, " \t\"\r\n\x00") {
			return invalid(fmt.Sprintf("ImportOptions.Env[%d]", i), "want KEY=VALUE (got key %q)", k)
		}
		if strings.ContainsAny(v, "\r\n\x00") {
			return invalid(fmt.Sprintf("ImportOptions.Env[%d]", i), "the value of %s holds a line break or NUL", k)
		}
	}
	if o.WorkDir != "" && (!strings.HasPrefix(o.WorkDir, "/") || strings.ContainsAny(o.WorkDir, "\r\n\x00")) {
		return invalid("ImportOptions.WorkDir", "%q must be an absolute path", o.WorkDir)
	}
	for k, v := range o.Labels {
		if k == "" || strings.ContainsAny(k, "= \t\"\r\n\x00") || strings.ContainsAny(v, "\r\n\x00") {
			return invalid("ImportOptions.Labels", "invalid label %q", k)
		}
	}
	return nil
}

// ValidateExecOptions checks the options of Exec: a command whose first
// word is not empty and whose arguments hold no NUL, a valid Env (see
// ValidateEnv), an absolute WorkDir if any, and a User that cannot be read
// as a flag.
func ValidateExecOptions(opts ExecOptions) error {
	if len(opts.Cmd) == 0 || opts.Cmd[0] == "" {
		return invalid("Cmd", "must not be empty")
	}
	for i, a := range opts.Cmd {
		if strings.ContainsRune(a, 0) {
			return invalid("Cmd", "argument %d holds NUL", i)
		}
	}
	if err := ValidateEnv("Env", opts.Env); err != nil {
		return err
	}
	if opts.WorkDir != "" {
		if err := ValidateContainerPath("WorkDir", opts.WorkDir); err != nil {
			return err
		}
	}
	if strings.HasPrefix(opts.User, "-") || strings.ContainsAny(opts.User, " \t\x00") {
		return invalid("User", "invalid user %q", opts.User)
	}
	return nil
}

// ValidateSpec checks a container spec without touching any engine. The
// error is a *SpecError naming the field (errors.Is(err, ErrInvalidSpec)).
func ValidateSpec(s ContainerSpec) error {
	if s.Name != "" {
		if err := validateName("Name", s.Name); err != nil {
			return err
		}
	}
	if err := validateImage("Image", s.Image); err != nil {
		return err
	}
	if err := ValidatePullPolicy(s.PullPolicy); err != nil {
		return err
	}
	if err := ValidateEnv("Env", s.Env); err != nil {
		return err
	}
	for k := range s.Labels {
		if k == "" || strings.ContainsAny(k, "=\x00") {
			return invalid("Labels", "invalid label key %q", k)
		}
	}
	for k := range s.Annotations {
		if k == "" || strings.ContainsAny(k, "=\x00") {
			return invalid("Annotations", "invalid annotation key %q", k)
		}
	}
	for i, m := range s.Mounts {
		if err := validateMount(fmt.Sprintf("Mounts[%d]", i), m); err != nil {
			return err
		}
	}
	for i, p := range s.Ports {
		f := fmt.Sprintf("Ports[%d]", i)
		if p.ContainerPort < 1 || p.ContainerPort > 65535 {
			return invalid(f+".ContainerPort", "%d out of range 1..65535", p.ContainerPort)
		}
		if p.HostPort < 0 || p.HostPort > 65535 {
			return invalid(f+".HostPort", "%d out of range 0..65535", p.HostPort)
		}
		switch p.Protocol {
		case "", "tcp", "udp":
		default:
			return invalid(f+".Protocol", "unknown protocol %q (want tcp or udp)", p.Protocol)
		}
		if p.HostIP != "" && !isIP(p.HostIP) {
			return invalid(f+".HostIP", "%q is not an IP address", p.HostIP)
		}
	}
	if !validNetworkModes[s.Network.Mode] {
		return invalid("Network.Mode", "unknown network mode %q", s.Network.Mode)
	}
	if s.Network.Name != "" && s.Network.Mode != NetworkBridge {
		return invalid("Network.Name", "a network name needs Mode bridge")
	}
	if s.Network.Name != "" {
		if err := validateName("Network.Name", s.Network.Name); err != nil {
			return err
		}
	}
	if len(s.Ports) > 0 && (s.Network.Mode == NetworkNone || s.Network.Mode == NetworkHost) {
		return invalid("Ports", "ports cannot be published with network mode %q", s.Network.Mode)
	}
	for i, h := range s.ExtraHosts {
		if h.Host == "" || strings.ContainsAny(h.Host, ": \t\x00") {
			return invalid(fmt.Sprintf("ExtraHosts[%d].Host", i), "invalid host name %q", h.Host)
		}
		if !isIP(h.IP) {
			return invalid(fmt.Sprintf("ExtraHosts[%d].IP", i), "%q is not an IP address", h.IP)
		}
	}
	if err := validateUser(s.User); err != nil {
		return err
	}
	switch s.UserNS.Mode {
	case UserNSDefault, UserNSHost, UserNSKeepID, UserNSAuto:
	default:
		return invalid("UserNS.Mode", "unknown user namespace mode %q", s.UserNS.Mode)
	}
	if (s.UserNS.UID != nil || s.UserNS.GID != nil) && s.UserNS.Mode != UserNSKeepID {
		return invalid("UserNS", "UID/GID need Mode keep-id")
	}
	if s.UserNS.UID != nil && *s.UserNS.UID < 0 || s.UserNS.GID != nil && *s.UserNS.GID < 0 {
		return invalid("UserNS", "negative uid or gid")
	}
	if s.WorkDir != "" && !strings.HasPrefix(s.WorkDir, "/") {
		return invalid("WorkDir", "%q must be an absolute path", s.WorkDir)
	}
	if s.Hostname != "" && (strings.HasPrefix(s.Hostname, "-") || strings.ContainsAny(s.Hostname, " \t/\x00") || len(s.Hostname) > 64) {
		return invalid("Hostname", "invalid host name %q", s.Hostname)
	}
	for i, d := range s.GPUs.Devices {
		if d == "" || strings.HasPrefix(d, "-") || strings.ContainsAny(d, " \t\x00") {
			return invalid(fmt.Sprintf("GPUs.Devices[%d]", i), "invalid device name %q", d)
		}
	}
	for _, fc := range []struct {
		field string
		caps  []string
	}{{"CapAdd", s.CapAdd}, {"CapDrop", s.CapDrop}} {
		field := fc.field
		for i, c := range fc.caps {
			if c == "" || strings.HasPrefix(c, "-") || strings.ContainsAny(c, " \t,\x00") {
				return invalid(fmt.Sprintf("%s[%d]", field, i), "invalid capability %q", c)
			}
		}
	}
	for _, o := range s.SecurityOpt {
		if o == "" || strings.HasPrefix(o, "-") {
			return invalid("SecurityOpt", "invalid security option %q", o)
		}
	}
	if s.Resources.MemoryBytes < 0 {
		return invalid("Resources.MemoryBytes", "negative limit %d", s.Resources.MemoryBytes)
	}
	if s.Resources.CPUs < 0 {
		return invalid("Resources.CPUs", "negative limit %g", s.Resources.CPUs)
	}
	if s.Resources.PidsLimit < 0 {
		return invalid("Resources.PidsLimit", "negative limit %d", s.Resources.PidsLimit)
	}
	for i, u := range s.Ulimits {
		f := fmt.Sprintf("Ulimits[%d]", i)
		if !ulimitNames[u.Name] {
			return invalid(f+".Name", "unknown ulimit %q", u.Name)
		}
		if u.Soft < 0 || u.Hard < 0 {
			return invalid(f, "negative limit")
		}
		if u.Soft > u.Hard {
			return invalid(f, "soft limit %d above hard limit %d", u.Soft, u.Hard)
		}
	}
	if s.StopSignal != "" {
		if _, err := ParseSignal(s.StopSignal); err != nil {
			return invalid("StopSignal", "unknown signal %q", s.StopSignal)
		}
	}
	if s.StopTimeout < 0 {
		return invalid("StopTimeout", "negative timeout %v", s.StopTimeout)
	}
	if s.OCIRuntime != "" && (strings.HasPrefix(s.OCIRuntime, "-") || strings.ContainsAny(s.OCIRuntime, " \t\x00")) {
		return invalid("OCIRuntime", "invalid runtime name %q", s.OCIRuntime)
	}
	if len(s.Entrypoint) > 0 && s.Entrypoint[0] == "" {
		return invalid("Entrypoint", "first element must not be empty")
	}
	for _, fa := range []struct {
		field string
		argv  []string
	}{{"Entrypoint", s.Entrypoint}, {"Command", s.Command}} {
		field := fa.field
		for i, a := range fa.argv {
			if strings.ContainsRune(a, 0) {
				return invalid(fmt.Sprintf("%s[%d]", field, i), "argument holds NUL")
			}
		}
	}
	return nil
}

func validateMount(f string, m Mount) error {
	if !strings.HasPrefix(m.Target, "/") {
		return invalid(f+".Target", "%q must be an absolute path", m.Target)
	}
	if strings.ContainsAny(m.Target, ",:\x00") || strings.ContainsAny(m.Source, ",\x00") {
		return invalid(f, "paths must not hold ',', ':' (target) or NUL")
	}
	switch m.Type {
	case MountBind:
		if !strings.HasPrefix(m.Source, "/") {
			return invalid(f+".Source", "bind source %q must be an absolute host path", m.Source)
		}
	case MountVolume:
		if m.Source != "" {
			if err := validateName(f+".Source", m.Source); err != nil {
				return err
			}
		}
	case MountTmpfs:
		if m.Source != "" {
			return invalid(f+".Source", "tmpfs takes no source")
		}
		if m.Size < 0 {
			return invalid(f+".Size", "negative size")
		}
	default:
		return invalid(f+".Type", "unknown mount type %q", m.Type)
	}
	switch m.Relabel {
	case RelabelNone:
	case RelabelShared, RelabelPrivate:
		if m.Type != MountBind {
			return invalid(f+".Relabel", "relabelling applies to bind mounts only")
		}
	default:
		return invalid(f+".Relabel", "unknown relabel mode %q", m.Relabel)
	}
	return nil
}

func isIP(s string) bool { return net.ParseIP(s) != nil }

// SecretValues returns the values that must never be printed: those of
// entries marked Secret and of entries whose names are sensitive.
func SecretValues(env []EnvVar) []string {
	var out []string
	for _, e := range env {
		if (e.Secret || redact.IsSensitiveKey(e.Name)) && e.Value != "" {
			out = append(out, e.Value)
		}
	}
	return out
}

// SecretKeys returns the names of entries marked Secret (sensitive names
// are masked by package redact on its own).
func SecretKeys(env []EnvVar) []string {
	var out []string
	for _, e := range env {
		if e.Secret {
			out = append(out, e.Name)
		}
	}
	return out
}

// EnvStrings returns env as KEY=VALUE strings, in order.
func EnvStrings(env []EnvVar) []string {
	out := make([]string, len(env))
	for i, e := range env {
		out[i] = e.Name + "=" + e.Value
	}
	return out
}

// validateUser checks user[:group]: "" (the image's user), or a user name
// or number, optionally with ":" and a group name or number; neither part
// may be empty once given ("::", ":g" and "u:" are rejected).
func validateUser(u string) error {
	if u == "" {
		return nil
	}
	user, group, hasGroup := strings.Cut(u, ":")
	switch {
	case strings.HasPrefix(u, "-") || strings.ContainsAny(u, " \t\x00"):
		return invalid("User", "invalid user %q", u)
	case user == "":
		return invalid("User", "invalid user %q: the user part is empty (want user[:group])", u)
	case hasGroup && (group == "" || strings.Contains(group, ":")):
		return invalid("User", "invalid user %q: want user[:group] with a non-empty group", u)
	}
	return nil
}
