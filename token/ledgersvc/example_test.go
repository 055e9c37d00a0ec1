package ledgersvc_test

import (
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/fog-compute/fog/gossip/gossipnet"
	"github.com/fog-compute/fog/store"
	"github.com/fog-compute/fog/token"
	"github.com/fog-compute/fog/token/ledgersvc"
)

// A one-node network whose node holds all the credits: it sends some to
// another account, and its own votes confirm the send.
func Example() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	net, err := gossipnet.NewNetwork(ctx, gossipnet.NetworkConfig{Nodes: 1})
	if err != nil {
		panic(err)
	}
	defer net.Close()
	db, err := store.Open(store.InMemoryConfig())
	if err != nil {
		panic(err)
	}
	defer db.Close()
	raw, _ := net.Keys[0].Raw()
	pub := ed25519.PrivateKey(raw).Public().(ed25519.PublicKey)
	g := token.Genesis{Network: "example", UnbondingEpochs: 2,
		Accounts: []token.Allocation{{Account: hex.EncodeToString(pub), Balance: 1000}}}

	s, err := ledgersvc.New(ctx, ledgersvc.TestConfig(), ledgersvc.Options{
		Gossip: net.Nodes[0], Store: db.Datastore(store.PrefixToken), Genesis: g, Identity: net.Keys[0]})
	if err != nil {
		panic(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	ready, done := make(chan struct{}), make(chan error, 1)
	go func() { done <- s.Run(runCtx, func() { close(ready) }) }()
	<-ready

	h, err := s.Send(ctx, token.Account{1}, 250)
	if err != nil {
		panic(err)
	}
	if err := s.WaitConfirmed(ctx, h); err != nil {
		panic(err)
	}
	fmt.Println("balance:", s.Balance().Balance)
	stop()
	fmt.Println("run:", <-done)
	// Output:
	// balance: 750
	// run: <nil>
}
