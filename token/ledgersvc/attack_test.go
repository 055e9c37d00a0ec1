package ledgersvc

import (
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"testing"
	"testing/synctest"
	"time"

	pb "github.com/libp2p/go-libp2p-pubsub/pb"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fog-compute/fog/gossip/gossipnet"
	"github.com/fog-compute/fog/token"
)

// TestServiceRejectsForgedBlocks has raw-protocol hostile hosts send
// blocks to honest nodes under their own gossip envelopes: a block whose
// signature is forged, a block that spends more than its account holds
// (validly signed by a funded account the attacker controls), and a valid
// block in an envelope replayed from long ago. Each target must refuse
// what it was sent, graylist the sender, and never take the block; the
// honest transfers go on.
func TestServiceRejectsForgedBlocks(t *testing.T) {
	synctest.Test(t, testServiceRejectsForgedBlocks)
}

func testServiceRejectsForgedBlocks(t *testing.T) {
	const honest = 4
	spender := ed25519.NewKeyFromSeed([]byte("ledgersvc attack test spender..."))
	spenderAcct := token.AccountOf(spender.Public().(ed25519.PublicKey))
	c := newCluster(t, honest, 5, token.Allocation{Account: hex.EncodeToString(spenderAcct[:]), Balance: 100})
	for i := range honest {
		c.start(i)
	}
	c.waitMesh(indexes(honest))

	l, err := token.NewLedger(c.genesis)
	require.NoError(t, err)
	w := token.NewWallet(l, spender)
	epoch := TestConfig().Epoch(time.Now())
	valid, err := w.Send(c.svcs[0].Account(), 60, epoch)
	require.NoError(t, err)
	forgedSig := valid
	forgedSig.Signature[10] ^= 1
	overspend := valid
	overspend.Balance = 1000 // a send that raises the balance
	overspend.Sign(spender)

	type attack struct {
		name   string
		target int
		block  token.Block
		at     time.Time
		topic  bool // rejected by the ledger's check (counted in Stats)
	}
	attacks := []*attack{
		{name: "forged signature", target: 0, block: forgedSig, at: time.Now(), topic: true},
		{name: "over-spend", target: 1, block: overspend, at: time.Now(), topic: true},
		{name: "replayed from long ago", target: 2, block: valid, at: time.Now().Add(-10 * time.Minute)},
	}
	var running []*gossipnet.Attacker
	defer func() {
		for _, a := range running {
			require.NoError(t, a.Close())
		}
	}()
	ids := make([]peer.ID, len(attacks))
	for k, a := range attacks {
		h, key, err := c.net.AddHost()
		require.NoError(t, err)
		ids[k] = h.ID()
		var msgs []*pb.Message
		for i := range 5 {
			m := &Message{Author: h.ID(), Seq: uint64(i + 1), Time: a.at.Add(time.Duration(i) * time.Millisecond), Block: &a.block}
			data, err := m.Encode()
			require.NoError(t, err)
			pm, err := gossipnet.SignMessage(key, BlocksTopic, data, uint64(i+1))
			require.NoError(t, err)
			msgs = append(msgs, pm)
		}
		atk, err := gossipnet.NewAttacker(h, gossipnet.AttackerConfig{Topic: BlocksTopic, Kinds: []gossipnet.Attack{gossipnet.Replay}, Rate: 50})
		require.NoError(t, err)
		atk.Seed(msgs...)
		th := c.net.Hosts[a.target]
		require.NoError(t, atk.Start([]peer.AddrInfo{{ID: th.ID(), Addrs: th.Addrs()}}))
		running = append(running, atk)
	}

	for k, a := range attacks {
		g := c.net.Nodes[a.target]
		deadline := time.NewTimer(10 * time.Second)
		for updated := g.ScoresUpdated(); !g.Graylisted(ids[k]); updated = g.ScoresUpdated() {
			select {
			case <-updated:
			case <-deadline.C:
				require.True(t, g.Graylisted(ids[k]), "%s: node %d did not graylist the attacker", a.name, a.target)
			}
		}
		deadline.Stop()
		sc, _ := g.Score(ids[k])
		assert.Positive(t, sc.Topics[BlocksTopic].InvalidDeliveries, "%s", a.name)
		if a.topic {
			assert.Positive(t, c.svcs[a.target].Stats().Rejected, "%s", a.name)
		}
	}
	for i := range honest {
		c.svcs[i].View(func(l *token.Ledger) {
			for _, a := range attacks {
				_, held := l.Block(a.block.Hash())
				assert.False(t, held, "node %d took the block of %q", i, a.name)
			}
		})
	}

	// The honest nodes still transfer.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	h, err := c.svcs[3].Send(ctx, c.svcs[2].Account(), 5)
	require.NoError(t, err)
	for i := range honest {
		require.NoError(t, c.svcs[i].WaitConfirmed(ctx, h), "node %d", i)
	}
}
