package node

import (
	"context"
	"crypto/ed25519"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fog-compute/fog/mix/lottery"
	"github.com/fog-compute/fog/token"
)

// waitClosed waits until lottery epoch e's directory is final on every
// node.
func waitClosed(t *testing.T, nodes []*testNode, e uint64) {
	t.Helper()
	timeout := time.After(90 * time.Second)
	for i, n := range nodes {
		select {
		case <-n.Lottery().Closed(e):
		case <-timeout:
			t.Fatalf("node %d: directory of epoch %d not closed (at epoch %d)", i, e, n.Lottery().Epoch())
		}
	}
}

// firstEpochFrom returns the first lottery epoch from the current one on
// whose stake snapshot is at or after ledger epoch x.
func firstEpochFrom(n *testNode, x uint64) uint64 {
	e := n.Lottery().Epoch()
	for n.stakeOracle.snapshot(e) < x {
		e++
	}
	return e
}

// TestStakeAndDAOOnLottery: three nodes stand in the relay lottery and
// stake 100,000, 200,000 and 300,000 micro-credits. The weights the
// lottery uses, on every node, are those stakes from the first epoch
// whose snapshot holds them (relay.status shows them). Then the DAO
// votes R = 7: every node's lottery draws with 7 from the same epoch on,
// and with the configured R before it; and a minimum price, which
// compute then enforces.
func TestStakeAndDAOOnLottery(t *testing.T) {
	nodes := startLedgerNet(t, 3, func(_ int, c *Config) {
		c.Relay.Candidate = true
		c.Relay.EpochLength = Duration(2 * time.Second)
	})
	ctx := context.Background()
	rc := nodes[0].Lottery().Config().Config
	require.Equal(t, 30, rc.TargetRelays)
	stakes := []uint64{100_000, 200_000, 300_000}
	var last uint64
	for i, n := range nodes {
		var r StakeResult
		require.NoError(t, n.client(t).Call(ctx, "stake.lock", StakeParams{Amount: stakes[i], Wait: true}, &r))
		last = max(last, r.Epoch)
	}
	confirmedHeights := func(h uint64) {
		for _, n := range nodes {
			awaitLedger(t, n, func(l *token.Ledger) bool {
				for _, m := range nodes {
					if info, _ := l.Account(m.Ledger().Account()); info.ConfirmedHeight != h {
						return false
					}
				}
				return true
			})
		}
	}
	confirmedHeights(1)
	pk := func(n *testNode) ed25519.PublicKey { a := n.Ledger().Account(); return ed25519.PublicKey(a[:]) }

	e1 := firstEpochFrom(nodes[0], last)
	waitClosed(t, nodes, e1)
	for i, n := range nodes {
		o := n.stakeOracle
		require.NotNil(t, o, "node %d: the ledger weighs its lottery", i)
		for j, m := range nodes {
			assert.Equal(t, stakes[j], o.Weight(e1, pk(m)), "node %d: weight of node %d in epoch %d", i, j, e1)
		}
		assert.Equal(t, uint64(600_000), o.TotalWeight(e1))
		st := n.Lottery().Status()
		assert.Equal(t, uint64(600_000), st.Current.Candidates, "node %d: the lottery's total weight", i)
		assert.True(t, st.Current.Eligible)
		var rs RelayStatus
		require.NoError(t, n.client(t).Call(ctx, "relay.status", nil, &rs))
		require.NotNil(t, rs.Stake)
		require.NotNil(t, rs.Stake.Lottery)
		assert.Equal(t, stakes[i], rs.Stake.Lottery.Weight, "node %d: relay.status shows the lottery's weight", i)
		assert.Equal(t, uint64(600_000), rs.Stake.Lottery.TotalWeight)
		assert.Equal(t, uint64(30), rs.Stake.Lottery.TargetRelays)
		if d, ok := n.Lottery().DirectoryInfo(e1); ok {
			for _, r := range d.Relays {
				assert.GreaterOrEqual(t, r.Seats, uint64(1))
			}
		}
	}

	// The DAO: R = 7 and a minimum price of 2,000 per CPU-second, with
	// the least execution delay.
	var prop, price DAOProposal
	require.NoError(t, nodes[0].client(t).Call(ctx, "dao.propose", DAOProposeParams{Param: token.ParamTargetRelays, Value: 7, WindowEpochs: 20}, &prop))
	require.NoError(t, nodes[1].client(t).Call(ctx, "dao.propose", DAOProposeParams{Param: token.ParamMinPrice, Value: 2000, WindowEpochs: 20}, &price))
	require.True(t, prop.Applies)
	for _, n := range nodes {
		waitFor(t, n.dao.Changed, func() bool { return len(n.dao.Proposals()) == 2 })
	}
	for _, n := range nodes {
		for _, id := range []string{prop.ID, price.ID} {
			require.NoError(t, n.client(t).Call(ctx, "dao.vote", DAOVoteParams{ID: id, Choice: "yes", Wait: true}, nil))
		}
	}
	confirmedHeights(3)

	from := firstEpochFrom(nodes[0], prop.ExecuteAt)
	for i, n := range nodes {
		assert.Equal(t, from, firstEpochFrom(n, prop.ExecuteAt), "node %d", i)
	}
	waitClosed(t, nodes, from)
	for i, n := range nodes {
		assert.Equal(t, 30, lottery.TargetRelays(rc, n.stakeOracle, from-1), "node %d: R before the change", i)
		assert.Equal(t, 7, lottery.TargetRelays(rc, n.stakeOracle, from), "node %d: R from the change on", i)
		assert.Equal(t, 7, n.Lottery().Status().Current.TargetRelays, "node %d: the lottery's R now", i)
		var got DAOProposal
		require.NoError(t, n.client(t).Call(ctx, "dao.show", DAOIDParams{ID: prop.ID}, &got))
		assert.Equal(t, "in effect", got.State, "node %d", i)
		assert.Equal(t, uint64(600_000), got.Yes)
	}
	// Compute: a paid task offering less than the network's minimum price
	// is refused before anything is locked.
	require.GreaterOrEqual(t, nodes[2].Ledger().Epoch(), price.ExecuteAt)
	echo, err := os.ReadFile("../compute/testdata/echo.wasm")
	require.NoError(t, err)
	code, msg := rpcCode(t, nodes[2].client(t).Call(ctx, "task.submit", TaskSubmitParams{Module: echo, Replicas: 1, MaxPrice: 1000}, nil))
	assert.Equal(t, CodeConflict, code)
	assert.Contains(t, msg, "max price 1000 is below the network's minimum price of 2000 micro-credits per CPU-second")
}
