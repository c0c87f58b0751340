package remote_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ctrgate/ctrgate"
	"github.com/ctrgate/ctrgate/conformance"
	"github.com/ctrgate/ctrgate/docker"
	"github.com/ctrgate/ctrgate/podmanapi"
	"github.com/ctrgate/ctrgate/podmancli"
)

// The environment of `scripts/remote.sh env`.
const (
	envState         = "CTRGATE_REMOTE_STATE"
	envH1PodmanURL   = "CTRGATE_REMOTE_H1_PODMAN_URL"
	envH2PodmanURL   = "CTRGATE_REMOTE_H2_PODMAN_URL"
	envIdentity      = "CTRGATE_REMOTE_IDENTITY"
	envKnownHosts    = "CTRGATE_REMOTE_KNOWN_HOSTS"
	envHome          = "CTRGATE_REMOTE_HOME"
	envWrapperDir    = "CTRGATE_REMOTE_SSH_WRAPPER_DIR"
	envDockerSSHHost = "CTRGATE_REMOTE_DOCKER_SSH_HOST"
	envDockerTLSHost = "CTRGATE_REMOTE_DOCKER_TLS_HOST"
	envDockerCerts   = "CTRGATE_REMOTE_DOCKER_CERT_PATH"
)

// remoteEnv is what the tests need of `scripts/remote.sh env`.
type remoteEnv struct {
	h1PodmanURL, h2PodmanURL string
	identity, home           string
	wrapperDir               string
	dockerSSH, dockerTLS     string
	dockerCerts              string
}

// remoteFromEnv reads the environment of `scripts/remote.sh env`; when it is
// missing the test fails under CI=true and is skipped, loudly, otherwise.
func remoteFromEnv(t *testing.T) remoteEnv {
	t.Helper()
	get := map[string]string{}
	var missing []string
	for _, k := range []string{envState, envH1PodmanURL, envH2PodmanURL, envIdentity, envKnownHosts, envHome,
		envWrapperDir, envDockerSSHHost, envDockerTLSHost, envDockerCerts} {
		get[k] = os.Getenv(k)
		if get[k] == "" {
			missing = append(missing, k)
		}
	}
	if len(missing) > 0 {
		msg := "the remote hosts are not provisioned (" + strings.Join(missing, ", ") + " unset): " +
			`scripts/remote.sh up && eval "$(scripts/remote.sh env)"`
		conformance.EngineMissing(t, msg)
	}
	return remoteEnv{
		h1PodmanURL: get[envH1PodmanURL], h2PodmanURL: get[envH2PodmanURL],
		identity: get[envIdentity], home: get[envHome], wrapperDir: get[envWrapperDir],
		dockerSSH: get[envDockerSSHHost], dockerTLS: get[envDockerTLSHost], dockerCerts: get[envDockerCerts],
	}
}

// smokeImage is the test image as the smoke test imports it.
const smokeImage = "localhost/ctrgate/testprog:remote-smoke"

// TestRemoteSmoke opens each backend on each way to a remote engine that
// scripts/remote.sh provides, calls Info (the round trip is logged), imports
// the test image and runs one container (`echo hi`) to its end:
//   - podman-api on ssh://root@h1:22/...podman.sock and on h2 (the
//     backend's own SSH transport, identity file, known_hosts of
//     $HOME/.ssh);
//   - podman-cli with --url ssh://... --identity KEY on h1 (the podman
//     binary as a remote client, Podman's Go ssh client);
//   - docker with Host ssh://root@h1 (the system ssh through the wrapper
//     first in PATH: identity, known_hosts and StrictHostKeyChecking of the
//     script's ssh_config; `docker system dial-stdio` on the host);
//   - docker with Host tcp://h1:2376 and TLS (DOCKER_TLS_VERIFY,
//     DOCKER_CERT_PATH: a client certificate of the engine's CA).
//
// The podman binary's Go ssh client (podman-cli) reads
// $HOME/.ssh/known_hosts (and appends the key of a host it does not know
// there), and podman-api's default known_hosts is $HOME/.ssh's too, with
// HOME as it was when the process started (go.podman.io/storage's
// unshare.HomeDir reads it once, and a package variable of
// go.podman.io/image/v5/openshift calls it at init). So
// the test runs itself again in a process whose HOME is the script's client
// home (CTRGATE_REMOTE_HOME, where .ssh/known_hosts is the script's
// known_hosts), never touching the user's ~/.ssh.
func TestRemoteSmoke(t *testing.T) {
	env := remoteFromEnv(t)
	if !inRemoteHome(t, env) {
		return
	}
	image := conformance.TestImageTar(t)

	paths := []struct {
		name string
		open func(ctx context.Context, t *testing.T) (ctrgate.ContainerRuntime, error)
	}{
		{"podman-api/ssh/h1", func(ctx context.Context, t *testing.T) (ctrgate.ContainerRuntime, error) {
			return podmanapi.New(ctx, podmanapi.Config{URI: env.h1PodmanURL, Identity: env.identity})
		}},
		{"podman-api/ssh/h2", func(ctx context.Context, t *testing.T) (ctrgate.ContainerRuntime, error) {
			return podmanapi.New(ctx, podmanapi.Config{URI: env.h2PodmanURL, Identity: env.identity})
		}},
		{"podman-cli/ssh/h1", func(ctx context.Context, t *testing.T) (ctrgate.ContainerRuntime, error) {
			return podmancli.New(podmancli.Config{
				GlobalArgs: []string{"--url", env.h1PodmanURL, "--identity", env.identity},
				Env:        []string{"HOME=" + env.home},
			})
		}},
		{"docker/ssh/h1", func(ctx context.Context, t *testing.T) (ctrgate.ContainerRuntime, error) {
			t.Setenv("PATH", env.wrapperDir+string(os.PathListSeparator)+os.Getenv("PATH"))
			return docker.New(ctx, docker.Config{Host: env.dockerSSH})
		}},
		{"docker/tls/h1", func(ctx context.Context, t *testing.T) (ctrgate.ContainerRuntime, error) {
			t.Setenv("DOCKER_TLS_VERIFY", "1")
			t.Setenv("DOCKER_CERT_PATH", env.dockerCerts)
			return docker.New(ctx, docker.Config{Host: env.dockerTLS})
		}},
	}
	for _, p := range paths {
		t.Run(p.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			began := time.Now()
			rt, err := p.open(ctx, t)
			require.NoError(t, err, "open the backend")
			opened := time.Since(began)
			t.Cleanup(func() { _ = rt.Close() })
			smoke(ctx, t, p.name, rt, image, opened)
		})
	}
}

