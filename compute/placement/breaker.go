package placement

import "time"

// BreakerState is where a provider's circuit breaker is.
type BreakerState string

// The states of a circuit breaker.
const (
	// BreakerClosed: attempts go through; consecutive failures are counted.
	BreakerClosed BreakerState = "closed"
	// BreakerOpen: the provider failed Threshold times in a row; no attempt
	// goes to it until Cooldown has passed.
	BreakerOpen BreakerState = "open"
	// BreakerHalfOpen: the cooldown has passed; one attempt (the probe) may
	// go through. Its success closes the breaker, its failure opens it
	// again.
	BreakerHalfOpen BreakerState = "half-open"
)

// BreakerConfig tunes the per-provider circuit breakers. Threshold must
// be at least 1 and Cooldown positive (compute.Config.Validate checks).
type BreakerConfig struct {
	// Threshold is the consecutive failures that open a breaker. Default
	// 3: one failure can be bad luck (a dropped connection), three in a row
	// is a provider to avoid.
	Threshold int
	// Cooldown is how long an open breaker keeps its provider out before
	// letting a probe through. Default 30 s: a restarting node is back by
	// then, and a dead one costs one probe per cooldown.
	Cooldown time.Duration
}

// Breaker is one provider's circuit breaker: a deterministic state
// machine driven by the outcomes of attempts and by the time given to
// each call (there is no timer; an open breaker becomes half-open when a
// call observes that its cooldown has passed). It is not safe for
// concurrent use; the service guards its breakers with a mutex.
type Breaker struct {
	cfg      BreakerConfig
	open     bool      // open or half-open
	openedAt time.Time // when it last opened
	failures int       // consecutive failures while closed
	probing  bool      // the half-open probe is in flight
}

// NewBreaker returns a closed breaker.
func NewBreaker(cfg BreakerConfig) *Breaker { return &Breaker{cfg: cfg} }

// State returns the breaker's state at now.
func (b *Breaker) State(now time.Time) BreakerState {
	switch {
	case !b.open:
		return BreakerClosed
	case now.Before(b.openedAt.Add(b.cfg.Cooldown)):
		return BreakerOpen
	}
	return BreakerHalfOpen
}

// Available reports whether Allow would let an attempt through at now,
// without reserving anything.
func (b *Breaker) Available(now time.Time) bool {
	switch b.State(now) {
	case BreakerClosed:
		return true
	case BreakerHalfOpen:
		return !b.probing
	}
	return false
}

// Allow reports whether an attempt may go to the provider at now. In the
// half-open state it lets one through (the probe) and refuses the others
// until the probe's outcome is known (Success, Failure or Release).
func (b *Breaker) Allow(now time.Time) bool {
	if !b.Available(now) {
		return false
	}
	if b.open {
		b.probing = true
	}
	return true
}

// Success records an attempt that worked: the breaker closes.
func (b *Breaker) Success(time.Time) {
	b.open, b.probing, b.failures = false, false, 0
}

// Failure records an attempt that failed. A closed breaker opens at the
// Threshold-th consecutive failure; a half-open one opens again (a new
// cooldown starts); an open one restarts its cooldown.
func (b *Breaker) Failure(now time.Time) {
	if b.open {
		b.probing = false
		b.openedAt = now
		return
	}
	b.failures++
	if b.failures >= b.cfg.Threshold {
		b.open, b.openedAt, b.failures = true, now, 0
	}
}

// Release records that an attempt let through ended without saying
// anything about the provider (it refused for lack of room, or the task
// was cancelled): a half-open breaker may let another probe through.
func (b *Breaker) Release() { b.probing = false }

// Reopens returns when an open breaker becomes half-open (zero if it is
// not open).
func (b *Breaker) Reopens() time.Time {
	if !b.open {
		return time.Time{}
	}
	return b.openedAt.Add(b.cfg.Cooldown)
}
