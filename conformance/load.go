package conformance

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

// LoadRuns is how many times RunUnderLoad repeats BulkInOrder.
const LoadRuns = 20

// loadParallel is how many of those runs go at once.
const loadParallel = 4

// LoadTimeout bounds RunUnderLoad as a whole.
const LoadTimeout = 6 * time.Minute

// RunUnderLoad is the load lane of the suite: while busy goroutines keep
// every CPU of the machine occupied (one per CPU, on their own OS threads,
// so the engine's processes compete with them), it runs the Logs and
// Readiness groups again, then BulkInOrder LoadRuns times (loadParallel at
// once), and reports how many lines the followed reads lost or repeated
// in all: 0 is the only passing number. Like Run, it must not run in
// parallel with other tests of the same process.
func RunUnderLoad(t *testing.T, h Harness) {
	s, ignore := setUp(t, h, true)
	rt := s.rt

	stop := startLoad(runtime.NumCPU())
	began := time.Now()
	deadline := time.AfterFunc(LoadTimeout, func() {
		panic(fmt.Sprintf("conformance: %s: the load lane took more than %v", h.Name, LoadTimeout))
	})
	var groups []group
	for _, g := range allGroups() {
		if g.name == "Logs" || g.name == "Readiness" {
			groups = append(groups, g)
		}
	}
	s.runGroups(t, groups)

	var lost, doubled, failed atomic.Int64
	t.Run("BulkInOrderRepeated", func(t *testing.T) {
		sem := make(chan struct{}, loadParallel)
		for i := range LoadRuns {
			t.Run(fmt.Sprintf("Run%02d", i+1), func(t *testing.T) {
				t.Parallel()
				sem <- struct{}{}
				defer func() { <-sem }()
				l, d := bulkInOrder(t, s, fmt.Sprintf("load-bulk-%d", i+1))
				lost.Add(int64(l))
				doubled.Add(int64(d))
				if t.Failed() {
					failed.Add(1)
				}
			})
		}
	})
	loadFor := time.Since(began)
	stop()
	deadline.Stop()
	t.Logf("load lane %s: BulkInOrder under load, %d runs of %d lines: %d runs failed, %d lines lost, %d delivered twice (%s under load on %d CPUs)",
		h.Name, LoadRuns, bulkLines, failed.Load(), lost.Load(), doubled.Load(), loadFor.Round(100*time.Millisecond), runtime.NumCPU())
	s.summary(t, loadFor)
	require.NoError(t, rt.Close())
	require.NoError(t, goleak.Find(ignore), "goroutines left running after Close")
}

// startLoad keeps n CPUs busy until the returned function is called.
func startLoad(n int) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			x := uint64(1)
			for ctx.Err() == nil {
				for range 1 << 16 {
					x = x*6364136223846793005 + 1442695040888963407
				}
			}
			_ = x
		}()
	}
	return func() { cancel(); wg.Wait() }
}
