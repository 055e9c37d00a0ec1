package sim

import (
	"context"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fog-compute/fog/internal/clock"
)

// phaseLog is a Progress that remembers its phases and their steps.
type phaseLog struct {
	mu     sync.Mutex
	phases []string
	totals []int
	steps  []int
}

func (r *phaseLog) Phase(name string, total int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.phases = append(r.phases, name)
	r.totals = append(r.totals, total)
	r.steps = append(r.steps, 0)
}

func (r *phaseLog) Step(n int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.steps[len(r.steps)-1] += n
}

func TestWaitSecondsCountsUp(t *testing.T) {
	tests := []struct {
		name  string
		d     time.Duration
		total int // steps, one per second begun
	}{
		{"nothing to wait", -time.Second, 0},
		{"less than a second", 300 * time.Millisecond, 1},
		{"a second and a bit", 1100 * time.Millisecond, 2},
	}
	for _, tc := range tests {
		// In a bubble the wait is virtual: it lasts exactly d.
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var r phaseLog
				start := time.Now()
				require.NoError(t, waitSeconds(t.Context(), clock.Real(), "waiting", tc.d, &r))
				assert.Equal(t, max(tc.d, 0), time.Since(start))
				if tc.total == 0 {
					assert.Empty(t, r.phases)
					return
				}
				assert.Equal(t, []string{"waiting"}, r.phases)
				assert.Equal(t, []int{tc.total}, r.totals)
				assert.Equal(t, []int{tc.total}, r.steps, "the bar ends full")
			})
		})
	}
}

func TestWaitSecondsStopsOnCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	var r phaseLog
	require.ErrorIs(t, waitSeconds(ctx, clock.Real(), "waiting", time.Hour, &r), context.Canceled)
	assert.Equal(t, []int{3600}, r.totals)
}
