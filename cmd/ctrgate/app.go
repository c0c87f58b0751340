package main

import (
	"context"
	"errors"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"golang.org/x/term"

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

// Set implements pflag.Value.
func (b backendFlag) Set(s string) error {
	b.g.backend, b.g.backendSet = s, true
	return nil
}

// Type implements pflag.Value.
func (b backendFlag) Type() string { return "name" }

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
	// cfg is the configuration the runtime was opened with (for info).
	cfg backend.Config
	rt  ctrgate.ContainerRuntime
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

// command is one subcommand: the single source of the tool's commands, from
// which cobra builds the help, the usage lines, shell completion and the
// CLI reference (docs/cli.md).
type command struct {
	name    string
	args    string // synopsis of the positional arguments
	summary string
	setup   func(a *app, fs *pflag.FlagSet) runFunc // nil for a group of subcommands
	sub     []command
	aliases []string
}

func commands() []command {
	return []command{
		{name: "info", summary: "describe the engine: backend, versions, rootless, network mode, GPU/CDI state", setup: (*app).cmdInfo},
		{name: "run", args: "IMAGE [COMMAND [ARG...]]", summary: "create and start a container (detached unless -a)", setup: (*app).cmdRun},
		{name: "ps", summary: "list containers (running ones unless -a)", setup: (*app).cmdPs},
		{name: "inspect", args: "NAME", summary: "show one container's description", setup: (*app).cmdInspect},
		{name: "logs", args: "NAME", summary: "print a container's output", setup: (*app).cmdLogs},
		{name: "wait", args: "NAME...", summary: "wait for containers to exit; exits with the (last) exit code", setup: (*app).cmdWait},
		{name: "exec", args: "NAME COMMAND [ARG...]", summary: "run a command in a running container; exits with its exit code", setup: (*app).cmdExec},
		{name: "stop", args: "NAME...", summary: "stop containers (SIGTERM, then SIGKILL after -t)", setup: (*app).cmdStop},
		{name: "kill", args: "NAME...", summary: "send a signal to containers", setup: (*app).cmdKill},
		{name: "rm", args: "NAME...", summary: "remove containers", setup: (*app).cmdRm},
		{name: "events", summary: "stream container lifecycle events (create, start, die, remove) until interrupted or --timeout", setup: (*app).cmdEvents},
		{name: "images", args: "[REF-PREFIX]", summary: "list images in local storage (-q: IDs only; -l k=v: by label)", setup: (*app).cmdImages},
		{name: "image", summary: "manage images: ls, exists, rm, import-testimage", sub: []command{
			{name: "ls", args: "[REF-PREFIX]", summary: "list images (same as 'ctrgate images')", setup: (*app).cmdImages, aliases: []string{"list"}},
			{name: "exists", args: "REF", summary: "is REF in local storage? exit 0 yes, 1 no", setup: (*app).cmdImageExists},
			{name: "rm", args: "REF", summary: "remove an image", setup: (*app).cmdImageRm},
			{name: "import-testimage", summary: "(re)import the built-in testimage into the engine", setup: (*app).cmdImageImportTestImage},
		}},
		{name: "pull", args: "REF", summary: "pull an image", setup: (*app).cmdPull},
		{name: "import", args: "FILE|- REF", summary: "create an image from a root file system tar", setup: (*app).cmdImport},
		{name: "version", summary: "print the version of this tool", setup: (*app).cmdVersion},
	}
}

// version is the tool's version; set with -ldflags "-X main.version=...".
var version = "dev"

func (a *app) globalFlags(fs *pflag.FlagSet) {
	fs.Var(backendFlag{&a.g}, "backend", "engine backend: auto, podman-cli, podman-api, docker, fake (default: $CTRGATE_BACKEND, the config file, else auto)")
	fs.StringVar(&a.g.config, "config", a.g.config, "backend config file (default: the backend package's default location)")
	fs.BoolVar(&a.g.json, "json", a.g.json, "print JSON for scripts instead of tables")
	fs.Var(&a.g.timeout, "timeout", "limit for the whole command, e.g. 30s (default: none; each engine call has its own default)")
}

const rootLong = `A command-line client over ctrgate.ContainerRuntime: the same commands on Podman, Docker and the in-memory fake.

Global flags are accepted before or after the command name. Exit status: the container's for 'run -a' and 'wait', the command's for 'exec', 125 for errors, 0 otherwise.`

// rootCommand builds the command tree; the chosen command's code and
// error land in *code and *runErr.
func (a *app) rootCommand(ctx context.Context, code *int, runErr *error) *cobra.Command {
	root := &cobra.Command{
		Use:           "ctrgate",
		Short:         "one interface for every container engine",
		Long:          rootLong,
		SilenceErrors: true,
		SilenceUsage:  true,
		// With no command: the usage on stderr and an error.
		RunE: func(c *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usagef("", "unknown command %q", args[0])
			}
			c.SetOut(a.stderr)
			_ = c.Usage()
			return usagef("", "no command given")
		},
		Args: cobra.ArbitraryArgs,
	}
	root.SetContext(ctx)
	root.SetIn(a.stdin)
	root.SetOut(a.stdout)
	root.SetErr(a.stderr)
	root.Flags().SetInterspersed(false)
	a.globalFlags(root.PersistentFlags())
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		name := strings.TrimPrefix(c.CommandPath(), "ctrgate")
		name = strings.TrimSpace(name)
		if name == "" {
			return usagef("", "%v", err)
		}
		return usagef(name, "%s: %v", name, err)
	})
	for _, c := range commands() {
		root.AddCommand(a.cobraCommand(c, "", code, runErr))
	}
	return root
}

