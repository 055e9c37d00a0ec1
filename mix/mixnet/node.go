package mixnet

import (
	"container/heap"
	"crypto/ecdh"
	"crypto/ed25519"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/fog-compute/fog/mix/sphinx"
)

// Sentinels a caller of Send and Reply branches on.
var (
	// ErrNoDirectory: no relay directory is known yet, so no route.
	ErrNoDirectory = errors.New("mixnet: no relay directory yet")
	// ErrBusy: the send queue or the table of pending messages is full.
	ErrBusy = errors.New("mixnet: too many messages in flight")
	// ErrNoReplyBlock: the message to answer did not carry a reply block,
	// or it was used already.
	ErrNoReplyBlock = errors.New("mixnet: no reply block for that message")
	// ErrExpired: a message was not acknowledged before its deadline.
	ErrExpired = errors.New("mixnet: message not acknowledged before its deadline")
)

// Frame kinds: which of the receiver's keys a packet is under. A relay's
// key changes every epoch; a node's endpoint key is its identity's.
const (
	frameRelay    byte = 1
	frameEndpoint byte = 2
	frameHeader        = 1 + 8 // kind, epoch
)

// Effect is what a Node asks its shell to do.
type Effect interface{ isEffect() }

// Transmit: send Frame to the node To now, over the mix protocol. The
// Node may leave a packet's Sphinx wrapping (its public-key work) to its
// shell: then Frame is nil until Seal builds it.
type Transmit struct {
	To    NodeID
	Frame []byte
	seal  *sealJob
}

// sealJob is a packet whose route, payload and randomness the Node chose,
// to be wrapped by Seal.
type sealJob struct {
	c       *codec
	epoch   uint64
	path    []sphinx.PathHop
	payload []byte
	seed    [32]byte
}

// Seal builds the frame of a Transmit whose wrapping the Node left to its
// shell, from what the Node chose (route, delays, payload, and a seed
// drawn from its generator, so that runs stay reproducible). It reads
// nothing of the Node: a shell calls it outside the lock that guards its
// Node, and on many goroutines at once. A Transmit with a Frame is left as
// it is.
func (t *Transmit) Seal() error {
	j := t.seal
	if j == nil {
		return nil
	}
	t.seal = nil
	pkt, err := sphinx.NewPacket(rand.NewChaCha8(j.seed), j.c.geo, j.path, j.payload)
	if err != nil {
		return err
	}
	t.Frame = frame(frameRelay, j.epoch, pkt)
	return nil
}

// sealLater returns the Transmit of a packet along hops carrying payload,
// to the first hop, wrapped later by Seal.
func (n *Node) sealLater(to NodeID, hops []hopSpec, payload []byte) (Transmit, error) {
	path, err := n.c.path(hops, nil)
	if err != nil {
		return Transmit{}, err
	}
	j := &sealJob{c: n.c, epoch: n.sendDir, path: path, payload: payload}
	_, _ = n.rnd.Read(j.seed[:])
	return Transmit{To: to, seal: j}, nil
}

// Deliver: a message arrived for this node's user.
type Deliver struct{ Message Inbound }

// Acked: a message sent by this node was acknowledged by its recipient.
type Acked struct {
	ID       MsgID
	Latency  time.Duration // from Send to the ACK's arrival
	Attempts int           // packets sent for it, retransmissions included
}

// Failed: a message sent by this node was not acknowledged before its
// deadline (Err wraps ErrExpired), or could not be sent at all.
type Failed struct {
	ID  MsgID
	Err error
}

// PersistTag: remember a replay tag of a relay key before any packet
// forwarded after it leaves, so a restart does not reopen the replay.
type PersistTag struct {
	Epoch uint64
	Tag   [32]byte
}

func (Transmit) isEffect()   {}
func (Deliver) isEffect()    {}
func (Acked) isEffect()      {}
func (Failed) isEffect()     {}
func (PersistTag) isEffect() {}

// Inbound is a message received over the mix. The sender is not known.
type Inbound struct {
	ID        MsgID
	Body      []byte
	At        time.Time
	CanReply  bool   // it carried a reply block (Node.Reply)
	InReplyTo *MsgID // it answers this node's message of that ID
}

// SendOptions are the choices of one Send.
type SendOptions struct {
	// Deadline is when retrying stops; zero: now + Config.TTL.
	Deadline time.Time
	// WantReply attaches a single-use reply block, so that the recipient
	// can answer (Node.Reply) without learning who sent.
	WantReply bool
}

