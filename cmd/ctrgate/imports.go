package main

// Every backend is linked in; each registers itself with package backend.
// podmanapi needs the build tags containers_image_openpgp and
// exclude_graphdriver_btrfs (see doc.go).
import (
	_ "github.com/ctrgate/ctrgate/docker"
	_ "github.com/ctrgate/ctrgate/fake"
	_ "github.com/ctrgate/ctrgate/podmanapi"
	_ "github.com/ctrgate/ctrgate/podmancli"
)
