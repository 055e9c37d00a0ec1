package ledgersvc

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"testing/synctest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

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

// TestTryView: TryView reads the ledger when the lock is free and gives
// up at once when it is held.
func TestTryView(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newCluster(t, 1, 1)
		s, err := New(context.Background(), TestConfig(), Options{Gossip: c.net.Nodes[0], Store: c.ds(0), Genesis: c.genesis, Identity: c.net.Keys[0]})
		require.NoError(t, err)
		var supply uint64
		assert.True(t, s.TryView(func(l *token.Ledger) { supply = l.Supply() }))
		assert.Equal(t, uint64(funds), supply)
		s.mu.Lock()
		called := false
		assert.False(t, s.TryView(func(*token.Ledger) { called = true }))
		s.mu.Unlock()
		assert.False(t, called)
	})
}
