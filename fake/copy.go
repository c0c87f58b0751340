package fake

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"

	"github.com/ctrgate/ctrgate"
)

// containerView returns the container's file system.
func (r *engine) containerView(method, name string) (*container, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil, unavailable(method, name)
	}
	c := r.lookupLocked(name)
	if c == nil {
		return nil, notFound(method, name)
	}
	return c, nil
}

// CopyTo extracts the tar stream archive (optionally gzip-compressed) into
// dstDir of the container, which must exist (ErrNotFound otherwise).
// Read-only mounts refuse the copy; a read-only root does not.
func (r *engine) CopyTo(ctx context.Context, name, dstDir string, archive io.Reader) (err error) {
	defer r.record(ctrgate.OpCopyTo, name, &err)()
	if err := r.enter(ctx, ctrgate.OpCopyTo, name); err != nil {
		return err
	}
	c, err := r.containerView(ctrgate.OpCopyTo, name)
	if err != nil {
		return err
	}
	dst := cleanAbs("/", dstDir)
	fi, err := c.view.Stat(dst)
	if err != nil {
		kind := error(nil)
		if errors.Is(err, fs.ErrNotExist) {
			kind = ctrgate.ErrNotFound
		}
		return engineErr(ctrgate.OpCopyTo, name, kind, fmt.Sprintf("%s: %v", dst, err), nil)
	}
	if !fi.IsDir() {
		return engineErr(ctrgate.OpCopyTo, name, nil, fmt.Sprintf("%s: not a directory", dst), nil)
	}
	v := *c.view
	v.forceWrite = true
	done := make(chan error, 1)
	go func() { done <- extractTar(&v, dst, archive) }()
	select {
	case err := <-done:
		if err != nil {
			return engineErr(ctrgate.OpCopyTo, name, nil, err.Error(), nil)
		}
		return nil
	case <-ctx.Done():
		return ctxErr(ctrgate.OpCopyTo, name, ctx.Err())
	}
}

// CopyFrom returns a tar stream of srcPath in the container (entries named
// from its base name, as "docker cp" does). Missing path: ErrNotFound.
func (r *engine) CopyFrom(ctx context.Context, name, srcPath string) (_ io.ReadCloser, err error) {
	defer r.record(ctrgate.OpCopyFrom, name, &err)()
	if err := r.enter(ctx, ctrgate.OpCopyFrom, name); err != nil {
		return nil, err
	}
	c, err := r.containerView(ctrgate.OpCopyFrom, name)
	if err != nil {
		return nil, err
	}
	src := cleanAbs("/", srcPath)
	if _, err := c.view.Lstat(src); err != nil {
		kind := error(nil)
		if errors.Is(err, fs.ErrNotExist) {
			kind = ctrgate.ErrNotFound
		}
		return nil, engineErr(ctrgate.OpCopyFrom, name, kind, fmt.Sprintf("%s: %v", src, err), nil)
	}
	base := path.Base(src)
	if src == "/" {
		base = "."
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	if err := writeTar(c.view, tw, src, base); err != nil {
		return nil, engineErr(ctrgate.OpCopyFrom, name, nil, err.Error(), nil)
	}
	if err := tw.Close(); err != nil {
		return nil, engineErr(ctrgate.OpCopyFrom, name, nil, err.Error(), nil)
	}
	return io.NopCloser(&buf), nil
}
