package lottery

import (
	"bytes"
	"crypto/ed25519"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDirectoryAddAndLookups(t *testing.T) {
	cfg := testConfig()
	cfg.TargetRelays = 40
	keys, _ := uniformNet(40)
	seed := GenesisSeed(cfg)
	d := NewDirectory(0, seed)
	empty := d.Digest()
	var claims []*Claim
	for i, k := range keys {
		c, _, won, err := NewClaim(k, 0, seed, 1, 1, cfg, detRandSeq(i))
		require.NoError(t, err)
		require.True(t, won)
		claims = append(claims, c)
		require.NoError(t, d.Add(c))
	}
	assert.Equal(t, 40, d.Len())
	assert.Equal(t, uint64(40), d.Seats())
	assert.NotEqual(t, empty, d.Digest())

	// Canonical order: by layer, then key; layers partition the relays.
	relays := d.Relays()
	for i := 1; i < len(relays); i++ {
		a, b := relays[i-1], relays[i]
		assert.True(t, a.Layer < b.Layer || (a.Layer == b.Layer && bytes.Compare(a.Claimant, b.Claimant) < 0))
	}
	total := 0
	for l := range cfg.Layers {
		layer := d.Layer(l)
		assert.NotEmpty(t, layer, "layer %d", l)
		for _, r := range layer {
			assert.Equal(t, l, r.Layer)
		}
		total += len(layer)
	}
	assert.Equal(t, 40, total)
	r, ok := d.Lookup(claims[3].Claimant)
	require.True(t, ok)
	assert.True(t, r.MixKey.Equal(claims[3].MixKey))
	_, ok = d.Lookup(pubOf(testKey(999)))
	assert.False(t, ok)
	_, ok = d.Lookup(nil)
	assert.False(t, ok)

	// The directory keeps its own copy: changing the caller's claim, or a
	// returned relay, changes nothing.
	before := d.Digest()
	claims[3].Seats = 99
	r.Claimant[0] ^= 1
	assert.Equal(t, before, d.Digest())

	// Claims() round-trips into an equal directory, in reverse order.
	encs := d.Claims()
	d2 := NewDirectory(0, seed)
	for i := len(encs) - 1; i >= 0; i-- {
		c, err := DecodeClaim(encs[i])
		require.NoError(t, err)
		require.NoError(t, d2.Add(c))
	}
	assert.Equal(t, d.Digest(), d2.Digest())

	// Clones are independent.
	cl := d.Clone()
	extra, _, _, err := NewClaim(testKey(500), 0, seed, 1, 1, cfg, nil)
	require.NoError(t, err)
	require.NoError(t, cl.Add(extra))
	assert.Equal(t, 40, d.Len())
	assert.Equal(t, 41, cl.Len())
}

func TestDirectoryAddRules(t *testing.T) {
	cfg := testConfig()
	seed := GenesisSeed(cfg)
	k := testKey(1)
	a, _, _, err := NewClaim(k, 0, seed, 1, 1, cfg, detRandSeq(1))
	require.NoError(t, err)
	b, _, _, err := NewClaim(k, 0, seed, 1, 1, cfg, detRandSeq(2))
	require.NoError(t, err)
	c, _, _, err := NewClaim(k, 0, seed, 1, 1, cfg, detRandSeq(3))
	require.NoError(t, err)

	d := NewDirectory(0, seed)
	require.NoError(t, d.Add(a))
	assert.ErrorIs(t, d.Add(a), ErrDuplicate)
	assert.ErrorIs(t, d.Add(b), ErrEquivocation)
	assert.Zero(t, d.Len())
	assert.ErrorIs(t, d.Add(a), ErrDuplicate, "a known version of an excluded claimant")
	assert.ErrorIs(t, d.Add(c), ErrExcluded)

	// Either order of the two versions gives the same directory.
	d2 := NewDirectory(0, seed)
	require.NoError(t, d2.Add(b))
	assert.ErrorIs(t, d2.Add(a), ErrEquivocation)
	assert.Equal(t, d.Digest(), d2.Digest())

	other := NewDirectory(1, seed)
	assert.ErrorIs(t, other.Add(a), ErrWrongEpoch)
	var s2 Seed
	assert.ErrorIs(t, NewDirectory(0, s2).Add(a), ErrWrongSeed)
}

func TestUniformStake(t *testing.T) {
	a, b, c := pubOf(testKey(1)), pubOf(testKey(2)), pubOf(testKey(3))
	u := NewUniformStake([]ed25519.PublicKey{a, b, a})
	assert.Equal(t, uint64(2), u.TotalWeight(0), "duplicates count once")
	assert.Equal(t, uint64(1), u.Weight(5, a))
	assert.Equal(t, uint64(0), u.Weight(5, c))
	assert.Equal(t, uint64(0), u.Weight(5, a[:5]))

	require.NoError(t, u.Set(10, []ed25519.PublicKey{b, c}))
	assert.Equal(t, uint64(1), u.Weight(9, a))
	assert.Equal(t, uint64(0), u.Weight(10, a))
	assert.Equal(t, uint64(1), u.Weight(10, c))
	assert.Equal(t, uint64(2), u.TotalWeight(1000))
	assert.Error(t, u.Set(10, nil), "sets only move forward")
	assert.Error(t, u.Set(11, []ed25519.PublicKey{a[:3]}))

	u.Prune(12)
	assert.Equal(t, uint64(0), u.TotalWeight(5), "set for epochs before 10 forgotten")
	assert.Equal(t, uint64(2), u.TotalWeight(12))
}
