package conformance

import (
	"bytes"
	"context"
	"errors"
	"github.com/ctrgate/ctrgate"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"regexp"
	"testing"
	"time"
)

// hexID is what ListImages promises for Image.ID: hex, no "sha256:".
var hexID = regexp.MustCompile(`^[0-9a-f]{12,}$`)

// importLater imports the test image as ref with opts and removes it (with
// force) when the test ends.
func (s *suite) importLater(t *testing.T, ctx context.Context, ref string, opts ctrgate.ImportOptions) {
	t.Helper()
	if opts.Entrypoint == nil {
		opts.Entrypoint = []string{TestProgPath}
	}
	require.NoError(t, s.rt.ImportImage(ctx, ref, bytes.NewReader(TestImageTar(t)), opts), "import %s", ref)
	t.Cleanup(func() {
		cctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		_ = s.rt.RemoveImage(cctx, ref, true)
	})
}

// refsOf returns every reference of the listed images.
// removeImagesLater removes the images *refs names (references or image
// IDs, read when the test ends), with force, when the test ends: after the
// containers of the test (registered later) are gone. An image already gone
// is fine.
func (s *suite) removeImagesLater(t *testing.T, refs *[]string) {
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
		defer cancel()
		for _, ref := range *refs {
			if err := s.rt.RemoveImage(ctx, ref, true); err != nil && !errors.Is(err, ctrgate.ErrImageNotFound) {
				t.Errorf("removing image %s: %v", ref, err)
			}
		}
	})
}

// oneImage returns the one local image named ref.
func (s *suite) oneImage(t *testing.T, ctx context.Context, ref string) ctrgate.Image {
	t.Helper()
	imgs, err := s.rt.ListImages(ctx, ctrgate.ImageFilter{RefPrefix: ref})
	require.NoError(t, err)
	require.Len(t, imgs, 1, "one image named %s: %+v", ref, imgs)
	return imgs[0]
}

// pullFails checks that pulling ref fails with want and never notWant:
// PullImage with PullMissing and PullAlways (an *EngineError of PullImage)
// and Create with the policy create (no container made). Podman retries a
// pull from a registry that does not answer for seconds: one Create only.
func (s *suite) pullFails(t *testing.T, ref string, want, notWant error, what string, create ctrgate.PullPolicy) {
	t.Helper()
	ctx := s.ctx(t)
	for _, p := range []ctrgate.PullPolicy{ctrgate.PullMissing, ctrgate.PullAlways} {
		err := s.rt.PullImage(ctx, ref, p)
		assert.ErrorIs(t, err, want, "PullImage(%s) of %s", p, what)
		assert.NotErrorIs(t, err, notWant, "PullImage(%s) of %s", p, what)
		var ee *ctrgate.EngineError
		if assert.ErrorAs(t, err, &ee) {
			assert.Equal(t, ctrgate.OpPullImage, ee.Op)
		}
		assertSentinelWords(t, err, want, "PullImage of "+what)
	}
	name := s.name(t, "pullfail")
	spec := s.spec(name)
	spec.Image, spec.PullPolicy = ref, create
	_, err := s.rt.Create(ctx, spec)
	assert.ErrorIs(t, err, want, "Create (%s) of %s", create, what)
	assert.NotErrorIs(t, err, notWant, "Create (%s) of %s", create, what)
	s.requireGone(t, ctx, name)
}

func refsOf(imgs []ctrgate.Image) []string {
	var out []string
	for _, im := range imgs {
		out = append(out, im.Refs...)
	}
	return out
}

