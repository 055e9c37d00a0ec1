package token

import (
	"container/heap"
	"crypto/ed25519"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A discrete-event network of Nodes: messages are delivered after a random
// latency (20-120 ms, seeded), a partition drops every message between its
// sides, and each node ticks every tickEvery. No goroutine, no clock.

const tickEvery = 500 * time.Millisecond

type simMsg struct {
	at    time.Time
	seq   int
	to    int // -1: a tick of every node
	from  int
	block *Block
	vote  *Vote
}

type simQueue []*simMsg

func (q simQueue) Len() int { return len(q) }
func (q simQueue) Less(i, j int) bool {
	if !q[i].at.Equal(q[j].at) {
		return q[i].at.Before(q[j].at)
	}
	return q[i].seq < q[j].seq
}
func (q simQueue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *simQueue) Push(x any)   { *q = append(*q, x.(*simMsg)) }
func (q *simQueue) Pop() any {
	old := *q
	m := old[len(old)-1]
	*q = old[:len(old)-1]
	return m
}

type simNode struct {
	node   *Node
	wallet *Wallet
	// everConfirmed holds every block this node ever confirmed.
	everConfirmed map[Hash]bool
	confirmedAt   map[Hash]time.Time
	records       []Record
}

type simNet struct {
	t      testing.TB
	now    time.Time
	q      simQueue
	seq    int
	rng    *rand.Rand
	nodes  []*simNode
	side   []int // the partition side of each node
	split  bool
	forged int              // blocks or votes refused as forged or malformed
	stale  int              // blocks refused as invalid (a loser of a settled fork)
	voted  map[Account]bool // every representative that sent a vote
}

// voters returns how many representatives sent votes.
func (s *simNet) voters() int { return len(s.voted) }

func simConfig() Config {
	c := DefaultConfig()
	c.OnlineWindow = 5 * time.Second
	c.TrendPeriod = time.Hour
	c.AnswerInterval = time.Second
	c.ResendAfter, c.ResendMax = time.Second, 2*time.Second
	return c
}

// newSimNet starts n nodes, each funded with 1,000 and its own
// representative; extra allocations are appended to the genesis.
func newSimNet(t testing.TB, n int, seed uint64, extra ...Allocation) *simNet {
	return newDelegatedSimNet(t, n, n, seed, extra...)
}

// newDelegatedSimNet starts n nodes, each funded with 1,000, of which
// nodes 0..reps-1 are representatives: node i's account names node
// i mod reps, as accounts delegate to principal representatives in Nano.
// The other nodes hold no weight, so they vote on nothing.
func newDelegatedSimNet(t testing.TB, n, reps int, seed uint64, extra ...Allocation) *simNet {
	g := Genesis{Network: "sim", UnbondingEpochs: 2}
	for i := range n {
		g.Accounts = append(g.Accounts, Allocation{Account: hexAcct(i), Balance: 1000, Representative: hexAcct(i % reps)})
	}
	g.Accounts = append(g.Accounts, extra...)
	s := &simNet{t: t, now: time.Unix(1_800_000_000, 0), rng: rand.New(rand.NewPCG(seed, 1)), side: make([]int, n)}
	for i := range n {
		l, err := NewLedger(g)
		require.NoError(t, err)
		node, err := NewNode(simConfig(), l, []ed25519.PrivateKey{key(i)})
		require.NoError(t, err)
		s.nodes = append(s.nodes, &simNode{node: node, wallet: NewWallet(l, key(i)), everConfirmed: make(map[Hash]bool), confirmedAt: make(map[Hash]time.Time)})
	}
	s.schedule(&simMsg{at: s.now.Add(tickEvery), to: -1})
	return s
}

func (s *simNet) schedule(m *simMsg) {
	s.seq++
	m.seq = s.seq
	heap.Push(&s.q, m)
}

func (s *simNet) latency() time.Duration {
	return 20*time.Millisecond + time.Duration(s.rng.Int64N(int64(100*time.Millisecond)))
}

// send delivers a message from node from to node to, unless the partition
// separates them.
func (s *simNet) send(from, to int, b *Block, v *Vote) {
	if s.split && s.side[from] != s.side[to] {
		return
	}
	s.schedule(&simMsg{at: s.now.Add(s.latency()), to: to, from: from, block: b, vote: v})
}

func (s *simNet) broadcast(from int, eff Effects) {
	for _, v := range eff.Votes {
		if s.voted == nil {
			s.voted = map[Account]bool{}
		}
		s.voted[v.Rep] = true
	}
	for i := range s.nodes {
		if i == from {
			continue
		}
		for _, b := range eff.Blocks {
			s.send(from, i, &b, nil)
		}
		for _, v := range eff.Votes {
			s.send(from, i, nil, &v)
		}
	}
}

// handle carries out node i's effects: publish, record confirmations, and
// receive the confirmed sends to its account.
func (s *simNet) handle(i int, eff Effects) {
	sn := s.nodes[i]
	sn.records = append(sn.records, eff.Records...)
	s.broadcast(i, eff)
	for _, h := range eff.Confirmed {
		sn.everConfirmed[h] = true
		sn.confirmedAt[h] = s.now
		b, _ := sn.node.Ledger().Block(h)
		if b.Kind == KindSend && Account(b.Link) == sn.wallet.Account() {
			r, err := sn.wallet.Receive(h, 0)
			require.NoError(s.t, err)
			s.publish(i, r)
		}
	}
}

// publish has node i process its own block and send it to everyone.
func (s *simNet) publish(i int, b Block) {
	eff, err := s.nodes[i].node.ProcessBlock(b, s.now)
	require.NoError(s.t, err)
	eff.Blocks = append(eff.Blocks, b)
	s.handle(i, eff)
}

// inject delivers block b, made outside the network, to the nodes listed.
func (s *simNet) inject(b Block, to []int) {
	for _, i := range to {
		s.schedule(&simMsg{at: s.now.Add(s.latency()), to: i, from: -1, block: &b})
	}
}

func (s *simNet) run(d time.Duration) {
	end := s.now.Add(d)
	for s.q.Len() > 0 && !s.q[0].at.After(end) {
		m := heap.Pop(&s.q).(*simMsg)
		s.now = m.at
		if m.to == -1 {
			for i, sn := range s.nodes {
				s.handle(i, sn.node.Tick(s.now))
			}
			s.schedule(&simMsg{at: s.now.Add(tickEvery), to: -1})
			continue
		}
		n := s.nodes[m.to].node
		var eff Effects
		var err error
		if m.block != nil {
			eff, err = n.ProcessBlock(*m.block, s.now)
		} else {
			eff, err = n.ProcessVote(*m.vote, s.now)
		}
		switch {
		case err == nil, errors.Is(err, ErrDuplicate), errors.Is(err, ErrGap):
		case errors.Is(err, ErrInvalid):
			s.stale++
		default:
			s.forged++
		}
		s.handle(m.to, eff)
	}
	s.now = end
}

func (s *simNet) confirmedAnywhere(h Hash) int {
	n := 0
	for _, sn := range s.nodes {
		if sn.everConfirmed[h] {
			n++
		}
	}
	return n
}

// TestNetTransfers runs random transfers among 8 nodes: every one is
// confirmed everywhere and the supply is conserved on every node.
func TestNetTransfers(t *testing.T) {
	s := newSimNet(t, 8, 1)
	var sends []Hash
	for round := range 5 {
		for i := range s.nodes {
			to := (i + 1 + round) % len(s.nodes)
			b, err := s.nodes[i].wallet.Send(acct(to), uint64(1+round), 0)
			require.NoError(t, err)
			sends = append(sends, b.Hash())
			s.publish(i, b)
		}
		s.run(time.Second)
	}
	s.run(5 * time.Second)
	for i, sn := range s.nodes {
		l := sn.node.Ledger()
		for _, h := range sends {
			assert.True(t, l.Confirmed(h), "node %d: send %s", i, h)
		}
		conserved(t, l)
		assert.Zero(t, sn.node.Elections(), "node %d has open elections", i)
		info, _ := l.Account(acct(i))
		assert.Equal(t, uint64(1000), info.Balance, "node %d: every node sent and received 1+2+3+4+5", i)
	}
	assert.Zero(t, s.forged)
	assert.Zero(t, s.stale)
	s.checkReplay(t)
}

// TestNetDoubleSpendPartition: a double spender (without voting weight of
// its own) splits the network in two and gives each side one of two
// conflicting sends. At most one is confirmed anywhere, ever; a side
// holding no more than half of the online weight confirms neither; after
// the partition heals every node settles on the same one.
func TestNetDoubleSpendPartition(t *testing.T) {
	const nodes = 10
	tests := []struct {
		name      string
		sideA     int // nodes 0..sideA-1 are side A
		partition bool
		wantA     bool // S1 (side A's) confirmed on side A during the partition
		wantB     bool // S2 confirmed on side B during the partition
	}{
		{"even split: neither side confirms", 5, true, false, false},
		{"majority A", 6, true, true, false},
		{"majority B", 4, true, false, true},
		{"large majority A", 8, true, true, false},
		{"no partition, racing sends", 5, false, false, false},
	}
	for ti, tt := range tests {
		for seed := uint64(1); seed <= 2; seed++ {
			t.Run(fmt.Sprintf("%s/seed%d", tt.name, seed), func(t *testing.T) {
				spender := nodes
				// The spender's weight goes to representative 0, on side A: so
				// small that it cannot tip the even split.
				s := newSimNet(t, nodes, seed*100+uint64(ti), Allocation{Account: hexAcct(spender), Balance: 10, Representative: hexAcct(0)})
				// Warm up: everyone transfers, so every representative votes
				// and the trend learns the online weight.
				for i := range s.nodes {
					b, err := s.nodes[i].wallet.Send(acct((i+1)%nodes), 1, 0)
					require.NoError(t, err)
					s.publish(i, b)
				}
				s.run(3 * time.Second)

				var a, b []int
				for i := range nodes {
					if i < tt.sideA {
						a = append(a, i)
					} else {
						s.side[i] = 1
						b = append(b, i)
					}
				}
				s.split = tt.partition
				spend := NewWallet(s.nodes[0].node.Ledger(), key(spender))
				s1, err := spend.Send(acct(0), 10, 0)
				require.NoError(t, err)
				s2, err := spend.Send(acct(nodes-1), 10, 0)
				require.NoError(t, err)
				require.Equal(t, s1.Previous, s2.Previous)
				h1, h2 := s1.Hash(), s2.Hash()
				s.inject(s1, a)
				s.inject(s2, b)
				s.run(4 * time.Second)

				if tt.partition {
					assert.Equal(t, tt.wantA, s.confirmedAnywhere(h1) > 0, "S1 confirmed during the partition")
					assert.Equal(t, tt.wantB, s.confirmedAnywhere(h2) > 0, "S2 confirmed during the partition")
					if tt.wantA {
						assert.Equal(t, len(a), s.confirmedAnywhere(h1), "all of side A confirms S1")
					}
					if tt.wantB {
						assert.Equal(t, len(b), s.confirmedAnywhere(h2), "all of side B confirms S2")
					}
				}
				require.False(t, s.confirmedAnywhere(h1) > 0 && s.confirmedAnywhere(h2) > 0, "both conflicting sends confirmed")

				s.split = false
				s.run(8 * time.Second)
				c1, c2 := s.confirmedAnywhere(h1), s.confirmedAnywhere(h2)
				require.False(t, c1 > 0 && c2 > 0, "both conflicting sends confirmed (%d and %d nodes)", c1, c2)
				assert.Equal(t, nodes, c1+c2, "after healing every node confirms one of them")
				if tt.wantA {
					assert.Equal(t, nodes, c1)
				}
				if tt.wantB {
					assert.Equal(t, nodes, c2)
				}
				for i, sn := range s.nodes {
					l := sn.node.Ledger()
					conserved(t, l)
					assert.Zero(t, l.Forks(), "node %d keeps an unsettled fork", i)
					assert.True(t, l.Confirmed(h1) != l.Confirmed(h2), "node %d", i)
				}
				seen := s.stale
				for _, sn := range s.nodes {
					seen += sn.node.ForksSeen()
				}
				assert.Positive(t, seen, "the conflict was seen")
				assert.Zero(t, s.forged, "no honest message is refused as forged")
				s.checkReplay(t)
			})
		}
	}
}

// checkReplay replays each node's records into a fresh ledger, as a
// restart does, and compares the result with the node's ledger.
func (s *simNet) checkReplay(t *testing.T) {
	for i, sn := range s.nodes {
		l := sn.node.Ledger()
		fresh, err := NewLedger(Genesis{Network: "sim", UnbondingEpochs: 2, Accounts: genesisAccounts(l)})
		require.NoError(t, err)
		for _, r := range sn.records {
			require.NoError(t, r.Replay(fresh), "node %d", i)
		}
		assert.Equal(t, len(l.accounts), len(fresh.accounts), "node %d", i)
		for a, st := range l.accounts {
			got, ok := fresh.Account(a)
			require.True(t, ok, "node %d", i)
			assert.Equal(t, st.AccountInfo, got, "node %d: account %s", i, a)
		}
		assert.Equal(t, l.weight, fresh.weight, "node %d", i)
	}
}

// genesisAccounts returns the genesis allocation of l.
func genesisAccounts(l *Ledger) []Allocation {
	var out []Allocation
	for _, g := range l.g.accounts {
		out = append(out, Allocation{Account: g.account.String(), Balance: g.balance, Staked: g.staked, Representative: g.rep.String()})
	}
	return out
}

// BenchmarkNetConfirm measures confirmation latency on the discrete-event
// network (virtual time: link latency 20-120 ms and the 500 ms ticks
// count, CPU time does not): every node sends to another at once, and the
// time from a send's publication to its confirmation is taken on every
// node. It reports the median and the 99th percentile, and the
// signatures verified per block.
func BenchmarkNetConfirm(b *testing.B) {
	for _, n := range []int{10, 30} {
		b.Run(fmt.Sprintf("nodes=%d", n), func(b *testing.B) {
			var lat []time.Duration
			for range b.N {
				s := newSimNet(b, n, 42)
				sent := map[Hash]time.Time{}
				for i := range s.nodes {
					blk, err := s.nodes[i].wallet.Send(acct((i+1+i%3)%n), 1, 0)
					if err != nil {
						b.Fatal(err)
					}
					sent[blk.Hash()] = s.now
					s.publish(i, blk)
				}
				s.run(10 * time.Second)
				for h, at := range sent {
					for i, sn := range s.nodes {
						c, ok := sn.confirmedAt[h]
						if !ok {
							b.Fatalf("node %d did not confirm %s", i, h)
						}
						lat = append(lat, c.Sub(at))
					}
				}
			}
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)/2].Milliseconds()), "confirm-ms-p50")
			b.ReportMetric(float64(lat[len(lat)*99/100].Milliseconds()), "confirm-ms-p99")
		})
	}
}
