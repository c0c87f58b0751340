// Command testprog is the static binary packed into the conformance test
// image (see conformance.TestImageTar). It runs testprog.Main with the real
// process as its System (testprog.OS).
package main

import (
	"os"

	"github.com/ctrgate/ctrgate/conformance/testprog"
)

func main() {
	os.Exit(testprog.Main(testprog.OS()))
}
