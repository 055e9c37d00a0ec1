package channel

import (
	"context"
	"crypto/ecdh"
	"crypto/rand"
	"fmt"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fog-compute/fog/gossip"
	"github.com/fog-compute/fog/gossip/gossipnet"
	"github.com/fog-compute/fog/store"
)

// The network tests run inside testing/synctest bubbles: mocknet, gossip,
// the stores and the services live in the bubble, so their timers run on
// virtual time and waiting is exact however busy the machine is.

type testNet struct {
	t    *testing.T
	net  *gossipnet.Network
	db   *store.DB
	svcs []*Service
	keys []*ecdh.PrivateKey
}

func newTestNet(t *testing.T, nodes int, cfg Config) *testNet {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	n, err := gossipnet.NewNetwork(ctx, gossipnet.NetworkConfig{
		Nodes: nodes, Degree: 3, MinLatency: time.Millisecond, MaxLatency: 5 * time.Millisecond, Seed: 1,
		Config: gossip.TestConfig(),
	})
	require.NoError(t, err)
	db, err := store.Open(store.InMemoryConfig())
	require.NoError(t, err)
	tn := &testNet{t: t, net: n, db: db}
	t.Cleanup(func() {
		for _, s := range tn.svcs {
			require.NoError(t, s.Close())
		}
		require.NoError(t, n.Close())
		require.NoError(t, db.Close())
	})
	for i := range nodes {
		ck, err := ecdh.X25519().GenerateKey(rand.Reader)
		require.NoError(t, err)
		s, err := New(cfg, Options{
			Gossip: n.Nodes[i], Store: db.Datastore(store.Prefix(fmt.Sprintf("/chat%d", i))),
			Identity: n.Keys[i], ChatKey: ck,
		})
		require.NoError(t, err)
		tn.svcs, tn.keys = append(tn.svcs, s), append(tn.keys, ck)
	}
	return tn
}

func (tn *testNet) member(i int) Member {
	return Member{Peer: tn.net.Hosts[i].ID(), ChatKey: tn.keys[i].PublicKey()}
}

// waitMesh waits until every joined node of name sees a subscribed
// neighbour (and lets the meshes settle).
func (tn *testNet) waitMesh(name string, nodes ...int) {
	tn.t.Helper()
	eventually(tn.t, func() bool {
		for _, i := range nodes {
			if len(tn.net.Nodes[i].TopicPeers(Topic(name))) == 0 {
				return false
			}
		}
		return true
	}, "mesh of %s", name)
	time.Sleep(time.Second)
}

// eventually polls cond on the bubble's virtual clock for up to a minute.
func eventually(t *testing.T, cond func() bool, msg string, args ...any) {
	t.Helper()
	for range 600 {
		if cond() {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("not within a minute: "+msg, args...)
}

func ids(t *testing.T, s *Service, name string) []ID {
	t.Helper()
	out, err := s.IDs(context.Background(), name)
	require.NoError(t, err)
	return out
}

func texts(t *testing.T, s *Service, name string) []string {
	t.Helper()
	ps, err := s.History(context.Background(), name, 1000)
	require.NoError(t, err)
	var out []string
	for _, p := range ps {
		if p.Readable {
			out = append(out, string(p.Text))
		} else {
			out = append(out, "?")
		}
	}
	return out
}

func noSync() Config {
	c := TestConfig()
	c.SyncInterval, c.NeighbourCheck, c.SyncFanout = 0, 0, 0
	return c
}

func TestPublicChannelPostAndReceive(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		tn := newTestNet(t, 4, noSync())
		sub, err := tn.svcs[3].Subscribe()
		require.NoError(t, err)
		for _, s := range tn.svcs {
			require.NoError(t, s.Join(ctx, "lobby"))
		}
		tn.waitMesh("lobby", 0, 1, 2, 3)
		id, err := tn.svcs[0].Post(ctx, "lobby", []byte("hello fog"))
		require.NoError(t, err)
		p := <-sub.C()
		assert.Equal(t, id, p.ID)
		assert.Equal(t, "hello fog", string(p.Text))
		assert.Equal(t, tn.net.Hosts[0].ID(), p.Author)
		assert.False(t, p.Synced)
		eventually(t, func() bool {
			for _, s := range tn.svcs {
				if len(ids(t, s, "lobby")) != 1 {
					return false
				}
			}
			return true
		}, "every node stores the post")
		for _, s := range tn.svcs {
			assert.Equal(t, []string{"hello fog"}, texts(t, s, "lobby"))
		}
		_, err = tn.svcs[0].Post(ctx, "lobby", make([]byte, noSync().MaxBody+1))
		require.ErrorIs(t, err, ErrTooLarge)
		_, err = tn.svcs[0].Post(ctx, "elsewhere", []byte("x"))
		require.ErrorIs(t, err, ErrNotJoined)
		require.ErrorIs(t, tn.svcs[0].Join(ctx, "Bad Name"), ErrBadName)
	})
}

