package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/spf13/pflag"

	"github.com/ctrgate/ctrgate"
)

func (a *app) cmdEvents(fs *pflag.FlagSet) runFunc {
	prefix := fs.String("prefix", "", "only containers whose names start with this (literal) prefix")
	var labels listFlag
	fs.VarP(&labels, "label", "l", "only containers with label k=v (k alone: any value); repeatable")
	return func(ctx context.Context, args []string) (int, error) {
		if err := needArgs("events", args, 0, 0, "no arguments"); err != nil {
			return 0, err
		}
		if err := ctrgate.ValidatePrefix(*prefix); err != nil {
			return 0, err
		}
		lm, err := parseKV("events", "label", labels)
		if err != nil {
			return 0, err
		}
		rt, err := a.runtime(ctx)
		if err != nil {
			return 0, err
		}
		s, err := rt.Events(ctx, ctrgate.EventFilter{NamePrefix: *prefix, Labels: lm})
		if err != nil {
			return 0, err
		}
		defer s.Close()
		for {
			ev, err := s.Next()
			if err != nil {
				// The stream ends when interrupted or at --timeout: that is
				// the normal end of `events`.
				if errors.Is(err, io.EOF) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
					if ctx.Err() != nil || errors.Is(err, io.EOF) {
						return exitOK, nil
					}
				}
				return 0, err
			}
			if a.g.json {
				if err := writeJSONLine(a.stdout, toJSONEvent(ev)); err != nil {
					return 0, err
				}
				continue
			}
			line := fmt.Sprintf("%s %s %s %s", orDash(fmtTime(ev.Time)), ev.Type, orDash(ev.Name), shortID(ev.ID))
			if ev.Type == ctrgate.EventDie {
				line += fmt.Sprintf(" (exit code %d)", ev.ExitCode)
			}
			fmt.Fprintln(a.stdout, line)
		}
	}
}
