package gossip_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fog-compute/fog/gossip"
	"github.com/fog-compute/fog/gossip/gossipnet"
	"github.com/fog-compute/fog/internal/await"
)

// note is a minimal message type for testing the generic topic wrapper.
type note struct {
	Author peer.ID   `json:"author"`
	Seq    uint64    `json:"seq"`
	Time   time.Time `json:"time"`
	Text   string    `json:"text"`
}

func noteTopic(cfg gossip.Config) gossip.TopicConfig[note] {
	p := cfg.Capacity
	p.MaxSize = 1024
	return gossip.TopicConfig[note]{
		Name:   "/fog/test-note/1",
		Params: p,
		Encode: func(n note) ([]byte, error) { return json.Marshal(n) },
		Decode: func(b []byte) (note, error) {
			var n note
			err := json.Unmarshal(b, &n)
			return n, err
		},
		Header: func(n note) gossip.Header { return gossip.Header{Author: n.Author, Seq: n.Seq, Time: n.Time} },
		Check: func(n note, _ time.Time, _ bool) error {
			if n.Text == "" {
				return fmt.Errorf("%w: empty note", gossip.ErrInvalid)
			}
			return nil
		},
	}
}

// The network tests run in testing/synctest bubbles: the mocknet, gossipsub
// and the attackers live on the bubble's virtual clock, which moves only
// when every goroutine waits. Heartbeats, latencies, rates and deadlines
// are then exact however loaded the machine is, and what a test waits for
// it awaits through the notification the package gives (Directory.Updated,
// Gossip.ScoresUpdated, a subscription's handler), not by polling.

func newNetwork(t *testing.T, cfg gossipnet.NetworkConfig) *gossipnet.Network {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	start := time.Now()
	n, err := gossipnet.NewNetwork(ctx, cfg)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, n.Close()) })
	require.NoError(t, n.WaitReady(ctx))
	t.Logf("%d-node network ready in %s", cfg.Nodes, time.Since(start))
	return n
}

func TestTopicPublishSubscribe(t *testing.T) { synctest.Test(t, testTopicPublishSubscribe) }

