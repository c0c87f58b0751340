package podmanapi

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/user"
	"path/filepath"
	"strings"
	"sync"
	"time"

	sshconfig "github.com/kevinburke/ssh_config"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"

	"github.com/ctrgate/ctrgate/driver"
)

// The backend's own SSH transport for ssh:// URIs. The bindings' SSH
// client is left out: it trusts an unknown host silently (and appends it
// to ~/.ssh/known_hosts), holds one connection that nothing can close (a
// runtime's Close left its goroutines and socket behind), never reconnects
// (a restarted sshd broke the runtime for good) and sends no keepalive (a
// cut link hung every call and stream on it). This one:
//   - reads ~/.ssh/config for the URL's host (HostName, User, Port,
//     IdentityFile), as the bindings did;
//   - checks the host key against the configured known_hosts first
//     (driver.VerifyHostKey), then accepts that key only;
//   - authenticates with the identity file, else the ssh-agent
//     ($SSH_AUTH_SOCK), else ~/.ssh/id_ed25519, id_ecdsa, id_rsa;
//   - opens one SSH connection, a channel to the service's socket per HTTP
//     connection, and a new SSH connection when the old one broke;
//   - sends a keepalive every sshKeepAlive and closes a connection whose
//     server does not answer within sshKeepAliveWait: every call and stream
//     on it then fails at once (ErrEngineUnavailable) instead of hanging
//     (15 s: a loaded server must not be taken for a dead link);
//   - is closed with the runtime.

const (
	sshKeepAlive     = 5 * time.Second
	sshKeepAliveWait = 15 * time.Second
	sshDialTimeout   = 30 * time.Second
)

// sshTransport dials the service's unix socket on the SSH host.
type sshTransport struct {
	addr   string // host:port
	socket string // the service's socket on the host
	config *ssh.ClientConfig

	mu     sync.Mutex
	client *ssh.Client
	closed bool
	agent  net.Conn // the ssh-agent connection, if any
	wg     sync.WaitGroup
}

// newSSHTransport verifies the host key of u's host, prepares the
// authentication and makes the first connection (bounded by ctx). An
// empty socket path is asked of the host's podman, as podman-remote does.
func newSSHTransport(ctx context.Context, u *url.URL, identity string, policy driver.HostKeyPolicy) (*sshTransport, error) {
	given := identity
	addr, name, identity, err := sshTarget(u, identity)
	if err != nil {
		return nil, err
	}
	if identity != given { // from ssh_config (New warned of the given one)
		driver.WarnLooseKeyFile(BackendName, "SSH identity", identity)
	}
	hostKey, err := driver.VerifiedHostKey(ctx, BackendName, addr, policy)
	if err != nil {
		return nil, err
	}
	t := &sshTransport{addr: addr, socket: u.Path}
	auth, err := t.auth(identity)
	if err != nil {
		return nil, err
	}
	t.config = &ssh.ClientConfig{
		User:              name,
		Auth:              auth,
		HostKeyCallback:   ssh.FixedHostKey(hostKey),
		HostKeyAlgorithms: hostKeyAlgorithms(hostKey),
		Timeout:           sshDialTimeout,
	}
	c, err := t.connect(ctx)
	if err != nil {
		t.Close()
		return nil, err
	}
	if t.socket == "" {
		if t.socket, err = remoteSocket(c); err != nil {
			t.Close()
			return nil, err
		}
	}
	return t, nil
}

// sshTarget is where u points (host:port), as whom, with which identity:
// the URL's parts, else those of ~/.ssh/config (and /etc/ssh/ssh_config)
// for the URL's host, which may be an alias (HostName, Port, User,
// IdentityFile), as the bindings and ssh read them; else port 22, the
// current user, and no identity (auth then tries the agent and the default
// keys).
func sshTarget(u *url.URL, identity string) (addr, name, ident string, err error) {
	sc := loadSSHConfigs()
	alias := u.Hostname()
	host := alias
	if h := sc.get(alias, "HostName"); h != "" {
		host = h
	}
	port := u.Port()
	if port == "" {
		port = sc.get(alias, "Port")
	}
	if port == "" {
		port = "22"
	}
	name = u.User.Username()
	if name == "" {
		name = sc.get(alias, "User")
	}
	if name == "" {
		cur, err := user.Current()
		if err != nil {
			return "", "", "", fmt.Errorf("the ssh user: %w", err)
		}
		name = cur.Username
	}
	if identity == "" {
		identity = configIdentity(sc.get(alias, "IdentityFile"))
	}
	return net.JoinHostPort(host, port), name, identity, nil
}

// sshConfigs are the ssh client's configuration files that exist and
// parse: $HOME/.ssh/config, then /etc/ssh/ssh_config.
type sshConfigs []*sshconfig.Config

