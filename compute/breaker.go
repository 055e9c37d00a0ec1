package compute

import (
	"cmp"
	"fmt"
	"slices"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
)

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

// BreakerConfig tunes the per-provider circuit breakers.
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

func (c BreakerConfig) validate() error {
	switch {
	case c.Threshold < 1:
		return fmt.Errorf("%w: Breaker.Threshold: %d, need at least 1", ErrConfig, c.Threshold)
	case c.Cooldown <= 0:
		return fmt.Errorf("%w: Breaker.Cooldown: %v, need a positive duration", ErrConfig, c.Cooldown)
	}
	return nil
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

// ProviderRecord is what this node learnt about one provider from its own
// attempts: input for the RPC, and for reputation later. It is kept in
// memory (Config.MaxProviderRecords of them, least recently used out).
type ProviderRecord struct {
	Peer peer.ID `json:"peer"`
	// Breaker is the provider's circuit breaker state.
	Breaker BreakerState `json:"breaker"`
	// Attempts sent to it; Answers it returned; Failures of its attempts
	// (it vanished, timed out, broke the protocol, lost the task);
	// Refusals it gave.
	Attempts uint64 `json:"attempts"`
	Answers  uint64 `json:"answers"`
	Failures uint64 `json:"failures"`
	Refusals uint64 `json:"refusals"`
	// Agreed counts its answers that matched the accepted result;
	// Disagreed those that were outvoted.
	Agreed    uint64 `json:"agreed"`
	Disagreed uint64 `json:"disagreed"`
	// LastError is why its last attempt failed.
	LastError string `json:"last_error,omitempty"`
	// Updated is when the record last changed.
	Updated time.Time `json:"updated"`
}

func sortRecords(r []ProviderRecord) {
	slices.SortFunc(r, func(a, b ProviderRecord) int { return cmp.Compare(a.Peer, b.Peer) })
}
