package crossbackend_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ctrgate/ctrgate"
	"github.com/ctrgate/ctrgate/conformance"
	"github.com/ctrgate/ctrgate/podmanapi"
	"github.com/ctrgate/ctrgate/podmancli"
)

// crossImage is the test image as the cross-backend test imports it.
const crossImage = "localhost/ctrgate/testprog:podman-api-cross"

// TestCrossBackend checks that a container made through one Podman
// backend looks the same through the other on the same engine: podmancli
// (the podman binary on the service's storage) and podmanapi (the REST
// service). Both runtimes are compared field by field on ID, name, image,
// labels, state, published ports and exit code.
func TestCrossBackend(t *testing.T) {
	if os.Getenv("CONTAINERS_CONF") == "" || os.Getenv(podmanapi.EnvSocket) == "" {
		msg := "the Podman service and CLI of scripts/podman.sh are not provisioned: " +
			`eval "$(scripts/podman.sh env)" (CONTAINERS_CONF or ` + podmanapi.EnvSocket + " is unset)"
		conformance.EngineMissing(t, msg)
	}
	nctx, ncancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer ncancel()
	api, err := podmanapi.New(nctx, podmanapi.Config{}) // the service of $CTRGATE_PODMAN_SOCKET
	require.NoError(t, err, "podman-api runtime")
	t.Cleanup(func() { _ = api.Close() })
	cfg, err := podmancli.ConfigFromEnv()
	require.NoError(t, err)
	cli, err := podmancli.New(cfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = cli.Close() })

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	require.NoError(t, api.ImportImage(ctx, crossImage, bytes.NewReader(conformance.TestImageTar(t)),
		ctrgate.ImportOptions{Entrypoint: []string{conformance.TestProgPath}}))

	b := make([]byte, 4)
	_, _ = rand.Read(b)
	prefix := "ctg-x-" + hex.EncodeToString(b) + "-"

	backends := []struct {
		name string
		rt   ctrgate.ContainerRuntime
	}{{"podman-cli", cli}, {"podman-api", api}}
	for i, maker := range backends {
		seer := backends[1-i]
		t.Run(maker.name+"-seen-by-"+seer.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			name := prefix + maker.name
			done := prefix + maker.name + "-exit"
			t.Cleanup(func() {
				cctx, ccancel := context.WithTimeout(context.Background(), 30*time.Second)
				defer ccancel()
				assert.NoError(t, ctrgate.FirstError(ctrgate.RemoveAll(cctx, api, []string{name, done})))
			})
			labels := map[string]string{"ctrgate.test/cross": maker.name, "ctrgate.test/empty": ""}

			// created, with a port the engine picks
			id, err := maker.rt.Create(ctx, ctrgate.ContainerSpec{
				Name: name, Image: crossImage, PullPolicy: ctrgate.PullNever,
				Command: []string{"sleep", "60"}, Labels: labels,
				Ports: []ctrgate.PortMapping{{ContainerPort: 8080}},
			})
			require.NoError(t, err)
			same(t, ctx, maker.rt, seer.rt, name, id, ctrgate.StateCreated)

			// running
			require.NoError(t, maker.rt.Start(ctx, name))
			c := same(t, ctx, maker.rt, seer.rt, name, id, ctrgate.StateRunning)
			require.Len(t, c.Ports, 1)
			assert.Equal(t, 8080, c.Ports[0].ContainerPort)
			assert.NotZero(t, c.Ports[0].HostPort, "the engine assigns a host port")
			for _, rt := range []ctrgate.ContainerRuntime{maker.rt, seer.rt} {
				list, err := rt.List(ctx, ctrgate.ListFilter{NamePrefix: name, Labels: map[string]string{"ctrgate.test/cross": maker.name}})
				require.NoError(t, err)
				require.Len(t, list, 1)
				assert.Equal(t, id, list[0].ID)
				assert.Equal(t, ctrgate.StateRunning, list[0].State.Status)
				assert.Equal(t, labels, list[0].Labels)
				assert.Equal(t, c.Ports, list[0].Ports)
			}
			// stopped through the other backend, seen exited by both
			require.NoError(t, seer.rt.Stop(ctx, name, 0))
			c = same(t, ctx, maker.rt, seer.rt, name, id, ctrgate.StateExited)
			assert.Equal(t, 137, c.State.ExitCode, "killed at once: 128+SIGKILL")

			// exit code of a run to completion, waited for on the other side
			_, err = ctrgate.Run(ctx, maker.rt, ctrgate.ContainerSpec{
				Name: done, Image: crossImage, PullPolicy: ctrgate.PullNever,
				Command: []string{"echo", "bye", ";", "exit", "3"},
			})
			require.NoError(t, err)
			code, err := seer.rt.Wait(ctx, done)
			require.NoError(t, err)
			assert.Equal(t, 3, code)
			code, err = maker.rt.Wait(ctx, done)
			require.NoError(t, err)
			assert.Equal(t, 3, code)
			c = same(t, ctx, maker.rt, seer.rt, done, "", ctrgate.StateExited)
			assert.Equal(t, 3, c.State.ExitCode)
		})
	}
}

// same inspects name through both runtimes, checks that they agree with
// each other (and with id and want, when given) and returns one of them.
func same(t *testing.T, ctx context.Context, a, b ctrgate.ContainerRuntime, name, id string, want ctrgate.State) *ctrgate.Container {
	t.Helper()
	ca, err := a.Inspect(ctx, name)
	require.NoError(t, err)
	cb, err := b.Inspect(ctx, name)
	require.NoError(t, err)
	if id != "" {
		assert.Equal(t, id, ca.ID)
	}
	assert.Equal(t, ca.ID, cb.ID)
	assert.Equal(t, name, ca.Name)
	assert.Equal(t, ca.Name, cb.Name)
	assert.Equal(t, ca.Image, cb.Image)
	assert.Equal(t, ca.ImageID, cb.ImageID)
	assert.Equal(t, normLabels(ca.Labels), normLabels(cb.Labels))
	assert.Equal(t, ca.Ports, cb.Ports)
	assert.Equal(t, want, ca.State.Status)
	assert.Equal(t, ca.State.Status, cb.State.Status)
	assert.Equal(t, ca.State.ExitCode, cb.State.ExitCode)
	assert.Equal(t, ca.State.Pid, cb.State.Pid)
	assert.True(t, ca.Created.Equal(cb.Created), "created %s vs %s", ca.Created, cb.Created)
	assert.True(t, ca.State.StartedAt.Equal(cb.State.StartedAt), "started %s vs %s", ca.State.StartedAt, cb.State.StartedAt)
	return ca
}

// normLabels makes "no labels" one value: podmancli reports an empty map,
// podmanapi nil.
func normLabels(m map[string]string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	return m
}
