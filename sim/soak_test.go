package sim

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestFitLine(t *testing.T) {
	tests := []struct {
		name                   string
		x, y                   []float64
		slope, intercept, mean float64
	}{
		{"empty", nil, nil, 0, 0, 0},
		{"one point", []float64{1}, []float64{5}, 0, 5, 5},
		{"flat", []float64{0, 1, 2, 3}, []float64{7, 7, 7, 7}, 0, 7, 7},
		{"exact line", []float64{0, 1, 2, 3}, []float64{1, 3, 5, 7}, 2, 1, 4},
		{"noisy", []float64{0, 1, 2, 3}, []float64{1, 2, 1, 2}, 0.2, 1.2, 1.5},
		{"falling", []float64{1, 2, 3}, []float64{3, 2, 1}, -1, 4, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			slope, intercept, mean := fitLine(tt.x, tt.y)
			assert.InDelta(t, tt.slope, slope, 1e-9)
			assert.InDelta(t, tt.intercept, intercept, 1e-9)
			assert.InDelta(t, tt.mean, mean, 1e-9)
		})
	}
}

// samples returns one sample a second for secs seconds, from f.
func samples(secs int, f func(s float64) SoakSample) []SoakSample {
	var out []SoakSample
	for i := 0; i <= secs; i++ {
		smp := f(float64(i))
		smp.Seconds = float64(i)
		out = append(out, smp)
	}
	return out
}

func TestSoakJudgeFitsTheSecondHalf(t *testing.T) {
	tests := []struct {
		name  string
		f     func(s float64) SoakSample
		leaks int
	}{
		{"flat after a warm-up that would fail", func(s float64) SoakSample {
			if s < 60 {
				return SoakSample{HeapLiveMiB: 10 + s, Goroutines: int(100 + 10*s), FDs: 9}
			}
			return SoakSample{HeapLiveMiB: 70, Goroutines: 700, FDs: 9}
		}, 0},
		{"heap grows 5 %/min", func(s float64) SoakSample {
			return SoakSample{HeapLiveMiB: 100 + 5*s/60, Goroutines: 700, FDs: 9}
		}, 1},
		{"goroutines grow 60/min", func(s float64) SoakSample {
			return SoakSample{HeapLiveMiB: 100, Goroutines: 700 + int(s), FDs: 9}
		}, 1},
		{"fds grow 6/min, goroutines 40/min", func(s float64) SoakSample {
			return SoakSample{HeapLiveMiB: 100, Goroutines: 700 + int(s*40/60), FDs: 9 + int(s/10)}
		}, 2},
		{"heap grows with the stores' tables", func(s float64) SoakSample {
			return SoakSample{HeapLiveMiB: 100 + 10*s/60, StoreMiB: 20 + 10*s/60, Goroutines: 700, FDs: 9}
		}, 0},
		{"heap grows faster than the stores' tables", func(s float64) SoakSample {
			return SoakSample{HeapLiveMiB: 100 + 10*s/60, StoreMiB: 20 + 5*s/60, Goroutines: 700, FDs: 9}
		}, 1},
		{"no /proc", func(s float64) SoakSample {
			return SoakSample{HeapLiveMiB: 100, Goroutines: 700, FDs: -1}
		}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := SoakResult{Samples: samples(120, tt.f)}
			SoakScenario{Limits: DefaultSoakLimits()}.judge(&res)
			assert.Len(t, res.Leaks, tt.leaks, "%v", res.Leaks)
			assert.InDelta(t, 60, res.FitFromSeconds, 1e-9)
			if tt.leaks > 0 {
				assert.ErrorIs(t, res.Err(), ErrLeak)
			} else {
				assert.NoError(t, res.Err())
			}
		})
	}
}

// shortSoak is a soak of 6 nodes for 30 s, short timers, with limits for
// a run that short: its fitted half (15 s) is still partly warm-up, and
// the machine is shared, so the limits leave room for that (a clean run
// fits about 15 %/min of heap and a few goroutines a minute); the leak the
// test injects grows 100 goroutines a sample, up to 12 000 a minute (2 000
// measured when a loaded machine delays the samples).
func shortSoak() SoakScenario {
	s := DefaultSoakScenario(6, 30*time.Second)
	s.Network.Links.LatencyMin, s.Network.Links.LatencyMax = 5*time.Millisecond, 30*time.Millisecond
	s.SampleEvery = 500 * time.Millisecond
	s.TargetRelays, s.EpochLength, s.GenesisDelay = 6, 6*time.Second, 4*time.Second
	s.LookupRate, s.TaskRate, s.MixRate, s.DMRate, s.PostRate = 4, 2, 4, 4, 1
	s.Limits = SoakLimits{HeapPctPerMin: 50, GoroutinesPerMin: 600, FDsPerMin: 10}
	s.BootTimeout = 2 * time.Minute
	return s
}

func TestSoakCleanPasses(t *testing.T) {
	res, err := shortSoak().Run(context.Background(), nil)
	require.NoError(t, err)
	t.Logf("heap %+v goroutines %+v fds %+v; lookups %+v tasks %+v mix %+v dms %+v posts %+v",
		res.Heap, res.Goroutines, res.FDs, res.Lookups, res.Tasks, res.Mix, res.DMs, res.Posts)
	require.NoError(t, res.Err())
	assert.GreaterOrEqual(t, len(res.Samples), 60)
	for _, o := range []SoakOps{res.Lookups, res.Tasks, res.Mix, res.DMs, res.Posts} {
		assert.Positive(t, o.OK, "every kind of traffic ran")
	}
	assert.Positive(t, res.Heap.Mean)
	assert.Positive(t, res.Goroutines.Mean)
}

func TestSoakFlagsAGoroutineLeak(t *testing.T) {
	stop := make(chan struct{})
	var leaked sync.WaitGroup
	t.Cleanup(func() {
		close(stop)
		leaked.Wait()
	})
	s := shortSoak()
	s.leak = func() {
		for range 100 {
			leaked.Go(func() { <-stop })
		}
	}
	res, err := s.Run(context.Background(), nil)
	require.NoError(t, err)
	t.Logf("goroutines %+v; leaks %v", res.Goroutines, res.Leaks)
	require.ErrorIs(t, res.Err(), ErrLeak)
	assert.False(t, res.Goroutines.OK)
	// 100 a sample: at least 100 a minute however late the samples come.
	assert.Greater(t, res.Goroutines.SlopePerMin, s.Limits.GoroutinesPerMin)
	assert.Contains(t, res.Err().Error(), "goroutines grow")
}

func TestSoakValidates(t *testing.T) {
	for name, mod := range map[string]func(*SoakScenario){
		"few nodes":     func(s *SoakScenario) { s.Network.Nodes = 3 },
		"short":         func(s *SoakScenario) { s.Duration = s.SampleEvery },
		"negative rate": func(s *SoakScenario) { s.DMRate = -1 },
		"no mix":        func(s *SoakScenario) { s.Network.Mix = nil },
		"few relays":    func(s *SoakScenario) { s.TargetRelays = 1 },
	} {
		t.Run(name, func(t *testing.T) {
			s := DefaultSoakScenario(6, time.Minute)
			mod(&s)
			_, err := s.Run(context.Background(), nil)
			assert.ErrorIs(t, err, ErrConfig)
		})
	}
}