// Node is one node's mix as a deterministic state machine: the sender and
// recipient of messages (always) and a relay (for the epochs whose relay
// keys it was given). Frames and clock readings go in (Receive, Tick,
// Send), effects come out; it does no I/O, reads no clock, and draws every
// random choice (routes, delays, Poisson gaps, packet keys) from the
// generator it was given. Its shell (package mixsvc) carries frames between
// nodes, persists replay tags and calls Tick at NextTick. A Node is not
// safe for concurrent use.
type Node struct {
	cfg   Config
	c     *codec
	self  NodeID
	ekey  *ecdh.PrivateKey // endpoint key (from the identity)
	epub  *ecdh.PublicKey
	rng   *rand.Rand
	rnd   *rand.ChaCha8 // packet randomness
	now   time.Time
	start bool

	dirs     map[uint64]*epochDir
	sendDir  uint64 // newest epoch with a directory
	relay    map[uint64]*relayKey
	held     heldHeap
	seq      uint64
	queue    []queued // waiting for the send stream
	pending  map[MsgID]*outMsg
	blocks   map[[16]byte]*blockKeys // SURBs this node made, by ID
	loops    map[MsgID]*loop
	seen     map[MsgID]time.Time // delivered message IDs, until they expire
	replies  map[MsgID]*surbRef  // reply blocks received, by message ID
	health   map[NodeID]int      // loops lost in a row through a relay
	nextSend time.Time
	nextLoop time.Time
	nextDrop time.Time
	// nextRelayLoop is the relay loop stream's next event while the node
	// relays in the send directory's epoch; zero while it does not.
	nextRelayLoop time.Time
	sweepAt       time.Time // when retries, loops or expiries next need a look
	stats         Stats
}

type epochDir struct {
	relays []Relay
	byID   map[NodeID]Relay
}

type relayKey struct {
	layer int
	key   *ecdh.PrivateKey
	tags  map[[32]byte]struct{}
}

type outMsg struct {
	id        MsgID
	to        NodeID
	body      []byte
	wantReply bool
	sent      time.Time
	deadline  time.Time
	retryAt   time.Time
	attempts  int
	blocks    [][16]byte
	lastRoute []NodeID // relays of the last attempt, forward and ACK routes
}

type loop struct {
	route    []NodeID
	deadline time.Time
}

type blockKind byte

const (
	blockAck blockKind = iota + 1
	blockReply
)

type blockKeys struct {
	kind    blockKind
	msg     MsgID // the message it acknowledges or answers
	keys    []byte
	expires time.Time
	route   []NodeID // its relays
}

func relayIDs(route []Hop) []NodeID {
	ids := make([]NodeID, len(route))
	for i, h := range route {
		ids[i] = h.ID
	}
	return ids
}

// NewNode returns the mix of the node with identity key sk. rng draws
// every random choice; a node seeds it from crypto/rand, a test from a
// constant.
func NewNode(cfg Config, sk ed25519.PrivateKey, rng *rand.ChaCha8) (*Node, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if len(sk) != ed25519.PrivateKeySize {
		return nil, fmt.Errorf("%w: identity key of %d bytes", ErrConfig, len(sk))
	}
	ek, err := endpointPrivate(sk)
	if err != nil {
		return nil, err
	}
	c, err := newCodec(cfg.Layers + 1)
	if err != nil {
		return nil, err
	}
	n := &Node{
		cfg: cfg, c: c, ekey: ek, epub: ek.PublicKey(),
		rng: rand.New(rng), rnd: rng,
		dirs: map[uint64]*epochDir{}, relay: map[uint64]*relayKey{},
		pending: map[MsgID]*outMsg{}, blocks: map[[16]byte]*blockKeys{},
		loops: map[MsgID]*loop{}, seen: map[MsgID]time.Time{}, replies: map[MsgID]*surbRef{},
		health: map[NodeID]int{},
	}
	copy(n.self[:], sk.Public().(ed25519.PublicKey))
	return n, nil
}

// ID returns the node's ID on the mix.
func (n *Node) ID() NodeID { return n.self }

// FrameSize is the size of every frame between nodes.
func (n *Node) FrameSize() int { return frameHeader + n.c.packetSize() }

