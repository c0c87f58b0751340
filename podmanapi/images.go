package podmanapi

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/ctrgate/ctrgate/driver"

	"github.com/containers/podman/v5/pkg/bindings/images"
	"github.com/containers/podman/v5/pkg/domain/entities/types"

	"github.com/ctrgate/ctrgate"
)

// ImageExists reports whether ref is present in local storage.
func (r *Runtime) ImageExists(ctx context.Context, ref string) (bool, error) {
	c, cancel, err := r.call(ctx, ctrgate.OpImageExists, ref)
	if err != nil {
		return false, err
	}
	defer cancel()
	// images.Exists answers false for every failure; ask directly so a
	// failed query is an error, never "absent".
	resp, err := r.client.DoRequest(c, nil, http.MethodGet, "/images/%s/exists", nil, nil, ref)
	if err != nil {
		return false, r.wrap(c, ctrgate.OpImageExists, ref, err)
	}
	defer resp.Body.Close()
	var ok bool
	switch {
	case resp.IsSuccess():
		ok = true
	case resp.StatusCode == http.StatusNotFound:
		ok = false
	default:
		return false, r.wrap(c, ctrgate.OpImageExists, ref, resp.Process(nil))
	}
	return ok, nil
}

// ListImages returns the images that pass filter, in one API call (labels
// filtered by the service where it can, everything checked again on its
// answer).
func (r *Runtime) ListImages(ctx context.Context, filter ctrgate.ImageFilter) ([]ctrgate.Image, error) {
	c, cancel, err := r.call(ctx, ctrgate.OpListImages, "")
	if err != nil {
		return nil, err
	}
	defer cancel()
	sums, err := driver.RetryImageListing(c, func() ([]*types.ImageSummary, error) {
		opts := &images.ListOptions{}
		if labels := driver.EngineImageLabelFilters(filter); len(labels) > 0 {
			// One label only: Podman 4.3's images endpoint answers nothing
			// at all for two label filters (the CLI ANDs them).
			opts.Filters = map[string][]string{"label": labels[:1]}
		}
		sums, err := images.List(c, opts)
		if err != nil {
			return nil, r.wrap(c, ctrgate.OpListImages, "", err)
		}
		return sums, nil
	})
	if err != nil {
		return nil, err
	}
	all := make([]ctrgate.Image, 0, len(sums))
	for _, s := range sums {
		if s == nil {
			continue
		}
		all = append(all, ctrgate.Image{ID: s.ID, Refs: append(s.RepoTags, s.Names...), Size: s.Size,
			Created: unixTime(s.Created), Labels: s.Labels})
	}
	return driver.FilterImages(all, filter), nil
}

// unixTime converts seconds since the epoch; 0 is the zero time.
func unixTime(sec int64) time.Time {
	if sec <= 0 {
		return time.Time{}
	}
	return time.Unix(sec, 0).UTC()
}

// PullImage makes ref available according to policy.
func (r *Runtime) PullImage(ctx context.Context, ref string, policy ctrgate.PullPolicy) error {
	return driver.WithOp(r.pull(ctx, ref, policy), ctrgate.OpPullImage)
}

func (r *Runtime) pull(ctx context.Context, ref string, policy ctrgate.PullPolicy) error {
	return driver.ApplyPullPolicy(ctx, BackendName, ref, policy, r.ImageExists, func(ctx context.Context) error {
		return r.pullImage(ctx, ref)
	})
}

// pullImage pulls ref from its registry.
func (r *Runtime) pullImage(ctx context.Context, ref string) error {
	c, cancel, err := r.call(ctx, ctrgate.OpPullImage, ref)
	if err != nil {
		return err
	}
	defer cancel()
	_, err = images.Pull(c, ref, &images.PullOptions{Quiet: boolPtr(true), Policy: strPtr("always"), ProgressWriter: writerPtr(io.Discard)})
	if err != nil {
		return r.wrap(c, ctrgate.OpPullImage, ref, err)
	}
	return nil
}

// ImportImage creates image ref from a root file system tar stream.
func (r *Runtime) ImportImage(ctx context.Context, ref string, rootfs io.Reader, opts ctrgate.ImportOptions) error {
	changes, err := importChanges(opts)
	if err != nil {
		return err
	}
	c, cancel, err := r.call(ctx, ctrgate.OpImportImage, ref)
	if err != nil {
		return err
	}
	defer cancel()
	_, err = images.Import(c, io.NopCloser(rootfs), &images.ImportOptions{Reference: &ref, Changes: &changes})
	if err != nil {
		return r.wrap(c, ctrgate.OpImportImage, ref, err)
	}
	return nil
}

// importChanges renders opts as Dockerfile instructions (JSON forms where
// the syntax has them, so arguments with spaces survive).
func importChanges(opts ctrgate.ImportOptions) ([]string, error) {
	var changes []string
	js := func(v any) (string, error) {
		b, err := json.Marshal(v)
		return string(b), err
	}
	if opts.Entrypoint != nil {
		s, err := js(opts.Entrypoint)
		if err != nil {
			return nil, err
		}
		changes = append(changes, "ENTRYPOINT "+s)
	}
	if opts.Cmd != nil {
		s, err := js(opts.Cmd)
		if err != nil {
			return nil, err
		}
		changes = append(changes, "CMD "+s)
	}
	for _, e := range opts.Env { // checked by ctrgate.ValidateImportOptions
		k, v, _ := strings.Cut(e, "=")
		s, err := js(v)
		if err != nil {
			return nil, err
		}
		changes = append(changes, "ENV "+k+"="+s)
	}
	if opts.WorkDir != "" {
		changes = append(changes, "WORKDIR "+opts.WorkDir)
	}
	keys := make([]string, 0, len(opts.Labels))
	for k := range opts.Labels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		s, err := js(opts.Labels[k])
		if err != nil {
			return nil, err
		}
		changes = append(changes, "LABEL "+k+"="+s)
	}
	return changes, nil
}

// RemoveImage deletes ref from local storage.
func (r *Runtime) RemoveImage(ctx context.Context, ref string, force bool) error {
	c, cancel, err := r.call(ctx, ctrgate.OpRemoveImage, ref)
	if err != nil {
		return err
	}
	defer cancel()
	report, errs := images.Remove(c, []string{ref}, &images.RemoveOptions{Force: &force})
	if len(errs) > 0 {
		err := errors.Join(errs...)
		werr := r.wrap(c, ctrgate.OpRemoveImage, ref, err)
		var ee *ctrgate.EngineError
		if report != nil && errors.As(werr, &ee) && ee.Kind == nil {
			// podman rmi exit codes: 1 = no such image, 2 = image in use
			switch report.ExitCode {
			case 1:
				ee.Kind = ctrgate.ErrImageNotFound
			case 2:
				ee.Kind = ctrgate.ErrRunning
			}
		}
		return werr
	}
	return nil
}

func strPtr(s string) *string          { return &s }
func writerPtr(w io.Writer) *io.Writer { return &w }
