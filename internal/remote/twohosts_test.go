package remote_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ctrgate/ctrgate"
	"github.com/ctrgate/ctrgate/conformance"
	"github.com/ctrgate/ctrgate/podmanapi"
)

// TestTwoHostsAtOnce is ExampleStatesByPrefix_twoHosts on real hosts: one
// program holds a podman-api runtime on h1 and one on h2 (over ssh), runs
// containers on both at the same time, round robin, and gathers the states
// from both: each host has exactly its own containers.
func TestTwoHostsAtOnce(t *testing.T) {
	env := remoteFromEnv(t)
	if !inRemoteHome(t, env) {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	image := conformance.TestImageTar(t)
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	prefix := "ctg-two-" + hex.EncodeToString(b) + "-"

	hosts := []struct {
		name string
		url  string
		rt   ctrgate.ContainerRuntime
		want []string
	}{{name: "h1", url: env.h1PodmanURL}, {name: "h2", url: env.h2PodmanURL}}
	for i := range hosts {
		rt, err := podmanapi.New(ctx, podmanapi.Config{URI: hosts[i].url, Identity: env.identity})
		require.NoError(t, err, hosts[i].name)
		t.Cleanup(func() { _ = rt.Close() })
		hosts[i].rt = rt
		require.NoError(t, rt.ImportImage(ctx, smokeImage, bytes.NewReader(image),
			ctrgate.ImportOptions{Entrypoint: []string{conformance.TestProgPath}}), hosts[i].name)
	}

	began := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, 6)
	for i := range 6 {
		h := &hosts[i%2]
		name := fmt.Sprintf("%s%d", prefix, i)
		h.want = append(h.want, name)
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := ctrgate.Run(ctx, h.rt, ctrgate.ContainerSpec{Name: name, Image: smokeImage, PullPolicy: ctrgate.PullNever,
				Command: []string{"exit", fmt.Sprint(i)}}); err != nil {
				errs <- fmt.Errorf("%s: %w", h.name, err)
				return
			}
			if code, err := h.rt.Wait(ctx, name); err != nil || code != i {
				errs <- fmt.Errorf("%s: %s exited %d: %v", h.name, name, code, err)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for _, h := range hosts {
		t.Cleanup(func() {
			cctx, ccancel := context.WithTimeout(context.Background(), time.Minute)
			defer ccancel()
			assert.NoError(t, ctrgate.FirstError(ctrgate.RemoveAll(cctx, h.rt, h.want)))
		})
		states, err := ctrgate.StatesByPrefix(ctx, h.rt, prefix)
		require.NoError(t, err, h.name)
		var got []string
		for name, st := range states {
			got = append(got, name)
			assert.Equal(t, ctrgate.StateExited, st.Status, "%s %s", h.name, name)
		}
		assert.ElementsMatch(t, h.want, got, "%s has exactly its own containers", h.name)
	}
	t.Logf("6 containers run to their end on 2 hosts at once, states gathered from both: %v", time.Since(began).Round(time.Millisecond))
}
