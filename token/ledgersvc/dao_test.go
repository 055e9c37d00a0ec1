package ledgersvc

import (
	"crypto/ed25519"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fog-compute/fog/token"
)

func testProposalMsg(t testing.TB) *ProposalMsg {
	seed := make([]byte, ed25519.SeedSize)
	p := token.Proposal{Param: "epoch_length", Value: 120, Start: 3, End: 9, ExecDelay: 2}
	p.Sign(ed25519.NewKeyFromSeed(seed))
	id, err := peer.Decode("12D3KooWGzVi3WrG6xbvWFhDeUfbwRePCPPYv8hhu5AkRqxmU5zL")
	require.NoError(t, err)
	return &ProposalMsg{Author: id, Seq: 7, Time: time.Unix(1_700_000_000, 5), Proposal: p}
}

func TestProposalMsgRoundTrip(t *testing.T) {
	m := testProposalMsg(t)
	b, err := m.Encode()
	require.NoError(t, err)
	got, err := DecodeProposalMsg(b)
	require.NoError(t, err)
	assert.Equal(t, m.Author, got.Author)
	assert.Equal(t, m.Seq, got.Seq)
	assert.True(t, m.Time.Equal(got.Time))
	assert.Equal(t, m.Proposal, got.Proposal)
	require.NoError(t, got.Proposal.Verify())

	for _, tc := range []struct {
		name string
		p    []byte
	}{
		{"empty", nil},
		{"version", append([]byte{9}, b[1:]...)},
		{"no author", []byte{wireVersion, 0}},
		{"truncated", b[:len(b)-1]},
		{"long", append(append([]byte{}, b...), 0)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := DecodeProposalMsg(tc.p)
			assert.ErrorIs(t, err, ErrMalformed)
		})
	}
}

func FuzzDecodeProposalMsg(f *testing.F) {
	b, err := testProposalMsg(f).Encode()
	require.NoError(f, err)
	f.Add(b)
	f.Fuzz(func(t *testing.T, p []byte) {
		m, err := DecodeProposalMsg(p)
		if err != nil {
			return
		}
		again, err := m.Encode()
		require.NoError(t, err)
		assert.Equal(t, p, again, "the encoding is canonical")
	})
}
