package sim

import (
	"context"
	"math"
	"sort"
	"time"

	"github.com/fog-compute/fog/internal/clock"
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

// waitSeconds sleeps for d (nothing if d <= 0) as a progress phase named
// name of one step per second, which ends full even if a timer fires late.
func waitSeconds(ctx context.Context, clk clock.Clock, name string, d time.Duration, progress Progress) error {
	if d <= 0 {
		return nil
	}
	end := clk.Now().Add(d)
	seconds := func(d time.Duration) int { return int((max(d, 0) + time.Second - 1) / time.Second) }
	total := seconds(d)
	progress.Phase(name, total)
	done := 0
	for left := d; left > 0; left = clock.Until(clk, end) {
		if err := sleepCtx(ctx, clk, min(left, time.Second)); err != nil {
			return err
		}
		now := total - seconds(clock.Until(clk, end))
		progress.Step(now - done)
		done = now
	}
	return nil
}

// sleepCtx sleeps for d on clk, or until ctx ends.
func sleepCtx(ctx context.Context, clk clock.Clock, d time.Duration) error {
	t := clk.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C():
		return nil
	}
}