// MaxBody is the largest message body Send takes, with or without a reply
// block (which takes room in the packet), and Reply takes (false).
func (n *Node) MaxBody(reply bool) int { return n.c.payloadSize() - n.overhead(reply) }

// overhead is the payload bytes a data message takes besides its body.
func (n *Node) overhead(reply bool) int {
	surb := 8 + 3 + n.c.surbSize()
	o := 1 + 16 + 1 + surb + 3
	if reply {
		o += surb
	}
	return o
}

func (n *Node) tick(now time.Time) {
	if now.After(n.now) {
		n.now = now
	}
	if !n.start {
		n.start = true
		n.nextSend = n.now.Add(n.gap(n.cfg.SendRate))
		n.nextLoop = n.now.Add(n.gap(n.cfg.LoopRate))
		n.nextDrop = n.now.Add(n.gap(n.cfg.DropRate))
	}
}

// gap draws the time to a Poisson stream's next event; zero rate: never.
func (n *Node) gap(rate float64) time.Duration {
	if !n.cfg.Cover || rate <= 0 {
		return time.Duration(1<<62 - 1)
	}
	return time.Duration(n.rng.ExpFloat64() / rate * float64(time.Second))
}

// SetDirectory gives the Node the relays of an epoch. Routes are drawn from
// the newest epoch given.
func (n *Node) SetDirectory(epoch uint64, relays []Relay) {
	d := &epochDir{relays: slices.Clone(relays), byID: make(map[NodeID]Relay, len(relays))}
	for _, r := range relays {
		d.byID[r.ID] = r
	}
	n.dirs[epoch] = d
	if epoch >= n.sendDir || len(n.dirs) == 1 {
		n.sendDir = epoch
	}
	n.health = map[NodeID]int{}
}

// SetRelayKey makes the Node relay packets of an epoch in the given layer
// under key, starting from the replay tags persisted for it earlier.
func (n *Node) SetRelayKey(epoch uint64, layer int, key *ecdh.PrivateKey, tags [][32]byte) {
	k := &relayKey{layer: layer, key: key, tags: make(map[[32]byte]struct{}, len(tags))}
	for _, t := range tags {
		k.tags[t] = struct{}{}
	}
	n.relay[epoch] = k
}

// DropEpoch forgets an epoch's directory, relay key and replay tags: its
// packets can no longer arrive.
func (n *Node) DropEpoch(epoch uint64) {
	delete(n.dirs, epoch)
	delete(n.relay, epoch)
	if epoch == n.sendDir {
		n.sendDir = 0
		for e := range n.dirs {
			n.sendDir = max(n.sendDir, e)
		}
	}
}

// Send queues a message for the node to and returns its ID. The effects
// say when it leaves (Transmit), and later when it is acknowledged (Acked)
// or given up (Failed).
func (n *Node) Send(now time.Time, to NodeID, body []byte, o SendOptions) (MsgID, []Effect, error) {
	n.tick(now)
	var id MsgID
	if max := n.MaxBody(o.WantReply); len(body) > max {
		return id, nil, fmt.Errorf("%w: %d bytes, at most %d", ErrTooLarge, len(body), max)
	}
	if len(n.pending) >= n.cfg.MaxPending || len(n.queue) >= n.cfg.MaxQueue {
		return id, nil, ErrBusy
	}
	if _, err := endpointPublic(to); err != nil {
		return id, nil, err
	}
	if n.dirs[n.sendDir] == nil {
		return id, nil, ErrNoDirectory
	}
	n.fill(id[:])
	dl := o.Deadline
	if dl.IsZero() {
		dl = n.now.Add(n.cfg.TTL)
	}
	m := &outMsg{id: id, to: to, body: slices.Clone(body), wantReply: o.WantReply, sent: n.now, deadline: dl}
	if err := n.transmitMsg(m); err != nil {
		return id, nil, err
	}
	n.pending[id] = m
	n.stats.Sent++
	return id, n.flush(nil), nil
}

