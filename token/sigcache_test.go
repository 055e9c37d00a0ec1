package token

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestSigCache: valid signatures are remembered, forged ones never are and
// are refused each time, a forged copy of a remembered block is refused,
// and the cache stays within its bound.
func TestSigCache(t *testing.T) {
	c := NewSigCache(4)
	b := VoteBatch{Votes: []BatchVote{{Root: Hash{1}, Block: Hash{2}, Seq: 1}}}
	b.Sign(key(0))
	forged := b
	forged.Signature[0] ^= 1
	for range 2 {
		require.NoError(t, c.VerifyBatch(&b))
		require.ErrorIs(t, c.VerifyBatch(&forged), ErrSignature)
	}
	assert.Len(t, c.cur, 1, "the valid batch, once")

	l := newLedger(t, 100, 200)
	l.SetSigCache(c)
	s, err := NewWallet(l, key(0)).Send(acct(1), 10, 0)
	require.NoError(t, err)
	_, err = c.VerifyBlock(&s)
	require.NoError(t, err)
	copyOf := s
	copyOf.Signature[5] ^= 1
	_, err = l.Validate(copyOf)
	require.ErrorIs(t, err, ErrSignature, "a forged copy of a checked block")
	_, err = l.Apply(s)
	require.NoError(t, err)

	for i := range 10 {
		v := VoteBatch{Votes: []BatchVote{{Root: Hash{byte(i)}, Seq: 1}}}
		v.Sign(key(1))
		require.NoError(t, c.VerifyBatch(&v))
		assert.LessOrEqual(t, len(c.cur)+len(c.old), 4)
	}
	var none *SigCache
	require.NoError(t, none.VerifyBatch(&b))
	require.ErrorIs(t, none.VerifyBatch(&forged), ErrSignature)
}