// TestOversizedAndFloodRefused: a raw gossipsub peer (pubsub without
// fog's validators) sends an honest node oversized messages, or valid
// posts far above the rate limit; the node refuses them by the size and
// rate rules and the sender's score falls.
func TestOversizedAndFloodRefused(t *testing.T) {
	cfg := noSync()
	for _, attack := range []string{"oversized", "flood"} {
		t.Run(attack, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				ctx := context.Background()
				tn := newTestNet(t, 1, cfg)
				victim := tn.svcs[0]
				require.NoError(t, victim.Join(ctx, "lobby"))
				h, key, err := tn.net.AddHost()
				require.NoError(t, err)
				pctx, pcancel := context.WithCancel(ctx)
				defer pcancel()
				ps, err := pubsub.NewGossipSub(pctx, h, pubsub.WithMessageSignaturePolicy(pubsub.StrictSign))
				require.NoError(t, err)
				top, err := ps.Join(Topic("lobby"))
				require.NoError(t, err)
				defer top.Close()
				require.NoError(t, tn.net.Connect(ctx, h, tn.net.Hosts[0]))
				eventually(t, func() bool { return len(top.ListPeers()) > 0 }, "attacker sees the victim")
				time.Sleep(time.Second)
				sent := 0
				for i := range 60 {
					var data []byte
					if attack == "oversized" {
						data = make([]byte, cfg.Topic.MaxSize+1+i)
					} else {
						now := time.UnixMilli(time.Now().UnixMilli())
						m := Message{Kind: KindPost, Channel: "lobby", Author: h.ID(), Seq: uint64(i + 1), Time: now, Body: []byte("spam")}
						require.NoError(t, m.Sign(key))
						data, err = EncodeMessage(m)
						require.NoError(t, err)
					}
					require.NoError(t, top.Publish(ctx, data))
					sent++
					time.Sleep(5 * time.Millisecond)
				}
				g := tn.net.Nodes[0]
				eventually(t, func() bool {
					s, ok := g.Score(h.ID())
					return ok && s.Topics[Topic("lobby")].InvalidDeliveries > 0 && s.Score < 0
				}, "attacker's score does not fall")
				j, err := victim.channel("lobby")
				require.NoError(t, err)
				st := j.topic.Stats()
				rule := gossip.RuleSize
				if attack == "flood" {
					rule = gossip.RuleRate
				}
				assert.Positive(t, st.Rejected[rule], "stats %+v", st)
				stored := len(ids(t, victim, "lobby"))
				if attack == "flood" {
					assert.LessOrEqual(t, stored, cfg.Topic.Burst+1, "at most a burst of the flood is accepted")
					assert.Positive(t, stored)
				} else {
					assert.Zero(t, stored)
				}
				s, _ := g.Score(h.ID())
				t.Logf("%s: sent %d, stats %+v, attacker score %.1f", attack, sent, st, s.Score)
			})
		})
	}
}

