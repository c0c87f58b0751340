package conformance

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ctrgate/ctrgate"
)

func itoa(n int) string { return strconv.Itoa(n) }

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func configGroup() group {
	return group{name: "Config", tests: []suiteTest{
		{name: "Env", parallel: true, fn: func(t *testing.T, s *suite) {
			ctx := s.ctx(t)
			name := s.name(t, "cfg-env")
			spec := s.spec(name, "env")
			spec.Env = []ctrgate.EnvVar{
				{Name: "CTG_A", Value: "1"},
				{Name: "CTG_SPACES", Value: "a b  c"},
				{Name: "CTG_EQ", Value: "x=y=z"},
				{Name: "CTG_EMPTY", Value: ""},
				{Name: "CTG_QUOTE", Value: `it's "quoted" $HOME`},
				{Name: "CTG_DUP", Value: "first"},
				{Name: "CTG_DUP", Value: "second"},
			}
			code, out := s.stdout(t, ctx, spec)
			assert.Equal(t, 0, code)
			got := map[string][]string{}
			for _, l := range out {
				k, v, _ := strings.Cut(l, "=")
				got[k] = append(got[k], v)
			}
			for _, e := range spec.Env[:5] {
				assert.Equal(t, []string{e.Value}, got[e.Name], "value of %s", e.Name)
			}
			// Programs read the first entry of a key (libc, Go): a repeated
			// key must reach the process once, with the later value.
			assert.Equal(t, []string{"second"}, got["CTG_DUP"], "entries apply in order: the later one wins")
		}},
		{name: "Labels", parallel: true, fn: func(t *testing.T, s *suite) {
			ctx := s.ctx(t)
			name := s.name(t, "cfg-labels")
			spec := s.spec(name, "exit", "0")
			spec.Labels = map[string]string{"ctg.a": "1", "ctg.b": "with space", "ctg.empty": "", "org.example/x": "y"}
			s.create(t, ctx, spec)
			c, err := s.rt.Inspect(ctx, name)
			require.NoError(t, err)
			for k, v := range spec.Labels {
				got, ok := c.Labels[k]
				assert.True(t, ok, "label %s", k)
				assert.Equal(t, v, got, "label %s", k)
			}
		}},
		{name: "UserWorkDirHostname", parallel: true, fn: func(t *testing.T, s *suite) {
			ctx := s.ctx(t)
			name := s.name(t, "cfg-uwh")
			spec := s.spec(name, "id", ";", "pwd", ";", "hostname")
			spec.User = "1000:1000"
			spec.WorkDir = "/tmp"
			spec.Hostname = "ctg-host-" + randHex(2)
			code, out := s.stdout(t, ctx, spec)
			assert.Equal(t, 0, code)
			assert.Equal(t, []string{"1000:1000", "/tmp", spec.Hostname}, out)
		}},
		{name: "ExtraHosts", parallel: true, fn: func(t *testing.T, s *suite) {
			ctx := s.ctx(t)
			name := s.name(t, "cfg-hosts")
			spec := s.spec(name, "cat", "/etc/hosts")
			spec.ExtraHosts = []ctrgate.HostEntry{{Host: "ctg-extra.example", IP: "10.1.2.3"}}
			code, out := s.stdout(t, ctx, spec)
			assert.Equal(t, 0, code)
			found := false
			for _, l := range out {
				f := strings.Fields(l)
				if len(f) >= 2 && f[0] == "10.1.2.3" && contains(f[1:], "ctg-extra.example") {
					found = true
				}
			}
			assert.True(t, found, "/etc/hosts maps ctg-extra.example to 10.1.2.3: %q", out)
		}},
		{name: "EntrypointOverride", parallel: true, fn: func(t *testing.T, s *suite) {
			ctx := s.ctx(t)
			name := s.name(t, "cfg-entry")
			spec := s.spec(name, "and", "command")
			spec.Entrypoint = []string{TestProgPath, "echo", "from-entrypoint"}
			code, out := s.stdout(t, ctx, spec)
			assert.Equal(t, 0, code)
			assert.Equal(t, []string{"from-entrypoint and command"}, out, "Entrypoint replaces the image's; Command follows it")
		}},
		{name: "UserByName", parallel: true, fn: func(t *testing.T, s *suite) {
			ctx := s.ctx(t)
			name := s.name(t, "cfg-user")
			spec := s.spec(name, "id", ";", "pwd")
			spec.User = "ctrgate"
			code, out := s.stdout(t, ctx, spec)
			assert.Equal(t, 0, code)
			assert.Equal(t, []string{"1000:1000", "/"}, out, "user from the image's /etc/passwd; default workdir /")
		}},
		{name: "BindMounts", parallel: true, fn: func(t *testing.T, s *suite) {
			if !s.need(t, CapBindMounts) {
				return
			}
			ctx := s.ctx(t)
			dir := t.TempDir()
			ro, rw := filepath.Join(dir, "ro"), filepath.Join(dir, "rw")
			require.NoError(t, os.Mkdir(ro, 0o777))
			require.NoError(t, os.Mkdir(rw, 0o777))
			require.NoError(t, os.Chmod(rw, 0o777)) // umask
			require.NoError(t, os.WriteFile(filepath.Join(ro, "in.txt"), []byte("from-host\n"), 0o644))

			name := s.name(t, "cfg-bind")
			spec := s.spec(name, "cat", "/mnt/ro/in.txt", ";", "write", "/mnt/rw/out.txt", "from-container",
				";", "echo", "wrote", ";", "write", "/mnt/ro/nope.txt", "x", ";", "echo", "not reached")
			spec.Mounts = []ctrgate.Mount{
				{Type: ctrgate.MountBind, Source: ro, Target: "/mnt/ro", ReadOnly: true},
				{Type: ctrgate.MountBind, Source: rw, Target: "/mnt/rw"},
			}
			code, out := s.stdout(t, ctx, spec)
			assert.Equal(t, 1, code, "writing to the read-only mount fails")
			assert.Equal(t, []string{"from-host", "wrote"}, out)
			b, err := os.ReadFile(filepath.Join(rw, "out.txt"))
			require.NoError(t, err, "the file written in the container is on the host")
			assert.Equal(t, "from-container", string(b))
			_, err = os.Stat(filepath.Join(ro, "nope.txt"))
			assert.True(t, errors.Is(err, os.ErrNotExist), "nothing was written through the read-only mount")
		}},
		{name: "Tmpfs", parallel: true, fn: func(t *testing.T, s *suite) {
			ctx := s.ctx(t)
			name := s.name(t, "cfg-tmpfs")
			spec := s.spec(name, "write", "/scratch/f", "in-tmpfs", ";", "cat", "/scratch/f")
			spec.Mounts = []ctrgate.Mount{{Type: ctrgate.MountTmpfs, Target: "/scratch"}}
			code, out := s.stdout(t, ctx, spec)
			assert.Equal(t, 0, code, "a tmpfs is writable")
			assert.Equal(t, []string{"in-tmpfs"}, out)
		}},
		{name: "ReadOnlyRootfs", parallel: true, fn: func(t *testing.T, s *suite) {
			if !s.need(t, CapReadOnlyRootfs) {
				return
			}
			ctx := s.ctx(t)
			name := s.name(t, "cfg-rofs")
			spec := s.spec(name, "write", "/scratch/f", "ok", ";", "echo", "tmpfs ok", ";", "write", "/data/f", "x", ";", "echo", "not reached")
			spec.ReadOnlyRootfs = true
			spec.Mounts = []ctrgate.Mount{{Type: ctrgate.MountTmpfs, Target: "/scratch"}}
			code, out := s.stdout(t, ctx, spec)
			assert.Equal(t, 1, code, "writing to a read-only root file system fails")
			assert.Equal(t, []string{"tmpfs ok"}, out)
		}},
		{name: "UserNSHost", parallel: true, fn: func(t *testing.T, s *suite) {
			if !s.need(t, CapUserNS) {
				return
			}
			ctx := s.ctx(t)
			name := s.name(t, "cfg-userns-host")
			spec := s.spec(name, "id")
			spec.UserNS = ctrgate.UserNSSpec{Mode: ctrgate.UserNSHost}
			code, out := s.stdout(t, ctx, spec)
			assert.Equal(t, 0, code)
			assert.Equal(t, []string{"0:0"}, out)
		}},
		{name: "UserNSKeepID", parallel: true, fn: func(t *testing.T, s *suite) {
			if !s.need(t, CapUserNS) {
				return
			}
			ctx := s.ctx(t)
			info, err := s.rt.Info(ctx)
			require.NoError(t, err)
			if !info.Rootless || info.Engine != "podman" {
				s.notApplicable(t, "keep-id needs rootless podman; this engine is "+info.Engine+
					map[bool]string{true: " (rootless)", false: " (rootful)"}[info.Rootless])
				return
			}
			name := s.name(t, "cfg-userns-keepid")
			spec := s.spec(name, "id")
			spec.UserNS = ctrgate.UserNSSpec{Mode: ctrgate.UserNSKeepID}
			code, out := s.stdout(t, ctx, spec)
			assert.Equal(t, 0, code)
			// keep-id maps the engine's user (not necessarily this process's)
			want := fmt.Sprintf("%d:%d", s.h.Engine.uid(), s.h.Engine.gid())
			assert.Equal(t, []string{want}, out, "keep-id: the container runs as the rootless engine's user")
			t.Logf("keep-id: container uid:gid %v, engine user %s", out, want)
		}},
	}}
}

