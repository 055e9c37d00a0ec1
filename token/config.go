package token

import (
	"fmt"
	"time"
)

// Config is the configuration of a Node's elections.
type Config struct {
	// OnlineWindow is how long after its last vote a representative counts
	// as online. Representatives vote on every block, and a Node re-sends
	// its votes each tick of an open election, so a few tick intervals
	// suffice; 5 minutes covers a quiet network with ticks of a minute.
	OnlineWindow time.Duration
	// TrendPeriod is how long the peak online weight is remembered. The
	// quorum is more than half of the largest online weight seen in this
	// period (or MinOnlineWeight), so a partition shorter than it cannot
	// lower the quorum on either side: a minority cannot confirm. Two
	// weeks, as Nano's trended online weight.
	TrendPeriod time.Duration
	// MinOnlinePercent is the floor of the online weight the quorum is
	// counted on, in percent of the supply. 50 by default, so a quorum is
	// always more than a quarter of the supply and a lone representative
	// cannot confirm blocks at a network's start, before the trend has
	// seen the others; a network sets it to 100 to stay safe in partitions
	// longer than TrendPeriod, at the price of stalling while more than
	// half of the supply's representatives are offline.
	MinOnlinePercent int
	// MaxElections bounds the open elections; a block arriving when the
	// bound is reached is refused until some are settled. 100,000 is far
	// above the blocks a node confirms in a TrendPeriod tick.
	MaxElections int
	// MaxPendingVotes bounds the votes kept for blocks not seen yet; Tick
	// drops those older than OnlineWindow. 10,000 covers the votes of 100
	// representatives on 100 blocks.
	MaxPendingVotes int
	// MaxUnchecked bounds the blocks kept because a block they build on or
	// receive from is missing or not confirmed yet; they are retried when
	// it comes; Tick drops those older than OnlineWindow (an election that
	// still wants one re-sends it). 10,000 covers a burst of receives
	// racing their sends' confirmations.
	MaxUnchecked int
	// AnswerInterval is how often, at most, the node answers for one
	// settled root a peer that still votes or relays there (with its
	// final votes for the winner, and the winner if the peer backs a
	// loser): often enough that a peer that missed the final votes learns
	// the outcome within a tick or two of its own re-sends, seldom enough
	// that answers to answers die out. 30 s, the shell's default tick.
	AnswerInterval time.Duration
	// ResendAfter is how long an election stays open before Tick first
	// re-sends its candidate blocks and this node's votes; each later
	// re-send waits twice as long as the one before, up to ResendMax.
	// Every node re-sends what it holds, so one re-send costs every node
	// of an N-node network N block checks: an election that settles in
	// the usual second is not re-sent, and one held open (a partition, a
	// fork) costs less and less. 30 s, the shell's default tick.
	ResendAfter time.Duration
	// ResendMax is the longest wait between two re-sends of one election.
	// Below OnlineWindow, so that a representative voting in an election
	// held open stays online (the quorum base does not need it: the trend
	// keeps the peak): 2 minutes.
	ResendMax time.Duration
	// ResendSalt, if set, spreads this node's re-sends over the second
	// half of each wait, at a point drawn from a hash of the salt, the
	// root and the re-send's number: Trickle's random point (RFC 6206).
	// Nodes that took a block at about the same moment would otherwise
	// re-send it in the same tick, before any of them heard another's
	// copy, and the suppression above would suppress nothing. The shell
	// passes the node's account; empty, every wait is whole (the same on
	// every node).
	ResendSalt []byte
	// MaxTrendSamples bounds the online-weight samples kept; Tick takes one
	// per call, and older ones than TrendPeriod go first. 20,160 holds two
	// weeks of one tick a minute.
	MaxTrendSamples int
}

// DefaultConfig returns the configuration a node runs with.
func DefaultConfig() Config {
	return Config{
		OnlineWindow:     5 * time.Minute,
		TrendPeriod:      14 * 24 * time.Hour,
		MinOnlinePercent: 50,
		AnswerInterval:   30 * time.Second,
		ResendAfter:      30 * time.Second,
		ResendMax:        2 * time.Minute,
		MaxElections:     100_000,
		MaxPendingVotes:  10_000,
		MaxUnchecked:     10_000,
		MaxTrendSamples:  20_160,
	}
}

// Validate checks the configuration; its errors wrap ErrConfig and name
// the field.
func (c Config) Validate() error {
	switch {
	case c.OnlineWindow <= 0:
		return fmt.Errorf("%w: OnlineWindow must be positive", ErrConfig)
	case c.TrendPeriod < c.OnlineWindow:
		return fmt.Errorf("%w: TrendPeriod must be at least OnlineWindow", ErrConfig)
	case c.MinOnlinePercent < 0 || c.MinOnlinePercent > 100:
		return fmt.Errorf("%w: MinOnlinePercent must be within 0 to 100", ErrConfig)
	case c.AnswerInterval <= 0:
		return fmt.Errorf("%w: AnswerInterval must be positive", ErrConfig)
	case c.ResendAfter <= 0:
		return fmt.Errorf("%w: ResendAfter must be positive", ErrConfig)
	case c.ResendMax < c.ResendAfter:
		return fmt.Errorf("%w: ResendMax must be at least ResendAfter", ErrConfig)
	case c.MaxElections <= 0:
		return fmt.Errorf("%w: MaxElections must be positive", ErrConfig)
	case c.MaxPendingVotes < 0:
		return fmt.Errorf("%w: MaxPendingVotes must not be negative", ErrConfig)
	case c.MaxUnchecked < 0:
		return fmt.Errorf("%w: MaxUnchecked must not be negative", ErrConfig)
	case c.MaxTrendSamples <= 0:
		return fmt.Errorf("%w: MaxTrendSamples must be positive", ErrConfig)
	}
	return nil
}
