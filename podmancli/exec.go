package podmancli

import (
	"context"
	"strings"

	"github.com/ctrgate/ctrgate"
	"github.com/ctrgate/ctrgate/internal/libpod"
)

// Exec runs a command in the running container (`podman exec`).
func (r *Runtime) Exec(ctx context.Context, name string, opts ctrgate.ExecOptions) (*ctrgate.ExecResult, error) {
	plan, err := planEnv(opts.Env)
	if err != nil {
		return nil, err
	}
	args := []string{"exec"}
	if opts.Stdin != nil {
		args = append(args, "--interactive")
	}
	if len(plan.fileEntries) > 0 {
		path, cleanup, err := writeEnvFile(plan.fileEntries)
		if err != nil {
			return nil, ctrgate.NewEngineError(BackendName, ctrgate.OpExec, name, nil, "cannot write env file", err, nil)
		}
		defer cleanup()
		args = append(args, "--env-file", path)
	}
	args = append(args, plan.args...)
	if opts.WorkDir != "" {
		args = append(args, "--workdir", opts.WorkDir)
	}
	if opts.User != "" {
		args = append(args, "--user", opts.User)
	}
	args = append(args, "--", name)
	args = append(args, opts.Cmd...)
	res, err := r.run(ctx, ctrgate.OpExec, name, args, runOpts{stdin: opts.Stdin, env: plan.childEnv})
	if err != nil {
		return nil, err
	}
	// podman's own failures exit 125 (remote) or 255 (local, e.g. "can
	// only create exec sessions on running containers") with an "Error: "
	// line; 126 and 127 are the command's (not executable / not found).
	switch {
	case res.code < 0,
		res.code == 125 && isPodmanError(res.stderr),
		res.code == 255 && isPodmanError(res.stderr) && libpod.Classify(ctrgate.OpExec, errorText(res.stderr)) != nil:
		return nil, r.failure(ctrgate.OpExec, name, res)
	}
	return &ctrgate.ExecResult{ExitCode: res.code, Stdout: res.stdout, Stderr: res.stderr}, nil
}

// isPodmanError reports whether stderr ends with podman's own "Error: "
// line (exit status 125 is then podman's, not the command's).
func isPodmanError(stderr []byte) bool {
	lines := strings.Split(strings.TrimSpace(string(stderr)), "\n")
	return strings.HasPrefix(lines[len(lines)-1], "Error: ")
}
