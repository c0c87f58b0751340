//go:build ctrgate_bench

package sidebyside

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"time"

	dockercontainer "github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/client"
	"github.com/docker/docker/pkg/stdcopy"

	"github.com/containers/podman/v5/pkg/api/handlers"
	"github.com/containers/podman/v5/pkg/bindings"
	"github.com/containers/podman/v5/pkg/bindings/containers"
	"github.com/containers/podman/v5/pkg/specgen"
)

// raw is the raw client an operation of ctrgate is measured against.
type raw interface {
	// what names the raw client ("podman CLI", "bindings", "docker client").
	what() string
	inspect(ctx context.Context, name string) error
	list(ctx context.Context, prefix string) (int, error)
	// exec runs `testprog echo x` in the running container.
	exec(ctx context.Context, name string) error
	// lifecycle runs `testprog exit 0` to its end and removes it.
	lifecycle(ctx context.Context, image, name string) error
	// exitToWait runs `testprog sleep 300ms`, waits for it and returns the
	// time from its exit (FinishedAt) to the wait's return; it removes it.
	exitToWait(ctx context.Context, image, name string) (time.Duration, error)
}

// ---------------------------------------------------------------- podman CLI

// podmanCLI is the podman binary, as exec.Command("podman", ...) users
// call it, on local storage (this process's environment: CONTAINERS_CONF
// of scripts/podman.sh; CONTAINER_HOST and CONTAINER_CONNECTION left out).
type podmanCLI struct{ args []string }

// localEnv is this process's environment without what makes podman a
// remote client.
func localEnv() []string {
	var env []string
	for _, e := range os.Environ() {
		if !strings.HasPrefix(e, "CONTAINER_HOST=") && !strings.HasPrefix(e, "CONTAINER_CONNECTION=") {
			env = append(env, e)
		}
	}
	return env
}

func (p podmanCLI) what() string { return "podman CLI" }

func (p podmanCLI) run(ctx context.Context, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, "podman", append(append([]string(nil), p.args...), args...)...)
	cmd.Env = localEnv()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return out, fmt.Errorf("podman %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return out, nil
}

func (p podmanCLI) inspect(ctx context.Context, name string) error {
	out, err := p.run(ctx, "container", "inspect", "--format", "json", name)
	if err != nil {
		return err
	}
	var v []map[string]any
	return json.Unmarshal(out, &v)
}

func (p podmanCLI) list(ctx context.Context, prefix string) (int, error) {
	out, err := p.run(ctx, "ps", "-a", "--format", "json", "--filter", "name=^"+regexp.QuoteMeta(prefix))
	if err != nil {
		return 0, err
	}
	var v []map[string]any
	err = json.Unmarshal(out, &v)
	return len(v), err
}

func (p podmanCLI) exec(ctx context.Context, name string) error {
	out, err := p.run(ctx, "exec", name, testProg, "echo", "x")
	if err == nil && string(out) != "x\n" {
		err = fmt.Errorf("podman exec: %q", out)
	}
	return err
}

func (p podmanCLI) lifecycle(ctx context.Context, image, name string) error {
	_, err := p.run(ctx, "run", "--rm", "--name", name, image, "exit", "0")
	return err
}

func (p podmanCLI) exitToWait(ctx context.Context, image, name string) (time.Duration, error) {
	defer p.run(context.WithoutCancel(ctx), "rm", "-f", name) //nolint:errcheck
	if _, err := p.run(ctx, "run", "-d", "--name", name, image, "sleep", "300ms"); err != nil {
		return 0, err
	}
	if _, err := p.run(ctx, "wait", name); err != nil {
		return 0, err
	}
	returned := time.Now()
	out, err := p.run(ctx, "container", "inspect", "--format", "{{.State.FinishedAt.Format \"2006-01-02T15:04:05.999999999Z07:00\"}}", name)
	if err != nil {
		return 0, err
	}
	fin, err := time.Parse(time.RFC3339Nano, strings.TrimSpace(string(out)))
	return returned.Sub(fin), err
}

// ---------------------------------------------------------------- bindings

// podmanBindings is the Podman bindings on a connection to the service.
type podmanBindings struct{ conn context.Context }

func newPodmanBindings(ctx context.Context, uri string) (podmanBindings, error) {
	c, err := bindings.NewConnection(ctx, uri)
	return podmanBindings{conn: c}, err
}

func (p podmanBindings) what() string { return "Podman bindings" }

func (p podmanBindings) inspect(ctx context.Context, name string) error {
	_, err := containers.Inspect(p.conn, name, nil)
	return err
}

func (p podmanBindings) list(ctx context.Context, prefix string) (int, error) {
	cs, err := containers.List(p.conn, new(containers.ListOptions).WithAll(true).
		WithFilters(map[string][]string{"name": {"^" + regexp.QuoteMeta(prefix)}}))
	return len(cs), err
}

func (p podmanBindings) exec(ctx context.Context, name string) error {
	id, err := containers.ExecCreate(p.conn, name, &handlers.ExecCreateConfig{ExecOptions: dockercontainer.ExecOptions{
		AttachStdout: true, AttachStderr: true, Cmd: []string{testProg, "echo", "x"}}})
	if err != nil {
		return err
	}
	var out, errb bytes.Buffer
	ow, ew := io.Writer(&out), io.Writer(&errb)
	t := true
	if err := containers.ExecStartAndAttach(p.conn, id, &containers.ExecStartAndAttachOptions{
		OutputStream: &ow, ErrorStream: &ew, AttachOutput: &t, AttachError: &t}); err != nil {
		return err
	}
	if out.String() != "x\n" {
		return fmt.Errorf("exec: %q", out.String())
	}
	_, err = containers.ExecInspect(p.conn, id, nil)
	return err
}

