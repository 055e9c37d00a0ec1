package files

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fog-compute/fog/dht"
	"github.com/fog-compute/fog/store"
)

// TestGetThroughDHT runs files on real fog DHTs (kad-dht on Badger) over
// mocknet: the root shared on the first of a line of nodes is announced in
// the DHT, and the last, which is given no provider, finds it there.
func TestGetThroughDHT(t *testing.T) {
	tn := newTestNet(t)
	ctx, cancel := context.WithCancel(context.Background())
	const n = 4
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
		db := openDB(t, "")
		d, err := dht.New(ctx, dht.TestConfig(), dht.Options{Host: h, Identity: h.Peerstore().PrivKey(h.ID()), Datastore: db.Datastore(store.PrefixDHT)})
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
		s, err := New(TestConfig(), Options{Host: h, Datastore: db.Datastore(store.PrefixFiles), Router: d})
		require.NoError(t, err)
		svcs = append(svcs, s)
	}
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
	data := content(21, 20<<10)
	p, err := svcs[0].Share(tctx, writeFile(t, "f", data), nil)
	require.NoError(t, err)
	require.NoError(t, dhts[0].ProvideCID(tctx, p.Root)) // Share's own announcement runs in the background

	last := svcs[n-1]
	// Lookups have connected everyone on so small a net: cut the last
	// node's connection to the source, so the get must find it.
	require.NoError(t, last.h.Network().ClosePeer(svcs[0].h.ID()))
	prog, err := last.Get(tctx, p.Root, GetOptions{})
	require.NoError(t, err)
	assert.True(t, prog.Done)
	assert.True(t, bytes.Equal(data, readAll(t, last, tctx, p)))
}
