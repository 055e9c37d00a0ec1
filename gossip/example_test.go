package gossip_test

import (
	"context"
	"fmt"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/fog-compute/fog/gossip"
	"github.com/fog-compute/fog/gossip/gossipnet"
)

// Example runs three gossip nodes on an in-process network; two offer
// compute, and the third picks the cheapest offer with at least 4 cores
// from its own directory.
func Example() {
	ctx := context.Background()
	net, err := gossipnet.NewNetwork(ctx, gossipnet.NetworkConfig{
		Nodes: 3, MinLatency: time.Millisecond, MaxLatency: 5 * time.Millisecond, Config: gossip.TestConfig(),
	})
	if err != nil {
		panic(err)
	}
	defer net.Close()
	if err := net.WaitReady(ctx); err != nil {
		panic(err)
	}
	names := map[peer.ID]string{net.Hosts[0].ID(): "node0", net.Hosts[1].ID(): "node1"}
	offers := []gossip.StaticCapacity{
		{Cores: 8, Memory: 16 << 30, Price: 250, Runtimes: []string{gossip.RuntimeWasm}},
		{Cores: 4, Memory: 8 << 30, Price: 120, Runtimes: []string{gossip.RuntimeWasm}},
	}
	for i, offer := range offers {
		if _, err := gossip.NewAdvertiser(net.Nodes[i], offer).Publish(ctx); err != nil {
			panic(err)
		}
	}
	dir := net.Nodes[2].Directory()
	for {
		updated := dir.Updated()
		if dir.Len() == len(offers) {
			break
		}
		<-updated
	}
	for _, e := range dir.Query(gossip.Query{MinCores: 4, Runtime: gossip.RuntimeWasm, Sort: gossip.ByPrice, Limit: 5}) {
		fmt.Printf("%s: %d cores at %d µcredits/CPU-s\n", names[e.Advert.Peer], e.Advert.Cores, e.Advert.Price)
	}
	// Output:
	// node1: 4 cores at 120 µcredits/CPU-s
	// node0: 8 cores at 250 µcredits/CPU-s
}

// ExampleDirectory queries a directory fed by hand.
func ExampleDirectory() {
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	d := gossip.NewDirectory(gossip.DefaultConfig().Directory, "self", nil, func() time.Time { return now })
	for i, price := range []uint64{300, 100, 200} {
		d.Update(gossip.Advert{
			Peer: peer.ID(fmt.Sprintf("peer-%d", i)), Cores: uint32(2 * (i + 1)), Price: price,
			Runtimes: []string{gossip.RuntimeWasm}, Seq: 1, Issued: now, Expires: now.Add(time.Minute),
		})
	}
	for _, e := range d.Query(gossip.Query{MinCores: 4, Sort: gossip.ByPrice}) {
		fmt.Println(string(e.Advert.Peer), e.Advert.Price)
	}
	// Output:
	// peer-1 100
	// peer-2 200
}
