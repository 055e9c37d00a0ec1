package lotterysvc

import (
	"context"
	"encoding/hex"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fog-compute/fog/gossip"
	"github.com/fog-compute/fog/mix/lottery"
)

// TestServiceNetworkAgrees runs the lottery on 30 real gossipsub nodes of a
// mocknet for four epochs. Ten nodes stand as candidates and announce
// themselves over gossip (the default candidate mode), so epoch 0 has no
// candidates and epochs 1 to 3 elect relays. Two more nodes start only
// after epoch 0's claim window, with an empty store, one of them a
// candidate: they cannot know epoch 1's candidates, must not trust their
// seed chain, and adopt the network's at the close of epoch 2, the first
// window they saw whole with a candidate set they know. Every node that
// listened from genesis must hold the identical directory (and seed) for
// epochs 1 to 3, the late nodes for epochs 2 and 3 (3 with a seed they
// computed themselves), and no honest message may be rejected anywhere.
// The same scenario runs on Nodes alone, without gossip and stores, in
// package lottery (TestNodeLateJoinersAdoptSeed).
func TestServiceNetworkAgrees(t *testing.T) {
	t.Parallel() // the network tests are CPU-bound: let them share the cores
	synctest.Test(t, testServiceNetworkAgrees)
}

func testServiceNetworkAgrees(t *testing.T) {
	const nodes, candidates = 30, 10
	early := indexes(0, nodes-2)
	all := indexes(0, nodes)
	c := newCluster(t, nodes, 7)
	genesis := time.Now().Add(1500 * time.Millisecond)
	cfg := svcConfig(genesis)
	cfg.TargetRelays = 6 // at least JoinQuorum winners per epoch, but for a 0.3 % chance
	for _, i := range early {
		nc := cfg
		nc.Candidate = i < candidates
		c.start(i, nc, c.ds(i))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	c.waitTopic(ctx, TopicName(cfg.NetworkID), early)
	require.True(t, time.Now().Before(genesis.Add(-cfg.WarmUp)), "network took too long to start; genesis passed")

	// Late joiners: after epoch 0's claim window, so they cannot know
	// epoch 1's candidates and must wait for epoch 2 to decide.
	waitClosed(t, c.svcs[0], 0, 30*time.Second)
	late := cfg
	late.Candidate = true
	c.start(nodes-1, late, c.ds(nodes-1))
	late.Candidate = false
	c.start(nodes-2, late, c.ds(nodes-2))
	for _, i := range []int{nodes - 2, nodes - 1} {
		assert.False(t, c.svcs[i].Status().Confirmed, "late node %d must not trust its chain yet", i)
	}

	relays := 0
	for e := uint64(1); e <= 3; e++ {
		group := early
		if e >= 2 {
			group = all
		}
		a := measure(t, c.services(group...), e, 15*time.Second)
		t.Logf("epoch %d: %d nodes, %d relays, %d seats; directory complete %s and closed %s after the epoch start",
			e, a.Nodes, a.Relays, a.Seats, a.Complete.Round(time.Millisecond), a.Close.Round(time.Millisecond))
		assert.True(t, a.Agree, "epoch %d: %d distinct directories", e, a.Digests)
		relays += a.Relays
		// A late node holds the final directory of epoch 2 from the moment
		// it adopts the network's chain, at the close; the others well
		// before.
		assert.LessOrEqual(t, a.Complete, a.Close, "epoch %d", e)
		if e != 2 {
			assert.Less(t, a.Complete, cfg.ClaimWindow, "epoch %d: directories still changing at the close", e)
		}
		seeds := map[lottery.Seed]int{}
		for _, s := range c.services(group...) {
			seed, ok := s.Seed(e)
			require.True(t, ok)
			seeds[seed]++
		}
		assert.Len(t, seeds, 1, "epoch %d seeds", e)
	}

	assert.Positive(t, relays, "three epochs elected nobody")

	// The late candidate announced itself in epoch 1's window: it is in
	// the set of epochs 2 and 3 everywhere (1 was drawn among the early
	// ten).
	lateKey := c.pub(nodes - 1)
	for i, s := range c.services(early...) {
		assert.NotContains(t, s.Candidates(1), lateKey, "node %d", i)
		assert.Len(t, s.Candidates(1), candidates, "node %d", i)
		assert.Contains(t, s.Candidates(3), lateKey, "node %d", i)
		assert.Len(t, s.Candidates(3), candidates+1, "node %d", i)
	}
	for _, i := range []int{nodes - 2, nodes - 1} {
		st := c.svcs[i].Status()
		assert.True(t, st.Confirmed, "late node %d", i)
		assert.Equal(t, uint64(1), st.Stats.Adopted, "late node %d adopts once", i)
	}

	var verified uint64
	for i, s := range c.services(all...) {
		st := s.Stats()
		assert.Empty(t, st.Rejected, "node %d rejected honest messages", i)
		assert.Empty(t, s.TopicStats().Rejected, "node %d: gossip chain rejected honest messages", i)
		verified += st.ClaimsVerified
	}
	t.Logf("claims verified: %d", verified)

	// The API views agree with the directories.
	info, ok := c.svcs[0].DirectoryInfo(3)
	require.True(t, ok)
	d, _ := c.svcs[nodes-1].Directory(3)
	dg := d.Digest()
	assert.Equal(t, len(d.Relays()), len(info.Relays))
	assert.Equal(t, info.Digest, hex.EncodeToString(dg[:]))
	assert.True(t, info.Closed)
}

// TestServiceStatusAndMixKey checks what a winning node reports about
// itself: its wins with the mix key it published, and that MixKey gives the
// private half of exactly that key.
func TestServiceStatusAndMixKey(t *testing.T) {
	t.Parallel()
	synctest.Test(t, testServiceStatusAndMixKey)
}

func testServiceStatusAndMixKey(t *testing.T) {
	c := newCluster(t, 3, 3)
	genesis := time.Now().Add(1200 * time.Millisecond)
	cfg := svcConfig(genesis)
	cfg.Candidates = c.peerIDs(0, 1, 2)
	cfg.TargetRelays = 3 // p = 1: every candidate wins
	for i := range 3 {
		c.start(i, cfg, c.ds(i))
	}
	a := measure(t, c.services(0, 1, 2), 0, 10*time.Second)
	require.True(t, a.Agree)
	require.Equal(t, 3, a.Relays)

	s := c.svcs[1]
	st := s.Status()
	assert.Equal(t, "static", st.Mode)
	assert.True(t, st.Confirmed)
	assert.True(t, st.Current.Eligible)
	assert.Equal(t, uint64(3), st.Current.Candidates)
	require.NotEmpty(t, st.Wins)
	w := st.Wins[0]
	assert.Equal(t, uint64(0), w.Epoch)
	assert.True(t, w.InDirectory)
	k, ok := s.MixKey(0)
	require.True(t, ok)
	assert.Equal(t, w.MixKey, hex.EncodeToString(k.PublicKey().Bytes()))
	d, _ := c.svcs[2].Directory(0)
	r, in := d.Lookup(c.pub(1))
	require.True(t, in)
	assert.True(t, r.MixKey.Equal(k.PublicKey()), "other nodes hold the key the winner decrypts with")
	_, ok = s.MixKey(7)
	assert.False(t, ok)
	assert.NoError(t, s.Health(context.Background()))
	require.NoError(t, c.stop(1))
	assert.ErrorIs(t, s.Health(context.Background()), ErrNotRunning)
	assert.Equal(t, gossip.TopicStats{}, s.TopicStats())

	// The node's supervisor calls Run again after a failure: the same
	// Service restores from its store and keeps its key.
	ctx, cancel := context.WithCancel(context.Background())
	done, ready := make(chan error, 1), make(chan struct{})
	go func() { done <- s.Run(ctx, func() { close(ready) }) }()
	<-ready
	again, ok := s.MixKey(0)
	require.True(t, ok)
	assert.Equal(t, k.Bytes(), again.Bytes())
	assert.NoError(t, s.Health(ctx))
	cancel()
	require.NoError(t, <-done)
}
