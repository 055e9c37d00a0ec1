package lottery

import (
	"bytes"
	"crypto/ecdh"
	"crypto/ed25519"
	"crypto/rand"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fog-compute/fog/mix/vrf"
)

// claimFixture is ten candidates of weight 100 out of 1000 with R = 30
// (p = 0.03, three seats expected per winner) and a winning claim.
type claimFixture struct {
	cfg   Config
	keys  []ed25519.PrivateKey
	stake *mapStake
	seed  Seed
	claim *Claim
	idx   int // index of the claimant in keys
}

func newClaimFixture(t *testing.T) claimFixture {
	cfg := testConfig()
	var keys []ed25519.PrivateKey
	var weights []uint64
	for i := range 10 {
		keys = append(keys, testKey(i))
		weights = append(weights, 100)
	}
	stake := newMapStake(keys, weights)
	seed := GenesisSeed(cfg)
	c, idx := winningClaim(t, cfg, keys, stake, 0, seed)
	return claimFixture{cfg: cfg, keys: keys, stake: stake, seed: seed, claim: c, idx: idx}
}

// clone returns a deep copy of the fixture's claim.
func (f claimFixture) clone(t *testing.T) *Claim {
	c, err := DecodeClaim(mustEncode(t, f.claim))
	require.NoError(t, err)
	return c
}

func TestNewClaimRoundTrip(t *testing.T) {
	f := newClaimFixture(t)
	require.NoError(t, f.claim.Verify(f.cfg, 0, f.seed, f.stake))
	enc := mustEncode(t, f.claim)
	require.Len(t, enc, ClaimSize)
	back, err := DecodeClaim(enc)
	require.NoError(t, err)
	assert.Equal(t, enc, mustEncode(t, back))
	assert.Equal(t, f.claim.Seats, back.Seats)
	assert.True(t, back.MixKey.Equal(f.claim.MixKey))
	require.NoError(t, back.Verify(f.cfg, 0, f.seed, f.stake))
}

func TestNewClaimLosesWithoutWeight(t *testing.T) {
	f := newClaimFixture(t)
	c, mk, won, err := NewClaim(f.keys[0], 0, f.seed, 0, 0.5, f.cfg, nil)
	require.NoError(t, err)
	assert.False(t, won)
	assert.Nil(t, c)
	assert.Nil(t, mk)
}

func TestNewClaimMixKeyMatchesAndIsFresh(t *testing.T) {
	f := newClaimFixture(t)
	k := f.keys[f.idx]
	w := f.stake.Weight(0, pubOf(k))
	p := Probability(f.cfg.TargetRelays, f.stake.total)
	c1, mk1, won1, err := NewClaim(k, 0, f.seed, w, p, f.cfg, rand.Reader)
	require.NoError(t, err)
	c2, mk2, won2, err := NewClaim(k, 0, f.seed, w, p, f.cfg, rand.Reader)
	require.NoError(t, err)
	require.True(t, won1 && won2)
	assert.True(t, mk1.PublicKey().Equal(c1.MixKey))
	assert.False(t, mk1.Equal(mk2), "each claim gets a fresh mix key")
	assert.Equal(t, c1.Proof, c2.Proof, "the VRF proof is deterministic")
	assert.Equal(t, c1.Seats, c2.Seats)
	assert.Equal(t, c1.Layer, c2.Layer)
}

