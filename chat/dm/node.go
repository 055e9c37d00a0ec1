package dm

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/fog-compute/fog/chat"
)

// State is where a sent message stands.
type State int

// A sent message goes Pending → Sent → Delivered → Read, or to Failed when
// it expires undelivered.
const (
	Pending   State = iota // accepted, not transmitted yet (handshake, key lookup)
	Sent                   // transmitted at least once, no receipt yet
	Delivered              // the recipient's core received it
	Read                   // the recipient read it (if it sends read receipts)
	Failed                 // expired undelivered
)

func (s State) String() string {
	switch s {
	case Pending:
		return "pending"
	case Sent:
		return "sent"
	case Delivered:
		return "delivered"
	case Read:
		return "read"
	case Failed:
		return "failed"
	}
	return fmt.Sprintf("State(%d)", int(s))
}

// Route is how a frame reached this node.
type Route int

// Routes a frame can arrive by.
const (
	Direct  Route = iota // a libp2p stream from the peer (authenticated)
	Mailbox              // fetched from a mailbox: the sender is unknown until opened
	Mix                  // through the mix: the sender is unknown until opened
)

// Effect is what a Node asks its shell to do.
type Effect interface{ isEffect() }

// SendOnline: write Frame to Peer over a direct stream now.
type SendOnline struct {
	Peer  peer.ID
	Frame []byte
}

// StoreInMailbox: leave the sealed envelope in Peer's mailboxes. Message
// is the message it carries, or the zero ID for a receipt: the envelope
// holds one payload, so storing it stores that message and no other.
type StoreInMailbox struct {
	Peer    peer.ID
	Message MsgID
	Sealed  []byte
}

// SendAnonymous: send the sealed envelope to Peer through the mix.
type SendAnonymous struct {
	Peer   peer.ID
	Sealed []byte
}

// LookupKey: Peer's ChatKey is needed (to seal to it); find it (the DHT
// record chat.ChatKeyRecordName) and give it to SetKey.
type LookupKey struct{ Peer peer.ID }

// Deliver: a message arrived for the user.
type Deliver struct{ Message Message }

// StateChanged: a sent message moved to State.
type StateChanged struct {
	ID    MsgID
	Peer  peer.ID
	State State
}

func (SendOnline) isEffect()     {}
func (StoreInMailbox) isEffect() {}
func (SendAnonymous) isEffect()  {}
func (LookupKey) isEffect()      {}
func (Deliver) isEffect()        {}
func (StateChanged) isEffect()   {}

// Message is a received message. A user interface orders a peer's
// messages by Seq (the sender's counter for this recipient): routes and
// retries deliver them in any order.
type Message struct {
	ID     MsgID
	From   peer.ID
	Seq    uint64
	Sent   time.Time // the sender's clock
	Expiry time.Time
	Body   []byte
	Route  Route
}

// SendOptions are the choices of one Send.
type SendOptions struct {
	// Anonymous sends through the mix (sealed) instead of a direct stream
	// or mailbox, so the network does not see who writes to whom.
	Anonymous bool
	// Expiry is when retrying stops and the message fails; zero: now +
	// Config.TTL.
	Expiry time.Time
}

// Node is one node's direct messaging as a deterministic state machine:
// Send, Receive, SetPeer, SetKey, MarkRead and Tick go in with the time,
// effects come out. It does no I/O and reads no clock; randomness (message
// IDs, handshake and envelope keys) comes from the reader it was given. The
// shell carries frames over streams, the mix and mailboxes, looks up chat
// keys, tells it which peers are online, and calls Tick at NextTick. A
// Node is not safe for concurrent use.
type Node struct {
	cfg  Config
	keys Keys
	self peer.ID
	rnd  io.Reader

	peers map[peer.ID]*peerState
	out   map[MsgID]*outMsg
	seen  map[seenKey]*seenMsg
}

type peerState struct {
	online  bool
	key     *chat.ChatKey
	sess    *Session
	started time.Time // when sess's handshake began
	used    time.Time // when sess last carried a message
	seq     uint64    // next Seq to this peer
	lookup  bool      // a LookupKey is outstanding
}

type outMsg struct {
	p         payload
	to        peer.ID
	anonymous bool
	state     State
	attempts  int // transmissions
	tries     int // attempts, transmitted or not (waiting for a key or a handshake): the backoff
	retryAt   time.Time
}

