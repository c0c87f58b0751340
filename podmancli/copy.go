package podmancli

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"os/exec"
	"sync"

	"github.com/ctrgate/ctrgate/driver"
	"github.com/ctrgate/ctrgate/internal/conmon"

	"github.com/ctrgate/ctrgate"
)

// CopyTo extracts a tar stream into dstDir of the container
// (`podman cp - NAME:DIR`).
func (r *Runtime) CopyTo(ctx context.Context, name, dstDir string, archive io.Reader) error {
	r.exits.Settle(ctx, name, conmon.SettleLimit)
	_, err := r.call(ctx, ctrgate.OpCopyTo, name, []string{"cp", "--", "-", name + ":" + dstDir}, runOpts{stdin: archive})
	return err
}

// CopyFrom returns a tar stream of srcPath in the container
// (`podman cp NAME:PATH -`). The stream is read from podman as it produces
// it; Close kills podman if it is still running and reaps it.
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
	if err := r.checkOpen(ctrgate.OpCopyFrom, name); err != nil {
		return nil, err
	}
	cctx, cancel := context.WithCancel(ctx)
	cmd := r.command(cctx, []string{"cp", "--", name + ":" + srcPath, "-"}, nil)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		cancel()
		return nil, ctrgate.NewEngineError(BackendName, ctrgate.OpCopyFrom, name, nil, "", err, nil)
	}
	if err := cmd.Start(); err != nil {
		cancel()
		return nil, ctrgate.NewEngineError(BackendName, ctrgate.OpCopyFrom, name, ctrgate.ErrEngineUnavailable, "cannot run podman", err, nil)
	}
	rc := &copyReader{r: r, name: name, cmd: cmd, cancel: cancel, ctx: cctx, stderr: &stderr, br: bufio.NewReaderSize(stdout, 64<<10)}
	if !r.track(rc) { // closed meanwhile
		rc.cancel()
		_ = rc.finish()
		return nil, ctrgate.NewEngineError(BackendName, ctrgate.OpCopyFrom, name, ctrgate.ErrEngineUnavailable, "runtime is closed", nil, nil)
	}
	if _, err := rc.br.Peek(1); err != nil {
		// nothing came: podman failed (or the archive is empty)
		werr := rc.finish()
		if werr != nil {
			return nil, werr
		}
		return rc, nil
	}
	return rc, nil
}

// copyReader streams podman cp's stdout.
type copyReader struct {
	r      *Runtime
	name   string
	cmd    *exec.Cmd
	cancel context.CancelFunc
	ctx    context.Context
	stderr *bytes.Buffer
	br     *bufio.Reader

	once sync.Once
	err  error // outcome of the process, set by finish
	done bool
}

// finish reaps podman once and maps its outcome.
func (c *copyReader) finish() error {
	c.once.Do(func() {
		werr := c.cmd.Wait()
		defer c.cancel()
		defer c.r.untrack(c)
		c.done = true
		if cerr := c.ctx.Err(); cerr != nil {
			c.err = ctxError(ctrgate.OpCopyFrom, c.name, cerr)
			return
		}
		var ee *exec.ExitError
		if errors.As(werr, &ee) && ee.ExitCode() != 0 {
			c.err = c.r.failure(ctrgate.OpCopyFrom, c.name, exited(ee.ProcessState, c.stderr.Bytes()))
		} else if werr != nil && !errors.Is(werr, exec.ErrWaitDelay) {
			c.err = ctrgate.NewEngineError(BackendName, ctrgate.OpCopyFrom, c.name, nil, "", werr, nil)
		}
	})
	return c.err
}

func (c *copyReader) Read(p []byte) (int, error) {
	n, err := c.br.Read(p)
	if err == io.EOF {
		if ferr := c.finish(); ferr != nil {
			return n, ferr
		}
	}
	return n, err
}

func (c *copyReader) Close() error {
	c.cancel() // kills podman's group if it still runs
	_ = c.finish()
	return nil
}
