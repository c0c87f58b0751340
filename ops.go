package ctrgate

import (
	"context"
	"errors"
	"strings"
	"time"
)

// Matches reports whether a container passes the filter. running says
// whether the container is running; it only matters without f.All.
func (f ListFilter) Matches(name string, labels map[string]string, running bool) bool {
	if !f.All && !running {
		return false
	}
	if !strings.HasPrefix(strings.TrimPrefix(name, "/"), f.NamePrefix) {
		return false
	}
	return labelsMatch(f.Labels, labels)
}

// labelsMatch reports whether every label in want is in got with that value
// (an empty wanted value matches any value of the key).
func labelsMatch(want, got map[string]string) bool {
	for k, v := range want {
		g, ok := got[k]
		if !ok || (v != "" && g != v) {
			return false
		}
	}
	return true
}

// Matches reports whether an image with refs and labels passes f.
func (f ImageFilter) Matches(refs []string, labels map[string]string) bool {
	if !labelsMatch(f.Labels, labels) {
		return false
	}
	if f.RefPrefix == "" {
		return true
	}
	for _, r := range refs {
		if strings.HasPrefix(r, f.RefPrefix) {
			return true
		}
	}
	return false
}

// Run creates and starts a container. If Start fails, the container is
// removed again (best effort, with a short grace context) so nothing is
// left behind, and Start's error is returned. On a runtime whose driver
// does both in one step (ctrgate.RunDriver: podman-cli's `podman run
// --detach`), that is one engine call.
func Run(ctx context.Context, rt ContainerRuntime, spec ContainerSpec) (string, error) {
	if l, ok := rt.(*Runtime); ok {
		// the layer itself (not a type that embeds it, whose own Create
		// and Start must run): its driver may do it in one step
		return l.Run(ctx, spec)
	}
	return runInSteps(ctx, rt, spec)
}

// runInSteps is Run as Create, Start and, when the start fails, Remove.
func runInSteps(ctx context.Context, rt ContainerRuntime, spec ContainerSpec) (string, error) {
	id, err := rt.Create(ctx, spec)
	if err != nil {
		return "", err
	}
	if err := rt.Start(ctx, id); err != nil {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		_ = rt.Remove(cctx, id, RemoveOptions{Force: true, Volumes: true})
		return "", err
	}
	return id, nil
}

// StateOf returns the container's state (one Inspect).
func StateOf(ctx context.Context, rt ContainerRuntime, name string) (ContainerState, error) {
	c, err := rt.Inspect(ctx, name)
	if err != nil {
		return ContainerState{}, err
	}
	return c.State, nil
}

// IsRunning reports whether the container is running. A missing container
// is an error (ErrNotFound), never "false".
func IsRunning(ctx context.Context, rt ContainerRuntime, name string) (bool, error) {
	st, err := StateOf(ctx, rt, name)
	if err != nil {
		return false, err
	}
	return st.Running(), nil
}

// StatesByPrefix returns the state of every container whose name starts
// with prefix (literally), keyed by name, in one engine round trip. An
// empty map means no such container; a failed query is an error.
func StatesByPrefix(ctx context.Context, rt ContainerRuntime, prefix string) (map[string]ContainerState, error) {
	cs, err := rt.List(ctx, ListFilter{NamePrefix: prefix, All: true})
	if err != nil {
		return nil, err
	}
	out := make(map[string]ContainerState, len(cs))
	for _, c := range cs {
		out[c.Name] = c.State
	}
	return out, nil
}

// RemoveResult is the outcome of removing one container in RemoveAll.
type RemoveResult struct {
	Name string
	Err  error // nil when removed or already gone
}

// RemoveAll force-removes every named container, best effort: it goes on
// after failures and returns one result per name, in order. A container
// that is already gone counts as removed.
func RemoveAll(ctx context.Context, rt ContainerRuntime, names []string) []RemoveResult {
	out := make([]RemoveResult, len(names))
	for i, n := range names {
		err := rt.Remove(ctx, n, RemoveOptions{Force: true, Volumes: true})
		if errors.Is(err, ErrNotFound) {
			err = nil
		}
		out[i] = RemoveResult{Name: n, Err: err}
	}
	return out
}

// FirstError returns the first non-nil error of results, or nil.
func FirstError(results []RemoveResult) error {
	for _, r := range results {
		if r.Err != nil {
			return r.Err
		}
	}
	return nil
}
