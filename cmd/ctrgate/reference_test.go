package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// referencePath is the CLI reference, generated from the command table
// (the same source as the help text and shell completion).
var referencePath = filepath.Join("..", "..", "docs", "cli.md")

// writeReference renders the command tree as Markdown.
func writeReference(w *bytes.Buffer, root *cobra.Command) {
	fmt.Fprintf(w, "# ctrgate command reference\n\n")
	fmt.Fprintf(w, "Generated from the command table in `cmd/ctrgate/app.go` by\n")
	fmt.Fprintf(w, "`go test ./cmd/ctrgate -run TestCLIReference -update`; `ctrgate help COMMAND` prints the same.\n\n")
	fmt.Fprintf(w, "%s\n\n", root.Long)
	fmt.Fprintf(w, "Global flags:\n\n```\n%s```\n", root.PersistentFlags().FlagUsages())
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		for _, sub := range c.Commands() {
			if !sub.IsAvailableCommand() || sub.Name() == "help" || sub.Name() == "completion" {
				continue
			}
			fmt.Fprintf(w, "\n## %s\n\n%s\n\n```\n%s\n", sub.CommandPath(), sub.Short, sub.UseLine())
			if len(sub.Aliases) > 0 {
				fmt.Fprintf(w, "aliases: %s\n", strings.Join(sub.Aliases, ", "))
			}
			if fl := sub.LocalNonPersistentFlags().FlagUsages(); fl != "" {
				fmt.Fprintf(w, "\n%s", fl)
			}
			fmt.Fprintf(w, "```\n")
			walk(sub)
		}
	}
	walk(root)
	fmt.Fprintf(w, "\n## ctrgate completion\n\n`ctrgate completion bash|zsh|fish|powershell` prints a shell completion script.\n")
}

func TestCLIReference(t *testing.T) {
	a := newApp(strings.NewReader(""), &bytes.Buffer{}, &bytes.Buffer{}, nil)
	var code int
	var err error
	root := a.rootCommand(context.Background(), &code, &err)
	var buf bytes.Buffer
	writeReference(&buf, root)
	if *update {
		require.NoError(t, os.MkdirAll(filepath.Dir(referencePath), 0o755))
		require.NoError(t, os.WriteFile(referencePath, buf.Bytes(), 0o644))
	}
	want, rerr := os.ReadFile(referencePath)
	require.NoError(t, rerr, "run go test ./cmd/ctrgate -run TestCLIReference -update to create it")
	assert.Equal(t, string(want), buf.String(), "docs/cli.md is stale: go test ./cmd/ctrgate -run TestCLIReference -update")
	for _, c := range commands() {
		assert.Contains(t, buf.String(), "## ctrgate "+c.name+"\n")
	}
}
