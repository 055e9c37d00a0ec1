package sphinx

import (
	"crypto/ecdh"
	"crypto/hmac"
	"crypto/sha256"
	"testing"
	"time"

	"github.com/fog-compute/fog/internal/cputime"
)

// reportCPU reports the process CPU time per operation since cpu0 and
// the operations per CPU-second it allows; on this shared machine wall
// time per op also counts the other processes' turns.
func reportCPU(b *testing.B, cpu0 time.Duration) {
	cpu1, ok := cputime.Process()
	if !ok || b.N == 0 {
		return
	}
	perOp := float64(cpu1-cpu0) / float64(b.N)
	b.ReportMetric(perOp, "cpu-ns/op")
	b.ReportMetric(1e9/perOp, "ops/cpu-s")
}

// benchGeo is fog's default geometry (5 hops, 2 KiB payload).
var benchGeo = DefaultGeometry()

// replayCache stands in for the relay's replay cache: a map keyed by the
// tag, reset when it grows large. Both benchmarks below use it once per
// packet.
type replayCache map[[32]byte]struct{}

func (c *replayCache) seen(tag [32]byte) bool {
	if len(*c) > 1<<16 {
		*c = replayCache{}
	}
	if _, ok := (*c)[tag]; ok {
		return true
	}
	(*c)[tag] = struct{}{}
	return false
}

// BenchmarkUnwrap is one forwarding hop's work: Unwrap of a packet at the
// first of 5 hops (key agreement, derivation, MAC, header and payload
// decryption, blinding) and the replay check. Each iteration unwraps a
// fresh copy of the same packet.
func BenchmarkUnwrap(b *testing.B) {
	rnd := detRand(9)
	nodes, path := newPath(b, rnd, 5, false)
	pkt, err := NewPacket(rnd, benchGeo, path, testPayload(benchGeo, 0))
	if err != nil {
		b.Fatal(err)
	}
	buf := make([]byte, len(pkt))
	cache := replayCache{}
	b.SetBytes(int64(len(pkt)))
	b.ReportAllocs()
	cpu0, _ := cputime.Process()
	for b.Loop() {
		copy(buf, pkt)
		_, tag, _, err := Unwrap(benchGeo, nodes[0].priv, buf)
		if err != nil {
			b.Fatal(err)
		}
		cache.seen(tag)
		clear(cache) // the same packet every time: keep it a first sighting
	}
	reportCPU(b, cpu0)
}

// BenchmarkPrimitives runs the primitives of one forwarding unwrap back to
// back, on the same sizes, with no packet logic: X25519 key agreement,
// HKDF-SHA256 expansion, HMAC-SHA256 over the header, AES-256-CTR over the
// routing information, the ChaCha20 block of the blinding factor, the
// X25519 blinding, LIONESS over the payload, and the replay check. The
// ratio of its time to BenchmarkUnwrap's is the packet logic's overhead.
func BenchmarkPrimitives(b *testing.B) {
	rnd := detRand(9)
	nodes, path := newPath(b, rnd, 5, false)
	pkt, err := NewPacket(rnd, benchGeo, path, testPayload(benchGeo, 0))
	if err != nil {
		b.Fatal(err)
	}
	buf := make([]byte, len(pkt))
	ri := make([]byte, benchGeo.RoutingInfoLength()+PerHopLength)
	hdrLen, macOff := benchGeo.HeaderLength(), benchGeo.macOff()
	cache := replayCache{}
	b.SetBytes(int64(len(pkt)))
	b.ReportAllocs()
	cpu0, _ := cputime.Process()
	for b.Loop() {
		copy(buf, pkt)
		pub, err := ecdh.X25519().NewPublicKey(buf[2:34])
		if err != nil {
			b.Fatal(err)
		}
		s, err := nodes[0].priv.ECDH(pub)
		if err != nil {
			b.Fatal(err)
		}
		keys, err := deriveKeys(s)
		if err != nil {
			b.Fatal(err)
		}
		m := hmac.New(sha256.New, keys.macKey())
		m.Write(buf[:macOff])
		if !hmac.Equal(m.Sum(nil), buf[macOff:hdrLen]) {
			b.Fatal("mac")
		}
		copy(ri, buf[34:macOff])
		keys.xorKeyStream(ri, ri)
		if _, err := x25519(keys.blindingFactor(), buf[2:34]); err != nil {
			b.Fatal(err)
		}
		lionessDecrypt(keys.payloadKey(), buf[hdrLen:])
		cache.seen(keys.replayTag())
		clear(cache)
	}
	reportCPU(b, cpu0)
}
