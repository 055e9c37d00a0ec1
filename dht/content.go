package dht

import (
	"context"
	"fmt"

	"github.com/ipfs/go-cid"
	kaddht "github.com/libp2p/go-libp2p-kad-dht"
	"github.com/libp2p/go-libp2p/core/peer"
)

// ProvideCID announces that this node provides the content c (a file's
// root, as IPFS names content), to the peers closest to it in each DHT that
// has peers. Provide is the same for application keys mapped by KeyCID.
func (d *DHT) ProvideCID(ctx context.Context, c cid.Cid) error {
	start := d.clk.Now()
	err := d.publish(func(k *kaddht.IpfsDHT) error { return k.Provide(ctx, c, true) })
	d.observe(ctx, KindProvide, start, true, err)
	if err != nil {
		return fmt.Errorf("dht: provide %s: %w", c, err)
	}
	return nil
}

// FindProvidersCID streams up to limit providers of the content c (limit
// <= 0: 20), from both DHTs, each once, as they are found; the channel is
// closed when the lookups end or ctx does.
func (d *DHT) FindProvidersCID(ctx context.Context, c cid.Cid, limit int) <-chan peer.AddrInfo {
	if limit <= 0 {
		limit = 20
	}
	return d.findProvidersAsync(ctx, c, limit)
}
