package token

import (
	"bytes"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestTally(t *testing.T) {
	r := Rules{QuorumBP: 4000, ThresholdBP: 5000}
	b := func(c Choice, w uint64) Ballot { return Ballot{Choice: c, Weight: w} }
	tests := []struct {
		name           string
		ballots        []Ballot
		total          uint64
		quorum, accept bool
	}{
		{"no votes", nil, 100, false, false},
		{"turnout below the quorum", []Ballot{b(Yes, 39)}, 100, false, false},
		{"turnout at the quorum", []Ballot{b(Yes, 40)}, 100, true, true},
		{"abstain counts for the quorum only", []Ballot{b(Yes, 2), b(No, 1), b(Abstain, 50)}, 100, true, true},
		{"exactly half yes is not enough", []Ballot{b(Yes, 25), b(No, 25)}, 100, true, false},
		{"one more yes", []Ballot{b(Yes, 26), b(No, 25)}, 100, true, true},
		{"all abstain", []Ballot{b(Abstain, 100)}, 100, true, false},
		{"unknown choice ignored", []Ballot{b(Choice(9), 100)}, 100, false, false},
		{"no stake at all", []Ballot{b(Yes, 1)}, 0, false, false},
		{"huge weights", []Ballot{b(Yes, 1<<62), b(No, 1<<62-1)}, 1 << 63, true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := Tally(tt.ballots, tt.total, r)
			assert.Equal(t, tt.quorum, res.Quorum, "quorum")
			assert.Equal(t, tt.accept, res.Accepted, "accepted")
			// The order of the ballots does not matter.
			rev := make([]Ballot, len(tt.ballots))
			for i, x := range tt.ballots {
				rev[len(rev)-1-i] = x
			}
			assert.Equal(t, res, Tally(rev, tt.total, r))
		})
	}
	require.NoError(t, DefaultRules().Validate())
	require.ErrorIs(t, Rules{QuorumBP: 10001}.Validate(), ErrConfig)
	require.ErrorIs(t, Rules{ThresholdBP: 10000}.Validate(), ErrConfig)
}

func TestProposalEncoding(t *testing.T) {
	p := Proposal{Param: "mix.target_relays", Value: 24, Start: 10, End: 20, ExecDelay: 2}
	p.Sign(key(3))
	require.NoError(t, p.Verify())
	got, err := DecodeProposal(p.Encode())
	require.NoError(t, err)
	assert.Equal(t, p, got)
	assert.Equal(t, uint64(23), p.ExecuteAt())

	bad := []Proposal{
		{Param: "", End: 1},
		{Param: "Upper", End: 1},
		{Param: "a b", End: 1},
		{Param: "x", Start: 2, End: 1},
		{Param: "x", End: ^uint64(0), ExecDelay: 0},
		{Param: "x", End: 5, ExecDelay: ^uint64(0) - 4},
	}
	for _, q := range bad {
		q.Sign(key(3))
		require.ErrorIs(t, q.Verify(), ErrMalformed, "%+v", q)
		_, err := DecodeProposal(q.Encode())
		require.ErrorIs(t, err, ErrMalformed, "%+v", q)
	}
	forged := p
	forged.Value++
	require.ErrorIs(t, forged.Verify(), ErrSignature)
	enc := p.Encode()
	for _, in := range [][]byte{nil, enc[:len(enc)-1], append(enc, 0), append([]byte{2}, enc[1:]...)} {
		_, err := DecodeProposal(in)
		require.ErrorIs(t, err, ErrMalformed)
	}
}

