package node

import (
	"context"
	"testing"
	"time"

	"github.com/creachadair/jrpc2"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fog-compute/fog/internal/await"
	"github.com/fog-compute/fog/token/ledgersvc"
)

// startLedgerNet starts n connected nodes funded by one genesis; edit,
// if not nil, changes each node's config first.
func startLedgerNet(t *testing.T, n int, edit func(i int, c *Config)) []*testNode {
	t.Helper()
	dirs, cfgs := ledgerNet(t, n)
	var nodes []*testNode
	for i := range n {
		if i > 0 {
			cfgs[i].P2P.Bootstrap = []string{nodes[0].p2pAddr()}
		}
		if edit != nil {
			edit(i, &cfgs[i])
		}
		nodes = append(nodes, startLedgerNode(t, dirs[i], cfgs[i]))
	}
	awaitConns(t, 20*time.Second, func() bool {
		for _, m := range nodes[1:] {
			if nodes[0].Host().Network().Connectedness(m.Host().ID()) != network.Connected {
				return false
			}
		}
		return true
	}, nodes...)
	awaitLedgerMesh(t, nodes)
	return nodes
}

// awaitLedgerMesh waits until every node sees each of nodes it is
// connected to on the ledger's topics, so that what one publishes reaches
// all (a node does not fetch the blocks it missed yet). Gossip's score
// updates, every heartbeat or so, are the occasions to look again.
func awaitLedgerMesh(t *testing.T, nodes []*testNode) {
	t.Helper()
	in := map[peer.ID]bool{}
	for _, n := range nodes {
		in[n.Host().ID()] = true
	}
	for _, n := range nodes {
		g := n.Gossip()
		await.Until(t, 30*time.Second, g.ScoresUpdated, func() bool {
			for _, topic := range []string{ledgersvc.BlocksTopic, ledgersvc.VotesTopic, ledgersvc.DAOTopic} {
				subs := map[peer.ID]bool{}
				for _, p := range g.TopicPeers(topic) {
					subs[p] = true
				}
				for _, p := range n.Host().Network().Peers() {
					if in[p] && !subs[p] {
						return false
					}
				}
			}
			return true
		}, "ledger topics mesh")
	}
}

// TestStakeOverRPC: a node locks stake and waits for the network to
// confirm it, unlocks part of it (the credits unbond, in neither balance
// nor stake), and mistakes are refused saying why.
func TestStakeOverRPC(t *testing.T) {
	nodes := startLedgerNet(t, 3, nil)
	ctx := context.Background()
	c := nodes[1].client(t)

	var locked StakeResult
	require.NoError(t, c.Call(ctx, "stake.lock", StakeParams{Amount: 300_000, Wait: true}, &locked))
	assert.True(t, locked.Confirmed)
	assert.Equal(t, uint64(ledgerFunds-300_000), locked.Balance)
	assert.Equal(t, uint64(300_000), locked.Staked)

	var unlocked StakeResult
	require.NoError(t, c.Call(ctx, "stake.unlock", StakeParams{Amount: 100_000, Wait: true}, &unlocked))
	assert.True(t, unlocked.Confirmed)
	assert.Equal(t, uint64(ledgerFunds-300_000), unlocked.Balance)
	assert.Equal(t, uint64(200_000), unlocked.Staked)
	assert.GreaterOrEqual(t, unlocked.ReleaseEpoch, unlocked.Epoch+1)

	// Confirmed means representatives holding more than half of the
	// online weight voted for it: the other nodes.
	var b WalletBalance
	require.NoError(t, c.Call(ctx, "wallet.balance", nil, &b))
	assert.Equal(t, uint64(200_000), b.Staked)

	var h []WalletEntry
	require.NoError(t, c.Call(ctx, "wallet.history", nil, &h))
	require.Len(t, h, 2)
	assert.Equal(t, []string{"unstake", "stake"}, []string{h[0].Kind, h[1].Kind})
	assert.Equal(t, []uint64{100_000, 300_000}, []uint64{h[0].Amount, h[1].Amount})

	for _, tc := range []struct {
		name   string
		method string
		p      StakeParams
		code   jrpc2.Code
		want   string
	}{
		{"zero", "stake.lock", StakeParams{}, jrpc2.InvalidParams, "amount: must be positive"},
		{"over balance", "stake.lock", StakeParams{Amount: ledgerFunds}, CodeConflict,
			"insufficient balance to stake: 700000 micro-credits available, 1000000 asked"},
		{"over stake", "stake.unlock", StakeParams{Amount: 200_001}, CodeConflict,
			"insufficient stake to unlock: 200000 micro-credits staked, 200001 asked"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, msg := rpcCode(t, c.Call(ctx, tc.method, tc.p, nil))
			assert.Equal(t, tc.code, code)
			assert.Contains(t, msg, tc.want)
		})
	}

	// Without a ledger, stake calls say why.
	n := startTestNode(t, nil)
	code, msg := rpcCode(t, n.client(t).Call(ctx, "stake.lock", StakeParams{Amount: 1}, nil))
	assert.Equal(t, CodeUnavailable, code)
	assert.Contains(t, msg, "this node runs no ledger")
}
