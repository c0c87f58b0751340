package main

import (
	"context"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/ctrgate/ctrgate/conformance/testprog"
)

// testProgName is the base name under which the binary runs the
// conformance test program instead of the CLI: the built-in testimage
// imported into a real engine holds this binary as /testprog.
const testProgName = "testprog"

// isTestProg reports whether argv[0] asks for the test program.
func isTestProg(arg0 string) bool { return filepath.Base(arg0) == testProgName }

func main() {
	if len(os.Args) > 0 && isTestProg(os.Args[0]) {
		os.Exit(testprog.Main(testprog.OS()))
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr, os.Getenv)
	stop()
	os.Exit(code)
}
