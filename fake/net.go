package fake

import (
	"io"
	"net"
	"os"
	"sync"
	"time"
)

// pipeMax bounds the bytes buffered in one direction of a pipeConn.
const pipeMax = 1 << 20

// pipeBuf is one direction of an in-memory connection.
type pipeBuf struct {
	mu      sync.Mutex
	data    []byte
	wclosed bool // the writer is done: EOF once drained
	rclosed bool // the reader is gone: writes fail
	changed chan struct{}
}

func newPipeBuf() *pipeBuf { return &pipeBuf{changed: make(chan struct{})} }

// signalLocked wakes everyone waiting on b.
func (b *pipeBuf) signalLocked() {
	close(b.changed)
	b.changed = make(chan struct{})
}

// deadline is a resettable deadline, as in net.Pipe.
type deadline struct {
	mu     sync.Mutex
	timer  *time.Timer
	cancel chan struct{} // closed when the deadline passes
}

func newDeadline() *deadline { return &deadline{cancel: make(chan struct{})} }

func (d *deadline) set(t time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.timer != nil && !d.timer.Stop() {
		<-d.cancel // the timer func is closing cancel; wait for it
	}
	d.timer = nil
	closed := isClosed(d.cancel)
	if t.IsZero() {
		if closed {
			d.cancel = make(chan struct{})
		}
		return
	}
	if dur := time.Until(t); dur > 0 {
		if closed {
			d.cancel = make(chan struct{})
		}
		cancel := d.cancel
		d.timer = time.AfterFunc(dur, func() { close(cancel) })
		return
	}
	if !closed {
		close(d.cancel)
	}
}

func (d *deadline) wait() chan struct{} {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.cancel
}

