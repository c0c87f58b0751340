package podmanapi

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"sync"

	"github.com/ctrgate/ctrgate/driver"
	"github.com/ctrgate/ctrgate/internal/conmon"

	"github.com/ctrgate/ctrgate"
)

// The libpod archive endpoints are called directly: the bindings'
// CopyFromArchive turns every failure into the bare HTTP status text, which
// loses "no such container" versus "no such file".

// CopyTo extracts the tar stream archive into dstDir in the container.
func (r *Runtime) CopyTo(ctx context.Context, name, dstDir string, archive io.Reader) error {
	c, cancel, err := r.call(ctx, ctrgate.OpCopyTo, name)
	if err != nil {
		return err
	}
	defer cancel()
	r.exits.Settle(c, name, conmon.SettleLimit)
	params := url.Values{}
	params.Set("path", dstDir)
	resp, err := r.client.DoRequest(c, io.NopCloser(archive), http.MethodPut, "/containers/%s/archive", params, nil, name)
	if err != nil {
		return wrapErr(c, ctrgate.OpCopyTo, name, err, false)
	}
	defer resp.Body.Close()
	if err := resp.Process(nil); err != nil {
		return wrapErr(c, ctrgate.OpCopyTo, name, err, false)
	}
	return nil
}

// CopyFrom returns a tar stream of srcPath in the container. The default
// timeout bounds the request until the service answers; reading the
// stream is bounded by ctx only. The caller must close the stream.
func (r *Runtime) CopyFrom(ctx context.Context, name, srcPath string) (io.ReadCloser, error) {
	// Podman answers with an empty archive while a container that has just
	// exited is being cleaned up: open it again then. A container whose
	// exit Wait read from conmon's file first waits for that cleanup, which
	// unmounts the storage the copy would mount.
	r.exits.Settle(ctx, name, conmon.SettleLimit)
	return driver.RetryEmptyArchive(ctx, func() (io.ReadCloser, error) { return r.copyFrom(ctx, name, srcPath) })
}

// copyFrom is one CopyFrom request.
func (r *Runtime) copyFrom(ctx context.Context, name, srcPath string) (io.ReadCloser, error) {
	base, baseCancel, err := r.call(ctx, ctrgate.OpCopyFrom, name)
	if err != nil {
		return nil, err
	}
	c, cancel := context.WithCancelCause(base)
	stopAll := func() {
		cancel(nil)
		baseCancel()
	}
	params := url.Values{}
	params.Set("path", srcPath)
	resp, err := r.client.DoRequest(c, nil, http.MethodGet, "/containers/%s/archive", params, nil, name)
	if err != nil {
		werr := wrapErr(c, ctrgate.OpCopyFrom, name, err, false)
		stopAll()
		return nil, werr
	}
	if resp.StatusCode != http.StatusOK {
		perr := resp.Process(nil)
		resp.Body.Close()
		if perr == nil {
			perr = &statusError{code: resp.StatusCode, msg: resp.Status}
		}
		werr := wrapErr(c, ctrgate.OpCopyFrom, name+":"+srcPath, perr, false)
		stopAll()
		return nil, werr
	}
	return &archiveReader{ctx: c, body: resp.Body, stop: stopAll, name: name}, nil
}

// archiveReader is the body of a copy-from answer; Close releases the
// request.
type archiveReader struct {
	ctx  context.Context
	body io.ReadCloser
	stop func()
	name string
	once sync.Once
}

func (a *archiveReader) Read(p []byte) (int, error) {
	n, err := a.body.Read(p)
	if err != nil && err != io.EOF && a.ctx.Err() != nil {
		err = wrapErr(a.ctx, ctrgate.OpCopyFrom, a.name, err, false)
	}
	return n, err
}

func (a *archiveReader) Close() error {
	var err error
	a.once.Do(func() {
		err = a.body.Close()
		a.stop()
	})
	return err
}
