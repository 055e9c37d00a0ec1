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

// handoffNet is a network whose first nodes (old) hold an item deposited
// for bob, and K newcomers (fresh) that joined closer to its mailbox key.
type handoffNet struct {
	tn         *testNet
	nodes      []*testNode
	old, fresh []*testNode
	bob        identity
	deposited  time.Time
}

// newHandoffNet builds a handoffNet inside a synctest bubble, every node
// running its service (so handing off every cfg.HandoffInterval).
func newHandoffNet(t *testing.T, cfg Config) *handoffNet {
	hn := &handoffNet{tn: newTestNet(t)}
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
	for range 4 {
		n := hn.tn.add(t, cfg, newIdentity(t), hn.nodes...)
		hn.nodes = append(hn.nodes, n)
		run(n)
	}
	t.Cleanup(func() {
		stopRuns()
		for _, d := range runs {
			<-d
		}
	})
	waitTables(t, 3, hn.nodes...)
	hn.bob = newIdentity(t) // away
	hn.deposited = time.Now()
	stored, err := hn.nodes[0].svc.Deposit(context.Background(), hn.bob.id, hn.bob.chat.PublicKey(), []byte("are you there?"))
	require.NoError(t, err)
	require.Equal(t, cfg.K, stored)
	hn.old = hn.nodes

	// K newcomers, each closer to today's mailbox key than every node so
	// far.
	key := MailboxKey(hn.bob.id, DayOf(time.Now()))
	target := kb.ConvertKey(string(key[:]))
	var ids []peer.ID
	for _, n := range hn.old {
		ids = append(ids, n.h.ID())
	}
	for tries := 0; len(hn.fresh) < cfg.K; tries++ {
		require.Less(t, tries, 10000)
		id := newIdentity(t)
		if kb.SortClosestPeers(append(ids[:len(ids):len(ids)], id.id), target)[0] != id.id {
			continue
		}
		n := hn.tn.add(t, cfg, id, hn.nodes...)
		hn.nodes = append(hn.nodes, n)
		hn.fresh = append(hn.fresh, n)
		run(n)
	}
	waitTables(t, 3, hn.nodes...)
	return hn
}

// TestHandoffToCloserPeers: mail deposited at the K closest hosts moves,
// at the next handoff, to nodes that joined closer to its mailbox key; the
// old hosts drop their copies once the new ones hold them; the recipient
// fetches it once from the new hosts. On virtual time.
func TestHandoffToCloserPeers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := TestConfig()
		cfg.HandoffInterval = time.Minute
		hn := newHandoffNet(t, cfg)
		time.Sleep(2 * cfg.HandoffInterval)
		synctest.Wait()

		for i, n := range hn.fresh {
			assert.Equal(t, 1, n.svc.Stats().Items, "newcomer %d holds a copy", i)
		}
		handed := uint64(0)
		for i, n := range hn.old {
			assert.Zero(t, n.svc.Stats().Items, "old node %d dropped its copy", i)
			handed += n.svc.Stats().HandedOn
		}
		assert.GreaterOrEqual(t, handed, uint64(cfg.K), "the old hosts handed copies on")

		// A second pass moves nothing: every copy sits where it belongs.
		before := held(hn.nodes)
		time.Sleep(cfg.HandoffInterval)
		synctest.Wait()
		assert.Equal(t, before, held(hn.nodes))

		b := hn.tn.add(t, cfg, hn.bob, hn.nodes...)
		waitTables(t, 3, b)
		var got []Message
		rep, err := b.svc.Fetch(context.Background(), func(m Message) error { got = append(got, m); return nil })
		require.NoError(t, err)
		require.Len(t, got, 1)
		assert.Equal(t, "are you there?", string(got[0].Payload))
		assert.Equal(t, cfg.K, rep.Received, "a copy from each new host")
		assert.Zero(t, held(hn.nodes), "acknowledged everywhere")
	})
}

// TestHandoffKeepsExpiry: a copy handed on expires when the deposited one
// would have, not a TTL after the handoff (before, each handoff started
// the TTL again, so mail moving between hosts could outlive it). A short
// TTL: Badger's own tickers make days of synctest time slow.
func TestHandoffKeepsExpiry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := TestConfig()
		cfg.TTL, cfg.HandoffInterval, cfg.SweepInterval = 20*time.Minute, 5*time.Minute, time.Minute
		hn := newHandoffNet(t, cfg)
		time.Sleep(2 * cfg.HandoffInterval)
		synctest.Wait()
		for i, n := range hn.fresh {
			require.Equal(t, 1, n.svc.Stats().Items, "newcomer %d holds a copy", i)
		}
		require.Zero(t, held(hn.old), "the old hosts dropped theirs")

		// Just before the deposit's expiry the copies are there; one sweep
		// after it they are gone, though the handoff was 5-10 minutes later.
		time.Sleep(time.Until(hn.deposited.Add(cfg.TTL - time.Minute)))
		synctest.Wait()
		assert.Equal(t, cfg.K, held(hn.fresh), "kept until the deposit's expiry")
		time.Sleep(time.Until(hn.deposited.Add(cfg.TTL + cfg.SweepInterval + time.Second)))
		synctest.Wait()
		assert.Zero(t, held(hn.nodes), "dropped at the deposit's expiry")
		expired := uint64(0)
		for _, n := range hn.fresh {
			expired += n.svc.Stats().Expired
		}
		assert.Equal(t, uint64(cfg.K), expired)
	})
}
