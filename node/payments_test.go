package node

import (
	"context"
	"os"
	"testing"

	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fog-compute/fog/compute"
	"github.com/fog-compute/fog/token"
)

// TestPaidTask: three nodes on one ledger, two of them running only paid
// tasks. node0 submits a task at max price 1000 × 3 replicas: 3000
// micro-credits go into escrow before it is placed, the two providers of
// the agreeing quorum claim 1000 each with node0's tickets, and the share
// of node0's own replica returns to it after the deadline. A submitter
// without the credits is refused, told why, and nothing is locked.
func TestPaidTask(t *testing.T) {
	nodes := startLedgerNet(t, 3, func(i int, c *Config) {
		c.Compute.Price = 100
		c.Compute.RequirePayment = i > 0
	})
	awaitDirectory(t, nodes[0].Node, 3)
	ctx := context.Background()
	c := nodes[0].client(t)
	echo, err := os.ReadFile("../compute/testdata/echo.wasm")
	require.NoError(t, err)

	var sub TaskSubmitResult
	require.NoError(t, c.Call(ctx, "task.submit", TaskSubmitParams{Module: echo, Stdin: []byte("paid"), Replicas: 3, MaxPrice: 1000, DeadlineSeconds: 3}, &sub))
	var res compute.Result
	require.NoError(t, c.Call(ctx, "task.result", TaskIDParams{ID: string(sub.ID), Wait: true}, &res))
	assert.Equal(t, compute.StateDone, res.State, res.Error)
	assert.Equal(t, "paid", string(res.Stdout))
	assert.ElementsMatch(t, []peer.ID{nodes[0].Host().ID(), nodes[1].Host().ID(), nodes[2].Host().ID()}, res.Providers)

	// Each provider's claim is on its chain, confirmed by the network's
	// votes.
	for _, p := range nodes[1:] {
		acct := p.Ledger().Account()
		awaitLedger(t, p, func(l *token.Ledger) bool {
			info, _ := l.Account(acct)
			return info.Balance == ledgerFunds+1000 && info.ConfirmedHeight == 1
		})
		var h []WalletEntry
		require.NoError(t, p.client(t).Call(ctx, "wallet.history", nil, &h))
		require.Len(t, h, 1)
		assert.Equal(t, "escrow-claim", h[0].Kind)
		assert.Equal(t, uint64(1000), h[0].Amount)
		assert.Equal(t, nodes[0].Host().ID().String(), h[0].CounterpartyPeer)
	}
	// After the deadline (and one epoch of slack) node0 takes back the
	// share of its own replica.
	acct0 := nodes[0].Ledger().Account()
	awaitLedger(t, nodes[0], func(l *token.Ledger) bool {
		info, _ := l.Account(acct0)
		return info.Balance == ledgerFunds-2000 && info.ConfirmedHeight == 2
	})
	var h0 []WalletEntry
	require.NoError(t, c.Call(ctx, "wallet.history", nil, &h0))
	require.Len(t, h0, 2)
	assert.Equal(t, []string{"escrow-refund", "escrow-lock"}, []string{h0[0].Kind, h0[1].Kind})
	assert.Equal(t, []uint64{1000, 3000}, []uint64{h0[0].Amount, h0[1].Amount})
	nodes[0].Ledger().View(func(l *token.Ledger) { assert.Equal(t, l.Supply(), l.Total()+l.InFlight()) })

	// An unpaid task is refused by the two providers that want payment:
	// with node0's own replica it cannot get the 2 it needs.
	require.NoError(t, c.Call(ctx, "task.submit", TaskSubmitParams{ModuleID: sub.Module, Replicas: 2, DeadlineSeconds: 2}, &sub))
	require.NoError(t, c.Call(ctx, "task.result", TaskIDParams{ID: string(sub.ID), Wait: true}, &res))
	assert.Equal(t, compute.StateFailed, res.State)
	var st compute.Status
	require.NoError(t, c.Call(ctx, "task.status", TaskIDParams{ID: string(sub.ID)}, &st))
	assert.Equal(t, 2, st.Refusals, res.Error)

	// Too few credits: refused before anything is queued or locked.
	code, msg := rpcCode(t, nodes[1].client(t).Call(ctx, "task.submit",
		TaskSubmitParams{Module: echo, Replicas: 2, MaxPrice: ledgerFunds}, nil))
	assert.Equal(t, CodeConflict, code)
	assert.Contains(t, msg, "escrow of 2000000 micro-credits (max price 1000000 × 2 replicas): insufficient balance: 1001000 micro-credits available, 2000000 asked")
	var b1 WalletBalance
	require.NoError(t, nodes[1].client(t).Call(ctx, "wallet.balance", nil, &b1))
	assert.Equal(t, uint64(ledgerFunds+1000), b1.Balance)
	var list []compute.Status
	require.NoError(t, nodes[1].client(t).Call(ctx, "task.list", TaskListParams{}, &list))
	assert.Empty(t, list)
}
