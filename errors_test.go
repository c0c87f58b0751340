package ctrgate_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ctrgate/ctrgate"
)

var sentinels = []error{
	ctrgate.ErrNotFound, ctrgate.ErrAlreadyExists, ctrgate.ErrNotRunning, ctrgate.ErrRunning,
	ctrgate.ErrImageNotFound, ctrgate.ErrInvalidSpec, ctrgate.ErrEngineUnavailable, ctrgate.ErrUnsupported,
}

func TestSentinelsDistinct(t *testing.T) {
	for i, a := range sentinels {
		for j, b := range sentinels {
			assert.Equal(t, i == j, errors.Is(a, b), "%v vs %v", a, b)
		}
	}
}

func TestEngineErrorIsKind(t *testing.T) {
	for _, kind := range sentinels {
		err := error(ctrgate.NewEngineError("podman-cli", "inspect", "web", kind, "Error: no such container web", nil, nil))
		assert.ErrorIs(t, err, kind)
		for _, other := range sentinels {
			if other != kind {
				assert.NotErrorIs(t, err, other, "%v must not match %v", err, other)
			}
		}
		var ee *ctrgate.EngineError
		require.ErrorAs(t, fmt.Errorf("wrapped: %w", err), &ee)
		assert.Equal(t, "podman-cli", ee.Backend)
		assert.Equal(t, "inspect", ee.Op)
		assert.Equal(t, "web", ee.Target)
		assert.Equal(t, kind, ee.Kind)
	}
}

func TestEngineErrorText(t *testing.T) {
	tests := []struct {
		name string
		e    *ctrgate.EngineError
		want string
	}{
		{"message", ctrgate.NewEngineError("podman-cli", "inspect", "web", ctrgate.ErrNotFound, "  no such container web\n", nil, nil),
			"podman-cli: inspect web: no such container web"},
		{"engine words differ from the sentinel's", ctrgate.NewEngineError("podman-cli", "rmi", "img", ctrgate.ErrImageNotFound, "Error: img: image not known", nil, nil),
			"podman-cli: rmi img: no such image: Error: img: image not known"},
		{"kind only", ctrgate.NewEngineError("docker", "start", "web", ctrgate.ErrNotFound, "", nil, nil),
			"docker: start web: no such container"},
		{"no target", ctrgate.NewEngineError("docker", "info", "", ctrgate.ErrEngineUnavailable, "", nil, nil),
			"docker: info: container engine unavailable"},
		{"message and cause", ctrgate.NewEngineError("podman-cli", "create", "web", nil, "boom", errors.New("exit status 125"), nil),
			"podman-cli: create web: boom: exit status 125"},
		{"cause already in message", ctrgate.NewEngineError("podman-api", "list", "", nil, "dial: connection refused", errors.New("connection refused"), nil),
			"podman-api: list: dial: connection refused"},
		{"cause only", ctrgate.NewEngineError("fake", "wait", "w", nil, "", context.DeadlineExceeded, nil),
			"fake: wait w: context deadline exceeded"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, tc.e.Error())
		})
	}
}

func TestEngineErrorUnwrapsCause(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 0)
	defer cancel()
	<-ctx.Done()
	err := error(ctrgate.NewEngineError("podman-cli", "ps", "", nil, "", fmt.Errorf("running podman: %w", ctx.Err()), nil))
	assert.ErrorIs(t, err, context.DeadlineExceeded)

	// errors.As reaches a concrete cause, also through the redacting wrapper.
	cmdErr := exec.Command("/bin/sh", "-c", "exit 3").Run()
	var xe *exec.ExitError
	require.ErrorAs(t, cmdErr, &xe)
	for _, secrets := range [][]string{nil, {"exit status"}} {
		err := error(ctrgate.NewEngineError("podman-cli", "run", "w", ctrgate.ErrNotFound, "m", cmdErr, secrets))
		var got *exec.ExitError
		require.ErrorAs(t, err, &got, "secrets %v", secrets)
		assert.Equal(t, 3, got.ExitCode())
		assert.ErrorIs(t, err, ctrgate.ErrNotFound)
		assert.ErrorIs(t, err, cmdErr)
	}

	// A plain sentinel as cause stays itself.
	e := ctrgate.NewEngineError("x", "op", "", nil, "", ctrgate.ErrUnsupported, []string{"supported"})
	assert.Same(t, ctrgate.ErrUnsupported, e.Err)
	assert.ErrorIs(t, e, ctrgate.ErrUnsupported)
	assert.NotErrorIs(t, e, os.ErrNotExist)
}

