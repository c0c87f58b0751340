package fake

import (
	"context"
	"strings"

	"github.com/ctrgate/ctrgate"
	"github.com/ctrgate/ctrgate/backend"
)

// init registers the fake as backend "fake". It has no probe:
// auto-detection never picks the fake. Options: "timeout" (per-call
// timeout, a Go duration: WithCallTimeout) and "cdi_devices"
// (comma-separated CDI device names: WithCDIDevices).
func init() {
	backend.Register(BackendName, func(_ context.Context, cfg backend.Config) (ctrgate.ContainerRuntime, error) {
		var opts []Option
		d, err := cfg.Duration(backend.OptTimeout, 0)
		if err != nil {
			return nil, err
		}
		if d > 0 {
			opts = append(opts, WithCallTimeout(d))
		}
		if v := cfg.Option("cdi_devices"); v != "" {
			var devs []string
			for _, n := range strings.Split(v, ",") {
				if n = strings.TrimSpace(n); n != "" {
					devs = append(devs, n)
				}
			}
			opts = append(opts, WithCDIDevices(devs...))
		}
		return New(opts...), nil
	}, nil)
}
