package ledgersvc

import (
	"context"
	"crypto/ed25519"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fog-compute/fog/token"
)

// TestOvertakenBlockTaken: a node's messages reach a peer out of their
// order (a later one over a faster path): the peer takes the overtaken
// one too. Here node 0 publishes a chain's second block with a higher
// sequence number than its first, before it; node 1 must take both (the
// second waits for the first). Gossip's seq rule, which the ledger's
// topics skip, would ignore the first for good.
func TestOvertakenBlockTaken(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		spender := ed25519.NewKeyFromSeed([]byte("ledgersvc overtaken blocks key.."))
		sa := token.AccountOf(spender.Public().(ed25519.PublicKey))
		c := newCluster(t, 2, 5, token.Allocation{Account: sa.String(), Balance: 100})
		s0 := c.start(0)
		s1 := c.start(1)
		c.waitMesh(indexes(2))
		l, err := token.NewLedger(c.genesis)
		require.NoError(t, err)
		w := token.NewWallet(l, spender)
		epoch := s0.Epoch()
		first, err := w.Send(s1.Account(), 10, epoch)
		require.NoError(t, err)
		_, err = l.Apply(first)
		require.NoError(t, err)
		second, err := w.Send(s1.Account(), 20, epoch)
		require.NoError(t, err)

		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		s0.mu.Lock()
		blocks := s0.blocks
		s0.mu.Unlock()
		now := time.Now()
		require.NoError(t, blocks.Publish(ctx, &Message{Author: s0.self, Seq: s0.seq + 100, Time: now, Block: &second}))
		require.NoError(t, blocks.Publish(ctx, &Message{Author: s0.self, Seq: s0.seq + 1, Time: now, Block: &first}))
		require.NoError(t, s1.Wait(ctx, func(l *token.Ledger) bool {
			_, ok1 := l.Block(first.Hash())
			_, ok2 := l.Block(second.Hash())
			return ok1 && ok2
		}), "node 1 took both blocks")
	})
}
