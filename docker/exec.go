package docker

import (
	"bytes"
	"context"
	"io"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/pkg/stdcopy"

	"github.com/ctrgate/ctrgate"
)

// Exec runs a command in a running container and waits for it: exec create,
// attach (output demultiplexed with stdcopy), then exec inspect for the exit
// code, which is never turned into an error. ctx bounds the whole run (the
// contract layer gives it the default timeout when it has no deadline).
// opts.Stdin is copied to the command and its end closes the command's
// standard input.
func (r *Runtime) Exec(ctx context.Context, name string, opts ctrgate.ExecOptions) (*ctrgate.ExecResult, error) {
	ctx, cancel, err := r.begin(ctx, ctrgate.OpExec, name)
	if err != nil {
		return nil, err
	}
	defer cancel()
	created, err := r.cli.ContainerExecCreate(ctx, name, container.ExecOptions{
		User:         opts.User,
		WorkingDir:   opts.WorkDir,
		Env:          ctrgate.EnvStrings(opts.Env),
		Cmd:          append([]string(nil), opts.Cmd...),
		AttachStdin:  opts.Stdin != nil,
		AttachStdout: true,
		AttachStderr: true,
	})
	if err != nil {
		return nil, r.mapErr(ctx, ctrgate.OpExec, name, err)
	}
	att, err := r.cli.ContainerExecAttach(ctx, created.ID, container.ExecAttachOptions{})
	if err != nil {
		return nil, r.mapErr(ctx, ctrgate.OpExec, name, err)
	}
	stopClose := context.AfterFunc(ctx, att.Close)
	stdinDone := make(chan struct{})
	if opts.Stdin != nil {
		go func() {
			defer close(stdinDone)
			_, _ = io.Copy(att.Conn, opts.Stdin)
			_ = att.CloseWrite()
		}()
	} else {
		close(stdinDone)
	}
	var stdout, stderr bytes.Buffer
	_, cerr := stdcopy.StdCopy(&stdout, &stderr, att.Reader)
	stopClose()
	att.Close()
	// The copy ends with its next Read or Write, which fails now that the
	// connection is closed. A Stdin whose Read blocks longer is not waited
	// for beyond a short grace period (its goroutine ends when Read returns).
	grace := time.NewTimer(time.Second)
	select {
	case <-stdinDone:
	case <-ctx.Done():
	case <-grace.C:
	}
	grace.Stop()
	if cerr != nil && ctx.Err() != nil {
		return nil, r.mapErr(ctx, ctrgate.OpExec, name, cerr)
	}
	// The stream ends when the process does; the engine may need a moment to
	// record the exit code.
	for delay := 5 * time.Millisecond; ; delay = min(delay*2, 200*time.Millisecond) {
		ins, err := r.cli.ContainerExecInspect(ctx, created.ID)
		if err != nil {
			return nil, r.mapErr(ctx, ctrgate.OpExec, name, err)
		}
		if !ins.Running {
			if cerr != nil {
				return nil, r.mapErr(ctx, ctrgate.OpExec, name, cerr)
			}
			return &ctrgate.ExecResult{ExitCode: ins.ExitCode, Stdout: stdout.Bytes(), Stderr: stderr.Bytes()}, nil
		}
		if err := sleepCtx(ctx, delay); err != nil {
			return nil, r.mapErr(ctx, ctrgate.OpExec, name, err)
		}
	}
}
