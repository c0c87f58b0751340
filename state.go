package ctrgate

import (
	"strings"
	"time"
)

// State is a container state normalised across engines.
type State string

// Normalised container states.
const (
	StateCreated    State = "created"
	StateRunning    State = "running"
	StatePaused     State = "paused"
	StateRestarting State = "restarting"
	StateStopping   State = "stopping"
	StateExited     State = "exited"
	StateDead       State = "dead"
	StateRemoving   State = "removing"
	StateUnknown    State = "unknown"
)

// ParseState normalises an engine's state word (Docker's and Podman's
// spellings, any case) to a State. Unknown words give StateUnknown.
func ParseState(raw string) State {
	switch strings.ToLower(strings.TrimSpace(raw)) {
	case "created", "configured", "initialized":
		return StateCreated
	case "running", "up":
		return StateRunning
	case "paused":
		return StatePaused
	case "restarting":
		return StateRestarting
	case "stopping":
		return StateStopping
	case "exited", "stopped":
		return StateExited
	case "dead":
		return StateDead
	case "removing":
		return StateRemoving
	default:
		return StateUnknown
	}
}

// ContainerState is a container's run state.
type ContainerState struct {
	Status     State     // normalised state
	Raw        string    // the engine's own word for it
	ExitCode   int       // exit code of the last run (meaningful once exited)
	Pid        int       // main process id on the host while running (0 if unknown)
	StartedAt  time.Time // zero if never started or unknown
	FinishedAt time.Time // zero if not finished or unknown
	OOMKilled  bool      // the last run was killed for lack of memory
	Error      string    // the engine's error for the last run, redacted
}

// Running reports whether the container's main process is alive
// (running, paused, restarting or stopping).
func (s ContainerState) Running() bool {
	switch s.Status {
	case StateRunning, StatePaused, StateRestarting, StateStopping:
		return true
	}
	return false
}

// KeepPorts returns ports, or nil once the container has exited (or is
// dead): a port binding never outlives the run, whatever the engine still
// reports. Backends pass the ports they read through it.
func (s ContainerState) KeepPorts(ports []PortMapping) []PortMapping {
	switch s.Status {
	case StateExited, StateDead, StateRemoving:
		return nil
	}
	return ports
}

// Container describes a container, as returned by Inspect and List.
// List fills ID, Name, Image, Labels, Ports, Created and State.Status, Raw
// and ExitCode; Inspect fills every field the engine knows.
type Container struct {
	ID      string
	Name    string // without Docker's leading "/"
	Image   string // image reference as given at create
	ImageID string
	Created time.Time
	State   ContainerState
	Labels  map[string]string
	Ports   []PortMapping // published ports: as requested before the start, with the host ports bound while it runs, none once it has exited
}
