package token

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestUnbonded: an unstake is released once confirmed and unbonded (3
// epochs in genesisOf), oldest first, and not again once received.
func TestUnbonded(t *testing.T) {
	l := newLedger(t, 1000)
	w := NewWallet(l, key(0))
	b, err := w.Stake(300, 1)
	applyConfirm(t, l, b, err)
	b, err = w.Unstake(100, 2)
	first := applyConfirm(t, l, b, err)
	b, err = w.Unstake(50, 4)
	second := applyConfirm(t, l, b, err)
	b, err = w.Unstake(10, 4)
	require.NoError(t, err)
	_, err = l.Apply(b) // not confirmed: never released
	require.NoError(t, err)

	for _, tt := range []struct {
		epoch uint64
		want  Hash
	}{{2, Hash{}}, {4, Hash{}}, {5, first}, {100, first}} {
		assert.Equal(t, tt.want, l.Unbonded(acct(0), tt.epoch), "epoch %d", tt.epoch)
	}
	// The unconfirmed unstake is the head: build on it after confirming.
	require.NoError(t, l.Confirm(b.Hash()))
	r, err := w.Receive(first, 5)
	applyConfirm(t, l, r, err)
	assert.Equal(t, Hash{}, l.Unbonded(acct(0), 6))
	assert.Equal(t, second, l.Unbonded(acct(0), 7))
	assert.Equal(t, Hash{}, l.Unbonded(acct(1), 7), "an account without a chain")
	conserved(t, l)
}

// TestEscrowFor: the escrow naming a task is found on the submitter's
// chain and follows its claims and refund.
func TestEscrowFor(t *testing.T) {
	l := newLedger(t, 1000, 10)
	sub, prov := NewWallet(l, key(0)), NewWallet(l, key(1))
	task := [32]byte{7}
	_, ok := l.EscrowFor(acct(0), task)
	assert.False(t, ok)
	b, err := sub.Lock(task, 300, 5, 1)
	lock := applyConfirm(t, l, b, err)
	b, err = sub.Lock([32]byte{8}, 10, 5, 1)
	applyConfirm(t, l, b, err)

	es, ok := l.EscrowFor(acct(0), task)
	require.True(t, ok)
	assert.Equal(t, Escrow{Lock: lock, Submitter: acct(0), Locked: 300, Deadline: 5, Confirmed: true}, es)
	_, ok = l.EscrowFor(acct(1), task)
	assert.False(t, ok, "another account's chain")

	b, err = prov.Claim(lock, 100, sub.Ticket(lock, acct(1), 100), 2)
	applyConfirm(t, l, b, err)
	b, err = sub.Refund(lock, 6)
	applyConfirm(t, l, b, err)
	at, ok := l.EscrowAt(lock)
	require.True(t, ok)
	assert.Equal(t, Escrow{Lock: lock, Submitter: acct(0), Locked: 300, Claimed: 100, Deadline: 5, Refunded: true, Confirmed: true}, at)
	_, ok = l.EscrowAt(Hash{1})
	assert.False(t, ok)
	conserved(t, l)
}
