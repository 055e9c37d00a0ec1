package gossip

import (
	"crypto/ed25519"
	"fmt"
	mrand "math/rand/v2"
	"slices"
	"testing"
	"time"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	pb "github.com/libp2p/go-libp2p-pubsub/pb"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	"google.golang.org/protobuf/proto"
)

// signedAdvert is one advert as it arrives: the gossipsub message, plus
// what a raw Ed25519 verification of its envelope needs.
type signedAdvert struct {
	msg    *pb.Message
	pub    ed25519.PublicKey
	signed []byte // "libp2p-pubsub:" + protobuf without signature
}

// signedAdverts returns authors×perAuthor adverts, interleaved so that each
// author's sequence numbers ascend, signed as pubsub's StrictSign does.
func signedAdverts(b *testing.B, authors, perAuthor int, now time.Time) []signedAdvert {
	topic := CapacityTopic
	out := make([]signedAdvert, 0, authors*perAuthor)
	keys := make([]crypto.PrivKey, authors)
	ids := make([]peer.ID, authors)
	for i := range keys {
		keys[i], ids[i] = newKey(b)
	}
	for s := range perAuthor {
		for i, k := range keys {
			data, err := EncodeAdvert(testAdvert(ids[i], uint64(s+1), now))
			if err != nil {
				b.Fatal(err)
			}
			m := &pb.Message{From: []byte(ids[i]), Data: data, Seqno: []byte{0, 0, 0, 0, 0, 0, 0, byte(s)}, Topic: &topic}
			raw, err := proto.Marshal(m)
			if err != nil {
				b.Fatal(err)
			}
			signed := append([]byte(pubsub.SignPrefix), raw...)
			if m.Signature, err = k.Sign(signed); err != nil {
				b.Fatal(err)
			}
			rawPub, err := k.GetPublic().Raw()
			if err != nil {
				b.Fatal(err)
			}
			out = append(out, signedAdvert{msg: m, pub: rawPub, signed: signed})
		}
	}
	return out
}

// envelopeCheck does what pubsub v0.19.0 does to a received signed message
// before any topic validator runs (verifyMessageSignature in sign.go): take
// the key from the author's peer ID, re-marshal the message without its
// signature and key, and verify the signature over "libp2p-pubsub:" + that.
func envelopeCheck(m *pb.Message) error {
	pid, err := peer.IDFromBytes(m.From)
	if err != nil {
		return err
	}
	pk, err := pid.ExtractPublicKey()
	if err != nil {
		return err
	}
	xm := proto.CloneOf(m)
	xm.Signature, xm.Key = nil, nil
	b, err := proto.Marshal(xm)
	if err != nil {
		return err
	}
	ok, err := pk.Verify(append([]byte(pubsub.SignPrefix), b...), m.Signature)
	if err != nil || !ok {
		return fmt.Errorf("bad signature: %v", err)
	}
	return nil
}

// benchChain returns the capacity chain with a rate limit that never
// binds (the bucket arithmetic costs the same either way), so every
// pre-signed advert is accepted.
func benchChain(now time.Time) *chain[Advert] {
	cfg := DefaultConfig()
	tc := CapacityConfig(cfg)
	p := tc.Params
	p.Rate, p.Burst = 1e9, 1<<30
	return newChain(p, cfg.Heartbeat, tc.Decode, tc.Header, tc.Check, func() time.Time { return now })
}