func TestPrivateChannel(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		tn := newTestNet(t, 4, noSync())
		creator := tn.net.Hosts[0].ID()
		// 0 creates with 1 and 2; 3 joins the topic but is not a member.
		require.NoError(t, tn.svcs[0].Create(ctx, "crew", []Member{tn.member(1), tn.member(2)}))
		for i := 1; i < 4; i++ {
			require.NoError(t, tn.svcs[i].JoinPrivate(ctx, "crew", creator))
		}
		tn.waitMesh("crew", 0, 1, 2, 3)
		// The first roster went out before anyone joined: members get it
		// by sync from the creator.
		for i := 1; i < 3; i++ {
			_, err := tn.svcs[i].Sync(ctx, creator, "crew")
			require.NoError(t, err)
		}
		_, err := tn.svcs[3].Sync(ctx, creator, "crew")
		require.ErrorIs(t, err, ErrSync, "a non-member is refused")
		_, err = tn.svcs[1].Post(ctx, "crew", []byte("one"))
		require.NoError(t, err)
		eventually(t, func() bool { return len(texts(t, tn.svcs[3], "crew")) == 1 && len(texts(t, tn.svcs[2], "crew")) == 1 }, "post one")
		assert.Equal(t, []string{"one"}, texts(t, tn.svcs[0], "crew"))
		assert.Equal(t, []string{"one"}, texts(t, tn.svcs[2], "crew"))
		assert.Equal(t, []string{"?"}, texts(t, tn.svcs[3], "crew"), "a non-member sees only ciphertext")
		_, err = tn.svcs[3].Post(ctx, "crew", []byte("intruder"))
		require.ErrorIs(t, err, ErrNoKey)

		// 2 is removed: epoch 2 with a new key, sealed to 0 and 1 only.
		require.NoError(t, tn.svcs[0].SetMembers(ctx, "crew", []Member{tn.member(1)}))
		eventually(t, func() bool {
			j, _ := tn.svcs[2].channel("crew")
			j.mu.Lock()
			defer j.mu.Unlock()
			return j.latest == 2
		}, "removed member learns of epoch 2")
		_, err = tn.svcs[2].Post(ctx, "crew", []byte("still here?"))
		require.ErrorIs(t, err, ErrNoKey, "the removed member has no key for epoch 2")
		_, err = tn.svcs[0].Post(ctx, "crew", []byte("two"))
		require.NoError(t, err)
		eventually(t, func() bool { return len(texts(t, tn.svcs[2], "crew")) == 2 && len(texts(t, tn.svcs[1], "crew")) == 2 }, "post two")
		assert.Equal(t, []string{"one", "two"}, texts(t, tn.svcs[1], "crew"))
		assert.Equal(t, []string{"one", "?"}, texts(t, tn.svcs[2], "crew"), "a removed member cannot read after the key change")
		assert.Equal(t, []string{"?", "?"}, texts(t, tn.svcs[3], "crew"))

		// A post sealed under epoch 1 and written after epoch 2 began (by
		// the removed member, who still holds epoch 1's key) is refused.
		j2, _ := tn.svcs[2].channel("crew")
		j2.mu.Lock()
		k1 := j2.keys[1]
		j2.mu.Unlock()
		m := Message{Kind: KindPost, Channel: "crew", Author: tn.net.Hosts[2].ID(), Seq: 1 << 62,
			Time: time.UnixMilli(time.Now().UnixMilli()), Epoch: 1}
		require.NoError(t, sealPost(&m, k1, []byte("late"), rand.Reader))
		require.NoError(t, m.Sign(tn.net.Keys[2]))
		j1, _ := tn.svcs[1].channel("crew")
		require.ErrorIs(t, tn.svcs[1].admit(j1, &m), ErrStaleEpoch)
		enc, err := EncodeMessage(m)
		require.NoError(t, err)
		require.NoError(t, tn.svcs[1].acceptSynced(j1, enc, 0))
		assert.Len(t, texts(t, tn.svcs[1], "crew"), 2, "the stale post is not stored")
	})
}

func TestLateJoinerSyncs(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		tn := newTestNet(t, 3, noSync())
		for i := range 2 {
			require.NoError(t, tn.svcs[i].Join(ctx, "lobby"))
		}
		tn.waitMesh("lobby", 0, 1)
		for i := range 40 {
			_, err := tn.svcs[i%2].Post(ctx, "lobby", fmt.Appendf(nil, "post %d", i))
			require.NoError(t, err)
			time.Sleep(300 * time.Millisecond)
		}
		eventually(t, func() bool { return len(ids(t, tn.svcs[1], "lobby")) == 40 }, "gossip")
		require.Equal(t, ids(t, tn.svcs[0], "lobby"), ids(t, tn.svcs[1], "lobby"))

		require.NoError(t, tn.svcs[2].Join(ctx, "lobby"))
		st, err := tn.svcs[2].Sync(ctx, tn.net.Hosts[0].ID())
		require.NoError(t, err)
		assert.Equal(t, 40, st.Stored)
		assert.Equal(t, ids(t, tn.svcs[0], "lobby"), ids(t, tn.svcs[2], "lobby"))
		t.Logf("late joiner: %+v", st)
		hist, err := tn.svcs[2].History(ctx, "lobby", 5)
		require.NoError(t, err)
		require.Len(t, hist, 5)
		assert.Equal(t, "post 39", string(hist[4].Text))

		// A second sync finds nothing: one round, no fetch.
		st, err = tn.svcs[2].Sync(ctx, tn.net.Hosts[1].ID())
		require.NoError(t, err)
		assert.Equal(t, SyncStats{Rounds: 1, Sent: st.Sent, Received: st.Received}, st)
		t.Logf("in sync: %+v", st)
	})
}

