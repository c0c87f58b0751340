package docker

import (
	"net"
	"time"
)

// tcpKeepAliveDialer is the dialer of a tcp:// engine: TCP keepalive
// probes after 5 s of silence, every 5 s, 2 unanswered end the connection
// (about 15 s), and data unacknowledged for 15 s ends it too (Linux's
// TCP_USER_TIMEOUT; tcpUserTimeout). A cut link then fails the calls and streams on the
// connection (ErrEngineUnavailable) instead of leaving them hanging;
// Go's defaults (15 s, 15 s, the kernel's 9 probes) took about 2.5 min.
func tcpKeepAliveDialer() *net.Dialer {
	return &net.Dialer{
		Timeout:         30 * time.Second,
		KeepAliveConfig: net.KeepAliveConfig{Enable: true, Idle: 5 * time.Second, Interval: 5 * time.Second, Count: 2},
		Control:         tcpUserTimeout(15 * time.Second),
	}
}