// BenchmarkAdvertValidation measures the whole validation of a received
// advert — message ID, pubsub's envelope signature check and the capacity
// topic's chain — against one raw Ed25519 verification, alternating the two
// in the same loop. It reports both per-operation costs and their ratio
// (target ≤ 1.25). The sub-benchmarks break the cost down.
func BenchmarkAdvertValidation(b *testing.B) {
	now := time.Now()
	const authors, per = 64, 32
	ads := signedAdverts(b, authors, per, now)
	b.Run("ratio", func(b *testing.B) {
		c := benchChain(now)
		var raw, full time.Duration
		i := 0
		for b.Loop() {
			if i == len(ads) {
				i, c = 0, benchChain(now) // fresh sequence state for the next pass
			}
			a := &ads[i]
			i++
			t0 := time.Now()
			if !ed25519.Verify(a.pub, a.signed, a.msg.Signature) {
				b.Fatal("verify")
			}
			t1 := time.Now()
			_ = msgID(a.msg)
			if err := envelopeCheck(a.msg); err != nil {
				b.Fatal(err)
			}
			if _, rerr := c.run(peer.ID(a.msg.From), peer.ID(a.msg.From), a.msg.Data, false); rerr != nil {
				b.Fatal(rerr)
			}
			t2 := time.Now()
			raw += t1.Sub(t0)
			full += t2.Sub(t1)
		}
		b.ReportMetric(float64(raw.Nanoseconds())/float64(b.N), "verify-ns/op")
		b.ReportMetric(float64(full.Nanoseconds())/float64(b.N), "validate-ns/op")
		b.ReportMetric(float64(full)/float64(raw), "ratio")
	})
	b.Run("ed25519", func(b *testing.B) {
		i := 0
		for b.Loop() {
			a := &ads[i%len(ads)]
			i++
			if !ed25519.Verify(a.pub, a.signed, a.msg.Signature) {
				b.Fatal("verify")
			}
		}
	})
	b.Run("envelope", func(b *testing.B) {
		i := 0
		for b.Loop() {
			if err := envelopeCheck(ads[i%len(ads)].msg); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
	b.Run("msgid", func(b *testing.B) {
		i := 0
		for b.Loop() {
			_ = msgID(ads[i%len(ads)].msg)
			i++
		}
	})
	b.Run("decode", func(b *testing.B) {
		i := 0
		for b.Loop() {
			if _, err := DecodeAdvert(ads[i%len(ads)].msg.Data); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
	b.Run("chain", func(b *testing.B) {
		c := benchChain(now)
		i := 0
		for b.Loop() {
			if i == len(ads) {
				b.StopTimer()
				i, c = 0, benchChain(now)
				b.StartTimer()
			}
			a := &ads[i]
			i++
			if _, rerr := c.run(peer.ID(a.msg.From), peer.ID(a.msg.From), a.msg.Data, false); rerr != nil {
				b.Fatal(rerr)
			}
		}
	})
}

// BenchmarkDirectoryQuery runs placement-style queries (random minimum
// cores, memory and runtime; sorted by price, load or latency; limit 10)
// on a directory of 10,000 adverts, timing each query, and reports the
// 50th, 99th and 99.9th percentiles. Target: p99 ≤ 100 µs.
func BenchmarkDirectoryQuery(b *testing.B) {
	for _, n := range []int{1_000, 10_000} {
		b.Run(fmt.Sprintf("entries=%d", n), func(b *testing.B) {
			rng := mrand.New(mrand.NewPCG(3, 4))
			now := time.Now()
			d, _ := randomDirectory(b, n, rng, now.Add(20*time.Second), func(p peer.ID) time.Duration {
				return time.Duration(len(p)+int(p[len(p)-1])) * time.Millisecond
			})
			queries := make([]Query, 1024)
			for i := range queries {
				queries[i] = Query{
					MinCores:  uint32(rng.IntN(9)),
					MinMemory: uint64(rng.IntN(17)) << 30,
					Runtime:   []string{"", RuntimeWasm}[rng.IntN(2)],
					Sort:      SortKey(rng.IntN(3)),
					Limit:     10,
				}
			}
			lat := make([]time.Duration, 0, 1<<16)
			i := 0
			for b.Loop() {
				t0 := time.Now()
				_ = d.Query(queries[i%len(queries)])
				lat = append(lat, time.Since(t0))
				i++
			}
			slices.Sort(lat)
			pct := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))].Nanoseconds()) }
			b.ReportMetric(pct(0.50), "p50-ns")
			b.ReportMetric(pct(0.99), "p99-ns")
			b.ReportMetric(pct(0.999), "p99.9-ns")
		})
	}
}
