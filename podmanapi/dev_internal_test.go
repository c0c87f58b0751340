package podmanapi

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ctrgate/ctrgate"
)

func TestDevEventsRace(t *testing.T) {
	uri := os.Getenv(EnvSocket)
	if uri == "" {
		t.Skip("no service")
	}
	ctx := context.Background()
	rt, err := New(ctx, Config{URI: uri})
	require.NoError(t, err)
	defer rt.Close()
	for _, since := range []bool{false, true} {
		eventsSince = since
		missed := 0
		var total time.Duration
		for i := 0; i < 10; i++ {
			name := "pa-dev-ev-" + time.Now().Format("150405.000000")
			t0 := time.Now()
			s, err := rt.Events(ctx, ctrgate.EventFilter{NamePrefix: name})
			require.NoError(t, err)
			total += time.Since(t0)
			_, err = rt.Create(ctx, ctrgate.ContainerSpec{Name: name, Image: "localhost/ctrgate/podmanapi-dev:1", Command: []string{"exit", "0"}})
			require.NoError(t, err)
			got := make(chan bool, 1)
			go func() {
				e, err := s.Next()
				got <- err == nil && e.Type == ctrgate.EventCreate
			}()
			select {
			case ok := <-got:
				if !ok {
					missed++
				}
			case <-time.After(2 * time.Second):
				missed++
			}
			s.Close()
			<-got
			require.NoError(t, rt.Remove(ctx, name, ctrgate.RemoveOptions{Force: true}))
		}
		t.Logf("since=%v missed %d/10, Events() took %s on average", since, missed, total/10)
	}
}
