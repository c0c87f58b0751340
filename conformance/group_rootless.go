package conformance

import (
	"bufio"
	"github.com/ctrgate/ctrgate"
	"github.com/ctrgate/ctrgate/rootless"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"net"
	"strconv"
	"testing"
	"time"
)

// rootlessGroup holds the checks only a real engine answers: Info against
// the engine's own report, and the rootless package's host-loopback
// network arguments on a rootless Podman.
func rootlessGroup() group {
	return group{name: "Rootless", tests: []suiteTest{
		{name: "InfoMatchesEngine", parallel: true, fn: func(t *testing.T, s *suite) {
			if s.h.Engine.Report == nil {
				s.notApplicable(t, "the harness has no report of the engine's own (Harness.Engine.Report)")
				return
			}
			ctx := s.ctx(t)
			info, err := s.rt.Info(ctx)
			require.NoError(t, err)
			want, err := s.h.Engine.Report(ctx)
			require.NoError(t, err, "the engine's own report")
			t.Logf("engine says (%s): rootless=%v network=%q cgroup=%q; Info: rootless=%v network=%q cgroup=%q",
				want.Source, want.Rootless, want.RootlessNetworkMode, want.CgroupVersion,
				info.Rootless, info.RootlessNetworkMode, info.CgroupVersion)
			assert.Equal(t, want.Rootless, info.Rootless, "Info.Rootless")
			assert.Equal(t, want.CgroupVersion, info.CgroupVersion, "Info.CgroupVersion")
			// a rootful Podman 5 reports its rootless default (pasta) too;
			// EngineInfo carries the mode only for a rootless engine, and ""
			// where the engine does not say (Podman 4.3)
			wantMode := ""
			if want.Rootless {
				wantMode = want.RootlessNetworkMode
			}
			assert.Equal(t, wantMode, info.RootlessNetworkMode, "Info.RootlessNetworkMode")
		}},
		{name: "HostLoopback", parallel: true, fn: func(t *testing.T, s *suite) {
			ctx := s.ctx(t)
			info, err := s.rt.Info(ctx)
			require.NoError(t, err)
			if !info.Rootless || info.Engine != "podman" {
				s.notApplicable(t, "host loopback arguments are for rootless podman; this engine is "+info.Engine+
					map[bool]string{true: " (rootless)", false: " (rootful)"}[info.Rootless])
				return
			}
			// "The host" is the network namespace the engine runs in; the
			// lanes run this test process there (scripts/lanes.sh).
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			require.NoError(t, err)
			t.Cleanup(func() { ln.Close() })
			token := "host-loopback-" + randHex(4)
			go func() {
				for {
					c, err := ln.Accept()
					if err != nil {
						return
					}
					_ = c.SetDeadline(time.Now().Add(10 * time.Second))
					_, _ = c.Write([]byte(token + "\n"))
					_, _ = bufio.NewReader(c).ReadString('\n') // until the client closes
					c.Close()
				}
			}()
			port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)

			mode := rootless.NetworkMode(info)
			if info.RootlessNetworkMode == "pasta" {
				assert.Equal(t, ctrgate.NetworkPasta, mode, "the engine reports pasta: the helpers must pick it")
			}
			name := s.name(t, "rootless-loopback")
			spec := s.spec(name, "dial-tcp", net.JoinHostPort(rootless.HostAlias, port))
			rootless.ApplyHostLoopbackFor(&spec, info)
			code, out := s.stdout(t, ctx, spec)
			assert.Equal(t, 0, code, "a container with %v reaches 127.0.0.1:%s of the engine's host", spec.Network, port)
			assert.Equal(t, []string{token}, out)
			t.Logf("network %s %v: the container read %v from 127.0.0.1:%s", spec.Network.Mode, spec.Network.Options, out, port)

			// Negative control: the same address without the arguments is
			// not the host's loopback.
			name2 := s.name(t, "rootless-noloopback")
			spec2 := s.spec(name2, "dial-tcp", net.JoinHostPort(rootless.HostIP(mode), port))
			spec2.Network = ctrgate.NetworkSpec{Mode: mode}
			code, out = s.stdout(t, ctx, spec2)
			assert.NotEqual(t, 0, code, "without the host-loopback option %s:%s must not reach the host's loopback (got %v)", rootless.HostIP(mode), port, out)
			assert.NotContains(t, out, token)
		}},
	}}
}
