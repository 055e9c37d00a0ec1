package lotterysvc

import (
	"context"
	"flag"
	"fmt"
	"testing"
	"time"

	"github.com/fog-compute/fog/gossip"
	"github.com/fog-compute/fog/gossip/gossipnet"
	"github.com/fog-compute/fog/mix/lottery"
	"github.com/fog-compute/fog/store"
)

var benchNodes = flag.Int("lottery.nodes", 100, "nodes in BenchmarkNetworkAgreement")

// BenchmarkNetworkAgreement is the agreement figure in miniature:
// N real gossipsub nodes on a mocknet (links of 10-60 ms), every node a
// candidate (a fixed candidate set), SimServiceConfig (10-second epochs,
// R = 30, directories close 4 s after the epoch start). For epochs 0 to 2
// it reports, over all nodes, when the last node's directory reached its
// final content (complete-ms, after the epoch start) and when the last node
// closed it (close-ms), whether all N directories were identical, and the
// claims verified per second: per core (claims verified / wall time spent
// in the validator verifying them, over all nodes; contention for the CPU
// counts as verifying) and across the network (claims verified by all
// nodes / the time from their publication to the last complete
// directory). Run with
//
//	go test -run '^$' -bench NetworkAgreement -benchtime 1x ./mix/lottery/lotterysvc/ -lottery.nodes 100
//
// It runs on the wall clock, not in a synctest bubble: it measures what
// the cryptography costs on this machine.
func BenchmarkNetworkAgreement(b *testing.B) {
	for b.Loop() {
		runAgreement(b, *benchNodes)
	}
}

func runAgreement(b *testing.B, n int) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	net, err := gossipnet.NewNetwork(ctx, gossipnet.NetworkConfig{
		Nodes: n, Degree: 6, MinLatency: 10 * time.Millisecond, MaxLatency: 60 * time.Millisecond, Seed: 1,
		Config: gossip.TestConfig(),
	})
	if err != nil {
		b.Fatal(err)
	}
	defer net.Close()
	db, err := store.Open(store.InMemoryConfig())
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	cfg := lottery.SimServiceConfig()
	cfg.Genesis = time.Now().Add(3 * time.Second)
	for _, h := range net.Hosts {
		cfg.Candidates = append(cfg.Candidates, h.ID())
	}
	svcs := make([]*Service, n)
	done := make(chan error, n)
	rctx, stop := context.WithCancel(ctx)
	for i := range n {
		svcs[i], err = New(cfg, Options{Gossip: net.Nodes[i], Store: db.Datastore(store.Prefix(fmt.Sprintf("/l%d", i))), Identity: net.Keys[i]})
		if err != nil {
			b.Fatal(err)
		}
		go func(s *Service) { done <- s.Run(rctx, nil) }(svcs[i])
	}
	defer func() {
		stop()
		for range n {
			<-done
		}
	}()
	var verified0 uint64
	var spent0 time.Duration
	for e := uint64(0); e <= 2; e++ {
		a, err := MeasureAgreement(ctx, svcs, e)
		if err != nil {
			b.Fatal(err)
		}
		var verified uint64
		var spent time.Duration
		for _, s := range svcs {
			st := s.Stats()
			verified += st.ClaimsVerified
			spent += st.VerifyTime
		}
		dv, ds := verified-verified0, spent-spent0
		verified0, spent0 = verified, spent
		// The claims are published 2σ after the start and all verified by
		// the time the last directory is complete.
		busy := max(a.Complete-2*cfg.MaxClockSkew, time.Millisecond)
		b.Logf("epoch %d: %d nodes agree=%v (%d digests), %d relays, %d seats; complete %s, closed %s after the start; %d claims verified, %.0f/s per core, %.0f/s across the network",
			e, a.Nodes, a.Agree, a.Digests, a.Relays, a.Seats, a.Complete.Round(time.Millisecond), a.Close.Round(time.Millisecond),
			dv, float64(dv)/ds.Seconds(), float64(dv)/busy.Seconds())
		if !a.Agree {
			b.Errorf("epoch %d: %d distinct directories", e, a.Digests)
		}
		if e == 2 {
			b.ReportMetric(float64(a.Complete.Milliseconds()), "complete-ms")
			b.ReportMetric(float64(a.Close.Milliseconds()), "close-ms")
			b.ReportMetric(float64(dv)/ds.Seconds(), "claims/s/core")
			b.ReportMetric(float64(dv)/busy.Seconds(), "claims/s")
		}
	}
}
