package fake

import (
	"context"
	"fmt"
	"io"
	"maps"
	"path"
	"strings"
	"time"

	"github.com/ctrgate/ctrgate/driver"

	"github.com/ctrgate/ctrgate"
)

// ImageConfig is the configuration of an image added with AddImage.
type ImageConfig struct {
	Entrypoint []string          // ENTRYPOINT (exec form)
	Cmd        []string          // CMD (exec form)
	Env        []string          // ENV as KEY=VALUE
	WorkDir    string            // WORKDIR ("" = "/")
	Labels     map[string]string // image labels
	// Program, if set, runs whenever argv[0] of a container (or exec) of
	// this image names no registered program.
	Program Program
	// Files are regular files (path → content, mode 0644; parent
	// directories are created) in the image's root file system.
	Files map[string][]byte
}

// image is a stored image.
type image struct {
	id      string
	ref     string
	cfg     ImageConfig
	fs      *memFS
	created time.Time
}

// normalizeRef gives one spelling for the references the engines treat as
// equal: a missing tag is ":latest", and "docker.io/library/" is dropped.
func normalizeRef(ref string) string {
	ref = strings.TrimPrefix(ref, "docker.io/library/")
	ref = strings.TrimPrefix(ref, "docker.io/")
	if strings.Contains(ref, "@") {
		return ref
	}
	if !strings.Contains(path.Base(ref), ":") {
		ref += ":latest"
	}
	return ref
}

// baseFS returns a root file system with the directories every engine
// provides.
func baseFS() *memFS {
	m := newMemFS()
	for _, d := range []string{"/dev", "/proc", "/sys", "/etc", "/run"} {
		_ = m.MkdirAll(d, 0o755)
	}
	return m
}

func cloneConfig(c ImageConfig) ImageConfig {
	c.Entrypoint = append([]string(nil), c.Entrypoint...)
	c.Cmd = append([]string(nil), c.Cmd...)
	c.Env = append([]string(nil), c.Env...)
	c.Labels = maps.Clone(c.Labels)
	c.Files = nil
	return c
}

// AddImage is Runtime.AddImage.
func (r *engine) AddImage(ref string, cfg ImageConfig) error {
	if err := ctrgate.ValidateImageRef(ref); err != nil {
		return err
	}
	m, err := imageFS(ref, cfg.Files)
	if err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return unavailable("AddImage", ref)
	}
	r.images[normalizeRef(ref)] = &image{id: newID(), ref: ref, cfg: cloneConfig(cfg), fs: m, created: time.Now()}
	return nil
}

// imageFS returns the root file system of an image holding files.
func imageFS(ref string, files map[string][]byte) (*memFS, error) {
	m := baseFS()
	for p, data := range files {
		p = cleanAbs("/", p)
		if err := m.MkdirAll(path.Dir(p), 0o755); err != nil {
			return nil, fmt.Errorf("fake: image %s: %w", ref, err)
		}
		if err := m.WriteFile(p, data, 0o644); err != nil {
			return nil, fmt.Errorf("fake: image %s: %w", ref, err)
		}
	}
	return m, nil
}

