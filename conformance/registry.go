package conformance

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime"
	"sync"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/ctrgate/ctrgate"
)

// EnvRegistry names the project's registry (scripts/registry.sh): host:port,
// plain HTTP, which the engines under test are configured to pull from.
const EnvRegistry = "CTRGATE_REGISTRY"

// Registry is the image registry of the Images group's pull tests.
type Registry struct {
	// Host is the registry's host:port as the engine reaches it; the tests
	// push and pull references "Host/ctrgate/...".
	Host string
	// Push stores the test image (its root file system, with opts as the
	// image configuration) in the registry under ref, replacing ref when it
	// exists.
	Push func(ctx context.Context, ref string, opts ctrgate.ImportOptions) error
	// Down is a host:port where no registry answers, as the engine sees it.
	Down string
}

// HTTPRegistry returns the Registry of a registry speaking the OCI
// distribution API over plain HTTP at host (e.g. Debian's docker-registry,
// as scripts/registry.sh starts it). Push uploads the test image with
// go-containerregistry, the same layer every time. Down is 127.0.0.1:1.
func HTTPRegistry(host string) *Registry {
	return &Registry{Host: host, Down: "127.0.0.1:1", Push: pushTestImage}
}

// RegistryFromEnv returns HTTPRegistry($CTRGATE_REGISTRY), or nil when the
// variable is unset.
func RegistryFromEnv() *Registry {
	if h := os.Getenv(EnvRegistry); h != "" {
		return HTTPRegistry(h)
	}
	return nil
}

var (
	layerOnce sync.Once
	layer     v1.Layer
	layerErr  error
)

// testImageLayer is the test image's root file system as one gzip layer,
// built once per process.
func testImageLayer() (v1.Layer, error) {
	layerOnce.Do(func() {
		buildOnce.Do(func() { buildBin, buildErr = buildTestProg() })
		if buildErr != nil {
			layerErr = buildErr
			return
		}
		tarOnce.Do(func() { tarData, tarErr = buildRootfsTar(buildBin) })
		if tarErr != nil {
			layerErr = tarErr
			return
		}
		data := tarData
		layer, layerErr = tarball.LayerFromOpener(func() (io.ReadCloser, error) {
			return io.NopCloser(bytes.NewReader(data)), nil
		}, tarball.WithMediaType(types.DockerLayer))
	})
	return layer, layerErr
}

// pushTestImage pushes the test image under ref (plain HTTP).
func pushTestImage(ctx context.Context, ref string, opts ctrgate.ImportOptions) error {
	l, err := testImageLayer()
	if err != nil {
		return fmt.Errorf("conformance: the test image's layer: %w", err)
	}
	img, err := mutate.AppendLayers(empty.Image, l)
	if err != nil {
		return err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return err
	}
	cf = cf.DeepCopy()
	cf.OS = "linux"
	cf.Architecture = runtime.GOARCH
	cf.Config.Entrypoint = opts.Entrypoint
	cf.Config.Cmd = opts.Cmd
	cf.Config.Env = opts.Env
	cf.Config.WorkingDir = opts.WorkDir
	cf.Config.Labels = opts.Labels
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		return err
	}
	r, err := name.ParseReference(ref, name.Insecure, name.StrictValidation)
	if err != nil {
		return err
	}
	// a transport of its own, closed after the push: no idle connection
	// (and its goroutines) outlives it
	tr := remote.DefaultTransport.(*http.Transport).Clone()
	defer tr.CloseIdleConnections()
	if err := remote.Write(r, img, remote.WithContext(ctx), remote.WithTransport(tr)); err != nil {
		return fmt.Errorf("conformance: pushing %s: %w", ref, err)
	}
	return nil
}
