package driver_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/ctrgate/ctrgate"
	"github.com/ctrgate/ctrgate/driver"
)

// sshServer serves SSH key exchanges on 127.0.0.1 with the given host
// keys (no login succeeds) until the test ends; it returns its address.
func sshServer(t *testing.T, keys ...ssh.Signer) string {
	t.Helper()
	cfg := &ssh.ServerConfig{PublicKeyCallback: func(ssh.ConnMetadata, ssh.PublicKey) (*ssh.Permissions, error) {
		return nil, errors.New("no login")
	}}
	for _, k := range keys {
		cfg.AddHostKey(k)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_, _, _, _ = ssh.NewServerConn(c, cfg)
			}()
		}
	}()
	return l.Addr().String()
}

func ed25519Signer(t *testing.T) ssh.Signer {
	_, k, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	s, err := ssh.NewSignerFromKey(k)
	require.NoError(t, err)
	return s
}

func ecdsaSigner(t *testing.T) ssh.Signer {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	s, err := ssh.NewSignerFromKey(k)
	require.NoError(t, err)
	return s
}

func TestVerifyHostKey(t *testing.T) {
	ctx := context.Background()
	key := ed25519Signer(t)
	addr := sshServer(t, key)
	file := filepath.Join(t.TempDir(), "ssh", "known_hosts")

	// unknown: refused, nothing written
	err := driver.VerifyHostKey(ctx, "b", addr, driver.HostKeyPolicy{KnownHosts: file})
	var hke *ctrgate.HostKeyError
	require.ErrorAs(t, err, &hke)
	assert.ErrorIs(t, err, ctrgate.ErrEngineUnavailable)
	assert.False(t, hke.Changed)
	assert.Equal(t, ssh.FingerprintSHA256(key.PublicKey()), hke.Fingerprint)
	assert.Equal(t, knownhosts.Normalize(addr), hke.Host)
	assert.Contains(t, err.Error(), "ssh_accept_new_host_keys")
	assert.NoFileExists(t, file)

	// accept-new: trusted and recorded, owner-only
	require.NoError(t, driver.VerifyHostKey(ctx, "b", addr, driver.HostKeyPolicy{KnownHosts: file, AcceptNew: true}))
	st, err := os.Stat(file)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), st.Mode().Perm())
	// known now, with the strict policy
	require.NoError(t, driver.VerifyHostKey(ctx, "b", addr, driver.HostKeyPolicy{KnownHosts: file}))

	// changed: refused, even with accept-new
	other := sshServer(t, ed25519Signer(t))
	line := knownhosts.Line([]string{knownhosts.Normalize(other)}, key.PublicKey())
	require.NoError(t, os.WriteFile(file, []byte(line+"\n"), 0o600))
	for _, acceptNew := range []bool{false, true} {
		err = driver.VerifyHostKey(ctx, "b", other, driver.HostKeyPolicy{KnownHosts: file, AcceptNew: acceptNew})
		require.ErrorAs(t, err, &hke)
		assert.True(t, hke.Changed)
		assert.Contains(t, err.Error(), "changed")
	}
	b, err := os.ReadFile(file)
	require.NoError(t, err)
	assert.Equal(t, 1, strings.Count(string(b), "\n"), "a changed key is never recorded")

	// a host known by a key of another type than the one it offers first
	ec := ecdsaSigner(t)
	both := sshServer(t, key, ec)
	require.NoError(t, os.WriteFile(file, []byte(knownhosts.Line([]string{knownhosts.Normalize(both)}, ec.PublicKey())+"\n"), 0o600))
	assert.NoError(t, driver.VerifyHostKey(ctx, "b", both, driver.HostKeyPolicy{KnownHosts: file}))

	// nothing listens: not a host key error
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	gone := l.Addr().String()
	require.NoError(t, l.Close())
	err = driver.VerifyHostKey(ctx, "b", gone, driver.HostKeyPolicy{KnownHosts: file})
	require.Error(t, err)
	assert.False(t, errors.As(err, &hke))
}
