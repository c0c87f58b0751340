package docker

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"time"

	"github.com/ctrgate/ctrgate/driver"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/image"

	"github.com/ctrgate/ctrgate"
)

// ImageExists reports whether ref is in local storage.
func (r *Runtime) ImageExists(ctx context.Context, ref string) (bool, error) {
	ctx, cancel, err := r.begin(ctx, ctrgate.OpImageExists, ref)
	if err != nil {
		return false, err
	}
	defer cancel()
	return r.imageExists(ctx, ref)
}

func (r *Runtime) imageExists(ctx context.Context, ref string) (bool, error) {
	ok, err := r.inspectImage(ctx, ref)
	if err == nil && !ok && r.onPodman(ctx) {
		// Podman answers "no such image" for a moment while another client
		// rewrites its image store (a pull that retags, a removal): the
		// image listed a moment before is asked for once more.
		if sleepCtx(ctx, 100*time.Millisecond) == nil {
			ok, err = r.inspectImage(ctx, ref)
		}
	}
	return ok, err
}

// inspectImage is one image lookup: true when the engine has ref.
func (r *Runtime) inspectImage(ctx context.Context, ref string) (bool, error) {
	_, err := r.cli.ImageInspect(ctx, ref)
	if err == nil {
		return true, nil
	}
	if cerrdefs.IsNotFound(err) && ctx.Err() == nil {
		return false, nil
	}
	me := r.mapErr(ctx, ctrgate.OpImageExists, ref, err)
	if errors.Is(me, ctrgate.ErrImageNotFound) {
		return false, nil
	}
	return false, me
}

// ListImages returns the images that pass filter, in one API call (labels
// filtered by the engine where it can, everything checked again on its
// answer).
func (r *Runtime) ListImages(ctx context.Context, filter ctrgate.ImageFilter) ([]ctrgate.Image, error) {
	ctx, cancel, err := r.begin(ctx, ctrgate.OpListImages, "")
	if err != nil {
		return nil, err
	}
	defer cancel()
	sums, err := driver.RetryImageListing(ctx, func() ([]image.Summary, error) {
		opts := image.ListOptions{}
		if labels := driver.EngineImageLabelFilters(filter); len(labels) > 0 {
			opts.Filters = filters.NewArgs()
			for _, l := range labels {
				opts.Filters.Add("label", l)
			}
		}
		sums, err := r.cli.ImageList(ctx, opts)
		if err != nil {
			return nil, r.mapErr(ctx, ctrgate.OpListImages, "", err)
		}
		return sums, nil
	})
	if err != nil {
		return nil, err
	}
	all := make([]ctrgate.Image, 0, len(sums))
	for _, s := range sums {
		var created time.Time
		if s.Created > 0 {
			created = time.Unix(s.Created, 0).UTC()
		}
		all = append(all, ctrgate.Image{ID: s.ID, Refs: s.RepoTags, Size: s.Size, Created: created, Labels: s.Labels})
	}
	return driver.FilterImages(all, filter), nil
}

// PullImage makes ref available according to policy.
func (r *Runtime) PullImage(ctx context.Context, ref string, policy ctrgate.PullPolicy) error {
	ctx, cancel, err := r.begin(ctx, ctrgate.OpPullImage, ref)
	if err != nil {
		return err
	}
	defer cancel()
	return driver.WithOp(r.ensureImage(ctx, ref, policy), ctrgate.OpPullImage)
}

// ensureImage applies a pull policy (ctx is already bounded).
func (r *Runtime) ensureImage(ctx context.Context, ref string, policy ctrgate.PullPolicy) error {
	return driver.ApplyPullPolicy(ctx, BackendName, ref, policy, r.imageExists, func(ctx context.Context) error {
		return r.pullImage(ctx, ref)
	})
}

// pullImage pulls ref from its registry (ctx is already bounded).
func (r *Runtime) pullImage(ctx context.Context, ref string) error {
	rc, err := r.cli.ImagePull(ctx, ref, image.PullOptions{})
	if err != nil {
		return r.mapErr(ctx, ctrgate.OpPullImage, ref, err)
	}
	defer rc.Close()
	if err := readJSONMessages(rc); err != nil {
		return r.mapErr(ctx, ctrgate.OpPullImage, ref, err)
	}
	return nil
}

// jsonMessage is the part of the engine's progress stream we read.
type jsonMessage struct {
	Error       string `json:"error"`
	ErrorDetail *struct {
		Message string `json:"message"`
	} `json:"errorDetail"`
}

// streamError is an error reported inside a progress stream.
type streamError struct{ msg string }

func (e *streamError) Error() string { return e.msg }

// readJSONMessages drains a progress stream and returns the first error it
// reports.
func readJSONMessages(r io.Reader) error {
	dec := json.NewDecoder(r)
	var first error
	for {
		var m jsonMessage
		if err := dec.Decode(&m); err != nil {
			if errors.Is(err, io.EOF) {
				return first
			}
			if first != nil {
				return first
			}
			return err
		}
		if first == nil {
			switch {
			case m.ErrorDetail != nil && m.ErrorDetail.Message != "":
				first = &streamError{m.ErrorDetail.Message}
			case m.Error != "":
				first = &streamError{m.Error}
			}
		}
	}
}

// ImportImage creates ref from a root file system tar stream, applying opts
// as Dockerfile instructions ("ENTRYPOINT [...]" in JSON form, CMD, ENV,
// WORKDIR, LABEL). The image ref named before is deleted when nothing else
// refers to it (no other tag, no container).
func (r *Runtime) ImportImage(ctx context.Context, ref string, rootfs io.Reader, opts ctrgate.ImportOptions) error {
	changes, err := importChanges(opts)
	if err != nil {
		return err
	}
	ctx, cancel, err := r.begin(ctx, ctrgate.OpImportImage, ref)
	if err != nil {
		return err
	}
	defer cancel()
	var oldID string
	if old, err := r.cli.ImageInspect(ctx, ref); err == nil {
		oldID = old.ID
	}
	rc, err := r.cli.ImageImport(ctx, image.ImportSource{Source: rootfs, SourceName: "-"}, ref, image.ImportOptions{Changes: changes})
	if err != nil {
		return r.mapErr(ctx, ctrgate.OpImportImage, ref, err)
	}
	defer rc.Close()
	if err := readJSONMessages(rc); err != nil {
		return r.mapErr(ctx, ctrgate.OpImportImage, ref, err)
	}
	// The image the tag pointed to before is now untagged; delete it unless
	// it has other tags or containers use it (both make the engine refuse a
	// removal without force), so repeated imports do not pile up images.
	if oldID != "" {
		if cur, err := r.cli.ImageInspect(ctx, ref); err == nil && cur.ID != oldID {
			_, _ = r.cli.ImageRemove(ctx, oldID, image.RemoveOptions{PruneChildren: true})
		}
	}
	return nil
}

// RemoveImage deletes ref (with force, also when containers use it).
func (r *Runtime) RemoveImage(ctx context.Context, ref string, force bool) error {
	ctx, cancel, err := r.begin(ctx, ctrgate.OpRemoveImage, ref)
	if err != nil {
		return err
	}
	defer cancel()
	if _, err := r.cli.ImageRemove(ctx, ref, image.RemoveOptions{Force: force, PruneChildren: true}); err != nil {
		return r.mapErr(ctx, ctrgate.OpRemoveImage, ref, err)
	}
	return nil
}
