package backend

import (
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/ctrgate/ctrgate"
)

// OptionSpec declares one option of a backend, once: the backend passes
// its table to Register, Open resolves every option through it, and the
// CLI (ctrgate info --json) and the README's option reference list it.
type OptionSpec struct {
	Key     string // key in Config.Options and in a configuration file's "options"
	Env     string // environment variable that sets it ("" = none)
	Default string // value when nothing sets it ("" = none; Doc says what that means)
	Doc     string // what it does, one sentence
}

// Source says where a resolved option's value came from. The order is the
// precedence: code beats the environment, which beats the file, which
// beats the default.
type Source int

// Option sources, lowest precedence first.
const (
	SourceUnset   Source = iota // nothing set it and it has no default
	SourceDefault               // OptionSpec.Default
	SourceFile                  // a configuration file (Config.FileOptions)
	SourceEnv                   // OptionSpec.Env
	SourceCode                  // Config.Options
)

func (s Source) String() string {
	switch s {
	case SourceDefault:
		return "default"
	case SourceFile:
		return "file"
	case SourceEnv:
		return "env"
	case SourceCode:
		return "code"
	}
	return "unset"
}

// ResolvedOption is an option with the value it resolved to.
type ResolvedOption struct {
	OptionSpec
	Value  string
	Source Source
}

// Options returns the option table the backend name registered (nil for a
// backend that is not registered), in its order.
func Options(name string) []OptionSpec {
	d, ok := defaultRegistry.lookup(name)
	if !ok {
		return nil
	}
	return append([]OptionSpec(nil), d.options...)
}

// autoOptions are the options of "auto" itself.
var autoOptions = []OptionSpec{
	{Key: OptProbeTimeout, Default: DefaultProbeTimeout.String(), Doc: "how long auto-detection waits for each backend's probe"},
}

// Resolve returns the options of backend name for cfg, each with its value
// and source: Config.Options (code) before the option's environment
// variable (getenv; os.Getenv when nil) before Config.FileOptions before
// the default. A key of Options or FileOptions that the backend does not
// declare fails with ctrgate.ErrInvalidSpec naming the keys it knows.
func Resolve(name string, cfg Config, getenv func(string) string) ([]ResolvedOption, error) {
	d, err := defaultRegistry.resolve(name)
	if err != nil {
		return nil, err
	}
	if err := checkKeys(name, d.options, cfg); err != nil {
		return nil, err
	}
	return resolveOptions(d.options, cfg, getenv), nil
}

// checkKeys fails for a key of cfg (code or file) that specs lacks.
func checkKeys(name string, specs []OptionSpec, cfg Config) error {
	known := map[string]bool{}
	for _, o := range specs {
		known[o.Key] = true
	}
	for _, m := range []map[string]string{cfg.Options, cfg.FileOptions} {
		for _, k := range sortedKeys(m) {
			if !known[k] {
				keys := make([]string, 0, len(known))
				for k := range known {
					keys = append(keys, k)
				}
				sort.Strings(keys)
				return &ctrgate.SpecError{Field: "Options[" + k + "]",
					Reason: fmt.Sprintf("backend %s has no option %q (its options: %s)", name, k, listOrNone(keys))}
			}
		}
	}
	return nil
}

func resolveOptions(specs []OptionSpec, cfg Config, getenv func(string) string) []ResolvedOption {
	if getenv == nil {
		getenv = os.Getenv
	}
	out := make([]ResolvedOption, 0, len(specs))
	for _, o := range specs {
		r := ResolvedOption{OptionSpec: o}
		if v, ok := cfg.Options[o.Key]; ok {
			r.Value, r.Source = v, SourceCode
		} else if v := strings.TrimSpace(envOf(o, getenv)); v != "" {
			r.Value, r.Source = v, SourceEnv
		} else if v, ok := cfg.FileOptions[o.Key]; ok {
			r.Value, r.Source = v, SourceFile
		} else if o.Default != "" {
			r.Value, r.Source = o.Default, SourceDefault
		}
		out = append(out, r)
	}
	return out
}

func envOf(o OptionSpec, getenv func(string) string) string {
	if o.Env == "" {
		return ""
	}
	return getenv(o.Env)
}

// resolved is the Config an OpenFunc or ProbeFunc receives: every option
// of the backend's table with its value (code > env > file > default) in
// Options, where it came from in sources, and no FileOptions.
func resolved(name string, rs []ResolvedOption) Config {
	c := Config{Backend: name, Options: map[string]string{}, sources: map[string]Source{}}
	for _, r := range rs {
		if r.Source == SourceUnset {
			continue
		}
		c.Options[r.Key] = r.Value
		c.sources[r.Key] = r.Source
	}
	return c
}

// Source returns where option key of a resolved Config (the one an
// OpenFunc receives) came from; SourceCode for a Config built by hand.
func (c Config) Source(key string) Source {
	if s, ok := c.sources[key]; ok {
		return s
	}
	if _, ok := c.Options[key]; ok {
		return SourceCode
	}
	return SourceUnset
}

// First returns, of keys that are set, the one whose value has the highest
// precedence (code > env > file > default), ties going to the earlier key;
// "" when none is set. Backends use it for options that name the same
// thing in different ways (an address given as a URL, a socket or a named
// connection), so that an explicit one is never overridden by a variable
// of the environment.
func (c Config) First(keys ...string) string {
	best, bestSrc := "", SourceUnset
	for _, k := range keys {
		if c.Option(k) == "" {
			continue
		}
		if s := c.Source(k); s > bestSrc {
			best, bestSrc = k, s
		}
	}
	return best
}
