package docker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/exec"
	"sync"
	"time"
)

// getenv is os.Getenv, replaceable in tests.
var getenv = os.Getenv

// sshDialer returns a dialer that reaches the Docker engine on an ssh://
// host by running "docker system dial-stdio" there, as the docker CLI does.
// Each connection is one ssh process; closing the connection ends it.
func sshDialer(host string) (func(ctx context.Context, network, addr string) (net.Conn, error), func(), error) {
	u, err := url.Parse(host)
	if err != nil {
		return nil, nil, fmt.Errorf("bad ssh address: %w", err)
	}
	if u.Hostname() == "" {
		return nil, nil, errors.New("ssh address without host")
	}
	if u.Path != "" && u.Path != "/" {
		return nil, nil, fmt.Errorf("ssh address must not have a path")
	}
	if _, err := exec.LookPath("ssh"); err != nil {
		return nil, nil, fmt.Errorf("ssh:// engine address needs an ssh client: %w", err)
	}
	args := []string{"-o", "BatchMode=yes"}
	if u.User != nil && u.User.Username() != "" {
		args = append(args, "-l", u.User.Username())
	}
	if p := u.Port(); p != "" {
		args = append(args, "-p", p)
	}
	args = append(args, "--", u.Hostname(), "docker", "system", "dial-stdio")
	dial := func(ctx context.Context, _, _ string) (net.Conn, error) {
		return newCommandConn(ctx, "ssh", args...)
	}
	return dial, func() {}, nil
}

// commandConn is a net.Conn over a child process's stdin and stdout.
type commandConn struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	stdout io.ReadCloser
	once   sync.Once
	waited chan struct{}
}

func newCommandConn(ctx context.Context, name string, args ...string) (net.Conn, error) {
	cmd := exec.Command(name, args...)
	cmd.Stderr = io.Discard
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	c := &commandConn{cmd: cmd, stdin: stdin, stdout: stdout, waited: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		close(c.waited)
	}()
	return c, nil
}

func (c *commandConn) Read(p []byte) (int, error)  { return c.stdout.Read(p) }
func (c *commandConn) Write(p []byte) (int, error) { return c.stdin.Write(p) }

// CloseWrite closes the process's stdin (half-close, used by hijacked
// connections).
func (c *commandConn) CloseWrite() error { return c.stdin.Close() }

// Close ends the process and reaps it.
func (c *commandConn) Close() error {
	c.once.Do(func() {
		_ = c.stdin.Close()
		_ = c.cmd.Process.Kill()
		<-c.waited
	})
	return nil
}

func (c *commandConn) LocalAddr() net.Addr                { return dummyAddr{} }
func (c *commandConn) RemoteAddr() net.Addr               { return dummyAddr{} }
func (c *commandConn) SetDeadline(t time.Time) error      { return nil }
func (c *commandConn) SetReadDeadline(t time.Time) error  { return nil }
func (c *commandConn) SetWriteDeadline(t time.Time) error { return nil }

type dummyAddr struct{}

func (dummyAddr) Network() string { return "ssh" }
func (dummyAddr) String() string  { return "ssh" }
