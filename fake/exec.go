package fake

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"sync"

	"github.com/ctrgate/ctrgate"
)

// execProc is a running exec.
type execProc struct {
	once sync.Once
	done chan struct{}
}

func (x *execProc) kill() { x.once.Do(func() { close(x.done) }) }

// syncBuffer is a goroutine-safe bytes.Buffer.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) Bytes() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return bytes.Clone(s.b.Bytes())
}

// Exec runs a program in the running container and waits for it. A
// missing executable gives exit code 127 with the engine's message on
// stderr (as "podman exec" does), not an error.
func (r *engine) Exec(ctx context.Context, name string, opts ctrgate.ExecOptions) (_ *ctrgate.ExecResult, err error) {
	defer r.record(ctrgate.OpExec, name, &err)()
	if err := r.enter(ctx, ctrgate.OpExec, name); err != nil {
		return nil, err
	}
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil, unavailable(ctrgate.OpExec, name)
	}
	c := r.lookupLocked(name)
	if c == nil {
		r.mu.Unlock()
		return nil, notFound(ctrgate.OpExec, name)
	}
	ru := c.run
	if ru == nil {
		r.mu.Unlock()
		return nil, engineErr(ctrgate.OpExec, name, ctrgate.ErrNotRunning,
			fmt.Sprintf("can only create exec sessions on running containers: container %s is %s: container state improper", c.id, c.state), nil)
	}
	env := mergeEnv(c.environ(), ctrgate.EnvStrings(opts.Env)...)
	wd := c.workDir()
	if opts.WorkDir != "" {
		wd = cleanAbs("/", opts.WorkDir)
	}
	user := c.spec.User
	if opts.User != "" {
		user = opts.User
	}
	uid, gid, err := lookupUser(c.view, user)
	if err != nil {
		r.mu.Unlock()
		return nil, engineErr(ctrgate.OpExec, name, nil, err.Error(), nil)
	}
	prog, ok := r.resolveProgramLocked(c, opts.Cmd, env)
	if !ok {
		r.mu.Unlock()
		return &ctrgate.ExecResult{ExitCode: 127, Stderr: []byte(missingExecMessage(opts.Cmd) + "\n")}, nil
	}
	x := &execProc{done: make(chan struct{})}
	c.execs[x] = struct{}{}
	var stdout, stderr syncBuffer
	var stdin io.Reader = emptyReader{}
	if opts.Stdin != nil {
		stdin = opts.Stdin
	}
	p := &Process{r: r, c: c, ru: ru, args: append([]string(nil), opts.Cmd...), env: env, wd: wd,
		uid: uid, gid: gid, stdin: stdin, stdout: &stdout, stderr: &stderr,
		signals: make(chan os.Signal, 1), done: x.done}
	result := make(chan int, 1)
	r.progWG.Add(1)
	r.live++
	go func() {
		defer r.progWG.Done()
		code := runProgram(prog, p)
		r.mu.Lock()
		r.live--
		r.mu.Unlock()
		result <- code
	}()
	r.mu.Unlock()

	defer func() {
		r.mu.Lock()
		delete(c.execs, x)
		r.mu.Unlock()
	}()
	var code int
	select {
	case code = <-result:
		if isClosed(x.done) {
			code = 137
		}
	case <-x.done:
		code = 137
	case <-ctx.Done():
		x.kill()
		return nil, ctxErr(ctrgate.OpExec, name, ctx.Err())
	}
	x.kill()
	return &ctrgate.ExecResult{ExitCode: code, Stdout: stdout.Bytes(), Stderr: stderr.Bytes()}, nil
}
