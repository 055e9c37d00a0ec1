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

// TestServiceTransfers: four nodes on mocknet send to each other; every
// send is confirmed on every node, every recipient receives it, every
// node's ledger ends identical, and no honest message is rejected. Then a
// node restarts from its store and keeps going.
func TestServiceTransfers(t *testing.T) {
	synctest.Test(t, testServiceTransfers)
}

func testServiceTransfers(t *testing.T) {
	const n = 4
	c := newCluster(t, n, 3)
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
	var sends []token.Hash
	for i := range n {
		h, err := c.svcs[i].Send(ctx, accts[(i+1)%n], uint64(1000*(i+1)))
		require.NoError(t, err)
		sends = append(sends, h)
	}
	// Every send confirmed everywhere, every recipient's receive too.
	want := make([]uint64, n)
	for i := range n {
		want[i] = funds - uint64(1000*(i+1)) + uint64(1000*((i+n-1)%n+1))
	}
	settled := func(l *token.Ledger) bool {
		for _, h := range sends {
			if !l.Confirmed(h) {
				return false
			}
		}
		for i, a := range accts {
			info, ok := l.Account(a)
			if !ok || info.Balance != want[i] || info.ConfirmedHeight != info.Height {
				return false
			}
		}
		return true
	}
	for i := range n {
		err := c.svcs[i].Wait(ctx, settled)
		if err != nil {
			c.svcs[i].View(func(l *token.Ledger) {
				for j, a := range accts {
					info, _ := l.Account(a)
					t.Logf("node %d: account %d: %+v want %d", i, j, info, want[j])
				}
				for _, h := range sends {
					t.Logf("node %d: send %s confirmed %v", i, h, l.Confirmed(h))
				}
			})
		}
		require.NoError(t, err, "node %d", i)
	}
	for i := range n {
		assert.Equal(t, want[i], c.svcs[i].Balance().Balance)
		c.svcs[i].View(func(l *token.Ledger) {
			assert.Equal(t, l.Supply(), l.Total()+l.InFlight())
			assert.Zero(t, l.InFlight(), "node %d: everything was received", i)
		})
		assert.Zero(t, c.svcs[i].Stats().Rejected, "node %d", i)
	}

	// Node 3 restarts from its store with the same ledger.
	before := c.svcs[3].Balance()
	require.NoError(t, c.stop(3))
	s3 := c.start(3)
	assert.Equal(t, before, s3.Balance())
	c.waitMesh(indexes(n))
	h, err := c.svcs[0].Send(ctx, accts[3], 7)
	require.NoError(t, err)
	require.NoError(t, s3.Wait(ctx, func(l *token.Ledger) bool {
		info, _ := l.Account(accts[3])
		return l.Confirmed(h) && info.Balance == before.Balance+7 && info.ConfirmedHeight == info.Height
	}))
}
