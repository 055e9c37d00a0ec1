package token

import (
	"bytes"
	"crypto/ed25519"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestVoteBatchRoundTrip(t *testing.T) {
	b := VoteBatch{Votes: []BatchVote{
		{Root: Hash{1}, Block: Hash{2}, Seq: 3},
		{Root: Hash{1}, Block: Hash{2}, Final: true},
		{Root: Hash{4}, Block: Hash{5}, Seq: 1},
	}}
	b.Sign(key(2))
	enc := b.Encode()
	require.Len(t, enc, batchHeadSize+3*batchVoteSize+ed25519.SignatureSize)
	got, err := DecodeVoteBatch(enc)
	require.NoError(t, err)
	assert.Equal(t, b, got)
	require.NoError(t, got.Verify())
	assert.Equal(t, Vote{Rep: acct(2), Root: Hash{4}, Block: Hash{5}, Seq: 1}, got.Vote(2))
	for i := range got.Votes {
		c := got
		c.Votes = append([]BatchVote(nil), got.Votes...)
		c.Votes[i].Block[0] ^= 1
		require.ErrorIs(t, c.Verify(), ErrSignature, "vote %d changed", i)
	}

	full := VoteBatch{Votes: make([]BatchVote, MaxBatchVotes)}
	for i := range full.Votes {
		full.Votes[i].Root[0] = byte(i)
	}
	full.Sign(key(0))
	require.Len(t, full.Encode(), MaxBatchSize)

	set := func(off int, v byte) []byte { c := bytes.Clone(enc); c[off] = v; return c }
	dup := b
	dup.Votes = []BatchVote{{Root: Hash{1}, Seq: 1}, {Root: Hash{1}, Seq: 2}}
	over := bytes.Clone(full.Encode())
	over[batchHeadSize-1] = MaxBatchVotes + 1
	for name, in := range map[string][]byte{
		"empty":            nil,
		"short":            enc[:len(enc)-1],
		"long":             append(bytes.Clone(enc), 0),
		"version":          set(0, 1),
		"no votes":         set(batchHeadSize-1, 0),
		"count":            set(batchHeadSize-1, 2),
		"too many":         over,
		"flags":            set(batchHeadSize, 2),
		"final with a seq": set(batchHeadSize, 1), // vote 0 has Seq 3
		"two on one root":  dup.Encode(),
	} {
		_, err := DecodeVoteBatch(in)
		assert.ErrorIs(t, err, ErrMalformed, name)
	}
}

// TestNodeBatch: a node's votes go out as one batch per representative,
// the later of two votes on one root kept, split at MaxBatchVotes, and
// another representative's votes left out.
func TestNodeBatch(t *testing.T) {
	l := newLedger(t, 100, 200, 300, 400)
	n, err := NewNode(DefaultConfig(), l, []ed25519.PrivateKey{key(0), key(1)})
	require.NoError(t, err)
	v := func(rep int, root byte, final bool, seq uint64) Vote {
		return Vote{Rep: acct(rep), Root: Hash{root}, Block: Hash{root, byte(seq)}, Final: final, Seq: seq}
	}
	votes := []Vote{
		v(0, 1, false, 1), v(1, 1, false, 1), v(0, 2, false, 1),
		v(0, 1, false, 2), // replaces the first
		v(0, 1, true, 0),  // a final vote is of another kind
		v(3, 1, false, 1), // not this node's
		v(0, 2, false, 0), // a lower Seq does not replace
	}
	got := n.Batch(votes)
	require.Len(t, got, 2)
	assert.Equal(t, acct(0), got[0].Rep)
	assert.Equal(t, []BatchVote{
		{Root: Hash{1}, Block: Hash{1, 2}, Seq: 2},
		{Root: Hash{2}, Block: Hash{2, 1}, Seq: 1},
		{Root: Hash{1}, Block: Hash{1, 0}, Final: true},
	}, got[0].Votes)
	assert.Equal(t, acct(1), got[1].Rep)
	assert.Len(t, got[1].Votes, 1)
	for _, b := range got {
		require.NoError(t, b.Verify())
	}

	many := make([]Vote, 2*MaxBatchVotes+1)
	for i := range many {
		many[i] = Vote{Rep: acct(0), Root: Hash{byte(i), byte(i >> 8)}, Seq: 1}
	}
	got = n.Batch(many)
	require.Len(t, got, 3)
	assert.Len(t, got[0].Votes, MaxBatchVotes)
	assert.Len(t, got[2].Votes, 1)
	assert.Empty(t, n.Batch(nil))
}

// TestNodeProcessVoteBatch: a batch's votes count as the same votes sent
// one by one: here two representatives' final votes on two sends confirm
// both, in two batches; a forged batch is refused whole.
func TestNodeProcessVoteBatch(t *testing.T) {
	n := observer(t, strict())
	now := time.Unix(1000, 0)
	w := NewWallet(n.Ledger(), key(0))
	b1, err := w.Send(acct(1), 10, 0)
	require.NoError(t, err)
	_, err = n.ProcessBlock(b1, now)
	require.NoError(t, err)
	b2, err := NewWallet(n.Ledger(), key(1)).Send(acct(0), 5, 0)
	require.NoError(t, err)
	_, err = n.ProcessBlock(b2, now)
	require.NoError(t, err)

	batch := func(rep int) VoteBatch {
		b := VoteBatch{Votes: []BatchVote{
			{Root: Root(&b1), Block: b1.Hash(), Final: true},
			{Root: Root(&b2), Block: b2.Hash(), Final: true},
		}}
		b.Sign(key(rep))
		return b
	}
	forged := batch(3)
	forged.Votes[1].Block[0] ^= 1
	_, err = n.ProcessVoteBatch(forged, now)
	require.ErrorIs(t, err, ErrSignature)

	eff, err := n.ProcessVoteBatch(batch(3), now) // 400 of 1,000
	require.NoError(t, err)
	assert.Empty(t, eff.Confirmed)
	eff, err = n.ProcessVoteBatch(batch(2), now) // 700 of 1,000
	require.NoError(t, err)
	assert.ElementsMatch(t, []Hash{b1.Hash(), b2.Hash()}, eff.Confirmed)

	// A vote naming a block of another root is invalid; the batch's other
	// votes still count.
	b3, err := w.Send(acct(2), 1, 0)
	require.NoError(t, err)
	_, err = n.ProcessBlock(b3, now)
	require.NoError(t, err)
	bad := VoteBatch{Votes: []BatchVote{
		{Root: Root(&b3), Block: b1.Hash(), Seq: 1},
		{Root: Root(&b3), Block: b3.Hash(), Final: true},
	}}
	bad.Sign(key(3))
	_, err = n.ProcessVoteBatch(bad, now)
	require.ErrorIs(t, err, ErrInvalid)
	good := VoteBatch{Votes: []BatchVote{{Root: Root(&b3), Block: b3.Hash(), Final: true}}}
	good.Sign(key(2))
	eff, err = n.ProcessVoteBatch(good, now)
	require.NoError(t, err)
	assert.Equal(t, []Hash{b3.Hash()}, eff.Confirmed)
}
