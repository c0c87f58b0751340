// Package ctrgate puts every container engine a Go program meets behind one
// interface, ContainerRuntime.
//
// Backends live in their own packages (podmancli, podmanapi, docker, fake) and
// register themselves by name with package backend, the way database/sql
// drivers do. Every backend passes the same behavioural suite (package
// conformance), so code written against ContainerRuntime behaves the same on
// Podman, Docker and the in-memory fake.
//
// # The contract every backend keeps
//
//   - Every method takes a context.Context first and returns promptly when it
//     is cancelled or its deadline passes; the returned error then wraps
//     ctx.Err() (so errors.Is(err, context.DeadlineExceeded) holds). No method
//     blocks forever on a hung engine: backends apply a default per-call timeout
//     when the context has no deadline, except for the calls documented as
//     blocking (Wait, Logs with Follow, Events).
//   - Errors are typed: errors.Is with the sentinels of this package
//     (ErrNotFound, ErrAlreadyExists, ErrNotRunning, ErrRunning,
//     ErrImageNotFound, ErrRegistryUnavailable, ErrInvalidSpec,
//     ErrEngineUnavailable, ErrUnsupported)
//     works on every backend; errors.As finds *EngineError, *GPUConfigError,
//     *SpecError and *ExitedError. An exit code is never an error signal: a
//     container may really exit 1 or 124.
//   - Bad input is rejected with ErrInvalidSpec before any engine is touched
//     (see ValidateSpec, ValidateName).
//   - Secrets (environment entries marked Secret or whose keys look sensitive)
//     never appear in error messages, logs or debug output.
//   - Containers are addressed by name or ID wherever a method takes a name.
//
// The runtime backend.Open returns is the contract layer (Enforce) over the
// chosen backend's driver: the checks above that every backend shares
// (arguments, the closed runtime, returning at the caller's deadline,
// errors naming the method and backend) are made there once.
package ctrgate

import (
	"context"
	"io"
	"time"
)

//go:generate go run go.uber.org/mock/mockgen@v0.6.0 -destination=ctrgatemock/runtime_mock.go -package=ctrgatemock github.com/ctrgate/ctrgate ContainerRuntime

