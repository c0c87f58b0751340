//go:build ctrgate_bench

package sidebyside

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// pair is one iteration's two measurements: ctrgate's and the raw one's.
type pair struct{ ctg, raw time.Duration }

// row is one line of the table.
type row struct {
	backend, op, raw string
	pairs            []pair
	note             string
}

// quantile returns the q-quantile (0..1) of sorted ds.
func quantile(ds []time.Duration, q float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	i := int(q * float64(len(ds)-1))
	return ds[i]
}

func sorted(ps []pair, f func(pair) time.Duration) []time.Duration {
	out := make([]time.Duration, len(ps))
	for i, p := range ps {
		out[i] = f(p)
	}
	slices.Sort(out)
	return out
}

// ratio is the median of the pairwise ratios ctrgate ÷ raw.
func (r row) ratio() float64 {
	var rs []float64
	for _, p := range r.pairs {
		if p.raw > 0 {
			rs = append(rs, float64(p.ctg)/float64(p.raw))
		}
	}
	if len(rs) == 0 {
		return 0
	}
	slices.Sort(rs)
	return rs[len(rs)/2]
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f", float64(d)/1e6) }

func spread(ds []time.Duration) string {
	return fmt.Sprintf("%s (%s–%s)", ms(quantile(ds, 0.5)), ms(quantile(ds, 0.1)), ms(quantile(ds, 0.9)))
}

// table renders the rows as a Markdown table.
func table(rows []row) string {
	var b strings.Builder
	b.WriteString("| backend | operation | ctrgate ms, median (p10–p90) | raw | raw ms, median (p10–p90) | ratio (median of pairs) | n |\n")
	b.WriteString("|---|---|---|---|---|---|---|\n")
	for _, r := range rows {
		c := sorted(r.pairs, func(p pair) time.Duration { return p.ctg })
		w := sorted(r.pairs, func(p pair) time.Duration { return p.raw })
		op := r.op
		if r.note != "" {
			op += " (" + r.note + ")"
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %.2f× | %d |\n", r.backend, op, spread(c), r.raw, spread(w), r.ratio(), len(r.pairs))
	}
	return b.String()
}

// interleave runs ctg and raw n times each, alternating which goes first,
// and returns the pairs; an error of either ends the loop.
func interleave(n int, ctg, raw func() (time.Duration, error)) ([]pair, error) {
	var ps []pair
	for i := range n {
		var p pair
		var err error
		if i%2 == 0 {
			if p.ctg, err = ctg(); err == nil {
				p.raw, err = raw()
			}
		} else {
			if p.raw, err = raw(); err == nil {
				p.ctg, err = ctg()
			}
		}
		if err != nil {
			return ps, err
		}
		ps = append(ps, p)
	}
	return ps, nil
}

// timed turns f into a measurement of its wall time.
func timed(f func() error) func() (time.Duration, error) {
	return func() (time.Duration, error) {
		began := time.Now()
		err := f()
		return time.Since(began), err
	}
}
