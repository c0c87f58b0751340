package driver

import (
	"context"
	"slices"
	"sort"
	"strings"

	"github.com/ctrgate/ctrgate"
)

// EngineImageLabelFilters returns the label filters ("k" or "k=v") of f
// that an engine can apply itself: Podman splits filter values at commas,
// so a label with a comma is left to FilterImages. Filtering on the engine
// matters for Podman, whose listing costs time per image it returns.
func EngineImageLabelFilters(f ctrgate.ImageFilter) []string {
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
func FilterImages(images []ctrgate.Image, f ctrgate.ImageFilter) []ctrgate.Image {
	byID := make(map[string]*ctrgate.Image, len(images))
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
	out := make([]ctrgate.Image, 0, len(ids))
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
func ApplyPullPolicy(ctx context.Context, backend, ref string, policy ctrgate.PullPolicy,
	exists func(context.Context, string) (bool, error), pull func(context.Context) error) error {
	if policy != ctrgate.PullAlways {
		ok, err := exists(ctx, ref)
		if err != nil {
			return WithOp(err, ctrgate.OpPullImage)
		}
		if ok {
			return nil
		}
		if policy == ctrgate.PullNever {
			return ctrgate.NewEngineError(backend, ctrgate.OpPullImage, ref, ctrgate.ErrImageNotFound,
				"image is not present locally and the pull policy is never", nil, nil)
		}
	}
	return pull(ctx)
}
