package lottery

import (
	"crypto/ed25519"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestNodeLateJoinersAdoptSeed runs the whole protocol (candidacies,
// claims, reveals, seed decisions) of ten Nodes on the discrete-event
// network, with clock offsets within MaxClockSkew. Eight candidates
// announce themselves from before genesis; two more nodes, a candidate and
// an observer, start with nothing stored just after epoch 0's claim
// window. They cannot know epoch 1's candidates (announced in that
// window), so they must not blame anyone for epoch 1's claims, must not
// trust the seed chain they computed, and must adopt the network's seed at
// the close of epoch 2, the first window they saw whole with a candidate
// set they know. From then on all ten agree on every directory and seed,
// including the seeds the late nodes computed themselves.
func TestNodeLateJoinersAdoptSeed(t *testing.T) {
	cfg := nodeConfig()
	cfg.TargetRelays = 8 // every candidate of epoch 1 wins
	const early, nodes = 8, 10
	keys := make([]ed25519.PrivateKey, nodes)
	for i := range keys {
		keys[i] = testKey(i)
	}
	net := newNodeNet(t, cfg, keys, 100*time.Millisecond, 1)
	rng := rand.New(rand.NewPCG(3, 4))
	for i := range net.offset {
		net.offset[i] = time.Duration(rng.Int64N(int64(cfg.MaxClockSkew))) - cfg.MaxClockSkew/2
	}
	net.observer[nodes-1] = true
	for i := range early {
		net.start(i, cfg.Genesis.Add(-2*time.Second))
	}
	late := []int{early, early + 1}
	for _, i := range late {
		net.start(i, cfg.ClaimClose(0).Add(100*time.Millisecond))
	}

	net.run(cfg.ClaimClose(2).Add(-100 * time.Millisecond))
	for _, i := range late {
		assert.False(t, net.node(i).Confirmed(), "late node %d trusts its chain before it could check it", i)
		assert.Empty(t, net.adopted[i], "late node %d", i)
	}
	requireAgree(t, net, 1, span(0, early))
	for _, i := range late {
		s, _ := net.node(i).Seed(2)
		s0, _ := net.node(0).Seed(2)
		require.NotEqual(t, s0, s, "the late nodes must hold another seed of epoch 2 for the test to mean anything")
	}

	net.run(cfg.ClaimClose(5).Add(time.Second))
	for e := uint64(2); e <= 5; e++ {
		requireAgree(t, net, e, span(0, nodes))
	}
	for _, i := range late {
		require.Len(t, net.adopted[i], 1, "late node %d adopts once", i)
		a := net.adopted[i][0]
		assert.Equal(t, uint64(2), a.Epoch, "late node %d", i)
		assert.GreaterOrEqual(t, a.Claimants, cfg.JoinQuorum)
		assert.True(t, net.node(i).Confirmed())
		assert.Equal(t, uint64(1), net.node(i).Stats().Adopted)
		// Epoch 1's claims came from candidates the late nodes could not
		// know: ignored, not rejected.
		assert.Positive(t, net.node(i).Stats().Ignored["not_candidate"], "late node %d", i)
	}
	for i := range nodes {
		st := net.node(i).Stats()
		assert.Empty(t, st.Rejected, "node %d rejected honest messages", i)
		if i < early {
			assert.Empty(t, net.adopted[i], "node %d listened from genesis", i)
			assert.True(t, net.node(i).Confirmed())
		}
	}
	// The late candidate announced itself in epoch 1's window: it stands
	// in epoch 3 everywhere.
	for i := range nodes {
		assert.Contains(t, net.node(i).Candidates(3), pubOf(keys[early]), "node %d", i)
		assert.Len(t, net.node(i).Candidates(3), early+1, "node %d", i)
	}
}

// TestNodeSeedDecision checks the seed decision of a joining node against
// claims for another seed: candidates outside the network (a coalition)
// claim epoch 2 under a seed of their own, which they can since every
// candidate wins every epoch here (p = 1). A joining observer that
// listened through epoch 2's window decides at its close: the seed with
// the most distinct claimants wins if it has JoinQuorum of them and no
// tie. Confirmed nodes ignore the coalition whatever its size.
func TestNodeSeedDecision(t *testing.T) {
	forgedSeed := Seed{0xf0, 0x6e, 0xd}
	tests := []struct {
		name            string
		honest, forgers int
		quorum          int
		joinIn          bool   // join inside epoch 2's claim window, not before it
		adopt           string // "network", "forged" or "" (no decision)
	}{
		{"the network outnumbers a coalition", 6, 3, 3, false, "network"},
		{"a larger coalition captures a joining node", 4, 5, 3, false, "forged"},
		{"a tie decides nothing", 4, 4, 3, false, ""},
		{"below the quorum nothing is decided", 2, 0, 3, false, ""},
		// It received every claim, but counts itself as listening only
		// after WarmUp: it might have missed some.
		{"a window not listened through decides nothing", 6, 0, 3, true, ""},
	}
	for k, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := nodeConfig()
			cfg.JoinQuorum = tt.quorum
			var keys []ed25519.PrivateKey
			for i := range tt.honest + 1 {
				keys = append(keys, testKey(100*k+i))
			}
			var forgers []ed25519.PrivateKey
			for i := range tt.forgers {
				forgers = append(forgers, testKey(100*k+50+i))
			}
			net := newNodeNet(t, cfg, keys, 100*time.Millisecond, uint64(k))
			joiner := tt.honest
			net.observer[joiner] = true
			net.cfg.Candidates = net.peerIDs(span(0, tt.honest)...)
			for _, f := range forgers {
				id, err := keyPeerID(pubOf(f))
				require.NoError(t, err)
				net.cfg.Candidates = append(net.cfg.Candidates, id)
			}
			net.cfg.TargetRelays = len(net.cfg.Candidates) // p = 1
			for i := range tt.honest {
				net.start(i, cfg.Genesis.Add(-2*time.Second))
			}
			join := cfg.ClaimClose(1).Add(100 * time.Millisecond)
			if tt.joinIn {
				join = cfg.EpochStart(2).Add(50 * time.Millisecond) // before the claims
			}
			net.start(joiner, join)

			// The coalition's claims reach every node in epoch 2's window.
			stake := NewUniformStake(append(slicesOfPubs(keys[:tt.honest]), slicesOfPubs(forgers)...))
			for j, f := range forgers {
				c, _, won, err := NewClaim(f, 2, forgedSeed, 1, 1, net.cfg.Config, detRand(fmt.Sprint("forger", j)))
				require.NoError(t, err)
				require.True(t, won)
				require.NoError(t, c.Verify(net.cfg.Config, 2, forgedSeed, stake), "the forged claims are valid under their seed")
				for i := range keys {
					net.inject(i, cfg.EpochStart(2).Add(300*time.Millisecond), mustEncode(t, c))
				}
			}
			net.run(cfg.ClaimClose(2).Add(500 * time.Millisecond))

			j := net.node(joiner)
			honestSeed, _ := net.node(0).Seed(2)
			switch tt.adopt {
			case "":
				assert.Empty(t, net.adopted[joiner])
				assert.False(t, j.Confirmed())
			case "network", "forged":
				require.Len(t, net.adopted[joiner], 1)
				a := net.adopted[joiner][0]
				want, claimants := honestSeed, tt.honest
				if tt.adopt == "forged" {
					want, claimants = forgedSeed, tt.forgers
				}
				assert.Equal(t, want, a.Seed)
				assert.Equal(t, claimants, a.Claimants)
				assert.Equal(t, uint64(2), a.Epoch)
				assert.True(t, j.Confirmed())
				d, _ := j.Directory(2)
				assert.Equal(t, claimants, d.Len())
				if tt.adopt == "network" {
					requireAgree(t, net, 2, span(0, tt.honest+1))
				}
			}
			for i := range tt.honest {
				st := net.node(i).Stats()
				assert.True(t, net.node(i).Confirmed(), "node %d", i)
				assert.Empty(t, net.adopted[i], "a confirmed node never changes its chain")
				assert.Equal(t, uint64(tt.forgers), st.Ignored["wrong_seed"], "node %d", i)
				assert.Empty(t, st.Rejected, "node %d", i)
			}
			requireAgree(t, net, 2, span(0, tt.honest))
		})
	}
}

