package testprog

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Greeting is the line serve-tcp writes to every new connection.
const Greeting = "hello from ctrgate"

// ListeningPrefix starts the line serve-tcp prints on stdout once it
// listens, followed by the listener's address, e.g. "listening on [::]:8080".
const ListeningPrefix = "listening on "

// IgnoringTermLine is the line ignore-term prints on stdout once SIGTERM is
// being ignored.
const IgnoringTermLine = "ignoring SIGTERM"

// Separator is the argument that separates chained commands.
const Separator = ";"

// Usage describes the program's command language.
const Usage = `usage: testprog CMD [ARGS...] [; CMD [ARGS...]]...
commands (run in order; a failing command ends the chain with its code):
  echo ARGS...        print ARGS joined by spaces on stdout
  echo-err ARGS...    print ARGS joined by spaces on stderr
  sleep DURATION      sleep (Go duration or seconds)
  exit N              exit with code N at once
  env                 print the environment, one entry per line
  getenv KEY          print the value of KEY, first entry wins as in libc (exit 1 when unset)
  pwd                 print the working directory
  id                  print "uid:gid"
  hostname            print the host name
  marker TEXT DELAY   sleep DELAY, then print TEXT
  ignore-term         print "ignoring SIGTERM", then run until killed
  serve-tcp PORT      listen on :PORT, greet every connection and echo lines
  long-line N         print one line of N 'x' bytes
  bulk N              print N numbered lines "line 1" ... "line N"
  cat PATH            print the contents of PATH
  write PATH CONTENT  write CONTENT to PATH
  stdin               copy stdin to stdout
  no-newline TEXT     print TEXT without a final newline
  ticks N INTERVAL    N times: sleep INTERVAL, print "tick <Unix time in ns>"
SIGTERM, SIGINT and SIGHUP end the program with exit code 128+signo.`

// errExit ends the command chain with a code.
type errExit struct{ code int }

func (e errExit) Error() string { return "exit " + strconv.Itoa(e.code) }

// prog is one run of the program.
type prog struct {
	sys        System
	ignoreTerm bool
}

// Main runs the program: the commands in sys.Args()[1:], separated by ";"
// arguments. It returns the exit code: that of an "exit" command, of the
// first failing command, 128+signo after SIGTERM, SIGINT or SIGHUP, or 0.
// It returns promptly once sys.Done() is closed.
func Main(sys System) int {
	p := &prog{sys: sys}
	args := sys.Args()
	if len(args) > 0 {
		args = args[1:]
	}
	cmds := split(args)
	if len(cmds) == 0 {
		fmt.Fprintln(sys.Stderr(), Usage)
		return 2
	}
	for _, c := range cmds {
		if err := p.pollSignal(); err != nil {
			return p.code(err)
		}
		if err := p.run(c); err != nil {
			return p.code(err)
		}
	}
	return 0
}

// split cuts args at every Separator; empty commands are dropped.
func split(args []string) [][]string {
	var out [][]string
	var cur []string
	for _, a := range args {
		if a == Separator {
			if len(cur) > 0 {
				out = append(out, cur)
			}
			cur = nil
			continue
		}
		cur = append(cur, a)
	}
	if len(cur) > 0 {
		out = append(out, cur)
	}
	return out
}

func (p *prog) code(err error) int {
	var e errExit
	if errors.As(err, &e) {
		return e.code
	}
	fmt.Fprintln(p.sys.Stderr(), "testprog:", err)
	return 1
}

// signalCode returns the exit code a signal ends the program with, or
// ok=false when the signal is to be ignored.
func (p *prog) signalCode(sig os.Signal) (int, bool) {
	s, ok := sig.(syscall.Signal)
	if !ok {
		return 0, false
	}
	switch s {
	case syscall.SIGTERM:
		if p.ignoreTerm {
			return 0, false
		}
	case syscall.SIGINT, syscall.SIGHUP:
	default:
		return 0, false
	}
	return 128 + int(s), true
}

// pollSignal handles signals already delivered, without blocking.
func (p *prog) pollSignal() error {
	for {
		select {
		case <-p.sys.Done():
			return errExit{137}
		case sig := <-p.sys.Signals():
			if code, ok := p.signalCode(sig); ok {
				return errExit{code}
			}
		default:
			return nil
		}
	}
}

