package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/pflag"

	"github.com/ctrgate/ctrgate"
)

func (a *app) cmdPs(fs *pflag.FlagSet) runFunc {
	prefix := fs.String("prefix", "", "only containers whose names start with this (literal) prefix")
	var labels listFlag
	fs.VarP(&labels, "label", "l", "only containers with label k=v (k alone: any value); repeatable")
	all := fs.BoolP("all", "a", false, "include containers that are not running")
	quiet := fs.BoolP("quiet", "q", false, "print names only")
	return func(ctx context.Context, args []string) (int, error) {
		if err := needArgs("ps", args, 0, 0, "no arguments"); err != nil {
			return 0, err
		}
		if err := ctrgate.ValidatePrefix(*prefix); err != nil {
			return 0, err
		}
		lm, err := parseKV("ps", "label", labels)
		if err != nil {
			return 0, err
		}
		rt, err := a.runtime(ctx)
		if err != nil {
			return 0, err
		}
		cs, err := rt.List(ctx, ctrgate.ListFilter{NamePrefix: *prefix, Labels: lm, All: *all})
		if err != nil {
			return 0, err
		}
		sort.SliceStable(cs, func(i, j int) bool {
			if !cs[i].Created.Equal(cs[j].Created) {
				return cs[i].Created.After(cs[j].Created)
			}
			return cs[i].Name < cs[j].Name
		})
		if a.g.json {
			out := make([]jsonContainer, 0, len(cs))
			for _, c := range cs {
				out = append(out, toJSONContainer(c, a.sec))
			}
			return exitOK, writeJSON(a.stdout, out)
		}
		if *quiet {
			for _, c := range cs {
				fmt.Fprintln(a.stdout, c.Name)
			}
			return exitOK, nil
		}
		tw := tabwriter.NewWriter(a.stdout, 0, 4, 3, ' ', 0)
		fmt.Fprintln(tw, "NAME\tCONTAINER ID\tIMAGE\tSTATUS\tCREATED\tPORTS")
		now := a.now()
		for _, c := range cs {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", c.Name, shortID(c.ID), c.Image,
				statusString(c.State), ago(now, c.Created), portsString(c.Ports))
		}
		return exitOK, tw.Flush()
	}
}

func shortID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

func statusString(s ctrgate.ContainerState) string {
	switch s.Status {
	case ctrgate.StateExited, ctrgate.StateDead:
		return fmt.Sprintf("%s (%d)", s.Status, s.ExitCode)
	case "":
		return orDash(s.Raw)
	}
	return string(s.Status)
}

func ago(now, t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	d := now.Sub(t)
	switch {
	case d < 0:
		return "just now"
	case d < time.Minute:
		return fmt.Sprintf("%d seconds ago", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%d minutes ago", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%d hours ago", int(d.Hours()))
	}
	return fmt.Sprintf("%d days ago", int(d.Hours()/24))
}

func portsString(ps []ctrgate.PortMapping) string {
	parts := make([]string, 0, len(ps))
	for _, p := range ps {
		proto := p.Protocol
		if proto == "" {
			proto = "tcp"
		}
		host := p.HostIP
		if host == "" {
			host = "0.0.0.0"
		}
		if strings.Contains(host, ":") {
			host = "[" + host + "]"
		}
		if p.HostPort == 0 {
			parts = append(parts, fmt.Sprintf("%d/%s", p.ContainerPort, proto))
			continue
		}
		parts = append(parts, fmt.Sprintf("%s:%d->%d/%s", host, p.HostPort, p.ContainerPort, proto))
	}
	if len(parts) == 0 {
		return "-"
	}
	return strings.Join(parts, ", ")
}

func (a *app) cmdInspect(fs *pflag.FlagSet) runFunc {
	return func(ctx context.Context, args []string) (int, error) {
		if err := needArgs("inspect", args, 1, 1, "one container name"); err != nil {
			return 0, err
		}
		if err := ctrgate.ValidateName(args[0]); err != nil {
			return 0, err
		}
		rt, err := a.runtime(ctx)
		if err != nil {
			return 0, err
		}
		c, err := rt.Inspect(ctx, args[0])
		if err != nil {
			return 0, err
		}
		jc := toJSONContainer(*c, a.sec)
		if a.g.json {
			return exitOK, writeJSON(a.stdout, jc)
		}
		tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintf(tw, "Name:\t%s\n", jc.Name)
		fmt.Fprintf(tw, "ID:\t%s\n", jc.ID)
		fmt.Fprintf(tw, "Image:\t%s\n", jc.Image)
		fmt.Fprintf(tw, "Status:\t%s\n", statusString(c.State))
		fmt.Fprintf(tw, "Created:\t%s\n", orDash(jc.Created))
		fmt.Fprintf(tw, "Started:\t%s\n", orDash(jc.StartedAt))
		fmt.Fprintf(tw, "Finished:\t%s\n", orDash(jc.FinishedAt))
		if jc.Error != "" {
			fmt.Fprintf(tw, "Error:\t%s\n", oneLine(jc.Error))
		}
		fmt.Fprintf(tw, "Ports:\t%s\n", portsString(c.Ports))
		fmt.Fprintf(tw, "Labels:\t%s\n", orDash(labelString(c.Labels)))
		return exitOK, tw.Flush()
	}
}

