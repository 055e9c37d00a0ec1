package clock

import "time"

// Clock tells the time and makes timers.
type Clock interface {
	// Now returns the current time.
	Now() time.Time
	// NewTimer returns a Timer that fires once, d from now.
	NewTimer(d time.Duration) Timer
}

// Timer is a single-shot timer, as *time.Timer (Go 1.23 semantics: Reset
// and Stop discard a pending firing, so C never delivers a stale one).
type Timer interface {
	// C returns the channel on which the timer fires.
	C() <-chan time.Time
	// Reset makes the timer fire d from now and reports whether it was
	// active.
	Reset(d time.Duration) bool
	// Stop stops the timer and reports whether it was active.
	Stop() bool
}

// Real returns the clock of the time package.
func Real() Clock { return realClock{} }

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

func (realClock) NewTimer(d time.Duration) Timer { return realTimer{time.NewTimer(d)} }

type realTimer struct{ t *time.Timer }

func (r realTimer) C() <-chan time.Time        { return r.t.C }
func (r realTimer) Reset(d time.Duration) bool { return r.t.Reset(d) }
func (r realTimer) Stop() bool                 { return r.t.Stop() }
