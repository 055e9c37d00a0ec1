package ledgersvc

import (
	"bytes"
	"crypto/ed25519"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fog-compute/fog/token"
)

func testID(t testing.TB) peer.ID {
	k, err := crypto.UnmarshalEd25519PrivateKey(ed25519.NewKeyFromSeed(make([]byte, 32)))
	require.NoError(t, err)
	id, err := peer.IDFromPrivateKey(k)
	require.NoError(t, err)
	return id
}

func sampleMessages(t testing.TB) []*Message {
	key := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, 32))
	b := token.Block{Kind: token.KindSend, Previous: token.Hash{1}, Representative: token.Account{2}, Balance: 5, Link: [32]byte{3}, Epoch: 9}
	b.Sign(key)
	v := token.VoteBatch{Votes: []token.BatchVote{{Root: token.Hash{1}, Block: b.Hash(), Seq: 2}, {Root: token.Hash{4}, Block: token.Hash{5}, Final: true}}}
	v.Sign(key)
	at := time.Unix(1_800_000_000, 123)
	return []*Message{
		{Author: testID(t), Seq: 1, Time: at, Block: &b},
		{Author: testID(t), Seq: 2, Time: at, Votes: &v},
	}
}

func TestMessageRoundTrip(t *testing.T) {
	for _, m := range sampleMessages(t) {
		enc, err := m.Encode()
		require.NoError(t, err)
		got, err := DecodeMessage(enc)
		require.NoError(t, err)
		assert.Equal(t, m.Author, got.Author)
		assert.Equal(t, m.Seq, got.Seq)
		assert.True(t, m.Time.Equal(got.Time))
		assert.Equal(t, m.Block, got.Block)
		assert.Equal(t, m.Votes, got.Votes)
		again, err := got.Encode()
		require.NoError(t, err)
		assert.Equal(t, enc, again)
	}
	m := sampleMessages(t)[0]
	both := *m
	both.Votes = sampleMessages(t)[1].Votes
	_, err := both.Encode()
	require.ErrorIs(t, err, ErrMalformed)
	anon := *m
	anon.Author = ""
	_, err = anon.Encode()
	require.ErrorIs(t, err, ErrMalformed)

	enc, err := m.Encode()
	require.NoError(t, err)
	set := func(off int, v byte) []byte { c := bytes.Clone(enc); c[off] = v; return c }
	for name, in := range map[string][]byte{
		"empty":           nil,
		"version":         set(0, 2),
		"tag":             set(1, 9),
		"votes tag":       set(1, tagVotes),
		"single vote tag": set(1, 2),
		"no author":       set(2, 0),
		"long author":     set(2, 200),
		"truncated":       enc[:len(enc)-1],
		"trailing":        append(bytes.Clone(enc), 0),
		"time overflow":   set(3+int(enc[2])+8, 0x80),
		"bad block":       set(len(enc)-token.BlockSize+1, 0),
		"garbage author":  set(3, 0xff),
	} {
		_, err := DecodeMessage(in)
		assert.ErrorIs(t, err, ErrMalformed, name)
	}
}

func FuzzDecodeMessage(f *testing.F) {
	for _, m := range sampleMessages(f) {
		enc, err := m.Encode()
		require.NoError(f, err)
		f.Add(enc)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		m, err := DecodeMessage(in)
		if err != nil {
			return
		}
		enc, err := m.Encode()
		if err != nil || !bytes.Equal(enc, in) {
			t.Fatalf("%x re-encodes as %x (%v)", in, enc, err)
		}
	})
}

// TestMessageSizes: the largest block and the largest batch of votes fit
// MaxMessageSize, whose figure docs/token.md gives.
func TestMessageSizes(t *testing.T) {
	key := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, 32))
	full := token.VoteBatch{Votes: make([]token.BatchVote, token.MaxBatchVotes)}
	for i := range full.Votes {
		full.Votes[i].Root[0] = byte(i)
	}
	full.Sign(key)
	id := make([]byte, maxIDLen)
	m := &Message{Author: peer.ID(id), Seq: 1, Time: time.Unix(1, 0), Votes: &full}
	enc, err := m.Encode()
	require.NoError(t, err)
	assert.Len(t, enc, MaxMessageSize)
	assert.Equal(t, 3602, token.MaxBatchSize)
	assert.Equal(t, 3685, MaxMessageSize)
}
