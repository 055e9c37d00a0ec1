package gossip_test

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"fmt"
	"io"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	pb "github.com/libp2p/go-libp2p-pubsub/pb"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-msgio/pbio"
	"google.golang.org/protobuf/proto"

	"github.com/fog-compute/fog/gossip"
	"github.com/fog-compute/fog/gossip/gossipnet"
)

// BenchmarkReceivePath feeds pre-signed adverts from a raw sender into a
// real gossip node with one validation worker and times until all are
// delivered to a subscriber (so through pubsub's whole receive path:
// stream read, RPC decoding, message ID, envelope signature check, the
// capacity chain, delivery and the directory update). With one worker the
// signature check and chain are the pipeline's bottleneck stage, so the
// time per message approaches the validation cost; it is reported next to
// raw Ed25519 verifications of the same messages timed in the same run.
func BenchmarkReceivePath(b *testing.B) {
	cfg := gossip.TestConfig()
	cfg.ValidateWorkers = 1
	cfg.ValidateQueue = 1 << 20 // the sender does not pace itself
	cfg.SubscriptionBuffer = 1 << 20
	cfg.Capacity.MaxAge = 2 * time.Minute // signing b.N adverts takes a while
	cfg.SeenTTL = 10 * time.Minute
	ctx := context.Background()
	n, err := gossipnet.NewNetwork(ctx, gossipnet.NetworkConfig{Nodes: 1, Config: cfg})
	if err != nil {
		b.Fatal(err)
	}
	defer n.Close()
	node := n.Nodes[0]
	var got atomic.Int64
	done := make(chan struct{})
	want := int64(b.N)
	sub, err := node.Capacity().Subscribe(func(gossip.Received[gossip.Advert]) {
		if got.Add(1) == want {
			close(done)
		}
	})
	if err != nil {
		b.Fatal(err)
	}
	defer sub.Close()

	// Pre-sign: 4 adverts per author (under the burst of 5).
	const per = 4
	msgs := make([]*pb.Message, 0, b.N)
	type rawSig struct {
		pub    ed25519.PublicKey
		signed []byte
		sig    []byte
	}
	raws := make([]rawSig, 0, 512)
	now := time.Now()
	for len(msgs) < b.N {
		k, _, err := crypto.GenerateEd25519Key(nil)
		if err != nil {
			b.Fatal(err)
		}
		id, _ := peer.IDFromPrivateKey(k)
		for s := range min(per, b.N-len(msgs)) {
			data, err := gossip.EncodeAdvert(gossip.Advert{Peer: id, Cores: 2, Runtimes: []string{gossip.RuntimeWasm},
				Seq: uint64(s + 1), Issued: now, Expires: now.Add(cfg.Advert.MaxTTL)})
			if err != nil {
				b.Fatal(err)
			}
			m, err := gossipnet.SignMessage(k, gossip.CapacityTopic, data, uint64(s+1))
			if err != nil {
				b.Fatal(err)
			}
			msgs = append(msgs, m)
			if len(raws) < cap(raws) {
				xm := proto.CloneOf(m)
				xm.Signature = nil
				body, _ := proto.Marshal(xm)
				pub, _ := k.GetPublic().Raw()
				raws = append(raws, rawSig{pub, append([]byte(pubsub.SignPrefix), body...), m.Signature})
			}
		}
	}
	// The floor, in this run: raw verifications of the same messages.
	const floorN = 2000
	t0 := time.Now()
	for i := range floorN {
		r := raws[i%len(raws)]
		if !ed25519.Verify(r.pub, r.signed, r.sig) {
			b.Fatal("verify")
		}
	}
	floor := time.Since(t0) / floorN

	sender, _, err := n.AddHost()
	if err != nil {
		b.Fatal(err)
	}
	sender.SetStreamHandler(pubsub.GossipSubID_v11, drain)
	if err := n.Connect(ctx, sender, n.Hosts[0]); err != nil {
		b.Fatal(err)
	}
	s, err := sender.NewStream(ctx, n.Hosts[0].ID(), pubsub.GossipSubID_v11)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Reset()
	w := pbio.NewDelimitedWriter(s)
	topic := gossip.CapacityTopic
	if err := w.WriteMsg(&pb.RPC{Subscriptions: []*pb.RPC_SubOpts{{Topicid: &topic, Subscribe: proto.Bool(true)}}}); err != nil {
		b.Fatal(err)
	}

	b.ResetTimer()
	start := time.Now()
	go func() {
		for _, m := range msgs {
			if err := w.WriteMsg(&pb.RPC{Publish: []*pb.Message{m}}); err != nil {
				return
			}
		}
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Minute):
		b.Fatalf("delivered %d of %d; stats %+v", got.Load(), b.N, node.Stats())
	}
	elapsed := time.Since(start)
	b.StopTimer()
	per1 := elapsed / time.Duration(b.N)
	b.ReportMetric(float64(per1.Nanoseconds()), "receive-ns/msg")
	b.ReportMetric(float64(floor.Nanoseconds()), "verify-ns/op")
	b.ReportMetric(float64(per1)/float64(floor), "ratio")
}

