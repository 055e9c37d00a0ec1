package ledgersvc

import (
	"context"
	"encoding/hex"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fog-compute/fog/token"
)

// TestAskRepsForMissedVotes: a node without weight that holds a block
// but missed its election's final votes (here it never ran its gossip)
// asks the representatives, the heaviest first, and confirms the block
// from their answers; the Node's Stale report is what starts the ask.
func TestAskRepsForMissedVotes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newCluster(t, 3, 5)
		rep := accountOf(t, c.net.Keys[0])
		c.genesis.Accounts[2].Representative = hex.EncodeToString(rep[:]) // node 2 observes
		c.start(0)
		c.start(1)
		c.waitMesh([]int{0, 1})
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		h, err := c.svcs[0].Send(ctx, c.svcs[1].Account(), 10)
		require.NoError(t, err)
		require.NoError(t, c.svcs[0].WaitConfirmed(ctx, h))
		var b token.Block
		c.svcs[0].View(func(l *token.Ledger) { b, _ = l.Block(h) })

		o, err := New(context.Background(), TestConfig(), Options{Gossip: c.net.Nodes[2], Store: c.ds(2), Genesis: c.genesis, Identity: c.net.Keys[2]})
		require.NoError(t, err)
		_, err = o.step(func(now time.Time) (token.Effects, error) { return o.node.ProcessBlock(b, now) })
		require.NoError(t, err)
		confirmed := func() (ok bool) {
			o.View(func(l *token.Ledger) { ok = l.Confirmed(h) })
			return ok
		}
		require.False(t, confirmed())
		// The election stays open past ResendAfter: the Node reports the
		// account Stale, and the asker asks.
		var stale []token.Account
		for range 100 {
			time.Sleep(TestConfig().TickInterval)
			_, err := o.step(func(now time.Time) (token.Effects, error) {
				eff := o.node.Tick(now)
				stale = append(stale, eff.Stale...)
				return eff, nil
			})
			require.NoError(t, err)
			if len(stale) > 0 {
				break
			}
		}
		require.Equal(t, []token.Account{c.svcs[0].Account()}, stale)
		o.askReps(ctx)
		assert.True(t, confirmed(), "confirmed from the representatives' answers")
		assert.Equal(t, uint64(1), o.Stats().Asks, "the heaviest representative's answer was a quorum")
	})
}