type seenKey struct {
	from peer.ID
	id   MsgID
}

type seenMsg struct {
	until time.Time
	route Route
	read  bool
}

// NewNode returns the DM core of the node whose chat key pair is keys.
func NewNode(cfg Config, keys Keys, rnd io.Reader) (*Node, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if err := keys.check(); err != nil {
		return nil, err
	}
	return &Node{
		cfg: cfg, keys: keys, self: keys.Record.Owner, rnd: rnd,
		peers: map[peer.ID]*peerState{},
		out:   map[MsgID]*outMsg{},
		seen:  map[seenKey]*seenMsg{},
	}, nil
}

func (n *Node) peer(p peer.ID) *peerState {
	ps := n.peers[p]
	if ps == nil {
		ps = &peerState{}
		n.peers[p] = ps
	}
	return ps
}

// SetPeer tells the core whether p is reachable over a direct stream now.
// A peer coming online gets its pending messages at once.
func (n *Node) SetPeer(now time.Time, p peer.ID, online bool) []Effect {
	ps := n.peer(p)
	was := ps.online
	ps.online = online
	if !online && ps.sess != nil && !ps.sess.Established() {
		ps.sess = nil // a handshake with a peer gone away will not finish
	}
	if online && !was {
		return n.flush(now, p, nil)
	}
	return nil
}

// SetKey gives the core p's published ChatKey (found after LookupKey). It
// is verified; an older one than the core has is ignored. Messages waiting
// for the key go out.
func (n *Node) SetKey(now time.Time, p peer.ID, k *chat.ChatKey) ([]Effect, error) {
	if err := k.Verify(p); err != nil {
		return nil, err
	}
	n.learnKey(k)
	n.peer(p).lookup = false
	return n.flush(now, p, nil), nil
}

// Key returns the verified chat key the Node holds for p (from a
// handshake, an envelope or SetKey), or nil.
func (n *Node) Key(p peer.ID) *chat.ChatKey {
	if ps, ok := n.peers[p]; ok {
		return ps.key
	}
	return nil
}

func (n *Node) learnKey(k *chat.ChatKey) {
	ps := n.peer(k.Owner)
	if ps.key == nil || k.Seq > ps.key.Seq {
		ps.key = k
	}
}

// Send queues body for to and returns its ID and the effects of the first
// attempt. The message is retried (with exponential backoff) until a
// delivery receipt comes or it expires.
func (n *Node) Send(now time.Time, to peer.ID, body []byte, opts SendOptions) (MsgID, []Effect, error) {
	var id MsgID
	if len(body) > n.cfg.MaxBody {
		return id, nil, fmt.Errorf("%w: body of %d bytes, limit %d", ErrTooLarge, len(body), n.cfg.MaxBody)
	}
	if to == n.self {
		return id, nil, fmt.Errorf("%w: a message to oneself", ErrUnknownMessage)
	}
	if len(n.out) >= n.cfg.MaxPending {
		n.gc(now)
		if len(n.out) >= n.cfg.MaxPending {
			return id, nil, ErrBusy
		}
	}
	if _, err := io.ReadFull(n.rnd, id[:]); err != nil {
		return id, nil, fmt.Errorf("dm: message ID: %w", err)
	}
	expiry := opts.Expiry
	if expiry.IsZero() {
		expiry = now.Add(n.cfg.TTL)
	}
	sent := time.UnixMilli(now.UnixMilli())
	expiry = time.UnixMilli(expiry.UnixMilli())
	if !expiry.After(sent) {
		return id, nil, fmt.Errorf("%w: expiry %v not after now", ErrExpired, expiry)
	}
	ps := n.peer(to)
	m := &outMsg{
		p:  payload{kind: kindText, id: id, seq: ps.seq, sent: sent, expiry: expiry, body: append([]byte(nil), body...)},
		to: to, anonymous: opts.Anonymous, retryAt: now,
	}
	ps.seq++
	n.out[id] = m
	return id, n.attempt(now, m, nil), nil
}