func slicesOfPubs(keys []ed25519.PrivateKey) []ed25519.PublicKey {
	out := make([]ed25519.PublicKey, len(keys))
	for i, k := range keys {
		out[i] = pubOf(k)
	}
	return out
}

// TestNodeExcusesCandidateDisagreement checks the budget for claims that
// fail only because nodes disagree on the candidate set. Candidates
// announce themselves; some candidacies for epoch 2 reach node 4 only
// after their window closed, so node 4 does not count those candidates
// while everyone else does. Their claims in epoch 2 then fail on node 4
// (not a candidate): it must ignore them, not blame the peer that
// forwarded them, but only up to two claims per claimant (an honest peer
// forwards at most two: an equivocator's pair) and MaxPending claimants an
// epoch. Beyond that, and for a claimant that never announced itself at
// all, it rejects.
func TestNodeExcusesCandidateDisagreement(t *testing.T) {
	tests := []struct {
		name       string
		late       []int // candidates whose candidacy for epoch 2 reaches node 4 late
		maxPending int
		extra      int // more claims of the first late candidate, injected
		excused    uint64
		rejected   uint64 // besides the stranger's claim
	}{
		{"one late candidacy, its claim and one equivocation excused", []int{3}, 1024, 1, 2, 0},
		{"a third claim of one claimant is blamed", []int{3}, 1024, 2, 2, 1},
		{"at most MaxPending claimants an epoch are excused", []int{2, 3}, 1, 0, 1, 1},
	}
	for k, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := nodeConfig()
			cfg.MaxPending = tt.maxPending
			cfg.TargetRelays = 4 // p = 1 for node 4's three candidates and everyone's four
			const victim = 4
			keys := make([]ed25519.PrivateKey, 5)
			for i := range keys {
				keys[i] = testKey(200*k + i)
			}
			net := newNodeNet(t, cfg, keys, 50*time.Millisecond, uint64(k))
			net.observer[victim] = true
			lateTo := map[string]bool{}
			for _, i := range tt.late {
				lateTo[string(pubOf(keys[i]))] = true
			}
			net.delay = func(_, to int, m *Message) (time.Duration, bool) {
				if to == victim && m.Kind() == KindCandidacy && m.Epoch() == 2 && lateTo[string(m.key)] {
					return cfg.ClaimWindow + time.Second, true // after the window of epoch 2 closed
				}
				return 0, false
			}
			for i := range keys {
				net.start(i, cfg.Genesis.Add(-2*time.Second))
			}
			net.run(cfg.EpochStart(2).Add(time.Second))
			v := net.node(victim)
			require.Len(t, v.Candidates(2), 4-len(tt.late), "node 4 missed the late candidacies")
			require.Len(t, net.node(0).Candidates(2), 4)
			seed, _ := net.node(0).Seed(2)
			p := Probability(cfg.TargetRelays, 4)
			for j := range tt.extra {
				c, _, won, err := NewClaim(keys[tt.late[0]], 2, seed, 1, p, cfg.Config, detRand(fmt.Sprint("equivocation", j)))
				require.NoError(t, err)
				require.True(t, won)
				net.inject(victim, cfg.EpochStart(2).Add(time.Second+time.Duration(j)*100*time.Millisecond), mustEncode(t, c))
			}
			// A key that never announced itself is no candidate anywhere:
			// its claim is blamed at once.
			stranger, _, won, err := NewClaim(testKey(999), 2, seed, 1, p, cfg.Config, detRand("stranger"))
			require.NoError(t, err)
			require.True(t, won)
			net.inject(victim, cfg.EpochStart(2).Add(2*time.Second), mustEncode(t, stranger))
			net.run(cfg.ClaimClose(2).Add(time.Second))

			st := v.Stats()
			assert.Equal(t, tt.excused, st.Ignored["not_candidate"], "excused claims")
			assert.Equal(t, tt.rejected+1, st.Rejected["not_candidate"], "blamed claims")
			for i := range 4 {
				assert.Empty(t, net.node(i).Stats().Rejected, "node %d", i)
			}
			requireAgree(t, net, 2, span(0, 4))
		})
	}
}

