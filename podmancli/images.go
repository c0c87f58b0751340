package podmancli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/ctrgate/ctrgate"
)

// imageEntry is one element of `podman images --format json` (4.x and 5.x).
type imageEntry struct {
	ID       string            `json:"Id"`
	RepoTags []string          `json:"RepoTags"`
	Names    []string          `json:"Names"`
	Size     int64             `json:"Size"`
	Labels   map[string]string `json:"Labels"`
	Created  int64             `json:"Created"`
}

// ListImages returns the images that pass filter, from one `podman images`
// (labels filtered by podman where it can, see engineLabelFilters;
// everything checked again on its answer).
func (r *Runtime) ListImages(ctx context.Context, filter ctrgate.ImageFilter) ([]ctrgate.Image, error) {
	args := []string{"images", "--format", "json", "--no-trunc"}
	for _, l := range engineLabelFilters(filter.Labels) {
		args = append(args, "--filter", "label="+l)
	}
	res, err := ctrgate.RetryImageListing(ctx, func() (*result, error) {
		return r.call(ctx, ctrgate.OpListImages, "", args, runOpts{})
	})
	if err != nil {
		return nil, err
	}
	all, err := parseImages(res.stdout)
	if err != nil {
		return nil, ctrgate.NewEngineError(BackendName, ctrgate.OpListImages, "", nil, "", err, nil)
	}
	return ctrgate.FilterImages(all, filter), nil
}

// parseImages parses `podman images --format json`. Empty output is an
// error, never "no images": podman prints [] for none.
func parseImages(out []byte) ([]ctrgate.Image, error) {
	out = bytes.TrimSpace(out)
	if len(out) == 0 {
		return nil, fmt.Errorf("podman images printed nothing (want a JSON array)")
	}
	var entries []imageEntry
	if err := json.Unmarshal(out, &entries); err != nil {
		return nil, fmt.Errorf("parsing podman images output: %w", err)
	}
	imgs := make([]ctrgate.Image, 0, len(entries))
	for _, e := range entries {
		if e.ID == "" {
			return nil, fmt.Errorf("podman images: an entry without Id")
		}
		var created time.Time
		if e.Created > 0 {
			created = time.Unix(e.Created, 0).UTC()
		}
		imgs = append(imgs, ctrgate.Image{ID: e.ID, Refs: append(e.RepoTags, e.Names...), Size: e.Size, Created: created, Labels: e.Labels})
	}
	return imgs, nil
}