func (p podmanBindings) create(image, name string, cmd ...string) (string, error) {
	s := specgen.NewSpecGenerator(image, false)
	s.Name = name
	s.Command = cmd
	r, err := containers.CreateWithSpec(p.conn, s, nil)
	return r.ID, err
}

func (p podmanBindings) remove(id string) {
	_, _ = containers.Remove(p.conn, id, new(containers.RemoveOptions).WithForce(true))
}

func (p podmanBindings) lifecycle(ctx context.Context, image, name string) error {
	id, err := p.create(image, name, "exit", "0")
	if err != nil {
		return err
	}
	defer p.remove(id)
	if err := containers.Start(p.conn, id, nil); err != nil {
		return err
	}
	_, err = containers.Wait(p.conn, id, nil)
	return err
}

func (p podmanBindings) exitToWait(ctx context.Context, image, name string) (time.Duration, error) {
	id, err := p.create(image, name, "sleep", "300ms")
	if err != nil {
		return 0, err
	}
	defer p.remove(id)
	if err := containers.Start(p.conn, id, nil); err != nil {
		return 0, err
	}
	if _, err := containers.Wait(p.conn, id, nil); err != nil {
		return 0, err
	}
	returned := time.Now()
	d, err := containers.Inspect(p.conn, id, nil)
	if err != nil {
		return 0, err
	}
	return returned.Sub(d.State.FinishedAt), nil
}

// ---------------------------------------------------------------- docker client

// dockerClient is the Docker Engine API client.
type dockerClient struct{ cli *client.Client }

func newDockerClient(host string) (dockerClient, error) {
	cli, err := client.NewClientWithOpts(client.WithHost(host), client.WithAPIVersionNegotiation())
	return dockerClient{cli: cli}, err
}

func (d dockerClient) what() string { return "Docker client" }

func (d dockerClient) inspect(ctx context.Context, name string) error {
	_, err := d.cli.ContainerInspect(ctx, name)
	return err
}

func (d dockerClient) list(ctx context.Context, prefix string) (int, error) {
	cs, err := d.cli.ContainerList(ctx, dockercontainer.ListOptions{All: true,
		Filters: filters.NewArgs(filters.Arg("name", "^/"+regexp.QuoteMeta(prefix)))})
	return len(cs), err
}

func (d dockerClient) exec(ctx context.Context, name string) error {
	created, err := d.cli.ContainerExecCreate(ctx, name, dockercontainer.ExecOptions{
		AttachStdout: true, AttachStderr: true, Cmd: []string{testProg, "echo", "x"}})
	if err != nil {
		return err
	}
	att, err := d.cli.ContainerExecAttach(ctx, created.ID, dockercontainer.ExecAttachOptions{})
	if err != nil {
		return err
	}
	defer att.Close()
	var out, errb bytes.Buffer
	if _, err := stdcopy.StdCopy(&out, &errb, att.Reader); err != nil {
		return err
	}
	if out.String() != "x\n" {
		return fmt.Errorf("exec: %q", out.String())
	}
	_, err = d.cli.ContainerExecInspect(ctx, created.ID)
	return err
}

func (d dockerClient) create(ctx context.Context, image, name string, cmd ...string) (string, error) {
	r, err := d.cli.ContainerCreate(ctx, &dockercontainer.Config{Image: image, Cmd: cmd}, nil, nil, nil, name)
	return r.ID, err
}

func (d dockerClient) remove(id string) {
	_ = d.cli.ContainerRemove(context.Background(), id, dockercontainer.RemoveOptions{Force: true})
}

func (d dockerClient) wait(ctx context.Context, id string) error {
	ch, errs := d.cli.ContainerWait(ctx, id, dockercontainer.WaitConditionNotRunning)
	select {
	case <-ch:
		return nil
	case err := <-errs:
		return err
	}
}

func (d dockerClient) lifecycle(ctx context.Context, image, name string) error {
	id, err := d.create(ctx, image, name, "exit", "0")
	if err != nil {
		return err
	}
	defer d.remove(id)
	if err := d.cli.ContainerStart(ctx, id, dockercontainer.StartOptions{}); err != nil {
		return err
	}
	return d.wait(ctx, id)
}

func (d dockerClient) exitToWait(ctx context.Context, image, name string) (time.Duration, error) {
	id, err := d.create(ctx, image, name, "sleep", "300ms")
	if err != nil {
		return 0, err
	}
	defer d.remove(id)
	if err := d.cli.ContainerStart(ctx, id, dockercontainer.StartOptions{}); err != nil {
		return 0, err
	}
	if err := d.wait(ctx, id); err != nil {
		return 0, err
	}
	returned := time.Now()
	c, err := d.cli.ContainerInspect(ctx, id)
	if err != nil {
		return 0, err
	}
	fin, err := time.Parse(time.RFC3339Nano, c.State.FinishedAt)
	return returned.Sub(fin), err
}