// wait blocks until d passes (d < 0: forever), a terminating signal
// arrives or the process is killed.
func (p *prog) wait(d time.Duration) error {
	var timeout <-chan time.Time
	if d >= 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		timeout = t.C
	}
	for {
		select {
		case <-timeout:
			return nil
		case <-p.sys.Done():
			return errExit{137}
		case sig := <-p.sys.Signals():
			if code, ok := p.signalCode(sig); ok {
				return errExit{code}
			}
		}
	}
}

func parseDuration(s string) (time.Duration, error) {
	if d, err := time.ParseDuration(s); err == nil {
		return d, nil
	}
	n, err := strconv.ParseFloat(s, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("bad duration %q", s)
	}
	return time.Duration(n * float64(time.Second)), nil
}

func parseCount(s string) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("bad count %q", s)
	}
	return n, nil
}

func nargs(c []string, n int) error {
	if len(c)-1 != n {
		return fmt.Errorf("%s: want %d argument(s), got %d", c[0], n, len(c)-1)
	}
	return nil
}

func (p *prog) out(s string) error {
	_, err := io.WriteString(p.sys.Stdout(), s)
	return err
}

// run executes one command.
func (p *prog) run(c []string) error {
	sys := p.sys
	switch c[0] {
	case "echo":
		return p.out(strings.Join(c[1:], " ") + "\n")
	case "echo-err":
		_, err := io.WriteString(sys.Stderr(), strings.Join(c[1:], " ")+"\n")
		return err
	case "sleep":
		if err := nargs(c, 1); err != nil {
			return err
		}
		d, err := parseDuration(c[1])
		if err != nil {
			return err
		}
		return p.wait(d)
	case "exit":
		if err := nargs(c, 1); err != nil {
			return err
		}
		n, err := strconv.Atoi(c[1])
		if err != nil {
			return fmt.Errorf("bad exit code %q", c[1])
		}
		return errExit{n}
	case "env":
		var b strings.Builder
		for _, e := range sys.Environ() {
			b.WriteString(e)
			b.WriteByte('\n')
		}
		return p.out(b.String())
	case "getenv":
		if err := nargs(c, 1); err != nil {
			return err
		}
		for _, e := range sys.Environ() {
			if k, v, ok := strings.Cut(e, "="); ok && k == c[1] {
				return p.out(v + "\n")
			}
		}
		return fmt.Errorf("getenv: %s is not set", c[1])
	case "pwd":
		wd, err := sys.Getwd()
		if err != nil {
			return err
		}
		return p.out(wd + "\n")
	case "id":
		return p.out(fmt.Sprintf("%d:%d\n", sys.Getuid(), sys.Getgid()))
	case "hostname":
		h, err := sys.Hostname()
		if err != nil {
			return err
		}
		return p.out(h + "\n")
	case "marker":
		if err := nargs(c, 2); err != nil {
			return err
		}
		d, err := parseDuration(c[2])
		if err != nil {
			return err
		}
		if err := p.wait(d); err != nil {
			return err
		}
		return p.out(c[1] + "\n")
	case "ignore-term":
		p.ignoreTerm = true
		if err := p.out(IgnoringTermLine + "\n"); err != nil {
			return err
		}
		return p.wait(-1)
	case "heartbeat":
		// heartbeat PATH: ignore SIGTERM, then write the time to PATH every
		// 100 ms until killed (a test sees whether the process still runs).
		if err := nargs(c, 1); err != nil {
			return err
		}
		p.ignoreTerm = true
		if err := p.out(IgnoringTermLine + "\n"); err != nil {
			return err
		}
		for {
			if err := p.sys.WriteFile(c[1], []byte(strconv.FormatInt(time.Now().UnixNano(), 10)), 0o644); err != nil {
				return err
			}
			if err := p.wait(100 * time.Millisecond); err != nil {
				return err
			}
		}
	case "dial-tcp":
		if err := nargs(c, 1); err != nil {
			return err
		}
		return p.dialTCP(c[1])
	case "serve-tcp":
		if err := nargs(c, 1); err != nil {
			return err
		}
		return p.serveTCP(c[1])
	case "long-line":
		if err := nargs(c, 1); err != nil {
			return err
		}
		n, err := parseCount(c[1])
		if err != nil {
			return err
		}
		line := make([]byte, n+1)
		for i := range n {
			line[i] = 'x'
		}
		line[n] = '\n'
		_, err = sys.Stdout().Write(line)
		return err
	case "bulk":
		if err := nargs(c, 1); err != nil {
			return err
		}
		n, err := parseCount(c[1])
		if err != nil {
			return err
		}
		w := bufio.NewWriterSize(sys.Stdout(), 64<<10)
		for i := 1; i <= n; i++ {
			fmt.Fprintf(w, "line %d\n", i)
		}
		return w.Flush()
	case "cat":
		if err := nargs(c, 1); err != nil {
			return err
		}
		data, err := sys.ReadFile(c[1])
		if err != nil {
			return err
		}
		_, err = sys.Stdout().Write(data)
		return err
	case "write":
		if err := nargs(c, 2); err != nil {
			return err
		}
		return sys.WriteFile(c[1], []byte(c[2]), 0o644)
	case "stdin":
		return p.copyStdin()
	case "no-newline":
		if err := nargs(c, 1); err != nil {
			return err
		}
		return p.out(c[1])
	case "ticks":
		if err := nargs(c, 2); err != nil {
			return err
		}
		n, err := parseCount(c[1])
		if err != nil {
			return err
		}
		d, err := parseDuration(c[2])
		if err != nil {
			return err
		}
		for range n {
			if err := p.wait(d); err != nil {
				return err
			}
			if err := p.out("tick " + strconv.FormatInt(time.Now().UnixNano(), 10) + "\n"); err != nil {
				return err
			}
		}
		return nil
	}
	return fmt.Errorf("unknown command %q\n%s", c[0], Usage)
}