// Reply answers an inbound message that carried a reply block. The block
// is single-use: a second Reply to the same message fails. The answer is
// acknowledged like a message, but not retransmitted (there is no second
// block to send it through).
func (n *Node) Reply(now time.Time, to MsgID, body []byte) (MsgID, []Effect, error) {
	n.tick(now)
	var id MsgID
	ref := n.replies[to]
	if ref == nil {
		return id, nil, ErrNoReplyBlock
	}
	if n.dirs[ref.epoch] == nil {
		// Its relays' keys are gone with its epoch: it cannot get through.
		delete(n.replies, to)
		return id, nil, fmt.Errorf("%w: it expired with the relay keys of epoch %d", ErrNoReplyBlock, ref.epoch)
	}
	if max := n.MaxBody(false); len(body) > max {
		return id, nil, fmt.Errorf("%w: %d bytes, at most %d", ErrTooLarge, len(body), max)
	}
	if len(n.pending) >= n.cfg.MaxPending || len(n.queue) >= n.cfg.MaxQueue {
		return id, nil, ErrBusy
	}
	n.fill(id[:])
	ack, sid, _, err := n.newBlock(blockAck, id)
	if err != nil {
		return id, nil, err
	}
	m := &message{kind: kindReply, id: id, ack: ack, inReplyTo: to, body: body}
	pl, err := m.encode(n.c.payloadSize())
	if err != nil {
		return id, nil, err
	}
	pkt, first, err := n.c.fromSURB(ref.surb, pl)
	if err != nil {
		return id, nil, err
	}
	delete(n.replies, to)
	om := &outMsg{id: id, sent: n.now, deadline: n.now.Add(n.cfg.TTL), attempts: 1, blocks: [][16]byte{sid}}
	om.retryAt = om.deadline // a reply block is single-use: no retransmission
	n.sweepBy(om.deadline)
	n.pending[id] = om
	n.stats.Sent++
	n.enqueue(Transmit{To: first, Frame: frame(frameRelay, ref.epoch, pkt)})
	return id, n.flush(nil), nil
}

// transmitMsg builds one packet of m over a fresh route and queues it.
func (n *Node) transmitMsg(m *outMsg) error {
	route, err := n.route()
	if err != nil {
		return err
	}
	ack, sid, ackDelay, err := n.newBlock(blockAck, m.id)
	if err != nil {
		return err
	}
	m.lastRoute = append(relayIDs(route), n.blocks[sid].route...)
	msg := &message{kind: kindData, id: m.id, ack: ack, body: m.body}
	if m.wantReply {
		if msg.reply, _, _, err = n.newBlock(blockReply, m.id); err != nil {
			return err
		}
	}
	t, fwd, err := n.packet(route, m.to, msg)
	if err != nil {
		return err
	}
	m.attempts++
	m.blocks = append(m.blocks, sid)
	// The ACK timer starts when the packet leaves (depart), not while it
	// waits for the send stream.
	m.retryAt = m.deadline
	n.sweepBy(m.deadline)
	n.queue = append(n.queue, queued{t: t, msg: m.id, timed: true, rtt: fwd + ackDelay})
	return nil
}

// queued is a packet waiting for the send stream: a message's (timed: its
// ACK timer starts when it leaves, for the route's delays and AckSlack), an
// ACK or a reply.
type queued struct {
	t     Transmit
	msg   MsgID
	timed bool
	rtt   time.Duration
}

// depart takes the next queued packet off the queue and starts its
// message's ACK timer.
func (n *Node) depart() Transmit {
	q := n.queue[0]
	n.queue = n.queue[1:]
	if m := n.pending[q.msg]; q.timed && m != nil {
		m.retryAt = n.now.Add(q.rtt + n.cfg.AckSlack)
		n.sweepBy(m.retryAt)
	}
	n.stats.PacketsOut++
	return q.t
}

// hopKey returns a relay's mix key as an X25519 key; a key that does not
// decode (the lottery verified it, so never) is nil, and building the
// packet fails.
func hopKey(r Relay) *ecdh.PublicKey {
	k, err := ecdh.X25519().NewPublicKey(r.MixKey[:])
	if err != nil {
		return nil
	}
	return k
}

// route draws a route from the newest directory, avoiding relays whose
// loops stopped coming back.
func (n *Node) route() ([]Hop, error) {
	d := n.dirs[n.sendDir]
	if d == nil {
		return nil, ErrNoDirectory
	}
	return pickRoute(n.rng, d.relays, n.cfg.Layers, func(id NodeID) bool {
		return n.health[id] >= n.cfg.LoopsToDead
	}, n.cfg.MeanDelay, n.cfg.MaxDelay)
}

