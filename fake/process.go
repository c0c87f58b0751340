package fake

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/ctrgate/ctrgate"
)

// Program is the code of an executable in the fake: it runs as a
// container's main process or as an exec'd command, and returns its exit
// code. It must return promptly once p.Done() is closed.
type Program func(p *Process) int

// run is one run of a container's main process.
type run struct {
	c             *container
	proc          *Process
	ended         chan struct{} // closed when the run ends; Process.Done of the main process
	listeners     map[int]*memListener
	hostListeners []net.Listener
	closers       map[interface{ Close() error }]struct{} // live proxied connections
	stdout        *logWriter
	stderr        *logWriter
}

func (ru *run) isEnded() bool { return isClosed(ru.ended) }

// Process is a program's view of its process and container. It implements
// the conformance/testprog System interface. Its methods are safe for
// concurrent use.
type Process struct {
	r       *engine
	c       *container
	ru      *run
	args    []string
	env     []string
	wd      string
	uid     int
	gid     int
	stdin   io.Reader
	stdout  io.Writer
	stderr  io.Writer
	signals chan os.Signal
	done    chan struct{}
}

// Args returns argv; Args()[0] is the executable as given.
func (p *Process) Args() []string { return append([]string(nil), p.args...) }

// Environ returns the environment as KEY=VALUE entries: PATH, the image's
// ENV, the spec's Env, HOSTNAME (and, for Exec, the exec's Env).
func (p *Process) Environ() []string { return append([]string(nil), p.env...) }

// Getenv returns the value of key ("" when unset).
func (p *Process) Getenv(key string) string {
	for _, e := range p.env {
		if k, v, ok := strings.Cut(e, "="); ok && k == key {
			return v
		}
	}
	return ""
}

// Getwd returns the working directory.
func (p *Process) Getwd() (string, error) { return p.wd, nil }

// Hostname returns the container's host name (spec.Hostname or the first
// 12 digits of its ID).
func (p *Process) Hostname() (string, error) { return p.c.hostname(), nil }

// Getuid returns the uid from spec.User (or ExecOptions.User); 0 by default.
func (p *Process) Getuid() int { return p.uid }

// Getgid returns the gid from spec.User (or ExecOptions.User, or the
// user's passwd entry); 0 by default.
func (p *Process) Getgid() int { return p.gid }

// Stdin is the standard input: empty for the main process, ExecOptions.Stdin
// for an exec.
func (p *Process) Stdin() io.Reader { return p.stdin }

// Stdout is the standard output: the container log for the main process,
// the exec result for an exec.
func (p *Process) Stdout() io.Writer { return p.stdout }

// Stderr is the standard error, like Stdout.
func (p *Process) Stderr() io.Writer { return p.stderr }

// Signals delivers the catchable signals sent with Kill and Stop (main
// process only; an exec never receives any). Up to 16 undelivered signals
// are kept; more are dropped.
func (p *Process) Signals() <-chan os.Signal { return p.signals }

// Done is closed when the process is ended from outside (SIGKILL, Stop
// timeout, forced Remove, ExitContainer, Close, the end of the container's
// main process for an exec, a cancelled Exec context). The program must then
// return promptly; its return value is ignored.
func (p *Process) Done() <-chan struct{} { return p.done }

// ID returns the container's ID.
func (p *Process) ID() string { return p.c.id }

func (p *Process) deliver(sig syscall.Signal) {
	select {
	case p.signals <- sig:
	default:
	}
}

// ReadFile reads a file of the container (relative names are taken from
// the working directory).
func (p *Process) ReadFile(name string) ([]byte, error) {
	return p.c.view.ReadFile(cleanAbs(p.wd, name))
}

// WriteFile writes a file of the container, creating it with perm; the
// parent directory must exist. Read-only mounts and a read-only root fail
// with EROFS.
func (p *Process) WriteFile(name string, data []byte, perm fs.FileMode) error {
	return p.c.view.WriteFile(cleanAbs(p.wd, name), data, perm)
}

