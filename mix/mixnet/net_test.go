package mixnet

import (
	"container/heap"
	"crypto/ecdh"
	"crypto/ed25519"
	"encoding/binary"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// testNet is a discrete-event network of Nodes on virtual time: frames
// take a fixed link latency, each node is ticked at its NextTick, and the
// effects are carried out as a shell would.
type testNet struct {
	t       testing.TB
	now     time.Time
	latency time.Duration
	nodes   []*Node
	byID    map[NodeID]*Node
	dead    map[NodeID]bool           // frames to these vanish
	tamper  func(to NodeID, f []byte) // may change a frame in flight
	events  eventHeap
	seq     uint64
	inbox   map[NodeID][]Inbound
	acked   map[MsgID]Acked
	failed  map[MsgID]Failed
	tags    map[uint64]int // PersistTag effects per epoch
	frames  int            // frames carried
	relays  []Relay
	keys    map[NodeID]*ecdh.PrivateKey
}

type event struct {
	at    time.Time
	seq   uint64
	to    *Node
	frame []byte // nil: a tick
}

type eventHeap []event

func (h eventHeap) Len() int { return len(h) }
func (h eventHeap) Less(i, j int) bool {
	if !h[i].at.Equal(h[j].at) {
		return h[i].at.Before(h[j].at)
	}
	return h[i].seq < h[j].seq
}
func (h eventHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *eventHeap) Push(x any)   { *h = append(*h, x.(event)) }
func (h *eventHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// newTestNet makes n nodes; the first relaysPerLayer*cfg.Layers of them
// are relays of epoch 1, relaysPerLayer in each layer.
func newTestNet(t testing.TB, cfg Config, n, relaysPerLayer int, seed uint64) *testNet {
	t.Helper()
	tn := &testNet{
		t: t, now: time.Unix(1_000_000, 0), latency: time.Millisecond,
		byID: map[NodeID]*Node{}, dead: map[NodeID]bool{}, inbox: map[NodeID][]Inbound{},
		acked: map[MsgID]Acked{}, failed: map[MsgID]Failed{}, tags: map[uint64]int{},
		keys: map[NodeID]*ecdh.PrivateKey{},
	}
	rng := rand.New(rand.NewPCG(seed, 1))
	for i := range n {
		var s [32]byte
		binary.LittleEndian.PutUint64(s[:], seed)
		binary.LittleEndian.PutUint64(s[8:], uint64(i))
		sk := ed25519.NewKeyFromSeed(s[:])
		nd, err := NewNode(cfg, sk, rand.NewChaCha8(s))
		require.NoError(t, err)
		tn.nodes = append(tn.nodes, nd)
		tn.byID[nd.ID()] = nd
	}
	for i := range relaysPerLayer * cfg.Layers {
		var kb [32]byte
		for j := range kb {
			kb[j] = byte(rng.Uint32())
		}
		k, err := ecdh.X25519().NewPrivateKey(kb[:])
		require.NoError(t, err)
		r := Relay{ID: tn.nodes[i].ID(), Layer: i % cfg.Layers, Seats: uint64(1 + i%2)}
		copy(r.MixKey[:], k.PublicKey().Bytes())
		tn.relays = append(tn.relays, r)
		tn.keys[r.ID] = k
		tn.nodes[i].SetRelayKey(1, r.Layer, k, nil)
	}
	for _, nd := range tn.nodes {
		nd.SetDirectory(1, tn.relays)
		tn.apply(nd, nd.Tick(tn.now))
	}
	return tn
}

func (tn *testNet) push(at time.Time, to *Node, f []byte) {
	tn.seq++
	heap.Push(&tn.events, event{at: at, seq: tn.seq, to: to, frame: f})
}

// apply carries out a node's effects.
func (tn *testNet) apply(from *Node, eff []Effect) {
	for _, e := range eff {
		switch e := e.(type) {
		case Transmit:
			require.NoError(tn.t, e.Seal())
			to := tn.byID[e.To]
			require.NotNil(tn.t, to, "a frame to an unknown node")
			tn.frames++
			if tn.dead[e.To] {
				continue
			}
			f := append([]byte(nil), e.Frame...)
			if tn.tamper != nil {
				tn.tamper(e.To, f)
			}
			tn.push(tn.now.Add(tn.latency), to, f)
		case Deliver:
			tn.inbox[from.ID()] = append(tn.inbox[from.ID()], e.Message)
		case Acked:
			tn.acked[e.ID] = e
		case Failed:
			tn.failed[e.ID] = e
		case PersistTag:
			tn.tags[e.Epoch]++
		default:
			tn.t.Fatalf("unknown effect %T", e)
		}
	}
	if nt := from.NextTick(); !nt.IsZero() && nt.Before(never) {
		tn.push(nt, from, nil)
	}
}

// run carries events until the virtual clock reaches until.
func (tn *testNet) run(d time.Duration) {
	until := tn.now.Add(d)
	for tn.events.Len() > 0 && !tn.events[0].at.After(until) {
		ev := heap.Pop(&tn.events).(event)
		tn.now = ev.at
		if ev.frame == nil {
			if ev.to.NextTick().After(tn.now) {
				continue // a stale wake-up
			}
			tn.apply(ev.to, ev.to.Tick(tn.now))
			continue
		}
		if tn.dead[ev.to.ID()] {
			continue
		}
		tn.apply(ev.to, ev.to.Receive(tn.now, ev.frame))
	}
	tn.now = until
}

func (tn *testNet) send(from, to int, body string, o SendOptions) MsgID {
	tn.t.Helper()
	id, eff, err := tn.nodes[from].Send(tn.now, tn.nodes[to].ID(), []byte(body), o)
	require.NoError(tn.t, err)
	tn.apply(tn.nodes[from], eff)
	return id
}
