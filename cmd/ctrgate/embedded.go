package main

import (
	"fmt"

	"github.com/ctrgate/ctrgate/conformance/testprog"
	"github.com/ctrgate/ctrgate/fake"
)

// embeddedImage is the image the in-memory fake offers: its entrypoint is
// the conformance test program.
const embeddedImage = "testimage"

// embeddedProgPath is where the test program is registered in the fake; it
// equals conformance.TestProgPath (checked by a test; the conformance
// package itself is not linked into the binary because it imports testing).
const embeddedProgPath = "/testprog"

// seedFake registers the conformance test program and adds the image
// "testimage" running it, so the fake can run real commands.
func seedFake(rt *fake.Runtime) error {
	rt.RegisterProgram(embeddedProgPath, func(p *fake.Process) int { return testprog.Main(p) })
	if err := rt.AddImage(embeddedImage, fake.ImageConfig{Entrypoint: []string{embeddedProgPath}}); err != nil {
		return fmt.Errorf("preparing the in-memory fake: %w", err)
	}
	return nil
}

// newEmbeddedFake returns a fresh fake runtime seeded with testimage.
func newEmbeddedFake() (*fake.Runtime, error) {
	rt := fake.New()
	if err := seedFake(rt); err != nil {
		_ = rt.Close()
		return nil, err
	}
	return rt, nil
}
