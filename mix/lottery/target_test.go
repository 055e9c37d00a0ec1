package lottery

import (
	"crypto/ed25519"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// targetStake is a mapStake whose R changes from epoch from on.
type targetStake struct {
	*mapStake
	from uint64
	r    int
}

func (s targetStake) TargetRelays(e uint64) int {
	if e >= s.from {
		return s.r
	}
	return 0 // invalid: the configured R
}

// TestRelayTarget: an oracle that is a RelayTarget sets R for the draw and
// for every claim's check, from its epoch on; before it, and for a value
// out of range, the configured R holds.
func TestRelayTarget(t *testing.T) {
	cfg := testConfig()
	keys := make([]ed25519.PrivateKey, 20)
	weights := make([]uint64, len(keys))
	for i := range keys {
		keys[i], weights[i] = testKey(i), 1000
	}
	plain := newMapStake(keys, weights)
	changed := targetStake{mapStake: plain, from: 3, r: 10_000}
	for _, tt := range []struct {
		e    uint64
		want int
	}{{0, cfg.TargetRelays}, {2, cfg.TargetRelays}, {3, 10_000}, {9, 10_000}} {
		assert.Equal(t, tt.want, TargetRelays(cfg, changed, tt.e), "epoch %d", tt.e)
	}
	assert.Equal(t, cfg.TargetRelays, TargetRelays(cfg, targetStake{plain, 0, MaxTargetRelays + 1}, 5))
	assert.Equal(t, cfg.TargetRelays, TargetRelays(cfg, plain, 5))

	seed := GenesisSeed(cfg)
	const e = 3
	// With R = 10,000 of a total weight of 20,000 every key wins about
	// 500 seats; with the configured 30, a claim for that many fails.
	p := Probability(TargetRelays(cfg, changed, e), changed.TotalWeight(e))
	c, _, won, err := NewClaim(keys[0], e, seed, 1000, p, cfg, detRand("mix"))
	require.NoError(t, err)
	require.True(t, won)
	assert.Greater(t, c.Seats, uint64(100))
	require.NoError(t, c.Verify(cfg, e, seed, changed))
	require.ErrorIs(t, c.Verify(cfg, e, seed, plain), ErrSeats)

	// The State draws with the oracle's R: its own claim for epoch 3.
	st, err := New(cfg, changed, keys[0], Checkpoint{Epoch: e, Seed: seed}, detRand("mix"))
	require.NoError(t, err)
	effs := st.Tick(cfg.EpochStart(e).Add(cfg.publishDelay()))
	var claimed *Claim
	for _, ef := range effs {
		if pc, ok := ef.(PublishClaim); ok {
			claimed = pc.Claim
		}
	}
	require.NotNil(t, claimed, "the state draws and wins under R = 10,000")
	assert.Equal(t, c.Seats, claimed.Seats)
}
