package lottery

import (
	"container/heap"
	"crypto/ed25519"
	"crypto/sha256"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// testNet is a discrete-event network of States for tests: each node has its
// own clock offset, messages travel with a random per-link latency, and a
// node forwards what it accepts to every other node, dropping what it has
// seen before (as gossipsub's seen cache does).
type testNet struct {
	t       *testing.T
	cfg     Config
	nodes   []*State
	offset  []time.Duration // node clock = true time + offset
	seen    []map[[32]byte]bool
	events  eventQueue
	rng     *rand.Rand
	maxLat  time.Duration
	now     time.Time // true time
	seq     int
	verdict map[Verdict]int
	errs    map[error]int
}

type event struct {
	at   time.Time
	seq  int
	node int
	data []byte // a message to deliver
	op   int    // 0: deliver data; nodeNet's opStart, opStop
}

type eventQueue []event

func (q eventQueue) Len() int { return len(q) }
func (q eventQueue) Less(i, j int) bool {
	if !q[i].at.Equal(q[j].at) {
		return q[i].at.Before(q[j].at)
	}
	return q[i].seq < q[j].seq
}
func (q eventQueue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *eventQueue) Push(x any)   { *q = append(*q, x.(event)) }
func (q *eventQueue) Pop() any {
	old := *q
	e := old[len(old)-1]
	*q = old[:len(old)-1]
	return e
}

func newTestNet(t *testing.T, cfg Config, keys []ed25519.PrivateKey, stake StakeOracle, offsets []time.Duration, maxLat time.Duration, seed uint64) *testNet {
	n := &testNet{
		t: t, cfg: cfg, offset: offsets, rng: rand.New(rand.NewPCG(seed, 7)), maxLat: maxLat,
		now: cfg.Genesis.Add(-time.Second), verdict: map[Verdict]int{}, errs: map[error]int{},
	}
	for i, k := range keys {
		s, err := New(cfg, stake, k, GenesisCheckpoint(cfg), detRandSeq(i))
		require.NoError(t, err)
		n.nodes = append(n.nodes, s)
		n.seen = append(n.seen, map[[32]byte]bool{})
		if n.offset == nil || len(n.offset) <= i {
			n.offset = append(n.offset, 0)
		}
	}
	return n
}

// detRandSeq is a reproducible, effectively endless random stream per node.
func detRandSeq(i int) *rand.ChaCha8 {
	var s [32]byte
	s[0], s[1] = byte(i), byte(i>>8)
	return rand.NewChaCha8(s)
}

func (n *testNet) local(i int) time.Time { return n.now.Add(n.offset[i]) }

func (n *testNet) push(at time.Time, node int, data []byte) {
	n.seq++
	heap.Push(&n.events, event{at: at, seq: n.seq, node: node, data: data})
}

// send delivers data from node `from` (-1: an outside attacker) to `to`
// after a random latency.
func (n *testNet) send(from, to int, data []byte) {
	lat := time.Duration(0)
	if n.maxLat > 0 {
		lat = time.Duration(n.rng.Int64N(int64(n.maxLat)))
	}
	n.push(n.now.Add(lat), to, data)
}

func (n *testNet) broadcast(from int, data []byte) {
	for j := range n.nodes {
		if j != from {
			n.send(from, j, data)
		}
	}
}

// run processes events until true time `until`.
func (n *testNet) run(until time.Time) {
	for {
		// Schedule each node's next tick if it is earlier than anything queued
		// for it; ticks are cheap, so simply queue every node's next tick.
		next, who := time.Time{}, -1
		for i, s := range n.nodes {
			at := s.NextTick().Add(-n.offset[i])
			if who < 0 || at.Before(next) {
				next, who = at, i
			}
		}
		if next.Before(n.now) {
			next = n.now
		}
		if n.events.Len() > 0 && !n.events[0].at.After(next) {
			ev := heap.Pop(&n.events).(event)
			if ev.at.After(until) {
				heap.Push(&n.events, ev)
				n.now = until
				return
			}
			n.now = ev.at
			n.deliver(ev.node, ev.data)
			continue
		}
		if next.After(until) {
			n.now = until
			n.tickAll()
			return
		}
		n.now = next
		n.tick(who)
	}
}

func (n *testNet) tickAll() {
	for i := range n.nodes {
		n.tick(i)
	}
}

func (n *testNet) tick(i int) {
	effs := n.nodes[i].Tick(n.local(i))
	for _, e := range effs {
		switch e := e.(type) {
		case PublishClaim:
			n.seen[i][sha256.Sum256(e.Data)] = true
			n.broadcast(i, e.Data)
		case PublishReveal:
			n.seen[i][sha256.Sum256(e.Data)] = true
			n.broadcast(i, e.Data)
		case ClaimFailed:
			n.t.Errorf("node %d: %v", i, e.Err)
		}
	}
}

func (n *testNet) deliver(i int, data []byte) {
	h := sha256.Sum256(data)
	if n.seen[i][h] {
		return
	}
	n.seen[i][h] = true
	v, err := n.nodes[i].Receive(n.local(i), data)
	n.verdict[v]++
	for _, s := range []error{ErrLate, ErrEarly, ErrWrongSeed, ErrWrongEpoch, ErrEquivocation, ErrExcluded, ErrNotRelay, ErrDuplicate} {
		if err != nil && errorsIs(err, s) {
			n.errs[s]++
		}
	}
	if v == Accept {
		n.broadcast(i, data)
	}
}

// digests returns each node's directory digest for epoch e.
func (n *testNet) digests(e uint64) map[[DigestSize]byte]int {
	out := map[[DigestSize]byte]int{}
	for _, s := range n.nodes {
		d, ok := s.Directory(e)
		require.True(n.t, ok, "directory %d", e)
		out[d.Digest()]++
	}
	return out
}

func (n *testNet) seeds(e uint64) map[Seed]int {
	out := map[Seed]int{}
	for _, s := range n.nodes {
		seed, ok := s.Seed(e)
		require.True(n.t, ok, "seed %d", e)
		out[seed]++
	}
	return out
}
