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

// TestAskRepsManyAccounts: an observer missed the final votes of the
// sends of many accounts, more than one representative can answer for
// within one askTimeout (here shortened to a few round trips). Each
// request of an ask gets the whole askTimeout, so the heaviest
// representative's answers confirm every send. (When the timeout bounded
// a representative's whole ask, the accounts after the first few were
// never asked of it, and the lighter one's votes are not a quorum.)
func TestAskRepsManyAccounts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const accounts = 24
		c := newCluster(t, 3, 5)
		rep := accountOf(t, c.net.Keys[0])
		c.genesis.Accounts[2].Representative = hex.EncodeToString(rep[:]) // node 2 observes
		keys, allocs := stakers(accounts, 9)
		for i := range allocs {
			allocs[i].Staked, allocs[i].Balance = 0, 1000
			allocs[i].Representative = hex.EncodeToString(rep[:])
		}
		c.genesis.Accounts = append(c.genesis.Accounts, allocs...)
		c.start(0)
		c.start(1)
		c.waitMesh([]int{0, 1})
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		var sends []token.Block
		for _, k := range keys {
			h, err := c.svcs[0].SendFrom(ctx, k, c.svcs[1].Account(), 10)
			require.NoError(t, err)
			require.NoError(t, c.svcs[0].WaitConfirmed(ctx, h))
			c.svcs[0].View(func(l *token.Ledger) {
				b, _ := l.Block(h)
				sends = append(sends, b)
			})
		}

		o, err := New(context.Background(), TestConfig(), Options{Gossip: c.net.Nodes[2], Store: c.ds(2), Genesis: c.genesis, Identity: c.net.Keys[2]})
		require.NoError(t, err)
		for _, b := range sends {
			_, err = o.step(func(now time.Time) (token.Effects, error) { return o.node.ProcessBlock(b, now) })
			require.NoError(t, err)
		}
		// One round trip on these links is at most 30 ms.
		o.askTimeout = 100 * time.Millisecond
		for range 100 {
			time.Sleep(TestConfig().TickInterval)
			_, err := o.step(func(now time.Time) (token.Effects, error) {
				eff := o.node.Tick(now)
				o.noteStaleLocked(eff.Stale)
				return eff, nil
			})
			require.NoError(t, err)
			o.mu.Lock()
			n := len(o.stale)
			o.mu.Unlock()
			if n == accounts {
				break
			}
		}
		o.askReps(ctx)
		confirmed := 0
		o.View(func(l *token.Ledger) {
			for _, b := range sends {
				if l.Confirmed(b.Hash()) {
					confirmed++
				}
			}
		})
		assert.Equal(t, accounts, confirmed)
		st := o.Stats()
		assert.Zero(t, st.AskFailures)
		assert.Equal(t, uint64(accounts), st.AskBlocks, "the heaviest representative's: one block each")
	})
}