func loadSSHConfigs() sshConfigs {
	var paths []string
	if home, err := os.UserHomeDir(); err == nil {
		paths = append(paths, filepath.Join(home, ".ssh", "config"))
	}
	var cs sshConfigs
	for _, p := range append(paths, "/etc/ssh/ssh_config") {
		f, err := os.Open(p)
		if err != nil {
			continue
		}
		c, err := sshconfig.Decode(f)
		f.Close()
		if err == nil {
			cs = append(cs, c)
		}
	}
	return cs
}

// get is the first value of key for alias, "" when none says.
func (cs sshConfigs) get(alias, key string) string {
	for _, c := range cs {
		if v, err := c.Get(alias, key); err == nil && v != "" {
			return v
		}
	}
	return ""
}

// configIdentity is an IdentityFile of ssh_config, ~ expanded, when the
// file exists.
func configIdentity(v string) string {
	v = strings.Trim(v, `"`)
	if v == "" {
		return ""
	}
	if rest, ok := strings.CutPrefix(v, "~/"); ok {
		home, err := os.UserHomeDir()
		if err != nil {
			return ""
		}
		v = filepath.Join(home, rest)
	}
	if _, err := os.Stat(v); err != nil {
		return ""
	}
	return v
}

// hostKeyAlgorithms are the algorithms that make the server present key.
func hostKeyAlgorithms(key ssh.PublicKey) []string {
	if key.Type() == ssh.KeyAlgoRSA {
		return []string{ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256, ssh.KeyAlgoRSA}
	}
	return []string{key.Type()}
}

// auth returns the authentication methods: the identity file, else the
// agent's keys and the default key files.
func (t *sshTransport) auth(identity string) ([]ssh.AuthMethod, error) {
	if identity != "" {
		s, err := signerFromFile(identity)
		if err != nil {
			return nil, err
		}
		return []ssh.AuthMethod{ssh.PublicKeys(s)}, nil
	}
	var methods []ssh.AuthMethod
	if sock := os.Getenv("SSH_AUTH_SOCK"); sock != "" {
		if conn, err := net.Dial("unix", sock); err == nil {
			t.agent = conn
			methods = append(methods, ssh.PublicKeysCallback(agent.NewClient(conn).Signers))
		}
	}
	if home, err := os.UserHomeDir(); err == nil {
		var signers []ssh.Signer
		for _, n := range []string{"id_ed25519", "id_ecdsa", "id_rsa"} {
			if s, err := signerFromFile(filepath.Join(home, ".ssh", n)); err == nil {
				signers = append(signers, s)
			}
		}
		if len(signers) > 0 {
			methods = append(methods, ssh.PublicKeys(signers...))
		}
	}
	if len(methods) == 0 {
		return nil, errors.New("no SSH identity: give one (identity option, CONTAINER_SSHKEY), run an ssh-agent, or have ~/.ssh/id_ed25519")
	}
	return methods, nil
}

// signerFromFile reads a private key; one with a passphrase is refused
// with a hint (nothing here can ask for it).
func signerFromFile(path string) (ssh.Signer, error) {
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading the SSH identity %s: %w", path, err)
	}
	s, err := ssh.ParsePrivateKey(pem)
	var pe *ssh.PassphraseMissingError
	if errors.As(err, &pe) {
		return nil, fmt.Errorf("the SSH identity %s has a passphrase: add it to an ssh-agent (ssh-add) and leave the identity unset", path)
	}
	if err != nil {
		return nil, fmt.Errorf("reading the SSH identity %s: %w", path, err)
	}
	return s, nil
}

// connect makes a new SSH connection (bounded by ctx) and starts its
// keepalive.
func (t *sshTransport) connect(ctx context.Context) (*ssh.Client, error) {
	d := net.Dialer{Timeout: sshDialTimeout}
	conn, err := d.DialContext(ctx, "tcp", t.addr)
	if err != nil {
		return nil, err
	}
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Now()) })
	cc, chans, reqs, err := ssh.NewClientConn(conn, t.addr, t.config)
	if !stop() || err != nil {
		conn.Close()
		if err == nil || ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("ssh to %s: %w", t.addr, err)
	}
	c := ssh.NewClient(cc, chans, reqs)
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		c.Close()
		return nil, net.ErrClosed
	}
	if t.client != nil {
		t.client.Close()
	}
	t.client = c
	t.wg.Add(1)
	t.mu.Unlock()
	go t.keepAlive(c)
	return c, nil
}

// keepAlive sends a keepalive request every sshKeepAlive and closes c when
// one gets no answer within sshKeepAliveWait, or when c ends.
func (t *sshTransport) keepAlive(c *ssh.Client) {
	defer t.wg.Done()
	ended := make(chan struct{})
	go func() { _ = c.Wait(); close(ended) }()
	tick := time.NewTicker(sshKeepAlive)
	defer tick.Stop()
	for {
		select {
		case <-ended:
			return
		case <-tick.C:
		}
		answered := make(chan struct{})
		go func() {
			_, _, _ = c.SendRequest("keepalive@openssh.com", true, nil)
			close(answered)
		}()
		select {
		case <-answered:
		case <-ended:
			return
		case <-time.After(sshKeepAliveWait):
			c.Close() // the link or the server is gone: fail what runs on it
			<-ended
			return
		}
	}
}

