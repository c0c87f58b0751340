package remote_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
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

// The timeouts the fault tests open their runtimes with: the per-call
// timeout bounds a call in flight; the liveness probe (and the
// transports' keepalives) end the long calls (Wait, streams).
const (
	faultCallTimeout = 20 * time.Second
	faultLiveness    = 5 * time.Second
	// faultBound is what the tests allow for a call or a stream to fail:
	// the per-call timeout, or three liveness intervals, plus slack for a
	// loaded machine. The times measured are printed.
	faultBound = faultCallTimeout + 25*time.Second
)

// faultPath is one way to a remote engine with its runtime and the host
// whose link or sshd the faults hit.
type faultPath struct {
	name, host string
	ssh        bool
	rt         ctrgate.ContainerRuntime
	container  string
}

// openFaultPaths opens a runtime on each way to a remote engine, with the
// fault tests' timeouts: podman-api over ssh (h1), podman-cli over ssh
// (h2), docker over ssh (h1), docker over tcp+TLS (h1). It sets PATH to
// the ssh wrapper for docker's ssh for the rest of the test.
func openFaultPaths(ctx context.Context, t *testing.T, env remoteEnv) []*faultPath {
	t.Helper()
	t.Setenv("PATH", env.wrapperDir+string(os.PathListSeparator)+os.Getenv("PATH"))
	var paths []*faultPath
	add := func(name, host string, ssh bool, rt ctrgate.ContainerRuntime, err error) {
		require.NoError(t, err, "open %s", name)
		t.Cleanup(func() { _ = rt.Close() })
		paths = append(paths, &faultPath{name: name, host: host, ssh: ssh, rt: rt})
	}
	rt, err := podmanapi.New(ctx, podmanapi.Config{URI: env.h1PodmanURL, Identity: env.identity,
		DefaultTimeout: faultCallTimeout, LivenessProbe: faultLiveness})
	add("podman-api/ssh/h1", "h1", true, rt, err)
	cli, err := podmancli.New(podmancli.Config{
		GlobalArgs:     []string{"--url", env.h2PodmanURL, "--identity", env.identity},
		Env:            []string{"HOME=" + env.home},
		DefaultTimeout: faultCallTimeout, LivenessProbe: faultLiveness,
	})
	add("podman-cli/ssh/h2", "h2", true, cli, err)
	rt, err = docker.New(ctx, docker.Config{Host: env.dockerSSH, DefaultTimeout: faultCallTimeout, LivenessProbe: faultLiveness})
	add("docker/ssh/h1", "h1", true, rt, err)
	t.Setenv("DOCKER_TLS_VERIFY", "1") // read by docker.New only
	t.Setenv("DOCKER_CERT_PATH", env.dockerCerts)
	rt, err = docker.New(ctx, docker.Config{Host: env.dockerTLS, DefaultTimeout: faultCallTimeout, LivenessProbe: faultLiveness})
	add("docker/tls/h1", "h1", false, rt, err)
	t.Setenv("DOCKER_TLS_VERIFY", "")
	t.Setenv("DOCKER_CERT_PATH", "")
	return paths
}

// startTicking imports the test image on p's engine and starts a
// container that prints a tick every 200 ms; it is removed at the end.
func startTicking(ctx context.Context, t *testing.T, p *faultPath, image []byte) {
	t.Helper()
	ref := "localhost/ctrgate/testprog:remote-faults"
	require.NoError(t, p.rt.ImportImage(ctx, ref, bytes.NewReader(image),
		ctrgate.ImportOptions{Entrypoint: []string{conformance.TestProgPath}}), "%s: ImportImage", p.name)
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	p.container = "ctg-fault-" + strings.NewReplacer("/", "-").Replace(p.name) + "-" + hex.EncodeToString(b)
	t.Cleanup(func() {
		cctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		assert.NoError(t, ctrgate.FirstError(ctrgate.RemoveAll(cctx, p.rt, []string{p.container})), "%s: remove", p.name)
	})
	_, err := ctrgate.Run(ctx, p.rt, ctrgate.ContainerSpec{Name: p.container, Image: ref, PullPolicy: ctrgate.PullNever,
		Command: []string{"ticks", "100000", "200ms"}})
	require.NoError(t, err, "%s: Run", p.name)
}

