package conformance

import (
	"errors"
	"fmt"
	"github.com/ctrgate/ctrgate"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func configGroup() group {
	return group{name: "Config", tests: []suiteTest{
		{name: "Env", parallel: true, fn: func(t *testing.T, s *suite) {
			ctx := s.ctx(t)
			name := s.name(t, "cfg-env")
			spec := s.spec(name, "env")
			spec.Env = []ctrgate.EnvVar{
				{Name: "CTG_A", Value: "1"},
				{Name: "CTG_SPACES", Value: "a b  c"},
				{Name: "CTG_EQ", Value: "x=y=z"},
				{Name: "CTG_EMPTY", Value: ""},
				{Name: "CTG_QUOTE", Value: `it's "quoted" $HOME`},
				{Name: "CTG_DUP", Value: "first"},
				{Name: "CTG_DUP", Value: "second"},
			}
			code, out := s.stdout(t, ctx, spec)
			assert.Equal(t, 0, code)
			got := map[string][]string{}
			for _, l := range out {
				k, v, _ := strings.Cut(l, "=")
				got[k] = append(got[k], v)
			}
			for _, e := range spec.Env[:5] {
				assert.Equal(t, []string{e.Value}, got[e.Name], "value of %s", e.Name)
			}
			// Programs read the first entry of a key (libc, Go): a repeated
			// key must reach the process once, with the later value.
			assert.Equal(t, []string{"second"}, got["CTG_DUP"], "entries apply in order: the later one wins")
		}},
		{name: "Labels", parallel: true, fn: func(t *testing.T, s *suite) {
			ctx := s.ctx(t)
			name := s.name(t, "cfg-labels")
			spec := s.spec(name, "exit", "0")
			spec.Labels = map[string]string{"ctg.a": "1", "ctg.b": "with space", "ctg.empty": "", "org.example/x": "y"}
			s.create(t, ctx, spec)
			c, err := s.rt.Inspect(ctx, name)
			require.NoError(t, err)
			for k, v := range spec.Labels {
				got, ok := c.Labels[k]
				assert.True(t, ok, "label %s", k)
				assert.Equal(t, v, got, "label %s", k)
			}
		}},
		{name: "UserWorkDirHostname", parallel: true, fn: func(t *testing.T, s *suite) {
			ctx := s.ctx(t)
			name := s.name(t, "cfg-uwh")
			spec := s.spec(name, "id", ";", "pwd", ";", "hostname")
			spec.User = "1000:1000"
			spec.WorkDir = "/tmp"
			spec.Hostname = "ctg-host-" + randHex(2)
			code, out := s.stdout(t, ctx, spec)
			assert.Equal(t, 0, code)
			assert.Equal(t, []string{"1000:1000", "/tmp", spec.Hostname}, out)
		}},
		{name: "ExtraHosts", parallel: true, fn: func(t *testing.T, s *suite) {
			ctx := s.ctx(t)
			name := s.name(t, "cfg-hosts")
			spec := s.spec(name, "cat", "/etc/hosts")
			spec.ExtraHosts = []ctrgate.HostEntry{{Host: "ctg-extra.example", IP: "10.1.2.3"}}
			code, out := s.stdout(t, ctx, spec)
			assert.Equal(t, 0, code)
			found := false
			for _, l := range out {
				f := strings.Fields(l)
				if len(f) >= 2 && f[0] == "10.1.2.3" && contains(f[1:], "ctg-extra.example") {
					found = true
				}
			}
			assert.True(t, found, "/etc/hosts maps ctg-extra.example to 10.1.2.3: %q", out)
		}},
		{name: "EntrypointOverride", parallel: true, fn: func(t *testing.T, s *suite) {
			ctx := s.ctx(t)
			name := s.name(t, "cfg-entry")
			spec := s.spec(name, "and", "command")
			spec.Entrypoint = []string{TestProgPath, "echo", "from-entrypoint"}
			code, out := s.stdout(t, ctx, spec)
			assert.Equal(t, 0, code)
			assert.Equal(t, []string{"from-entrypoint and command"}, out, "Entrypoint replaces the image's; Command follows it")
		}},
		{name: "UserByName", parallel: true, fn: func(t *testing.T, s *suite) {
			ctx := s.ctx(t)
			name := s.name(t, "cfg-user")
			spec := s.spec(name, "id", ";", "pwd")
			spec.User = "ctrgate"
			code, out := s.stdout(t, ctx, spec)
			assert.Equal(t, 0, code)
			assert.Equal(t, []string{"1000:1000", "/"}, out, "user from the image's /etc/passwd; default workdir /")
		}},
		{name: "BindMounts", parallel: true, fn: func(t *testing.T, s *suite) {
			if !s.need(t, CapBindMounts) {
				return
			}
			ctx := s.ctx(t)
			dir := t.TempDir()
			ro, rw := filepath.Join(dir, "ro"), filepath.Join(dir, "rw")
			require.NoError(t, os.Mkdir(ro, 0o777))
			require.NoError(t, os.Mkdir(rw, 0o777))
			require.NoError(t, os.Chmod(rw, 0o777)) // umask
			require.NoError(t, os.WriteFile(filepath.Join(ro, "in.txt"), []byte("from-host\n"), 0o644))

			name := s.name(t, "cfg-bind")
			spec := s.spec(name, "cat", "/mnt/ro/in.txt", ";", "write", "/mnt/rw/out.txt", "from-container",
				";", "echo", "wrote", ";", "write", "/mnt/ro/nope.txt", "x", ";", "echo", "not reached")
			spec.Mounts = []ctrgate.Mount{
				{Type: ctrgate.MountBind, Source: ro, Target: "/mnt/ro", ReadOnly: true},
				{Type: ctrgate.MountBind, Source: rw, Target: "/mnt/rw"},
			}
			code, out := s.stdout(t, ctx, spec)
			assert.Equal(t, 1, code, "writing to the read-only mount fails")
			assert.Equal(t, []string{"from-host", "wrote"}, out)
			b, err := os.ReadFile(filepath.Join(rw, "out.txt"))
			require.NoError(t, err, "the file written in the container is on the host")
			assert.Equal(t, "from-container", string(b))
			_, err = os.Stat(filepath.Join(ro, "nope.txt"))
			assert.True(t, errors.Is(err, os.ErrNotExist), "nothing was written through the read-only mount")
		}},
		{name: "Tmpfs", parallel: true, fn: func(t *testing.T, s *suite) {
			ctx := s.ctx(t)
			name := s.name(t, "cfg-tmpfs")
			spec := s.spec(name, "write", "/scratch/f", "in-tmpfs", ";", "cat", "/scratch/f")
			spec.Mounts = []ctrgate.Mount{{Type: ctrgate.MountTmpfs, Target: "/scratch"}}
			code, out := s.stdout(t, ctx, spec)
			assert.Equal(t, 0, code, "a tmpfs is writable")
			assert.Equal(t, []string{"in-tmpfs"}, out)
		}},
		{name: "ReadOnlyRootfs", parallel: true, fn: func(t *testing.T, s *suite) {
			if !s.need(t, CapReadOnlyRootfs) {
				return
			}
			ctx := s.ctx(t)
			name := s.name(t, "cfg-rofs")
			spec := s.spec(name, "write", "/scratch/f", "ok", ";", "echo", "tmpfs ok", ";", "write", "/data/f", "x", ";", "echo", "not reached")
			spec.ReadOnlyRootfs = true
			spec.Mounts = []ctrgate.Mount{{Type: ctrgate.MountTmpfs, Target: "/scratch"}}
			code, out := s.stdout(t, ctx, spec)
			assert.Equal(t, 1, code, "writing to a read-only root file system fails")
			assert.Equal(t, []string{"tmpfs ok"}, out)
		}},
		{name: "UserNSHost", parallel: true, fn: func(t *testing.T, s *suite) {
			if !s.need(t, CapUserNS) {
				return
			}
			ctx := s.ctx(t)
			name := s.name(t, "cfg-userns-host")
			spec := s.spec(name, "id")
			spec.UserNS = ctrgate.UserNSSpec{Mode: ctrgate.UserNSHost}
			code, out := s.stdout(t, ctx, spec)
			assert.Equal(t, 0, code)
			assert.Equal(t, []string{"0:0"}, out)
		}},
		{name: "UserNSKeepID", parallel: true, fn: func(t *testing.T, s *suite) {
			if !s.need(t, CapUserNS) {
				return
			}
			ctx := s.ctx(t)
			info, err := s.rt.Info(ctx)
			require.NoError(t, err)
			if !info.Rootless || info.Engine != "podman" {
				s.notApplicable(t, "keep-id needs rootless podman; this engine is "+info.Engine+
					map[bool]string{true: " (rootless)", false: " (rootful)"}[info.Rootless])
				return
			}
			name := s.name(t, "cfg-userns-keepid")
			spec := s.spec(name, "id")
			spec.UserNS = ctrgate.UserNSSpec{Mode: ctrgate.UserNSKeepID}
			code, out := s.stdout(t, ctx, spec)
			assert.Equal(t, 0, code)
			// keep-id maps the engine's user (not necessarily this process's)
			want := fmt.Sprintf("%d:%d", s.h.Engine.uid(), s.h.Engine.gid())
			assert.Equal(t, []string{want}, out, "keep-id: the container runs as the rootless engine's user")
			t.Logf("keep-id: container uid:gid %v, engine user %s", out, want)
		}},
	}}
}
