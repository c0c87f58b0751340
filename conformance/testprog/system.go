// Package testprog is the program inside the conformance test image.
//
// The same code runs in two places: compiled as a static binary
// (cmd/testprog) and packed as the root file system of an image imported into
// a real engine, and in-process inside the fake backend. System is what the
// program sees of its surroundings; the binary implements it with package
// os, the fake with its in-memory container.
package testprog

import (
	"io"
	"io/fs"
	"net"
	"os"
)

// System is the program's view of its process and container.
type System interface {
	Args() []string    // argv; Args()[0] is the executable path
	Environ() []string // KEY=VALUE entries
	Getwd() (string, error)
	Hostname() (string, error)
	Getuid() int
	Getgid() int
	Stdin() io.Reader
	Stdout() io.Writer
	Stderr() io.Writer
	// Signals delivers catchable signals sent to the process (SIGTERM,
	// SIGINT, SIGHUP, SIGUSR1, ...). SIGKILL is never delivered: the process
	// is ended and Done is closed.
	Signals() <-chan os.Signal
	// Listen listens on the container's network, e.g. ("tcp", ":8080").
	Listen(network, address string) (net.Listener, error)
	ReadFile(name string) ([]byte, error)
	WriteFile(name string, data []byte, perm fs.FileMode) error
	// Done is closed when the process is killed from outside; the program
	// must then return promptly (its return value is ignored).
	Done() <-chan struct{}
}
