package podmanapi

import (
	"sort"

	"tags.cncf.io/container-device-interface/pkg/cdi"
)

// cdiSpecDirs are the directories CDI specifications are read from.
var cdiSpecDirs = cdi.DefaultSpecDirs

// localCDIDevices lists the fully qualified CDI device names (e.g.
// "nvidia.com/gpu=0") of the specifications in dirs. Podman 4.x does not
// report CDI devices, so for a service on this host the specifications are
// read here, with the CDI library the engine itself uses.
func localCDIDevices(dirs []string) []string {
	// NewCache reports broken spec files as an error but still returns
	// the devices of the good ones.
	cache, _ := cdi.NewCache(cdi.WithSpecDirs(dirs...), cdi.WithAutoRefresh(false))
	if cache == nil {
		return nil
	}
	devs := cache.ListDevices()
	sort.Strings(devs)
	return devs
}