// attempt transmits m by the route its options and the peer's state give.
func (n *Node) attempt(now time.Time, m *outMsg, eff []Effect) []Effect {
	ps := n.peer(m.to)
	m.retryAt = now.Add(n.backoff(m.tries))
	m.tries++
	var sent bool
	switch {
	case !m.anonymous && ps.online:
		if ps.sess != nil && ps.sess.Established() {
			eff, sent = n.sendSession(now, m.to, &m.p, eff)
			break
		}
		eff = n.handshake(now, m.to, eff) // m goes out when it completes
		if now.Sub(m.p.sent) >= n.cfg.HandshakeTimeout {
			// "Online" but no session for a while: a copy to the mailboxes.
			eff, sent = n.sendSealed(m.to, &m.p, false, eff)
		}
	default:
		eff, sent = n.sendSealed(m.to, &m.p, m.anonymous, eff)
	}
	if sent {
		m.attempts++
		if m.state == Pending {
			m.state = Sent
			eff = append(eff, StateChanged{ID: m.p.id, Peer: m.to, State: Sent})
		}
	}
	return eff
}

func (n *Node) backoff(attempts int) time.Duration {
	d := n.cfg.RetryMin
	for range attempts {
		d *= 2
		if d >= n.cfg.RetryMax {
			return n.cfg.RetryMax
		}
	}
	return d
}

// handshake starts one with p unless one is under way.
func (n *Node) handshake(now time.Time, p peer.ID, eff []Effect) []Effect {
	ps := n.peer(p)
	if ps.sess != nil && !ps.sess.Established() && !ps.sess.Failed() && now.Sub(ps.started) < n.cfg.HandshakeTimeout {
		return eff
	}
	var expect *[32]byte
	if ps.key != nil {
		expect = &ps.key.Public
	}
	s, frame, err := NewInitiator(n.cfg, n.keys, p, expect, n.rnd)
	if err != nil {
		return eff
	}
	n.replaceSession(ps, s, now)
	return append(eff, SendOnline{Peer: p, Frame: frame})
}

func (n *Node) replaceSession(ps *peerState, s *Session, now time.Time) {
	if ps.sess != nil {
		ps.sess.Erase()
	}
	ps.sess, ps.started, ps.used = s, now, now
}

func (n *Node) sendSession(now time.Time, to peer.ID, p *payload, eff []Effect) ([]Effect, bool) {
	ps := n.peer(to)
	plain, err := p.encode()
	if err != nil {
		return eff, false
	}
	frame, err := ps.sess.Encrypt(now, nil, plain)
	if err != nil {
		ps.sess.Erase()
		ps.sess = nil
		return eff, false
	}
	ps.used = now
	return append(eff, SendOnline{Peer: to, Frame: frame}), true
}

func (n *Node) sendSealed(to peer.ID, p *payload, anonymous bool, eff []Effect) ([]Effect, bool) {
	ps := n.peer(to)
	if ps.key == nil {
		if !ps.lookup {
			ps.lookup = true
			eff = append(eff, LookupKey{Peer: to})
		}
		return eff, false
	}
	plain, err := p.encode()
	if err != nil {
		return eff, false
	}
	sealed, err := Seal(n.keys, ps.key, plain, n.rnd)
	if err != nil {
		return eff, false
	}
	if anonymous {
		return append(eff, SendAnonymous{Peer: to, Sealed: sealed}), true
	}
	m := StoreInMailbox{Peer: to, Sealed: sealed}
	if p.kind == kindText {
		m.Message = p.id
	}
	return append(eff, m), true
}

// flush attempts every undelivered message to p that can go now.
func (n *Node) flush(now time.Time, p peer.ID, eff []Effect) []Effect {
	for _, m := range n.sorted() {
		if m.to == p && m.state <= Sent && now.Before(m.p.expiry) {
			eff = n.attempt(now, m, eff)
		}
	}
	return eff
}