func isClosed(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// pipeConn is one end of an in-memory, buffered, full-duplex connection
// with half-close (CloseWrite) and deadlines. The fake hands one end to the
// program's listener and proxies the other to a real TCP connection.
type pipeConn struct {
	rb, wb        *pipeBuf
	rdl, wdl      *deadline
	local, remote net.Addr
	closeOnce     sync.Once
	closed        chan struct{}
}

// newPipe returns the two ends of a connection.
func newPipe(aAddr, bAddr net.Addr) (*pipeConn, *pipeConn) {
	ab, ba := newPipeBuf(), newPipeBuf()
	a := &pipeConn{rb: ba, wb: ab, rdl: newDeadline(), wdl: newDeadline(), local: aAddr, remote: bAddr, closed: make(chan struct{})}
	b := &pipeConn{rb: ab, wb: ba, rdl: newDeadline(), wdl: newDeadline(), local: bAddr, remote: aAddr, closed: make(chan struct{})}
	return a, b
}

func (c *pipeConn) opErr(op string, err error) error {
	return &net.OpError{Op: op, Net: "tcp", Source: c.local, Addr: c.remote, Err: err}
}

func (c *pipeConn) Read(p []byte) (int, error) {
	for {
		if isClosed(c.closed) {
			return 0, c.opErr("read", net.ErrClosed)
		}
		dl := c.rdl.wait()
		if isClosed(dl) {
			return 0, c.opErr("read", os.ErrDeadlineExceeded)
		}
		b := c.rb
		b.mu.Lock()
		if len(b.data) > 0 {
			n := copy(p, b.data)
			b.data = b.data[n:]
			if len(b.data) == 0 {
				b.data = nil
			}
			b.signalLocked()
			b.mu.Unlock()
			return n, nil
		}
		if b.wclosed {
			b.mu.Unlock()
			return 0, io.EOF
		}
		ch := b.changed
		b.mu.Unlock()
		select {
		case <-ch:
		case <-c.closed:
		case <-dl:
		}
	}
}

func (c *pipeConn) Write(p []byte) (int, error) {
	written := 0
	for {
		if isClosed(c.closed) {
			return written, c.opErr("write", net.ErrClosed)
		}
		dl := c.wdl.wait()
		if isClosed(dl) {
			return written, c.opErr("write", os.ErrDeadlineExceeded)
		}
		b := c.wb
		b.mu.Lock()
		if b.wclosed || b.rclosed {
			b.mu.Unlock()
			return written, c.opErr("write", io.ErrClosedPipe)
		}
		if room := pipeMax - len(b.data); room > 0 {
			n := min(room, len(p)-written)
			b.data = append(b.data, p[written:written+n]...)
			written += n
			b.signalLocked()
			if written == len(p) {
				b.mu.Unlock()
				return written, nil
			}
		}
		ch := b.changed
		b.mu.Unlock()
		select {
		case <-ch:
		case <-c.closed:
		case <-dl:
		}
	}
}

// CloseWrite half-closes the connection: the peer reads io.EOF after the
// buffered data.
func (c *pipeConn) CloseWrite() error {
	c.wb.mu.Lock()
	defer c.wb.mu.Unlock()
	if !c.wb.wclosed {
		c.wb.wclosed = true
		c.wb.signalLocked()
	}
	return nil
}

// Close closes both directions.
func (c *pipeConn) Close() error {
	c.closeOnce.Do(func() {
		close(c.closed)
		_ = c.CloseWrite()
		c.rb.mu.Lock()
		c.rb.rclosed = true
		c.rb.data = nil
		c.rb.signalLocked()
		c.rb.mu.Unlock()
	})
	return nil
}

// peerClosed reports whether the other end was closed entirely.
func (c *pipeConn) peerClosed() bool {
	c.wb.mu.Lock()
	defer c.wb.mu.Unlock()
	return c.wb.rclosed
}

func (c *pipeConn) LocalAddr() net.Addr  { return c.local }
func (c *pipeConn) RemoteAddr() net.Addr { return c.remote }
func (c *pipeConn) SetDeadline(t time.Time) error {
	c.rdl.set(t)
	c.wdl.set(t)
	return nil
}
func (c *pipeConn) SetReadDeadline(t time.Time) error  { c.rdl.set(t); return nil }
func (c *pipeConn) SetWriteDeadline(t time.Time) error { c.wdl.set(t); return nil }

// memListener is a listener a program opened with Process.Listen; the
// fake's port proxy delivers connections to it.
type memListener struct {
	addr    *net.TCPAddr
	conns   chan net.Conn
	closed  chan struct{}
	once    sync.Once
	onClose func()
}

func newMemListener(port int, onClose func()) *memListener {
	return &memListener{
		addr:    &net.TCPAddr{IP: net.IPv6unspecified, Port: port},
		conns:   make(chan net.Conn, 64),
		closed:  make(chan struct{}),
		onClose: onClose,
	}
}

// Accept waits for the next connection.
func (l *memListener) Accept() (net.Conn, error) {
	select {
	case <-l.closed:
		return nil, &net.OpError{Op: "accept", Net: "tcp", Addr: l.addr, Err: net.ErrClosed}
	default:
	}
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.closed:
		return nil, &net.OpError{Op: "accept", Net: "tcp", Addr: l.addr, Err: net.ErrClosed}
	}
}

// deliver queues a connection; false when the listener is closed or its
// backlog is full.
func (l *memListener) deliver(c net.Conn) bool {
	select {
	case <-l.closed:
		return false
	default:
	}
	select {
	case l.conns <- c:
		return true
	default:
		return false
	}
}

// shut closes the listener; connections still queued are closed.
func (l *memListener) shut() {
	l.once.Do(func() {
		close(l.closed)
		for {
			select {
			case c := <-l.conns:
				c.Close()
			default:
				return
			}
		}
	})
}

// Close stops the listener; connections still queued are closed.
func (l *memListener) Close() error {
	l.shut()
	if l.onClose != nil {
		l.onClose()
	}
	return nil
}

// Addr is the listening address, e.g. [::]:8080.
func (l *memListener) Addr() net.Addr { return l.addr }

// proxyConn copies between a host TCP connection and the program's end of
// an in-memory connection until both directions are done, then closes both.
func proxyConn(tc net.Conn, pc *pipeConn) {
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		_, _ = io.Copy(pc, tc)
		_ = pc.CloseWrite()
	}()
	_, _ = io.Copy(tc, pc)
	if cw, ok := tc.(interface{ CloseWrite() error }); ok && !pc.peerClosed() {
		_ = cw.CloseWrite()
	} else {
		tc.Close() // the program closed the connection: so does the client's end
	}
	wg.Wait()
	tc.Close()
	pc.Close()
}
