package files

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"time"

	bsmsg "github.com/ipfs/boxo/bitswap/message"
	iface "github.com/ipfs/boxo/bitswap/network"
	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"

	"github.com/fog-compute/fog/internal/clock"
	"github.com/fog-compute/fog/p2p"
)

// maxAsked bounds the CIDs the guard remembers as asked for: a want older
// than this many later wants is forgotten, and a block for it then counts
// against its sender. At 256 KiB a block, 128 Ki wants are 32 GiB of
// blocks asked for since: no honest reply comes that late.
const maxAsked = 1 << 17

// PeerScore is what a Service holds against one Bitswap peer.
type PeerScore struct {
	// Peer is the peer.
	Peer peer.ID `json:"peer"`
	// Blocks counts the blocks it sent that this node had asked for; Bad
	// those it had not (bytes that match no CID asked for).
	Blocks uint64 `json:"blocks"`
	Bad    int    `json:"bad"`
	// Score is Blocks less 100 per bad block: negative once it cheated.
	Score int64 `json:"score"`
	// DroppedUntil is when a dropped peer is heard again (zero: never
	// dropped, or no longer).
	DroppedUntil time.Time `json:"dropped_until,omitzero"`
}

type peerState struct {
	blocks       uint64
	bad          int
	droppedUntil time.Time
}

// guard stands between boxo's Bitswap and its libp2p network. It
// remembers every CID this node wanted; since Bitswap computes a received
// block's CID from its bytes, a block whose CID was never wanted is bytes
// that match nothing asked for, and counts against its sender. A peer with
// MaxBadBlocks of them is dropped: the Bitswap client and server are told
// it disconnected (so every session forgets it), its connections are
// closed, and its messages and connections are ignored for DropFor.
type guard struct {
	clk     clock.Clock
	maxBad  int
	dropFor time.Duration
	h       host.Host
	log     *slog.Logger
	onBad   func(peer.ID, string)

	mu        sync.Mutex
	asked     map[cid.Cid]struct{}
	order     []cid.Cid // ring of asked, oldest at next
	next      int
	peers     map[peer.ID]*peerState
	receivers []iface.Receiver
	watchers  map[*watcher]struct{}
	onSent    func(peer.ID, bsmsg.BitSwapMessage) // benchmarks: sees each message with wants sent
}

// watcher sees the wanted blocks that arrive while it is registered.
type watcher struct {
	f func(p peer.ID, c cid.Cid, n int)
}

func newGuard(cfg Config, h host.Host, log *slog.Logger, onBad func(peer.ID, string)) *guard {
	return &guard{
		clk: cfg.Clock, maxBad: cfg.MaxBadBlocks, dropFor: cfg.DropFor, h: h, log: log, onBad: onBad,
		asked: make(map[cid.Cid]struct{}), peers: make(map[peer.ID]*peerState),
		watchers: make(map[*watcher]struct{}),
	}
}

// watch registers f until the returned function is called.
func (g *guard) watch(f func(p peer.ID, c cid.Cid, n int)) (stop func()) {
	w := &watcher{f}
	g.mu.Lock()
	g.watchers[w] = struct{}{}
	g.mu.Unlock()
	return func() {
		g.mu.Lock()
		delete(g.watchers, w)
		g.mu.Unlock()
	}
}

// noteWants remembers the CIDs m, sent to p, asks for.
func (g *guard) noteWants(p peer.ID, m bsmsg.BitSwapMessage) {
	wl := m.Wantlist()
	if len(wl) == 0 {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.onSent != nil {
		g.onSent(p, m)
	}
	for _, e := range wl {
		if e.Cancel {
			continue
		}
		if _, ok := g.asked[e.Cid]; ok {
			continue
		}
		if len(g.order) < maxAsked {
			g.order = append(g.order, e.Cid)
		} else {
			delete(g.asked, g.order[g.next])
			g.order[g.next] = e.Cid
			g.next = (g.next + 1) % maxAsked
		}
		g.asked[e.Cid] = struct{}{}
	}
}

// dropped reports whether p's messages are ignored now.
func (g *guard) dropped(p peer.ID) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	st := g.peers[p]
	return st != nil && g.clk.Now().Before(st.droppedUntil)
}

// check scores the blocks of m from p and reports whether p is to be
// dropped now.
func (g *guard) check(p peer.ID, m bsmsg.BitSwapMessage) bool {
	blks := m.Blocks()
	if len(blks) == 0 {
		return false
	}
	g.mu.Lock()
	st := g.peers[p]
	if st == nil {
		st = &peerState{}
		g.peers[p] = st
	}
	var good []int
	bad := 0
	for i, b := range blks {
		if _, ok := g.asked[b.Cid()]; ok {
			st.blocks++
			good = append(good, i)
		} else {
			bad++
		}
	}
	st.bad += bad
	drop := bad > 0 && st.bad >= g.maxBad
	if drop {
		st.droppedUntil = g.clk.Now().Add(g.dropFor)
		st.bad = 0 // a peer heard again starts afresh, but its score stays low
		st.blocks = 0
	}
	ws := make([]*watcher, 0, len(g.watchers))
	for w := range g.watchers {
		ws = append(ws, w)
	}
	g.mu.Unlock()
	if !drop {
		for _, i := range good {
			for _, w := range ws {
				w.f(p, blks[i].Cid(), len(blks[i].RawData()))
			}
		}
	}
	if bad > 0 {
		g.log.Warn("peer sent blocks that were not asked for", "peer", p, "blocks", bad, "dropped", drop)
	}
	return drop
}