// remoteScript runs scripts/remote.sh with args (the faults: link-down,
// link-up, kill-sshd, start-sshd).
func remoteScript(t *testing.T, args ...string) {
	t.Helper()
	out, err := exec.Command("../../scripts/remote.sh", args...).CombinedOutput()
	require.NoError(t, err, "scripts/remote.sh %v: %s", args, out)
	t.Logf("scripts/remote.sh %s: %s", strings.Join(args, " "), strings.TrimSpace(string(out)))
}

// outcome is how one call or stream ended after a fault.
type outcome struct {
	path, what string
	err        error
	after      time.Duration
}

// openLong opens, on p, a followed Logs (its first tick read) and an
// Events stream of its container, and starts a Wait; after the fault (at
// the time fault returns) each sends how it ended to out.
func openLong(ctx context.Context, t *testing.T, p *faultPath, fault <-chan time.Time, out chan<- outcome) {
	t.Helper()
	logs, err := p.rt.Logs(ctx, p.container, ctrgate.LogOptions{Follow: true})
	require.NoError(t, err, "%s: Logs", p.name)
	t.Cleanup(func() { _ = logs.Close() })
	_, err = logs.Next()
	require.NoError(t, err, "%s: the first line", p.name)
	events, err := p.rt.Events(ctx, ctrgate.EventFilter{NamePrefix: p.container})
	require.NoError(t, err, "%s: Events", p.name)
	t.Cleanup(func() { _ = events.Close() })
	var at time.Time
	var once sync.Once
	cut := func() time.Time { once.Do(func() { at = <-fault }); return at }
	end := func(what string, err error) {
		c := cut()
		out <- outcome{path: p.name, what: what, err: err, after: time.Since(c)}
	}
	go func() {
		for {
			if _, err := logs.Next(); err != nil {
				end("Logs", err)
				return
			}
		}
	}()
	go func() {
		for {
			if _, err := events.Next(); err != nil {
				end("Events", err)
				return
			}
		}
	}()
	go func() {
		_, err := p.rt.Wait(ctx, p.container)
		if err == nil {
			err = errors.New("Wait returned an exit code while the container runs")
		}
		end("Wait", err)
	}()
}

// checkOutcomes collects n outcomes (failing the test if they do not all
// come within faultBound after the fault) and checks that each is an
// error that is ErrEngineUnavailable, never a clean end.
func checkOutcomes(t *testing.T, out <-chan outcome, n int, fault string) {
	t.Helper()
	deadline := time.After(faultBound + 15*time.Second)
	var table []string
	for range n {
		select {
		case o := <-out:
			assert.ErrorIs(t, o.err, ctrgate.ErrEngineUnavailable, "%s %s after %s", o.path, o.what, fault)
			assert.NotEqual(t, io.EOF, o.err, "%s %s: an error, not a clean end of stream", o.path, o.what)
			assert.Less(t, o.after, faultBound, "%s %s after %s", o.path, o.what, fault)
			table = append(table, fmt.Sprintf("%-18s %-8s %8v  %v", o.path, o.what, o.after.Round(10*time.Millisecond), o.err))
		case <-deadline:
			t.Fatalf("after %s, %d of %d calls and streams had not ended within %v; those that had:\n%s",
				fault, n-len(table), n, faultBound+15*time.Second, strings.Join(table, "\n"))
		}
	}
	t.Logf("time to error after %s (call timeout %v, liveness probe every %v):\n%s", fault, faultCallTimeout,
		faultLiveness, strings.Join(table, "\n"))
}

