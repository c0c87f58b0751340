package testprog

import (
	"io"
	"io/fs"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"
)

// osSystem is System backed by package os: the real process.
type osSystem struct {
	sigs chan os.Signal
	done chan struct{} // never closed: SIGKILL ends the process
}

// OS returns the System of the real process, backed by package os, for a
// binary that runs the test program (cmd/testprog, or ctrgate invoked as
// "testprog"). It starts relaying the catchable signals the program reacts
// to (SIGTERM, SIGINT, SIGHUP, SIGUSR1, SIGUSR2, SIGQUIT) to Signals, since
// PID 1 in a container gets no default signal actions; call it once per
// process, right before Main:
//
//	os.Exit(testprog.Main(testprog.OS()))
func OS() System {
	s := &osSystem{sigs: make(chan os.Signal, 16), done: make(chan struct{})}
	signal.Notify(s.sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP,
		syscall.SIGUSR1, syscall.SIGUSR2, syscall.SIGQUIT)
	return s
}

func (s *osSystem) Args() []string                    { return os.Args }
func (s *osSystem) Environ() []string                 { return os.Environ() }
func (s *osSystem) Getwd() (string, error)            { return os.Getwd() }
func (s *osSystem) Hostname() (string, error)         { return os.Hostname() }
func (s *osSystem) Getuid() int                       { return os.Getuid() }
func (s *osSystem) Getgid() int                       { return os.Getgid() }
func (s *osSystem) Stdin() io.Reader                  { return os.Stdin }
func (s *osSystem) Stdout() io.Writer                 { return os.Stdout }
func (s *osSystem) Stderr() io.Writer                 { return os.Stderr }
func (s *osSystem) Signals() <-chan os.Signal         { return s.sigs }
func (s *osSystem) ReadFile(n string) ([]byte, error) { return os.ReadFile(n) }
func (s *osSystem) Done() <-chan struct{}             { return s.done }

func (s *osSystem) Listen(network, address string) (net.Listener, error) {
	return net.Listen(network, address)
}

func (s *osSystem) Dial(network, address string) (net.Conn, error) {
	return net.DialTimeout(network, address, 5*time.Second)
}

func (s *osSystem) WriteFile(name string, data []byte, perm fs.FileMode) error {
	return os.WriteFile(name, data, perm)
}
