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
	src       *sources
	onSent    func(peer.ID, bsmsg.BitSwapMessage) // tests and benchmarks: sees each message with wants sent
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
		src:      newSources(cfg.SourceBacklog, 2*cfg.Window),
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

// noteWants remembers the CIDs m, sent to p, asks for, and counts its
// want-blocks against p's cap.
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
	g.src.sent(p, wl, g.clk.Now())
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
	g.src.gone(p, g.clk.Now())
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
	n.g.mu.Lock()
	n.g.receivers = append(n.g.receivers, rs...)
	n.g.mu.Unlock()
	n.BitSwapNetwork.Start(&guardReceiver{rs: rs, g: n.g})
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

// guardReceiver passes the receivers what the guard lets through.
type guardReceiver struct {
	rs []iface.Receiver
	g  *guard
}

func (r *guardReceiver) ReceiveMessage(ctx context.Context, p peer.ID, m bsmsg.BitSwapMessage) {
	if r.g.dropped(p) {
		return
	}
	if r.g.check(p, m) {
		r.g.drop(p)
		return
	}
	m, rel := r.g.admit(p, m)
	if m != nil {
		for _, rc := range r.rs {
			rc.ReceiveMessage(ctx, p, m)
		}
	}
	for _, x := range rel {
		hm := bsmsg.New(false)
		for _, c := range x.cids {
			hm.AddHave(c)
		}
		for _, rc := range r.rs {
			rc.ReceiveMessage(ctx, x.p, hm)
		}
	}
}

func (r *guardReceiver) ReceiveError(err error) {
	for _, rc := range r.rs {
		rc.ReceiveError(err)
	}
}

func (r *guardReceiver) PeerConnected(p peer.ID) {
	if r.g.dropped(p) {
		return
	}
	for _, rc := range r.rs {
		rc.PeerConnected(p)
	}
}

func (r *guardReceiver) PeerDisconnected(p peer.ID) {
	r.g.gone(p)
	for _, rc := range r.rs {
		rc.PeerDisconnected(p)
	}
}

// admit counts the blocks and block presences of m from p against the
// sources' caps (see sources). It returns m without the HAVEs held back
// (nil if nothing is left of it), and the held HAVEs of the sources that
// have room now, to pass on after it.
func (g *guard) admit(p peer.ID, m bsmsg.BitSwapMessage) (bsmsg.BitSwapMessage, []release) {
	blks := m.Blocks()
	haves, dontHaves := m.Haves(), m.DontHaves()
	if len(blks)+len(haves)+len(dontHaves) == 0 {
		return m, nil
	}
	ks := make([]cid.Cid, len(blks))
	for i, b := range blks {
		ks[i] = b.Cid()
	}
	g.mu.Lock()
	now := g.clk.Now()
	held := g.src.received(p, ks, haves, dontHaves, now)
	rel := g.src.releases(now)
	g.mu.Unlock()
	if len(held) == 0 {
		return m, rel
	}
	return without(m, held), rel
}

// group tells the sources' caps that cs are asked in one session (see
// sources); end forgets them.
func (g *guard) group(cs []cid.Cid) (end func()) {
	g.mu.Lock()
	stop := g.src.group(cs)
	g.mu.Unlock()
	return func() {
		g.mu.Lock()
		stop()
		g.mu.Unlock()
	}
}

// gone forgets what p owed: it disconnected or was dropped.
func (g *guard) gone(p peer.ID) {
	g.mu.Lock()
	g.src.gone(p, g.clk.Now())
	g.mu.Unlock()
}

// without returns a copy of m less the block presences of cs, or nil if
// nothing is left of it.
func without(m bsmsg.BitSwapMessage, cs []cid.Cid) bsmsg.BitSwapMessage {
	drop := make(map[cid.Cid]struct{}, len(cs))
	for _, c := range cs {
		drop[c] = struct{}{}
	}
	out := bsmsg.New(m.Full())
	for _, e := range m.Wantlist() {
		if e.Cancel {
			out.Cancel(e.Cid)
		} else {
			out.AddEntry(e.Cid, e.Priority, e.WantType, e.SendDontHave)
		}
	}
	for _, b := range m.Blocks() {
		out.AddBlock(b)
	}
	for _, bp := range m.BlockPresences() {
		if _, ok := drop[bp.Cid]; !ok {
			out.AddBlockPresence(bp.Cid, bp.Type)
		}
	}
	out.SetPendingBytes(m.PendingBytes())
	if out.Empty() && !out.Full() {
		return nil
	}
	return out
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
