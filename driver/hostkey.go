package driver

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/ctrgate/ctrgate"
)

// Options of the SSH host key policy, the same on every backend that
// reaches an engine over SSH.
const (
	// OptKnownHosts names the known_hosts file (default
	// DefaultKnownHosts()).
	OptKnownHosts = "ssh_known_hosts"
	// OptAcceptNewHostKeys ("true") trusts the key of a host that the file
	// does not know yet and adds it (trust on first use); a changed key
	// is refused all the same.
	OptAcceptNewHostKeys = "ssh_accept_new_host_keys"
)

// DefaultKnownHosts is the user's known_hosts file, $HOME/.ssh/known_hosts.
func DefaultKnownHosts() string {
	home, err := os.UserHomeDir()
	if err != nil {
		return ""
	}
	return filepath.Join(home, ".ssh", "known_hosts")
}

// HostKeyPolicy is how a backend checks an SSH engine host's key.
type HostKeyPolicy struct {
	KnownHosts string // the known_hosts file; "" means DefaultKnownHosts()
	AcceptNew  bool   // trust and record the key of a host the file lacks
}

// hostKeyMu serialises the additions to known_hosts files.
var hostKeyMu sync.Mutex

// VerifyHostKey connects to the SSH server at addr ("host:port") only as
// far as its host key, checks that key against the policy's known_hosts
// file, and disconnects before authenticating: an unknown key (unless
// AcceptNew, which then records it) or a changed one fails with a
// *ctrgate.HostKeyError of backend, before any credential or request is
// sent. Other failures (nothing listens, ctx ends) are returned as they
// are. It is what the Podman backends run before they let Podman's own SSH
// client connect, which would trust an unknown host silently.
func VerifyHostKey(ctx context.Context, backend, addr string, p HostKeyPolicy) error {
	_, err := VerifiedHostKey(ctx, backend, addr, p)
	return err
}

// VerifiedHostKey is VerifyHostKey that returns the host key it accepted,
// for a backend's own SSH client to accept that key only
// (ssh.FixedHostKey).
func VerifiedHostKey(ctx context.Context, backend, addr string, p HostKeyPolicy) (ssh.PublicKey, error) {
	file := p.KnownHosts
	if file == "" {
		file = DefaultKnownHosts()
	}
	key, remote, err := hostKey(ctx, addr, nil)
	if err != nil {
		return nil, err
	}
	check, err := knownHostsCallback(file)
	if err != nil {
		return nil, err
	}
	host := knownhosts.Normalize(addr)
	err = check(addr, remote, key)
	var ke *knownhosts.KeyError
	if errors.As(err, &ke) && len(ke.Want) > 0 && !slices.ContainsFunc(ke.Want, func(k knownhosts.KnownKey) bool { return k.Key.Type() == key.Type() }) {
		// the file knows the host by a key of another type than the one
		// offered first: ask for that type, as OpenSSH does
		var algos []string
		for _, k := range ke.Want {
			algos = append(algos, k.Key.Type())
		}
		if key, remote, err = hostKey(ctx, addr, algos); err != nil {
			return nil, err
		}
		err = check(addr, remote, key)
	}
	if err == nil {
		return key, nil
	}
	if !errors.As(err, &ke) {
		return nil, fmt.Errorf("checking the host key of %s against %s: %w", host, file, err)
	}
	hke := &ctrgate.HostKeyError{Backend: backend, Host: host, Changed: len(ke.Want) > 0,
		Fingerprint: ssh.FingerprintSHA256(key), KnownHosts: file}
	if hke.Changed || !p.AcceptNew {
		return nil, hke
	}
	if err := addKnownHost(file, host, key); err != nil {
		return nil, err
	}
	return key, nil
}

// knownHostsCallback reads file; a missing file knows no host.
func knownHostsCallback(file string) (ssh.HostKeyCallback, error) {
	if _, err := os.Stat(file); errors.Is(err, os.ErrNotExist) {
		return func(string, net.Addr, ssh.PublicKey) error { return &knownhosts.KeyError{} }, nil
	}
	cb, err := knownhosts.New(file)
	if err != nil {
		return nil, fmt.Errorf("reading known hosts %s: %w", file, err)
	}
	return cb, nil
}

// addKnownHost appends host's key to file (created with its directory,
// owner-only, when missing).
func addKnownHost(file, host string, key ssh.PublicKey) error {
	hostKeyMu.Lock()
	defer hostKeyMu.Unlock()
	if err := os.MkdirAll(filepath.Dir(file), 0o700); err != nil {
		return err
	}
	f, err := os.OpenFile(file, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(f, knownhosts.Line([]string{host}, key))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// errGotKey ends a handshake once the host key is known.
var errGotKey = errors.New("host key received")

// hostKey runs an SSH key exchange with addr (offering algos, nil: the
// defaults) and returns the server's host key and address.
func hostKey(ctx context.Context, addr string, algos []string) (ssh.PublicKey, net.Addr, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, nil, err
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Now()) })
	defer stop()
	var key ssh.PublicKey
	cfg := &ssh.ClientConfig{User: "ctrgate", HostKeyAlgorithms: algos,
		HostKeyCallback: func(_ string, _ net.Addr, k ssh.PublicKey) error { key = k; return errGotKey }}
	_, _, _, err = ssh.NewClientConn(conn, addr, cfg)
	if key != nil {
		return key, conn.RemoteAddr(), nil
	}
	if ctx.Err() != nil {
		return nil, nil, ctx.Err()
	}
	return nil, nil, fmt.Errorf("ssh handshake with %s: %w", addr, err)
}