// packet builds the frame of msg over route to the endpoint to, and
// returns the sum of the route's delays.
func (n *Node) packet(route []Hop, to NodeID, msg *message) (Transmit, time.Duration, error) {
	key, err := endpointPublic(to)
	if err != nil {
		return Transmit{}, 0, err
	}
	pl, err := msg.encode(n.c.payloadSize())
	if err != nil {
		return Transmit{}, 0, err
	}
	hops, total := n.hops(route, to, key)
	t, err := n.sealLater(route[0].ID, hops, pl)
	return t, total, err
}

// hops turns a route and its final endpoint into Sphinx hops.
func (n *Node) hops(route []Hop, to NodeID, key *ecdh.PublicKey) ([]hopSpec, time.Duration) {
	hops := make([]hopSpec, 0, len(route)+1)
	var total time.Duration
	for i, h := range route {
		next := to
		if i+1 < len(route) {
			next = route[i+1].ID
		}
		hops = append(hops, hopSpec{id: h.ID, key: hopKey(h.Relay), next: next, delay: h.Delay,
			nextEndpoint: i+1 == len(route) && key != nil})
		total += h.Delay
	}
	return append(hops, hopSpec{id: to, key: key, final: true}), total
}

// newBlock makes a reply block back to this node for the message id and
// remembers its keys. It returns the block's ID and the sum of its
// route's delays.
func (n *Node) newBlock(k blockKind, id MsgID) (*surbRef, [16]byte, time.Duration, error) {
	var sid [16]byte
	route, err := n.route()
	if err != nil {
		return nil, sid, 0, err
	}
	n.fill(sid[:])
	hops, total := n.hops(route, n.self, n.epub)
	surb, keys, err := n.c.surb(n.rnd, hops, sid)
	if err != nil {
		return nil, sid, 0, err
	}
	n.blocks[sid] = &blockKeys{kind: k, msg: id, keys: keys, expires: n.now.Add(2 * n.cfg.TTL), route: relayIDs(route)}
	n.sweepBy(n.now.Add(2 * n.cfg.TTL))
	return &surbRef{epoch: n.sendDir, surb: surb}, sid, total, nil
}

func (n *Node) fill(b []byte) {
	for i := 0; i < len(b); i += 8 {
		var w [8]byte
		binary.LittleEndian.PutUint64(w[:], n.rng.Uint64())
		copy(b[i:], w[:])
	}
}

// RelayEpoch returns the epoch of a frame for a relay key: the epoch whose
// relay key it needs, and false for a frame to an endpoint key (which no
// epoch's key opens) or one too short to have a header. The shell asks it
// to hold a frame back until that epoch's key is given, instead of letting
// Receive drop it as DropUnknownKey. It does not check the frame further.
func RelayEpoch(f []byte) (uint64, bool) {
	if len(f) < frameHeader || f[0] != frameRelay {
		return 0, false
	}
	return binary.BigEndian.Uint64(f[1:frameHeader]), true
}

func frame(k byte, epoch uint64, pkt []byte) []byte {
	f := make([]byte, frameHeader, frameHeader+len(pkt))
	f[0] = k
	binary.BigEndian.PutUint64(f[1:], epoch)
	return append(f, pkt...)
}

// enqueue puts a packet on the send stream; without cover it leaves at
// once (flush).
func (n *Node) enqueue(t Transmit) { n.queue = append(n.queue, queued{t: t}) }

// flush moves queued packets out when cover is off.
func (n *Node) flush(eff []Effect) []Effect {
	if n.cfg.Cover {
		return eff
	}
	for len(n.queue) > 0 {
		eff = append(eff, n.depart())
	}
	return eff
}

// held packets: a relay's delay queue.
type heldPacket struct {
	at  time.Time
	seq uint64
	t   Transmit
}

type heldHeap []heldPacket

func (h heldHeap) Len() int { return len(h) }
func (h heldHeap) Less(i, j int) bool {
	if !h[i].at.Equal(h[j].at) {
		return h[i].at.Before(h[j].at)
	}
	return h[i].seq < h[j].seq
}
func (h heldHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *heldHeap) Push(x any)   { *h = append(*h, x.(heldPacket)) }
func (h *heldHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

var _ heap.Interface = (*heldHeap)(nil)

// Pending reports whether the message id, sent by this node, waits for
// its ACK.
func (n *Node) Pending(id MsgID) bool { return n.pending[id] != nil }
