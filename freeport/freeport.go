// Package freeport finds free TCP ports on the loopback interface for
// publishing container ports.
//
// There is no race-free way to hand a port number to another process (a
// container engine binding a published port): between the moment the port is
// found free and the moment the engine binds it, anything else may take it.
// Reserve narrows that window by keeping a listening socket open on the port
// until the caller is about to bind it; Find closes its socket at once and is
// racy by nature. Callers that can let the engine choose (HostPort 0) should
// do that instead and read the bound port back from Inspect.
package freeport

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
)

// Host is the address ports are reserved on.
const Host = "127.0.0.1"

// Reservation holds a free TCP port by keeping a listening socket on it.
// Close releases the port; call it right before the port is bound by the
// engine. A Reservation is safe for concurrent use.
type Reservation struct {
	port int
	mu   sync.Mutex
	ln   net.Listener
}

// Reserve opens a listening TCP socket on 127.0.0.1 with a port chosen by
// the kernel and keeps it open until Close. ctx bounds the call (a nil ctx
// is treated as context.Background()).
func Reserve(ctx context.Context) (*Reservation, error) {
	if ctx == nil {
		ctx = context.Background()
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("freeport: reserve: %w", err)
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp4", net.JoinHostPort(Host, "0"))
	if err != nil {
		return nil, fmt.Errorf("freeport: reserve: %w", err)
	}
	addr, ok := ln.Addr().(*net.TCPAddr)
	if !ok || addr.Port == 0 {
		_ = ln.Close()
		return nil, fmt.Errorf("freeport: reserve: unexpected listener address %v", ln.Addr())
	}
	return &Reservation{port: addr.Port, ln: ln}, nil
}

// Port returns the reserved port number. It stays valid after Close.
func (r *Reservation) Port() int { return r.port }

// Addr returns "127.0.0.1:<port>".
func (r *Reservation) Addr() string {
	return net.JoinHostPort(Host, fmt.Sprint(r.port))
}

// Close releases the port. It is idempotent; calls after the first return
// nil.
func (r *Reservation) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ln == nil {
		return nil
	}
	err := r.ln.Close()
	r.ln = nil
	if errors.Is(err, net.ErrClosed) {
		err = nil
	}
	return err
}

// Find returns a TCP port on 127.0.0.1 that was free a moment ago: it
// opens a listening socket on port 0, reads the chosen port and closes the
// socket at once. It is racy by nature — another process may take the port
// before the caller binds it; prefer Reserve, or let the engine choose.
func Find() (int, error) {
	r, err := Reserve(context.Background())
	if err != nil {
		return 0, err
	}
	port := r.Port()
	if err := r.Close(); err != nil {
		return 0, fmt.Errorf("freeport: find: %w", err)
	}
	return port, nil
}
