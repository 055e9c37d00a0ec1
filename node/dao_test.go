package node

import (
	"context"
	"testing"
	"time"

	"github.com/creachadair/jrpc2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fog-compute/fog/token"
)

// TestDAOOverRPC: two staked nodes; node0 proposes, the proposal reaches
// node1 by gossip, both vote, and both tally the same confirmed votes: 2
// of 3 parts of the stake yes, accepted. (Two nodes: with three, a block
// relayed on two paths can reach a node after a later message of its
// author and be ignored as stale, and nothing fetches it again yet.)
func TestDAOOverRPC(t *testing.T) {
	nodes := startLedgerNet(t, 2, nil)
	ctx := context.Background()
	stakes := []uint64{200_000, 100_000}
	for i, n := range nodes {
		require.NoError(t, n.client(t).Call(ctx, "stake.lock", StakeParams{Amount: stakes[i], Wait: true}, nil))
	}

	var prop DAOProposal
	require.NoError(t, nodes[0].client(t).Call(ctx, "dao.propose", DAOProposeParams{Param: token.ParamTargetRelays, Value: 12, WindowEpochs: 1000, ExecDelay: 9}, &prop))
	assert.Equal(t, "voting", prop.State)
	assert.Equal(t, prop.Start+999, prop.End)
	assert.Equal(t, prop.End+10, prop.ExecuteAt)
	assert.Equal(t, nodes[0].Ledger().Account().String(), prop.Proposer)

	// Gossip brings it to the others.
	for _, n := range nodes[1:] {
		waitFor(t, n.dao.Changed, func() bool {
			var list []DAOProposal
			require.NoError(t, n.client(t).Call(ctx, "dao.list", nil, &list))
			return len(list) == 1 && list[0].ID == prop.ID
		})
	}

	for i, choice := range []string{"YES", "no"} {
		var v DAOVoteResult
		require.NoError(t, nodes[i].client(t).Call(ctx, "dao.vote", DAOVoteParams{ID: prop.ID, Choice: choice, Wait: true}, &v))
		assert.True(t, v.Confirmed)
	}
	for _, n := range nodes {
		awaitLedger(t, n, func(l *token.Ledger) bool {
			for _, m := range nodes {
				if info, _ := l.Account(m.Ledger().Account()); info.ConfirmedHeight != 2 {
					return false
				}
			}
			return true
		})
		var got DAOProposal
		require.NoError(t, n.client(t).Call(ctx, "dao.show", DAOIDParams{ID: prop.ID}, &got))
		assert.Equal(t, uint64(200_000), got.Yes)
		assert.Equal(t, uint64(100_000), got.No)
		assert.Equal(t, uint64(300_000), got.TotalStake)
		assert.True(t, got.Quorum)
		assert.True(t, got.Accepted)
		assert.Len(t, got.Ballots, 2)
	}

	c := nodes[1].client(t)
	for _, tc := range []struct {
		name   string
		method string
		p      any
		code   jrpc2.Code
		want   string
	}{
		{"bad choice", "dao.vote", DAOVoteParams{ID: prop.ID, Choice: "maybe"}, jrpc2.InvalidParams, `choice "maybe": want yes, no or abstain`},
		{"bad id", "dao.show", DAOIDParams{ID: "xyz"}, jrpc2.InvalidParams, "want a proposal ID"},
		{"unknown", "dao.show", DAOIDParams{ID: token.Hash{1}.String()}, CodeNotFound, "unknown proposal"},
		{"unknown vote", "dao.vote", DAOVoteParams{ID: token.Hash{1}.String(), Choice: "no"}, CodeNotFound, "unknown proposal"},
		{"bad param", "dao.propose", DAOProposeParams{Param: "Epoch Length", Value: 1}, jrpc2.InvalidParams, `unknown network parameter "Epoch Length"`},
		{"out of bounds", "dao.propose", DAOProposeParams{Param: token.ParamTargetRelays, Value: 0}, jrpc2.InvalidParams, "lottery.target_relays 0: want 1 to 100000"},
		{"short delay", "dao.propose", DAOProposeParams{Param: token.ParamMinStake, Value: 1, ExecDelay: 3}, jrpc2.InvalidParams, "execution delay 3 epochs: at least 8"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, msg := rpcCode(t, c.Call(ctx, tc.method, tc.p, nil))
			assert.Equal(t, tc.code, code)
			assert.Contains(t, msg, tc.want)
		})
	}
}

// waitFor waits, without polling, until cond holds, re-checking each time
// changed's channel closes.
func waitFor(t *testing.T, changed func() <-chan struct{}, cond func() bool) {
	t.Helper()
	timeout := time.After(30 * time.Second)
	for {
		ch := changed()
		if cond() {
			return
		}
		select {
		case <-ch:
		case <-timeout:
			t.Fatal("condition not met")
		}
	}
}