func portsGroup() group {
	return group{name: "Ports", tests: []suiteTest{
		{name: "PublishedPortReachable", parallel: true, fn: func(t *testing.T, s *suite) {
			if !s.need(t, CapPorts) {
				return
			}
			ctx := s.ctx(t)
			name := s.name(t, "ports-tcp")
			spec := s.spec(name, "serve-tcp", "8080")
			spec.Ports = []ctrgate.PortMapping{{HostIP: "127.0.0.1", HostPort: 0, ContainerPort: 8080, Protocol: "tcp"}}
			s.run(t, ctx, spec)
			s.waitReady(t, ctx, name, "listening on")

			c, err := s.rt.Inspect(ctx, name)
			require.NoError(t, err)
			hostPort := findHostPort(c.Ports, 8080)
			require.NotZero(t, hostPort, "Inspect after start shows the bound host port: %+v", c.Ports)

			cs, err := s.rt.List(ctx, ctrgate.ListFilter{NamePrefix: name})
			require.NoError(t, err)
			if assert.Len(t, cs, 1) {
				assert.Equal(t, hostPort, findHostPort(cs[0].Ports, 8080), "List shows the same host port: %+v", cs[0].Ports)
			}

			addr := net.JoinHostPort("127.0.0.1", itoa(hostPort))
			var conn net.Conn
			// Port forwarders may need a moment after the program listens.
			require.Eventually(t, func() bool {
				d := net.Dialer{Timeout: 2 * time.Second}
				cn, err := d.DialContext(ctx, "tcp", addr)
				if err != nil {
					return false
				}
				_ = cn.SetDeadline(time.Now().Add(3 * time.Second))
				line, err := bufio.NewReader(cn).ReadString('\n')
				if err != nil || line != "hello from ctrgate\n" {
					cn.Close()
					return false
				}
				conn = cn
				return true
			}, 20*time.Second, 200*time.Millisecond, "dialing %s and reading the greeting", addr)
			defer conn.Close()
			_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
			_, err = fmt.Fprintf(conn, "ping %s\n", name)
			require.NoError(t, err)
			line, err := bufio.NewReader(conn).ReadString('\n')
			require.NoError(t, err)
			assert.Equal(t, "ping "+name+"\n", line, "the program echoes the line")

			// Once the container has exited, no binding is reported.
			require.NoError(t, s.rt.Stop(ctx, name, 0))
			c, err = s.rt.Inspect(ctx, name)
			require.NoError(t, err)
			assert.Empty(t, c.Ports, "Inspect of an exited container reports no stale port bindings")
			cs, err = s.rt.List(ctx, ctrgate.ListFilter{NamePrefix: name, All: true})
			require.NoError(t, err)
			if assert.Len(t, cs, 1) {
				assert.Empty(t, cs[0].Ports, "List of an exited container reports no stale port bindings")
			}
		}},
	}}
}

