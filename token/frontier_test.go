package token

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestFrontiersAndConfirmedAfter: the frontiers list the confirmed heads
// in account order, page by page; ConfirmedAfter returns a chain's
// confirmed blocks after a block, in pages, never an unconfirmed one.
func TestFrontiersAndConfirmedAfter(t *testing.T) {
	l := newLedger(t, 1000, 1000, 1000)
	assert.Empty(t, l.Frontiers(Account{}, 10), "nothing confirmed yet")
	w := NewWallet(l, key(0))
	var chain []Hash
	for i := range 5 {
		b, err := w.Send(acct(1+i%2), 10, 1)
		chain = append(chain, applyConfirm(t, l, b, err))
	}
	b, err := NewWallet(l, key(2)).Send(acct(0), 7, 1)
	h2 := applyConfirm(t, l, b, err)
	// An unconfirmed block on account 0: not in its frontier nor its pages.
	b, err = w.Send(acct(1), 1, 1)
	require.NoError(t, err)
	_, err = l.Apply(b)
	require.NoError(t, err)

	fs := l.Frontiers(Account{}, 10)
	require.Len(t, fs, 2)
	assert.Negative(t, bytes.Compare(fs[0].Account[:], fs[1].Account[:]))
	for _, f := range fs {
		want := Frontier{Account: acct(0), Head: chain[4], Height: 5}
		if f.Account == acct(2) {
			want = Frontier{Account: acct(2), Head: h2, Height: 1}
		}
		assert.Equal(t, want, f)
	}
	page := l.Frontiers(Account{}, 1)
	require.Len(t, page, 1)
	assert.Equal(t, fs[1:], l.Frontiers(page[0].Account, 10), "the next page")

	got := func(after Hash, limit int) []Hash {
		bs, err := l.ConfirmedAfter(acct(0), after, limit)
		require.NoError(t, err)
		out := []Hash{}
		for _, b := range bs {
			out = append(out, b.Hash())
		}
		return out
	}
	assert.Equal(t, chain, got(Hash{}, 10))
	assert.Equal(t, chain[:2], got(Hash{}, 2))
	assert.Equal(t, chain[2:4], got(chain[1], 2))
	assert.Empty(t, got(chain[4], 10), "nothing confirmed after the head")
	_, err = l.ConfirmedAfter(acct(0), h2, 10)
	assert.ErrorIs(t, err, ErrGap, "another account's block")
	_, err = l.ConfirmedAfter(acct(0), b.Hash(), 10)
	assert.ErrorIs(t, err, ErrGap, "an unconfirmed block")
	f, ok := l.ConfirmedFrontier(acct(1))
	assert.False(t, ok, "account 1 has no chain: %+v", f)
}
