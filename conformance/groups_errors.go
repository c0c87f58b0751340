package conformance

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ctrgate/ctrgate"
)

// nameMethod is one ContainerRuntime method that takes a container name.
type nameMethod struct {
	name  string
	call  func(ctx context.Context, rt ctrgate.ContainerRuntime, n string) error
	needs Capability // "" when every backend has the method
	op    string     // the EngineError.Op its failures carry (the method's name)
}

// nameMethods lists every method that takes a container name and that the
// backend supports.
func (s *suite) nameMethods() []nameMethod {
	var out []nameMethod
	for _, m := range allNameMethods() {
		if _, lacks := s.h.Lacks[m.needs]; m.needs == "" || !lacks {
			out = append(out, m)
		}
	}
	return out
}

func allNameMethods() []nameMethod {
	return []nameMethod{
		{"Start", func(ctx context.Context, rt ctrgate.ContainerRuntime, n string) error { return rt.Start(ctx, n) }, "", ctrgate.OpStart},
		{"Stop", func(ctx context.Context, rt ctrgate.ContainerRuntime, n string) error {
			return rt.Stop(ctx, n, time.Second)
		}, "", ctrgate.OpStop},
		{"Kill", func(ctx context.Context, rt ctrgate.ContainerRuntime, n string) error {
			return rt.Kill(ctx, n, "SIGTERM")
		}, "", ctrgate.OpKill},
		{"Remove", func(ctx context.Context, rt ctrgate.ContainerRuntime, n string) error {
			return rt.Remove(ctx, n, ctrgate.RemoveOptions{})
		}, "", ctrgate.OpRemove},
		{"RemoveForce", func(ctx context.Context, rt ctrgate.ContainerRuntime, n string) error {
			return rt.Remove(ctx, n, ctrgate.RemoveOptions{Force: true})
		}, "", ctrgate.OpRemove},
		{"Inspect", func(ctx context.Context, rt ctrgate.ContainerRuntime, n string) error {
			_, err := rt.Inspect(ctx, n)
			return err
		}, "", ctrgate.OpInspect},
		{"Wait", func(ctx context.Context, rt ctrgate.ContainerRuntime, n string) error {
			_, err := rt.Wait(ctx, n)
			return err
		}, "", ctrgate.OpWait},
		{"Logs", func(ctx context.Context, rt ctrgate.ContainerRuntime, n string) error {
			st, err := rt.Logs(ctx, n, ctrgate.LogOptions{})
			if err == nil {
				st.Close()
			}
			return err
		}, "", ctrgate.OpLogs},
		{"LogsFollow", func(ctx context.Context, rt ctrgate.ContainerRuntime, n string) error {
			st, err := rt.Logs(ctx, n, ctrgate.LogOptions{Follow: true})
			if err == nil {
				st.Close()
			}
			return err
		}, "", ctrgate.OpLogs},
		{"Exec", func(ctx context.Context, rt ctrgate.ContainerRuntime, n string) error {
			_, err := rt.Exec(ctx, n, ctrgate.ExecOptions{Cmd: []string{TestProgPath, "echo", "x"}})
			return err
		}, "", ctrgate.OpExec},
		{"CopyTo", func(ctx context.Context, rt ctrgate.ContainerRuntime, n string) error {
			return rt.CopyTo(ctx, n, "/data", bytes.NewReader(emptyTar()))
		}, CapCopy, ctrgate.OpCopyTo},
		{"CopyFrom", func(ctx context.Context, rt ctrgate.ContainerRuntime, n string) error {
			rc, err := rt.CopyFrom(ctx, n, "/data")
			if err == nil {
				rc.Close()
			}
			return err
		}, CapCopy, ctrgate.OpCopyFrom},
	}
}

// emptyTar is a tar stream with no entries.
func emptyTar() []byte { return make([]byte, 1024) }

// assertSentinelWords checks that err's text holds the words of the
// sentinel it matches ("no such container", "no such image", ...): a user
// reads the same words for the same failure on every backend, whatever the
// engine's own text (kept as detail).
func assertSentinelWords(t testing.TB, err, sentinel error, what string) {
	t.Helper()
	if err != nil {
		assert.Contains(t, strings.ToLower(err.Error()), sentinel.Error(), "%s: the message says %q", what, sentinel.Error())
	}
}

