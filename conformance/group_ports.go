package conformance

import (
	"bufio"
	"fmt"
	"github.com/ctrgate/ctrgate"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"net"
	"testing"
	"time"
)

func portsGroup() group {
	return group{name: "Ports", tests: []suiteTest{
		{name: "PublishedPortReachable", parallel: true, fn: func(t *testing.T, s *suite) {
			if !s.need(t, CapPorts) {
				return
			}
			ctx := s.ctx(t)
			name := s.name(t, "ports-tcp")
			spec := s.spec(name, "serve-tcp", "8080")
			spec.Ports = []ctrgate.PortMapping{{HostIP: s.h.Engine.portAddr(), HostPort: 0, ContainerPort: 8080, Protocol: "tcp"}}
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

			addr := net.JoinHostPort(s.h.Engine.portAddr(), itoa(hostPort))
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
