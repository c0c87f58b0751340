// Package libpod holds what both Podman backends (podmancli and podmanapi)
// know of libpod, the engine behind both, so that they know it the same
// way: what its error texts mean (Classify: the podman command prints the
// same texts the service answers with) and the CDI devices its host
// declares (CDIDevices, read with the CDI library Podman itself uses).
package libpod

import (
	"sort"
	"strings"

	"tags.cncf.io/container-device-interface/pkg/cdi"
)

// CDISpecDirs are the directories Podman reads CDI specifications from.
var CDISpecDirs = cdi.DefaultSpecDirs

// CDIDevices lists the fully qualified CDI device names (e.g.
// "nvidia.com/gpu=0") of the specifications in dirs, sorted, read with the
// CDI library Podman itself uses: Podman 4.x does not report its CDI
// devices, so for an engine on this host they are read here. A broken
// specification is skipped; the devices of the good ones are listed.
func CDIDevices(dirs []string) []string {
	cache, _ := cdi.NewCache(cdi.WithSpecDirs(dirs...), cdi.WithAutoRefresh(false))
	if cache == nil {
		return nil
	}
	devs := cache.ListDevices()
	sort.Strings(devs)
	return devs
}

// HasGPU reports whether devs (CDI device names) hold an NVIDIA GPU.
func HasGPU(devs []string) bool {
	for _, d := range devs {
		if strings.HasPrefix(d, "nvidia.com/gpu=") {
			return true
		}
	}
	return false
}
