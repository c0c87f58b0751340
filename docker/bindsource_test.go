package docker

import (
	"context"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ctrgate/ctrgate"
	"github.com/ctrgate/ctrgate/logstream"
)

// unixRuntime serves f on a unix socket as well and connects a Runtime to
// it there: an engine on this machine.
func (f *fakeAPI) unixRuntime() *Runtime {
	f.t.Helper()
	dir, err := os.MkdirTemp("", "ctg-api") // short: a socket path has at most 107 bytes
	require.NoError(f.t, err)
	f.t.Cleanup(func() { _ = os.RemoveAll(dir) })
	l, err := net.Listen("unix", filepath.Join(dir, "api.sock"))
	require.NoError(f.t, err)
	srv := &http.Server{Handler: http.HandlerFunc(f.serve)}
	go func() { _ = srv.Serve(l) }()
	f.t.Cleanup(func() { _ = srv.Close() })
	rt, err := NewDriver(context.Background(), Config{Host: "unix://" + l.Addr().String()})
	require.NoError(f.t, err)
	f.t.Cleanup(func() { _ = rt.Close() })
	return rt
}

// bindFake answers the image lookup and container creation of Create.
func bindFake(f *fakeAPI) *fakeAPI {
	f.handle("GET /images/img/json", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, map[string]any{"Id": "sha256:1"})
	})
	f.handle("POST /containers/create", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 201, map[string]any{"Id": "new"})
	})
	return f
}

func bindSpec(source string, relabel ctrgate.Relabel) ctrgate.ContainerSpec {
	return ctrgate.ContainerSpec{Name: "b", Image: "img", PullPolicy: ctrgate.PullNever,
		Mounts: []ctrgate.Mount{{Type: ctrgate.MountBind, Source: source, Target: "/mnt/x", Relabel: relabel}}}
}

func TestMissingBindSourceRefusedOnLocalPodman(t *testing.T) {
	t.Setenv(logstream.EnvEngineRoot, "")
	f := bindFake(podmanFake(t))
	rt := f.unixRuntime()
	require.True(t, rt.IsPodman())
	missing := filepath.Join(t.TempDir(), "no-such-dir")
	for _, relabel := range []ctrgate.Relabel{ctrgate.RelabelNone, ctrgate.RelabelShared} {
		id, err := rt.Create(context.Background(), bindSpec(missing, relabel))
		assert.Empty(t, id)
		var ee *ctrgate.EngineError
		require.ErrorAs(t, err, &ee)
		assert.Equal(t, ctrgate.OpCreate, ee.Op)
		assert.Equal(t, "b", ee.Target)
		assert.Nil(t, ee.Kind, "the podman backends' error: no sentinel")
		assert.Equal(t, "statfs "+missing+": no such file or directory", ee.Message)
		assert.Nil(t, f.last("/containers/create"), "refused before the engine is asked")
	}
	_, err := os.Stat(missing)
	assert.ErrorIs(t, err, os.ErrNotExist)

	id, err := rt.Create(context.Background(), bindSpec(t.TempDir(), ctrgate.RelabelNone))
	require.NoError(t, err, "an existing source is the engine's business")
	assert.Equal(t, "new", id)
}

func TestMissingBindSourceRefusedOnLocalDocker(t *testing.T) {
	t.Setenv(logstream.EnvEngineRoot, "")
	f := bindFake(newFakeAPI(t))
	rt := f.unixRuntime()
	require.False(t, rt.IsPodman())
	missing := filepath.Join(t.TempDir(), "no-such-dir")
	// Docker itself creates the source of a relabelled bind (Binds syntax)
	_, err := rt.Create(context.Background(), bindSpec(missing, ctrgate.RelabelPrivate))
	var ee *ctrgate.EngineError
	require.ErrorAs(t, err, &ee)
	assert.Equal(t, ctrgate.OpCreate, ee.Op)
	assert.ErrorIs(t, err, ctrgate.ErrInvalidSpec, "Docker's own answer for a missing bind source")
	assert.Contains(t, err.Error(), "bind source path does not exist: "+missing)
	assert.Nil(t, f.last("/containers/create"))
}

func TestBindSourceNotCheckedOnRemoteEngine(t *testing.T) {
	t.Setenv(logstream.EnvEngineRoot, "")
	f := bindFake(podmanFake(t))
	rt := f.runtime() // tcp://: the engine's file system is not this one
	require.False(t, rt.local)
	id, err := rt.Create(context.Background(), bindSpec("/no/such/dir/here", ctrgate.RelabelNone))
	require.NoError(t, err)
	assert.Equal(t, "new", id)
	assert.NotNil(t, f.last("/containers/create"))
}

func TestBindSourceUnderEngineRoot(t *testing.T) {
	root := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(root, "srv", "data"), 0o755))
	t.Setenv(logstream.EnvEngineRoot, root)
	f := bindFake(podmanFake(t))
	rt := f.unixRuntime()
	id, err := rt.Create(context.Background(), bindSpec("/srv/data", ctrgate.RelabelNone))
	require.NoError(t, err, "the source exists in the engine's mount namespace")
	assert.Equal(t, "new", id)
	_, err = rt.Create(context.Background(), bindSpec("/srv/other", ctrgate.RelabelNone))
	assert.Error(t, err)
}
