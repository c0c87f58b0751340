package freeport_test

import (
	"context"
	"net"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/ctrgate/ctrgate/freeport"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func listen(port int) (net.Listener, error) {
	return net.Listen("tcp4", net.JoinHostPort(freeport.Host, strconv.Itoa(port)))
}

func TestReserveHoldsPortUntilClose(t *testing.T) {
	r, err := freeport.Reserve(context.Background())
	require.NoError(t, err)
	port := r.Port()
	require.Greater(t, port, 0)
	require.LessOrEqual(t, port, 65535)
	assert.Equal(t, net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), r.Addr())

	// While reserved, nobody else can bind the port.
	_, err = listen(port)
	require.Error(t, err, "port %d must be held by the reservation", port)

	// The reservation really listens: a client can connect.
	c, err := net.Dial("tcp4", r.Addr())
	require.NoError(t, err)
	require.NoError(t, c.Close())

	require.NoError(t, r.Close())
	assert.Equal(t, port, r.Port(), "Port stays valid after Close")
	require.NoError(t, r.Close(), "Close is idempotent")

	// After Close the port can be bound.
	ln, err := listen(port)
	require.NoError(t, err)
	require.NoError(t, ln.Close())
}

func TestReserveDistinctPorts(t *testing.T) {
	seen := map[int]bool{}
	var rs []*freeport.Reservation
	t.Cleanup(func() {
		for _, r := range rs {
			_ = r.Close()
		}
	})
	for i := 0; i < 20; i++ {
		r, err := freeport.Reserve(context.Background())
		require.NoError(t, err)
		rs = append(rs, r)
		require.False(t, seen[r.Port()], "port %d reserved twice while held", r.Port())
		seen[r.Port()] = true
	}
}

func TestReserveCancelledContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	r, err := freeport.Reserve(ctx)
	require.ErrorIs(t, err, context.Canceled)
	assert.Nil(t, r)
}

func TestReserveNilContext(t *testing.T) {
	var ctx context.Context // nil: documented to mean context.Background()
	r, err := freeport.Reserve(ctx)
	require.NoError(t, err)
	require.NoError(t, r.Close())
}

func TestFindReturnsBindablePort(t *testing.T) {
	port, err := freeport.Find()
	require.NoError(t, err)
	require.Greater(t, port, 0)
	ln, err := listen(port)
	require.NoError(t, err, "Find's port should normally be bindable right away")
	require.NoError(t, ln.Close())
}
