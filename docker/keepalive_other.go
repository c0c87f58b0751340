//go:build !linux

package docker

import (
	"syscall"
	"time"
)

// tcpUserTimeout is Linux's only; elsewhere the keepalive probes alone
// find a dead connection.
func tcpUserTimeout(time.Duration) func(_, _ string, c syscall.RawConn) error { return nil }