func findHostPort(ps []ctrgate.PortMapping, containerPort int) int {
	for _, p := range ps {
		if p.ContainerPort == containerPort && (p.Protocol == "" || p.Protocol == "tcp") && p.HostPort > 0 {
			return p.HostPort
		}
	}
	return 0
}

func stopGroup() group {
	return group{name: "Stop", tests: []suiteTest{
		{name: "KillsAfterTimeout", parallel: true, fn: func(t *testing.T, s *suite) {
			ctx := s.ctx(t)
			name := s.name(t, "stop-kill")
			s.run(t, ctx, s.spec(name, "ignore-term"))
			s.waitReady(t, ctx, name, "ignoring SIGTERM")
			began := time.Now()
			require.NoError(t, s.rt.Stop(ctx, name, time.Second))
			took := time.Since(began)
			assert.GreaterOrEqual(t, took, 900*time.Millisecond, "Stop waits the timeout before SIGKILL")
			within(t, took, 10*time.Second, "Stop with a 1s timeout")
			st, err := ctrgate.StateOf(ctx, s.rt, name)
			require.NoError(t, err)
			assert.False(t, st.Running(), "Stop returns only after the container has exited")
			assert.Equal(t, 137, st.ExitCode)
			assert.Equal(t, 137, s.wait(t, ctx, name))
		}},
		{name: "GracefulTerm", parallel: true, fn: func(t *testing.T, s *suite) {
			ctx := s.ctx(t)
			name := s.name(t, "stop-term")
			s.run(t, ctx, s.spec(name, sleeper()...))
			s.waitReady(t, ctx, name, "ready")
			began := time.Now()
			require.NoError(t, s.rt.Stop(ctx, name, 10*time.Second))
			within(t, time.Since(began), 8*time.Second, "Stop of a program that exits on SIGTERM")
			st, err := ctrgate.StateOf(ctx, s.rt, name)
			require.NoError(t, err)
			assert.Equal(t, ctrgate.StateExited, st.Status)
			assert.Equal(t, 143, st.ExitCode, "128+SIGTERM")
		}},
		{name: "SpecStopTimeout", parallel: true, fn: func(t *testing.T, s *suite) {
			ctx := s.ctx(t)
			name := s.name(t, "stop-spec")
			spec := s.spec(name, "ignore-term")
			spec.StopTimeout = time.Second
			s.run(t, ctx, spec)
			s.waitReady(t, ctx, name, "ignoring SIGTERM")
			began := time.Now()
			require.NoError(t, s.rt.Stop(ctx, name, -1), "a negative timeout means the spec's StopTimeout")
			took := time.Since(began)
			assert.GreaterOrEqual(t, took, 900*time.Millisecond)
			within(t, took, 8*time.Second, "Stop with the spec's 1s StopTimeout (the default would be 10s)")
			assert.Equal(t, 137, s.wait(t, ctx, name))
		}},
		{name: "ZeroTimeoutKills", parallel: true, fn: func(t *testing.T, s *suite) {
			ctx := s.ctx(t)
			name := s.name(t, "stop-zero")
			s.run(t, ctx, s.spec(name, "ignore-term"))
			s.waitReady(t, ctx, name, "ignoring SIGTERM")
			began := time.Now()
			require.NoError(t, s.rt.Stop(ctx, name, 0))
			within(t, time.Since(began), 5*time.Second, "Stop with timeout 0")
			assert.Equal(t, 137, s.wait(t, ctx, name))
		}},
		{name: "StopSignal", parallel: true, fn: func(t *testing.T, s *suite) {
			ctx := s.ctx(t)
			name := s.name(t, "stop-signal")
			spec := s.spec(name, "ignore-term") // ignores TERM, not HUP
			spec.StopSignal = "SIGHUP"
			s.run(t, ctx, spec)
			s.waitReady(t, ctx, name, "ignoring SIGTERM")
			began := time.Now()
			require.NoError(t, s.rt.Stop(ctx, name, 10*time.Second))
			within(t, time.Since(began), 8*time.Second, "Stop with StopSignal SIGHUP")
			assert.Equal(t, 129, s.wait(t, ctx, name), "the spec's StopSignal was sent")
		}},
		{name: "CreatedIsNoop", parallel: true, fn: func(t *testing.T, s *suite) {
			// Stop of a created, never-started container is a no-op: it stays
			// created, and a pending Wait keeps waiting for a start.
			ctx := s.ctx(t)
			name := s.name(t, "stop-created")
			s.create(t, ctx, s.spec(name, "sleep", "200ms", ";", "exit", "5"))
			ch := make(chan int, 1)
			go func() {
				code, err := s.rt.Wait(ctx, name)
				if err != nil {
					code = -1
				}
				ch <- code
			}()
			time.Sleep(300 * time.Millisecond)
			require.NoError(t, s.rt.Stop(ctx, name, time.Second))
			st, err := ctrgate.StateOf(ctx, s.rt, name)
			require.NoError(t, err)
			assert.Equal(t, ctrgate.StateCreated, st.Status, "Stop leaves a created container created")
			select {
			case code := <-ch:
				t.Fatalf("Stop of a created container ended a pending Wait (code %d)", code)
			case <-time.After(700 * time.Millisecond):
			}
			require.NoError(t, s.rt.Start(ctx, name))
			select {
			case code := <-ch:
				assert.Equal(t, 5, code, "the pending Wait reports the exit after the start")
			case <-ctx.Done():
				t.Fatal("Wait did not return after the start")
			}
		}},
	}}
}