// Listen opens an in-memory listener on the container's network. network
// must be "tcp", "tcp4" or "tcp6"; address is "[host]:port" (port 0 picks
// one). Connections to the published host port of that container port
// arrive here. The listener is closed when the container stops.
func (p *Process) Listen(network, address string) (net.Listener, error) {
	opErr := func(err error) error {
		return &net.OpError{Op: "listen", Net: network, Err: err}
	}
	switch network {
	case "tcp", "tcp4", "tcp6":
	default:
		return nil, opErr(fmt.Errorf("network %q is not supported by the fake", network))
	}
	_, portStr, err := net.SplitHostPort(address)
	if err != nil {
		return nil, opErr(err)
	}
	port := 0
	if portStr != "" {
		if port, err = strconv.Atoi(portStr); err != nil || port < 0 || port > 65535 {
			return nil, opErr(fmt.Errorf("invalid port %q", portStr))
		}
	}
	r := p.r
	r.mu.Lock()
	defer r.mu.Unlock()
	ru := p.ru
	if ru == nil || ru.isEnded() || isClosed(p.done) {
		return nil, opErr(errors.New("the container is not running"))
	}
	if port == 0 {
		for port = 32768; ru.listeners[port] != nil; port++ {
		}
	}
	if ru.listeners[port] != nil {
		return nil, opErr(&os.SyscallError{Syscall: "bind", Err: syscall.EADDRINUSE})
	}
	var l *memListener
	l = newMemListener(port, func() {
		r.mu.Lock()
		defer r.mu.Unlock()
		if ru.listeners[port] == l {
			delete(ru.listeners, port)
		}
	})
	ru.listeners[port] = l
	return l, nil
}

// closeLocked closes the listener when its run ends (the caller holds the
// runtime lock, so the map is left to the caller).
func (l *memListener) closeLocked() { l.shut() }

// emptyReader is the main process's stdin.
type emptyReader struct{}

func (emptyReader) Read([]byte) (int, error) { return 0, io.EOF }

// runProgram runs prog, turning a panic into exit code 2 with the panic
// on stderr, as the Go runtime does.
func runProgram(prog Program, p *Process) (code int) {
	defer func() {
		if v := recover(); v != nil {
			fmt.Fprintf(p.stderr, "panic: %v\n\n%s", v, debug.Stack())
			code = 2
		}
	}()
	return prog(p)
}

// logWriter is a main process's stdout or stderr: it stores lines in the
// container log.
//
// Like conmon's k8s-file log, text without a newline is stored at once as a
// partial record (LogLine.Partial), and the rest of its line, when the
// newline comes, as the record that ends it; plain reads join them.
type logWriter struct {
	r      *engine
	ru     *run
	stream ctrgate.Stream
	open   bool // a partial record of the current line is stored
}

func (w *logWriter) Write(b []byte) (int, error) {
	w.r.mu.Lock()
	defer w.r.mu.Unlock()
	if w.ru.isEnded() {
		return 0, &fs.PathError{Op: "write", Path: "/dev/std" + strings.TrimPrefix(w.stream.String(), "std"), Err: syscall.EPIPE}
	}
	c := w.ru.c
	n := len(b)
	now := time.Now()
	added := false
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			c.logs = append(c.logs, ctrgate.LogLine{Stream: w.stream, Text: string(b), Time: now, Partial: true})
			w.open, added = true, true
			break
		}
		line := b[:i]
		b = b[i+1:]
		c.logs = append(c.logs, ctrgate.LogLine{Stream: w.stream, Text: string(bytes.TrimSuffix(line, []byte("\r"))), Time: now})
		w.open, added = false, true
	}
	if added {
		c.notifyLocked()
	}
	return n, nil
}

// flushLocked ends the output: a final line without a newline is already
// stored as a partial record, which the end of the log ends.
func (w *logWriter) flushLocked() {
	w.open = false
}
