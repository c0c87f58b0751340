package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/ctrgate/ctrgate"
	"github.com/ctrgate/ctrgate/backend"
)

// globals are the flags every command accepts, before or after its name.
type globals struct {
	backend    string
	backendSet bool
	config     string
	json       bool
	timeout    durationFlag
}

// backendFlag records whether --backend was given.
type backendFlag struct{ g *globals }

func (b backendFlag) String() string {
	if b.g == nil {
		return ""
	}
	return b.g.backend
}

// Set implements flag.Value.
func (b backendFlag) Set(s string) error {
	b.g.backend, b.g.backendSet = s, true
	return nil
}

// opener opens the runtime a command works on.
type opener func(ctx context.Context, a *app) (ctrgate.ContainerRuntime, error)

// app is one invocation of the tool.
type app struct {
	stdin     io.Reader
	stdout    *redactWriter
	stderr    *redactWriter
	rawStderr io.Writer // for the terminal progress display only
	getenv    func(string) string
	sec       *secretSet
	now       func() time.Time
	isTTY     func(io.Writer) bool

	g      globals
	parent context.Context
	open   opener
	// openBackend opens a configured backend (backend.Open; tests replace it).
	openBackend func(ctx context.Context, cfg backend.Config) (ctrgate.ContainerRuntime, error)
	rt          ctrgate.ContainerRuntime
}

func newApp(stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) *app {
	if getenv == nil {
		getenv = func(string) string { return "" }
	}
	if stdin == nil {
		stdin = strings.NewReader("")
	}
	sec := &secretSet{}
	return &app{
		stdin: stdin, stdout: newRedactWriter(stdout, sec), stderr: newRedactWriter(stderr, sec),
		rawStderr: stderr, getenv: getenv, sec: sec, now: time.Now, isTTY: isTerminal,
		open: openDefault, openBackend: backend.Open,
	}
}

// run is the whole tool: it parses args (without the program name), runs
// the command and returns the exit code. main calls it with the process's
// streams; tests call it in-process.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) int {
	return newApp(stdin, stdout, stderr, getenv).main(ctx, args)
}

// runFunc executes a command after its flags are parsed. code is used when
// err is nil.
type runFunc func(ctx context.Context, args []string) (code int, err error)

// command is one subcommand.
type command struct {
	name    string
	args    string // synopsis of the positional arguments
	summary string
	setup   func(a *app, fs *flag.FlagSet) runFunc
}

func commands() []command {
	return []command{
		{"info", "", "describe the engine: backend, versions, rootless, network mode, GPU/CDI state", (*app).cmdInfo},
		{"run", "IMAGE [COMMAND [ARG...]]", "create and start a container (detached unless -a)", (*app).cmdRun},
		{"ps", "", "list containers (running ones unless -a)", (*app).cmdPs},
		{"inspect", "NAME", "show one container's description", (*app).cmdInspect},
		{"logs", "NAME", "print a container's output", (*app).cmdLogs},
		{"wait", "NAME...", "wait for containers to exit; exits with the (last) exit code", (*app).cmdWait},
		{"exec", "NAME COMMAND [ARG...]", "run a command in a running container; exits with its exit code", (*app).cmdExec},
		{"stop", "NAME...", "stop containers (SIGTERM, then SIGKILL after -t)", (*app).cmdStop},
		{"kill", "NAME...", "send a signal to containers", (*app).cmdKill},
		{"rm", "NAME...", "remove containers", (*app).cmdRm},
		{"events", "", "stream container lifecycle events (create, start, die, remove) until interrupted or --timeout", (*app).cmdEvents},
		{"images", "[REF-PREFIX]", "list images in local storage (-q: IDs only; -l k=v: by label)", (*app).cmdImages},
		{"image", "exists|rm REF | import-testimage", "image exists REF: is it in local storage (exit 0 yes, 1 no); image rm REF; image import-testimage: (re)import the built-in testimage", (*app).cmdImage},
		{"pull", "REF", "pull an image", (*app).cmdPull},
		{"import", "FILE|- REF", "create an image from a root file system tar", (*app).cmdImport},
		{"version", "", "print the version of this tool", (*app).cmdVersion},
	}
}

// version is the tool's version; set with -ldflags "-X main.version=...".
var version = "dev"