// TestClaimVerifyRejections has one case per rejection reason; each case
// changes one thing and re-signs where needed, so only that check fails.
func TestClaimVerifyRejections(t *testing.T) {
	f := newClaimFixture(t)
	claimant := f.keys[f.idx]
	other := f.keys[(f.idx+1)%len(f.keys)]
	outsider := testKey(1000) // not a candidate
	resign := func(t *testing.T, c *Claim, k ed25519.PrivateKey) {
		require.NoError(t, c.Sign(k, f.cfg))
	}
	lowOrder, err := ecdh.X25519().NewPublicKey(make([]byte, 32))
	require.NoError(t, err)
	freshMix, err := ecdh.X25519().GenerateKey(rand.Reader)
	require.NoError(t, err)

	tests := []struct {
		name   string
		mutate func(t *testing.T, c *Claim) (epoch uint64, seed Seed)
		want   error
	}{
		{"valid", func(t *testing.T, c *Claim) (uint64, Seed) { return 0, f.seed }, nil},
		{"wrong epoch: checked in the next epoch", func(t *testing.T, c *Claim) (uint64, Seed) {
			return 1, f.seed
		}, ErrWrongEpoch},
		{"wrong epoch: epoch field changed and re-signed", func(t *testing.T, c *Claim) (uint64, Seed) {
			c.Epoch = 1
			resign(t, c, claimant)
			return 1, f.seed // the proof is for epoch 0's input
		}, ErrBadProof},
		{"wrong seed", func(t *testing.T, c *Claim) (uint64, Seed) {
			c.Seed[0] ^= 1
			resign(t, c, claimant)
			return 0, f.seed
		}, ErrWrongSeed},
		{"bad proof: flipped challenge byte", func(t *testing.T, c *Claim) (uint64, Seed) {
			c.Proof[40] ^= 1
			resign(t, c, claimant)
			return 0, f.seed
		}, ErrBadProof},
		{"bad proof: another candidate's proof", func(t *testing.T, c *Claim) (uint64, Seed) {
			pi, err := vrf.Prove(other, ticketAlpha(f.cfg, 0, f.seed))
			require.NoError(t, err)
			c.Proof = pi
			resign(t, c, claimant)
			return 0, f.seed
		}, ErrBadProof},
		{"bad proof: claimant's proof for another seed", func(t *testing.T, c *Claim) (uint64, Seed) {
			var s Seed
			pi, err := vrf.Prove(claimant, ticketAlpha(f.cfg, 0, s))
			require.NoError(t, err)
			c.Proof = pi
			resign(t, c, claimant)
			return 0, f.seed
		}, ErrBadProof},
		{"mix key swapped after signing", func(t *testing.T, c *Claim) (uint64, Seed) {
			c.MixKey = freshMix.PublicKey()
			return 0, f.seed
		}, ErrBadSignature},
		{"mix key signed by another candidate", func(t *testing.T, c *Claim) (uint64, Seed) {
			c.MixKey = freshMix.PublicKey()
			resign(t, c, other)
			return 0, f.seed
		}, ErrBadSignature},
		{"claimant key replaced by another candidate's", func(t *testing.T, c *Claim) (uint64, Seed) {
			c.Claimant = pubOf(other)
			return 0, f.seed
		}, ErrBadSignature},
		{"signature truncated", func(t *testing.T, c *Claim) (uint64, Seed) {
			c.Signature = c.Signature[:10]
			return 0, f.seed
		}, ErrMalformed},
		{"small-order mix key", func(t *testing.T, c *Claim) (uint64, Seed) {
			c.MixKey = lowOrder
			resign(t, c, claimant)
			return 0, f.seed
		}, ErrBadMixKey},
		{"one seat too many", func(t *testing.T, c *Claim) (uint64, Seed) {
			c.Seats++
			resign(t, c, claimant)
			return 0, f.seed
		}, ErrSeats},
		{"zero seats", func(t *testing.T, c *Claim) (uint64, Seed) {
			c.Seats = 0
			resign(t, c, claimant)
			return 0, f.seed
		}, ErrSeats},
		{"another layer", func(t *testing.T, c *Claim) (uint64, Seed) {
			c.Layer = (c.Layer + 1) % f.cfg.Layers
			resign(t, c, claimant)
			return 0, f.seed
		}, ErrLayer},
		{"layer out of range", func(t *testing.T, c *Claim) (uint64, Seed) {
			c.Layer = f.cfg.Layers
			resign(t, c, claimant)
			return 0, f.seed
		}, ErrLayer},
		{"not a candidate", func(t *testing.T, c *Claim) (uint64, Seed) {
			// The outsider draws with the weight it would like to have.
			for w := uint64(100); ; w *= 2 {
				oc, _, won, err := NewClaim(outsider, 0, f.seed, w, 0.03, f.cfg, nil)
				require.NoError(t, err)
				if won {
					*c = *oc
					return 0, f.seed
				}
			}
		}, ErrNotCandidate},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := f.clone(t)
			e, seed := tt.mutate(t, c)
			err := c.Verify(f.cfg, e, seed, f.stake)
			if tt.want == nil {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, tt.want)
			for _, other := range []error{ErrWrongEpoch, ErrWrongSeed, ErrBadProof, ErrBadSignature, ErrBadMixKey, ErrSeats, ErrLayer, ErrNotCandidate, ErrMalformed} {
				if other != tt.want {
					assert.NotErrorIs(t, err, other, "one reason per rejection")
				}
			}
		})
	}
}

