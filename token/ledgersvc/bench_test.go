package ledgersvc

import (
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/fog-compute/fog/gossip/gossipnet"
	"github.com/fog-compute/fog/store"
	"github.com/fog-compute/fog/token"
)

// BenchmarkServiceSend measures sends through a running Service whose
// node holds all the weight (its own votes confirm), on an on-disk store
// with synced writes: each Send returns once its records are durable.
// With several concurrent senders the committer takes all their records
// in one synced batch.
func BenchmarkServiceSend(b *testing.B) {
	for _, senders := range []int{1, 8} {
		b.Run(fmt.Sprintf("senders=%d", senders), func(b *testing.B) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
			defer cancel()
			net, err := gossipnet.NewNetwork(ctx, gossipnet.NetworkConfig{Nodes: 1})
			if err != nil {
				b.Fatal(err)
			}
			defer net.Close()
			db, err := store.Open(store.DefaultConfig(b.TempDir()))
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			raw, _ := net.Keys[0].Raw()
			pub := ed25519.PrivateKey(raw).Public().(ed25519.PublicKey)
			g := token.Genesis{Network: "bench", UnbondingEpochs: 2,
				Accounts: []token.Allocation{{Account: hex.EncodeToString(pub), Balance: 1 << 60}}}
			cfg := TestConfig()
			cfg.Node.MinOnlinePercent = 0
			s, err := New(ctx, cfg, Options{Gossip: net.Nodes[0], Store: db.Datastore(store.PrefixToken), Genesis: g, Identity: net.Keys[0]})
			if err != nil {
				b.Fatal(err)
			}
			runCtx, stop := context.WithCancel(ctx)
			ready, done := make(chan struct{}), make(chan error, 1)
			go func() { done <- s.Run(runCtx, func() { close(ready) }) }()
			<-ready
			b.ResetTimer()
			var wg sync.WaitGroup
			per := b.N / senders
			for range senders {
				wg.Go(func() {
					for range per {
						if _, err := s.Send(ctx, token.Account{1}, 1); err != nil {
							b.Error(err)
							return
						}
					}
				})
			}
			wg.Wait()
			b.StopTimer()
			b.ReportMetric(float64(per*senders)/b.Elapsed().Seconds(), "sends/s")
			stop()
			if err := <-done; err != nil {
				b.Fatal(err)
			}
		})
	}
}
