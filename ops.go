package ctrgate

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"slices"
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

// RetryImageListing calls list until it does not fail with
// ErrImageNotFound, at most 8 times with a growing pause (25 ms doubling,
// about 3 s in all), and returns its last result. Podman (and its
// Docker-compatible API) fails a whole image listing with "image not known"
// when another client removes an image while the list is being built; a
// listing has no target image, so that error only ever means this race.
// Other errors and ctx's end return at once.
func RetryImageListing[T any](ctx context.Context, list func() (T, error)) (T, error) {
	var v T
	var err error
	pause := 25 * time.Millisecond
	for attempt := 0; ; attempt++ {
		v, err = list()
		if err == nil || !isImageListingRace(err) || ctx.Err() != nil || attempt == 7 {
			return v, err
		}
		t := time.NewTimer(pause)
		select {
		case <-ctx.Done():
			t.Stop()
			return v, err
		case <-t.C:
		}
		pause *= 2
	}
}

// imageListingRaceWords are what Podman says when an image vanishes while
// it lists images: the image's record is read, its files are gone.
var imageListingRaceWords = []string{"image not known", "locating item named", "retrieving parent of image"}

// isImageListingRace reports whether a failed listing met an image removed
// meanwhile.
func isImageListingRace(err error) bool {
	if errors.Is(err, ErrImageNotFound) {
		return true
	}
	msg := err.Error()
	for _, w := range imageListingRaceWords {
		if strings.Contains(msg, w) {
			return true
		}
	}
	return false
}

// EngineImageLabelFilters returns the label filters ("k" or "k=v") of f
// that an engine can apply itself: Podman splits filter values at commas,
// so a label with a comma is left to FilterImages. Filtering on the engine
// matters for Podman, whose listing costs time per image it returns.
func EngineImageLabelFilters(f ImageFilter) []string {
	var out []string
	for _, l := range LabelFilters(f.Labels) {
		if !strings.Contains(l, ",") {
			out = append(out, l)
		}
	}
	return out
}

// FilterImages returns the images that pass f, in the shape ListImages
// promises: one entry per ID (Podman 4.3 lists an image once per tag), the
// ID without a "sha256:" prefix; Refs sorted, without duplicates, digests
// ("name@sha256:...") or Docker's "<none>:<none>"; ordered by ID. Backends
// call it on what the engine returned.
func FilterImages(images []Image, f ImageFilter) []Image {
	byID := make(map[string]*Image, len(images))
	var ids []string
	for _, im := range images {
		id := strings.TrimPrefix(im.ID, "sha256:")
		merged, seen := byID[id]
		if !seen {
			im.ID, im.Refs = id, append([]string(nil), im.Refs...)
			byID[id], ids = &im, append(ids, id)
			continue
		}
		merged.Refs = append(merged.Refs, im.Refs...)
	}
	out := make([]Image, 0, len(ids))
	for _, id := range ids {
		im := *byID[id]
		refs := make([]string, 0, len(im.Refs))
		for _, r := range im.Refs {
			if r != "" && r != "<none>:<none>" && r != "<none>" && !strings.Contains(r, "@") {
				refs = append(refs, r)
			}
		}
		sort.Strings(refs)
		im.Refs = slices.Compact(refs)
		if f.Matches(im.Refs, im.Labels) {
			out = append(out, im)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
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

// TransientWaitFor bounds how long RetryTransientWait waits again.
const TransientWaitFor = 3 * time.Second

// RetryTransientWait runs wait, one wait for a container's exit, and runs
// it again while it fails with Podman's transient "read /proc/<pid>/cgroup:
// no such process" (the container exiting at that very moment; its libpod
// and Docker-compatible APIs both answer so, more often under load), for
// up to TransientWaitFor, pausing 50 ms, doubling up to 400 ms. Success,
// other errors and the error once ctx is done are returned as they are.
func RetryTransientWait(ctx context.Context, wait func() (int, error)) (int, error) {
	until := time.Now().Add(TransientWaitFor)
	pause := 50 * time.Millisecond
	for {
		code, err := wait()
		if err == nil || ctx.Err() != nil || !time.Now().Before(until) || !isTransientWaitErr(err) {
			return code, err
		}
		t := time.NewTimer(pause)
		select {
		case <-ctx.Done():
			t.Stop()
			return code, err
		case <-t.C:
		}
		pause = min(2*pause, 400*time.Millisecond)
	}
}

// isTransientWaitErr reports whether err is Podman's transient wait
// failure (and not one that a sentinel already explains).
func isTransientWaitErr(err error) bool {
	for _, k := range []error{ErrNotFound, ErrEngineUnavailable, ErrInvalidSpec} {
		if errors.Is(err, k) {
			return false
		}
	}
	return strings.Contains(err.Error(), "no such process")
}

// RetryEmptyArchive opens a CopyFrom archive with open and, when it holds
// no entry at all, opens it again (at most 4 more times, pausing 50 ms,
// doubling): Podman answers a copy from a container that has just exited
// with an empty archive while its exit cleanup unmounts the container's
// root file system, and an existing path always archives at least itself.
// The returned stream starts at the archive's first byte; errors of open
// are returned as they are.
func RetryEmptyArchive(ctx context.Context, open func() (io.ReadCloser, error)) (io.ReadCloser, error) {
	pause := 50 * time.Millisecond
	for attempt := 0; ; attempt++ {
		rc, err := open()
		if err != nil {
			return nil, err
		}
		br := bufio.NewReaderSize(rc, 1024)
		block, perr := br.Peek(512)
		empty := (len(block) == 0 && (perr == io.EOF || perr == io.ErrUnexpectedEOF)) ||
			(len(block) == 512 && bytes.Count(block, []byte{0}) == 512)
		if !empty || attempt == 4 || ctx.Err() != nil {
			return struct {
				io.Reader
				io.Closer
			}{br, rc}, nil
		}
		_ = rc.Close()
		t := time.NewTimer(pause)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		case <-t.C:
		}
		pause *= 2
	}
}