func (a *app) cmdLogs(fs *pflag.FlagSet) runFunc {
	follow := fs.BoolP("follow", "f", false, "follow the output until the container exits")
	tail := fs.IntP("tail", "n", 0, "only the last N lines of existing output (0: all)")
	since := fs.String("since", "", "only lines since a time: a duration (10m), an RFC 3339 time or a Unix timestamp")
	stamps := fs.BoolP("timestamps", "t", false, "prefix each line with its timestamp")
	return func(ctx context.Context, args []string) (int, error) {
		if err := needArgs("logs", args, 1, 1, "one container name"); err != nil {
			return 0, err
		}
		if err := ctrgate.ValidateName(args[0]); err != nil {
			return 0, err
		}
		if *tail < 0 {
			return 0, usagef("logs", "logs: --tail must not be negative")
		}
		st, err := parseSince(*since, a.now())
		if err != nil {
			return 0, usagef("logs", "logs: %v", err)
		}
		rt, err := a.runtime(ctx)
		if err != nil {
			return 0, err
		}
		s, err := rt.Logs(ctx, args[0], ctrgate.LogOptions{Follow: *follow, Since: st, Tail: *tail})
		if err != nil {
			return 0, err
		}
		defer s.Close()
		for {
			l, err := s.Next()
			if errors.Is(err, io.EOF) {
				return exitOK, nil
			}
			if err != nil {
				return 0, err
			}
			if err := a.printLogLine(l, *stamps); err != nil {
				return 0, err
			}
		}
	}
}

// printLogLine writes one container output line: --json as NDJSON on
// stdout, otherwise to the stream it came from. Secrets are masked.
func (a *app) printLogLine(l ctrgate.LogLine, stamps bool) error {
	if a.g.json {
		return writeJSONLine(a.stdout, toJSONLogLine(l, a.sec))
	}
	w := a.stdout
	if l.Stream == ctrgate.Stderr {
		w = a.stderr
	}
	text := a.sec.text(l.Text)
	if stamps {
		ts := fmtTime(l.Time)
		if ts == "" {
			ts = "-"
		}
		text = ts + " " + text
	}
	_, err := io.WriteString(w, text+"\n")
	return err
}

func (a *app) cmdWait(fs *pflag.FlagSet) runFunc {
	return func(ctx context.Context, args []string) (int, error) {
		if err := needArgs("wait", args, 1, -1, "one or more container names"); err != nil {
			return 0, err
		}
		for _, n := range args {
			if err := ctrgate.ValidateName(n); err != nil {
				return 0, err
			}
		}
		rt, err := a.runtime(ctx)
		if err != nil {
			return 0, err
		}
		var out []jsonWait
		code := exitOK
		for _, n := range args {
			c, err := rt.Wait(ctx, n)
			if err != nil {
				if a.g.json && len(out) > 0 {
					_ = writeJSON(a.stdout, out)
				}
				return 0, fmt.Errorf("wait %s: %w", n, err)
			}
			code = c
			out = append(out, jsonWait{Name: n, ExitCode: c})
			if !a.g.json {
				fmt.Fprintln(a.stdout, c)
			}
		}
		if a.g.json {
			if err := writeJSON(a.stdout, out); err != nil {
				return 0, err
			}
		}
		return code, nil
	}
}

func (a *app) cmdExec(fs *pflag.FlagSet) runFunc {
	var env, secretEnv listFlag
	fs.VarP(envFlag{&env, a.sec, false}, "env", "e", "set environment variable K=V (K alone: from this environment); repeatable")
	fs.Var(envFlag{&secretEnv, a.sec, true}, "secret-env", "like -e, but the value is a secret and never printed; repeatable")
	workdir := fs.StringP("workdir", "w", "", "working directory inside the container")
	user := fs.StringP("user", "u", "", "user[:group] to run as")
	interactive := fs.BoolP("interactive", "i", false, "pass standard input to the command")
	return func(ctx context.Context, args []string) (int, error) {
		evs := a.collectEnv(env, secretEnv)
		if err := needArgs("exec", args, 2, -1, "a container name and a command"); err != nil {
			return 0, err
		}
		if err := ctrgate.ValidateName(args[0]); err != nil {
			return 0, err
		}
		if err := ctrgate.ValidateEnv("Env", evs); err != nil {
			return 0, err
		}
		rt, err := a.runtime(ctx)
		if err != nil {
			return 0, err
		}
		opts := ctrgate.ExecOptions{Cmd: args[1:], Env: evs, WorkDir: *workdir, User: *user}
		if *interactive {
			opts.Stdin = a.stdin
		}
		res, err := rt.Exec(ctx, args[0], opts)
		if err != nil {
			return 0, err
		}
		stdout, stderr := a.sec.text(string(res.Stdout)), a.sec.text(string(res.Stderr))
		if a.g.json {
			return res.ExitCode, writeJSON(a.stdout, jsonExec{ExitCode: res.ExitCode, Stdout: stdout, Stderr: stderr})
		}
		if _, err := io.WriteString(a.stdout, stdout); err != nil {
			return 0, err
		}
		if _, err := io.WriteString(a.stderr, stderr); err != nil {
			return 0, err
		}
		return res.ExitCode, nil
	}
}

