package podmanapi

import (
	"net/url"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestSSHTarget: the URL's parts win; the rest comes from ~/.ssh/config
// for the URL's host (an alias: HostName, Port, User, IdentityFile), as
// the bindings' client read it.
func TestSSHTarget(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	require.NoError(t, os.MkdirAll(filepath.Join(home, ".ssh"), 0o700))
	key := filepath.Join(home, ".ssh", "prod_key")
	require.NoError(t, os.WriteFile(key, []byte("not read here"), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(home, ".ssh", "config"), []byte(
		"Host prod\n  HostName 192.0.2.10\n  Port 2222\n  User core\n  IdentityFile ~/.ssh/prod_key\n"+
			"Host gone-key\n  IdentityFile ~/.ssh/missing\n"), 0o600))

	parse := func(s string) *url.URL {
		u, err := url.Parse(s)
		require.NoError(t, err)
		return u
	}
	addr, user, ident, err := sshTarget(parse("ssh://prod/run/podman/podman.sock"), "")
	require.NoError(t, err)
	assert.Equal(t, "192.0.2.10:2222", addr, "HostName and Port of the alias")
	assert.Equal(t, "core", user)
	assert.Equal(t, key, ident, "IdentityFile, ~ expanded")

	addr, user, ident, err = sshTarget(parse("ssh://admin@prod:22/run/podman/podman.sock"), "/keys/mine")
	require.NoError(t, err)
	assert.Equal(t, "192.0.2.10:22", addr, "the URL's port wins")
	assert.Equal(t, "admin", user, "the URL's user wins")
	assert.Equal(t, "/keys/mine", ident, "the configured identity wins")

	addr, user, ident, err = sshTarget(parse("ssh://gone-key/run/podman/podman.sock"), "")
	require.NoError(t, err)
	assert.Equal(t, "gone-key:22", addr, "no HostName: the name itself, port 22")
	assert.NotEmpty(t, user, "the current user")
	assert.Empty(t, ident, "an IdentityFile that does not exist is not used")
}