// RegisterProgram is Runtime.RegisterProgram.
func (r *engine) RegisterProgram(p string, prog Program) {
	if !path.IsAbs(p) || prog == nil {
		panic(fmt.Sprintf("fake: RegisterProgram(%q): need an absolute path and a non-nil program", p))
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.programs[path.Clean(p)] = prog
}

// ImageExists reports whether ref was added or imported.
func (r *engine) ImageExists(ctx context.Context, ref string) (ok bool, err error) {
	defer r.record(ctrgate.OpImageExists, ref, &err)()
	if err := r.enter(ctx, ctrgate.OpImageExists, ref); err != nil {
		return false, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	_, ok = r.images[normalizeRef(ref)]
	return ok, nil
}

// ListImages returns the stored images that pass filter. Like Docker, the
// fake reports references as they were given, with ":latest" added to an
// untagged one; every tag is an image of its own (re-importing a ref gives
// it a new ID).
func (r *engine) ListImages(ctx context.Context, filter ctrgate.ImageFilter) (out []ctrgate.Image, err error) {
	defer r.record(ctrgate.OpListImages, filter.RefPrefix, &err)()
	if err := r.enter(ctx, ctrgate.OpListImages, ""); err != nil {
		return nil, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	all := make([]ctrgate.Image, 0, len(r.images))
	for key, img := range r.images {
		all = append(all, ctrgate.Image{ID: img.id, Refs: []string{key}, Size: img.fs.size(),
			Created: img.created, Labels: maps.Clone(img.cfg.Labels)})
	}
	return driver.FilterImages(all, filter), nil
}

// imageMissing is the error for an image the fake does not have.
func imageMissing(method, ref string) error {
	return engineErr(method, ref, ctrgate.ErrImageNotFound,
		fmt.Sprintf("%s: image not known (the fake has no registry: add it with AddImage or ImportImage)", ref), nil)
}

// PullImage makes ref available as policy says. Without a registry
// (WithRegistry) it succeeds when ref exists, whatever the policy, and fails
// with ErrImageNotFound otherwise; with registries it pulls as an engine
// does (see Registry).
func (r *engine) PullImage(ctx context.Context, ref string, policy ctrgate.PullPolicy) (err error) {
	defer r.record(ctrgate.OpPullImage, ref, &err)()
	if err := r.enter(ctx, ctrgate.OpPullImage, ref); err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	_, err = r.resolveLocked(ctrgate.OpPullImage, ref, policy)
	return err
}

// ImportImage reads rootfs as a tar stream (optionally gzip-compressed),
// stores its files as the image's root file system and creates image ref
// with opts, replacing an existing tag. A stream that is not a valid tar
// fails with an *EngineError.
func (r *engine) ImportImage(ctx context.Context, ref string, rootfs io.Reader, opts ctrgate.ImportOptions) (err error) {
	defer r.record(ctrgate.OpImportImage, ref, &err)()
	if err := r.enter(ctx, ctrgate.OpImportImage, ref); err != nil {
		_, _ = io.Copy(io.Discard, rootfs)
		return err
	}
	m := baseFS()
	v := &view{root: m, forceWrite: true}
	done := make(chan error, 1)
	go func() { done <- extractTar(v, "/", rootfs) }()
	select {
	case err := <-done:
		if err != nil {
			return engineErr(ctrgate.OpImportImage, ref, nil, err.Error(), nil)
		}
	case <-ctx.Done():
		// the reader goroutine ends when the caller's reader does
		return ctxErr(ctrgate.OpImportImage, ref, ctx.Err())
	}
	cfg := ImageConfig{Entrypoint: opts.Entrypoint, Cmd: opts.Cmd, Env: opts.Env, WorkDir: opts.WorkDir, Labels: opts.Labels}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return unavailable(ctrgate.OpImportImage, ref)
	}
	r.images[normalizeRef(ref)] = &image{id: newID(), ref: ref, cfg: cloneConfig(cfg), fs: m, created: time.Now()}
	return nil
}

// RemoveImage deletes ref. ErrImageNotFound when absent; ErrRunning when a
// container (running or not) was created from it and force is false. With
// force the tag goes; existing containers keep their copy.
func (r *engine) RemoveImage(ctx context.Context, ref string, force bool) (err error) {
	defer r.record(ctrgate.OpRemoveImage, ref, &err)()
	if err := r.enter(ctx, ctrgate.OpRemoveImage, ref); err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	key := normalizeRef(ref)
	img, ok := r.images[key]
	if !ok {
		return imageMissing(ctrgate.OpRemoveImage, ref)
	}
	if !force {
		for _, c := range r.containers {
			if c.imageID == img.id {
				return engineErr(ctrgate.OpRemoveImage, ref, ctrgate.ErrRunning,
					fmt.Sprintf("image used by %s: image is in use by a container", c.id), nil)
			}
		}
	}
	delete(r.images, key)
	return nil
}
