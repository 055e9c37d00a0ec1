package blob

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fog-compute/fog/dht"
	"github.com/fog-compute/fog/store"
)

// TestFetchThroughDHT runs blob services on real fog DHTs (kad-dht on
// in-memory Badger stores) over mocknet: a module stored on one node is
// announced in the DHT, and a node that is given no hint finds it there,
// fetches it and announces it in turn.
func TestFetchThroughDHT(t *testing.T) { synctest.Test(t, testFetchThroughDHT) }

func testFetchThroughDHT(t *testing.T) {
	tn := newTestNet(t)
	ctx, cancel := context.WithCancel(context.Background())
	const n = 5
	var (
		dhts []*dht.DHT
		svcs []*Service
		done []chan struct{}
	)
	t.Cleanup(func() {
		cancel()
		for _, d := range done {
			<-d
		}
		for _, s := range svcs {
			s.Close()
		}
		for _, d := range dhts {
			d.Close()
		}
	})
	for range n {
		h := tn.host(t)
		k := h.Peerstore().PrivKey(h.ID())
		require.NotNil(t, k)
		db, err := store.Open(store.InMemoryConfig())
		require.NoError(t, err)
		t.Cleanup(func() { db.Close() })
		d, err := dht.New(ctx, dht.TestConfig(), dht.Options{Host: h, Identity: k, Datastore: db.Datastore(store.PrefixDHT)})
		require.NoError(t, err)
		dhts = append(dhts, d)
		ready := make(chan struct{})
		ch := make(chan struct{})
		done = append(done, ch)
		go func() {
			defer close(ch)
			_ = d.Run(ctx, func() { close(ready) })
		}()
		<-ready
		s, err := New(TestConfig(), Options{Host: h, Providers: d})
		require.NoError(t, err)
		svcs = append(svcs, s)
	}
	// a line of connections: the ends learn of each other through the DHT
	for i := 1; i < n; i++ {
		_, err := tn.mn.ConnectPeers(svcs[i-1].h.ID(), svcs[i].h.ID())
		require.NoError(t, err)
	}
	require.Eventually(t, func() bool {
		for _, d := range dhts {
			if d.Table().Size < 1 {
				return false
			}
		}
		return true
	}, 20*time.Second, 10*time.Millisecond)

	tctx := testCtx(t)
	mod := module(42, 256<<10)
	id, err := svcs[0].Store().Put(tctx, mod)
	require.NoError(t, err)
	require.Eventually(t, func() bool { return svcs[0].Stats().Announced == 1 }, 20*time.Second, 10*time.Millisecond)

	last := svcs[n-1]
	var got []byte
	require.Eventually(t, func() bool { // the provider record may still be spreading
		got, err = last.Fetch(tctx, id)
		return err == nil
	}, 20*time.Second, 50*time.Millisecond, "last error: %v", err)
	assert.Equal(t, mod, got)
	assert.Equal(t, uint64(1), svcs[0].Stats().Served)
	require.Eventually(t, func() bool { return last.Stats().Announced == 1 }, 20*time.Second, 10*time.Millisecond)

	// both holders are now providers
	require.Eventually(t, func() bool {
		ps, err := dhts[2].FindProviders(tctx, ProviderKey(id), 10)
		if err != nil {
			return false
		}
		var ids []peer.ID
		for _, p := range ps {
			ids = append(ids, p.ID)
		}
		return len(ids) == 2 && containsAll(ids, svcs[0].h.ID(), last.h.ID())
	}, 20*time.Second, 50*time.Millisecond)
}

func containsAll(ids []peer.ID, want ...peer.ID) bool {
	for _, w := range want {
		found := false
		for _, id := range ids {
			found = found || id == w
		}
		if !found {
			return false
		}
	}
	return true
}
