package lottery

import (
	"container/heap"
	"crypto/ed25519"
	"crypto/sha256"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/stretchr/testify/require"
)

// testNet is the one discrete-event network the core's tests run on. Its
// members are States (newStateNet: the bare state machine under a fixed
// stake oracle, all running from the start) or Nodes (newNodeNet: the whole
// protocol of a node without its shell, started and stopped at scheduled
// moments). Each member has its own clock offset; messages travel with a
// random per-link latency (or as delay says); a member forwards what it
// accepts to every other member and drops what it has seen before (as
// gossipsub's seen cache does). Each Node's "driver" keeps what the
// effects ask to persist, so that a Node can stop and start again from it.
// All times given to the network are true time.
type testNet struct {
	t       *testing.T
	members []member        // nil while the member is down
	offset  []time.Duration // member clock = true time + offset
	seen    []map[[32]byte]bool
	events  eventQueue
	rng     *rand.Rand
	maxLat  time.Duration
	// delay, if set, gives the latency of data from member from (-1: the
	// test) to member to; ok false means the default random latency.
	delay func(from, to int, m *Message) (d time.Duration, ok bool)
	now   time.Time // true time
	seq   int
	// verdict and errs count every member's verdicts and the sentinel
	// errors behind them (countedErrs).
	verdict map[Verdict]int
	errs    map[error]int

	// Nodes only (newNodeNet).
	cfg   ServiceConfig
	keys  []ed25519.PrivateKey
	saved []Saved
	// observer marks the nodes that do not stand (the rest are candidates).
	observer map[int]bool
	// cfgOf, if it has node i, is node i's config instead of cfg.
	cfgOf   map[int]ServiceConfig
	starts  []int
	adopted [][]ChainAdopted
}

// member is what the network drives: a State or a Node.
type member interface {
	NextTick() time.Time
	Tick(now time.Time) []Effect
	Directory(e uint64) (*Directory, bool)
	Seed(e uint64) (Seed, bool)
	// receive hands the member a message as the gossip layer would.
	receive(now time.Time, data []byte) (Verdict, []Effect, error)
}

type stateMember struct{ *State }

func (m stateMember) receive(now time.Time, data []byte) (Verdict, []Effect, error) {
	v, err := m.Receive(now, data)
	return v, nil, err
}

type nodeMember struct {
	*Node
	t *testing.T
}

func (m nodeMember) receive(now time.Time, data []byte) (Verdict, []Effect, error) {
	msg, err := DecodeMessage(data)
	require.NoError(m.t, err, "the test network carries only well-formed messages to Nodes")
	return m.Receive(now, msg)
}

// countedErrs are the sentinel errors testNet.errs counts.
var countedErrs = []error{ErrLate, ErrEarly, ErrWrongSeed, ErrWrongEpoch, ErrEquivocation, ErrExcluded, ErrNotRelay, ErrDuplicate}

type event struct {
	at   time.Time
	seq  int
	node int
	data []byte // a message to deliver
	op   int    // 0: deliver data; opStart, opStop
}

// Event operations besides delivering data (event.op 0).
const (
	opStart = iota + 1
	opStop
)

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

func newNet(t *testing.T, size int, genesis time.Time, maxLat time.Duration, seed uint64) *testNet {
	n := &testNet{
		t: t, rng: rand.New(rand.NewPCG(seed, 11)), maxLat: maxLat,
		now: genesis.Add(-5 * time.Second), verdict: map[Verdict]int{}, errs: map[error]int{},
		observer: map[int]bool{},
	}
	for range size {
		n.members = append(n.members, nil)
		n.offset = append(n.offset, 0)
		n.seen = append(n.seen, map[[32]byte]bool{})
		n.saved = append(n.saved, Saved{})
		n.adopted = append(n.adopted, nil)
		n.starts = append(n.starts, 0)
	}
	return n
}

// newStateNet returns a network of one State per key under cfg and stake,
// all running from the start, with the given clock offsets (nil: none).
func newStateNet(t *testing.T, cfg Config, keys []ed25519.PrivateKey, stake StakeOracle, offsets []time.Duration, maxLat time.Duration, seed uint64) *testNet {
	n := newNet(t, len(keys), cfg.Genesis, maxLat, seed)
	copy(n.offset, offsets)
	for i, k := range keys {
		s, err := New(cfg, stake, k, GenesisCheckpoint(cfg), detRandSeq(i))
		require.NoError(t, err)
		n.members[i] = stateMember{s}
	}
	return n
}

