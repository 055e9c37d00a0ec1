package token

import (
	"errors"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestBondedAt: the weight an unstake leaves stays until its unbonding is
// over (UnbondingEpochs 3 in these tests); unconfirmed blocks and blocks
// dated after the epoch do not count.
func TestBondedAt(t *testing.T) {
	g := genesisOf(1000, 1000)
	g.Accounts[1].Staked = 70
	l, err := NewLedger(g)
	require.NoError(t, err)
	w := NewWallet(l, key(0))
	b, err := w.Stake(300, 5)
	applyConfirm(t, l, b, err)
	b, err = w.Unstake(100, 8) // unbonds until epoch 11
	applyConfirm(t, l, b, err)
	b, err = w.Unstake(50, 9) // until 12
	applyConfirm(t, l, b, err)
	b, err = w.Stake(500, 9)
	require.NoError(t, err)
	_, err = l.Apply(b) // not confirmed
	require.NoError(t, err)

	for _, tt := range []struct {
		account int
		epoch   uint64
		want    uint64
	}{
		{0, 4, 0}, {0, 5, 300}, {0, 7, 300},
		{0, 8, 300}, {0, 9, 300}, {0, 10, 300},
		{0, 11, 200}, // the first unstake's unbonding is over (150 staked, 50 unbonding)
		{0, 12, 150}, {0, 1000, 150},
		{1, 0, 70}, {1, 1000, 70},
		{2, 1000, 0},
	} {
		assert.Equal(t, tt.want, l.BondedAt(acct(tt.account), tt.epoch), "account %d at epoch %d", tt.account, tt.epoch)
	}

	for _, tt := range []struct {
		epoch, min uint64
		want       map[int]uint64
		total      uint64
	}{
		{4, 0, map[int]uint64{1: 70}, 70},
		{9, 0, map[int]uint64{0: 300, 1: 70}, 370},
		{9, 71, map[int]uint64{0: 300}, 300},
		{12, 70, map[int]uint64{0: 150, 1: 70}, 220},
		{12, 1000, map[int]uint64{}, 0},
	} {
		st := l.Stakes(tt.epoch, tt.min)
		assert.Equal(t, tt.total, st.Total, "epoch %d min %d", tt.epoch, tt.min)
		assert.Equal(t, len(tt.want), st.Len())
		for i := range 3 {
			assert.Equal(t, tt.want[i], st.Weight(acct(i)), "account %d, epoch %d min %d", i, tt.epoch, tt.min)
		}
	}
}

// TestStakesOrderFree: ledgers that took the same confirmed blocks in
// different orders (every order the dependencies allow is drawn at
// random) give the same stake table for every epoch and minimum.
func TestStakesOrderFree(t *testing.T) {
	const accounts, steps = 5, 150
	bal := make([]uint64, accounts)
	for i := range bal {
		bal[i] = 1_000_000
	}
	src := newLedger(t, bal...)
	wallets := make([]*Wallet, accounts)
	for i := range wallets {
		wallets[i] = NewWallet(src, key(i))
	}
	rng := rand.New(rand.NewPCG(1, 2))
	var blocks []Block
	epoch := uint64(0)
	for range steps {
		if rng.IntN(4) == 0 {
			epoch++
		}
		i := rng.IntN(accounts)
		w := wallets[i]
		info, _ := src.Account(acct(i))
		var b Block
		var err error
		switch op := rng.IntN(4); {
		case op == 0 && info.Balance > 10:
			b, err = w.Stake(1+rng.Uint64N(info.Balance/2), epoch)
		case op == 1 && info.Staked > 0:
			b, err = w.Unstake(1+rng.Uint64N(info.Staked), epoch)
		case op == 2 && info.Balance > 10:
			b, err = w.Send(acct(rng.IntN(accounts)), 1+rng.Uint64N(info.Balance/4), epoch)
		default:
			if p := src.Pending(acct(i)); len(p) > 0 {
				b, err = w.Receive(p[0], epoch)
			} else if u := src.Unbonded(acct(i), epoch); u != (Hash{}) {
				b, err = w.Receive(u, epoch)
			} else {
				continue
			}
		}
		if errors.Is(err, ErrInvalid) {
			continue
		}
		applyConfirm(t, src, b, err)
		blocks = append(blocks, b)
	}
	require.Greater(t, len(blocks), steps/2)

	replay := func(seed uint64) *Ledger {
		l := newLedger(t, bal...)
		r := rand.New(rand.NewPCG(seed, seed))
		left := append([]Block(nil), blocks...)
		for len(left) > 0 {
			r.Shuffle(len(left), func(i, j int) { left[i], left[j] = left[j], left[i] })
			var rest []Block
			for _, b := range left {
				h, err := l.Apply(b)
				if errors.Is(err, ErrGap) {
					rest = append(rest, b)
					continue
				}
				require.NoError(t, err)
				require.NoError(t, l.Confirm(h))
			}
			require.Less(t, len(rest), len(left), "no block could be applied")
			left = rest
		}
		conserved(t, l)
		return l
	}
	a, b := replay(7), replay(99)
	for e := uint64(0); e <= epoch+4; e++ {
		for _, min := range []uint64{0, 1, 100_000} {
			want := src.Stakes(e, min)
			for _, l := range []*Ledger{a, b} {
				got := l.Stakes(e, min)
				require.Equal(t, want.Total, got.Total, "epoch %d min %d", e, min)
				require.Equal(t, want.weight, got.weight, "epoch %d min %d", e, min)
			}
		}
	}
}

// TestStakeTableIsAValue: a block dated into a table's epoch and
// confirmed after the table was taken changes what the ledger says of
// that epoch (which is why the shell refuses back-dated blocks), never
// the table already taken.
func TestStakeTableIsAValue(t *testing.T) {
	l := newLedger(t, 1000, 1000)
	b, err := NewWallet(l, key(0)).Stake(400, 5)
	applyConfirm(t, l, b, err)
	taken := l.Stakes(20, 0)
	require.Equal(t, uint64(400), taken.Total)

	b, err = NewWallet(l, key(1)).Stake(600, 6) // back-dated: the ledger's rules allow it
	applyConfirm(t, l, b, err)
	assert.Equal(t, uint64(1000), l.Stakes(20, 0).Total)
	assert.Equal(t, uint64(400), taken.Total)
	assert.Equal(t, uint64(0), taken.Weight(acct(1)))
}
