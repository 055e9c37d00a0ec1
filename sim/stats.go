package sim

import (
	"math"
	"sort"
)

// Percentile returns the p-th percentile (0–100) of xs by the nearest-rank
// method, or NaN for no data. xs is not modified.
func Percentile(xs []float64, p float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	rank := int(math.Ceil(p / 100 * float64(len(s))))
	return s[min(max(rank, 1), len(s))-1]
}

// Progress receives a scenario's progress; the fog command draws it as a
// progress bar. A nil Progress is allowed wherever one is taken.
type Progress interface {
	// Phase starts a phase of total steps.
	Phase(name string, total int)
	// Step reports n more steps done.
	Step(n int)
}

type noProgress struct{}

func (noProgress) Phase(string, int) {}
func (noProgress) Step(int)          {}

func orNoProgress(p Progress) Progress {
	if p == nil {
		return noProgress{}
	}
	return p
}
