package conformance

import (
	"context"
	"github.com/ctrgate/ctrgate"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"sync"
	"testing"
)

func concurrencyGroup() group {
	return group{name: "Concurrency", tests: []suiteTest{
		{name: "CreateSameName", parallel: true, fn: func(t *testing.T, s *suite) {
			ctx := s.ctx(t)
			name := s.name(t, "conc-same")
			const n = 8
			var (
				wg    sync.WaitGroup
				start = make(chan struct{})
				errs  = make([]error, n)
				ids   = make([]string, n)
			)
			for i := range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					ids[i], errs[i] = s.rt.Create(ctx, s.spec(name, "exit", itoa(i)))
				}()
			}
			close(start)
			wg.Wait()
			var winners []string
			for i, err := range errs {
				if err == nil {
					winners = append(winners, ids[i])
					continue
				}
				assert.ErrorIs(t, err, ctrgate.ErrAlreadyExists, "create #%d", i)
			}
			require.Len(t, winners, 1, "exactly one concurrent create of a name succeeds")
			c, err := s.rt.Inspect(ctx, name)
			require.NoError(t, err)
			assert.Equal(t, winners[0], c.ID)
			cs, err := s.rt.List(ctx, ctrgate.ListFilter{NamePrefix: name, All: true})
			require.NoError(t, err)
			assert.Len(t, cs, 1)
		}},
		{name: "ParallelRuns", parallel: true, fn: func(t *testing.T, s *suite) {
			ctx := s.ctx(t)
			const n = 4
			var wg sync.WaitGroup
			codes := make([]int, n)
			errs := make([]error, n)
			for i := range n {
				name := s.name(t, "conc-run-"+itoa(i))
				wg.Add(1)
				go func() {
					defer wg.Done()
					codes[i], errs[i] = runCode(ctx, s.rt, s.spec(name, "sleep", "200ms", ";", "exit", itoa(10+i)))
				}()
			}
			wg.Wait()
			for i := range n {
				if assert.NoError(t, errs[i], "run #%d", i) {
					assert.Equal(t, 10+i, codes[i], "run #%d", i)
				}
			}
		}},
	}}
}

// runCode runs spec to its end and returns the exit code (no testing.T:
// safe in goroutines).
func runCode(ctx context.Context, rt ctrgate.ContainerRuntime, spec ctrgate.ContainerSpec) (int, error) {
	if _, err := ctrgate.Run(ctx, rt, spec); err != nil {
		return 0, err
	}
	return rt.Wait(ctx, spec.Name)
}