// newNodeNet returns a network of one Node per key under cfg, none started
// yet (start schedules them), all candidates unless marked in observer.
func newNodeNet(t *testing.T, cfg ServiceConfig, keys []ed25519.PrivateKey, maxLat time.Duration, seed uint64) *testNet {
	n := newNet(t, len(keys), cfg.Genesis, maxLat, seed)
	n.cfg, n.keys = cfg, keys
	return n
}

// detRandSeq is a reproducible, effectively endless random stream per node.
func detRandSeq(i int) *rand.ChaCha8 {
	var s [32]byte
	s[0], s[1] = byte(i), byte(i>>8)
	return rand.NewChaCha8(s)
}

// state returns member i, which must be a State.
func (n *testNet) state(i int) *State { return n.members[i].(stateMember).State }

// node returns member i, which must be a running Node.
func (n *testNet) node(i int) *Node { return n.members[i].(nodeMember).Node }

// up reports whether member i is running.
func (n *testNet) up(i int) bool { return n.members[i] != nil }

// peerIDs returns the peer IDs of the keys of nodes.
func (n *testNet) peerIDs(nodes ...int) []peer.ID {
	out := make([]peer.ID, len(nodes))
	for k, i := range nodes {
		id, err := keyPeerID(pubOf(n.keys[i]))
		require.NoError(n.t, err)
		out[k] = id
	}
	return out
}

func (n *testNet) local(i int) time.Time { return n.now.Add(n.offset[i]) }

func (n *testNet) push(ev event) {
	n.seq++
	ev.seq = n.seq
	heap.Push(&n.events, ev)
}

// start schedules node i to start at true time at, or to restart from what
// it persisted (as a new process would: a new Node).
func (n *testNet) start(i int, at time.Time) { n.push(event{at: at, node: i, op: opStart}) }

// stop schedules node i to stop at true time at: it loses what was in
// flight to it and its seen cache, and keeps what it persisted.
func (n *testNet) stop(i int, at time.Time) { n.push(event{at: at, node: i, op: opStop}) }

// inject delivers data to member to at true time at, as if from outside.
func (n *testNet) inject(to int, at time.Time, data []byte) {
	n.push(event{at: at, node: to, data: data})
}

// send delivers data from member from (-1: an outside attacker) to member
// to after a random latency, or as delay says.
func (n *testNet) send(from, to int, data []byte) {
	lat := time.Duration(0)
	if n.maxLat > 0 {
		lat = time.Duration(n.rng.Int64N(int64(n.maxLat)))
	}
	if n.delay != nil {
		if m, err := DecodeMessage(data); err == nil {
			if d, ok := n.delay(from, to, m); ok {
				lat = d
			}
		}
	}
	n.push(event{at: n.now.Add(lat), node: to, data: data})
}

func (n *testNet) broadcast(from int, data []byte) {
	for j := range n.members {
		if j != from {
			n.send(from, j, data)
		}
	}
}

// run processes events and ticks until true time until, then ticks every
// running member at until.
func (n *testNet) run(until time.Time) {
	for {
		next, who := time.Time{}, -1
		for i, m := range n.members {
			if m == nil {
				continue
			}
			at := m.NextTick().Add(-n.offset[i])
			if who < 0 || at.Before(next) {
				next, who = at, i
			}
		}
		if who >= 0 && next.Before(n.now) {
			next = n.now
		}
		if n.events.Len() > 0 && (who < 0 || !n.events[0].at.After(next)) {
			ev := heap.Pop(&n.events).(event)
			if ev.at.After(until) {
				heap.Push(&n.events, ev)
				break
			}
			n.now = ev.at
			n.handle(ev)
			continue
		}
		if who < 0 || next.After(until) {
			break
		}
		n.now = next
		n.tick(who)
	}
	n.now = until
	for i := range n.members {
		if n.up(i) {
			n.tick(i)
		}
	}
}