// copyStdin copies stdin to stdout until EOF, a terminating signal or
// Done. The copying goroutine ends when the reader returns.
func (p *prog) copyStdin() error {
	done := make(chan error, 1)
	go func() {
		_, err := io.Copy(p.sys.Stdout(), p.sys.Stdin())
		done <- err
	}()
	for {
		select {
		case err := <-done:
			return err
		case <-p.sys.Done():
			return errExit{137}
		case sig := <-p.sys.Signals():
			if code, ok := p.signalCode(sig); ok {
				return errExit{code}
			}
		}
	}
}

// serveTCP listens on :port, writes Greeting to every connection and echoes
// its lines back, until a terminating signal or Done. Every connection and
// goroutine is closed and ended before it returns.
// Dialer is implemented by a System that can open outgoing connections
// (the real process); dial-tcp needs it.
type Dialer interface {
	Dial(network, address string) (net.Conn, error)
}

// dialTCP connects to addr (HOST:PORT), prints the first line the server
// sends and exits; it fails when the connection cannot be made within 5 s.
func (p *prog) dialTCP(addr string) error {
	d, ok := p.sys.(Dialer)
	if !ok {
		return fmt.Errorf("dial-tcp: this system cannot dial")
	}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return fmt.Errorf("dial-tcp %s: reading: %w", addr, err)
	}
	return p.out(line)
}

func (p *prog) serveTCP(port string) error {
	ln, err := p.sys.Listen("tcp", ":"+port)
	if err != nil {
		return err
	}
	var (
		mu    sync.Mutex
		conns = map[net.Conn]bool{}
		wg    sync.WaitGroup
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			if conns == nil { // shutting down
				mu.Unlock()
				c.Close()
				return
			}
			conns[c] = true
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() {
					mu.Lock()
					if conns != nil {
						delete(conns, c)
					}
					mu.Unlock()
					c.Close()
				}()
				if _, err := io.WriteString(c, Greeting+"\n"); err != nil {
					return
				}
				r := bufio.NewReader(c)
				for {
					line, err := r.ReadString('\n')
					if len(line) > 0 {
						if _, werr := io.WriteString(c, line); werr != nil {
							return
						}
					}
					if err != nil {
						return
					}
				}
			}()
		}
	}()
	err = p.out(ListeningPrefix + ln.Addr().String() + "\n")
	if err == nil {
		err = p.wait(-1)
	}
	ln.Close()
	mu.Lock()
	for c := range conns {
		c.Close()
	}
	conns = nil
	mu.Unlock()
	wg.Wait()
	return err
}