// recovers checks that p's runtime works again (Inspect of its container
// answers within a minute) and logs how long that took.
func recovers(t *testing.T, p *faultPath, since time.Time) {
	t.Helper()
	var last error
	ok := assert.Eventually(t, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, last = p.rt.Inspect(ctx, p.container)
		return last == nil
	}, time.Minute, 250*time.Millisecond, "%s: the same runtime works again", p.name)
	if ok {
		t.Logf("%s: works again %v after the repair", p.name, time.Since(since).Round(10*time.Millisecond))
	} else {
		t.Logf("%s: last error: %v", p.name, last)
	}
}

// TestRemoteLinkCut cuts both hosts' links (their veth end down: packets
// dropped, no RST, no ICMP) while, on every remote path, a followed Logs
// and an Events stream are open and a Wait is in flight, then calls
// Inspect without a deadline. Every one of them must fail with
// ErrEngineUnavailable (streams with an error, never a clean end) within
// the documented bounds: the per-call timeout for Inspect, about three
// liveness intervals (or the transport's keepalive) for the long calls.
// Once the links are back, the same runtimes work again.
func TestRemoteLinkCut(t *testing.T) {
	faultOnEveryPath(t, "the link cut", "link-down", "link-up", func(*faultPath) bool { return true })
}

// TestRemoteSSHDKilled kills both hosts' sshd (the listener and every
// session: the ssh connections break at once) while, on every ssh path, a
// followed Logs and an Events stream are open and a Wait is in flight;
// then an Inspect without a deadline. Each ends with ErrEngineUnavailable
// (streams with an error); once sshd runs again, the same runtimes work
// again (podman-api's transport makes a new connection).
func TestRemoteSSHDKilled(t *testing.T) {
	faultOnEveryPath(t, "sshd was killed", "kill-sshd", "start-sshd", func(p *faultPath) bool { return p.ssh })
}

// faultOnEveryPath is the fault tests' common run: on every path that
// keep accepts, a ticking container with a followed Logs, an Events
// stream and a Wait open; then `scripts/remote.sh FAULT h1|h2` and an
// Inspect without a deadline on each path; each of the four must end with
// ErrEngineUnavailable within faultBound (checkOutcomes, which prints the
// times); then `scripts/remote.sh REPAIR h1|h2` (also at the test's end,
// whatever happened) and the same runtimes must work again.
func faultOnEveryPath(t *testing.T, what, fault, repair string, keep func(*faultPath) bool) {
	env := remoteFromEnv(t)
	if !inRemoteHome(t, env) {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	image := conformance.TestImageTar(t)
	var paths []*faultPath
	for _, p := range openFaultPaths(ctx, t, env) {
		if keep(p) {
			paths = append(paths, p)
		}
	}
	at := make(chan time.Time, 4*len(paths)+1)
	out := make(chan outcome, 4*len(paths))
	for _, p := range paths {
		startTicking(ctx, t, p, image)
		openLong(ctx, t, p, at, out)
	}

	t.Cleanup(func() { // repaired whatever happens
		_ = exec.Command("../../scripts/remote.sh", repair, "h1").Run()
		_ = exec.Command("../../scripts/remote.sh", repair, "h2").Run()
	})
	remoteScript(t, fault, "h1")
	remoteScript(t, fault, "h2")
	began := time.Now()
	for range cap(at) {
		at <- began
	}
	// a call without a deadline on each path after the fault
	for _, p := range paths {
		go func() {
			_, err := p.rt.Inspect(context.Background(), p.container)
			if err == nil {
				err = errors.New("Inspect answered after " + what)
			}
			out <- outcome{path: p.name, what: "Inspect", err: err, after: time.Since(began)}
		}()
	}
	checkOutcomes(t, out, 4*len(paths), what)

	remoteScript(t, repair, "h1")
	remoteScript(t, repair, "h2")
	back := time.Now()
	for _, p := range paths {
		recovers(t, p, back)
	}
}