// inRemoteHome reports whether this process runs with HOME set to the
// remote client home. When it does not, it runs the test (t.Name()) in a
// child process of this test binary that does, with the test program built
// here (the child's HOME has no Go caches), logs the child's output, fails
// when the child fails, and returns false.
func inRemoteHome(t *testing.T, env remoteEnv) bool {
	t.Helper()
	if os.Getenv("HOME") == env.home {
		return true
	}
	prog := filepath.Join(t.TempDir(), "testprog")
	require.NoError(t, os.WriteFile(prog, conformance.TestProgBinary(t), 0o755))
	args := []string{"-test.run=^" + regexp.QuoteMeta(t.Name()) + "$", "-test.count=1", "-test.v=true"}
	if d, ok := t.Deadline(); ok {
		args = append(args, "-test.timeout="+time.Until(d).Round(time.Second).String())
	}
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "HOME="+env.home, conformance.EnvTestProgBinary+"="+prog)
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	cmd.Stderr = cmd.Stdout
	require.NoError(t, cmd.Start())
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		t.Log(sc.Text())
	}
	err = cmd.Wait()
	require.NoError(t, err, "the test with HOME=%s (output above)", env.home)
	return false
}

func smoke(ctx context.Context, t *testing.T, path string, rt ctrgate.ContainerRuntime, image []byte, opened time.Duration) {
	// Info: the first call, then five more for the round trip
	began := time.Now()
	info, err := rt.Info(ctx)
	require.NoError(t, err, "Info")
	first := time.Since(began)
	var trips []time.Duration
	for range 5 {
		began := time.Now()
		_, err := rt.Info(ctx)
		require.NoError(t, err, "Info")
		trips = append(trips, time.Since(began))
	}
	slices.Sort(trips)
	t.Logf("%s: %s %s (API %s, %s): opened in %v; Info first %v, then min %v median %v max %v",
		path, info.Engine, info.Version, info.APIVersion, info.Backend, opened.Round(time.Millisecond),
		first.Round(time.Millisecond), trips[0].Round(time.Millisecond), trips[2].Round(time.Millisecond),
		trips[4].Round(time.Millisecond))

	began = time.Now()
	require.NoError(t, rt.ImportImage(ctx, smokeImage, bytes.NewReader(image),
		ctrgate.ImportOptions{Entrypoint: []string{conformance.TestProgPath}}), "ImportImage")
	imported := time.Since(began)

	b := make([]byte, 4)
	_, _ = rand.Read(b)
	name := "ctg-remote-" + hex.EncodeToString(b)
	t.Cleanup(func() {
		cctx, ccancel := context.WithTimeout(context.Background(), time.Minute)
		defer ccancel()
		assert.NoError(t, ctrgate.FirstError(ctrgate.RemoveAll(cctx, rt, []string{name})))
	})
	began = time.Now()
	_, err = ctrgate.Run(ctx, rt, ctrgate.ContainerSpec{Name: name, Image: smokeImage, PullPolicy: ctrgate.PullNever,
		Command: []string{"echo", "hi"}})
	require.NoError(t, err, "Run")
	code, err := rt.Wait(ctx, name)
	require.NoError(t, err, "Wait")
	ran := time.Since(began)
	assert.Equal(t, 0, code, "exit code")
	st, err := rt.Logs(ctx, name, ctrgate.LogOptions{})
	require.NoError(t, err, "Logs")
	defer st.Close()
	var lines []string
	for {
		l, err := st.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err, "Logs")
		lines = append(lines, l.Text)
	}
	assert.Equal(t, []string{"hi"}, lines, "the container's output")
	t.Logf("%s: ImportImage %v; Run+Wait of `echo hi` %v", path, imported.Round(time.Millisecond), ran.Round(time.Millisecond))
}