// TestLedgerBallots: the ballots come from confirmed vote blocks within the
// window, weighed by the stake at the window's end.
func TestLedgerBallots(t *testing.T) {
	g := genesisOf(1000, 1000, 1000, 1000)
	g.Accounts[3].Staked = 500 // genesis stake, never voting
	l, err := NewLedger(g)
	require.NoError(t, err)
	p := Proposal{Param: "fee", Value: 1, Start: 10, End: 20}
	p.Sign(key(0))
	id := p.ID()
	w := func(i int) *Wallet { return NewWallet(l, key(i)) }

	// Account 0: stakes 300 before, votes yes, later no (the last counts).
	b, err := w(0).Stake(300, 5)
	applyConfirm(t, l, b, err)
	b, err = w(0).Vote(id, Yes, 11)
	applyConfirm(t, l, b, err)
	b, err = w(0).Vote(id, No, 12)
	applyConfirm(t, l, b, err)
	// Account 1: stakes 200, votes yes, then stakes 100 more after the end.
	b, err = w(1).Stake(200, 10)
	applyConfirm(t, l, b, err)
	b, err = w(1).Vote(id, Yes, 20)
	applyConfirm(t, l, b, err)
	b, err = w(1).Stake(100, 21)
	applyConfirm(t, l, b, err)
	// Account 2: votes before the window and after it: neither counts;
	// an unconfirmed vote in the window does not count either.
	b, err = w(2).Stake(50, 1)
	applyConfirm(t, l, b, err)
	b, err = w(2).Vote(id, Yes, 9)
	applyConfirm(t, l, b, err)
	b, err = w(2).Vote(id, Yes, 21)
	applyConfirm(t, l, b, err)
	b, err = w(3).Vote(id, Yes, 15)
	require.NoError(t, err)
	_, err = l.Apply(b)
	require.NoError(t, err)

	ballots, total := l.Ballots(&p)
	assert.Equal(t, uint64(300+200+50+500), total)
	assert.ElementsMatch(t, []Ballot{{acct(0), No, 300}, {acct(1), Yes, 200}}, ballots)
	res := Tally(ballots, total, DefaultRules())
	assert.True(t, res.Quorum, "a turnout of 500 of 1050")
	assert.False(t, res.Accepted, "200 yes against 300 no")
	assert.Equal(t, Result{Yes: 200, No: 300, TotalStake: 1050, Quorum: true}, res)
}

// TestRulesAdmit: a proposer without the stake is refused; a settled
// proposal is taken only if accepted; of more than MaxPending unsettled
// proposals of one proposer, those with the smallest IDs are held,
// whatever the order they come in.
func TestRulesAdmit(t *testing.T) {
	r := DefaultRules()
	r.MaxPending = 2
	var ps []Proposal
	for v := range uint64(3) {
		p := Proposal{Param: ParamTargetRelays, Value: 10 + v, Start: 1, End: 5, ExecDelay: 8}
		p.Sign(key(4))
		ps = append(ps, p)
	}
	slices.SortFunc(ps, func(a, b Proposal) int { x, y := a.ID(), b.ID(); return bytes.Compare(x[:], y[:]) })
	id := func(i int) Hash { return ps[i].ID() }
	staked := r.ProposerStake
	tests := []struct {
		name  string
		p     int
		a     Admission
		evict *Hash
		ok    bool
	}{
		{"no stake", 0, Admission{}, nil, false},
		{"a micro-credit short", 0, Admission{Stake: staked - 1}, nil, false},
		{"staked", 0, Admission{Stake: staked}, nil, true},
		{"settled, rejected", 0, Admission{Stake: staked, Settled: true}, nil, false},
		{"settled, accepted", 0, Admission{Stake: staked, Settled: true, Accepted: true}, nil, true},
		{"settled, accepted, proposer unstaked", 0, Admission{Settled: true, Accepted: true}, nil, false},
		{"one pending", 2, Admission{Stake: staked, Pending: []Hash{id(0)}}, nil, true},
		{"full, largest ID", 2, Admission{Stake: staked, Pending: []Hash{id(0), id(1)}}, nil, false},
		{"full, smallest ID displaces the largest", 0, Admission{Stake: staked, Pending: []Hash{id(2), id(1)}}, new(id(2)), true},
		{"full, middle ID displaces the largest", 1, Admission{Stake: staked, Pending: []Hash{id(0), id(2)}}, new(id(2)), true},
		{"settled ones do not count as pending", 2, Admission{Stake: staked, Settled: true, Accepted: true, Pending: []Hash{id(0), id(1)}}, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			evict, err := r.Admit(&ps[tt.p], tt.a)
			if !tt.ok {
				require.ErrorIs(t, err, ErrRefused)
				assert.Nil(t, evict)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.evict, evict)
		})
	}
	require.ErrorIs(t, Rules{MaxPending: 0}.Validate(), ErrConfig)
}

// TestTallyProposalUnbacked: votes accept a proposal only if its proposer
// held ProposerStake at the window's end.
func TestTallyProposalUnbacked(t *testing.T) {
	r := DefaultRules()
	ballots := []Ballot{{Choice: Yes, Weight: 90}}
	res := TallyProposal(ballots, 100, r.ProposerStake, r)
	assert.True(t, res.Accepted)
	assert.False(t, res.Unbacked)
	res = TallyProposal(ballots, 100, r.ProposerStake-1, r)
	assert.False(t, res.Accepted)
	assert.True(t, res.Unbacked)
	assert.Equal(t, uint64(90), res.Yes, "the votes are still counted")
}