func testTopicPublishSubscribe(t *testing.T) {
	n := newNetwork(t, gossipnet.NetworkConfig{Nodes: 3, Degree: 1, MinLatency: 5 * time.Millisecond, MaxLatency: 10 * time.Millisecond})
	cfg := gossip.TestConfig()
	var topics []*gossip.Topic[note]
	for _, g := range n.Nodes {
		tp, err := gossip.Join(g, noteTopic(cfg))
		require.NoError(t, err)
		topics = append(topics, tp)
	}
	_, err := gossip.Join(n.Nodes[0], noteTopic(cfg))
	require.Error(t, err, "a topic is joined once")

	var mu sync.Mutex
	got := map[int][]gossip.Received[note]{}
	arrived := make(chan struct{}, len(topics))
	for i, tp := range topics {
		_, err := tp.Subscribe(func(r gossip.Received[note]) {
			mu.Lock()
			got[i] = append(got[i], r)
			mu.Unlock()
			arrived <- struct{}{}
		})
		require.NoError(t, err)
	}
	ctx := context.Background()
	// Wait until the note topic's subscriptions have spread.
	require.Eventually(t, func() bool {
		for i, tp := range topics {
			if len(tp.Peers()) < len(n.Hosts[i].Network().Peers()) {
				return false
			}
		}
		return true
	}, 10*time.Second, 10*time.Millisecond)

	self := n.Hosts[0].ID()
	require.NoError(t, topics[0].Publish(ctx, note{Author: self, Seq: 1, Time: time.Now(), Text: "hello"}))
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	for range topics {
		select {
		case <-arrived:
		case <-wctx.Done():
			t.Fatal("the note did not reach every node")
		}
	}
	mu.Lock()
	assert.Len(t, got[0], 1)
	assert.Len(t, got[1], 1)
	assert.Len(t, got[2], 1)
	assert.True(t, got[0][0].Local)
	assert.False(t, got[1][0].Local)
	assert.Equal(t, self, got[2][0].From)
	assert.Equal(t, "hello", got[2][0].Msg.Text)
	assert.Equal(t, gossip.MsgID("/fog/test-note/1", self, mustJSON(t, got[0][0].Msg)), got[2][0].ID)
	mu.Unlock()

	// Our own invalid messages are refused with the rule that refused them.
	err = topics[0].Publish(ctx, note{Author: self, Seq: 1, Time: time.Now(), Text: "again"})
	var re *gossip.RuleError
	require.ErrorAs(t, err, &re)
	assert.Equal(t, gossip.RuleSeq, re.Rule)
	assert.ErrorIs(t, err, gossip.ErrStaleSeq)
	err = topics[0].Publish(ctx, note{Author: n.Hosts[1].ID(), Seq: 2, Time: time.Now(), Text: "forged"})
	assert.ErrorIs(t, err, gossip.ErrWrongAuthor)
	err = topics[0].Publish(ctx, note{Author: self, Seq: 3, Time: time.Now()})
	assert.ErrorIs(t, err, gossip.ErrInvalid)
	err = topics[0].Publish(ctx, note{Author: self, Seq: 4, Time: time.Now(), Text: string(make([]byte, 2000))})
	assert.ErrorIs(t, err, gossip.ErrTooLarge)
	st := topics[0].Stats()
	assert.EqualValues(t, 1, st.Accepted)
	assert.EqualValues(t, 1, st.Ignored[gossip.RuleSeq])
	assert.EqualValues(t, 1, st.Rejected[gossip.RuleAuthor])

	assert.Contains(t, n.Nodes[0].Topics(), "/fog/test-note/1")
	assert.Contains(t, n.Nodes[0].Topics(), gossip.CapacityTopic)
	for _, tp := range topics {
		require.NoError(t, tp.Close())
		require.NoError(t, tp.Close(), "idempotent")
	}
	assert.ErrorIs(t, topics[0].Publish(ctx, note{Author: self, Seq: 9, Time: time.Now(), Text: "x"}), gossip.ErrClosed)
	assert.NotContains(t, n.Nodes[0].Topics(), "/fog/test-note/1")
	// The topic can be joined again after Close.
	tp, err := gossip.Join(n.Nodes[0], noteTopic(cfg))
	require.NoError(t, err)
	require.NoError(t, tp.Close())
}

func mustJSON(t *testing.T, v any) []byte {
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return b
}

// TestDirectoriesConverge runs 30 nodes over links of 20–120 ms; each
// advertises once, and every directory must end up with the same 30
// adverts.
func TestDirectoriesConverge(t *testing.T) { synctest.Test(t, testDirectoriesConverge) }

