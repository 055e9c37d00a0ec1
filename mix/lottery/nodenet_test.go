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

// nodeNet is a discrete-event network of Nodes, the whole protocol of each
// node without its shell: every node has its own clock offset, messages
// travel with a random per-link latency (or as delay says), a node forwards
// what it accepts to every other node and drops what it has seen before
// (as gossipsub does), and each node's "driver" keeps what the effects ask
// to persist, so that a node can stop and start again from it. Nodes start
// and stop at scheduled moments of true time.
type nodeNet struct {
	t      *testing.T
	cfg    ServiceConfig
	keys   []ed25519.PrivateKey
	nodes  []*Node
	up     []bool
	offset []time.Duration // node clock = true time + offset
	seen   []map[[32]byte]bool
	saved  []Saved
	events eventQueue
	rng    *rand.Rand
	maxLat time.Duration
	// delay, if set, gives the latency of data from node from (-1: the
	// test) to node to; ok false means the default random latency.
	delay   func(from, to int, m *Message) (d time.Duration, ok bool)
	now     time.Time // true time
	seq     int
	adopted [][]ChainAdopted
	// observer marks the nodes that do not stand (the rest are candidates).
	observer map[int]bool
	starts   []int
}

// Event operations besides delivering data (event.op 0).
const (
	opStart = iota + 1
	opStop
)

// newNodeNet returns a network of one Node per key under cfg, none started
// yet (start schedules them), all candidates unless marked in observer.
func newNodeNet(t *testing.T, cfg ServiceConfig, keys []ed25519.PrivateKey, maxLat time.Duration, seed uint64) *nodeNet {
	n := &nodeNet{
		t: t, cfg: cfg, keys: keys, rng: rand.New(rand.NewPCG(seed, 11)), maxLat: maxLat,
		now: cfg.Genesis.Add(-5 * time.Second), observer: map[int]bool{},
	}
	for range keys {
		n.nodes = append(n.nodes, nil)
		n.up = append(n.up, false)
		n.offset = append(n.offset, 0)
		n.seen = append(n.seen, map[[32]byte]bool{})
		n.saved = append(n.saved, Saved{})
		n.adopted = append(n.adopted, nil)
		n.starts = append(n.starts, 0)
	}
	return n
}

// peerIDs returns the peer IDs of the keys of nodes.
func (n *nodeNet) peerIDs(nodes ...int) []peer.ID {
	out := make([]peer.ID, len(nodes))
	for k, i := range nodes {
		id, err := keyPeerID(pubOf(n.keys[i]))
		require.NoError(n.t, err)
		out[k] = id
	}
	return out
}

func (n *nodeNet) local(i int) time.Time { return n.now.Add(n.offset[i]) }

func (n *nodeNet) push(ev event) {
	n.seq++
	ev.seq = n.seq
	heap.Push(&n.events, ev)
}

// start schedules node i to start at true time at, or to restart from what
// it persisted (as a new process would: a new Node).
func (n *nodeNet) start(i int, at time.Time) { n.push(event{at: at, node: i, op: opStart}) }

// stop schedules node i to stop at true time at: it loses what was in
// flight to it and its seen cache, and keeps what it persisted.
func (n *nodeNet) stop(i int, at time.Time) { n.push(event{at: at, node: i, op: opStop}) }

// inject delivers data to node to at true time at, as if from outside.
func (n *nodeNet) inject(to int, at time.Time, data []byte) {
	n.push(event{at: at, node: to, data: data})
}

func (n *nodeNet) send(from, to int, data []byte) {
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

func (n *nodeNet) broadcast(from int, data []byte) {
	for j := range n.nodes {
		if j != from {
			n.send(from, j, data)
		}
	}
}

// run processes events and ticks until true time until.
func (n *nodeNet) run(until time.Time) {
	for {
		next, who := time.Time{}, -1
		for i, nd := range n.nodes {
			if !n.up[i] {
				continue
			}
			at := nd.NextTick().Add(-n.offset[i])
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
	for i := range n.nodes {
		if n.up[i] {
			n.tick(i)
		}
	}
}

func (n *nodeNet) handle(ev event) {
	i := ev.node
	switch ev.op {
	case opStart:
		cfg := n.cfg
		cfg.Candidate = !n.observer[i]
		n.starts[i]++
		nd, err := NewNode(cfg, NodeOptions{Identity: n.keys[i], Rand: detRandSeq(i + 1000*n.starts[i])})
		require.NoError(n.t, err)
		require.NoError(n.t, nd.Start(n.local(i), n.saved[i]))
		n.nodes[i], n.up[i], n.seen[i] = nd, true, map[[32]byte]bool{}
		if data := nd.Republish(n.local(i)); data != nil {
			n.seen[i][sha256.Sum256(data)] = true
			n.broadcast(i, data)
		}
	case opStop:
		if n.up[i] {
			snap := n.nodes[i].Snapshot(n.local(i))
			n.saved[i].Snapshot = &snap
			n.up[i] = false
		}
	default:
		n.deliver(i, ev.data)
	}
}

// persist does what an effect asks the driver to keep.
func (n *nodeNet) persist(i int, eff Effect) {
	switch e := eff.(type) {
	case Record:
		n.saved[i].Log = append(n.saved[i].Log, e)
	case PublishClaim:
		n.saved[i].Own = append(n.saved[i].Own, OwnClaim{At: n.local(i), Data: e.Data, Claim: e.Claim, MixKey: e.MixKey})
	}
}

func (n *nodeNet) tick(i int) {
	for _, eff := range n.nodes[i].Tick(n.local(i)) {
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
			n.t.Errorf("node %d: %v", i, e.Err)
		}
	}
	snap := n.nodes[i].Snapshot(n.local(i))
	n.saved[i].Snapshot = &snap
}

func (n *nodeNet) deliver(i int, data []byte) {
	if !n.up[i] {
		return
	}
	h := sha256.Sum256(data)
	if n.seen[i][h] {
		return
	}
	n.seen[i][h] = true
	m, err := DecodeMessage(data)
	require.NoError(n.t, err, "the test network carries only well-formed messages")
	v, effs, _ := n.nodes[i].Receive(n.local(i), m)
	for _, eff := range effs {
		n.persist(i, eff)
	}
	if v == Accept {
		n.broadcast(i, data)
	}
}

// digests returns the directory digest of epoch e on each of nodes.
func (n *nodeNet) digests(e uint64, nodes ...int) map[[DigestSize]byte][]int {
	out := map[[DigestSize]byte][]int{}
	for _, i := range nodes {
		d, ok := n.nodes[i].Directory(e)
		require.True(n.t, ok, "node %d: directory %d", i, e)
		out[d.Digest()] = append(out[d.Digest()], i)
	}
	return out
}

// seeds returns the seed of epoch e on each of nodes.
func (n *nodeNet) seeds(e uint64, nodes ...int) map[Seed][]int {
	out := map[Seed][]int{}
	for _, i := range nodes {
		s, ok := n.nodes[i].Seed(e)
		require.True(n.t, ok, "node %d: seed %d", i, e)
		out[s] = append(out[s], i)
	}
	return out
}

// nodeConfig is SimServiceConfig with the tests' genesis: 10-second
// epochs, a 4-second claim window, 2-second reveals, 50 ms skew.
func nodeConfig() ServiceConfig {
	c := SimServiceConfig()
	c.Config = testConfig()
	return c
}