// collectEnv turns -e and --secret-env values into env entries and records
// every value that must not be printed.
func (a *app) collectEnv(env, secretEnv []string) []ctrgate.EnvVar {
	evs := append(parseEnv(env, false, a.getenv), parseEnv(secretEnv, true, a.getenv)...)
	a.sec.add(ctrgate.SecretValues(evs)...)
	return evs
}

// perName runs op on every name, goes on after failures, and prints one
// result line per name. It fails (exit 125) when any name failed.
func (a *app) perName(ctx context.Context, cmd string, names []string, okWord string, ignoreMissing bool,
	op func(rt ctrgate.ContainerRuntime, name string) error) (int, error) {
	if len(names) == 0 {
		return 0, usagef(cmd, "%s: want one or more container names", cmd)
	}
	for _, n := range names {
		if err := ctrgate.ValidateName(n); err != nil {
			return 0, err
		}
	}
	rt, err := a.runtime(ctx)
	if err != nil {
		return 0, err
	}
	results := make([]jsonResult, 0, len(names))
	failed := 0
	hints := map[string]bool{}
	for _, n := range names {
		err := op(rt, n)
		r := jsonResult{Name: n, OK: true, Result: okWord}
		switch {
		case err == nil:
		case ignoreMissing && errors.Is(err, ctrgate.ErrNotFound):
			r.Result = "not_found"
		default:
			failed++
			msg, hint := a.describe(err)
			r.OK, r.Result, r.Error = false, "failed", msg
			if errors.Is(err, ctrgate.ErrNotFound) {
				r.Result = "not_found"
			}
			if !a.g.json {
				fmt.Fprintf(a.stderr, "ctrgate: %s %s: %s\n", cmd, n, msg)
				if hint != "" && !hints[hint] {
					hints[hint] = true
					fmt.Fprintf(a.stderr, "hint: %s\n", hint)
				}
			}
		}
		results = append(results, r)
		if !a.g.json && r.OK {
			word := r.Result
			if word == "not_found" {
				word = "not found (ignored)"
			}
			fmt.Fprintf(a.stdout, "%s: %s\n", n, word)
		}
	}
	if a.g.json {
		if err := writeJSON(a.stdout, results); err != nil {
			return 0, err
		}
		if failed > 0 {
			_ = a.stdout.Flush()
			fmt.Fprintf(a.stderr, "ctrgate: %s: %d of %d failed\n", cmd, failed, len(names))
		}
	}
	if failed > 0 {
		return exitToolError, nil
	}
	return exitOK, nil
}

func (a *app) cmdStop(fs *pflag.FlagSet) runFunc {
	var t durationFlag
	fs.VarP(&t, "time", "t", "seconds (or a duration) to wait before SIGKILL (default: the container's stop timeout)")
	return func(ctx context.Context, args []string) (int, error) {
		timeout := time.Duration(-1)
		if t.set {
			if t.d < 0 {
				return 0, usagef("stop", "stop: -t must not be negative")
			}
			timeout = t.d
		}
		return a.perName(ctx, "stop", args, "stopped", false, func(rt ctrgate.ContainerRuntime, n string) error {
			return rt.Stop(ctx, n, timeout)
		})
	}
}

func (a *app) cmdKill(fs *pflag.FlagSet) runFunc {
	sig := fs.StringP("signal", "s", "SIGKILL", "signal to send: a name (SIGTERM, TERM) or a number")
	return func(ctx context.Context, args []string) (int, error) {
		if _, err := ctrgate.ParseSignal(*sig); err != nil {
			return 0, err
		}
		return a.perName(ctx, "kill", args, "killed", false, func(rt ctrgate.ContainerRuntime, n string) error {
			return rt.Kill(ctx, n, *sig)
		})
	}
}

func (a *app) cmdRm(fs *pflag.FlagSet) runFunc {
	force := fs.BoolP("force", "f", false, "kill running containers first; a missing container is not an error")
	volumes := fs.BoolP("volumes", "v", false, "also remove anonymous volumes")
	return func(ctx context.Context, args []string) (int, error) {
		return a.perName(ctx, "rm", args, "removed", *force, func(rt ctrgate.ContainerRuntime, n string) error {
			return rt.Remove(ctx, n, ctrgate.RemoveOptions{Force: *force, Volumes: *volumes})
		})
	}
}