// TestNodeRestart restarts node 0 (or 1) of six on the discrete-event
// network from what its driver persisted, where every candidate wins
// every epoch. A restart whose gap meets no window must trust the rebuilt
// chain and rebuild its directory exactly; one that missed a window must
// not trust it, and adopt or confirm a seed at the next window it sees
// whole; one inside the claim window after its claim went out must
// restore that claim rather than draw a second one. The control restarts
// with its store wiped: it draws again and is excluded for equivocation.
func TestNodeRestart(t *testing.T) {
	cfg := nodeConfig()
	tests := []struct {
		name        string
		stop, again time.Time
		wipe        bool
		trusted     bool   // confirmed right after the restart
		adopts      uint64 // epoch of the seed adoption, 0 for none
		equivocates bool
		agreeFrom   uint64
	}{
		{name: "in the quiet phase", stop: cfg.ClaimClose(1).Add(500 * time.Millisecond), again: cfg.ClaimClose(1).Add(time.Second),
			trusted: true, agreeFrom: 1},
		{name: "across a claim window", stop: cfg.ClaimClose(1).Add(500 * time.Millisecond), again: cfg.EpochStart(2).Add(time.Second),
			adopts: 3, agreeFrom: 3},
		{name: "inside the claim window after claiming", stop: cfg.EpochStart(0).Add(time.Second), again: cfg.EpochStart(0).Add(1500 * time.Millisecond),
			agreeFrom: 0},
		{name: "store wiped (control)", stop: cfg.EpochStart(0).Add(time.Second), again: cfg.EpochStart(0).Add(1500 * time.Millisecond),
			wipe: true, equivocates: true, adopts: 1, agreeFrom: 1},
	}
	for k, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			const nodes = 6
			keys := make([]ed25519.PrivateKey, nodes)
			for i := range keys {
				keys[i] = testKey(300*k + i)
			}
			net := newNodeNet(t, cfg, keys, 80*time.Millisecond, uint64(k))
			net.cfg.Candidates = net.peerIDs(span(0, nodes)...)
			net.cfg.TargetRelays = nodes // p = 1
			for i := range nodes {
				net.start(i, cfg.Genesis.Add(-2*time.Second))
			}
			r := 0
			if tt.wipe {
				r = 1
			}
			net.run(tt.stop)
			before, _ := net.node(r).Directory(cfg.mustEpochAt(tt.stop))
			oldKey, won := net.node(r).MixKey(cfg.mustEpochAt(tt.stop))
			require.True(t, won)
			net.stop(r, tt.stop)
			net.run(tt.again)
			if tt.wipe {
				net.saved[r] = Saved{}
			}
			net.start(r, tt.again)
			net.run(tt.again.Add(time.Millisecond))
			n := net.node(r)
			assert.Equal(t, tt.trusted, n.Confirmed(), "trust right after the restart")
			if tt.trusted {
				again, ok := n.Directory(cfg.mustEpochAt(tt.stop))
				require.True(t, ok)
				assert.Equal(t, before.Digest(), again.Digest(), "directory rebuilt exactly from the records")
			}
			if !tt.wipe {
				k2, ok := n.MixKey(cfg.mustEpochAt(tt.stop))
				require.True(t, ok, "the mix key survives the restart")
				assert.Equal(t, oldKey.Bytes(), k2.Bytes())
			}

			net.run(cfg.ClaimClose(4).Add(time.Second))
			for e := tt.agreeFrom; e <= 4; e++ {
				requireAgree(t, net, e, span(0, nodes))
			}
			if tt.adopts > 0 {
				require.Len(t, net.adopted[r], 1)
				assert.Equal(t, tt.adopts, net.adopted[r][0].Epoch)
			} else {
				assert.Empty(t, net.adopted[r])
			}
			assert.True(t, n.Confirmed(), "trusted again by the end")
			d, _ := net.node(3).Directory(0)
			if tt.equivocates {
				assert.Equal(t, []ed25519.PublicKey{pubOf(keys[r])}, d.Equivocators())
			} else {
				assert.Empty(t, d.Equivocators())
				_, in := d.Lookup(pubOf(keys[r]))
				assert.True(t, in)
			}
			for i := range nodes {
				assert.Empty(t, net.node(i).Stats().Rejected, "node %d", i)
			}
			// with p = 1 a node that ran throughout won every epoch 0..4
			st := net.node(2).Stats()
			assert.Equal(t, uint64(5), st.Wins)
			assert.Zero(t, st.ClaimFailures)
		})
	}
}