// ContainerRuntime is one container engine seen through one contract.
//
// Implementations are safe for concurrent use by multiple goroutines.
// Convenience operations built only on these methods (Run, IsRunning,
// StatesByPrefix, RemoveAll, WaitReady, StateOf) are package functions, so
// every backend gets them with identical behaviour.
type ContainerRuntime interface {
	// Info describes the engine behind this runtime. It fails with
	// ErrEngineUnavailable when the engine cannot be reached.
	Info(ctx context.Context) (*EngineInfo, error)

	// ImageExists reports whether ref is present in local storage. A missing
	// image is (false, nil); an error means the question could not be answered.
	ImageExists(ctx context.Context, ref string) (bool, error)

	// PullImage makes ref available locally according to policy:
	// PullNever fails with ErrImageNotFound when ref is absent and never
	// contacts a registry; PullMissing (the zero value) pulls only when absent;
	// PullAlways pulls every time, getting what was pushed since. A ref the
	// registry answers it does not have fails with an error wrapping
	// ErrImageNotFound; a registry that does not answer (refused, unknown
	// host, timeout, TLS failure) with one wrapping ErrRegistryUnavailable,
	// never ErrImageNotFound. Create applies spec.PullPolicy the same way.
	PullImage(ctx context.Context, ref string, policy PullPolicy) error

	// ImportImage creates image ref from a tar stream of a root file system
	// (as "podman import" / "docker import" do), applying opts to the image
	// configuration. Importing over an existing ref replaces the tag.
	ImportImage(ctx context.Context, ref string, rootfs io.Reader, opts ImportOptions) error

	// ListImages returns the images in local storage that match filter, in
	// ONE engine round trip, ordered by ID. filter.RefPrefix is matched
	// literally against each reference of an image as the engine reports it
	// (Podman qualifies short names, e.g. "localhost/app:1"; Docker keeps
	// them as given); every label in filter.Labels must be present with that
	// value (an empty value matches any value of the key). An empty result
	// means no image matched; a failed query is always an error.
	ListImages(ctx context.Context, filter ImageFilter) ([]Image, error)

	// RemoveImage deletes ref from local storage. It fails with
	// ErrImageNotFound when ref is absent, and with ErrRunning when a
	// container uses the image and force is false. With force it succeeds
	// even when containers use the image; what becomes of those containers
	// is the engine's choice (Podman removes them, Docker keeps them).
	RemoveImage(ctx context.Context, ref string, force bool) error

	// Create validates spec (ErrInvalidSpec before any engine call), makes the
	// image available according to spec.PullPolicy, and creates the container
	// without starting it. It returns the container's ID. A taken name fails
	// with ErrAlreadyExists; of several concurrent creates of one name exactly
	// one succeeds. A GPU request on an engine without a usable GPU setup
	// fails with *GPUConfigError here or at Start.
	Create(ctx context.Context, spec ContainerSpec) (string, error)

	// Start starts a created or exited container. Starting a running
	// container is a no-op. Missing: ErrNotFound.
	Start(ctx context.Context, name string) error

	// Stop sends the container's stop signal (spec.StopSignal, SIGTERM by
	// default) and, if the container has not exited after timeout, kills it
	// with SIGKILL. A negative timeout means the container's own stop timeout
	// (spec.StopTimeout, 10 s by default); zero kills at once. Stopping a
	// container that is not running is a no-op. Stop returns once the
	// container has exited. Missing: ErrNotFound.
	Stop(ctx context.Context, name string, timeout time.Duration) error

	// Kill sends signal (a name such as "SIGTERM" or "TERM", or a number;
	// "" means SIGKILL) to the container's main process and returns without
	// waiting. A container that is not running: ErrNotRunning. Missing:
	// ErrNotFound. An unknown signal: ErrInvalidSpec.
	Kill(ctx context.Context, name string, signal string) error

	// Remove deletes the container. A running container is removed only with
	// opts.Force (it is killed first); otherwise the error wraps ErrRunning.
	// Missing: ErrNotFound (RemoveAll treats that as success).
	Remove(ctx context.Context, name string, opts RemoveOptions) error

	// Inspect returns the container's current description. Missing:
	// ErrNotFound.
	Inspect(ctx context.Context, name string) (*Container, error)

	// List returns the containers that match filter, in ONE engine round trip.
	// NamePrefix is matched literally (no pattern syntax) against the
	// container name; every label in filter.Labels must be present with that
	// value (an empty value matches any value of the key). Without filter.All
	// only running containers are returned. An empty result means no
	// container matched; a failed query is always an error.
	List(ctx context.Context, filter ListFilter) ([]Container, error)

	// Wait blocks until the container's main process exits and returns its
	// exit code. A container that has already exited returns its recorded
	// exit code at once. A created container that was never started is
	// waited for until it has been started and has exited. When Wait has
	// returned, Inspect, List and StatesByPrefix already report the
	// container exited with that code. Missing: ErrNotFound. Wait only ends
	// early through ctx.
	Wait(ctx context.Context, name string) (int, error)

	// Logs returns the container's output as lines, stdout and stderr told
	// apart. Without opts.Follow the stream ends (io.EOF) after the output
	// produced so far; with Follow it ends when the container exits, when ctx
	// is done, or when the stream is closed; following a created container
	// that has not started yet waits for its start (so WaitReady may be
	// called between Create and Start). Lines may be of any length; a
	// final line without a newline is delivered too. The caller must Close the
	// stream. Missing: ErrNotFound.
	//
	// A followed stream is complete: when the engine ends its follower
	// while ctx is live, the backend checks whether the container has
	// exited and, if the engine delivered less than its log holds, reads
	// the rest and delivers exactly the missing lines, once, in order (no
	// duplicate, no gap); if the container still runs, it follows again
	// from where it was (logstream.Complete). A stream that ends because
	// the engine failed ends with an error, never io.EOF. Text that stays
	// without a newline for PartialIdle is delivered as a partial LogLine
	// (see LogLine for how pieces join).
	Logs(ctx context.Context, name string, opts LogOptions) (LogStream, error)

	// Exec runs a command in a running container and waits for it. The
	// command's own exit code is in the result, never turned into an error.
	// A container that is not running: ErrNotRunning. Missing: ErrNotFound.
	Exec(ctx context.Context, name string, opts ExecOptions) (*ExecResult, error)

	// CopyTo extracts the tar stream archive into directory dstDir of the
	// container's file system. It works on created, running and exited
	// containers. Missing container: ErrNotFound.
	CopyTo(ctx context.Context, name, dstDir string, archive io.Reader) error

	// CopyFrom returns a tar stream of srcPath (a file or directory) in the
	// container's file system; the caller must close it. It works on created,
	// running and exited containers. Missing container or path: ErrNotFound.
	CopyFrom(ctx context.Context, name, srcPath string) (io.ReadCloser, error)

	// Events streams container lifecycle events (create, start, die with the
	// exit code, remove) that happen after the call, filtered by filter. The
	// stream ends when ctx is done or it is closed; the caller must Close it.
	// It survives the engine: when the engine ends its stream (Podman
	// rotating its events log, a service or daemon restart), the backend
	// subscribes again from the last event delivered, so that no event is
	// lost (as long as the engine still has it) or delivered twice (see
	// driver.ResumeEvents). Only when the engine stays unreachable for the
	// backend's resume window (1 s; option "events_resume_window") does the
	// stream end, with an error wrapping ErrEngineUnavailable; it never
	// ends with io.EOF unless closed.
	Events(ctx context.Context, filter EventFilter) (EventStream, error)

	// Close releases the runtime's resources (connections, helpers). It does
	// not touch containers. Calls after Close fail with ErrEngineUnavailable.
	Close() error
}

