// Package stats holds the statistics the benchmarks share.
package stats

import (
	"math"
	"slices"
)

// Percentile is the nearest-rank percentile of samples: the smallest sample
// such that at least p % of the samples are at or below it, i.e. the
// ceil(p/100 * n)-th smallest (1-based). With fewer than 100 samples p99 is
// therefore the largest sample. A sample of +Inf stands for a run that did
// not recover, so a percentile that reaches one is +Inf. ok is false when
// there are no samples or p is outside (0, 100].
func Percentile(samples []float64, p float64) (v float64, ok bool) {
	if len(samples) == 0 || p <= 0 || p > 100 || math.IsNaN(p) {
		return 0, false
	}
	s := slices.Clone(samples)
	slices.Sort(s)
	rank := int(math.Ceil(p / 100 * float64(len(s))))
	rank = min(max(rank, 1), len(s))
	return s[rank-1], true
}

// FinitePercentile is Percentile for a report field: nil when there are no
// samples or the percentile is infinite (it reaches a run that never got
// there).
func FinitePercentile(samples []float64, p float64) *float64 {
	v, ok := Percentile(samples, p)
	if !ok || math.IsInf(v, 0) {
		return nil
	}
	return &v
}
