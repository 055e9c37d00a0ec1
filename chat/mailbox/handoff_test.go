package mailbox

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	kb "github.com/libp2p/go-libp2p-kbucket"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestHandoffToCloserPeers: mail deposited at the K closest hosts moves,
// at the next handoff, to nodes that joined closer to its mailbox key; the
// old hosts drop their copies once the new ones hold them; the recipient
// fetches it once from the new hosts. On virtual time.
func TestHandoffToCloserPeers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tn := newTestNet(t)
		cfg := TestConfig()
		cfg.HandoffInterval = time.Minute
		runCtx, stopRuns := context.WithCancel(context.Background())
		var runs []chan struct{}
		run := func(n *testNode) {
			done := make(chan struct{})
			runs = append(runs, done)
			go func() {
				defer close(done)
				_ = n.svc.Run(runCtx, func() {})
			}()
		}
		var nodes []*testNode
		for range 4 {
			n := tn.add(t, cfg, newIdentity(t), nodes...)
			nodes = append(nodes, n)
			run(n)
		}
		t.Cleanup(func() {
			stopRuns()
			for _, d := range runs {
				<-d
			}
		})
		waitTables(t, 3, nodes...)
		ctx := context.Background()
		bob := newIdentity(t) // away
		stored, err := nodes[0].svc.Deposit(ctx, bob.id, bob.chat.PublicKey(), []byte("are you there?"))
		require.NoError(t, err)
		require.Equal(t, cfg.K, stored)
		old := nodes

		// K newcomers, each closer to today's mailbox key than every node
		// so far.
		key := MailboxKey(bob.id, DayOf(time.Now()))
		target := kb.ConvertKey(string(key[:]))
		var ids []peer.ID
		for _, n := range old {
			ids = append(ids, n.h.ID())
		}
		var fresh []*testNode
		for tries := 0; len(fresh) < cfg.K; tries++ {
			require.Less(t, tries, 10000)
			id := newIdentity(t)
			if kb.SortClosestPeers(append(ids[:len(ids):len(ids)], id.id), target)[0] != id.id {
				continue
			}
			n := tn.add(t, cfg, id, nodes...)
			nodes = append(nodes, n)
			fresh = append(fresh, n)
			run(n)
		}
		waitTables(t, 3, nodes...)
		time.Sleep(2 * cfg.HandoffInterval)
		synctest.Wait()

		for i, n := range fresh {
			assert.Equal(t, 1, n.svc.Stats().Items, "newcomer %d holds a copy", i)
		}
		handed := uint64(0)
		for i, n := range old {
			assert.Zero(t, n.svc.Stats().Items, "old node %d dropped its copy", i)
			handed += n.svc.Stats().HandedOn
		}
		assert.GreaterOrEqual(t, handed, uint64(cfg.K), "the old hosts handed copies on")

		// A second pass moves nothing: every copy sits where it belongs.
		before := held(nodes)
		time.Sleep(cfg.HandoffInterval)
		synctest.Wait()
		assert.Equal(t, before, held(nodes))

		b := tn.add(t, cfg, bob, nodes...)
		waitTables(t, 3, b)
		var got []Message
		rep, err := b.svc.Fetch(ctx, func(m Message) error { got = append(got, m); return nil })
		require.NoError(t, err)
		require.Len(t, got, 1)
		assert.Equal(t, "are you there?", string(got[0].Payload))
		assert.Equal(t, cfg.K, rep.Received, "a copy from each new host")
		assert.Zero(t, held(nodes), "acknowledged everywhere")
	})
}
