package docker

import (
	"context"
	"io"

	"github.com/ctrgate/ctrgate/driver"

	"github.com/ctrgate/ctrgate"
	"github.com/docker/docker/api/types/container"
)

// CopyTo extracts a tar stream into dstDir in the container.
func (r *Runtime) CopyTo(ctx context.Context, name, dstDir string, archive io.Reader) error {
	ctx, cancel, err := r.begin(ctx, ctrgate.OpCopyTo, name)
	if err != nil {
		return err
	}
	defer cancel()
	if err := r.cli.CopyToContainer(ctx, name, dstDir, archive, container.CopyToContainerOptions{}); err != nil {
		return r.mapErr(ctx, ctrgate.OpCopyTo, name, err)
	}
	return nil
}

// CopyFrom returns a tar stream of srcPath in the container. The stream
// ends with ctx or Close.
func (r *Runtime) CopyFrom(ctx context.Context, name, srcPath string) (io.ReadCloser, error) {
	// Podman answers with an empty archive while a container that has just
	// exited is being cleaned up: open it again then.
	return driver.RetryEmptyArchive(ctx, func() (io.ReadCloser, error) { return r.copyFrom(ctx, name, srcPath) })
}

// copyFrom is one CopyFrom request.
func (r *Runtime) copyFrom(ctx context.Context, name, srcPath string) (io.ReadCloser, error) {
	if r.life.Err() != nil {
		return nil, r.errClosed(ctrgate.OpCopyFrom, name)
	}
	sctx, scancel := context.WithCancelCause(ctx)
	stopLife := context.AfterFunc(r.life, func() { scancel(context.Canceled) })
	rc, _, err := r.cli.CopyFromContainer(sctx, name, srcPath)
	if err != nil {
		merr := r.mapErr(sctx, ctrgate.OpCopyFrom, name+":"+srcPath, err)
		stopLife()
		scancel(nil)
		return nil, merr
	}
	return &cancelReadCloser{ReadCloser: rc, cancel: func() { stopLife(); scancel(nil) }}, nil
}

// cancelReadCloser cancels its request when closed.
type cancelReadCloser struct {
	io.ReadCloser
	cancel func()
}

func (c *cancelReadCloser) Close() error {
	err := c.ReadCloser.Close()
	c.cancel()
	return err
}
