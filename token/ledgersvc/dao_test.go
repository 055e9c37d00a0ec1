package ledgersvc

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"github.com/fog-compute/fog/store"
	"slices"
	"testing"
	"testing/synctest"
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

// TestDAOAdmission: a node stores only the proposals the rules admit: a
// proposer without stake is refused (by add and by the catch-up, which
// goes on), a settled proposal nobody accepted is refused, and of one
// proposer's pending proposals the node keeps the MaxPending with the
// smallest IDs whatever their order, on disk as in memory, also after a
// crash left a displaced one behind. Propose refuses the node's account
// without stake and beyond the limit; a proposal whose proposer unstakes
// before its window ends is not accepted whatever its votes.
func TestDAOAdmission(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		keys, allocs := stakers(1, 3)
		c := newCluster(t, 2, 13, allocs...)
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		s0 := c.start(0)
		c.start(1)
		d, err := NewDAO(ctx, s0, c.net.Nodes[0], c.ds(0))
		require.NoError(t, err)
		rules := d.Rules()
		e := s0.Epoch()
		proposal := func(k ed25519.PrivateKey, v, start, end uint64) token.Proposal {
			p := token.Proposal{Param: token.ParamTargetRelays, Value: v, Start: start, End: end, ExecDelay: d.MinExecDelay()}
			p.Sign(k)
			return p
		}

		// No stake: node 1's account holds credits, not stake.
		unstaked := proposal(edKey(t, c.net.Keys[1]), 9, e, e+50)
		require.ErrorIs(t, d.add(ctx, unstaked), token.ErrRefused)
		require.NoError(t, s0.pullProposals(ctx, func(SyncRequest) (SyncResponse, error) {
			return SyncResponse{Kind: SyncProposals, Proposals: []token.Proposal{unstaked}}, nil
		}), "a refused proposal does not end the catch-up")
		assert.Empty(t, d.Proposals())
		// Settled without a vote: it can change nothing.
		last, ok := TestConfig().SettledBefore(time.Now())
		require.True(t, ok)
		require.ErrorIs(t, d.add(ctx, proposal(keys[0], 9, last-3, last)), token.ErrRefused)

		// MaxPending + 2 of one staked proposer, largest IDs first.
		var ps []token.Proposal
		for v := range uint64(rules.MaxPending + 2) {
			ps = append(ps, proposal(keys[0], 10+v, e, e+50))
		}
		slices.SortFunc(ps, func(a, b token.Proposal) int { x, y := a.ID(), b.ID(); return bytes.Compare(x[:], y[:]) })
		for i := len(ps) - 1; i >= 0; i-- {
			// The first MaxPending are held, each later one displaces
			// the largest held.
			require.NoError(t, d.add(ctx, ps[i]), "proposal %d", i)
		}
		want := ps[:rules.MaxPending]
		assert.ElementsMatch(t, want, d.Proposals())
		require.ErrorIs(t, d.add(ctx, ps[len(ps)-1]), token.ErrRefused, "the largest, again")
		reopened, err := NewDAO(ctx, s0, c.net.Nodes[0], c.ds(0))
		require.NoError(t, err)
		assert.ElementsMatch(t, want, reopened.Proposals(), "the store holds what memory holds")

		// A crash between storing a proposal and deleting the one it
		// displaced: the DAO drops the extra one when it opens.
		extra := ps[len(ps)-1]
		require.NoError(t, c.ds(0).Put(ctx, store.Key(kindProposal, extra.ID().String()), extra.Encode()))
		reopened, err = NewDAO(ctx, s0, c.net.Nodes[0], c.ds(0))
		require.NoError(t, err)
		assert.ElementsMatch(t, want, reopened.Proposals())
		d = reopened

		// Propose: node 0's account has no stake, then MaxPending pending.
		_, err = d.Propose(ctx, token.ParamTargetRelays, 7, e, e+20, d.MinExecDelay())
		require.ErrorIs(t, err, token.ErrRefused)
		assert.Contains(t, err.Error(), "stake")
		h, err := s0.Stake(ctx, rules.ProposerStake)
		require.NoError(t, err)
		require.NoError(t, s0.WaitConfirmed(ctx, h))
		var mine []token.Proposal
		for v := range uint64(rules.MaxPending) {
			p, err := d.Propose(ctx, token.ParamTargetRelays, 20+v, e, e+20, d.MinExecDelay())
			require.ErrorIs(t, err, ErrNotRunning, "stored, not published: the DAO does not run")
			mine = append(mine, p)
		}
		_, err = d.Propose(ctx, token.ParamTargetRelays, 30, e, e+20, d.MinExecDelay())
		require.ErrorIs(t, err, token.ErrRefused)
		assert.Contains(t, err.Error(), "not settled")

		// Unbacked: node 0 votes yes with half the stake there is (the
		// staker holds the other half), and unstakes before the window
		// ends.
		p := mine[0]
		h, err = d.Vote(ctx, p.ID(), token.Yes)
		require.NoError(t, err)
		require.NoError(t, s0.WaitConfirmed(ctx, h))
		_, res := d.Tally(&p)
		assert.True(t, res.Accepted, "backed: %+v", res)
		h, err = s0.Unstake(ctx, rules.ProposerStake)
		require.NoError(t, err)
		require.NoError(t, s0.WaitConfirmed(ctx, h))
		_, res = d.Tally(&p)
		assert.False(t, res.Accepted)
		assert.True(t, res.Unbacked)
	})
}