func TestClaimVerifyOtherNetwork(t *testing.T) {
	f := newClaimFixture(t)
	cfg := f.cfg
	cfg.NetworkID = "another-network"
	err := f.claim.Verify(cfg, 0, f.seed, f.stake)
	require.ErrorIs(t, err, ErrBadSignature, "the signature covers the network ID")
}

func TestDecodeClaimRejects(t *testing.T) {
	f := newClaimFixture(t)
	enc := mustEncode(t, f.claim)
	tests := map[string][]byte{
		"empty":        nil,
		"one byte":     {kindClaim},
		"truncated":    enc[:ClaimSize-1],
		"extended":     append(bytes.Clone(enc), 0),
		"reveal kind":  append([]byte{kindReveal}, enc[1:]...),
		"unknown kind": append([]byte{0x7f}, enc[1:]...),
	}
	for name, b := range tests {
		t.Run(name, func(t *testing.T) {
			c, err := DecodeClaim(b)
			require.ErrorIs(t, err, ErrMalformed)
			assert.Nil(t, c)
		})
	}
}

func TestClaimEncodeRejectsBadFields(t *testing.T) {
	f := newClaimFixture(t)
	for name, mod := range map[string]func(*Claim){
		"layer":     func(c *Claim) { c.Layer = 256 },
		"claimant":  func(c *Claim) { c.Claimant = c.Claimant[:31] },
		"proof":     func(c *Claim) { c.Proof = nil },
		"mix key":   func(c *Claim) { c.MixKey = nil },
		"signature": func(c *Claim) { c.Signature = nil },
	} {
		c := f.clone(t)
		mod(c)
		_, err := c.Encode()
		assert.ErrorIs(t, err, ErrMalformed, name)
	}
}

// TestLowOrderMixKeys checks isLowOrderX25519 against X25519 itself: the
// listed points (in canonical and non-canonical encodings) make every shared
// secret zero, which crypto/ecdh reports as an error; random keys do not.
func TestLowOrderMixKeys(t *testing.T) {
	priv, err := ecdh.X25519().GenerateKey(rand.Reader)
	require.NoError(t, err)
	ecdhFails := func(u []byte) bool {
		pub, err := ecdh.X25519().NewPublicKey(u)
		require.NoError(t, err)
		_, err = priv.ECDH(pub)
		return err != nil
	}
	var encodings [][]byte
	for _, u := range lowOrderU {
		for _, v := range []*bigInt{u, new(bigInt).Add(u, p25519)} {
			if v.BitLen() > 255 {
				continue
			}
			le := leBytes(v)
			encodings = append(encodings, le)
			hi := bytes.Clone(le)
			hi[31] |= 0x80 // X25519 ignores the top bit
			encodings = append(encodings, hi)
		}
	}
	require.Len(t, encodings, 14)
	for _, u := range encodings {
		assert.True(t, isLowOrderX25519(u), "%x", u)
		assert.True(t, ecdhFails(u), "%x", u)
	}
	for range 200 {
		k, err := ecdh.X25519().GenerateKey(rand.Reader)
		require.NoError(t, err)
		u := k.PublicKey().Bytes()
		assert.False(t, isLowOrderX25519(u))
		assert.False(t, ecdhFails(u))
	}
}
