package clock

import "time"

// Slowed returns a clock that runs factor times slower than base from the
// moment it is made: its Now advances one second for every factor seconds
// of base, and its timers and tickers take factor times as long on base.
// The simulator runs its nodes on it, so that two cores shared by a
// hundred nodes give each of them factor times the CPU per simulated
// second (docs/bench.md says which figures use it). The times that a
// timer's or ticker's channel carries are base's, not the slowed clock's.
// A factor below 1 is taken as 1.
func Slowed(base Clock, factor float64) Clock {
	factor = max(factor, 1)
	return &slowed{base: base, factor: factor, start: base.Now()}
}

type slowed struct {
	base   Clock
	factor float64
	start  time.Time
}

func (s *slowed) Now() time.Time {
	return s.start.Add(time.Duration(float64(s.base.Now().Sub(s.start)) / s.factor))
}

// on converts a duration of the slowed clock to one of base.
func (s *slowed) on(d time.Duration) time.Duration {
	return time.Duration(float64(d) * s.factor)
}

func (s *slowed) NewTimer(d time.Duration) Timer {
	return slowTimer{s.base.NewTimer(s.on(d)), s}
}

func (s *slowed) AfterFunc(d time.Duration, f func()) Timer {
	return slowTimer{s.base.AfterFunc(s.on(d), f), s}
}

func (s *slowed) NewTicker(d time.Duration) Ticker {
	return slowTicker{s.base.NewTicker(s.on(d)), s}
}

type slowTimer struct {
	Timer
	s *slowed
}

func (t slowTimer) Reset(d time.Duration) bool { return t.Timer.Reset(t.s.on(d)) }

type slowTicker struct {
	Ticker
	s *slowed
}

func (t slowTicker) Reset(d time.Duration) { t.Ticker.Reset(t.s.on(d)) }
