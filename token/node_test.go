package token

import (
	"crypto/ed25519"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestConfigValidate(t *testing.T) {
	require.NoError(t, DefaultConfig().Validate())
	tests := []struct {
		name string
		f    func(*Config)
	}{
		{"OnlineWindow", func(c *Config) { c.OnlineWindow = 0 }},
		{"TrendPeriod", func(c *Config) { c.TrendPeriod = c.OnlineWindow - 1 }},
		{"MinOnlinePercent", func(c *Config) { c.MinOnlinePercent = 101 }},
		{"AnswerInterval", func(c *Config) { c.AnswerInterval = 0 }},
		{"ResendAfter", func(c *Config) { c.ResendAfter = 0 }},
		{"ResendMax", func(c *Config) { c.ResendMax = c.ResendAfter - 1 }},
		{"MaxElections", func(c *Config) { c.MaxElections = 0 }},
		{"MaxPendingVotes", func(c *Config) { c.MaxPendingVotes = -1 }},
		{"MaxUnchecked", func(c *Config) { c.MaxUnchecked = -1 }},
		{"MaxTrendSamples", func(c *Config) { c.MaxTrendSamples = 0 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := DefaultConfig()
			tt.f(&c)
			err := c.Validate()
			require.ErrorIs(t, err, ErrConfig)
			assert.Contains(t, err.Error(), tt.name)
		})
	}
	_, err := NewNode(DefaultConfig(), newLedger(t, 1), []ed25519.PrivateKey{key(0)[:10]})
	require.ErrorIs(t, err, ErrConfig)
}

// observer returns a Node without representatives over a ledger where
// accounts 0..3 weigh 100, 200, 300 and 400.
func observer(t *testing.T, cfg Config) *Node {
	n, err := NewNode(cfg, newLedger(t, 100, 200, 300, 400), nil)
	require.NoError(t, err)
	return n
}

// holder returns a Node without voting weight that holds the key of
// account 4 (balance 10, delegated to account 3), over a ledger where
// accounts 0..3 weigh 100, 200, 300 and 410.
func holder(t *testing.T, cfg Config) *Node {
	g := genesisOf(100, 200, 300, 400, 10)
	g.Accounts[4].Representative = hexAcct(3)
	l, err := NewLedger(g)
	require.NoError(t, err)
	n, err := NewNode(cfg, l, []ed25519.PrivateKey{key(4)})
	require.NoError(t, err)
	require.Zero(t, l.Weight(acct(4)))
	return n
}

func vote(rep int, b Block, final bool, seq uint64) Vote {
	v := Vote{Root: Root(&b), Block: b.Hash(), Final: final, Seq: seq}
	v.Sign(key(rep))
	return v
}

// strict is the configuration whose quorum is more than half of the whole
// supply, whoever is online.
func strict() Config {
	c := DefaultConfig()
	c.MinOnlinePercent = 100
	return c
}

func TestNodeConfirmsOnFinalQuorum(t *testing.T) {
	n := observer(t, strict())
	now := time.Unix(1000, 0)
	b, err := NewWallet(n.Ledger(), key(0)).Send(acct(1), 10, 0)
	require.NoError(t, err)

	// A vote ahead of its block waits for it.
	eff, err := n.ProcessVote(vote(3, b, true, 0), now)
	require.NoError(t, err)
	assert.Empty(t, eff.Confirmed)
	eff, err = n.ProcessBlock(b, now)
	require.NoError(t, err)
	assert.Equal(t, []Hash{b.Hash()}, eff.Accepted)
	assert.Empty(t, eff.Votes, "an observer does not vote")
	assert.Empty(t, eff.Confirmed, "400 of 1000 is not more than half")
	assert.Equal(t, 1, n.Elections())

	// A forged vote is refused; a vote without weight is ignored.
	forged := vote(2, b, true, 0)
	forged.Signature[0] ^= 1
	_, err = n.ProcessVote(forged, now)
	require.ErrorIs(t, err, ErrSignature)
	eff, err = n.ProcessVote(vote(9, b, true, 0), now)
	require.NoError(t, err)
	assert.Empty(t, eff.Confirmed)
	// A normal vote does not confirm.
	eff, err = n.ProcessVote(vote(2, b, false, 1), now)
	require.NoError(t, err)
	assert.Empty(t, eff.Confirmed)
	assert.Equal(t, uint64(1000), n.QuorumBase(now), "the floor: the whole supply")

	eff, err = n.ProcessVote(vote(1, b, true, 0), now) // 400 + 200 final of 1000
	require.NoError(t, err)
	assert.Equal(t, []Hash{b.Hash()}, eff.Confirmed)
	assert.True(t, n.Ledger().Confirmed(b.Hash()))
	assert.Zero(t, n.Elections())

	// A late vote for a settled root is ignored.
	eff, err = n.ProcessVote(vote(0, b, true, 0), now)
	require.NoError(t, err)
	assert.Empty(t, eff.Confirmed)
	assert.Empty(t, eff.Votes)
}

func TestNodeVotesAndSwitches(t *testing.T) {
	l := newLedger(t, 100, 200, 300, 400, 10)
	n, err := NewNode(strict(), l, []ed25519.PrivateKey{key(0)})
	require.NoError(t, err)
	now := time.Unix(1000, 0)
	spender := NewWallet(l, key(4))
	s1, err := spender.Send(acct(1), 10, 0)
	require.NoError(t, err)
	s2, err := spender.Send(acct(2), 10, 0)
	require.NoError(t, err)

	eff, err := n.ProcessBlock(s1, now)
	require.NoError(t, err)
	require.Len(t, eff.Votes, 1, "representative 0 votes for the first block it sees")
	assert.Equal(t, s1.Hash(), eff.Votes[0].Block)
	assert.False(t, eff.Votes[0].Final)
	require.NoError(t, eff.Votes[0].Verify())

	eff, err = n.ProcessBlock(s2, now)
	require.NoError(t, err, "a competitor is accepted for the election")
	assert.Equal(t, []Hash{s2.Hash()}, eff.Accepted)
	assert.Empty(t, eff.Votes, "and does not change the vote")
	assert.Equal(t, 1, n.ForksSeen())

	// Representative 3 (400) votes for s2: s2 leads, representative 0
	// switches to it with a higher sequence number.
	eff, err = n.ProcessVote(vote(3, s2, false, 1), now)
	require.NoError(t, err)
	require.Len(t, eff.Votes, 1)
	assert.Equal(t, s2.Hash(), eff.Votes[0].Block)
	assert.Equal(t, uint64(2), eff.Votes[0].Seq)

	// Representative 2 too: s2 has 100+400+300 > half of 1010, so
	// representative 0 casts its final vote.
	eff, err = n.ProcessVote(vote(2, s2, false, 1), now)
	require.NoError(t, err)
	require.Len(t, eff.Votes, 1)
	assert.True(t, eff.Votes[0].Final)
	assert.Equal(t, s2.Hash(), eff.Votes[0].Block)

	// A representative's second final vote, for the other block, is ignored.
	_, err = n.ProcessVote(vote(3, s2, true, 0), now)
	require.NoError(t, err)
	_, err = n.ProcessVote(vote(3, s1, true, 0), now)
	require.NoError(t, err)
	eff, err = n.ProcessVote(vote(2, s2, true, 0), now)
	require.NoError(t, err)
	assert.Equal(t, []Hash{s2.Hash()}, eff.Confirmed, "100+400+300 final")
	assert.True(t, l.OnChain(s2.Hash()))
	_, held := l.Block(s1.Hash())
	assert.False(t, held)
	conserved(t, l)

	// The loser, relayed at once (in flight when the election ended), is
	// refused; relayed later, it is answered with the winner.
	eff, err = n.ProcessBlock(s1, now)
	require.ErrorIs(t, err, ErrInvalid)
	assert.Empty(t, eff.Blocks)
	now = now.Add(DefaultConfig().AnswerInterval)
	eff, err = n.ProcessBlock(s1, now)
	require.ErrorIs(t, err, ErrInvalid)
	require.Len(t, eff.Blocks, 1)
	assert.Equal(t, s2.Hash(), eff.Blocks[0].Hash())
	require.Len(t, eff.Votes, 1)
	assert.True(t, eff.Votes[0].Final)
	// As is a vote for it, once AnswerInterval has passed.
	eff, err = n.ProcessVote(vote(1, s1, false, 5), now)
	require.NoError(t, err)
	assert.Empty(t, eff.Blocks, "answered a moment ago")
	eff, err = n.ProcessVote(vote(1, s1, false, 6), now.Add(DefaultConfig().AnswerInterval))
	require.NoError(t, err)
	require.Len(t, eff.Blocks, 1)
}

func TestNodeQuorumBase(t *testing.T) {
	cfg := DefaultConfig()
	cfg.OnlineWindow = time.Minute
	cfg.TrendPeriod = time.Hour
	cfg.MinOnlinePercent = 10
	n := observer(t, cfg)
	t0 := time.Unix(1000, 0)
	assert.Equal(t, uint64(100), n.QuorumBase(t0), "the floor: 10% of 1000")
	b, err := NewWallet(n.Ledger(), key(0)).Send(acct(1), 1, 0)
	require.NoError(t, err)
	_, err = n.ProcessBlock(b, t0)
	require.NoError(t, err)
	for _, rep := range []int{1, 2, 3} {
		_, err = n.ProcessVote(vote(rep, b, false, 1), t0)
		require.NoError(t, err)
	}
	assert.Equal(t, uint64(900), n.OnlineWeight(t0))
	n.Tick(t0)
	t1 := t0.Add(2 * time.Minute)
	assert.Zero(t, n.OnlineWeight(t1), "no vote within the window")
	assert.Equal(t, uint64(900), n.QuorumBase(t1), "the peak of the trend")
	n.Tick(t1)
	t2 := t0.Add(2 * time.Hour)
	n.Tick(t2)
	assert.Equal(t, uint64(100), n.QuorumBase(t2), "the trend forgot; the floor is 10% of the supply")
}

func TestNodeBounds(t *testing.T) {
	cfg := DefaultConfig()
	cfg.MaxElections = 1
	n := observer(t, cfg)
	now := time.Unix(1000, 0)
	b0, err := NewWallet(n.Ledger(), key(0)).Send(acct(1), 1, 0)
	require.NoError(t, err)
	b1, err := NewWallet(n.Ledger(), key(1)).Send(acct(0), 1, 0)
	require.NoError(t, err)
	_, err = n.ProcessBlock(b0, now)
	require.NoError(t, err)
	_, err = n.ProcessBlock(b1, now)
	require.ErrorIs(t, err, ErrBusy)
}

// TestNodeExpiresWaiting: votes for a block not seen, and blocks whose
// source is not confirmed, are dropped after OnlineWindow.
func TestNodeExpiresWaiting(t *testing.T) {
	cfg := strict()
	cfg.OnlineWindow = time.Minute
	n := observer(t, cfg)
	t0 := time.Unix(1000, 0)
	w0 := NewWallet(n.Ledger(), key(0))
	b, err := w0.Send(acct(5), 10, 0)
	require.NoError(t, err)
	for _, rep := range []int{2, 3} {
		_, err = n.ProcessVote(vote(rep, b, true, 0), t0)
		require.NoError(t, err)
	}
	assert.Equal(t, 2, n.npending)
	n.Tick(t0.Add(30 * time.Second))
	assert.Equal(t, 2, n.npending, "not yet")
	n.Tick(t0.Add(2 * time.Minute))
	assert.Zero(t, n.npending)
	eff, err := n.ProcessBlock(b, t0.Add(2*time.Minute))
	require.NoError(t, err)
	assert.Empty(t, eff.Confirmed, "the expired votes do not count")

	// A receive waiting for its send's confirmation.
	l2 := newLedger(t, 100, 200, 300, 400)
	s, err := NewWallet(l2, key(0)).Send(acct(1), 5, 0)
	require.NoError(t, err)
	_, err = l2.Apply(s)
	require.NoError(t, err)
	require.NoError(t, l2.Confirm(s.Hash()))
	rcv, err := NewWallet(l2, key(1)).Receive(s.Hash(), 0)
	require.NoError(t, err)
	m := observer(t, cfg)
	_, err = m.ProcessBlock(s, t0)
	require.NoError(t, err)
	_, err = m.ProcessBlock(rcv, t0)
	require.ErrorIs(t, err, ErrGap)
	assert.Positive(t, m.nunchecked)
	m.Tick(t0.Add(2 * time.Minute))
	assert.Zero(t, m.nunchecked)
}

// TestNodeReplayedVoteNotOnline: an old vote replayed for a settled root
// does not count its representative online.
func TestNodeReplayedVoteNotOnline(t *testing.T) {
	cfg := strict()
	cfg.OnlineWindow = time.Minute
	n := observer(t, cfg)
	t0 := time.Unix(1000, 0)
	b, err := NewWallet(n.Ledger(), key(0)).Send(acct(1), 1, 0)
	require.NoError(t, err)
	_, err = n.ProcessBlock(b, t0)
	require.NoError(t, err)
	old := vote(1, b, true, 0)
	for _, rep := range []int{1, 2, 3} {
		_, err = n.ProcessVote(vote(rep, b, true, 0), t0)
		require.NoError(t, err)
	}
	require.True(t, n.Ledger().Confirmed(b.Hash()))
	t1 := t0.Add(10 * time.Minute)
	assert.Zero(t, n.OnlineWeight(t1))
	_, err = n.ProcessVote(old, t1)
	require.NoError(t, err)
	assert.Zero(t, n.OnlineWeight(t1), "a vote on a settled root shows nobody online")
}

// TestNodeLateVoteOnline: an election settles on the fastest majority; a
// representative whose votes come just after still counts as online, so
// the quorum base keeps its weight (a representative that is always the
// slowest to reach a node would otherwise never count there, and the base
// would shrink to the majority's weight).
func TestNodeLateVoteOnline(t *testing.T) {
	cfg := DefaultConfig()
	cfg.OnlineWindow = time.Minute
	cfg.MinOnlinePercent = 0
	n := observer(t, cfg)
	t0 := time.Unix(1000, 0)
	b, err := NewWallet(n.Ledger(), key(0)).Send(acct(1), 1, 0)
	require.NoError(t, err)
	_, err = n.ProcessBlock(b, t0)
	require.NoError(t, err)
	// The node sees 3 and 2 first (700): their final votes settle it.
	for _, rep := range []int{3, 2} {
		_, err = n.ProcessVote(vote(rep, b, false, 1), t0)
		require.NoError(t, err)
		_, err = n.ProcessVote(vote(rep, b, true, 0), t0)
		require.NoError(t, err)
	}
	require.True(t, n.Ledger().Confirmed(b.Hash()))
	assert.Equal(t, uint64(700), n.OnlineWeight(t0))
	late := t0.Add(200 * time.Millisecond)
	_, err = n.ProcessVote(vote(1, b, true, 0), late)
	require.NoError(t, err)
	assert.Equal(t, uint64(900), n.OnlineWeight(late), "the late representative is online")
	n.Tick(late)
	assert.Equal(t, uint64(900), n.QuorumBase(late.Add(2*time.Minute)), "and in the trend")
}

// openElection gives a node with 100 of 1,000 voting weight a send to
// elect: the election stays open (no quorum). It returns the node, the
// block, the node's own vote and the time it opened.
func openElection(t *testing.T, cfg Config) (*Node, Block, Vote, time.Time) {
	t.Helper()
	l := newLedger(t, 100, 200, 300, 400, 10)
	n, err := NewNode(cfg, l, []ed25519.PrivateKey{key(0)})
	require.NoError(t, err)
	t0 := time.Unix(1000, 0)
	b, err := NewWallet(l, key(4)).Send(acct(1), 10, 0)
	require.NoError(t, err)
	eff, err := n.ProcessBlock(b, t0)
	require.NoError(t, err)
	require.Len(t, eff.Votes, 1)
	mine := eff.Votes[0]
	return n, b, mine, t0
}

// TestNodeResendBackoff: Tick re-sends an open election's candidates and
// this node's votes only once it has been open for ResendAfter, then after
// twice the previous wait, up to ResendMax; an election that settles
// sooner is never re-sent. Before this, every Tick re-sent every open
// election, so each block of a 100-node simulation that was open at a tick
// went out again from every node (a check per node on every node) and the
// simulation fell behind for good.
func TestNodeResendBackoff(t *testing.T) {
	cfg := strict()
	cfg.ResendAfter, cfg.ResendMax = 10*time.Second, 40*time.Second
	n, b, mine, t0 := openElection(t, cfg)

	// The election stays open: 100 of 1000 is no quorum. Ticks every
	// second for five minutes; the re-sends come at 10, 30 (10 + 20), 70
	// (30 + 40), then every 40 s.
	var at []time.Duration
	for d := time.Second; d <= 5*time.Minute; d += time.Second {
		eff := n.Tick(t0.Add(d))
		if len(eff.Blocks) == 0 && len(eff.Votes) == 0 {
			continue
		}
		at = append(at, d)
		assert.Equal(t, []Block{b}, eff.Blocks, "at %s", d)
		assert.Equal(t, []Vote{mine}, eff.Votes, "at %s", d)
	}
	want := []time.Duration{10 * time.Second, 30 * time.Second, 70 * time.Second}
	for d := 110 * time.Second; d <= 5*time.Minute; d += 40 * time.Second {
		want = append(want, d)
	}
	assert.Equal(t, want, at)

	// A node without voting weight re-sends its own account's blocks on
	// the same schedule (the representatives hold what they voted for),
	// and nobody else's: those it reports Stale, for the driver to ask
	// the representatives.
	other := observer(t, cfg)
	ob, err := NewWallet(other.Ledger(), key(0)).Send(acct(1), 10, 0)
	require.NoError(t, err)
	_, err = other.ProcessBlock(ob, t0)
	require.NoError(t, err)
	var stale []time.Duration
	for d := time.Second; d <= 3*time.Minute; d += time.Second {
		eff := other.Tick(t0.Add(d))
		require.Empty(t, eff.Blocks, "not the observer's block, at %s", d)
		if len(eff.Stale) > 0 {
			stale = append(stale, d)
			assert.Equal(t, []Account{acct(0)}, eff.Stale)
		}
	}
	assert.Equal(t, want[:5], stale)
	o := holder(t, cfg)
	ob, err = NewWallet(o.Ledger(), key(4)).Send(acct(1), 10, 0)
	require.NoError(t, err)
	_, err = o.ProcessBlock(ob, t0)
	require.NoError(t, err)
	at = nil
	for d := time.Second; d <= 3*time.Minute; d += time.Second {
		eff := o.Tick(t0.Add(d))
		assert.Empty(t, eff.Stale, "its own block")
		if len(eff.Blocks) > 0 {
			at = append(at, d)
			assert.Equal(t, []Block{ob}, eff.Blocks)
			assert.Empty(t, eff.Votes, "an observer has no votes")
		}
	}
	assert.Equal(t, want[:5], at)

	// An election settled within ResendAfter is not re-sent.
	m := observer(t, strict())
	c, err := NewWallet(m.Ledger(), key(0)).Send(acct(1), 10, 0)
	require.NoError(t, err)
	_, err = m.ProcessBlock(c, t0)
	require.NoError(t, err)
	eff := m.Tick(t0.Add(time.Second))
	assert.Empty(t, eff.Blocks, "open for 1 s of ResendAfter's 30 s")
	for _, rep := range []int{2, 3} {
		_, err = m.ProcessVote(vote(rep, c, true, 0), t0.Add(2*time.Second))
		require.NoError(t, err)
	}
	require.True(t, m.Ledger().Confirmed(c.Hash()))
	eff = m.Tick(t0.Add(time.Minute))
	assert.Empty(t, eff.Blocks)
	assert.Empty(t, eff.Votes)
}

// TestNodeResendSuppressed: a candidate another node re-sent since this
// node's last re-send (it came in again) is not re-sent at the next one,
// the node's own votes still are, and the one after re-sends it again if
// nobody did meanwhile. Without this, every node holding an open election
// re-sent its blocks: in a 40-node simulation those copies were three
// times as many block checks as every vote of the run.
func TestNodeResendSuppressed(t *testing.T) {
	cfg := strict()
	cfg.ResendAfter, cfg.ResendMax = 10*time.Second, 10*time.Second
	n, b, mine, t0 := openElection(t, cfg)

	// Another node's re-send comes in at 5 s: the re-send due at 10 s
	// carries the vote only.
	_, err := n.ProcessBlock(b, t0.Add(5*time.Second))
	require.ErrorIs(t, err, ErrDuplicate)
	eff := n.Tick(t0.Add(10 * time.Second))
	assert.Empty(t, eff.Blocks, "re-sent by another node")
	assert.Equal(t, []Vote{mine}, eff.Votes)
	// Nobody re-sends it before 20 s: this node does.
	eff = n.Tick(t0.Add(20 * time.Second))
	assert.Equal(t, []Block{b}, eff.Blocks)
	assert.Equal(t, []Vote{mine}, eff.Votes)

	// An observer re-sending its own block: the same, with no votes.
	o := holder(t, cfg)
	ob, err := NewWallet(o.Ledger(), key(4)).Send(acct(1), 10, 0)
	require.NoError(t, err)
	_, err = o.ProcessBlock(ob, t0)
	require.NoError(t, err)
	_, err = o.ProcessBlock(ob, t0.Add(9*time.Second))
	require.ErrorIs(t, err, ErrDuplicate)
	eff = o.Tick(t0.Add(10 * time.Second))
	assert.Empty(t, eff.Blocks)
	assert.Empty(t, eff.Votes)
	eff = o.Tick(t0.Add(20 * time.Second))
	assert.Equal(t, []Block{ob}, eff.Blocks)
}

// TestNodeResendSpread has ten representatives take one block at the
// same moment and re-send it while it stays open (their votes alone are
// no quorum); a re-send reaches the others at once. With a salt each, one re-sends at a point within the wait's
// second half and the others hear it first; without, all ten re-send in
// the same tick and the suppression suppresses nothing.
func TestNodeResendSpread(t *testing.T) {
	for _, tc := range []struct {
		name   string
		salted bool
		most   int // the most re-sends of the first round
	}{
		{"salted", true, 1},
		{"unsalted", false, 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := strict()
			cfg.ResendAfter, cfg.ResendMax = 10*time.Second, 10*time.Second
			t0 := time.Unix(1_700_000_000, 0)
			var nodes []*Node
			var b Block
			for i := range 10 {
				c := cfg
				if tc.salted {
					c.ResendSalt = []byte{byte(i)}
				}
				n, err := NewNode(c, newLedger(t, 100, 100, 100, 100, 100, 100, 100, 100, 100, 100, 10), []ed25519.PrivateKey{key(i)})
				require.NoError(t, err)
				if i == 0 {
					b, err = NewWallet(n.Ledger(), key(10)).Send(acct(1), 10, 0)
					require.NoError(t, err)
				}
				_, err = n.ProcessBlock(b, t0)
				require.NoError(t, err)
				nodes = append(nodes, n)
			}
			var first []time.Duration // when each re-send of the first round came
			for at := time.Duration(0); at <= 10*time.Second && len(first) == 0; at += 100 * time.Millisecond {
				var senders []int
				for i, n := range nodes {
					if eff := n.Tick(t0.Add(at)); len(eff.Blocks) > 0 {
						senders = append(senders, i)
					}
				}
				for range senders {
					first = append(first, at)
				}
				// Every copy reaches every other node.
				for _, s := range senders {
					for j, n := range nodes {
						if j != s {
							_, err := n.ProcessBlock(b, t0.Add(at))
							require.ErrorIs(t, err, ErrDuplicate)
						}
					}
				}
			}
			require.NotEmpty(t, first, "the block was re-sent")
			assert.LessOrEqual(t, len(first), tc.most, "re-sends of the first round")
			assert.GreaterOrEqual(t, first[0], 5*time.Second, "not before half the wait")
			// The others heard it: none re-sends in the rest of the round.
			for at := first[0] + 100*time.Millisecond; at < 10*time.Second; at += 100 * time.Millisecond {
				for _, n := range nodes {
					assert.Empty(t, n.Tick(t0.Add(at)).Blocks)
				}
			}
		})
	}
}