// TestPartitionHeals splits a network in two, lets both halves post, heals
// it, and checks that periodic sync makes every history identical within
// 30 s (the figure's bound).
func TestPartitionHeals(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		cfg := TestConfig()
		tn := newTestNet(t, 4, cfg)
		for _, s := range tn.svcs {
			require.NoError(t, s.Join(ctx, "lobby"))
		}
		tn.waitMesh("lobby", 0, 1, 2, 3)
		_, err := tn.svcs[0].Post(ctx, "lobby", []byte("before"))
		require.NoError(t, err)
		time.Sleep(time.Second)

		left, right := []int{0, 1}, []int{2, 3}
		mn := tn.net.Mocknet
		for _, a := range left {
			for _, b := range right {
				pa, pb := tn.net.Hosts[a].ID(), tn.net.Hosts[b].ID()
				require.NoError(t, tn.net.Cut(pa, pb))
				synctest.Wait()
				require.NoError(t, tn.net.Cut(pa, pb))
			}
		}
		for i := range 20 {
			_, err := tn.svcs[i%4].Post(ctx, "lobby", fmt.Appendf(nil, "split %d", i))
			require.NoError(t, err)
			time.Sleep(200 * time.Millisecond)
		}
		time.Sleep(time.Second)
		assert.NotEqual(t, ids(t, tn.svcs[0], "lobby"), ids(t, tn.svcs[2], "lobby"), "the halves diverged")

		healed := time.Now()
		for _, a := range left {
			for _, b := range right {
				_, err := mn.LinkPeers(tn.net.Hosts[a].ID(), tn.net.Hosts[b].ID())
				require.NoError(t, err)
			}
		}
		require.NoError(t, tn.net.Connect(ctx, tn.net.Hosts[1], tn.net.Hosts[2]))
		eventually(t, func() bool {
			want := ids(t, tn.svcs[0], "lobby")
			for _, s := range tn.svcs[1:] {
				if !slices.Equal(want, ids(t, s, "lobby")) {
					return false
				}
			}
			return len(want) == 21
		}, "histories converge")
		took := time.Since(healed)
		t.Logf("histories identical %s after the partition healed", took)
		assert.LessOrEqual(t, took, 30*time.Second)
	})
}

// TestSyncSpreads checks that one sync floods what it brought, with no
// periodic round and no neighbour check: node 1 pulls node 2's posts, fans
// out to node 0, which syncs back and gets them; node 2, having seen
// node 1's IDs it lacked (in node 1's ID lists or shown at the end),
// syncs back too.
func TestSyncSpreads(t *testing.T) {
	for _, tc := range []struct {
		name  string
		posts int // per side
	}{
		// Few enough that the initiator sends its IDs: the responder sees
		// what it lacks in them.
		{"small histories", 3},
		// More than IDListThreshold: the initiator sends fingerprints, the
		// responder answers with its IDs, and only the initiator learns the
		// difference; the responder must be shown it (before, it never was,
		// and waited for its periodic round: the tail after a heal).
		{"histories beyond the ID list threshold", 20},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				ctx := context.Background()
				cfg := TestConfig()
				cfg.SyncInterval, cfg.NeighbourCheck = 0, 0
				cfg.Topic.Rate, cfg.Topic.Burst = 10, 10
				tn := newTestNet(t, 3, cfg)
				for _, s := range tn.svcs {
					require.NoError(t, s.Join(ctx, "lobby"))
				}
				tn.waitMesh("lobby", 0, 1, 2)
				mn := tn.net.Mocknet
				h := func(i int) peer.ID { return tn.net.Hosts[i].ID() }
				for _, a := range []int{0, 1} {
					require.NoError(t, tn.net.Cut(h(a), h(2)))
					synctest.Wait()
					require.NoError(t, tn.net.Cut(h(a), h(2)))
				}
				for i := range 2 * tc.posts {
					_, err := tn.svcs[[]int{0, 2}[i%2]].Post(ctx, "lobby", fmt.Appendf(nil, "split %d", i))
					require.NoError(t, err)
					time.Sleep(150 * time.Millisecond)
				}
				time.Sleep(time.Second)
				require.Len(t, ids(t, tn.svcs[0], "lobby"), tc.posts)
				require.Len(t, ids(t, tn.svcs[1], "lobby"), tc.posts)
				require.Len(t, ids(t, tn.svcs[2], "lobby"), tc.posts)

				_, err := mn.LinkPeers(h(1), h(2))
				require.NoError(t, err)
				require.NoError(t, tn.net.Connect(ctx, tn.net.Hosts[1], tn.net.Hosts[2]))
				eventually(t, func() bool { return len(tn.net.Nodes[1].TopicPeers(Topic("lobby"))) == 2 }, "node 2 back in node 1's topic")
				st, err := tn.svcs[1].Sync(ctx, h(2))
				require.NoError(t, err)
				require.Equal(t, tc.posts, st.Stored)
				eventually(t, func() bool {
					return len(ids(t, tn.svcs[0], "lobby")) == 2*tc.posts && len(ids(t, tn.svcs[2], "lobby")) == 2*tc.posts
				}, "the fan-out and the sync back spread the posts")
				assert.Equal(t, ids(t, tn.svcs[1], "lobby"), ids(t, tn.svcs[0], "lobby"))
				assert.Equal(t, ids(t, tn.svcs[1], "lobby"), ids(t, tn.svcs[2], "lobby"))
			})
		})
	}
}

