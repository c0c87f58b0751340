package podmancli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"syscall"
	"time"

	"github.com/ctrgate/ctrgate"
)

// waitDelay bounds how long a finished or killed podman may keep its output
// pipes open (through a leftover grandchild) before they are closed.
const waitDelay = 3 * time.Second

// result is the outcome of one podman run that started and exited.
type result struct {
	stdout []byte
	stderr []byte
	code   int            // exit status; -1 when podman was killed by a signal
	signal syscall.Signal // the signal that killed podman; 0 when it exited
	// stdoutOverflow: podman printed more than runOpts.maxStdout bytes;
	// stdout holds the first maxStdout of them.
	stdoutOverflow bool
}

// exited is the result of a podman run that ended in state, with its
// stderr (the exit status, or the signal that killed it).
func exited(state *os.ProcessState, stderr []byte) *result {
	res := &result{stderr: stderr, code: state.ExitCode()}
	if ws, ok := state.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		res.signal = ws.Signal()
	}
	return res
}

// exitCause describes how a failed podman run ended, as the Err of its
// *EngineError.
func exitCause(res *result) error {
	if res.signal != 0 {
		return fmt.Errorf("podman was killed by signal %d (%v)", int(res.signal), res.signal)
	}
	return fmt.Errorf("podman exited with status %d", res.code)
}

// cappedBuffer keeps the first limit bytes written to it and drops the
// rest, noting that it did: podman's output is read to its end (so podman
// is not stopped by a full pipe) without holding more than limit bytes.
type cappedBuffer struct {
	buf      bytes.Buffer
	limit    int
	overflow bool
}

func (c *cappedBuffer) Write(p []byte) (int, error) {
	if room := c.limit - c.buf.Len(); room < len(p) {
		c.overflow = true
		c.buf.Write(p[:max(room, 0)])
		return len(p), nil
	}
	c.buf.Write(p)
	return len(p), nil
}

// runOpts tunes one podman run.
type runOpts struct {
	stdin  io.Reader
	stdout io.Writer // stream stdout here instead of buffering it
	// maxStdout bounds the buffered stdout (0: unbounded); what podman
	// prints beyond it is read and dropped, and result.stdoutOverflow set.
	maxStdout int
	env       []string // extra KEY=VALUE entries for this run
}

// command builds an *exec.Cmd that runs podman in its own process group,
// kills the whole group when ctx ends and is reaped by Wait.
func (r *Runtime) command(ctx context.Context, args []string, env []string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, r.binary, append(append([]string(nil), r.global...), args...)...)
	cmd.Env = r.env
	if len(env) > 0 {
		cmd.Env = childEnv(r.env, env, false)
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error {
		if cmd.Process == nil {
			return nil
		}
		// the whole group: podman and whatever it started in it (conmon
		// detaches into its own session and is not touched).
		err := syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		if errors.Is(err, syscall.ESRCH) {
			return os.ErrProcessDone
		}
		return err
	}
	cmd.WaitDelay = waitDelay
	return cmd
}

// run runs podman with args and returns its output and exit status. The
// error is non-nil only when podman could not be started (wrapping
// ctrgate.ErrEngineUnavailable) or the context ended (wrapping ctx.Err());
// a non-zero exit status is left to the caller.
func (r *Runtime) run(ctx context.Context, op, target string, args []string, o runOpts) (*result, error) {
	if err := r.checkOpen(op, target); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, ctxError(op, target, err)
	}
	cmd := r.command(ctx, args, o.env)
	var stderr bytes.Buffer
	stdout := &cappedBuffer{limit: o.maxStdout}
	if o.maxStdout <= 0 {
		stdout.limit = math.MaxInt
	}
	cmd.Stdin = o.stdin
	cmd.Stdout = stdout
	if o.stdout != nil {
		cmd.Stdout = o.stdout
	}
	cmd.Stderr = &stderr
	err := cmd.Run()
	if cerr := ctx.Err(); cerr != nil {
		return nil, ctrgate.NewEngineError(BackendName, op, target, nil, "", cerr, nil)
	}
	res := &result{}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		res = exited(ee.ProcessState, nil)
	case errors.Is(err, exec.ErrWaitDelay):
		// podman exited but something kept its pipes open; its status is
		// valid.
		res = exited(cmd.ProcessState, nil)
	default:
		return nil, ctrgate.NewEngineError(BackendName, op, target, ctrgate.ErrEngineUnavailable,
			"cannot run podman", err, nil)
	}
	res.stdout, res.stderr, res.stdoutOverflow = stdout.buf.Bytes(), stderr.Bytes(), stdout.overflow
	return res, nil
}

// call runs podman and turns a non-zero exit status into an error.
func (r *Runtime) call(ctx context.Context, op, target string, args []string, o runOpts) (*result, error) {
	res, err := r.run(ctx, op, target, args, o)
	if err != nil {
		return nil, err
	}
	if res.code != 0 {
		return res, r.failure(op, target, res)
	}
	return res, nil
}