func imagesGroup() group {
	return group{name: "Images", tests: []suiteTest{
		{name: "ListByPrefixAndLabels", parallel: true, fn: func(t *testing.T, s *suite) {
			ctx := s.ctx(t)
			tag := randHex(4)
			repo := "localhost/ctg-ls-" + tag + "/"
			refA, refB := repo+"a:v1", repo+"b:v1"
			before := time.Now().Add(-time.Hour)
			s.importLater(t, ctx, refA, ctrgate.ImportOptions{Labels: map[string]string{"io.ctrgate.test.ls": tag, "tier": "a"}})
			s.importLater(t, ctx, refB, ctrgate.ImportOptions{Labels: map[string]string{"io.ctrgate.test.ls": tag, "tier": "b"}})

			imgs, err := s.rt.ListImages(ctx, ctrgate.ImageFilter{RefPrefix: repo})
			require.NoError(t, err)
			require.Len(t, imgs, 2, "the two images under %s: %+v", repo, imgs)
			assert.ElementsMatch(t, []string{refA, refB}, refsOf(imgs))
			assert.Less(t, imgs[0].ID, imgs[1].ID, "ordered by ID")
			for _, im := range imgs {
				assert.Regexp(t, hexID, im.ID, "Image.ID is hex without sha256:")
				assert.Positive(t, im.Size, "%v: size", im.Refs)
				assert.Equal(t, tag, im.Labels["io.ctrgate.test.ls"], "%v: labels %v", im.Refs, im.Labels)
				assert.True(t, im.Created.After(before) && im.Created.Before(time.Now().Add(time.Hour)),
					"%v: Created %v is the import time", im.Refs, im.Created)
			}

			imgs, err = s.rt.ListImages(ctx, ctrgate.ImageFilter{RefPrefix: repo, Labels: map[string]string{"io.ctrgate.test.ls": tag, "tier": "b"}})
			require.NoError(t, err)
			assert.Equal(t, []string{refB}, refsOf(imgs), "every label must match")
			imgs, err = s.rt.ListImages(ctx, ctrgate.ImageFilter{Labels: map[string]string{"io.ctrgate.test.ls": tag, "tier": ""}})
			require.NoError(t, err)
			assert.ElementsMatch(t, []string{refA, refB}, refsOf(imgs), "an empty label value matches any value")

			own := map[string]string{"io.ctrgate.test.ls": tag}
			imgs, err = s.rt.ListImages(ctx, ctrgate.ImageFilter{RefPrefix: "localhost/ctg-ls-" + tag + ".", Labels: own})
			require.NoError(t, err)
			assert.Empty(t, imgs, "the prefix is literal, not a pattern")
			imgs, err = s.rt.ListImages(ctx, ctrgate.ImageFilter{RefPrefix: "ctg-ls-" + tag + "/", Labels: own})
			require.NoError(t, err)
			assert.Empty(t, imgs, "the prefix matches the start of a reference, not its middle")
			imgs, err = s.rt.ListImages(ctx, ctrgate.ImageFilter{RefPrefix: repo + "c", Labels: own})
			require.NoError(t, err)
			assert.Empty(t, imgs, "no match is an empty result, not an error")
			imgs, err = s.rt.ListImages(ctx, ctrgate.ImageFilter{Labels: map[string]string{"io.ctrgate.test.ls": tag, "tier": "a,b"}})
			require.NoError(t, err)
			assert.Empty(t, imgs, "a label value with a comma is matched literally")
		}},
		{name: "ListAfterReimport", parallel: true, fn: func(t *testing.T, s *suite) {
			// Importing over a ref moves the tag: exactly one image holds it,
			// with the new labels.
			ctx := s.ctx(t)
			tag := randHex(4)
			repo := "localhost/ctg-re-" + tag + "/"
			ref := repo + "x:v1"
			f := ctrgate.ImageFilter{RefPrefix: repo, Labels: map[string]string{"io.ctrgate.test.re": tag}}
			s.importLater(t, ctx, ref, ctrgate.ImportOptions{Labels: map[string]string{"io.ctrgate.test.re": tag, "gen": "1"}})
			first, err := s.rt.ListImages(ctx, f)
			require.NoError(t, err)
			require.Len(t, first, 1)
			t.Cleanup(func() {
				// the old image loses its tag; remove it by ID
				cctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				defer cancel()
				_ = s.rt.RemoveImage(cctx, first[0].ID, true)
			})
			s.importLater(t, ctx, ref, ctrgate.ImportOptions{Labels: map[string]string{"io.ctrgate.test.re": tag, "gen": "2"}})
			second, err := s.rt.ListImages(ctx, f)
			require.NoError(t, err)
			require.Len(t, second, 1, "one image holds the ref: %+v", second)
			assert.Equal(t, []string{ref}, second[0].Refs)
			assert.Equal(t, "2", second[0].Labels["gen"])
			assert.NotEqual(t, first[0].ID, second[0].ID, "the ref names the new image")
		}},
		{name: "ImportOptionsInContainer", parallel: true, fn: func(t *testing.T, s *suite) {
			// Every ImportOptions field reaches a container of the image:
			// its command, environment and working directory run, and its
			// labels are the container's (engines copy image labels).
			ctx := s.ctx(t)
			tag := randHex(4)
			ref := "localhost/ctg-imp-" + tag + "/img:v1"
			s.importLater(t, ctx, ref, ctrgate.ImportOptions{
				Entrypoint: []string{TestProgPath},
				Cmd:        []string{"getenv", "CTG_IMG", ";", "pwd"},
				Env:        []string{"CTG_IMG=from-image"},
				WorkDir:    "/tmp",
				Labels:     map[string]string{"io.ctrgate.test.imp": tag},
			})
			name := s.name(t, "img-opts")
			spec := s.spec(name)
			spec.Image = ref
			code, out := s.stdout(t, ctx, spec)
			assert.Equal(t, 0, code)
			assert.Equal(t, []string{"from-image", "/tmp"}, out, "the image's Cmd ran with its Env in its WorkDir")
			c, err := s.rt.Inspect(ctx, name)
			require.NoError(t, err)
			assert.Equal(t, tag, c.Labels["io.ctrgate.test.imp"], "the image's labels are the container's: %v", c.Labels)
		}},
		{name: "RemoveInUse", parallel: true, fn: func(t *testing.T, s *suite) {
			// An image a container uses: refused without force, removed with.
			ctx := s.ctx(t)
			ref := "localhost/ctg-rm-" + randHex(4) + "/img:v1"
			s.importLater(t, ctx, ref, ctrgate.ImportOptions{})
			name := s.name(t, "img-inuse")
			spec := s.spec(name, "exit", "0")
			spec.Image = ref
			s.create(t, ctx, spec)
			assert.ErrorIs(t, s.rt.RemoveImage(ctx, ref, false), ctrgate.ErrRunning, "in use, without force")
			ok, err := s.rt.ImageExists(ctx, ref)
			require.NoError(t, err)
			assert.True(t, ok, "a refused RemoveImage keeps the image")
			require.NoError(t, s.rt.RemoveImage(ctx, ref, true), "in use, with force")
			ok, err = s.rt.ImageExists(ctx, ref)
			require.NoError(t, err)
			assert.False(t, ok, "RemoveImage with force removed %s", ref)
		}},
		{name: "PullPolicies", parallel: true, fn: func(t *testing.T, s *suite) {
			// Against a real registry: PullNever never fetches, PullMissing
			// fetches only an absent image, PullAlways fetches again and gets
			// what was pushed since; the pulled image runs.
			reg := s.registry(t)
			if reg == nil {
				return
			}
			ctx := s.ctx(t)
			tag := randHex(4)
			ref := reg.Host + "/ctrgate/ctg-pull-" + tag + ":v1"
			images := []string{ref}
			s.removeImagesLater(t, &images)
			push := func(gen string) {
				t.Helper()
				// the label of this test's own tag: image IDs no other
				// suite on the same engine can share
				require.NoError(t, reg.Push(ctx, ref, ctrgate.ImportOptions{Entrypoint: []string{TestProgPath},
					Cmd: []string{"echo", "gen-" + gen}, Labels: map[string]string{"io.ctrgate.test.pull": tag, "gen": gen}}))
			}
			push("1")
			ok, err := s.rt.ImageExists(ctx, ref)
			require.NoError(t, err)
			require.False(t, ok, "%s is only in the registry", ref)

			err = s.rt.PullImage(ctx, ref, ctrgate.PullNever)
			assert.ErrorIs(t, err, ctrgate.ErrImageNotFound, "PullNever of an image only in the registry")
			name := s.name(t, "pull-never")
			spec := s.spec(name)
			spec.Image = ref
			_, err = s.rt.Create(ctx, spec)
			assert.ErrorIs(t, err, ctrgate.ErrImageNotFound, "Create with PullNever of an image only in the registry")
			ok, err = s.rt.ImageExists(ctx, ref)
			require.NoError(t, err)
			require.False(t, ok, "PullNever fetched nothing")

			require.NoError(t, s.rt.PullImage(ctx, ref, ctrgate.PullMissing), "PullMissing of an absent image")
			first := s.oneImage(t, ctx, ref)
			assert.Equal(t, "1", first.Labels["gen"], "the pushed image: %v", first.Labels)

			push("2")
			require.NoError(t, s.rt.PullImage(ctx, ref, ctrgate.PullMissing), "PullMissing of a present image")
			again := s.oneImage(t, ctx, ref)
			assert.Equal(t, first.ID, again.ID, "PullMissing does not fetch a present image")
			assert.Equal(t, "1", again.Labels["gen"])

			require.NoError(t, s.rt.PullImage(ctx, ref, ctrgate.PullAlways), "PullAlways")
			second := s.oneImage(t, ctx, ref)
			assert.NotEqual(t, first.ID, second.ID, "PullAlways fetched the new push")
			assert.Equal(t, "2", second.Labels["gen"])
			images = append(images, first.ID) // untagged by the new pull

			code, out := s.stdout(t, ctx, spec)
			assert.Equal(t, 0, code)
			assert.Equal(t, []string{"gen-2"}, out, "a container of the pulled image runs its Cmd")
		}},
		{name: "CreatePulls", parallel: true, fn: func(t *testing.T, s *suite) {
			// Create applies spec.PullPolicy: the zero value (PullMissing)
			// fetches an absent image, PullAlways a newer push.
			reg := s.registry(t)
			if reg == nil {
				return
			}
			ctx := s.ctx(t)
			tag := randHex(4)
			ref := reg.Host + "/ctrgate/ctg-cpull-" + tag + ":v1"
			images := []string{ref}
			s.removeImagesLater(t, &images)
			// a label of this test's own: image IDs no other suite on the
			// same engine can share (the cleanup removes one by ID)
			opts := func(word string) ctrgate.ImportOptions {
				return ctrgate.ImportOptions{Entrypoint: []string{TestProgPath}, Cmd: []string{"echo", word},
					Labels: map[string]string{"io.ctrgate.test.pull": tag}}
			}
			require.NoError(t, reg.Push(ctx, ref, opts("first")))
			spec := s.spec(s.name(t, "cpull-missing"))
			spec.Image, spec.PullPolicy = ref, ""
			code, out := s.stdout(t, ctx, spec)
			assert.Equal(t, 0, code)
			assert.Equal(t, []string{"first"}, out, "Create pulled the absent image (zero PullPolicy)")
			old := s.oneImage(t, ctx, ref)

			require.NoError(t, reg.Push(ctx, ref, opts("second")))
			spec = s.spec(s.name(t, "cpull-missing2"))
			spec.Image, spec.PullPolicy = ref, ctrgate.PullMissing
			_, out = s.stdout(t, ctx, spec)
			assert.Equal(t, []string{"first"}, out, "PullMissing keeps the present image")
			spec = s.spec(s.name(t, "cpull-always"))
			spec.Image, spec.PullPolicy = ref, ctrgate.PullAlways
			images = append(images, old.ID) // untagged by the new pull
			_, out = s.stdout(t, ctx, spec)
			assert.Equal(t, []string{"second"}, out, "PullAlways fetched the newer push")
		}},
		{name: "PullUnknownRef", parallel: true, fn: func(t *testing.T, s *suite) {
			// A registry that answers but lacks the reference: ErrImageNotFound.
			reg := s.registry(t)
			if reg == nil {
				return
			}
			s.pullFails(t, reg.Host+"/ctrgate/ctg-nopull-"+randHex(4)+":v1", ctrgate.ErrImageNotFound,
				ctrgate.ErrRegistryUnavailable, "a ref the registry lacks", ctrgate.PullMissing)
		}},
		{name: "PullRegistryDown", parallel: true, fn: func(t *testing.T, s *suite) {
			// No registry answers: ErrRegistryUnavailable, never "no such
			// image" (the image may well exist there).
			reg := s.registry(t)
			if reg == nil {
				return
			}
			s.pullFails(t, reg.Down+"/ctrgate/ctg-down-"+randHex(4)+":v1", ctrgate.ErrRegistryUnavailable,
				ctrgate.ErrImageNotFound, "a registry that does not answer", ctrgate.PullAlways)
		}},
		{name: "ListRejectsBadFilter", parallel: true, fn: func(t *testing.T, s *suite) {
			ctx := s.ctx(t)
			for _, f := range []ctrgate.ImageFilter{
				{Labels: map[string]string{"": "x"}},
				{Labels: map[string]string{"a=b": ""}},
				{RefPrefix: "bad prefix"},
			} {
				_, err := s.rt.ListImages(ctx, f)
				assert.ErrorIs(t, err, ctrgate.ErrInvalidSpec, "filter %+v", f)
			}
		}},
	}}
}