// EngineInfo describes the engine behind a runtime.
type EngineInfo struct {
	Backend             string   // registered backend name: "podman-cli", "podman-api", "docker", "fake"
	Engine              string   // "podman", "docker" or "fake"
	Version             string   // engine version, e.g. "4.3.1"
	APIVersion          string   // API version spoken, e.g. "1.41" or "4.3.1"
	Rootless            bool     // the engine runs without root privileges
	CgroupVersion       string   // "v1" or "v2"; "" when the engine does not say
	RootlessNetworkMode string   // "slirp4netns" or "pasta"; "" when the engine does not say
	OCIRuntime          string   // default OCI runtime, e.g. "runc", "crun"
	CDIGPUs             bool     // CDI GPU devices (nvidia.com/gpu=...) are configured
	CDIDevices          []string // fully qualified CDI device names known to the engine
}

// PullPolicy says when an image is pulled from a registry.
type PullPolicy string

// Pull policies. The zero value means PullMissing.
const (
	PullMissing PullPolicy = "missing" // pull only when the image is absent locally
	PullNever   PullPolicy = "never"   // never pull; absent image: ErrImageNotFound
	PullAlways  PullPolicy = "always"  // pull every time
)

// ImportOptions configures an image made by ImportImage.
type ImportOptions struct {
	Entrypoint []string          // image ENTRYPOINT (exec form)
	Cmd        []string          // image CMD (exec form)
	Env        []string          // image ENV as KEY=VALUE
	WorkDir    string            // image WORKDIR
	Labels     map[string]string // image labels
}

// ImageFilter selects images for ListImages.
type ImageFilter struct {
	RefPrefix string            // literal prefix of one of the image's references; "" matches every image
	Labels    map[string]string // required labels; an empty value matches any value
}

// Image is one image in local storage.
type Image struct {
	ID      string            // the engine's image ID, hex, without "sha256:"
	Refs    []string          // references (name:tag) naming it, sorted; none for an untagged image
	Size    int64             // size in bytes as the engine reports it
	Created time.Time         // when the image was made; zero if unknown
	Labels  map[string]string // image labels
}

// RemoveOptions configures Remove.
type RemoveOptions struct {
	Force   bool // kill a running container first
	Volumes bool // also remove anonymous volumes
}

// ListFilter selects containers for List.
type ListFilter struct {
	NamePrefix string            // literal name prefix; "" matches every name
	Labels     map[string]string // required labels; an empty value matches any value
	All        bool              // include containers that are not running
}

// LogOptions configures Logs.
type LogOptions struct {
	Follow bool      // keep streaming until the container exits
	Since  time.Time // only lines written at or after Since (zero: all)
	Tail   int       // only the last Tail lines of existing output (0: all)
}

// ExecOptions configures Exec.
type ExecOptions struct {
	Cmd     []string  // command and arguments (required)
	Env     []EnvVar  // extra environment
	WorkDir string    // working directory ("" = container's)
	User    string    // user[:group] ("" = container's)
	Stdin   io.Reader // optional standard input, closed after it is copied
}

// ExecResult is the outcome of Exec.
type ExecResult struct {
	ExitCode int
	Stdout   []byte
	Stderr   []byte
}