func testDirectoriesConverge(t *testing.T) {
	cfg := gossip.TestConfig()
	cfg.Advert.TTL = 30 * time.Second // outlive the test on a slow machine
	n := newNetwork(t, gossipnet.NetworkConfig{
		Nodes: 30, Degree: 3, MinLatency: 20 * time.Millisecond, MaxLatency: 120 * time.Millisecond,
		Seed: 7, Config: cfg, Version: "fog/test",
	})
	ctx := context.Background()
	for i, g := range n.Nodes {
		adv := gossip.NewAdvertiser(g, gossip.StaticCapacity{
			Cores: uint32(1 + i%8), Memory: uint64(i+1) << 30, Price: uint64(100 * (i + 1)), Runtimes: []string{gossip.RuntimeWasm},
		})
		_, err := adv.Publish(ctx)
		require.NoError(t, err)
	}
	start := time.Now()
	for i, g := range n.Nodes {
		d := g.Directory()
		await.Until(t, 20*time.Second, d.Updated, func() bool { return d.Len() == len(n.Nodes) },
			"node %d's directory did not get every advert", i)
	}
	t.Logf("converged %s (virtual) after the adverts were published", time.Since(start))
	for i, g := range n.Nodes {
		assert.Equal(t, n.Nodes[0].Directory().Digest(), g.Directory().Digest(), "node %d's directory", i)
	}

	// Each node holds its own advert too, and queries see all.
	for i, g := range n.Nodes {
		_, ok := g.Directory().Get(n.Hosts[i].ID())
		assert.True(t, ok, "node %d holds its own advert", i)
	}
	best := n.Nodes[5].Directory().Query(gossip.Query{MinCores: 4, Runtime: gossip.RuntimeWasm, Sort: gossip.ByPrice, Limit: 3})
	require.Len(t, best, 3)
	assert.Equal(t, n.Hosts[3].ID(), best[0].Advert.Peer, "node 3 is the cheapest with 4 cores")
	assert.Equal(t, "fog/test", best[0].Advert.Version)
	st := n.Nodes[0].Stats()
	assert.GreaterOrEqual(t, st.Delivered, uint64(len(n.Nodes)-1), "every other node's advert")
	// Honest traffic costs nobody any score.
	for i, g := range n.Nodes {
		for _, p := range n.Hosts[i].Network().Peers() {
			assert.False(t, g.Graylisted(p), "node %d graylisted %s", i, p)
		}
	}
}

// TestAdvertiserRepublishesOnChange checks that a capacity change beyond
// the threshold is advertised long before the interval is due.
func TestAdvertiserRepublishesOnChange(t *testing.T) {
	synctest.Test(t, testAdvertiserRepublishesOnChange)
}

func testAdvertiserRepublishesOnChange(t *testing.T) {
	cfg := gossip.TestConfig()
	cfg.Advert.Interval = time.Hour // only a change can trigger an advert within the test
	cfg.Advert.TTL = 2 * time.Hour
	cfg.Advert.MaxTTL = 2 * time.Hour
	n := newNetwork(t, gossipnet.NetworkConfig{Nodes: 2, MinLatency: 5 * time.Millisecond, MaxLatency: 10 * time.Millisecond, Config: cfg})
	src := &mutableSource{c: gossip.Capacity{Cores: 4, Memory: 1 << 30, Runtimes: []string{gossip.RuntimeWasm}}}
	adv := gossip.NewAdvertiser(n.Nodes[0], src)
	assert.Equal(t, "advertiser", adv.Name())
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan struct{})
	done := make(chan error, 1)
	go func() { done <- adv.Run(ctx, func() { close(ready) }) }()
	defer func() {
		cancel()
		require.NoError(t, <-done)
	}()
	<-ready
	remote := n.Nodes[1].Directory()
	self := n.Hosts[0].ID()
	await.Until(t, 10*time.Second, remote.Updated, func() bool { _, ok := remote.Get(self); return ok })
	require.NoError(t, adv.Health(ctx))

	src.set(func(c *gossip.Capacity) { c.Running = 2 }) // load 0 -> 0.5 per core
	await.Until(t, 10*time.Second, remote.Updated, func() bool {
		e, ok := remote.Get(self)
		return ok && e.Advert.Running == 2
	})
	src.set(func(c *gossip.Capacity) { c.Memory = 4 << 30 })
	await.Until(t, 10*time.Second, remote.Updated, func() bool {
		e, ok := remote.Get(self)
		return ok && e.Advert.Memory == 4<<30
	})
	last, _, ok := adv.Last()
	require.True(t, ok)
	assert.EqualValues(t, 4<<30, last.Memory)
}

type mutableSource struct {
	mu sync.Mutex
	c  gossip.Capacity
}

func (s *mutableSource) Capacity(context.Context) (gossip.Capacity, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.c, nil
}

func (s *mutableSource) set(f func(*gossip.Capacity)) {
	s.mu.Lock()
	f(&s.c)
	s.mu.Unlock()
}

func TestGossipLifecycle(t *testing.T) { synctest.Test(t, testGossipLifecycle) }

