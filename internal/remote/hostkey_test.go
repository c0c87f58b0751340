package remote_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ctrgate/ctrgate"
	"github.com/ctrgate/ctrgate/docker"
	"github.com/ctrgate/ctrgate/podmanapi"
	"github.com/ctrgate/ctrgate/podmancli"
)

// TestRemoteHostKeyPolicy checks the one SSH host key policy of every
// backend against the real sshd of h1: with a known_hosts file that does
// not know h1, the connection is refused with a *ctrgate.HostKeyError
// (unknown); with one that holds another key for h1 (h2's), refused as
// changed, also when new keys are accepted; with ssh_accept_new_host_keys
// and a file that does not know h1, it connects and the file then holds
// h1's key. Nothing is sent to an engine that is refused.
func TestRemoteHostKeyPolicy(t *testing.T) {
	env := remoteFromEnv(t)
	if !inRemoteHome(t, env) {
		return
	}
	h1, h2 := os.Getenv("CTRGATE_REMOTE_H1_ADDR"), os.Getenv("CTRGATE_REMOTE_H2_ADDR")
	require.NotEmpty(t, h1)
	require.NotEmpty(t, h2)
	script, err := os.ReadFile(os.Getenv(envKnownHosts))
	require.NoError(t, err)
	keys := map[string]string{} // host -> "type base64"
	for _, l := range strings.Split(string(script), "\n") {
		if f := strings.Fields(l); len(f) >= 3 {
			keys[f[0]] = f[1] + " " + f[2]
		}
	}
	h1Key, h2Key := keys[h1], keys[h2]
	require.NotEmpty(t, h1Key, "h1's key in %s", os.Getenv(envKnownHosts))
	require.NotEmpty(t, h2Key, "h2's key in %s", os.Getenv(envKnownHosts))

	type opener func(ctx context.Context, t *testing.T, knownHosts string, acceptNew bool) (ctrgate.ContainerRuntime, error)
	backends := []struct {
		name string
		open opener
	}{
		{"podman-api", func(ctx context.Context, t *testing.T, kh string, acceptNew bool) (ctrgate.ContainerRuntime, error) {
			return podmanapi.New(ctx, podmanapi.Config{URI: env.h1PodmanURL, Identity: env.identity, KnownHosts: kh, AcceptNewHostKeys: acceptNew})
		}},
		{"podman-cli", func(ctx context.Context, t *testing.T, kh string, acceptNew bool) (ctrgate.ContainerRuntime, error) {
			return podmancli.New(podmancli.Config{GlobalArgs: []string{"--url", env.h1PodmanURL, "--identity", env.identity},
				Env: []string{"HOME=" + env.home}, KnownHosts: kh, AcceptNewHostKeys: acceptNew})
		}},
		{"docker", func(ctx context.Context, t *testing.T, kh string, acceptNew bool) (ctrgate.ContainerRuntime, error) {
			t.Setenv("PATH", env.wrapperDir+string(os.PathListSeparator)+os.Getenv("PATH"))
			return docker.New(ctx, docker.Config{Host: env.dockerSSH, KnownHosts: kh, AcceptNewHostKeys: acceptNew})
		}},
	}
	// openAndInfo opens the backend and calls Info: the first contact.
	openAndInfo := func(ctx context.Context, t *testing.T, open opener, kh string, acceptNew bool) error {
		rt, err := open(ctx, t, kh, acceptNew)
		if err != nil {
			return err
		}
		defer rt.Close()
		_, err = rt.Info(ctx)
		return err
	}
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			dir := t.TempDir()

			unknown := filepath.Join(dir, "unknown")
			require.NoError(t, os.WriteFile(unknown, nil, 0o600))
			began := time.Now()
			err := openAndInfo(ctx, t, b.open, unknown, false)
			var hke *ctrgate.HostKeyError
			require.ErrorAs(t, err, &hke, "unknown host")
			assert.ErrorIs(t, err, ctrgate.ErrEngineUnavailable)
			assert.False(t, hke.Changed)
			if b.name != "docker" { // OpenSSH does not print an unknown host's key in batch mode
				assert.NotEmpty(t, hke.Fingerprint)
			}
			t.Logf("%s: unknown host refused after %v: %v", b.name, time.Since(began).Round(time.Millisecond), err)
			content, err := os.ReadFile(unknown)
			require.NoError(t, err)
			assert.Empty(t, content, "nothing recorded without ssh_accept_new_host_keys")

			changed := filepath.Join(dir, "changed")
			require.NoError(t, os.WriteFile(changed, []byte(h1+" "+h2Key+"\n"), 0o600))
			for _, acceptNew := range []bool{false, true} {
				err = openAndInfo(ctx, t, b.open, changed, acceptNew)
				require.ErrorAs(t, err, &hke, "changed host key (accept new: %v)", acceptNew)
				assert.True(t, hke.Changed, "%v", err)
			}
			t.Logf("%s: changed host key refused: %v", b.name, err)

			fresh := filepath.Join(dir, "fresh", "known_hosts")
			require.NoError(t, openAndInfo(ctx, t, b.open, fresh, true), "accept-new trusts a host's first key")
			content, err = os.ReadFile(fresh)
			require.NoError(t, err)
			assert.Contains(t, string(content), strings.Fields(h1Key)[1], "h1's key is recorded")
			require.NoError(t, openAndInfo(ctx, t, b.open, fresh, false), "and is known from then on")
		})
	}
}