// TestFanoutReachesEveryNeighbour: a hub with more neighbours than
// gossipsub's mesh degree gains posts by one sync; with no periodic round
// and no neighbour check, only the fan-out can show them to its leaves,
// and every leaf must get them (before, six of eight did, and the last
// members after a heal waited for their periodic round).
func TestFanoutReachesEveryNeighbour(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		cfg := TestConfig()
		cfg.SyncInterval, cfg.NeighbourCheck = 0, 0
		const n = 10 // hub 0, source 9, leaves 1..8
		tn := newTestNet(t, n, cfg)
		h := func(i int) peer.ID { return tn.net.Hosts[i].ID() }
		// A star around 0: links from 0 to every node, none between the
		// others (Degree 3 dials random pairs besides the ring).
		for i := 1; i < n; i++ {
			_, err := tn.net.Mocknet.LinkPeers(h(0), h(i))
			require.NoError(t, err)
			require.NoError(t, tn.net.Connect(ctx, tn.net.Hosts[0], tn.net.Hosts[i]))
		}
		cut := func(a, b int) {
			require.NoError(t, tn.net.Cut(h(a), h(b)))
			synctest.Wait()
			require.NoError(t, tn.net.Cut(h(a), h(b)))
		}
		for a := 1; a < n; a++ {
			for b := a + 1; b < n; b++ {
				if len(tn.net.Mocknet.LinksBetweenPeers(h(a), h(b))) > 0 {
					cut(a, b)
				}
			}
		}
		for _, s := range tn.svcs {
			require.NoError(t, s.Join(ctx, "lobby"))
		}
		eventually(t, func() bool { return len(tn.net.Nodes[0].TopicPeers(Topic("lobby"))) == n-1 }, "every node in the hub's topic")
		cut(0, 9)
		for i := range 3 {
			_, err := tn.svcs[9].Post(ctx, "lobby", fmt.Appendf(nil, "alone %d", i))
			require.NoError(t, err)
		}
		// Past the topic's MaxAge, gossip refuses the posts: only sync
		// carries them.
		time.Sleep(2 * cfg.Topic.MaxAge)
		for i := range n - 1 {
			require.Empty(t, ids(t, tn.svcs[i], "lobby"), "node %d", i)
		}

		_, err := tn.net.Mocknet.LinkPeers(h(0), h(9))
		require.NoError(t, err)
		require.NoError(t, tn.net.Connect(ctx, tn.net.Hosts[0], tn.net.Hosts[9]))
		eventually(t, func() bool { return len(tn.net.Nodes[0].TopicPeers(Topic("lobby"))) == n-1 }, "node 9 back in the hub's topic")
		st, err := tn.svcs[0].Sync(ctx, h(9))
		require.NoError(t, err)
		require.Equal(t, 3, st.Stored)
		eventually(t, func() bool {
			for i := 1; i < n-1; i++ {
				if len(ids(t, tn.svcs[i], "lobby")) != 3 {
					return false
				}
			}
			return true
		}, "the hub's fan-out reaches all %d leaves", n-2)
		for i := 1; i < n; i++ {
			assert.Equal(t, ids(t, tn.svcs[0], "lobby"), ids(t, tn.svcs[i], "lobby"), "node %d", i)
		}
	})
}
