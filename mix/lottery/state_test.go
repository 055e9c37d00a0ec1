package lottery

import (
	"crypto/ed25519"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func uniformNet(n int) ([]ed25519.PrivateKey, *UniformStake) {
	var keys []ed25519.PrivateKey
	var pubs []ed25519.PublicKey
	for i := range n {
		keys = append(keys, testKey(i))
		pubs = append(pubs, pubOf(testKey(i)))
	}
	return keys, NewUniformStake(pubs)
}

// TestThirtyNodesAgree runs 30 candidates for three epochs over a gossip
// network with random latency and clock offsets within MaxClockSkew, once
// as bare States under a fixed stake oracle and once as whole Nodes with
// the same candidates fixed in their config: every node must end each
// epoch with the same directory, holding exactly the winners, and every
// epoch's seed must be the same everywhere, with no honest message dropped
// as early or late.
func TestThirtyNodesAgree(t *testing.T) {
	for _, nodes := range []bool{false, true} {
		name := map[bool]string{false: "States", true: "Nodes"}[nodes]
		t.Run(name, func(t *testing.T) {
			cfg := nodeConfig()
			cfg.TargetRelays = 10
			keys, stake := uniformNet(30)
			rng := rand.New(rand.NewPCG(1, 2))
			offsets := make([]time.Duration, len(keys))
			for i := range offsets {
				offsets[i] = time.Duration(rng.Int64N(int64(2*cfg.MaxClockSkew+1))) - cfg.MaxClockSkew
			}
			var net *testNet
			if nodes {
				net = newNodeNet(t, cfg, keys, 200*time.Millisecond, 3)
				net.cfg.Candidates = net.peerIDs(net.all()...)
				copy(net.offset, offsets)
				for i := range keys {
					net.start(i, cfg.Genesis.Add(-2*time.Second))
				}
			} else {
				net = newStateNet(t, cfg.Config, keys, stake, offsets, 200*time.Millisecond, 3)
			}
			const epochs = 3
			net.run(cfg.EpochStart(epochs).Add(cfg.ClaimWindow + time.Second))

			first := net.members[0]
			for e := uint64(0); e <= epochs; e++ {
				requireAgree(t, net, e, net.all())
				d, _ := first.Directory(e)
				assert.Positive(t, d.Len(), "epoch %d has relays", e)
				// The directory holds exactly the winners, computed independently.
				seed, _ := first.Seed(e)
				p := Probability(cfg.TargetRelays, stake.TotalWeight(e))
				winners := 0
				for _, k := range keys {
					_, _, won, err := NewClaim(k, e, seed, 1, p, cfg.Config, nil)
					require.NoError(t, err)
					if won {
						winners++
						_, ok := d.Lookup(pubOf(k))
						assert.True(t, ok)
					}
				}
				assert.Equal(t, winners, d.Len())
			}
			for e := uint64(0); e < epochs; e++ {
				if !nodes {
					d, _ := first.Directory(e)
					assert.Equal(t, d.Len(), net.state(0).Reveals(e), "every relay of epoch %d revealed", e)
				}
				s0, _ := first.Seed(e)
				s1, _ := first.Seed(e + 1)
				assert.NotEqual(t, NextSeed(cfg.Config, e, s0, nil), s1, "epoch %d's seed used its reveals", e+1)
			}
			assert.Zero(t, net.errs[ErrLate], "late messages")
			assert.Zero(t, net.errs[ErrEarly], "early messages")
			assert.Zero(t, net.errs[ErrWrongSeed], "seed disagreements")
			assert.Zero(t, net.verdict[Reject], "rejected messages")
			assert.Positive(t, net.verdict[Accept], "accepted messages")
		})
	}
}

// TestSameClaimsAnyOrder feeds the same claims, with duplicates, in a
// different random order to each of 30 state machines: the digests agree.
func TestSameClaimsAnyOrder(t *testing.T) {
	cfg := testConfig()
	cfg.TargetRelays = 12
	keys, stake := uniformNet(30)
	seed := GenesisSeed(cfg)
	p := Probability(cfg.TargetRelays, stake.TotalWeight(0))
	var msgs [][]byte
	for i, k := range keys {
		c, _, won, err := NewClaim(k, 0, seed, 1, p, cfg, detRandSeq(i))
		require.NoError(t, err)
		if won {
			msgs = append(msgs, mustEncode(t, c))
		}
	}
	require.Greater(t, len(msgs), 3)
	msgs = append(msgs, msgs[:3]...) // duplicates
	now := cfg.EpochStart(0).Add(time.Second)
	digests := map[[DigestSize]byte]int{}
	for i := range 30 {
		s, err := New(cfg, stake, nil, GenesisCheckpoint(cfg), nil)
		require.NoError(t, err)
		order := rand.New(rand.NewPCG(uint64(i), 9)).Perm(len(msgs))
		accepted := 0
		for _, j := range order {
			v, err := s.Receive(now, msgs[j])
			if v == Accept {
				require.NoError(t, err)
				accepted++
			} else {
				require.ErrorIs(t, err, ErrDuplicate)
			}
		}
		assert.Equal(t, len(msgs)-3, accepted)
		s.Tick(cfg.ClaimClose(0))
		d, _ := s.Directory(0)
		digests[d.Digest()]++
	}
	assert.Len(t, digests, 1)
}

// TestEquivocatorExcludedEverywhere: one candidate publishes two different
// claims for one epoch, each to half of the nodes. Gossip forwards both, and
// every node excludes it; directories still agree.
func TestEquivocatorExcludedEverywhere(t *testing.T) {
	cfg := testConfig()
	cfg.TargetRelays = 30 // p = 1: everyone wins, including the equivocator
	keys, stake := uniformNet(21)
	honest, cheat := keys[:20], keys[20]
	net := newStateNet(t, cfg, honest, stake, nil, 100*time.Millisecond, 5)
	seed := GenesisSeed(cfg)
	var two [][]byte
	for i := range 2 {
		c, _, won, err := NewClaim(cheat, 0, seed, 1, 1, cfg, detRandSeq(100+i))
		require.NoError(t, err)
		require.True(t, won)
		two = append(two, mustEncode(t, c))
	}
	net.run(cfg.EpochStart(0).Add(500 * time.Millisecond))
	for j := range net.members {
		net.send(-1, j, two[j%2])
	}
	net.run(cfg.ClaimClose(0).Add(time.Second))

	require.Len(t, net.digests(0), 1)
	d, _ := net.state(0).Directory(0)
	assert.Equal(t, 20, d.Len(), "the equivocator holds no seat")
	_, ok := d.Lookup(pubOf(cheat))
	assert.False(t, ok)
	require.Len(t, d.Equivocators(), 1)
	assert.Equal(t, pubOf(cheat), d.Equivocators()[0])
	a, b, ok := d.Evidence(pubOf(cheat))
	require.True(t, ok)
	assert.ElementsMatch(t, two, [][]byte{a, b})
	assert.Positive(t, net.errs[ErrEquivocation])
	assert.Zero(t, net.verdict[Reject])
}

// TestReceiveVerdicts covers State.Receive's answer for each kind of input.
func TestReceiveVerdicts(t *testing.T) {
	f := newClaimFixture(t)
	cfg := f.cfg
	valid := mustEncode(t, f.claim)
	relayKey := f.keys[f.idx]
	reveal, err := NewReveal(relayKey, 0, f.seed, cfg)
	require.NoError(t, err)
	revealData := mustEncode(t, reveal)
	// A candidate whose claim this node never saw (for ErrNotRelay).
	loser := f.keys[(f.idx+1)%len(f.keys)]
	loserReveal, err := NewReveal(loser, 0, f.seed, cfg)
	require.NoError(t, err)
	badReveal := mustEncode(t, reveal)
	badReveal[60] ^= 1
	other := f.clone(t)
	other.MixKey = f.clone(t).MixKey // same key...
	other.Signature[0] ^= 1          // ...broken signature
	forged := mustEncode(t, other)
	wrongSeed := f.clone(t)
	wrongSeed.Seed[0] ^= 1
	require.NoError(t, wrongSeed.Sign(relayKey, cfg))
	second, _, won, err := NewClaim(relayKey, 0, f.seed, 100, 0.03, cfg, detRandSeq(77))
	require.NoError(t, err)
	require.True(t, won)
	third, _, _, err := NewClaim(relayKey, 0, f.seed, 100, 0.03, cfg, detRandSeq(78))
	require.NoError(t, err)

	start := cfg.EpochStart(0)
	inWindow := start.Add(time.Second)
	afterClose := cfg.ClaimClose(0).Add(time.Millisecond)

	type step struct {
		name    string
		at      time.Time
		data    []byte
		verdict Verdict
		err     error
	}
	steps := []step{
		{"empty", inWindow, nil, Reject, ErrMalformed},
		{"oversized", inWindow, make([]byte, cfg.MaxMessageSize+1), Reject, ErrMalformed},
		{"unknown kind", inWindow, append([]byte{0x7f}, valid[1:]...), Reject, ErrMalformed},
		{"truncated claim", inWindow, valid[:100], Reject, ErrMalformed},
		{"forged signature", inWindow, forged, Reject, ErrBadSignature},
		{"claim on another seed", inWindow, mustEncode(t, wrongSeed), Ignore, ErrWrongSeed},
		{"reveal before the directory closes", inWindow, revealData, Ignore, ErrEarly},
		{"valid claim", inWindow, valid, Accept, nil},
		{"same claim again", inWindow, valid, Ignore, ErrDuplicate},
		{"second claim by the claimant", inWindow, mustEncode(t, second), Accept, ErrEquivocation},
		{"second claim again", inWindow, mustEncode(t, second), Ignore, ErrDuplicate},
		{"third claim by the excluded claimant", inWindow, mustEncode(t, third), Ignore, ErrExcluded},
		{"claim after the window", afterClose, valid, Ignore, ErrLate},
		{"reveal by an excluded claimant", afterClose, revealData, Ignore, ErrNotRelay},
		{"reveal by a candidate without a claim here", afterClose, mustEncode(t, loserReveal), Ignore, ErrNotRelay},
		{"claim two epochs ahead", afterClose, claimForEpoch(t, valid, 2), Ignore, ErrWrongEpoch},
	}
	s, err := New(cfg, f.stake, nil, GenesisCheckpoint(cfg), nil)
	require.NoError(t, err)
	for _, st := range steps {
		v, err := s.Receive(st.at, st.data)
		assert.Equal(t, st.verdict, v, st.name)
		if st.err == nil {
			assert.NoError(t, err, st.name)
		} else {
			assert.ErrorIs(t, err, st.err, st.name)
		}
	}

	// Reveals: a fresh node where the claimant is a relay.
	s, err = New(cfg, f.stake, nil, GenesisCheckpoint(cfg), nil)
	require.NoError(t, err)
	v, err := s.Receive(inWindow, valid)
	require.Equal(t, Accept, v, err)
	revealTime := cfg.revealAt(0)
	for _, st := range []step{
		{"reveal with a bad proof", revealTime, badReveal, Reject, ErrBadProof},
		{"valid reveal", revealTime, revealData, Accept, nil},
		{"same reveal again", revealTime, revealData, Ignore, ErrDuplicate},
		{"reveal after the epoch", cfg.EpochStart(1), revealData, Ignore, ErrLate},
		{"claim for a finished epoch", cfg.EpochStart(1), valid, Ignore, ErrLate},
	} {
		v, err := s.Receive(st.at, st.data)
		assert.Equal(t, st.verdict, v, st.name)
		if st.err == nil {
			assert.NoError(t, err, st.name)
		} else {
			assert.ErrorIs(t, err, st.err, st.name)
		}
	}
	s1, _ := s.Seed(1)
	out, err := reveal.Verify(cfg, 0, f.seed)
	require.NoError(t, err)
	assert.Equal(t, NextSeed(cfg, 0, f.seed, [][]byte{out}), s1, "the reveal went into seed 1")
}

// claimForEpoch returns valid with its epoch field replaced (the signature
// no longer matches, but epoch checks come first).
func claimForEpoch(t *testing.T, valid []byte, e uint64) []byte {
	c, err := DecodeClaim(valid)
	require.NoError(t, err)
	c.Epoch = e
	return mustEncode(t, c)
}

// TestEarlyClaimBuffered: a claim for the next epoch that arrives up to
// 2*MaxClockSkew before this node's epoch start is kept and accepted when
// the epoch starts; an earlier one is dropped.
func TestEarlyClaimBuffered(t *testing.T) {
	cfg := testConfig()
	cfg.TargetRelays = 30
	keys, stake := uniformNet(5)
	// Epoch 1's seed with no relay in epoch 0 is the empty-reveal seed.
	seed1 := NextSeed(cfg, 0, GenesisSeed(cfg), nil)
	c, _, won, err := NewClaim(keys[0], 1, seed1, 1, 1, cfg, nil)
	require.NoError(t, err)
	require.True(t, won)
	data := mustEncode(t, c)

	s, err := New(cfg, stake, nil, GenesisCheckpoint(cfg), nil)
	require.NoError(t, err)
	start1 := cfg.EpochStart(1)
	v, err := s.Receive(start1.Add(-3*cfg.MaxClockSkew), data)
	assert.Equal(t, Ignore, v)
	assert.ErrorIs(t, err, ErrEarly)
	assert.Zero(t, s.Pending(), "too early to buffer")

	v, err = s.Receive(start1.Add(-cfg.MaxClockSkew), data)
	assert.Equal(t, Ignore, v)
	assert.ErrorIs(t, err, ErrEarly)
	assert.Equal(t, 1, s.Pending())

	effs := s.Tick(start1)
	assert.Zero(t, s.Pending())
	require.NotEmpty(t, effs)
	d, _ := s.Directory(1)
	_, ok := d.Lookup(pubOf(keys[0]))
	assert.True(t, ok, "buffered claim accepted at the epoch start")
}

// TestTickSchedule follows one winning node through an epoch: it claims at
// start + 2*MaxClockSkew, the directory closes at ClaimClose, it reveals at
// the start of the reveal phase and the next epoch starts on time.
func TestTickSchedule(t *testing.T) {
	cfg := testConfig()
	cfg.TargetRelays = 30
	keys, stake := uniformNet(3) // p = 1: the node wins
	s, err := New(cfg, stake, keys[0], GenesisCheckpoint(cfg), nil)
	require.NoError(t, err)

	start := cfg.EpochStart(0)
	assert.Equal(t, start.Add(2*cfg.MaxClockSkew), s.NextTick())
	assert.Empty(t, s.Tick(start))
	effs := s.Tick(s.NextTick())
	require.Len(t, effs, 1)
	pc, ok := effs[0].(PublishClaim)
	require.True(t, ok)
	assert.True(t, pc.MixKey.PublicKey().Equal(pc.Claim.MixKey))
	assert.Empty(t, s.Tick(s.NextTick().Add(-time.Nanosecond)), "nothing before the next tick")

	assert.Equal(t, cfg.ClaimClose(0), s.NextTick())
	effs = s.Tick(s.NextTick())
	require.Len(t, effs, 1)
	dc := effs[0].(DirectoryClosed)
	assert.Equal(t, 1, dc.Relays)

	assert.Equal(t, cfg.revealAt(0), s.NextTick())
	effs = s.Tick(s.NextTick())
	require.Len(t, effs, 1)
	_, ok = effs[0].(PublishReveal)
	require.True(t, ok)

	assert.Equal(t, cfg.EpochStart(1), s.NextTick())
	effs = s.Tick(s.NextTick())
	require.Len(t, effs, 1)
	es := effs[0].(EpochStarted)
	assert.Equal(t, uint64(1), es.Epoch)
	assert.Equal(t, 1, es.Reveals)
	assert.Equal(t, Checkpoint{Epoch: 1, Seed: es.Seed}, s.Checkpoint())
	assert.Empty(t, s.Tick(cfg.EpochStart(1)), "ticking twice at the same time does nothing")
}

// TestRestartDoesNotEquivocate: a node restarted mid-epoch that restores its
// stored claim through Receive before its first Tick makes no second claim.
func TestRestartDoesNotEquivocate(t *testing.T) {
	cfg := testConfig()
	cfg.TargetRelays = 30
	keys, stake := uniformNet(3)
	s, err := New(cfg, stake, keys[0], GenesisCheckpoint(cfg), nil)
	require.NoError(t, err)
	at := cfg.EpochStart(0).Add(time.Second)
	effs := s.Tick(at)
	require.Len(t, effs, 1)
	stored := effs[0].(PublishClaim).Data

	restarted, err := New(cfg, stake, keys[0], s.Checkpoint(), nil)
	require.NoError(t, err)
	v, err := restarted.Receive(at.Add(time.Second), stored)
	require.Equal(t, Accept, v, err)
	for _, e := range restarted.Tick(at.Add(time.Second)) {
		_, isClaim := e.(PublishClaim)
		assert.False(t, isClaim, "no second claim")
	}
	d, _ := restarted.Directory(0)
	assert.Empty(t, d.Equivocators())
	assert.Equal(t, 1, d.Len())
}

// TestStateBoundedHistory: after many epochs only KeepEpochs past epochs
// remain, and a node catching up from far behind reports only recent
// effects.
func TestStateBoundedHistory(t *testing.T) {
	cfg := testConfig()
	keys, stake := uniformNet(3)
	s, err := New(cfg, stake, keys[0], GenesisCheckpoint(cfg), nil)
	require.NoError(t, err)
	effs := s.Tick(cfg.EpochStart(1000).Add(time.Millisecond))
	assert.Equal(t, uint64(1000), s.Epoch())
	assert.LessOrEqual(t, len(effs), 3*(cfg.KeepEpochs+1))
	for e := uint64(0); e < 1000-uint64(cfg.KeepEpochs); e++ {
		_, ok := s.Directory(e)
		require.False(t, ok, "epoch %d kept", e)
	}
	for e := 1000 - uint64(cfg.KeepEpochs); e <= 1000; e++ {
		_, ok := s.Directory(e)
		require.True(t, ok, "epoch %d dropped", e)
	}
}

func TestNewRejectsBadInput(t *testing.T) {
	cfg := testConfig()
	_, stake := uniformNet(2)
	_, err := New(Config{}, stake, nil, GenesisCheckpoint(cfg), nil)
	assert.ErrorIs(t, err, ErrConfig)
	_, err = New(cfg, nil, nil, GenesisCheckpoint(cfg), nil)
	assert.Error(t, err)
	_, err = New(cfg, stake, make(ed25519.PrivateKey, 10), GenesisCheckpoint(cfg), nil)
	assert.Error(t, err)
}