func testGossipLifecycle(t *testing.T) {
	ctx := context.Background()
	n := newNetwork(t, gossipnet.NetworkConfig{Nodes: 1})
	h := n.Hosts[0]

	bad := gossip.TestConfig()
	bad.Heartbeat = 0
	_, err := gossip.New(ctx, h, bad, gossip.Options{})
	require.ErrorIs(t, err, gossip.ErrConfig)
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	_, err = gossip.New(cancelled, h, gossip.TestConfig(), gossip.Options{})
	require.ErrorIs(t, err, context.Canceled)

	g := n.Nodes[0]
	assert.Equal(t, "gossip", g.Name())
	require.NoError(t, g.Health(ctx))
	assert.Equal(t, gossip.TestConfig().Heartbeat, g.Config().Heartbeat)
	assert.Equal(t, []string{gossip.CapacityTopic}, g.Topics())

	adv := gossip.NewAdvertiser(g, gossip.StaticCapacity{Cores: 1})
	a, err := adv.Publish(ctx)
	require.NoError(t, err)
	assert.Equal(t, h.ID(), a.Peer)
	assert.NotEmpty(t, a.Addrs)
	await.Until(t, 5*time.Second, g.Directory().Updated, func() bool { _, ok := g.Directory().Get(h.ID()); return ok },
		"a node holds its own advert")
	a2, err := adv.Publish(ctx)
	require.NoError(t, err)
	assert.Greater(t, a2.Seq, a.Seq)

	require.NoError(t, g.Close())
	require.NoError(t, g.Close(), "idempotent")
	assert.ErrorIs(t, g.Health(ctx), gossip.ErrClosed)
	assert.ErrorIs(t, adv.Run(ctx, func() {}), gossip.ErrClosed)
	_, err = adv.Publish(ctx)
	assert.ErrorIs(t, err, gossip.ErrClosed)
	assert.Error(t, adv.Health(ctx))
	_, err = gossip.Join(g, noteTopic(gossip.TestConfig()))
	assert.ErrorIs(t, err, gossip.ErrClosed)
}

// failingSource fails every read and reports when each read happened.
type failingSource struct{ calls chan time.Time }

func (s failingSource) Capacity(context.Context) (gossip.Capacity, error) {
	select {
	case s.calls <- time.Now():
	default:
	}
	return gossip.Capacity{}, fmt.Errorf("source down")
}

// TestAdvertiserBacksOffOnFailure checks that a failing advert is retried
// at the next period, not at once in a loop.
func TestAdvertiserBacksOffOnFailure(t *testing.T) { synctest.Test(t, testAdvertiserBacksOffOnFailure) }

func testAdvertiserBacksOffOnFailure(t *testing.T) {
	cfg := gossip.TestConfig()
	cfg.Advert.Interval = 200 * time.Millisecond
	cfg.Advert.MinGap = 200 * time.Millisecond
	cfg.Advert.Poll = time.Hour // only the periodic timer retries
	n := newNetwork(t, gossipnet.NetworkConfig{Nodes: 1, Config: cfg})
	src := failingSource{calls: make(chan time.Time, 16)}
	adv := gossip.NewAdvertiser(n.Nodes[0], src)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- adv.Run(ctx, func() {}) }()
	defer func() {
		cancel()
		require.NoError(t, <-done)
	}()
	var at []time.Time
	deadline := time.NewTimer(10 * time.Second)
	defer deadline.Stop()
	for len(at) < 3 {
		select {
		case c := <-src.calls:
			at = append(at, c)
		case <-deadline.C:
			t.Fatalf("only %d capacity reads", len(at))
		}
	}
	// Start, first period, second period: the last two are a jittered
	// interval (at least 180 ms) apart.
	assert.GreaterOrEqual(t, at[2].Sub(at[1]), 100*time.Millisecond, "retried at once after a failure")
	assert.Error(t, adv.Health(ctx))
}
