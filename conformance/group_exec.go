package conformance

import (
	"github.com/ctrgate/ctrgate"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"strings"
	"testing"
)

func execGroup() group {
	return group{name: "Exec", tests: []suiteTest{
		{name: "Running", parallel: true, fn: func(t *testing.T, s *suite) {
			ctx := s.ctx(t)
			name := s.name(t, "exec-run")
			spec := s.spec(name, sleeper()...)
			spec.Env = []ctrgate.EnvVar{{Name: "CTG_BASE", Value: "from-spec"}}
			s.run(t, ctx, spec)
			s.waitReady(t, ctx, name, "ready")
			exec := func(t *testing.T, opts ctrgate.ExecOptions, args ...string) *ctrgate.ExecResult {
				t.Helper()
				opts.Cmd = append([]string{TestProgPath}, args...)
				r, err := s.rt.Exec(ctx, name, opts)
				require.NoError(t, err, "exec %v", args)
				require.NotNil(t, r)
				return r
			}
			t.Run("ExitCode", func(t *testing.T) {
				assert.Equal(t, 0, exec(t, ctrgate.ExecOptions{}, "exit", "0").ExitCode)
				assert.Equal(t, 3, exec(t, ctrgate.ExecOptions{}, "exit", "3").ExitCode, "an exit code is not an error")
			})
			t.Run("StdoutStderr", func(t *testing.T) {
				r := exec(t, ctrgate.ExecOptions{}, "echo", "to-out", ";", "echo-err", "to-err", ";", "no-newline", "tail")
				assert.Equal(t, "to-out\ntail", string(r.Stdout))
				assert.Equal(t, "to-err\n", string(r.Stderr))
			})
			t.Run("Env", func(t *testing.T) {
				r := exec(t, ctrgate.ExecOptions{Env: []ctrgate.EnvVar{{Name: "CTG_EXEC", Value: "a b=c"}}},
					"getenv", "CTG_EXEC", ";", "getenv", "CTG_BASE")
				assert.Equal(t, "a b=c\nfrom-spec\n", string(r.Stdout), "exec env plus the container's env")
				r = exec(t, ctrgate.ExecOptions{Env: []ctrgate.EnvVar{{Name: "CTG_BASE", Value: "from-exec"}}}, "getenv", "CTG_BASE")
				assert.Equal(t, "from-exec\n", string(r.Stdout), "exec env overrides the container's")
			})
			t.Run("WorkDir", func(t *testing.T) {
				assert.Equal(t, "/\n", string(exec(t, ctrgate.ExecOptions{}, "pwd").Stdout), "the container's workdir")
				assert.Equal(t, "/tmp\n", string(exec(t, ctrgate.ExecOptions{WorkDir: "/tmp"}, "pwd").Stdout))
			})
			t.Run("User", func(t *testing.T) {
				assert.Equal(t, "0:0\n", string(exec(t, ctrgate.ExecOptions{}, "id").Stdout))
				assert.Equal(t, "1000:1000\n", string(exec(t, ctrgate.ExecOptions{User: "1000:1000"}, "id").Stdout))
				assert.Equal(t, "1000:1000\n", string(exec(t, ctrgate.ExecOptions{User: "ctrgate"}, "id").Stdout), "user by name")
			})
			t.Run("Stdin", func(t *testing.T) {
				in := "line one\nline two\nno newline"
				r := exec(t, ctrgate.ExecOptions{Stdin: strings.NewReader(in)}, "stdin")
				assert.Equal(t, 0, r.ExitCode)
				assert.Equal(t, in, string(r.Stdout))
			})
			t.Run("LargeOutput", func(t *testing.T) {
				r := exec(t, ctrgate.ExecOptions{}, "long-line", itoa(256<<10), ";", "echo-err", "done")
				assert.Len(t, r.Stdout, 256<<10+1)
				assert.Equal(t, "done\n", string(r.Stderr))
			})
		}},
		{name: "DefaultsFromContainer", parallel: true, fn: func(t *testing.T, s *suite) {
			// Exec without User or WorkDir runs as the container's user in
			// the container's working directory (not root in /).
			ctx := s.ctx(t)
			name := s.name(t, "exec-defaults")
			spec := s.spec(name, sleeper()...)
			spec.User, spec.WorkDir = "1000:1000", "/tmp"
			s.run(t, ctx, spec)
			s.waitReady(t, ctx, name, "ready")
			r, err := s.rt.Exec(ctx, name, ctrgate.ExecOptions{Cmd: []string{TestProgPath, "id", ";", "pwd"}})
			require.NoError(t, err)
			assert.Equal(t, "1000:1000\n/tmp\n", string(r.Stdout), "the container's user and workdir")
			r, err = s.rt.Exec(ctx, name, ctrgate.ExecOptions{Cmd: []string{TestProgPath, "id", ";", "pwd"}, User: "0:0", WorkDir: "/"})
			require.NoError(t, err)
			assert.Equal(t, "0:0\n/\n", string(r.Stdout), "explicit User and WorkDir win")
		}},
		{name: "NotRunning", parallel: true, fn: func(t *testing.T, s *suite) {
			ctx := s.ctx(t)
			for _, n := range s.createdAndExited(t, ctx, "exec") {
				_, err := s.rt.Exec(ctx, n, ctrgate.ExecOptions{Cmd: []string{TestProgPath, "echo", "x"}})
				assert.ErrorIs(t, err, ctrgate.ErrNotRunning, "exec in %s", n)
			}
		}},
	}}
}