func errorsGroup() group {
	return group{name: "Errors", tests: []suiteTest{
		{name: "MissingContainer", parallel: true, fn: func(t *testing.T, s *suite) {
			ctx := s.ctx(t)
			missing := s.prefix + "missing-" + randHex(3)
			for _, m := range s.nameMethods() {
				began := time.Now()
				err := m.call(ctx, s.rt, missing)
				assert.ErrorIs(t, err, ctrgate.ErrNotFound, "%s on a missing container", m.name)
				assertSentinelWords(t, err, ctrgate.ErrNotFound, m.name+" on a missing container")
				within(t, time.Since(began), 10*time.Second, m.name+" on a missing container")
			}
		}},
		{name: "OpIsMethodName", parallel: true, fn: func(t *testing.T, s *suite) {
			// An engine failure is an *EngineError whose Op is the name of
			// the method that failed (ctrgate.Op*), whatever the backend,
			// even when the backend looked the container up with another
			// call first.
			ctx := s.ctx(t)
			missing := s.prefix + "missing-op-" + randHex(3)
			check := func(what, op string, err error) {
				t.Helper()
				var ee *ctrgate.EngineError
				if assert.ErrorAs(t, err, &ee, "%s: the error is an *ctrgate.EngineError: %v", what, err) {
					assert.Equal(t, op, ee.Op, "%s: EngineError.Op", what)
				}
			}
			for _, m := range s.nameMethods() {
				check(m.name+" on a missing container", m.op, m.call(ctx, s.rt, missing))
			}
			ref := "localhost/ctrgate/no-such-image-" + randHex(4) + ":v1"
			check("PullImage(PullNever) of a missing image", ctrgate.OpPullImage, s.rt.PullImage(ctx, ref, ctrgate.PullNever))
			check("RemoveImage of a missing image", ctrgate.OpRemoveImage, s.rt.RemoveImage(ctx, ref, false))
			spec := s.spec(s.name(t, "op-noimage"), "exit", "0")
			spec.Image = ref
			_, err := s.rt.Create(ctx, spec)
			check("Create with a missing image", ctrgate.OpCreate, err)
			s.requireGone(t, ctx, spec.Name)
		}},
		{name: "NameConflict", parallel: true, fn: func(t *testing.T, s *suite) {
			ctx := s.ctx(t)
			name := s.name(t, "err-conflict")
			id := s.create(t, ctx, s.spec(name, "exit", "0"))
			_, err := s.rt.Create(ctx, s.spec(name, "exit", "1"))
			assert.ErrorIs(t, err, ctrgate.ErrAlreadyExists)
			assertSentinelWords(t, err, ctrgate.ErrAlreadyExists, "create with a taken name")
			c, err := s.rt.Inspect(ctx, name)
			require.NoError(t, err)
			assert.Equal(t, id, c.ID, "the first container is untouched")
		}},
		{name: "UnknownImage", parallel: true, fn: func(t *testing.T, s *suite) {
			ctx := s.ctx(t)
			name := s.name(t, "err-noimage")
			ref := "localhost/ctrgate/no-such-image-" + randHex(4) + ":v1"
			spec := s.spec(name, "exit", "0")
			spec.Image = ref
			_, err := s.rt.Create(ctx, spec)
			assert.ErrorIs(t, err, ctrgate.ErrImageNotFound, "create with PullNever and a missing image")
			assertSentinelWords(t, err, ctrgate.ErrImageNotFound, "create with a missing image")
			s.requireGone(t, ctx, name)
			err = s.rt.PullImage(ctx, ref, ctrgate.PullNever)
			assert.ErrorIs(t, err, ctrgate.ErrImageNotFound)
			assertSentinelWords(t, err, ctrgate.ErrImageNotFound, "PullImage(PullNever) of a missing image")
			err = s.rt.RemoveImage(ctx, ref, false)
			assert.ErrorIs(t, err, ctrgate.ErrImageNotFound)
			assertSentinelWords(t, err, ctrgate.ErrImageNotFound, "RemoveImage of a missing image")
			assert.ErrorIs(t, s.rt.RemoveImage(ctx, ref, true), ctrgate.ErrImageNotFound,
				"force does not turn a missing image into a success")
		}},
		{name: "MissingBindSource", parallel: true, fn: func(t *testing.T, s *suite) {
			// A bind mount whose host source does not exist is refused at
			// Create, and the source is not created: no engine makes a
			// directory on the host for it (Podman's Docker-compatible API
			// would, were the docker backend not to refuse it first).
			if !s.need(t, CapBindMounts) {
				return
			}
			ctx := s.ctx(t)
			name := s.name(t, "err-nobind")
			missing := filepath.Join(t.TempDir(), "no-such-dir")
			spec := s.spec(name, "exit", "0")
			spec.Mounts = []ctrgate.Mount{{Type: ctrgate.MountBind, Source: missing, Target: "/mnt/x"}}
			id, err := s.rt.Create(ctx, spec)
			assert.Empty(t, id)
			var ee *ctrgate.EngineError
			if assert.ErrorAs(t, err, &ee, "Create with a missing bind source: %v", err) {
				assert.Equal(t, ctrgate.OpCreate, ee.Op)
				assert.Contains(t, err.Error(), missing, "the error names the missing source")
			}
			assert.NotErrorIs(t, err, ctrgate.ErrNotFound, "a missing source is not a missing container")
			_, serr := os.Stat(missing)
			assert.ErrorIs(t, serr, os.ErrNotExist, "the missing source was not created on the host")
			s.requireGone(t, ctx, name)
		}},
		{name: "KillNotRunning", parallel: true, fn: func(t *testing.T, s *suite) {
			ctx := s.ctx(t)
			created, exited := s.name(t, "err-kill-c"), s.name(t, "err-kill-x")
			s.create(t, ctx, s.spec(created, "exit", "0"))
			assert.Equal(t, 0, s.runToExit(t, ctx, s.spec(exited, "exit", "0")))
			for _, n := range []string{created, exited} {
				err := s.rt.Kill(ctx, n, "SIGTERM")
				assert.ErrorIs(t, err, ctrgate.ErrNotRunning, "kill %s", n)
				assertSentinelWords(t, err, ctrgate.ErrNotRunning, "kill of a container that is not running")
				assert.ErrorIs(t, s.rt.Kill(ctx, n, ""), ctrgate.ErrNotRunning, "kill -9 %s", n)
			}
		}},
		{name: "RemoveRunning", parallel: true, fn: func(t *testing.T, s *suite) {
			ctx := s.ctx(t)
			name := s.name(t, "err-rm-running")
			s.run(t, ctx, s.spec(name, sleeper()...))
			err := s.rt.Remove(ctx, name, ctrgate.RemoveOptions{})
			assert.ErrorIs(t, err, ctrgate.ErrRunning)
			assertSentinelWords(t, err, ctrgate.ErrRunning, "remove of a running container")
			running, err := ctrgate.IsRunning(ctx, s.rt, name)
			require.NoError(t, err)
			assert.True(t, running, "a refused Remove leaves the container running")
			require.NoError(t, s.rt.Remove(ctx, name, ctrgate.RemoveOptions{Force: true}))
			s.requireGone(t, ctx, name)
		}},
		{name: "KillUnknownSignal", parallel: true, fn: func(t *testing.T, s *suite) {
			ctx := s.ctx(t)
			name := s.name(t, "err-badsig")
			s.run(t, ctx, s.spec(name, sleeper()...))
			assert.ErrorIs(t, s.rt.Kill(ctx, name, "SIGNOPE"), ctrgate.ErrInvalidSpec)
			running, err := ctrgate.IsRunning(ctx, s.rt, name)
			require.NoError(t, err)
			assert.True(t, running)
		}},
		{name: "RemoveImageInUse", fn: func(t *testing.T, s *suite) {
			// Refused without force while a container uses it. Not parallel:
			// if a backend wrongly removes the image, it is imported again
			// before other tests need it.
			ctx := s.ctx(t)
			name := s.name(t, "err-img-inuse")
			s.create(t, ctx, s.spec(name, "exit", "0"))
			assert.ErrorIs(t, s.rt.RemoveImage(ctx, s.image, false), ctrgate.ErrRunning)
			ok, err := s.rt.ImageExists(ctx, s.image)
			require.NoError(t, err)
			if !assert.True(t, ok, "the image in use survives RemoveImage without force") {
				require.NoError(t, s.rt.ImportImage(ctx, s.image, bytes.NewReader(TestImageTar(t)),
					ctrgate.ImportOptions{Entrypoint: []string{TestProgPath}}), "re-importing the test image")
			}
		}},
	}}
}

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
			_, err = s.rt.Logs(ctx, s.prefix+"missing", ctrgate.LogOptions{Tail: -1})
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
		}},
	}}
}

