package conformance

import (
	"fmt"
	"github.com/ctrgate/ctrgate"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"testing"
)

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