func idempotenceGroup() group {
	return group{name: "Idempotence", tests: []suiteTest{
		{name: "StartTwice", parallel: true, fn: func(t *testing.T, s *suite) {
			ctx := s.ctx(t)
			name := s.name(t, "idem-start")
			s.run(t, ctx, s.spec(name, sleeper()...))
			s.waitReady(t, ctx, name, "ready")
			c1, err := s.rt.Inspect(ctx, name)
			require.NoError(t, err)
			require.NoError(t, s.rt.Start(ctx, name), "starting a running container is a no-op")
			time.Sleep(300 * time.Millisecond) // a restarted program would print "ready" again at once
			c2, err := s.rt.Inspect(ctx, name)
			require.NoError(t, err)
			assert.Equal(t, ctrgate.StateRunning, c2.State.Status)
			if c1.State.Pid != 0 {
				assert.Equal(t, c1.State.Pid, c2.State.Pid, "the process was not restarted")
			}
			assert.Equal(t, []string{"ready"}, texts(s.logs(t, ctx, name, ctrgate.LogOptions{}), ctrgate.Stdout),
				"the program ran once")
		}},
		{name: "StopTwice", parallel: true, fn: func(t *testing.T, s *suite) {
			ctx := s.ctx(t)
			name := s.name(t, "idem-stop")
			s.run(t, ctx, s.spec(name, sleeper()...))
			s.waitReady(t, ctx, name, "ready")
			require.NoError(t, s.rt.Stop(ctx, name, 10*time.Second))
			began := time.Now()
			require.NoError(t, s.rt.Stop(ctx, name, 10*time.Second), "stopping an exited container is a no-op")
			within(t, time.Since(began), 5*time.Second, "Stop of an exited container")
			st, err := ctrgate.StateOf(ctx, s.rt, name)
			require.NoError(t, err)
			assert.Equal(t, 143, st.ExitCode, "the second Stop did not change the exit code")

			created := s.name(t, "idem-stop-c")
			s.create(t, ctx, s.spec(created, "exit", "0"))
			require.NoError(t, s.rt.Stop(ctx, created, time.Second), "stopping a created container is a no-op")
			st, err = ctrgate.StateOf(ctx, s.rt, created)
			require.NoError(t, err)
			assert.False(t, st.Running())
		}},
		{name: "RemoveAllGone", parallel: true, fn: func(t *testing.T, s *suite) {
			ctx := s.ctx(t)
			existing := s.name(t, "idem-rm-1")
			s.create(t, ctx, s.spec(existing, "exit", "0"))
			running := s.name(t, "idem-rm-2")
			s.run(t, ctx, s.spec(running, sleeper()...))
			ns := []string{s.prefix + "idem-gone-1", existing, s.prefix + "idem-gone-2", running}
			res := ctrgate.RemoveAll(ctx, s.rt, ns)
			require.Len(t, res, len(ns))
			for i, r := range res {
				assert.Equal(t, ns[i], r.Name)
				assert.NoError(t, r.Err, "RemoveAll(%s)", r.Name)
			}
			assert.NoError(t, ctrgate.FirstError(res))
			s.requireGone(t, ctx, existing)
			s.requireGone(t, ctx, running)
			assert.NoError(t, ctrgate.FirstError(ctrgate.RemoveAll(ctx, s.rt, ns)), "again, all gone")
		}},
	}}
}