func (c Config) mustEpochAt(t time.Time) uint64 {
	e, _ := c.EpochAt(t)
	return e
}

func TestQuietGap(t *testing.T) {
	cfg := nodeConfig().Config
	cfg.EpochLength, cfg.ClaimWindow, cfg.RevealWindow = 3*time.Second, 1200*time.Millisecond, 800*time.Millisecond
	start := cfg.EpochStart(5)
	sk := 2 * cfg.MaxClockSkew
	tests := []struct {
		name string
		a, b time.Time
		want bool
	}{
		{"inside the quiet phase", cfg.ClaimClose(5), cfg.revealAt(5).Add(-sk), true},
		{"touches the reveal phase", cfg.ClaimClose(5), cfg.revealAt(5).Add(-sk + 1), false},
		{"ends in the claim window", start.Add(-time.Second), start, false},
		{"reveal phase to claim window", cfg.revealAt(4), start.Add(-sk), false},
		{"inside the claim window", start.Add(time.Millisecond), start.Add(2 * time.Millisecond), false},
		{"a whole epoch", cfg.ClaimClose(5), cfg.ClaimClose(6), false},
		{"empty", start, start, true},
		{"long before genesis", cfg.Genesis.Add(-time.Hour), cfg.Genesis.Add(-sk), true},
		{"into epoch 0", cfg.Genesis.Add(-time.Hour), cfg.Genesis.Add(time.Millisecond), false},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, quietGap(cfg, tt.a, tt.b), tt.name)
	}
}

// TestNodeStartSkipsMissedEpochs checks that a node that will not trust
// its chain does not step through the epochs it missed (millions, for
// short epochs and an old genesis) but starts at the current one.
func TestNodeStartSkipsMissedEpochs(t *testing.T) {
	cfg := nodeConfig()
	now := cfg.EpochStart(1_000_000).Add(time.Second)
	n, err := NewNode(cfg, NodeOptions{Identity: testKey(1)})
	require.NoError(t, err)
	require.NoError(t, n.Start(now, Saved{}))
	assert.False(t, n.Confirmed())
	assert.Equal(t, uint64(1_000_000), n.Epoch())
	// A node trusted across a quiet gap resumes at its checkpoint.
	snap := Snapshot{Checkpoint: Checkpoint{Epoch: 7, Seed: Seed{7}}, Since: cfg.Genesis.Add(-time.Hour), Alive: cfg.ClaimClose(7), Confirmed: true}
	require.NoError(t, n.Start(cfg.ClaimClose(7).Add(100*time.Millisecond), Saved{Snapshot: &snap}))
	assert.True(t, n.Confirmed())
	assert.Equal(t, uint64(7), n.Epoch())
	seed, _ := n.Seed(7)
	assert.Equal(t, Seed{7}, seed)
}