func TestEngineErrorRedaction(t *testing.T) {
	const secret = "opaque-s3cret-value"
	secrets := []string{secret}
	cause := fmt.Errorf("podman run -e MY_VAR=%s img: %w", secret, &os.PathError{Op: "fork", Path: "/usr/bin/podman", Err: os.ErrPermission})
	e := ctrgate.NewEngineError("podman-cli", "create", "web", nil,
		"Error: bad env MY_VAR="+secret+" and API_KEY=other-key-value", cause, secrets)

	assert.NotContains(t, e.Message, secret)
	assert.NotContains(t, e.Message, "other-key-value", "sensitive KEY=VALUE pairs are masked too")
	assert.Contains(t, e.Message, "[REDACTED]")
	require.NotNil(t, e.Err)
	assert.NotContains(t, e.Err.Error(), secret, "the wrapped cause prints redacted")
	assert.NotContains(t, e.Error(), secret)
	assert.NotContains(t, e.Error(), "other-key-value")
	assert.NotContains(t, fmt.Sprintf("%v %+v %s", e, e, e), secret)

	// Identity of the cause survives redaction.
	assert.ErrorIs(t, e, cause)
	assert.ErrorIs(t, e, os.ErrPermission)
	var pe *os.PathError
	require.ErrorAs(t, e, &pe)
	assert.Equal(t, "fork", pe.Op)

	// A cause without secrets is kept as is.
	plain := errors.New("exit status 1")
	e2 := ctrgate.NewEngineError("podman-cli", "create", "", nil, "", plain, secrets)
	assert.Same(t, plain, e2.Err)
}

func TestEngineErrorRedactsSensitivePairsWithoutSecrets(t *testing.T) {
	// Even a hand-built EngineError (no NewEngineError) prints no KEY=VALUE secrets.
	e := &ctrgate.EngineError{Backend: "b", Op: "op", Message: "GITHUB_TOKEN=ghp_abcdef failed"}
	assert.NotContains(t, e.Error(), "ghp_abcdef")
}

func TestGPUConfigError(t *testing.T) {
	const secret = "gpu-s3cret-token"
	cause := errors.New("exit status 125 (HF_TOKEN=" + secret + ")")
	msg := "Error: setting up CDI devices: unresolvable CDI devices nvidia.com/gpu=all " + secret
	e := ctrgate.NewGPUConfigError("podman-cli", msg, cause, []string{secret})
	var err error = fmt.Errorf("create: %w", e)

	var gce *ctrgate.GPUConfigError
	require.ErrorAs(t, err, &gce)
	assert.Equal(t, "podman-cli", gce.Backend)
	assert.Equal(t, ctrgate.GPUHint, gce.Hint)
	assert.NotContains(t, gce.Message, secret)
	assert.Contains(t, gce.Message, "unresolvable CDI devices nvidia.com/gpu=all")
	assert.NotContains(t, err.Error(), secret)
	assert.NotContains(t, gce.Err.Error(), secret, "the cause prints redacted")
	assert.ErrorIs(t, err, cause)
	assert.Contains(t, err.Error(), "GPU configuration error")
	assert.Contains(t, err.Error(), "nvidia-ctk cdi generate")
	for _, s := range sentinels {
		assert.NotErrorIs(t, err, s)
	}

	e2 := ctrgate.NewGPUConfigError("docker", "x", nil, nil)
	assert.NoError(t, e2.Unwrap())
}

func TestExitedError(t *testing.T) {
	var err error = fmt.Errorf("ready: %w", &ctrgate.ExitedError{Name: "job", ExitCode: 124})
	assert.ErrorIs(t, err, ctrgate.ErrNotRunning)
	assert.NotErrorIs(t, err, ctrgate.ErrNotFound)
	var xe *ctrgate.ExitedError
	require.ErrorAs(t, err, &xe)
	assert.Equal(t, 124, xe.ExitCode)
	assert.Equal(t, "job", xe.Name)
	assert.Equal(t, "ready: container job exited with code 124", err.Error())
}

func TestEngineErrorPrefixNotMangled(t *testing.T) {
	e := ctrgate.NewEngineError("podman-api", "inspect", "api", ctrgate.ErrNotFound, "", nil, nil)
	assert.Equal(t, "podman-api: inspect api: no such container", e.Error())
	e = ctrgate.NewEngineError("podman-api", "start", "my_token", nil, "boom", nil, nil)
	assert.Equal(t, "podman-api: start my_token: boom", e.Error())
	g := ctrgate.NewGPUConfigError("podman-api", "unresolvable CDI devices nvidia.com/gpu=all", nil, nil)
	assert.Equal(t, "podman-api: GPU configuration error: unresolvable CDI devices nvidia.com/gpu=all (hint: "+ctrgate.GPUHint+")", g.Error())
}
