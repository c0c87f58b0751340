package fake

import (
	"context"
	"strings"

	"github.com/ctrgate/ctrgate"
	"github.com/ctrgate/ctrgate/backend"
)

// Options is the option table of backend "fake".
var Options = []backend.OptionSpec{
	{Key: backend.OptTimeout, Default: DefaultCallTimeout.String(), Doc: "per-call timeout for calls whose context has no deadline (WithCallTimeout)"},
	{Key: backend.OptLivenessProbe, Default: ctrgate.DefaultLivenessInterval.String(), Doc: "how often the engine is checked while a Wait or a followed stream is open; \"off\" turns it off (WithLivenessProbe)"},
	{Key: "cdi_devices", Doc: "CDI device names that resolve, comma-separated, e.g. nvidia.com/gpu=0 (WithCDIDevices)"},
}

// init registers the fake as backend "fake" (options: Options). It has no
// probe: auto-detection never picks the fake.
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
		live, err := cfg.DurationOrOff(backend.OptLivenessProbe)
		if err != nil {
			return nil, err
		}
		opts = append(opts, WithLivenessProbe(live))
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
	}, nil, Options...)
}