// Receive takes a frame that arrived by route. from is the peer of a
// direct stream (authenticated by libp2p); it is ignored for sealed
// envelopes, whose sender is what they prove. The error says why a frame
// was refused; the effects are valid either way.
func (n *Node) Receive(now time.Time, from peer.ID, route Route, frame []byte) ([]Effect, error) {
	if len(frame) == 0 || len(frame) > maxFrameBytes {
		return nil, fmt.Errorf("%w: frame of %d bytes", ErrMalformed, len(frame))
	}
	if frame[0] == frameSealed {
		k, plain, err := Open(n.keys, frame)
		if err != nil {
			return nil, err
		}
		n.learnKey(k)
		return n.handlePayload(now, k.Owner, route, plain, nil)
	}
	if route != Direct || from == "" {
		return nil, fmt.Errorf("%w: session frame not on a direct stream", ErrMalformed)
	}
	ps := n.peer(from)
	switch frame[0] {
	case frameHS1:
		if ps.sess != nil && !ps.sess.Established() && !ps.sess.Failed() && ps.sess.initiator && n.self < from {
			return nil, nil // both started: the lower peer ID stays initiator
		}
		var expect *[32]byte
		if ps.key != nil {
			expect = &ps.key.Public
		}
		s, out, err := NewResponder(n.cfg, n.keys, from, expect, n.rnd, frame)
		if err != nil {
			return nil, err
		}
		n.replaceSession(ps, s, now)
		return []Effect{SendOnline{Peer: from, Frame: out}}, nil
	case frameHS2, frameHS3:
		if ps.sess == nil || ps.sess.Established() {
			return nil, fmt.Errorf("%w: no handshake under way", ErrHandshake)
		}
		out, err := ps.sess.Handshake(now, frame)
		if err != nil {
			ps.sess = nil
			return nil, err
		}
		n.learnKey(ps.sess.Remote())
		var eff []Effect
		if out != nil {
			eff = append(eff, SendOnline{Peer: from, Frame: out})
		}
		return n.flush(now, from, eff), nil
	case frameData:
		if ps.sess == nil || !ps.sess.Established() {
			return resetFor(from, frame), ErrNoSession
		}
		plain, err := ps.sess.Decrypt(nil, frame)
		if err != nil {
			if errors.Is(err, ErrNoSession) {
				return resetFor(from, frame), err
			}
			return nil, err
		}
		ps.used = now
		return n.handlePayload(now, from, Direct, plain, nil)
	case frameReset:
		if len(frame) != 1+sidSize {
			return nil, fmt.Errorf("%w: reset of %d bytes", ErrMalformed, len(frame))
		}
		if ps.sess != nil && ps.sess.Established() && string(frame[1:]) == string(ps.sess.sid[:]) {
			ps.sess.Erase()
			ps.sess = nil
			return n.flush(now, from, nil), nil
		}
		return nil, nil
	}
	return nil, fmt.Errorf("%w: frame kind %d", ErrMalformed, frame[0])
}

// resetFor answers a transport frame of a session this node does not have.
func resetFor(to peer.ID, frame []byte) []Effect {
	if len(frame) < 1+sidSize {
		return nil
	}
	return []Effect{SendOnline{Peer: to, Frame: append([]byte{frameReset}, frame[1:1+sidSize]...)}}
}

func (n *Node) handlePayload(now time.Time, from peer.ID, route Route, plain []byte, eff []Effect) ([]Effect, error) {
	p, err := decodePayload(plain)
	if err != nil {
		return eff, err
	}
	switch p.kind {
	case kindDelivered, kindRead:
		m := n.out[p.id]
		if m == nil || m.to != from {
			return eff, fmt.Errorf("%w: receipt for %s from %s", ErrUnknownMessage, p.id, from)
		}
		st := Delivered
		if p.kind == kindRead {
			st = Read
		}
		if m.state < st && m.state != Failed {
			m.state = st
			eff = append(eff, StateChanged{ID: p.id, Peer: from, State: st})
		}
		return eff, nil
	}
	if len(p.body) > n.cfg.MaxBody {
		return eff, fmt.Errorf("%w: body of %d bytes, limit %d", ErrTooLarge, len(p.body), n.cfg.MaxBody)
	}
	if !now.Before(p.expiry) {
		return eff, fmt.Errorf("%w: message %s", ErrExpired, p.id)
	}
	k := seenKey{from, p.id}
	if s := n.seen[k]; s != nil {
		// A copy: acknowledge again (the first receipt may be lost).
		return n.receipt(now, from, s.route, kindDelivered, p.id, eff), nil
	}
	if len(n.seen) >= n.cfg.MaxSeen {
		n.gc(now)
		if len(n.seen) >= n.cfg.MaxSeen {
			return eff, ErrBusy
		}
	}
	until := p.expiry
	if lim := now.Add(n.cfg.TTL); until.After(lim) {
		until = lim
	}
	n.seen[k] = &seenMsg{until: until, route: route}
	eff = append(eff, Deliver{Message: Message{
		ID: p.id, From: from, Seq: p.seq, Sent: p.sent, Expiry: p.expiry, Body: append([]byte(nil), p.body...), Route: route,
	}})
	return n.receipt(now, from, route, kindDelivered, p.id, eff), nil
}