// drop makes the Bitswap client and server forget p and closes its
// connections.
func (g *guard) drop(p peer.ID) {
	g.mu.Lock()
	rs := slices.Clone(g.receivers)
	g.mu.Unlock()
	for _, r := range rs {
		r.PeerDisconnected(p)
	}
	_ = g.h.Network().ClosePeer(p)
	if g.onBad != nil {
		g.onBad(p, "sent Bitswap blocks that match no CID asked for")
	}
}

// scores returns the peers' scores, worst first.
func (g *guard) scores() []PeerScore {
	g.mu.Lock()
	defer g.mu.Unlock()
	now := g.clk.Now()
	out := make([]PeerScore, 0, len(g.peers))
	for p, st := range g.peers {
		ps := PeerScore{Peer: p, Blocks: st.blocks, Bad: st.bad, Score: int64(st.blocks) - 100*int64(st.bad)}
		if now.Before(st.droppedUntil) {
			ps.DroppedUntil = st.droppedUntil
			ps.Score = min(ps.Score, -100*int64(g.maxBad))
		}
		out = append(out, ps)
	}
	slices.SortFunc(out, func(a, b PeerScore) int {
		if a.Score != b.Score {
			if a.Score < b.Score {
				return -1
			}
			return 1
		}
		return compareIDs(a.Peer, b.Peer)
	})
	return out
}

func compareIDs(a, b peer.ID) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// guardNet is boxo's libp2p Bitswap network seen through the guard.
type guardNet struct {
	iface.BitSwapNetwork
	g   *guard
	evm *iface.ConnectEventManager // the one the network was built with
}

// Start starts the network with the receivers behind the guard.
func (n *guardNet) Start(rs ...iface.Receiver) {
	wrapped := make([]iface.Receiver, len(rs))
	for i, r := range rs {
		wrapped[i] = &guardReceiver{Receiver: r, g: n.g}
	}
	n.g.mu.Lock()
	n.g.receivers = append(n.g.receivers, rs...)
	n.g.mu.Unlock()
	n.BitSwapNetwork.Start(wrapped...)
	// boxo's network hears of connections made from now on; the node's
	// host has been connecting since before (bootstrap peers), and a peer
	// Bitswap never heard of is never asked.
	for _, p := range n.g.h.Network().Peers() {
		n.evm.Connected(p)
	}
}

// SendMessage notes the wants of m and sends it.
func (n *guardNet) SendMessage(ctx context.Context, p peer.ID, m bsmsg.BitSwapMessage) error {
	n.g.noteWants(p, m)
	return n.BitSwapNetwork.SendMessage(ctx, p, m)
}

// NewMessageSender returns a sender whose messages' wants are noted.
func (n *guardNet) NewMessageSender(ctx context.Context, p peer.ID, o *iface.MessageSenderOpts) (iface.MessageSender, error) {
	s, err := n.BitSwapNetwork.NewMessageSender(ctx, p, o)
	if err != nil {
		return nil, err
	}
	return &guardSender{MessageSender: s, g: n.g, p: p}, nil
}

type guardSender struct {
	iface.MessageSender
	g *guard
	p peer.ID
}

func (s *guardSender) SendMsg(ctx context.Context, m bsmsg.BitSwapMessage) error {
	s.g.noteWants(s.p, m)
	return s.MessageSender.SendMsg(ctx, m)
}

// guardReceiver passes a receiver what the guard lets through.
type guardReceiver struct {
	iface.Receiver
	g *guard
}

func (r *guardReceiver) ReceiveMessage(ctx context.Context, p peer.ID, m bsmsg.BitSwapMessage) {
	if r.g.dropped(p) {
		return
	}
	if r.g.check(p, m) {
		r.g.drop(p)
		return
	}
	r.Receiver.ReceiveMessage(ctx, p, m)
}

func (r *guardReceiver) PeerConnected(p peer.ID) {
	if r.g.dropped(p) {
		return
	}
	r.Receiver.PeerConnected(p)
}

// limitedHost is the host as boxo's Bitswap network sees it: the stream
// handlers it sets are served through a p2p.Server's limits.
type limitedHost struct {
	host.Host
	srv *p2p.Server
}

func (h limitedHost) SetStreamHandler(id protocol.ID, handler network.StreamHandler) {
	h.Host.SetStreamHandler(id, h.srv.Wrap(closing(handler)))
}

func (h limitedHost) SetStreamHandlerMatch(id protocol.ID, match func(protocol.ID) bool, handler network.StreamHandler) {
	h.Host.SetStreamHandlerMatch(id, match, h.srv.Wrap(closing(handler)))
}

// closing closes the stream when handler returns. boxo's handler reads a
// stream to its end and closes it on a goroutine of its own, after it
// returns; the limits would reset it first, as a stream its handler left
// open, and a reset of a stream whose last message is still in flight
// loses it.
func closing(handler network.StreamHandler) network.StreamHandler {
	return func(s network.Stream) {
		handler(s)
		_ = s.Close()
	}
}
