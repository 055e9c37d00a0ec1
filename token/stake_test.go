package token

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestStakeAt(t *testing.T) {
	g := genesisOf(1000, 1000)
	g.Accounts[1].Staked = 70
	l, err := NewLedger(g)
	require.NoError(t, err)
	w := NewWallet(l, key(0))
	b, err := w.Stake(300, 5)
	applyConfirm(t, l, b, err)
	b, err = w.Unstake(100, 8)
	applyConfirm(t, l, b, err)
	b, err = w.Stake(50, 9)
	require.NoError(t, err)
	_, err = l.Apply(b) // not confirmed
	require.NoError(t, err)
	b, err = NewWallet(l, key(1)).Send(acct(2), 10, 3)
	send := applyConfirm(t, l, b, err)
	b, err = NewWallet(l, key(2)).Receive(send, 4)
	applyConfirm(t, l, b, err)

	tests := []struct {
		account int
		epoch   uint64
		want    uint64
	}{
		{0, 0, 0}, {0, 4, 0}, {0, 5, 300}, {0, 7, 300}, {0, 8, 200}, {0, 100, 200},
		{1, 0, 70}, {1, 3, 70}, {1, 100, 70},
		{2, 100, 0},
		{3, 100, 0},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, l.StakeAt(acct(tt.account), tt.epoch), "account %d at epoch %d", tt.account, tt.epoch)
	}
	assert.Equal(t, uint64(70), l.TotalStakeAt(4))
	assert.Equal(t, uint64(270), l.TotalStakeAt(100))
}

// TestAmount: what each kind of block moved, as the wallet's history shows it.
func TestAmount(t *testing.T) {
	l := newLedger(t, 1000, 0)
	w := NewWallet(l, key(0))
	b, err := w.Send(acct(1), 250, 1)
	send := applyConfirm(t, l, b, err)
	b, err = NewWallet(l, key(1)).Receive(send, 1)
	open := applyConfirm(t, l, b, err)
	b, err = w.Stake(40, 2)
	stake := applyConfirm(t, l, b, err)
	b, err = w.Change(acct(1), 2)
	change := applyConfirm(t, l, b, err)
	for _, tt := range []struct {
		h    Hash
		want uint64
	}{{send, 250}, {open, 250}, {stake, 40}, {change, 0}} {
		got, ok := l.Amount(tt.h)
		assert.True(t, ok)
		assert.Equal(t, tt.want, got)
	}
	_, ok := l.Amount(Hash{1})
	assert.False(t, ok)
}