func (n *testNet) handle(ev event) {
	i := ev.node
	switch ev.op {
	case opStart:
		require.NotNil(n.t, n.keys, "only Nodes start and stop")
		cfg := n.cfg
		if c, ok := n.cfgOf[i]; ok {
			cfg = c
		}
		cfg.Candidate = !n.observer[i]
		n.starts[i]++
		nd, err := NewNode(cfg, NodeOptions{Identity: n.keys[i], Rand: detRandSeq(i + 1000*n.starts[i])})
		require.NoError(n.t, err)
		require.NoError(n.t, nd.Start(n.local(i), n.saved[i]))
		n.members[i], n.seen[i] = nodeMember{nd, n.t}, map[[32]byte]bool{}
		if data := nd.Republish(n.local(i)); data != nil {
			n.seen[i][sha256.Sum256(data)] = true
			n.broadcast(i, data)
		}
	case opStop:
		if n.up(i) {
			snap := n.node(i).Snapshot(n.local(i))
			n.saved[i].Snapshot = &snap
			n.members[i] = nil
		}
	default:
		n.deliver(i, ev.data)
	}
}

// persist does what an effect asks the driver to keep.
func (n *testNet) persist(i int, eff Effect) {
	switch e := eff.(type) {
	case Record:
		n.saved[i].Log = append(n.saved[i].Log, e)
	case PublishClaim:
		n.saved[i].Own = append(n.saved[i].Own, OwnClaim{At: n.local(i), Data: e.Data, Claim: e.Claim, MixKey: e.MixKey})
	}
}

func (n *testNet) tick(i int) {
	for _, eff := range n.members[i].Tick(n.local(i)) {
		n.persist(i, eff)
		switch e := eff.(type) {
		case PublishClaim:
			n.seen[i][sha256.Sum256(e.Data)] = true
			n.broadcast(i, e.Data)
		case PublishReveal:
			n.seen[i][sha256.Sum256(e.Data)] = true
			n.broadcast(i, e.Data)
		case PublishCandidacy:
			// As gossip's local validation does: the node's own
			// candidacy goes through its own checks, into its own book.
			n.deliver(i, e.Data)
		case ChainAdopted:
			n.adopted[i] = append(n.adopted[i], e)
		case ClaimFailed:
			n.t.Errorf("member %d: %v", i, e.Err)
		}
	}
	if m, ok := n.members[i].(nodeMember); ok {
		snap := m.Snapshot(n.local(i))
		n.saved[i].Snapshot = &snap
	}
}

func (n *testNet) deliver(i int, data []byte) {
	if !n.up(i) {
		return
	}
	h := sha256.Sum256(data)
	if n.seen[i][h] {
		return
	}
	n.seen[i][h] = true
	v, effs, err := n.members[i].receive(n.local(i), data)
	n.verdict[v]++
	for _, s := range countedErrs {
		if err != nil && errorsIs(err, s) {
			n.errs[s]++
		}
	}
	for _, eff := range effs {
		n.persist(i, eff)
	}
	if v == Accept {
		n.broadcast(i, data)
	}
}

// all returns every member's index.
func (n *testNet) all() []int { return span(0, len(n.members)) }

// digests returns the directory digest of epoch e on each of members (all
// when none are given).
func (n *testNet) digests(e uint64, members ...int) map[[DigestSize]byte][]int {
	if len(members) == 0 {
		members = n.all()
	}
	out := map[[DigestSize]byte][]int{}
	for _, i := range members {
		d, ok := n.members[i].Directory(e)
		require.True(n.t, ok, "member %d: directory %d", i, e)
		out[d.Digest()] = append(out[d.Digest()], i)
	}
	return out
}

// seeds returns the seed of epoch e on each of members (all when none are
// given).
func (n *testNet) seeds(e uint64, members ...int) map[Seed][]int {
	if len(members) == 0 {
		members = n.all()
	}
	out := map[Seed][]int{}
	for _, i := range members {
		s, ok := n.members[i].Seed(e)
		require.True(n.t, ok, "member %d: seed %d", i, e)
		out[s] = append(out[s], i)
	}
	return out
}

// span returns the member indexes [from, to).
func span(from, to int) []int {
	out := make([]int, 0, to-from)
	for i := from; i < to; i++ {
		out = append(out, i)
	}
	return out
}

// requireAgree requires members to hold one directory and one seed of
// epoch e.
func requireAgree(t *testing.T, net *testNet, e uint64, members []int) {
	t.Helper()
	ds := net.digests(e, members...)
	require.Len(t, ds, 1, "epoch %d: directories %v", e, ds)
	require.Len(t, net.seeds(e, members...), 1, "epoch %d seeds", e)
}

// nodeConfig is SimServiceConfig with the tests' genesis: 10-second
// epochs, a 4-second claim window, 2-second reveals, 50 ms skew.
func nodeConfig() ServiceConfig {
	c := SimServiceConfig()
	c.Config = testConfig()
	return c
}