// DialContext opens a channel to the service's socket: on the current
// connection, or on a new one when there is none or it broke. Its errors
// are *net.OpError{Op: "dial"}, which the transport answers as an
// unreachable service.
func (t *sshTransport) DialContext(ctx context.Context, _, _ string) (net.Conn, error) {
	t.mu.Lock()
	c, closed := t.client, t.closed
	t.mu.Unlock()
	if closed {
		return nil, &net.OpError{Op: "dial", Net: "ssh", Err: net.ErrClosed}
	}
	if c != nil {
		conn, err := c.DialContext(ctx, "unix", t.socket)
		if err == nil || ctx.Err() != nil || isChannelRefusal(err) {
			return conn, dialErr(err)
		}
		t.drop(c) // the connection broke: a new one
	}
	c, err := t.connect(ctx)
	if err != nil {
		return nil, dialErr(err)
	}
	conn, err := c.DialContext(ctx, "unix", t.socket)
	return conn, dialErr(err)
}

// isChannelRefusal tells a refusal of the server (no such socket, not
// permitted) from a broken connection.
func isChannelRefusal(err error) bool {
	var oce *ssh.OpenChannelError
	return errors.As(err, &oce)
}

func dialErr(err error) error {
	if err == nil {
		return nil
	}
	return &net.OpError{Op: "dial", Net: "ssh", Err: err}
}

// drop closes c if it is still the current connection.
func (t *sshTransport) drop(c *ssh.Client) {
	t.mu.Lock()
	if t.client == c {
		t.client = nil
	}
	t.mu.Unlock()
	c.Close()
}

// Close closes the connection and waits for its keepalive to end.
func (t *sshTransport) Close() {
	t.mu.Lock()
	t.closed = true
	c := t.client
	t.client = nil
	t.mu.Unlock()
	if c != nil {
		c.Close()
	}
	if t.agent != nil {
		t.agent.Close()
	}
	t.wg.Wait()
}

// remoteSocket asks the host's podman for its service socket.
func remoteSocket(c *ssh.Client) (string, error) {
	s, err := c.NewSession()
	if err != nil {
		return "", err
	}
	defer s.Close()
	var out, errOut bytes.Buffer
	s.Stdout, s.Stderr = &out, &errOut
	if err := s.Run("podman info --format '{{.Host.RemoteSocket.Path}}'"); err != nil {
		return "", fmt.Errorf("asking the host's podman for its socket: %w: %s", err, strings.TrimSpace(errOut.String()))
	}
	p := strings.TrimPrefix(strings.TrimSpace(out.String()), "unix://")
	if p == "" {
		return "", errors.New("the host's podman has no service socket (podman info: Host.RemoteSocket.Path is empty)")
	}
	return p, nil
}

// forwardListener serves a unix socket in a private directory whose
// connections are piped to t.DialContext: the bindings connect through it
// once, for their ping, before the transport's dialer takes over.
type forwardListener struct {
	dir string
	ln  net.Listener
	wg  sync.WaitGroup

	mu    sync.Mutex
	conns map[net.Conn]struct{} // open pipes' ends, closed by Close
	done  bool
}

// track adds c to the conns Close closes; false after Close.
func (f *forwardListener) track(c net.Conn) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.done {
		return false
	}
	f.conns[c] = struct{}{}
	return true
}

func newForwardListener(t *sshTransport) (*forwardListener, error) {
	dir, err := os.MkdirTemp("", "ctrgate-podman-ssh-")
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("unix", filepath.Join(dir, "podman.sock"))
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	f := &forwardListener{dir: dir, ln: ln, conns: map[net.Conn]struct{}{}}
	f.wg.Add(1)
	go func() {
		defer f.wg.Done()
		for {
			local, err := ln.Accept()
			if err != nil {
				return
			}
			f.wg.Add(1)
			go func() {
				defer f.wg.Done()
				defer local.Close()
				if !f.track(local) {
					return
				}
				ctx, cancel := context.WithTimeout(context.Background(), sshDialTimeout)
				remote, err := t.DialContext(ctx, "unix", "")
				cancel()
				if err != nil {
					return
				}
				defer remote.Close()
				if !f.track(remote) {
					return
				}
				done := make(chan struct{}, 2)
				go func() { _, _ = io.Copy(remote, local); done <- struct{}{} }()
				go func() { _, _ = io.Copy(local, remote); done <- struct{}{} }()
				<-done
				local.Close()
				remote.Close()
				<-done
			}()
		}
	}()
	return f, nil
}

// URI is the unix:// URI of the listener's socket.
func (f *forwardListener) URI() string { return "unix://" + filepath.Join(f.dir, "podman.sock") }

// Close stops the listener, ends its pipes and removes the directory.
func (f *forwardListener) Close() {
	f.ln.Close()
	f.mu.Lock()
	f.done = true
	for c := range f.conns {
		c.Close()
	}
	f.mu.Unlock()
	os.RemoveAll(f.dir)
	f.wg.Wait()
}
