package conformance

import (
	"bytes"
	"fmt"
	"github.com/ctrgate/ctrgate"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"testing"
)

func specValidationGroup() group {
	return group{name: "SpecValidation", tests: []suiteTest{
		{name: "RejectedBeforeEngine", parallel: true, fn: func(t *testing.T, s *suite) {
			ctx := s.ctx(t)
			type tc struct {
				name  string
				field string
				mod   func(*ctrgate.ContainerSpec)
			}
			cases := []tc{
				{"EmptyImage", "Image", func(sp *ctrgate.ContainerSpec) { sp.Image = "" }},
				{"NameWithDash", "Name", func(sp *ctrgate.ContainerSpec) { sp.Name = "-" + sp.Name }},
				{"NameWithSpace", "Name", func(sp *ctrgate.ContainerSpec) { sp.Name += " x" }},
				{"Port70000", "Ports[0].ContainerPort", func(sp *ctrgate.ContainerSpec) {
					sp.Ports = []ctrgate.PortMapping{{ContainerPort: 70000}}
				}},
				{"EnvKeyWithEquals", "Env[1].Name", func(sp *ctrgate.ContainerSpec) {
					sp.Env = []ctrgate.EnvVar{{Name: "OK", Value: "1"}, {Name: "A=B", Value: "x"}}
				}},
				{"NegativeMemory", "Resources.MemoryBytes", func(sp *ctrgate.ContainerSpec) { sp.Resources.MemoryBytes = -1 }},
				{"UnknownNetworkMode", "Network.Mode", func(sp *ctrgate.ContainerSpec) { sp.Network.Mode = "warp-drive" }},
				{"RelativeMountTarget", "Mounts[0].Target", func(sp *ctrgate.ContainerSpec) {
					sp.Mounts = []ctrgate.Mount{{Type: ctrgate.MountTmpfs, Target: "relative"}}
				}},
				{"UnknownStopSignal", "StopSignal", func(sp *ctrgate.ContainerSpec) { sp.StopSignal = "SIGNOPE" }},
				{"UnknownPullPolicy", "PullPolicy", func(sp *ctrgate.ContainerSpec) { sp.PullPolicy = "sometimes" }},
			}
			for i, c := range cases {
				name := s.name(t, fmt.Sprintf("sv-%d", i))
				spec := s.spec(name, "exit", "0")
				c.mod(&spec)
				id, err := s.rt.Create(ctx, spec)
				assert.Empty(t, id, c.name)
				assert.ErrorIs(t, err, ctrgate.ErrInvalidSpec, c.name)
				var se *ctrgate.SpecError
				if assert.ErrorAs(t, err, &se, c.name) {
					assert.Equal(t, c.field, se.Field, "%s: SpecError.Field", c.name)
					assert.NotEmpty(t, se.Reason, c.name)
				}
			}
			// The engine was not touched: nothing was created under any of
			// the names.
			cs, err := s.rt.List(ctx, ctrgate.ListFilter{NamePrefix: s.prefix + "sv-", All: true})
			require.NoError(t, err)
			assert.Empty(t, cs, "rejected specs must not create containers")
			for i := range cases {
				_, err := s.rt.Inspect(ctx, fmt.Sprintf("%ssv-%d", s.prefix, i))
				assert.ErrorIs(t, err, ctrgate.ErrNotFound)
			}
		}},
		{name: "BadNamesInMethods", parallel: true, fn: func(t *testing.T, s *suite) {
			// Names that an engine's command line would read as flags (or
			// that are no names at all) are rejected before any call.
			ctx := s.ctx(t)
			for _, bad := range []string{"--all", "-f", "", "a b", "x;y"} {
				for _, m := range s.nameMethods() {
					err := m.call(ctx, s.rt, bad)
					assert.ErrorIs(t, err, ctrgate.ErrInvalidSpec, "%s(%q)", m.name, bad)
				}
			}
			_, err := s.rt.List(ctx, ctrgate.ListFilter{NamePrefix: "--all"})
			assert.ErrorIs(t, err, ctrgate.ErrInvalidSpec, "List with a prefix beginning with '-'")
			_, err = s.rt.Exec(ctx, s.prefix+"missing", ctrgate.ExecOptions{})
			assert.ErrorIs(t, err, ctrgate.ErrInvalidSpec, "Exec without Cmd")
			missing := s.prefix + "missing"
			for what, opts := range map[string]ctrgate.ExecOptions{
				"Exec with a NUL in an argument": {Cmd: []string{"echo", "a\x00b"}},
				"Exec with a relative WorkDir":   {Cmd: []string{"true"}, WorkDir: "rel"},
				"Exec with a flag as User":       {Cmd: []string{"true"}, User: "--privileged"},
			} {
				_, err = s.rt.Exec(ctx, missing, opts)
				assert.ErrorIs(t, err, ctrgate.ErrInvalidSpec, what)
			}
			assert.ErrorIs(t, s.rt.CopyTo(ctx, missing, "rel", bytes.NewReader(emptyTar())), ctrgate.ErrInvalidSpec, "CopyTo a relative path")
			_, err = s.rt.CopyFrom(ctx, missing, "rel")
			assert.ErrorIs(t, err, ctrgate.ErrInvalidSpec, "CopyFrom a relative path")
			_, err = s.rt.Logs(ctx, missing, ctrgate.LogOptions{Tail: -1})
			var se *ctrgate.SpecError
			if assert.ErrorAs(t, err, &se, "Logs with a negative Tail") {
				assert.Equal(t, "Tail", se.Field)
			}
		}},
		{name: "BadImageRefs", parallel: true, fn: func(t *testing.T, s *suite) {
			ctx := s.ctx(t)
			for _, bad := range []string{"", "--help", "Upper/Case", "a b"} {
				_, err := s.rt.ImageExists(ctx, bad)
				assert.ErrorIs(t, err, ctrgate.ErrInvalidSpec, "ImageExists(%q)", bad)
				assert.ErrorIs(t, s.rt.PullImage(ctx, bad, ctrgate.PullNever), ctrgate.ErrInvalidSpec, "PullImage(%q)", bad)
				assert.ErrorIs(t, s.rt.RemoveImage(ctx, bad, false), ctrgate.ErrInvalidSpec, "RemoveImage(%q)", bad)
				assert.ErrorIs(t, s.rt.ImportImage(ctx, bad, bytes.NewReader(emptyTar()), ctrgate.ImportOptions{}),
					ctrgate.ErrInvalidSpec, "ImportImage(%q)", bad)
			}
			assert.ErrorIs(t, s.rt.PullImage(ctx, s.image, "sometimes"), ctrgate.ErrInvalidSpec, "unknown pull policy")
			ref := "localhost/ctrgate/bad-import-" + randHex(3) + ":v1"
			for what, opts := range map[string]ctrgate.ImportOptions{
				"Env without '='":   {Env: []string{"NOVALUE"}},
				"relative WorkDir":  {WorkDir: "rel"},
				"label key with =":  {Labels: map[string]string{"a=b": "v"}},
				"label with a line": {Labels: map[string]string{"a": "v\nw"}},
			} {
				assert.ErrorIs(t, s.rt.ImportImage(ctx, ref, bytes.NewReader(emptyTar()), opts), ctrgate.ErrInvalidSpec, "ImportImage: %s", what)
			}
			ok, err := s.rt.ImageExists(ctx, ref)
			require.NoError(t, err)
			assert.False(t, ok, "a refused import created no image")
		}},
	}}
}
