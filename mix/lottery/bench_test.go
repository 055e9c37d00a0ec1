package lottery

import (
	"crypto/ed25519"
	"fmt"
	"testing"
	"time"
)

// benchClaims returns n valid claims for epoch 0 by n candidates of weight 1
// with p = 1 (everyone wins one seat), and the oracle that makes them valid.
func benchClaims(b *testing.B, n int) (Config, *UniformStake, [][]byte) {
	cfg := testConfig()
	cfg.TargetRelays = n
	var keys []ed25519.PrivateKey
	var pubs []ed25519.PublicKey
	for i := range n {
		keys = append(keys, testKey(i))
		pubs = append(pubs, pubOf(keys[i]))
	}
	stake := NewUniformStake(pubs)
	seed := GenesisSeed(cfg)
	var out [][]byte
	for i, k := range keys {
		c, _, won, err := NewClaim(k, 0, seed, 1, 1, cfg, detRandSeq(i))
		if err != nil || !won {
			b.Fatal(err, won)
		}
		enc, err := c.Encode()
		if err != nil {
			b.Fatal(err)
		}
		out = append(out, enc)
	}
	return cfg, stake, out
}

// BenchmarkVerifyClaim is the full check of one claim (Claim.Verify: stake
// lookup, mix key, Ed25519 signature, VRF proof, seats, layer) on one core.
// claims/s is the "claims verified per second" figure.
func BenchmarkVerifyClaim(b *testing.B) {
	cfg, stake, encs := benchClaims(b, 64)
	claims := make([]*Claim, len(encs))
	for i, e := range encs {
		claims[i], _ = DecodeClaim(e)
	}
	seed := GenesisSeed(cfg)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if err := claims[i%len(claims)].Verify(cfg, 0, seed, stake); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "claims/s")
}

// BenchmarkVerifyClaimParallel is the same on every core (GOMAXPROCS
// goroutines); Verify is a pure function, so a driver can validate gossip in
// parallel before handing claims to the State.
func BenchmarkVerifyClaimParallel(b *testing.B) {
	cfg, stake, encs := benchClaims(b, 64)
	seed := GenesisSeed(cfg)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			c, err := DecodeClaim(encs[i%len(encs)])
			if err == nil {
				err = c.Verify(cfg, 0, seed, stake)
			}
			if err != nil {
				b.Error(err)
				return
			}
			i++
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "claims/s")
}

// BenchmarkReceiveClaim is State.Receive of a new claim from the wire:
// size check, decode, duplicate check, Verify, directory insert.
func BenchmarkReceiveClaim(b *testing.B) {
	cfg, stake, encs := benchClaims(b, 256)
	now := cfg.EpochStart(0).Add(time.Second)
	var s *State
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if i%len(encs) == 0 {
			b.StopTimer()
			var err error
			if s, err = New(cfg, stake, nil, GenesisCheckpoint(cfg), nil); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
		}
		if v, err := s.Receive(now, encs[i%len(encs)]); v != Accept {
			b.Fatal(v, err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "claims/s")
}

// BenchmarkReceiveDuplicate is the cost of a claim the node already has
// (gossip delivers each message several times).
func BenchmarkReceiveDuplicate(b *testing.B) {
	cfg, stake, encs := benchClaims(b, 1)
	now := cfg.EpochStart(0).Add(time.Second)
	s, err := New(cfg, stake, nil, GenesisCheckpoint(cfg), nil)
	if err != nil {
		b.Fatal(err)
	}
	if v, err := s.Receive(now, encs[0]); v != Accept {
		b.Fatal(v, err)
	}
	b.ResetTimer()
	for b.Loop() {
		if v, _ := s.Receive(now, encs[0]); v != Ignore {
			b.Fatal(v)
		}
	}
}

// BenchmarkSeats is the sortition alone, for weights from one unit (uniform
// stake) to a billion, with p giving the stated expected seats.
func BenchmarkSeats(b *testing.B) {
	cases := []struct {
		w uint64
		p float64
	}{
		{1, 30.0 / 100},            // uniform stake, 100 candidates, R = 30
		{1000, 30.0 / 54500},       // the fairness figure's candidate 95: 0.55 seats
		{1_000_000, 30.0 / 1e6},    // one holder of all stake: 30 seats
		{1_000_000_000, 100 / 1e9}, // 100 seats out of a billion units
	}
	for _, c := range cases {
		b.Run(fmt.Sprintf("w=%d/mean=%.3g", c.w, float64(c.w)*c.p), func(b *testing.B) {
			betas := make([][]byte, 256)
			for i := range betas {
				betas[i] = testBeta("bench", uint64(i))
			}
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				Seats(betas[i%len(betas)], c.w, c.p)
			}
		})
	}
}

func BenchmarkLayer(b *testing.B) {
	beta := testBeta("bench", 1)
	for b.Loop() {
		Layer(beta, 3)
	}
}

// BenchmarkNewClaim is a winner's cost to draw, key and sign a claim.
func BenchmarkNewClaim(b *testing.B) {
	cfg := testConfig()
	k := testKey(1)
	seed := GenesisSeed(cfg)
	rnd := detRandSeq(1)
	for b.Loop() {
		if _, _, won, err := NewClaim(k, 0, seed, 1, 1, cfg, rnd); err != nil || !won {
			b.Fatal(err, won)
		}
	}
}

func BenchmarkDecodeClaim(b *testing.B) {
	_, _, encs := benchClaims(b, 1)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeClaim(encs[0]); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDirectoryDigest hashes a directory of 100 relays, what the
// simulator does per node to compare directories.
func BenchmarkDirectoryDigest(b *testing.B) {
	cfg, _, encs := benchClaims(b, 100)
	d := NewDirectory(0, GenesisSeed(cfg))
	for _, e := range encs {
		c, _ := DecodeClaim(e)
		if err := d.Add(c); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		d.Digest()
	}
}

func BenchmarkVerifyReveal(b *testing.B) {
	cfg := testConfig()
	seed := GenesisSeed(cfg)
	r, err := NewReveal(testKey(1), 0, seed, cfg)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := r.Verify(cfg, 0, seed); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEpochAt is the time-to-epoch map the core asks on every tick
// and message: the fixed map of Genesis and EpochLength, and a Schedule
// of five segments (four changes of length). ns/op is one EpochAt and
// one EpochStart.
func BenchmarkEpochAt(b *testing.B) {
	cfg := testConfig()
	s, err := NewSchedule(cfg.Genesis, cfg.EpochLength)
	if err != nil {
		b.Fatal(err)
	}
	for i, l := range []time.Duration{20 * time.Second, 7 * time.Second, time.Minute, 10 * time.Second} {
		if s, _, err = s.Change(s.EpochStart(uint64(10*i)), l); err != nil {
			b.Fatal(err)
		}
	}
	sched := cfg
	sched.Epochs = s
	t := cfg.Genesis.Add(time.Hour)
	for _, c := range []struct {
		name string
		cfg  Config
	}{{"fixed", cfg}, {"schedule5", sched}} {
		b.Run(c.name, func(b *testing.B) {
			var sink uint64
			for b.Loop() {
				e, _ := c.cfg.EpochAt(t)
				sink += e + uint64(c.cfg.EpochStart(e).Unix())
			}
			_ = sink
		})
	}
}