func (a *app) globalFlags(fs *flag.FlagSet) {
	fs.Var(backendFlag{&a.g}, "backend", "engine backend: auto, podman-cli, podman-api, docker, fake (default: $CTRGATE_BACKEND, the config file, else auto)")
	fs.StringVar(&a.g.config, "config", a.g.config, "backend config file (default: the backend package's default location)")
	fs.BoolVar(&a.g.json, "json", a.g.json, "print JSON for scripts instead of tables")
	fs.Var(&a.g.timeout, "timeout", "limit for the whole command, e.g. 30s (default: none; each engine call has its own default)")
}

func (a *app) usage(w io.Writer) {
	fmt.Fprintf(w, "Usage: ctrgate [global flags] COMMAND [flags] [ARGS]\n\n")
	fmt.Fprintf(w, "A command-line client over ctrgate.ContainerRuntime: the same commands on Podman, Docker and the in-memory fake.\n\nCommands:\n")
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, c := range commands() {
		fmt.Fprintf(tw, "  %s\t%s\n", c.name, c.summary)
	}
	tw.Flush()
	fmt.Fprintf(w, "\nGlobal flags (accepted before or after the command):\n")
	fs := flag.NewFlagSet("ctrgate", flag.ContinueOnError)
	fs.SetOutput(w)
	var g globals
	(&app{g: g}).globalFlags(fs)
	fs.PrintDefaults()
	fmt.Fprintf(w, "\nExit status: the container's for 'run -a' and 'wait', the command's for 'exec', 125 for errors, 0 otherwise.\n")
}

func (a *app) main(ctx context.Context, args []string) (code int) {
	a.parent = ctx
	defer func() {
		if a.rt != nil {
			_ = a.rt.Close()
		}
		_ = a.stdout.Flush()
		_ = a.stderr.Flush()
	}()
	top := flag.NewFlagSet("ctrgate", flag.ContinueOnError)
	top.SetOutput(io.Discard)
	a.globalFlags(top)
	if err := top.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			a.usage(a.stdout)
			return exitOK
		}
		return a.report(usagef("", "%v", err))
	}
	rest := top.Args()
	if len(rest) == 0 {
		a.usage(a.stderr)
		return a.report(usagef("", "no command given"))
	}
	if rest[0] == "help" {
		if len(rest) > 1 {
			rest = []string{rest[1], "-h"}
		} else {
			a.usage(a.stdout)
			return exitOK
		}
	}
	var cmd *command
	for _, c := range commands() {
		if c.name == rest[0] {
			c := c
			cmd = &c
		}
	}
	if cmd == nil {
		return a.report(usagef("", "unknown command %q", rest[0]))
	}
	fs := flag.NewFlagSet("ctrgate "+cmd.name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	runCmd := cmd.setup(a, fs)
	a.globalFlags(fs)
	if err := fs.Parse(rest[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			a.commandUsage(cmd, fs)
			return exitOK
		}
		return a.report(usagef(cmd.name, "%s: %v", cmd.name, err))
	}
	if a.g.timeout.d < 0 {
		return a.report(usagef(cmd.name, "--timeout must not be negative"))
	}
	if a.g.timeout.set && a.g.timeout.d > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, a.g.timeout.d)
		defer cancel()
	}
	code, err := runCmd(ctx, fs.Args())
	if err != nil {
		_ = a.stdout.Flush()
		return a.report(err)
	}
	return code
}

func (a *app) commandUsage(cmd *command, fs *flag.FlagSet) {
	w := a.stdout
	fmt.Fprintf(w, "Usage: %s\n\n%s\n\nFlags:\n", strings.TrimSpace("ctrgate "+cmd.name+" [flags] "+cmd.args), cmd.summary)
	fs.SetOutput(w)
	fs.PrintDefaults()
	fs.SetOutput(io.Discard)
}

// interrupted reports whether the caller's context (SIGINT/SIGTERM in
// main) was cancelled.
func (a *app) interrupted() bool {
	return a.parent != nil && a.parent.Err() != nil
}

// runtime opens the runtime once per invocation.
func (a *app) runtime(ctx context.Context) (ctrgate.ContainerRuntime, error) {
	if a.rt != nil {
		return a.rt, nil
	}
	rt, err := a.open(ctx, a)
	if err != nil {
		return nil, err
	}
	a.rt = rt
	return rt, nil
}

// isTerminal reports whether w is a character device (a terminal).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// needArgs checks the number of positional arguments.
func needArgs(cmd string, args []string, min, max int, what string) error {
	if len(args) < min || (max >= 0 && len(args) > max) {
		return usagef(cmd, "%s: want %s", cmd, what)
	}
	return nil
}