// cobraCommand turns one command (and its subcommands) into cobra's form.
func (a *app) cobraCommand(c command, parent string, code *int, runErr *error) *cobra.Command {
	path := strings.TrimSpace(parent + " " + c.name)
	cc := &cobra.Command{
		Use:     strings.TrimSpace(c.name + " [flags] " + c.args),
		Short:   c.summary,
		Aliases: c.aliases,
		Args:    cobra.ArbitraryArgs,
	}
	// Flags stop at the first argument: `run IMAGE sh -c ...` passes -c on.
	cc.Flags().SetInterspersed(false)
	if c.setup == nil {
		cc.Use = c.name + " COMMAND"
		cc.RunE = func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usagef(path, "%s: want a subcommand (see 'ctrgate %s -h')", path, path)
			}
			return usagef(path, "%s: unknown subcommand %q", path, args[0])
		}
		for _, s := range c.sub {
			cc.AddCommand(a.cobraCommand(s, path, code, runErr))
		}
		return cc
	}
	run := c.setup(a, cc.Flags())
	cc.RunE = func(cmd *cobra.Command, args []string) error {
		*code, *runErr = a.runCommand(cmd.Context(), path, run, args)
		return nil
	}
	return cc
}

// runCommand applies --timeout and runs the command.
func (a *app) runCommand(ctx context.Context, name string, run runFunc, args []string) (int, error) {
	if a.g.timeout.d < 0 {
		return 0, usagef(name, "--timeout must not be negative")
	}
	if a.g.timeout.set && a.g.timeout.d > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, a.g.timeout.d)
		defer cancel()
	}
	return run(ctx, args)
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
	var runErr error
	root := a.rootCommand(ctx, &code, &runErr)
	root.SetArgs(args)
	if err := root.ExecuteContext(ctx); err != nil {
		var ue *usageError
		if !errors.As(err, &ue) {
			// cobra's own words: an unknown command or flag.
			err = usagef("", "%v", err)
		}
		return a.report(err)
	}
	if runErr != nil {
		_ = a.stdout.Flush()
		return a.report(runErr)
	}
	return code
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

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// needArgs checks the number of positional arguments.
func needArgs(cmd string, args []string, min, max int, what string) error {
	if len(args) < min || (max >= 0 && len(args) > max) {
		return usagef(cmd, "%s: want %s", cmd, what)
	}
	return nil
}