func gpuGroup() group {
	return group{name: "GPU", tests: []suiteTest{
		{name: "RequestWithoutGPUs", parallel: true, fn: func(t *testing.T, s *suite) {
			ctx := s.ctx(t)
			info, err := s.rt.Info(ctx)
			require.NoError(t, err)
			if info.CDIGPUs {
				s.notApplicable(t, "this machine has CDI GPU devices; the test needs a machine without GPUs")
				return
			}
			name := s.name(t, "gpu-all")
			spec := s.spec(name, "echo", "gpu")
			spec.GPUs = ctrgate.GPURequest{All: true}
			_, err = ctrgate.Run(ctx, s.rt, spec) // create, start, remove on failure
			require.Error(t, err, "a GPU request on a machine without GPUs")
			var gerr *ctrgate.GPUConfigError
			if assert.ErrorAs(t, err, &gerr, "the error is a *GPUConfigError: %v", err) {
				assert.NotEmpty(t, gerr.Hint)
				assert.NotEmpty(t, gerr.Backend)
			}
			s.requireGone(t, ctx, name)
		}},
	}}
}

// assertNoSecrets checks that err's text holds none of the secrets.
func assertNoSecrets(t testing.TB, what string, err error, secrets ...string) {
	t.Helper()
	if err == nil {
		return
	}
	for _, txt := range []string{err.Error(), fmt.Sprintf("%v", err), fmt.Sprintf("%+v", err)} {
		for _, sec := range secrets {
			assert.NotContains(t, txt, sec, "%s: a secret leaked into the error text", what)
		}
	}
}

