package lotterysvc

import (
	"context"
	"crypto/ecdh"
	"crypto/ed25519"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fog-compute/fog/store"
)

// TestServiceRestartDoesNotEquivocate restarts winning nodes in the middle
// of an epoch, on six real gossipsub nodes where every candidate wins every
// epoch (R = number of candidates):
//
//  1. Right after publishing its claim of epoch 0, node 0 stops and starts
//     again from its store on disk (closed and reopened): it must restore
//     its claim and mix key instead of drawing a new one, so no node
//     excludes it. Node 1 does the same with its store wiped, the control:
//     it draws a second claim, and every other node excludes it for
//     equivocation, so the test can tell.
//  2. In epoch 1's quiet phase (directory closed, reveals not yet due),
//     node 0 restarts again: it must rebuild its state exactly from the
//     checkpoint and the logged messages, trust its chain, reveal, and
//     agree with everyone on epoch 1 and epoch 2.
//
// The store on disk is real Badger; the same restarts run on Nodes alone
// in package lottery (TestNodeRestart).
func TestServiceRestartDoesNotEquivocate(t *testing.T) {
	t.Parallel()
	synctest.Test(t, testServiceRestartDoesNotEquivocate)
}

func testServiceRestartDoesNotEquivocate(t *testing.T) {
	const nodes = 6
	c := newCluster(t, nodes, 5)
	dir := t.TempDir()
	openDisk := func() *store.DB {
		db, err := store.Open(store.DefaultConfig(dir))
		require.NoError(t, err)
		return db
	}
	disk := openDisk()
	t.Cleanup(func() { _ = disk.Close() })
	diskDS := func() *store.Datastore { return disk.Datastore(store.Prefix("/lottery")) }
	wiped, err := store.Open(store.InMemoryConfig())
	require.NoError(t, err)
	t.Cleanup(func() { _ = wiped.Close() })

	genesis := time.Now().Add(1500 * time.Millisecond)
	cfg := svcConfig(genesis)
	cfg.EpochLength += time.Second // a long quiet phase to restart in
	cfg.Candidates = c.peerIDs(indexes(0, nodes)...)
	cfg.TargetRelays = nodes // p = 1
	c.start(0, cfg, diskDS())
	for i := 1; i < nodes; i++ {
		c.start(i, cfg, c.ds(i))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	c.waitTopic(ctx, TopicName(cfg.NetworkID), indexes(0, nodes))

	// 1. Restart inside epoch 0's claim window, after the claim is out.
	type claim struct {
		Claimant ed25519.PublicKey
		MixKey   *ecdh.PublicKey
	}
	waitUntil(cfg.EpochStart(0).Add(2 * cfg.MaxClockSkew).Add(time.Millisecond))
	var before [2]claim
	for i := range 2 {
		s := c.svcs[i]
		require.Equal(t, uint64(1), s.Stats().Published, "node %d published its claim", i)
		require.Len(t, s.Status().Wins, 1, "node %d", i)
		k, ok := s.MixKey(0)
		require.True(t, ok)
		before[i] = claim{Claimant: c.pub(i), MixKey: k.PublicKey()}
	}
	oldKey, ok := c.svcs[0].MixKey(0)
	require.True(t, ok)
	require.NoError(t, c.stop(0))
	require.NoError(t, c.stop(1))
	require.NoError(t, disk.Close())
	disk = openDisk()
	r0 := c.start(0, cfg, diskDS())
	c.start(1, cfg, wiped.Datastore(store.Prefix("/lottery")))
	require.True(t, time.Now().Before(cfg.ClaimClose(0)), "restart must happen inside the claim window")
	assert.False(t, r0.Status().Confirmed, "a restart across an open window cannot trust its chain")

	a := measure(t, c.services(indexes(2, nodes)...), 0, 10*time.Second)
	require.True(t, a.Agree, "%d distinct directories", a.Digests)
	for _, s := range c.services(indexes(2, nodes)...) {
		d, _ := s.Directory(0)
		r, in := d.Lookup(before[0].Claimant)
		require.True(t, in, "node 0 was excluded: it equivocated")
		assert.True(t, r.MixKey.Equal(before[0].MixKey), "node 0's directory entry changed its mix key")
		assert.Equal(t, []ed25519.PublicKey{before[1].Claimant}, d.Equivocators(), "the wiped node 1 must be caught equivocating")
		first, second, ok := d.Evidence(before[1].Claimant)
		require.True(t, ok)
		assert.NotEqual(t, first, second)
	}
	newKey, ok := r0.MixKey(0)
	require.True(t, ok, "restarted node 0 lost its mix key")
	assert.Equal(t, oldKey.Bytes(), newKey.Bytes())

	// 2. Restart in epoch 1's quiet phase, from the store on disk. (If the
	// first restart cost node 0 a message of epoch 0, it adopted the
	// network's chain at the close of epoch 1, and its own claim of epoch
	// 1, drawn on its old seed, is not in its directory: then it holds no
	// mix key for epoch 1, before and after.)
	waitClosed(t, r0, 1, 30*time.Second)
	quietEnd := revealAt(cfg, 1).Add(-2 * cfg.MaxClockSkew)
	d1, _ := r0.Directory(1)
	k1, won1 := r0.MixKey(1)
	require.NoError(t, c.stop(0))
	require.NoError(t, disk.Close())
	disk = openDisk()
	r0 = c.start(0, cfg, diskDS())
	require.True(t, time.Now().Add(cfg.WarmUp).Before(quietEnd), "restart overran the quiet phase")
	st := r0.Status()
	assert.True(t, st.Confirmed, "a restart in a quiet phase restores a trusted chain")
	assert.Equal(t, uint64(1), st.Current.Epoch)
	again, ok := r0.Directory(1)
	require.True(t, ok)
	assert.Equal(t, d1.Digest(), again.Digest(), "directory of epoch 1 rebuilt exactly from the log")
	assert.Positive(t, again.Len())
	k1again, ok := r0.MixKey(1)
	require.Equal(t, won1, ok, "mix key of epoch 1 kept")
	if won1 {
		assert.Equal(t, k1.Bytes(), k1again.Bytes())
	}

	// The wiped node 1 lost, with its seen messages, part of epoch 0's
	// directory, so its seed of epoch 1 may differ and its claim of epoch 1
	// go unheard; it adopts the network's chain at the close of epoch 1 and
	// is back in epoch 2 (node 0 too, in the case above). Everyone else
	// wins both epochs.
	for _, e := range []uint64{1, 2} {
		a := measure(t, c.services(indexes(0, nodes)...), e, 15*time.Second)
		assert.True(t, a.Agree, "epoch %d: %d distinct directories", e, a.Digests)
		d, _ := c.svcs[3].Directory(e)
		for i := range nodes {
			if _, in := d.Lookup(c.pub(i)); !in {
				assert.True(t, e == 1 && (i == 1 || (i == 0 && !won1)), "epoch %d: node %d is not a relay", e, i)
			}
		}
	}
	if !won1 {
		t.Log("node 0 lost a message of epoch 0 in its first restart and rejoined at the close of epoch 1")
	}
	for i, s := range c.services(indexes(0, nodes)...) {
		assert.Empty(t, s.Stats().Rejected, "node %d", i)
	}
}
