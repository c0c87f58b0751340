package ctrgate

import "time"

// EventType is a normalised container lifecycle event.
type EventType string

// Normalised event types. Engines' other events are not delivered.
const (
	EventCreate EventType = "create"
	EventStart  EventType = "start"
	EventDie    EventType = "die" // the main process exited; Event.ExitCode is set
	EventRemove EventType = "remove"
)

// Event is one container lifecycle event.
type Event struct {
	Type     EventType
	Raw      string // the engine's own word
	ID       string // container ID
	Name     string // container name
	Image    string
	ExitCode int // for EventDie
	Labels   map[string]string
	Time     time.Time
}

// EventFilter selects events. NamePrefix is matched literally; every label
// must be present with that value (an empty value matches any value).
type EventFilter struct {
	NamePrefix string
	Labels     map[string]string
}

// Matches reports whether a container with this name and these labels
// passes the filter.
func (f EventFilter) Matches(name string, labels map[string]string) bool {
	return ListFilter{NamePrefix: f.NamePrefix, Labels: f.Labels, All: true}.Matches(name, labels, true)
}

// EventStream is a sequence of events; see LogStream for the rules.
type EventStream interface {
	// Next blocks until the next event; io.EOF after Close, a wrapped
	// ctx.Err() when the Events context is done.
	Next() (Event, error)
	// Close ends the stream and releases everything behind it; idempotent.
	Close() error
}
