package podmanapi

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/containers/podman/v5/pkg/api/handlers"
	"github.com/containers/podman/v5/pkg/bindings"
	"github.com/containers/podman/v5/pkg/bindings/containers"
	dockercontainer "github.com/docker/docker/api/types/container"

	"github.com/ctrgate/ctrgate"
)

// Exec runs a command in a running container and waits for it; the
// command's exit code is in the result.
//
// containers.ExecStartAndAttach swaps the transport of the connection it
// is given and reads the hijacked socket without looking at ctx. Exec
// therefore hands it a private copy of the connection whose dialer records
// the sockets it opens: concurrent calls never share mutable state, and a
// done ctx closes the sockets, which ends the attach.
func (r *Runtime) Exec(ctx context.Context, name string, opts ctrgate.ExecOptions) (*ctrgate.ExecResult, error) {
	c, cancel, err := r.call(ctx, ctrgate.OpExec, name)
	if err != nil {
		return nil, err
	}
	defer cancel()
	cfg := &handlers.ExecCreateConfig{ExecOptions: dockercontainer.ExecOptions{
		User:         opts.User,
		AttachStdin:  opts.Stdin != nil,
		AttachStdout: true,
		AttachStderr: true,
		Env:          ctrgate.EnvStrings(opts.Env),
		WorkingDir:   opts.WorkDir,
		Cmd:          append([]string(nil), opts.Cmd...),
	}}
	id, err := containers.ExecCreate(c, name, cfg)
	if err != nil {
		return nil, wrapErr(c, ctrgate.OpExec, name, err, false)
	}

	var stdout, stderr bytes.Buffer
	ow, ew := io.Writer(&stdout), io.Writer(&stderr)
	so := &containers.ExecStartAndAttachOptions{
		OutputStream: &ow,
		ErrorStream:  &ew,
		AttachOutput: boolPtr(true),
		AttachError:  boolPtr(true),
		AttachInput:  boolPtr(false),
	}
	var pr *io.PipeReader
	if opts.Stdin != nil {
		var pw *io.PipeWriter
		pr, pw = io.Pipe()
		go func() {
			_, err := io.Copy(pw, opts.Stdin)
			pw.CloseWithError(err) // EOF for the command after the last byte
		}()
		so.InputStream = bufio.NewReader(pr)
		so.AttachInput = boolPtr(true)
	}

	ectx, sockets, release := r.privateConnection(c)
	stop := make(chan struct{})
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		select {
		case <-c.Done():
			sockets.closeAll()
		case <-stop:
		}
	}()
	err = containers.ExecStartAndAttach(ectx, id, so)
	close(stop)
	<-watched
	sockets.closeAll()
	release()
	if pr != nil {
		pr.CloseWithError(io.ErrClosedPipe) // ends the bindings' stdin copier
	}
	if c.Err() != nil {
		return nil, wrapErr(c, ctrgate.OpExec, name, c.Err(), false)
	}
	if err != nil {
		return nil, wrapErr(c, ctrgate.OpExec, name, err, false)
	}
	code, err := r.execExitCode(c, id)
	if err != nil {
		return nil, wrapErr(c, ctrgate.OpExec, name, err, false)
	}
	if r.atLeast("4.8.0") {
		// Podman < 4.8 has no endpoint for this and drops the sessions of a
		// container when it stops; newer services are told right away.
		_ = containers.ExecRemove(c, id, nil)
	}
	return &ctrgate.ExecResult{ExitCode: code, Stdout: stdout.Bytes(), Stderr: stderr.Bytes()}, nil
}

// execExitCode reads the exit code of a finished exec session; the
// session may be marked stopped a moment after its output ended.
func (r *Runtime) execExitCode(ctx context.Context, id string) (int, error) {
	delay := 5 * time.Millisecond
	for {
		info, err := containers.ExecInspect(ctx, id, nil)
		if err != nil {
			return -1, err
		}
		if !info.Running {
			return info.ExitCode, nil
		}
		select {
		case <-ctx.Done():
			return -1, ctx.Err()
		case <-time.After(delay):
		}
		if delay < 100*time.Millisecond {
			delay *= 2
		}
	}
}

// socketSet records the connections a private transport opened.
type socketSet struct {
	mu     sync.Mutex
	conns  []net.Conn
	closed bool
}

func (s *socketSet) add(c net.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.conns = append(s.conns, c)
	return true
}

func (s *socketSet) closeAll() {
	s.mu.Lock()
	conns := s.conns
	s.conns = nil
	s.closed = true
	s.mu.Unlock()
	for _, c := range conns {
		_ = c.Close()
	}
}

// connOverride replaces the bindings connection carried by a context.
type connOverride struct {
	context.Context
	conn *bindings.Connection
}

func (c connOverride) Value(key any) any {
	v := c.Context.Value(key)
	if _, ok := v.(*bindings.Connection); ok {
		return c.conn
	}
	return v
}

// privateConnection returns ctx with a private copy of the runtime's
// connection (own http.Client and transport, recording its sockets) and a
// release function that closes what the copy left open.
func (r *Runtime) privateConnection(ctx context.Context) (context.Context, *socketSet, func()) {
	sockets := &socketSet{}
	base, ok := r.client.Client.Transport.(*http.Transport)
	if !ok {
		return ctx, sockets, func() {}
	}
	t := base.Clone()
	dial := base.DialContext
	if dial == nil {
		dial = (&net.Dialer{}).DialContext
	}
	t.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		if !sockets.add(c) {
			_ = c.Close()
			return nil, net.ErrClosed
		}
		return c, nil
	}
	cp := *r.client
	cp.Client = &http.Client{Transport: t}
	release := func() {
		t.CloseIdleConnections()
		if tr, ok := cp.Client.Transport.(*http.Transport); ok {
			tr.CloseIdleConnections()
		}
	}
	return connOverride{Context: ctx, conn: &cp}, sockets, release
}