// TestNodeTrace: Trace follows an account's next block from a vote that
// came first, through its election with final votes short of the quorum,
// to its confirmation, and counts a receive waiting for its send.
func TestNodeTrace(t *testing.T) {
	n := observer(t, strict())
	now := time.Unix(1000, 0)
	b, err := NewWallet(n.Ledger(), key(0)).Send(acct(1), 10, 0)
	require.NoError(t, err)
	assert.Equal(t, AccountTrace{Half: 500}, n.Trace(acct(0), now), "nothing yet")
	_, err = n.ProcessVote(vote(3, b, true, 0), now)
	require.NoError(t, err)
	assert.Equal(t, AccountTrace{Half: 500, PendingVotes: 1}, n.Trace(acct(0), now), "a vote ahead of its block")
	_, err = n.ProcessBlock(b, now)
	require.NoError(t, err)
	assert.Equal(t, AccountTrace{Half: 500, Held: true, Election: true, Candidates: 1, Final: 400, Support: 400}, n.Trace(acct(0), now))

	// The send's receive waits for the send's confirmation.
	rcv, err := NewWallet(n.Ledger(), key(1)).Receive(b.Hash(), 0)
	require.NoError(t, err)
	_, err = n.ProcessBlock(rcv, now)
	require.ErrorIs(t, err, ErrGap)
	assert.Equal(t, AccountTrace{Half: 500, Waiting: 1, WaitingHeld: 1}, n.Trace(acct(1), now))

	_, err = n.ProcessVote(vote(1, b, true, 0), now)
	require.NoError(t, err)
	assert.Equal(t, AccountTrace{ConfirmedHeight: 1, Half: 500}, n.Trace(acct(0), now), "confirmed")
	assert.Equal(t, AccountTrace{Half: 500, Held: true, Election: true, Candidates: 1}, n.Trace(acct(1), now), "the receive's election opened")
}