func drain(s network.Stream) {
	_, _ = io.Copy(io.Discard, s)
	_ = s.Reset()
}

// BenchmarkSpread builds a network of 200 nodes over links of 20–120 ms
// with the default (production) configuration, lets every node advertise
// once, 100 ms apart so that two cores can verify what 200 machines
// would, and reports how long each advert took to reach 50, 95, 99 and
// 100 % of the other nodes (the 99th percentile over adverts of each),
// duplicate deliveries per message, and whether every directory converged
// and how long after the last advert. Run with -benchtime 1x: one
// iteration is one whole experiment.
func BenchmarkSpread(b *testing.B) {
	for b.Loop() {
		spreadExperiment(b, 200, 0)
	}
}

// BenchmarkAttack is BenchmarkSpread with 20 % of the nodes (40 of 200)
// replaced by raw-protocol attackers, each flooding every kind of hostile
// message at 8 honest nodes at 50 messages per second and forwarding
// nothing. It reports the honest delivery rate (adverts of honest nodes
// held by honest directories) and how long until every honest neighbour
// had graylisted every attacker (p99 and max over attacker–neighbour
// pairs, score snapshots every 100 ms).
func BenchmarkAttack(b *testing.B) {
	for b.Loop() {
		spreadExperiment(b, 160, 40)
	}
}

func spreadExperiment(b *testing.B, nodes, attackers int) {
	cfg := gossip.DefaultConfig()
	cfg.Score.InspectPeriod = 100 * time.Millisecond // time graylisting finely
	ctx := context.Background()
	n, err := gossipnet.NewNetwork(ctx, gossipnet.NetworkConfig{
		Nodes: nodes, Degree: 4, MinLatency: 20 * time.Millisecond, MaxLatency: 120 * time.Millisecond, Seed: 1, Config: cfg,
	})
	if err != nil {
		b.Fatal(err)
	}
	defer n.Close()
	wctx, cancel := context.WithTimeout(ctx, time.Minute)
	if err := n.WaitReady(wctx); err != nil {
		b.Fatal(err)
	}
	cancel()
	// Let the first heartbeats build the meshes.
	warm := time.NewTimer(3 * cfg.Heartbeat)
	<-warm.C

	type arrival struct {
		author peer.ID
		at     time.Time
	}
	arrivals := make(chan arrival, nodes*nodes)
	for _, g := range n.Nodes {
		if _, err := g.Capacity().Subscribe(func(r gossip.Received[gossip.Advert]) {
			if !r.Local && n.Index(r.From) >= 0 {
				arrivals <- arrival{r.From, r.At}
			}
		}); err != nil {
			b.Fatal(err)
		}
	}

	// Attackers, each aimed at 8 honest nodes.
	graylistedAt := map[attackPair]time.Duration{}
	var atk []*gossipnet.Attacker
	var pairs []attackPair
	var attackStart []time.Time
	for i := range attackers {
		h, _, err := n.AddHost()
		if err != nil {
			b.Fatal(err)
		}
		a, err := gossipnet.NewAttacker(h, gossipnet.AttackerConfig{Rate: 50, MaxSize: cfg.Capacity.MaxSize})
		if err != nil {
			b.Fatal(err)
		}
		defer a.Close()
		a.Seed(staleSeeds(b, cfg, 10)...)
		var infos []peer.AddrInfo
		for k := range 8 {
			j := (i*37 + k*17) % nodes
			infos = append(infos, peer.AddrInfo{ID: n.Hosts[j].ID(), Addrs: n.Hosts[j].Addrs()})
			pairs = append(pairs, attackPair{i, j})
		}
		attackStart = append(attackStart, time.Now())
		if err := a.Start(infos); err != nil {
			b.Fatal(err)
		}
		atk = append(atk, a)
	}

	published := map[peer.ID]time.Time{}
	tick := time.NewTicker(100 * time.Millisecond)
	for i, g := range n.Nodes {
		<-tick.C
		published[n.Hosts[i].ID()] = time.Now()
		if _, err := gossip.NewAdvertiser(g, gossip.StaticCapacity{Cores: 4, Runtimes: []string{gossip.RuntimeWasm}}).Publish(ctx); err != nil {
			b.Fatal(err)
		}
		checkGraylist(n, atk, pairs, graylistedAt, attackStart)
	}
	tick.Stop()
	lastPublish := time.Now()
	delays := map[peer.ID][]time.Duration{}
	timeout := time.After(cfg.Advert.Interval)
collect:
	for count := 0; count < nodes*(nodes-1); count++ {
		select {
		case a := <-arrivals:
			delays[a.author] = append(delays[a.author], a.at.Sub(published[a.author]))
		case <-timeout:
			break collect
		}
	}
	honestSet := func(g *gossip.Gossip) (int, [32]byte) {
		// The honest part of a directory: attackers' valid flood adverts
		// may sit in some directories and not others.
		var held int
		h := sha256.New()
		for _, e := range g.Directory().Snapshot() {
			if n.Index(e.Advert.Peer) >= 0 {
				held++
				h.Write([]byte(e.Advert.Peer))
			}
		}
		var sum [32]byte
		h.Sum(sum[:0])
		return held, sum
	}
	allConverged := func() bool {
		_, want := honestSet(n.Nodes[0])
		for _, g := range n.Nodes {
			if held, d := honestSet(g); held != nodes || d != want {
				return false
			}
		}
		return true
	}
	converged := allConverged()
	for deadline := lastPublish.Add(cfg.Advert.Interval); !converged && time.Now().Before(deadline); converged = allConverged() {
		poll := time.NewTimer(10 * time.Millisecond)
		<-poll.C
	}
	convergedAfter := time.Since(lastPublish)
	heldTotal := 0
	for _, g := range n.Nodes {
		held, _ := honestSet(g)
		heldTotal += held - 1 // its own advert does not count
	}

	var dup, del uint64
	for _, g := range n.Nodes {
		st := g.Stats()
		dup += st.Duplicates
		del += st.Delivered
	}
	for _, q := range []float64{0.50, 0.95, 0.99, 1.0} {
		need := int(q*float64(nodes-1) + 0.999999)
		var reach []time.Duration
		for _, ds := range delays {
			if len(ds) < need {
				reach = append(reach, time.Hour) // never reached
				continue
			}
			slices.Sort(ds)
			reach = append(reach, ds[need-1])
		}
		slices.Sort(reach)
		b.ReportMetric(reach[int(0.99*float64(len(reach)-1))].Seconds()*1000, fmt.Sprintf("p99-ms-to-%d%%", int(q*100)))
	}
	b.ReportMetric(float64(dup)/float64(del), "dups/msg")
	conv := 0.0
	if converged {
		conv = 1
	}
	b.ReportMetric(conv, "converged")
	b.ReportMetric(convergedAfter.Seconds()*1000, "ms-to-converge")
	b.ReportMetric(float64(heldTotal)/float64(nodes*(nodes-1)), "honest-delivery")
	if attackers > 0 {
		deadline := time.Now().Add(time.Minute)
		for len(graylistedAt) < len(pairs) && time.Now().Before(deadline) {
			<-n.Nodes[0].ScoresUpdated()
			checkGraylist(n, atk, pairs, graylistedAt, attackStart)
		}
		var ts []time.Duration
		for _, p := range pairs {
			t, ok := graylistedAt[p]
			if !ok {
				t = time.Hour
			}
			ts = append(ts, t)
		}
		slices.Sort(ts)
		b.ReportMetric(ts[int(0.99*float64(len(ts)-1))].Seconds()*1000, "p99-ms-to-graylist")
		b.ReportMetric(ts[len(ts)-1].Seconds()*1000, "max-ms-to-graylist")
		falsePositives := 0
		for i, g := range n.Nodes {
			for _, p := range n.Hosts[i].Network().Peers() {
				if n.Index(p) >= 0 && g.Graylisted(p) {
					falsePositives++
				}
			}
		}
		b.ReportMetric(float64(falsePositives), "honest-graylisted")
	}
}