func secretsGroup() group {
	return group{name: "Secrets", tests: []suiteTest{
		{name: "NotInErrors", parallel: true, fn: func(t *testing.T, s *suite) {
			ctx := s.ctx(t)
			marked := "marked-" + randHex(12)
			token := "token-" + randHex(12)
			env := []ctrgate.EnvVar{
				{Name: "CTG_PLAIN", Value: "plain-value"},
				{Name: "CTG_HIDDEN", Value: marked, Secret: true},
				{Name: "API_TOKEN", Value: token},
			}
			secrets := []string{marked, token}
			withEnv := func(sp ctrgate.ContainerSpec) ctrgate.ContainerSpec {
				sp.Env = append([]ctrgate.EnvVar(nil), env...)
				return sp
			}

			// The values do reach the container.
			name := s.name(t, "sec-ok")
			code, out := s.stdout(t, ctx, withEnv(s.spec(name, "getenv", "CTG_HIDDEN", ";", "getenv", "API_TOKEN")))
			assert.Equal(t, 0, code)
			assert.Equal(t, []string{marked, token}, out)

			// Create with a conflicting name.
			_, err := s.rt.Create(ctx, withEnv(s.spec(name, "exit", "0")))
			assert.ErrorIs(t, err, ctrgate.ErrAlreadyExists)
			assertNoSecrets(t, "create with a taken name", err, secrets...)

			// A container whose program is missing.
			bad := s.name(t, "sec-badprog")
			sp := withEnv(s.spec(bad, "echo", "x"))
			sp.Entrypoint = []string{"/no/such/program-" + randHex(3)}
			_, err = s.rt.Create(ctx, sp)
			assertNoSecrets(t, "create with a missing program", err, secrets...)
			if err == nil {
				err = s.rt.Start(ctx, bad)
				assert.Error(t, err, "starting a container whose program is missing")
				assertNoSecrets(t, "start with a missing program", err, secrets...)
			}

			// An invalid spec.
			sp = withEnv(s.spec(s.name(t, "sec-invalid"), "exit", "0"))
			sp.Ports = []ctrgate.PortMapping{{ContainerPort: 70000}}
			_, err = s.rt.Create(ctx, sp)
			assert.ErrorIs(t, err, ctrgate.ErrInvalidSpec)
			assertNoSecrets(t, "create with an invalid spec", err, secrets...)

			// A missing image.
			sp = withEnv(s.spec(s.name(t, "sec-noimage"), "exit", "0"))
			sp.Image = "localhost/ctrgate/no-such-image-" + randHex(4) + ":v1"
			_, err = s.rt.Create(ctx, sp)
			assert.ErrorIs(t, err, ctrgate.ErrImageNotFound)
			assertNoSecrets(t, "create with a missing image", err, secrets...)

			// A GPU request without GPUs.
			gpu := s.name(t, "sec-gpu")
			sp = withEnv(s.spec(gpu, "exit", "0"))
			sp.GPUs = ctrgate.GPURequest{All: true}
			_, err = ctrgate.Run(ctx, s.rt, sp)
			assertNoSecrets(t, "run with a GPU request", err, secrets...)
		}},
		{name: "NotInExecErrors", parallel: true, fn: func(t *testing.T, s *suite) {
			ctx := s.ctx(t)
			marked := "exec-marked-" + randHex(12)
			token := "exec-token-" + randHex(12)
			env := []ctrgate.EnvVar{{Name: "CTG_EXEC_HIDDEN", Value: marked, Secret: true}, {Name: "MY_API_KEY", Value: token}}

			created := s.name(t, "sec-exec-c")
			s.create(t, ctx, s.spec(created, "exit", "0"))
			_, err := s.rt.Exec(ctx, created, ctrgate.ExecOptions{Cmd: []string{TestProgPath, "env"}, Env: env})
			assert.ErrorIs(t, err, ctrgate.ErrNotRunning)
			assertNoSecrets(t, "exec in a container that is not running", err, marked, token)

			_, err = s.rt.Exec(ctx, s.prefix+"missing-"+randHex(3), ctrgate.ExecOptions{Cmd: []string{TestProgPath, "env"}, Env: env})
			assert.ErrorIs(t, err, ctrgate.ErrNotFound)
			assertNoSecrets(t, "exec in a missing container", err, marked, token)

			running := s.name(t, "sec-exec-r")
			s.run(t, ctx, s.spec(running, sleeper()...))
			s.waitReady(t, ctx, running, "ready")
			r, err := s.rt.Exec(ctx, running, ctrgate.ExecOptions{Cmd: []string{"/no/such/program"}, Env: env})
			if err != nil {
				assertNoSecrets(t, "exec of a missing program", err, marked, token)
			} else {
				assert.NotEqual(t, 0, r.ExitCode, "exec of a missing program")
				assert.NotContains(t, string(r.Stderr)+string(r.Stdout), marked)
				assert.NotContains(t, string(r.Stderr)+string(r.Stdout), token)
			}
			r, err = s.rt.Exec(ctx, running, ctrgate.ExecOptions{Cmd: []string{TestProgPath, "getenv", "CTG_EXEC_HIDDEN"}, Env: env})
			require.NoError(t, err)
			assert.Equal(t, marked+"\n", string(r.Stdout), "the secret reaches the command")

			_, err = s.rt.Exec(ctx, running, ctrgate.ExecOptions{Cmd: []string{TestProgPath}, Env: append(env, ctrgate.EnvVar{Name: "BAD=KEY", Value: "v"})})
			assert.ErrorIs(t, err, ctrgate.ErrInvalidSpec, "exec env key with '='")
			assertNoSecrets(t, "exec with an invalid env", err, marked, token)
		}},
	}}
}
