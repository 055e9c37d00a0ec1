package ledgersvc

import (
	"context"
	"crypto/ed25519"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fog-compute/fog/gossip"
	"github.com/fog-compute/fog/token"
)

// TestSettled: the epochs whose blocks no honest node takes any more.
func TestSettled(t *testing.T) {
	c := DefaultConfig() // 1-minute epochs, MaxBackdate 1, MaxSkew 30 s
	at := func(d time.Duration) time.Time { return c.EpochZero.Add(d) }
	for _, tt := range []struct {
		t    time.Time
		want uint64
		ok   bool
	}{
		{at(0), 0, false},
		{at(2*time.Minute + 29*time.Second), 0, false},
		{at(2*time.Minute + 30*time.Second), 0, true}, // epoch 0's blocks: taken until 2:00 on a clock 30 s behind
		{at(3*time.Minute + 29*time.Second), 0, true},
		{at(3*time.Minute + 30*time.Second), 1, true},
		{at(100*time.Minute + 30*time.Second), 98, true},
	} {
		got, ok := c.SettledBefore(tt.t)
		assert.Equal(t, tt.ok, ok, "at %s", tt.t.Sub(c.EpochZero))
		if tt.ok {
			assert.Equal(t, tt.want, got, "at %s", tt.t.Sub(c.EpochZero))
			// Settled is the first whole epoch at whose start that holds.
			s := c.Settled(got)
			last, ok := c.SettledBefore(c.EpochZero.Add(time.Duration(s) * c.EpochLength))
			assert.True(t, ok)
			assert.GreaterOrEqual(t, last, got)
		}
	}
	for _, e := range []uint64{0, 1, 99} {
		assert.Equal(t, c.EpochZero.Add(time.Duration(e)*time.Minute), c.EpochStart(e))
		assert.Equal(t, e, c.Epoch(c.EpochStart(e)))
	}
	assert.False(t, c.EpochStart(^uint64(0)).Before(c.EpochStart(1<<40)), "saturates")
	assert.Equal(t, uint64(3), c.Settled(0)) // 1 back-dated epoch, 1 for the epoch itself, 1 for 30 s of skew
	assert.Equal(t, ^uint64(0), c.Settled(^uint64(0)-1))
	tc := TestConfig() // 1-second epochs, MaxBackdate 5, MaxSkew 2 s
	assert.Equal(t, uint64(10+5+1+2), tc.Settled(10))
}

// TestBackdatedBlockIgnored: a block new to the node dated more than
// MaxBackdate epochs back is ignored (not relayed, not taken, not voted
// for), one dated within the bound passes, and a block the node already
// holds passes however old (its duplicate harms nothing).
func TestBackdatedBlockIgnored(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		staker := ed25519.NewKeyFromSeed([]byte("ledgersvc backdating staker key."))
		sa := token.AccountOf(staker.Public().(ed25519.PublicKey))
		c := newCluster(t, 1, 1, token.Allocation{Account: sa.String(), Balance: 100})
		s := c.start(0)
		cfg := TestConfig()
		// Far enough from the epoch zero that every date below is valid.
		time.Sleep(time.Until(cfg.EpochZero.Add(time.Duration(cfg.Epoch(time.Now())+1) * cfg.EpochLength)))
		now := time.Now()
		cur := cfg.Epoch(now)
		l, err := token.NewLedger(c.genesis)
		require.NoError(t, err)
		w := token.NewWallet(l, staker)
		old, err := w.Stake(40, cur-cfg.MaxBackdate-1)
		require.NoError(t, err)
		recent, err := w.Stake(40, cur-cfg.MaxBackdate)
		require.NoError(t, err)

		check := func(b token.Block) error { return s.checkBlock(&Message{Block: &b}, time.Now(), false) }
		err = check(old)
		assert.True(t, errors.Is(err, gossip.ErrIgnore), "back-dated: %v", err)
		assert.NoError(t, check(recent), "dated within the bound")

		// The node takes the recent one; long after, a copy still passes.
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, err = s.step(func(now time.Time) (token.Effects, error) { return s.node.ProcessBlock(recent, now) })
		require.NoError(t, err)
		require.NoError(t, s.WaitConfirmed(ctx, recent.Hash()))
		time.Sleep(time.Duration(cfg.MaxBackdate+3) * cfg.EpochLength)
		assert.NoError(t, check(recent), "a duplicate")
		err = check(old)
		assert.True(t, errors.Is(err, gossip.ErrIgnore), "its rival, back-dated (and now the loser of a settled fork): %v", err)
		assert.Equal(t, uint64(2), s.Stats().Ignored)
		assert.Equal(t, map[Reason]uint64{IgnoredBackdated: 1, IgnoredSettled: 1}, s.Stats().IgnoredBy)

		// What the node says of the settled epoch counts only the block it took.
		last, ok := s.SettledBefore(time.Now())
		require.True(t, ok)
		require.GreaterOrEqual(t, last, recent.Epoch)
		st := s.Stakes(last, 0)
		assert.Equal(t, uint64(40), st.Weight(sa))
	})
}

// TestAgeBackdate: with MaxBackdate at AgeBackdate, a block whose first
// publication gossip still takes (its message MaxAge old, dated with the
// author's epoch then) is not ignored as back-dated, on any offset of its
// making within an epoch; with a MaxBackdate below it, as the simulator
// had (1-second epochs, MaxAge 30 s, MaxBackdate 5), such a block is
// ignored and dies out (here MaxAge 12 s).
func TestAgeBackdate(t *testing.T) {
	assert.Equal(t, uint64(1), DefaultConfig().AgeBackdate())
	assert.Equal(t, uint64(8), TestConfig().AgeBackdate())
	synctest.Test(t, func(t *testing.T) {
		staker := ed25519.NewKeyFromSeed([]byte("ledgersvc age backdate staker..."))
		sa := token.AccountOf(staker.Public().(ed25519.PublicKey))
		c := newCluster(t, 1, 1, token.Allocation{Account: sa.String(), Balance: 100})
		cfg := TestConfig()
		cfg.MaxAge = 12 * time.Second // within gossip.TestConfig's SeenTTL
		// Not run: only its validator is called.
		s, err := New(context.Background(), cfg, Options{Gossip: c.net.Nodes[0], Store: c.ds(0), Genesis: c.genesis, Identity: c.net.Keys[0]})
		require.NoError(t, err)
		l, err := token.NewLedger(c.genesis)
		require.NoError(t, err)
		w := token.NewWallet(l, staker)
		check := func(made time.Time) error {
			b, err := w.Stake(40, s.cfg.Epoch(made))
			require.NoError(t, err)
			return s.checkBlock(&Message{Block: &b}, made.Add(s.cfg.MaxAge), false)
		}
		// Well after the epoch zero, at offsets within an epoch.
		base := s.cfg.EpochStart(s.cfg.Epoch(time.Now()) + 100)
		for _, off := range []time.Duration{0, 300 * time.Millisecond, 999 * time.Millisecond} {
			s.cfg.MaxBackdate = 5
			err := check(base.Add(off))
			assert.True(t, errors.Is(err, gossip.ErrIgnore), "MaxBackdate 5, offset %s: %v", off, err)
			s.cfg.MaxBackdate = s.cfg.AgeBackdate()
			assert.NoError(t, check(base.Add(off)), "MaxBackdate %d, offset %s", s.cfg.MaxBackdate, off)
		}
	})
}