// receipt sends a receipt once, by the way the message came: back through
// the mix for one that came through it, else over the session if there is
// one, else sealed to the mailboxes. A lost receipt makes the sender retry,
// and the retry's copy is acknowledged again.
func (n *Node) receipt(now time.Time, to peer.ID, route Route, kind byte, id MsgID, eff []Effect) []Effect {
	p := &payload{kind: kind, id: id}
	ps := n.peer(to)
	if route != Mix && ps.online && ps.sess != nil && ps.sess.Established() {
		eff, _ = n.sendSession(now, to, p, eff)
		return eff
	}
	eff, _ = n.sendSealed(to, p, route == Mix, eff)
	return eff
}

// MarkRead records that the user read from's message id and, if
// Config.ReadReceipts allows, sends a read receipt.
func (n *Node) MarkRead(now time.Time, from peer.ID, id MsgID) ([]Effect, error) {
	s := n.seen[seenKey{from, id}]
	if s == nil {
		return nil, fmt.Errorf("%w: %s from %s", ErrUnknownMessage, id, from)
	}
	if s.read || !n.cfg.ReadReceipts {
		s.read = true
		return nil, nil
	}
	s.read = true
	return n.receipt(now, from, s.route, kindRead, id, nil), nil
}

// State returns the state of the sent message id, while the core
// remembers it (until Config.TTL after its expiry).
func (n *Node) State(id MsgID) (State, bool) {
	m := n.out[id]
	if m == nil {
		return 0, false
	}
	return m.state, true
}

// Tick retries what is due, fails what expired, and forgets old sessions,
// handshakes and IDs.
func (n *Node) Tick(now time.Time) []Effect {
	var eff []Effect
	for _, m := range n.sorted() {
		switch {
		case m.state <= Sent && !now.Before(m.p.expiry):
			m.state = Failed
			eff = append(eff, StateChanged{ID: m.p.id, Peer: m.to, State: Failed})
		case m.state <= Sent && !now.Before(m.retryAt):
			eff = n.attempt(now, m, eff)
		}
	}
	n.gc(now)
	return eff
}

// gc forgets expired records and idle or stale sessions.
func (n *Node) gc(now time.Time) {
	for id, m := range n.out {
		// Settled records stay a TTL past their expiry, for State and
		// late receipts.
		if m.state > Sent && !now.Before(m.p.expiry.Add(n.cfg.TTL)) {
			delete(n.out, id)
		}
	}
	for k, s := range n.seen {
		if !now.Before(s.until) {
			delete(n.seen, k)
		}
	}
	for _, ps := range n.peers {
		if s := ps.sess; s != nil {
			if s.Failed() || (!s.Established() && now.Sub(ps.started) >= n.cfg.HandshakeTimeout) ||
				(s.Established() && now.Sub(ps.used) >= n.cfg.SessionIdle) {
				s.Erase()
				ps.sess = nil
			}
		}
	}
}

// NextTick returns when Tick has work next (zero: nothing pending).
func (n *Node) NextTick() time.Time {
	var t time.Time
	early := func(c time.Time) {
		if t.IsZero() || c.Before(t) {
			t = c
		}
	}
	for _, m := range n.out {
		if m.state <= Sent {
			early(m.retryAt)
			early(m.p.expiry)
		}
	}
	for _, ps := range n.peers {
		if s := ps.sess; s != nil {
			if s.Established() {
				early(ps.used.Add(n.cfg.SessionIdle))
			} else {
				early(ps.started.Add(n.cfg.HandshakeTimeout))
			}
		}
	}
	return t
}

// sorted returns the pending messages in send order (by time, peer and sequence), so
// effects come out in one order for one input.
func (n *Node) sorted() []*outMsg {
	ms := make([]*outMsg, 0, len(n.out))
	for _, m := range n.out {
		ms = append(ms, m)
	}
	slices.SortFunc(ms, func(a, b *outMsg) int {
		if c := a.p.sent.Compare(b.p.sent); c != 0 {
			return c
		}
		if c := strings.Compare(string(a.to), string(b.to)); c != 0 {
			return c
		}
		return cmp.Compare(a.p.seq, b.p.seq)
	})
	return ms
}
