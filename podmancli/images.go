package podmancli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/ctrgate/ctrgate/driver"
	"github.com/ctrgate/ctrgate/internal/libpod"

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
	res, err := driver.RetryImageListing(ctx, func() (*result, error) {
		return r.call(ctx, ctrgate.OpListImages, "", args, runOpts{})
	})
	if err != nil {
		return nil, err
	}
	all, err := parseImages(res.stdout)
	if err != nil {
		return nil, ctrgate.NewEngineError(BackendName, ctrgate.OpListImages, "", nil, "", err, nil)
	}
	return driver.FilterImages(all, filter), nil
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

// ImageExists reports whether ref is in local storage (`podman image
// exists`: status 0 yes, 1 no, anything else an error).
func (r *Runtime) ImageExists(ctx context.Context, ref string) (bool, error) {
	res, err := r.run(ctx, ctrgate.OpImageExists, ref, []string{"image", "exists", "--", ref}, runOpts{})
	if err != nil {
		return false, err
	}
	switch res.code {
	case 0:
		return true, nil
	case 1:
		if len(bytes.TrimSpace(res.stderr)) == 0 {
			return false, nil
		}
	}
	return false, r.failure(ctrgate.OpImageExists, ref, res)
}

// PullImage makes ref available according to policy.
func (r *Runtime) PullImage(ctx context.Context, ref string, policy ctrgate.PullPolicy) error {
	return driver.ApplyPullPolicy(ctx, BackendName, ref, policy, r.ImageExists, func(ctx context.Context) error {
		return r.pullImage(ctx, ref)
	})
}

// pullImage runs `podman pull`; a ref no registry can provide is
// ErrImageNotFound, a registry that does not answer ErrRegistryUnavailable.
func (r *Runtime) pullImage(ctx context.Context, ref string) error {
	res, err := r.run(ctx, ctrgate.OpPullImage, ref, []string{"pull", "--quiet", "--", ref}, runOpts{})
	if err != nil {
		return err
	}
	if res.signal != 0 {
		return r.failure(ctrgate.OpPullImage, ref, res)
	}
	if res.code != 0 {
		msg := errorText(res.stderr)
		kind := libpod.Classify(ctrgate.OpPullImage, msg)
		return ctrgate.NewEngineError(BackendName, ctrgate.OpPullImage, ref, kind, msg, exitCause(res), nil)
	}
	return nil
}

// ImportImage creates ref from a root file system tar stream
// (`podman import --change ... - ref`).
func (r *Runtime) ImportImage(ctx context.Context, ref string, rootfs io.Reader, opts ctrgate.ImportOptions) error {
	changes, err := importChanges(opts)
	if err != nil {
		return err
	}
	args := []string{"import", "--quiet"}
	for _, c := range changes {
		args = append(args, "--change", c)
	}
	args = append(args, "--", "-", ref)
	_, err = r.call(ctx, ctrgate.OpImportImage, ref, args, runOpts{stdin: rootfs})
	return err
}

// importChanges renders ImportOptions as Dockerfile instructions for
// --change.
func importChanges(o ctrgate.ImportOptions) ([]string, error) {
	var out []string
	if o.Entrypoint != nil {
		out = append(out, "ENTRYPOINT "+jsonArray(o.Entrypoint))
	}
	if o.Cmd != nil {
		out = append(out, "CMD "+jsonArray(o.Cmd))
	}
	for _, e := range o.Env { // checked by ctrgate.ValidateImportOptions
		k, v, _ := strings.Cut(e, "=")
		out = append(out, "ENV "+k+"="+dockerfileQuote(v))
	}
	if o.WorkDir != "" {
		out = append(out, "WORKDIR "+o.WorkDir)
	}
	for _, k := range sortedKeys(o.Labels) {
		out = append(out, "LABEL "+dockerfileQuote(k)+"="+dockerfileQuote(o.Labels[k]))
	}
	return out, nil
}

func jsonArray(s []string) string {
	var b strings.Builder
	b.WriteByte('[')
	for i, x := range s {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.Quote(x))
	}
	b.WriteByte(']')
	return b.String()
}

// dockerfileQuote double-quotes a value for ENV/LABEL, escaping '"' and '\'.
func dockerfileQuote(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`)
	return `"` + r.Replace(s) + `"`
}

// RemoveImage deletes ref (`podman rmi`).
func (r *Runtime) RemoveImage(ctx context.Context, ref string, force bool) error {
	args := []string{"rmi"}
	if force {
		args = append(args, "--force")
	}
	args = append(args, "--", ref)
	res, err := r.run(ctx, ctrgate.OpRemoveImage, ref, args, runOpts{})
	if err != nil {
		return err
	}
	if res.signal != 0 {
		return r.failure(ctrgate.OpRemoveImage, ref, res)
	}
	if res.code != 0 {
		msg := errorText(res.stderr)
		kind := libpod.Classify(ctrgate.OpRemoveImage, msg)
		return ctrgate.NewEngineError(BackendName, ctrgate.OpRemoveImage, ref, kind, msg, exitCause(res), nil)
	}
	if force && strings.TrimSpace(string(res.stdout)) == "" {
		// `podman rmi --force` of a missing image exits 0 and prints
		// nothing; a removal prints the untagged/deleted IDs.
		return ctrgate.NewEngineError(BackendName, ctrgate.OpRemoveImage, ref, ctrgate.ErrImageNotFound,
			"image not known", nil, nil)
	}
	return nil
}
