package main

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/ctrgate/ctrgate"
)

// Exit codes. A command that reports a container's (or exec'd command's)
// exit status exits with it; everything else follows podman and docker.
const (
	exitOK          = 0
	exitToolError   = 125 // error of ctrgate itself or of the engine
	exitInterrupted = 130 // interrupted by SIGINT/SIGTERM
)

// hinted is an error carrying its own hint line.
type hinted struct {
	err  error
	hint string
}

func (h *hinted) Error() string { return h.err.Error() }
func (h *hinted) Unwrap() error { return h.err }

func withHint(err error, hint string) error { return &hinted{err: err, hint: hint} }

// report prints err as ONE line "ctrgate: <message>" on stderr, followed
// by "hint: <advice>" when there is advice, and returns the exit code.
func (a *app) report(err error) int {
	msg, hint := a.describe(err)
	fmt.Fprintf(a.stderr, "ctrgate: %s\n", msg)
	if hint != "" {
		fmt.Fprintf(a.stderr, "hint: %s\n", hint)
	}
	if errors.Is(err, context.Canceled) && a.interrupted() {
		return exitInterrupted
	}
	return exitToolError
}

// oneLine folds a multi-line message into one line.
func oneLine(s string) string {
	s = strings.TrimSpace(s)
	lines := strings.FieldsFunc(s, func(r rune) bool { return r == '\n' || r == '\r' })
	for i := range lines {
		lines[i] = strings.TrimSpace(lines[i])
	}
	return strings.Join(lines, "; ")
}

// describe returns the redacted one-line message and the hint for err.
func (a *app) describe(err error) (msg, hint string) {
	msg = err.Error()
	var h *hinted
	var gpu *ctrgate.GPUConfigError
	var spec *ctrgate.SpecError
	var ue *usageError
	var exited *ctrgate.ExitedError
	switch {
	case errors.As(err, &h):
		hint = h.hint
	case errors.As(err, &gpu):
		hint = gpu.Hint
		if hint != "" {
			msg = strings.Replace(msg, " (hint: "+gpu.Hint+")", "", 1)
		}
	case errors.As(err, &ue):
		if ue.cmd != "" {
			hint = fmt.Sprintf("see 'ctrgate %s -h'", ue.cmd)
		} else {
			hint = "see 'ctrgate -h'"
		}
	case errors.Is(err, ctrgate.ErrEngineUnavailable):
		hint = "start the container engine (podman: 'systemctl --user start podman.socket' or scripts/podman.sh up; " +
			"docker: start dockerd or scripts/docker.sh up), or choose another engine with --backend / CTRGATE_BACKEND"
	case errors.As(err, &exited):
		hint = fmt.Sprintf("see its output with 'ctrgate logs %s'", exited.Name)
	case errors.As(err, &spec):
		hint = "fix the " + spec.Field + " value; see 'ctrgate <command> -h'"
	case errors.Is(err, ctrgate.ErrRegistryUnavailable):
		hint = "no registry answered: check the reference's registry host and port, that the registry runs and that the engine " +
			"reaches it (a plain-HTTP registry must be configured as insecure), or import the image with 'ctrgate import FILE REF'"
	case errors.Is(err, ctrgate.ErrImageNotFound):
		hint = "pull it with 'ctrgate pull REF' or import a root file system with 'ctrgate import FILE REF'"
	case errors.Is(err, ctrgate.ErrAlreadyExists):
		hint = "choose another --name, or remove the old container with 'ctrgate rm -f NAME'"
	case errors.Is(err, ctrgate.ErrRunning):
		hint = "stop it first ('ctrgate stop NAME') or force it with -f"
	case errors.Is(err, ctrgate.ErrNotFound):
		hint = "list containers with 'ctrgate ps -a'"
		if a.isFake(a.rt) {
			hint += "; the in-memory fake forgets its containers when ctrgate exits"
		}
	case errors.Is(err, ctrgate.ErrNotRunning):
		hint = "start it again or see its output with 'ctrgate logs NAME'"
	case errors.Is(err, ctrgate.ErrUnsupported):
		hint = "this backend cannot do it; try another engine with --backend"
	case errors.Is(err, context.DeadlineExceeded):
		hint = "the operation timed out; raise --timeout"
	case errors.Is(err, context.Canceled) && a.interrupted():
		msg = "interrupted"
	}
	return a.sec.text(oneLine(msg)), a.sec.text(hint)
}