// attackPair is an attacker and one honest node it attacks.
type attackPair struct{ attacker, victim int }

// checkGraylist records when each honest victim first graylisted its
// attacker, counted from the attacker's start.
func checkGraylist(n *gossipnet.Network, atk []*gossipnet.Attacker, pairs []attackPair, at map[attackPair]time.Duration, start []time.Time) {
	for _, p := range pairs {
		if _, done := at[p]; done {
			continue
		}
		if n.Nodes[p.victim].Graylisted(atk[p.attacker].ID()) {
			at[p] = time.Since(start[p.attacker])
		}
	}
}

// staleSeeds returns genuinely signed adverts issued an hour ago.
func staleSeeds(b *testing.B, cfg gossip.Config, count int) []*pb.Message {
	k, _, err := crypto.GenerateEd25519Key(nil)
	if err != nil {
		b.Fatal(err)
	}
	id, _ := peer.IDFromPrivateKey(k)
	issued := time.UnixMilli(time.Now().Add(-time.Hour).UnixMilli())
	var out []*pb.Message
	for i := range count {
		data, err := gossip.EncodeAdvert(gossip.Advert{Peer: id, Cores: 1, Seq: uint64(i + 1), Issued: issued, Expires: issued.Add(cfg.Advert.MaxTTL)})
		if err != nil {
			b.Fatal(err)
		}
		m, err := gossipnet.SignMessage(k, gossip.CapacityTopic, data, uint64(i+1))
		if err != nil {
			b.Fatal(err)
		}
		out = append(out, m)
	}
	return out
}
