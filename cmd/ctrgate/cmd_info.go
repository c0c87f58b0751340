package main

import (
	"context"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/spf13/pflag"
)

func (a *app) cmdVersion(fs *pflag.FlagSet) runFunc {
	return func(ctx context.Context, args []string) (int, error) {
		if err := needArgs("version", args, 0, 0, "no arguments"); err != nil {
			return 0, err
		}
		if a.g.json {
			return exitOK, writeJSON(a.stdout, map[string]string{"version": version})
		}
		fmt.Fprintf(a.stdout, "ctrgate %s\n", version)
		return exitOK, nil
	}
}

func (a *app) cmdInfo(fs *pflag.FlagSet) runFunc {
	return func(ctx context.Context, args []string) (int, error) {
		if err := needArgs("info", args, 0, 0, "no arguments"); err != nil {
			return 0, err
		}
		rt, err := a.runtime(ctx)
		if err != nil {
			return 0, err
		}
		info, err := rt.Info(ctx)
		if err != nil {
			return 0, err
		}
		ji := toJSONInfo(info)
		if ji.Options, err = a.resolvedOptions(info.Backend); err != nil {
			return 0, err
		}
		if a.g.json {
			return exitOK, writeJSON(a.stdout, ji)
		}
		tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintf(tw, "Backend:\t%s\n", ji.Backend)
		fmt.Fprintf(tw, "Engine:\t%s\n", orDash(ji.Engine))
		fmt.Fprintf(tw, "Version:\t%s\n", orDash(ji.Version))
		fmt.Fprintf(tw, "API version:\t%s\n", orDash(ji.APIVersion))
		fmt.Fprintf(tw, "Rootless:\t%t\n", ji.Rootless)
		fmt.Fprintf(tw, "Cgroup version:\t%s\n", orDash(ji.CgroupVersion))
		netMode := ji.RootlessNetworkMode
		if netMode == "" {
			if ji.Rootless {
				netMode = "- (not reported by the engine)"
			} else {
				netMode = "- (rootful: bridge networking)"
			}
		}
		fmt.Fprintf(tw, "Rootless network mode:\t%s\n", netMode)
		fmt.Fprintf(tw, "OCI runtime:\t%s\n", orDash(ji.OCIRuntime))
		gpu := "not configured (no CDI GPU devices)"
		if ji.CDIGPUs {
			gpu = "configured"
		}
		fmt.Fprintf(tw, "GPUs (CDI):\t%s\n", gpu)
		if len(ji.CDIDevices) > 0 {
			fmt.Fprintf(tw, "CDI devices:\t%s\n", strings.Join(ji.CDIDevices, ", "))
		}
		for i, o := range ji.Options {
			label := ""
			if i == 0 {
				label = "Options:"
			}
			if o.Source == "unset" {
				fmt.Fprintf(tw, "%s\t%s unset\n", label, o.Key)
				continue
			}
			fmt.Fprintf(tw, "%s\t%s=%s (%s)\n", label, o.Key, o.Value, o.Source)
		}
		return exitOK, tw.Flush()
	}
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
