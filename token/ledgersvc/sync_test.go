package ledgersvc

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fog-compute/fog/token"
)

// TestCatchUpAfterRestart: one of four nodes is down while the others
// transfer among themselves and to it; restarted from its store, it pulls
// what it missed from its peers (nothing about it is gossiped again:
// every election is settled), confirms every block with their votes,
// receives what was sent to it, and ends with the others' balances.
func TestCatchUpAfterRestart(t *testing.T) {
	synctest.Test(t, testCatchUpAfterRestart)
}

func testCatchUpAfterRestart(t *testing.T) {
	const n = 4
	c := newCluster(t, n, 5)
	for i := range n {
		c.start(i)
	}
	c.waitMesh(indexes(n))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	accts := make([]token.Account, n)
	for i := range n {
		accts[i] = c.svcs[i].Account()
	}
	require.NoError(t, c.stop(3))

	var sends []token.Hash
	for round := range 5 {
		for i := range 3 {
			to := accts[(i+1+round)%n] // every second round, some to node 3
			h, err := c.svcs[i].Send(ctx, to, uint64(100*(round+1)+i))
			require.NoError(t, err)
			sends = append(sends, h)
		}
		for _, i := range []int{0, 1, 2} {
			for _, h := range sends {
				require.NoError(t, c.svcs[i].WaitConfirmed(ctx, h))
			}
		}
	}
	// The live nodes settle, node 3's sends waiting for it to receive.
	snapshot := func(l *token.Ledger) map[token.Account]token.AccountInfo {
		out := map[token.Account]token.AccountInfo{}
		for _, a := range accts[:3] {
			info, _ := l.Account(a)
			out[a] = info
		}
		return out
	}
	var want map[token.Account]token.AccountInfo
	require.NoError(t, c.svcs[0].Wait(ctx, func(l *token.Ledger) bool {
		for _, a := range accts[:3] {
			if info, _ := l.Account(a); info.ConfirmedHeight != info.Height || len(pendingConfirmed(l, a)) > 0 {
				return false
			}
		}
		want = snapshot(l)
		return true
	}))
	var before token.AccountInfo
	c.svcs[0].View(func(l *token.Ledger) { before, _ = l.Account(accts[3]) })

	s3 := c.start(3)
	require.NoError(t, s3.Wait(ctx, func(l *token.Ledger) bool {
		for _, h := range sends {
			if !l.Confirmed(h) {
				return false
			}
		}
		return len(l.Pending(accts[3])) == 0
	}), "node 3 catches up and receives what was sent to it")
	s3.View(func(l *token.Ledger) {
		got := snapshot(l)
		for _, a := range accts[:3] {
			assert.Equal(t, want[a].Balance, got[a].Balance, "balance of %s", a)
			assert.Equal(t, want[a].Head, got[a].Head, "head of %s", a)
		}
		info, _ := l.Account(accts[3])
		assert.Greater(t, info.Balance, before.Balance, "node 3 received its sends")
		assert.Equal(t, l.Supply(), l.Total()+l.InFlight())
	})
	// The others see node 3's receives confirmed too: the same ledger.
	var h3 token.Hash
	s3.View(func(l *token.Ledger) { info, _ := l.Account(accts[3]); h3 = info.Head })
	for i := range 3 {
		err := c.svcs[i].WaitConfirmed(ctx, h3)
		if err != nil {
			c.svcs[i].View(func(l *token.Ledger) {
				b, ok := l.Block(h3)
				t.Logf("node %d: has %v confirmed %v block %+v", i, ok, l.Confirmed(h3), b)
				info, _ := l.Account(accts[3])
				t.Logf("node %d: acct3 %+v", i, info)
			})
			s3.View(func(l *token.Ledger) {
				info, _ := l.Account(accts[3])
				t.Logf("node 3: acct3 %+v", info)
			})
		}
		require.NoError(t, err)
	}
	for i := range n {
		assert.Zero(t, c.svcs[i].Stats().Rejected, "node %d rejected an honest message", i)
	}
}

// pendingConfirmed returns the confirmed sends pending to a.
func pendingConfirmed(l *token.Ledger, a token.Account) []token.Hash {
	var out []token.Hash
	for _, h := range l.Pending(a) {
		if l.Confirmed(h) {
			out = append(out, h)
		}
	}
	return out
}
