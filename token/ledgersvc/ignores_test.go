package ledgersvc

import (
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/fog-compute/fog/gossip"
	"github.com/fog-compute/fog/token"
)

// TestCounts: each ignore and each refusal of the core lands under its
// own reason, the total is their sum, and gossip's ignores by its own
// rules add up over the topics without the ledger's (RuleTopic).
func TestCounts(t *testing.T) {
	var c counts
	for _, r := range []Reason{IgnoredBackdated, IgnoredBackdated, IgnoredFuture, IgnoredNoWeight, IgnoredSettled, IgnoredSettled, IgnoredSettled} {
		c.ignore(r)
	}
	for _, err := range []error{
		nil,
		fmt.Errorf("x: %w", token.ErrGap),
		token.ErrGap,
		token.ErrBusy,
		token.ErrDuplicate,
		fmt.Errorf("%w: %w", token.ErrInvalid, token.ErrSettled),
		token.ErrSignature,
		errors.New("something else"),
	} {
		c.refuse(err)
	}
	st := c.stats()
	assert.Equal(t, uint64(7), st.Ignored)
	assert.Equal(t, map[Reason]uint64{IgnoredBackdated: 2, IgnoredFuture: 1, IgnoredNoWeight: 1, IgnoredSettled: 3}, st.IgnoredBy)
	assert.Equal(t, map[Refusal]uint64{RefusedGap: 2, RefusedBusy: 1, RefusedDuplicate: 1, RefusedInvalid: 2, RefusedOther: 1}, st.Refused)

	st.addGossip(
		gossip.TopicStats{Ignored: map[gossip.Rule]uint64{gossip.RuleSeq: 4, gossip.RuleTopic: 9}},
		gossip.TopicStats{Ignored: map[gossip.Rule]uint64{gossip.RuleSeq: 1, gossip.RuleTime: 2}, Rejected: map[gossip.Rule]uint64{gossip.RuleRate: 5}},
	)
	assert.Equal(t, map[gossip.Rule]uint64{gossip.RuleSeq: 5, gossip.RuleTime: 2}, st.GossipIgnored)
}
