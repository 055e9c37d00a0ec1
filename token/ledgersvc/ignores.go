package ledgersvc

import (
	"errors"
	"sync/atomic"

	"github.com/fog-compute/fog/gossip"
	"github.com/fog-compute/fog/token"
)

// Reason says why the ledger's validators ignored a message (dropped it
// without penalty: not relayed, not taken).
type Reason string

// The reasons the validators ignore a message for.
const (
	// IgnoredFuture: a block dated ahead of this node's next epoch.
	IgnoredFuture Reason = "future"
	// IgnoredSettled: a block competing with a confirmed one, the loser of
	// a settled fork.
	IgnoredSettled Reason = "settled"
	// IgnoredBackdated: a block new to this node dated more than
	// MaxBackdate epochs back (backdate.go).
	IgnoredBackdated Reason = "backdated"
	// IgnoredNoWeight: a vote by a representative without weight here.
	IgnoredNoWeight Reason = "no_weight"
)

// Refusal says what the ledger's core answered for a message the
// validators let through and the core did not take.
type Refusal string

// What the core answers for a message it does not take.
const (
	// RefusedGap: a block whose previous block or source is missing; the
	// core keeps it until that comes (up to MaxUnchecked).
	RefusedGap Refusal = "gap"
	// RefusedBusy: a block on a new root while MaxElections elections are
	// open; dropped.
	RefusedBusy Refusal = "busy"
	// RefusedDuplicate: a block the ledger holds (a re-send).
	RefusedDuplicate Refusal = "duplicate"
	// RefusedInvalid: a block or vote that breaks a rule by the time the
	// core sees it (the loser of a fork settled meanwhile, a vote naming
	// the wrong root).
	RefusedInvalid Refusal = "invalid"
	// RefusedOther: any other error.
	RefusedOther Refusal = "other"
)

var (
	reasons  = [...]Reason{IgnoredFuture, IgnoredSettled, IgnoredBackdated, IgnoredNoWeight}
	refusals = [...]Refusal{RefusedGap, RefusedBusy, RefusedDuplicate, RefusedInvalid, RefusedOther}
)

// counts holds the validators' and the core's counters.
type counts struct {
	asks     atomic.Uint64
	askFails atomic.Uint64
	askBlks  atomic.Uint64
	rejected atomic.Uint64
	ignored  [len(reasons)]atomic.Uint64
	refused  [len(refusals)]atomic.Uint64
}

func (c *counts) ignore(r Reason) {
	for i, x := range reasons {
		if x == r {
			c.ignored[i].Add(1)
			return
		}
	}
}

// refuse counts what the core answered, if it refused the message.
func (c *counts) refuse(err error) {
	if err == nil {
		return
	}
	r := RefusedOther
	switch {
	case errors.Is(err, token.ErrGap):
		r = RefusedGap
	case errors.Is(err, token.ErrBusy):
		r = RefusedBusy
	case errors.Is(err, token.ErrDuplicate):
		r = RefusedDuplicate
	case errors.Is(err, token.ErrInvalid), errors.Is(err, token.ErrSignature):
		r = RefusedInvalid
	}
	for i, x := range refusals {
		if x == r {
			c.refused[i].Add(1)
			return
		}
	}
}

// Stats counts what the validators decided and what the core refused.
type Stats struct {
	Rejected uint64 // blocks and votes refused, their senders penalised
	Ignored  uint64 // dropped without penalty: the sum of IgnoredBy
	// IgnoredBy counts the validators' ignores by reason (reasons with
	// none are absent).
	IgnoredBy map[Reason]uint64
	// GossipIgnored counts the ledger topics' messages ignored by
	// gossip's own rules before or after the ledger's check (time: older
	// than MaxAge or ahead by more than MaxSkew; seq: not above the
	// author's last accepted number; rate: a relay's copy beyond the
	// author's rate), both topics together.
	GossipIgnored map[gossip.Rule]uint64
	// Refused counts the messages the validators let through and the
	// core did not take, by its answer.
	Refused map[Refusal]uint64
	// Asks counts the representatives asked for the outcome of an
	// election the Node reported Stale; AskFailures those asks that
	// ended in an error (no stream, a reset, a timeout); AskBlocks the
	// blocks the answers brought, each with its representative's final
	// vote.
	Asks, AskFailures, AskBlocks uint64
}

func (c *counts) stats() Stats {
	st := Stats{Asks: c.asks.Load(), AskFailures: c.askFails.Load(), AskBlocks: c.askBlks.Load(), Rejected: c.rejected.Load(), IgnoredBy: map[Reason]uint64{}, GossipIgnored: map[gossip.Rule]uint64{}, Refused: map[Refusal]uint64{}}
	for i, r := range reasons {
		if n := c.ignored[i].Load(); n > 0 {
			st.IgnoredBy[r] = n
			st.Ignored += n
		}
	}
	for i, r := range refusals {
		if n := c.refused[i].Load(); n > 0 {
			st.Refused[r] = n
		}
	}
	return st
}

// addGossip adds the topics' ignores by gossip's own rules to st.
func (st *Stats) addGossip(ts ...gossip.TopicStats) {
	for _, t := range ts {
		for rule, n := range t.Ignored {
			if rule != gossip.RuleTopic { // the ledger's own, in IgnoredBy
				st.GossipIgnored[rule] += n
			}
		}
	}
}
