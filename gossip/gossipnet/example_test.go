package gossipnet_test

import (
	"context"
	"fmt"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/fog-compute/fog/gossip"
	"github.com/fog-compute/fog/gossip/gossipnet"
)

// Example points an attacker that sends garbage at one honest node, which
// graylists it.
func Example() {
	ctx := context.Background()
	net, err := gossipnet.NewNetwork(ctx, gossipnet.NetworkConfig{Nodes: 1, Config: gossip.TestConfig()})
	if err != nil {
		panic(err)
	}
	defer net.Close()
	h, _, err := net.AddHost()
	if err != nil {
		panic(err)
	}
	a, err := gossipnet.NewAttacker(h, gossipnet.AttackerConfig{Kinds: []gossipnet.Attack{gossipnet.Garbage}})
	if err != nil {
		panic(err)
	}
	defer a.Close()
	victim := net.Nodes[0]
	if err := a.Start([]peer.AddrInfo{{ID: net.Hosts[0].ID(), Addrs: net.Hosts[0].Addrs()}}); err != nil {
		panic(err)
	}
	for !victim.Graylisted(a.ID()) {
		<-victim.ScoresUpdated()
	}
	fmt.Println("graylisted; rejected as undecodable:", victim.Capacity().Stats().Rejected[gossip.RuleDecode] > 0)
	// Output:
	// graylisted; rejected as undecodable: true
}
