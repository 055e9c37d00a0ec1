package lotterysvc_test

import (
	"context"
	"fmt"
	"time"

	"github.com/fog-compute/fog/gossip/gossipnet"
	"github.com/fog-compute/fog/mix/lottery"
	"github.com/fog-compute/fog/mix/lottery/lotterysvc"
	"github.com/fog-compute/fog/store"
)

// Example runs the lottery on three in-process nodes whose
// candidate set is fixed, and measures whether they agree on the first
// epoch's directory. A node does the same with its own gossip, store and
// identity. (Not run by go test: it takes a few seconds of wall clock.)
func Example() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	net, err := gossipnet.NewNetwork(ctx, gossipnet.NetworkConfig{Nodes: 3, MaxLatency: 10 * time.Millisecond})
	if err != nil {
		panic(err)
	}
	defer net.Close()
	db, err := store.Open(store.InMemoryConfig())
	if err != nil {
		panic(err)
	}
	defer db.Close()

	cfg := lottery.SimServiceConfig()
	cfg.Genesis = time.Now().Add(2 * time.Second) // a network-wide constant
	cfg.TargetRelays = 3
	for _, h := range net.Hosts {
		cfg.Candidates = append(cfg.Candidates, h.ID())
	}
	var svcs []*lotterysvc.Service
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, len(net.Nodes))
	for i, g := range net.Nodes {
		s, err := lotterysvc.New(cfg, lotterysvc.Options{
			Gossip:   g,
			Store:    db.Datastore(store.Prefix(fmt.Sprintf("/lottery%d", i))),
			Identity: net.Keys[i],
		})
		if err != nil {
			panic(err)
		}
		svcs = append(svcs, s)
		go func() { done <- s.Run(runCtx, nil) }()
	}
	a, err := lotterysvc.MeasureAgreement(ctx, svcs, 0)
	fmt.Println("agree:", a.Agree, "relays:", a.Relays, "error:", err)
	k, ok := svcs[0].MixKey(0) // the key node 0 decrypts epoch 0's onion packets with
	fmt.Println("node 0 relays:", ok && k != nil)
	stop()
	for range svcs {
		<-done
	}
}
