package ctrgate

import (
	"context"
	"errors"
	"sort"
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
	for k, v := range f.Labels {
		got, ok := labels[k]
		if !ok || (v != "" && got != v) {
			return false
		}
	}
	return true
}

// Run creates and starts a container. If Start fails, the container is
// removed again (best effort, with a short grace context) so nothing is
// left behind, and Start's error is returned.
func Run(ctx context.Context, rt ContainerRuntime, spec ContainerSpec) (string, error) {
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

// LabelFilters returns the engines' "label" filter values for labels, in a
// stable order: "key=value", or "key" alone for an empty value (any value).
// Docker's and Podman's list and event filters take this syntax alike.
func LabelFilters(labels map[string]string) []string {
	keys := make([]string, 0, len(labels))
	for k := range labels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = k
		if v := labels[k]; v != "" {
			out[i] = k + "=" + v
		}
	}
	return out
}

// ApplyPullPolicy is the policy logic of PullImage, shared by the backends:
// exists tells whether ref is present locally and pull fetches it from a
// registry. PullNever with an absent image fails with ErrImageNotFound
// (never contacting a registry), PullMissing pulls only an absent image,
// PullAlways always pulls. Errors of exists carry OpPullImage.
func ApplyPullPolicy(ctx context.Context, backend, ref string, policy PullPolicy,
	exists func(context.Context, string) (bool, error), pull func(context.Context) error) error {
	if policy != PullAlways {
		ok, err := exists(ctx, ref)
		if err != nil {
			return WithOp(err, OpPullImage)
		}
		if ok {
			return nil
		}
		if policy == PullNever {
			return NewEngineError(backend, OpPullImage, ref, ErrImageNotFound,
				"image is not present locally and the pull policy is never", nil, nil)
		}
	}
	return pull(ctx)
}
