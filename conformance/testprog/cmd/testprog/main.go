// Command testprog is the static binary packed into the conformance test
// image (see conformance.TestImageTar). It runs testprog.Main with the real
// process as its System.
package main

import (
	"io"
	"io/fs"
	"net"
	"os"
	"os/signal"
	"syscall"

	"github.com/ctrgate/ctrgate/conformance/testprog"
)

// osSystem is testprog.System backed by package os.
type osSystem struct {
	sigs chan os.Signal
	done chan struct{} // never closed: SIGKILL ends the process
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

func (s *osSystem) WriteFile(name string, data []byte, perm fs.FileMode) error {
	return os.WriteFile(name, data, perm)
}

func main() {
	sys := &osSystem{sigs: make(chan os.Signal, 16), done: make(chan struct{})}
	// PID 1 in a container gets no default signal actions, so every
	// catchable signal the program reacts to is handled explicitly.
	signal.Notify(sys.sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP,
		syscall.SIGUSR1, syscall.SIGUSR2, syscall.SIGQUIT)
	os.Exit(testprog.Main(sys))
}
