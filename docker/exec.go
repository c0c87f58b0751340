package docker

import (
	"bytes"
	"context"
	"io"
	"sync"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/pkg/stdcopy"

	"github.com/ctrgate/ctrgate"
)

// Exec runs a command in a running container and waits for it: exec create,
// attach (output demultiplexed with stdcopy), then exec inspect for the exit
// code, which is never turned into an error. The default timeout applies
// when ctx has no deadline.
func (r *Runtime) Exec(ctx context.Context, name string, opts ctrgate.ExecOptions) (*ctrgate.ExecResult, error) {
	if err := ctrgate.ValidateName(name); err != nil {
		return nil, err
	}
	if len(opts.Cmd) == 0 || opts.Cmd[0] == "" {
		return nil, &ctrgate.SpecError{Field: "Cmd", Reason: "a command is required"}
	}
	if err := ctrgate.ValidateEnv("Env", opts.Env); err != nil {
		return nil, err
	}
	secrets := ctrgate.SecretValues(opts.Env)
	ctx, cancel, err := r.begin(ctx, opExec, name)
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
		return nil, r.mapErr(ctx, opExec, name, err, secrets)
	}
	att, err := r.cli.ContainerExecAttach(ctx, created.ID, container.ExecAttachOptions{})
	if err != nil {
		return nil, r.mapErr(ctx, opExec, name, err, secrets)
	}
	stopClose := context.AfterFunc(ctx, att.Close)
	var wg sync.WaitGroup
	if opts.Stdin != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _ = io.Copy(att.Conn, opts.Stdin)
			_ = att.CloseWrite()
		}()
	}
	var stdout, stderr bytes.Buffer
	_, cerr := stdcopy.StdCopy(&stdout, &stderr, att.Reader)
	stopClose()
	att.Close()
	wg.Wait()
	if cerr != nil && ctx.Err() != nil {
		return nil, r.mapErr(ctx, opExec, name, cerr, secrets)
	}
	// The stream ends when the process does; the engine may need a moment to
	// record the exit code.
	for delay := 5 * time.Millisecond; ; delay = min(delay*2, 200*time.Millisecond) {
		ins, err := r.cli.ContainerExecInspect(ctx, created.ID)
		if err != nil {
			return nil, r.mapErr(ctx, opExec, name, err, secrets)
		}
		if !ins.Running {
			if cerr != nil {
				return nil, r.mapErr(ctx, opExec, name, cerr, secrets)
			}
			return &ctrgate.ExecResult{ExitCode: ins.ExitCode, Stdout: stdout.Bytes(), Stderr: stderr.Bytes()}, nil
		}
		if err := sleepCtx(ctx, delay); err != nil {
			return nil, r.mapErr(ctx, opExec, name, err, secrets)
		}
	}
}
