package docker

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ctrgate/ctrgate"
	"github.com/ctrgate/ctrgate/driver"
)

// getenv is os.Getenv, replaceable in tests.
var getenv = os.Getenv

// sshDialer returns a dialer that reaches the Docker engine on an ssh://
// host by running "docker system dial-stdio" there, as the docker CLI does.
// Each connection is one ssh process; closing the connection ends it. The
// host key is checked by ssh itself, strictly (StrictHostKeyChecking=yes,
// or accept-new with the policy's AcceptNew; the policy's KnownHosts file
// when set, else ssh's own); a connection that ssh refused for its host key
// fails with a *ctrgate.HostKeyError, which hostKeyErr also returns (the
// last one seen). ssh's keepalive (ServerAliveInterval 5 s, 2 missed)
// closes a connection whose server stopped answering.
func sshDialer(host string, policy driver.HostKeyPolicy) (dial func(ctx context.Context, network, addr string) (net.Conn, error), hostKeyErr func() error, err error) {
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
	args := []string{"-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes",
		// a server that stops answering (a cut link) ends the connection
		// within about 15 s, failing what runs on it, instead of hanging it
		"-o", "ServerAliveInterval=5", "-o", "ServerAliveCountMax=2"}
	if policy.AcceptNew {
		args[3] = "StrictHostKeyChecking=accept-new"
	}
	known := "the ssh client's known_hosts files"
	if policy.KnownHosts != "" {
		args = append(args, "-o", "UserKnownHostsFile="+policy.KnownHosts)
		known = policy.KnownHosts
		if policy.AcceptNew { // ssh records a new key only where the directory exists
			if err := os.MkdirAll(filepath.Dir(policy.KnownHosts), 0o700); err != nil {
				return nil, nil, err
			}
		}
	}
	if u.User != nil && u.User.Username() != "" {
		args = append(args, "-l", u.User.Username())
	}
	if p := u.Port(); p != "" {
		args = append(args, "-p", p)
	}
	args = append(args, "--", u.Hostname(), "docker", "system", "dial-stdio")
	shownHost := u.Hostname()
	if p := u.Port(); p != "" && p != "22" {
		shownHost = "[" + u.Hostname() + "]:" + p
	}
	var last atomic.Pointer[ctrgate.HostKeyError]
	refused := func(stderr string) error {
		if !strings.Contains(stderr, "Host key verification failed") {
			return nil
		}
		e := &ctrgate.HostKeyError{Backend: BackendName, Host: shownHost, KnownHosts: known,
			Changed:     strings.Contains(stderr, "REMOTE HOST IDENTIFICATION HAS CHANGED"),
			Fingerprint: sshFingerprint.FindString(stderr)}
		last.Store(e)
		return e
	}
	dial = func(ctx context.Context, _, _ string) (net.Conn, error) {
		return newCommandConn(ctx, refused, "ssh", args...)
	}
	return dial, func() error {
		if e := last.Load(); e != nil {
			return e
		}
		return nil
	}, nil
}

// sshFingerprint finds the key fingerprint in ssh's messages.
var sshFingerprint = regexp.MustCompile(`SHA256:[A-Za-z0-9+/]+`)

// commandConn is a net.Conn over a child process's stdin and stdout.
type commandConn struct {
	cmd     *exec.Cmd
	stdin   io.WriteCloser
	stdout  io.ReadCloser
	stderr  *cappedBuffer // what the process said (ssh's reasons)
	refused func(stderr string) error
	once    sync.Once
	waited  chan struct{}
}

// cappedBuffer keeps the first 64 kB written to it.
type cappedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *cappedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if room := 64<<10 - b.buf.Len(); room > 0 {
		b.buf.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

func (b *cappedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// newCommandConn starts name with args; when its output ends, refused
// (nil: none) may turn what it said on stderr into the read's error.
func newCommandConn(ctx context.Context, refused func(stderr string) error, name string, args ...string) (net.Conn, error) {
	cmd := exec.Command(name, args...)
	stderr := &cappedBuffer{}
	cmd.Stderr = stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	// A pipe of its own, not StdoutPipe: cmd.Wait closes StdoutPipe's read
	// end as soon as the process exits, which lost the end of a large
	// output still unread ("read |0: file already closed", an exec of
	// 256 KiB over ssh under load). This one is closed by Close only, and
	// reads its writer's last bytes, then EOF.
	stdout, w, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	cmd.Stdout = w
	if ctx.Err() != nil {
		stdout.Close()
		w.Close()
		return nil, ctx.Err()
	}
	if err := cmd.Start(); err != nil {
		stdout.Close()
		w.Close()
		return nil, err
	}
	w.Close() // the process has its copy
	c := &commandConn{cmd: cmd, stdin: stdin, stdout: stdout, stderr: stderr, refused: refused, waited: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		close(c.waited)
	}()
	return c, nil
}

func (c *commandConn) Read(p []byte) (int, error) {
	n, err := c.stdout.Read(p)
	if err != nil {
		err = c.lastWords(err)
	}
	return n, err
}

// Write fails when the process has ended: its stdin is closed ("file
// already closed") or broken; ssh may have refused the host key before the
// first request was written, as before the first reply was read.
func (c *commandConn) Write(p []byte) (int, error) {
	n, err := c.stdin.Write(p)
	if err != nil {
		err = c.lastWords(err)
	}
	return n, err
}

// lastWords turns the error of a read or write that failed into what the
// process said when it ended, when refused recognises it (ssh refusing the
// host key); err otherwise.
func (c *commandConn) lastWords(err error) error {
	if c.refused == nil {
		return err
	}
	select { // its last words, once it has ended
	case <-c.waited:
	case <-time.After(time.Second):
	}
	if rerr := c.refused(c.stderr.String()); rerr != nil {
		return rerr
	}
	return err
}

// CloseWrite closes the process's stdin (half-close, used by hijacked
// connections).
func (c *commandConn) CloseWrite() error { return c.stdin.Close() }

// Close ends the process and reaps it.
func (c *commandConn) Close() error {
	c.once.Do(func() {
		_ = c.stdin.Close()
		_ = c.cmd.Process.Kill()
		<-c.waited
		_ = c.stdout.Close()
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