func concurrencyGroup() group {
	return group{name: "Concurrency", tests: []suiteTest{
		{name: "CreateSameName", parallel: true, fn: func(t *testing.T, s *suite) {
			ctx := s.ctx(t)
			name := s.name(t, "conc-same")
			const n = 8
			var (
				wg    sync.WaitGroup
				start = make(chan struct{})
				errs  = make([]error, n)
				ids   = make([]string, n)
			)
			for i := range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					ids[i], errs[i] = s.rt.Create(ctx, s.spec(name, "exit", itoa(i)))
				}()
			}
			close(start)
			wg.Wait()
			var winners []string
			for i, err := range errs {
				if err == nil {
					winners = append(winners, ids[i])
					continue
				}
				assert.ErrorIs(t, err, ctrgate.ErrAlreadyExists, "create #%d", i)
			}
			require.Len(t, winners, 1, "exactly one concurrent create of a name succeeds")
			c, err := s.rt.Inspect(ctx, name)
			require.NoError(t, err)
			assert.Equal(t, winners[0], c.ID)
			cs, err := s.rt.List(ctx, ctrgate.ListFilter{NamePrefix: name, All: true})
			require.NoError(t, err)
			assert.Len(t, cs, 1)
		}},
		{name: "ParallelRuns", parallel: true, fn: func(t *testing.T, s *suite) {
			ctx := s.ctx(t)
			const n = 4
			var wg sync.WaitGroup
			codes := make([]int, n)
			errs := make([]error, n)
			for i := range n {
				name := s.name(t, "conc-run-"+itoa(i))
				wg.Add(1)
				go func() {
					defer wg.Done()
					codes[i], errs[i] = runCode(ctx, s.rt, s.spec(name, "sleep", "200ms", ";", "exit", itoa(10+i)))
				}()
			}
			wg.Wait()
			for i := range n {
				if assert.NoError(t, errs[i], "run #%d", i) {
					assert.Equal(t, 10+i, codes[i], "run #%d", i)
				}
			}
		}},
	}}
}

// runCode runs spec to its end and returns the exit code (no testing.T:
// safe in goroutines).
func runCode(ctx context.Context, rt ctrgate.ContainerRuntime, spec ctrgate.ContainerSpec) (int, error) {
	if _, err := ctrgate.Run(ctx, rt, spec); err != nil {
		return 0, err
	}
	return rt.Wait(ctx, spec.Name)
}
