package fake

import (
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/ctrgate/ctrgate"
)

// Registry is an in-memory image registry at one host ("host:port" or a
// host name). A Runtime given it with WithRegistry pulls from it: PullImage
// and Create with PullMissing fetch a reference the runtime does not hold,
// PullAlways fetches it again (a reference pushed anew replaces the local
// image; one pushed once keeps its image ID). While a Runtime has
// registries, a reference on any other host fails to pull with
// ctrgate.ErrRegistryUnavailable, as on an engine whose network reaches
// only those registries. A Registry may serve several runtimes; it is safe
// for concurrent use.
type Registry struct {
	host string

	mu     sync.Mutex
	images map[string]*registryImage // by normalised ref
}

// registryImage is a pushed image: its configuration and the ID a pull
// gives it (the same for every pull of one push, as a digest is).
type registryImage struct {
	id  string
	cfg ImageConfig
}

// NewRegistry returns an empty registry at host (e.g. "registry.test:5000").
// It panics when host is empty or holds a '/'.
func NewRegistry(host string) *Registry {
	if host == "" || strings.Contains(host, "/") {
		panic(fmt.Sprintf("fake: NewRegistry(%q): want a host or host:port", host))
	}
	return &Registry{host: host, images: map[string]*registryImage{}}
}

// Host returns the registry's host, the first element of the references
// it serves.
func (g *Registry) Host() string { return g.host }

// Push stores an image with configuration cfg under ref, which must name
// this registry's host (cfg.Files are the image's files, as for AddImage).
// Pushing over an existing reference replaces it.
func (g *Registry) Push(ref string, cfg ImageConfig) error {
	if err := ctrgate.ValidateImageRef(ref); err != nil {
		return err
	}
	if refDomain(ref) != g.host {
		return &ctrgate.SpecError{Field: "ref", Reason: fmt.Sprintf("%q is not on registry %s", ref, g.host)}
	}
	img := &registryImage{id: newID(), cfg: cloneConfig(cfg)}
	img.cfg.Files = cloneFiles(cfg.Files)
	g.mu.Lock()
	defer g.mu.Unlock()
	g.images[normalizeRef(ref)] = img
	return nil
}

// Delete removes ref from the registry; it reports whether it was there.
func (g *Registry) Delete(ref string) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	key := normalizeRef(ref)
	_, ok := g.images[key]
	delete(g.images, key)
	return ok
}

// lookup returns the pushed image of ref.
func (g *Registry) lookup(ref string) (*registryImage, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	img, ok := g.images[normalizeRef(ref)]
	return img, ok
}

// WithRegistry makes the runtime pull from reg (see Registry). It may be
// given more than once, for registries at other hosts.
func WithRegistry(reg *Registry) Option {
	return func(r *engine) {
		if reg != nil {
			r.registries = append(r.registries, reg)
		}
	}
}

// refDomain returns the registry host of ref as the engines read it: the
// first path element when it looks like a host (holds '.' or ':', or is
// "localhost"), else "docker.io".
func refDomain(ref string) string {
	first, _, found := strings.Cut(ref, "/")
	if found && (strings.ContainsAny(first, ".:") || first == "localhost") {
		return first
	}
	return "docker.io"
}

func cloneFiles(files map[string][]byte) map[string][]byte {
	if files == nil {
		return nil
	}
	out := make(map[string][]byte, len(files))
	for p, data := range files {
		out[p] = append([]byte(nil), data...)
	}
	return out
}

// resolveLocked makes ref available as policy says and returns its image;
// op names the failing method in errors. Without registries, a missing
// image fails with ErrImageNotFound whatever the policy (the fake's
// behaviour before registries, documented in the package doc). r.mu is
// held.
func (r *engine) resolveLocked(op, ref string, policy ctrgate.PullPolicy) (*image, error) {
	key := normalizeRef(ref)
	img, ok := r.images[key]
	if ok && policy != ctrgate.PullAlways {
		return img, nil
	}
	if !ok && (policy == ctrgate.PullNever || len(r.registries) == 0) {
		return nil, imageMissing(op, ref)
	}
	if len(r.registries) == 0 {
		return img, nil // PullAlways with no registry: what is there
	}
	var reg *Registry
	host := refDomain(ref)
	for _, g := range r.registries {
		if g.host == host {
			reg = g
			break
		}
	}
	if reg == nil {
		return nil, engineErr(op, ref, ctrgate.ErrRegistryUnavailable,
			fmt.Sprintf("pinging container registry %s: dial tcp %s: connect: connection refused", host, host), nil)
	}
	pushed, found := reg.lookup(ref)
	if !found {
		return nil, engineErr(op, ref, ctrgate.ErrImageNotFound,
			fmt.Sprintf("reading manifest %s: manifest unknown", ref), nil)
	}
	if ok && img.id == pushed.id {
		return img, nil // the same image: nothing to fetch
	}
	fs, err := imageFS(ref, pushed.cfg.Files)
	if err != nil {
		return nil, engineErr(op, ref, nil, err.Error(), nil)
	}
	img = &image{id: pushed.id, ref: ref, cfg: cloneConfig(pushed.cfg), fs: fs, created: time.Now()}
	r.images[key] = img
	return img, nil
}
