package ctrgate

import "time"

// ContainerSpec describes a container to create. The zero value of every
// optional field means "the engine's default". ValidateSpec checks a spec;
// every backend calls it before touching the engine.
type ContainerSpec struct {
	Name        string            // container name; "" lets the engine choose
	Image       string            // image reference (required)
	PullPolicy  PullPolicy        // when to pull Image ("" = PullMissing)
	Command     []string          // CMD: arguments (or command) run by the entrypoint
	Entrypoint  []string          // ENTRYPOINT; nil keeps the image's
	Env         []EnvVar          // environment, in order
	Labels      map[string]string // container labels
	Annotations map[string]string // OCI annotations
	Mounts      []Mount           // bind mounts, named volumes, tmpfs
	Ports       []PortMapping     // published ports
	Network     NetworkSpec       // network mode
	ExtraHosts  []HostEntry       // extra /etc/hosts entries
	User        string            // user[:group], by name or number
	UserNS      UserNSSpec        // user namespace mode
	WorkDir     string            // working directory
	Hostname    string            // host name inside the container
	GPUs        GPURequest        // GPUs to expose
	CapAdd      []string          // capabilities to add, e.g. "NET_ADMIN"
	CapDrop     []string          // capabilities to drop, e.g. "ALL"
	SecurityOpt []string          // raw security options, e.g. "label=disable"
	// NoNewPrivileges sets the no-new-privileges security option.
	NoNewPrivileges bool
	ReadOnlyRootfs  bool          // mount the root file system read-only
	Resources       Resources     // memory, CPU and pids limits
	Ulimits         []Ulimit      // resource limits
	Init            bool          // run an init process as PID 1
	StopSignal      string        // signal Stop sends first ("" = SIGTERM)
	StopTimeout     time.Duration // Stop's grace period before SIGKILL (0 = 10 s)
	AutoRemove      bool          // remove the container when it exits
	OCIRuntime      string        // OCI runtime name: "crun", "runc", "krun"; "" = engine default
}

// EnvVar is one environment entry. Secret entries are redacted wherever the
// library prints them, as are entries whose names look sensitive (see
// package redact).
type EnvVar struct {
	Name   string
	Value  string
	Secret bool
}

// MountType is the kind of a Mount.
type MountType string

// Mount types.
const (
	MountBind   MountType = "bind"   // a host path
	MountVolume MountType = "volume" // a named volume (created when absent)
	MountTmpfs  MountType = "tmpfs"  // an in-memory file system
)

// Relabel says how a bind mount is relabelled for SELinux.
type Relabel string

// SELinux relabel modes.
const (
	RelabelNone    Relabel = ""        // no relabelling
	RelabelShared  Relabel = "shared"  // ":z", shared among containers
	RelabelPrivate Relabel = "private" // ":Z", private to this container
)

// Mount is one file system mount.
type Mount struct {
	Type     MountType
	Source   string  // host path (bind) or volume name (volume); unused for tmpfs
	Target   string  // absolute path in the container (required)
	ReadOnly bool    // mount read-only
	Relabel  Relabel // SELinux relabelling (bind only)
	Size     int64   // tmpfs size in bytes (0 = engine default)
}

// PortMapping publishes a container port on the host.
type PortMapping struct {
	HostIP        string // "" = all addresses
	HostPort      int    // 0 = the engine assigns a free port
	ContainerPort int    // required, 1..65535
	Protocol      string // "tcp" (default) or "udp"
}

// NetworkMode is the network a container joins.
type NetworkMode string

// Network modes.
const (
	NetworkDefault     NetworkMode = ""            // the engine's default
	NetworkNone        NetworkMode = "none"        // loopback only
	NetworkHost        NetworkMode = "host"        // the host's network namespace
	NetworkBridge      NetworkMode = "bridge"      // a bridge network (NetworkSpec.Name or the default bridge)
	NetworkSlirp4netns NetworkMode = "slirp4netns" // rootless user-mode networking (podman)
	NetworkPasta       NetworkMode = "pasta"       // rootless user-mode networking (podman >= 4.4)
)

// NetworkSpec selects the container's network.
type NetworkSpec struct {
	Mode    NetworkMode
	Name    string   // bridge network name (NetworkBridge only)
	Options []string // mode options, e.g. "allow_host_loopback=true"
}

// HostEntry is one extra /etc/hosts line.
type HostEntry struct {
	Host string
	IP   string
}

// UserNSMode is the user namespace mode.
type UserNSMode string

// User namespace modes.
const (
	UserNSDefault UserNSMode = ""        // the engine's default
	UserNSHost    UserNSMode = "host"    // the host's user namespace
	UserNSKeepID  UserNSMode = "keep-id" // map the caller's uid/gid into the container (rootless podman)
	UserNSAuto    UserNSMode = "auto"    // an automatically allocated range (podman)
)

// UserNSSpec configures the user namespace.
type UserNSSpec struct {
	Mode UserNSMode
	UID  *int // keep-id: the uid inside the container (nil = same as outside)
	GID  *int // keep-id: the gid inside the container (nil = same as outside)
}

// GPURequest asks for GPUs. All takes every GPU; Devices names CDI devices
// such as "nvidia.com/gpu=0". The zero value requests none.
type GPURequest struct {
	All     bool
	Devices []string
}

// Requested reports whether any GPU is requested.
func (g GPURequest) Requested() bool { return g.All || len(g.Devices) > 0 }

// CDIDevices returns the CDI device names the request stands for:
// "nvidia.com/gpu=all" for All, otherwise Devices.
func (g GPURequest) CDIDevices() []string {
	if g.All {
		return []string{"nvidia.com/gpu=all"}
	}
	return append([]string(nil), g.Devices...)
}

// Resources limits a container. Zero means unlimited / engine default.
type Resources struct {
	MemoryBytes int64   // memory limit in bytes
	CPUs        float64 // number of CPUs, e.g. 1.5
	PidsLimit   int64   // maximum number of processes
}

// Ulimit is one resource limit, e.g. {Name: "nofile", Soft: 1024, Hard: 2048}.
type Ulimit struct {
	Name string
	Soft int64
	Hard int64
}
