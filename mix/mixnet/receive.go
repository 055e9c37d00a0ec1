package mixnet

import (
	"container/heap"
	"crypto/ecdh"
	"encoding/binary"
	"errors"
	"time"
)

// maxHold bounds the delay a relay honours: a packet asking for more is
// dropped, so that no sender can make a relay hold memory for long.
const maxHold = 10 * time.Second

// Drop reasons, the keys of Stats.Drops.
const (
	DropMalformed  = "malformed"   // wrong size, unknown frame kind, bad commands
	DropUnknownKey = "unknown_key" // an epoch whose key this node does not hold
	DropMAC        = "mac"         // the header's MAC did not verify
	DropReplay     = "replay"      // a replay tag seen before under this key
	DropReplayFull = "replay_full" // the key's replay cache is full
	DropHeldFull   = "held_full"   // the delay queue is full
	DropPayload    = "payload"     // the payload's authentication tag is not zero
	DropUnknownRef = "unknown_block"
)

// Receive handles a frame that arrived from another node: Prepare, Open
// and Finish in one call.
func (n *Node) Receive(now time.Time, f []byte) []Effect {
	o := n.Prepare(f)
	o.Open()
	return n.Finish(now, o)
}

// An Opening is a frame on its way in, split so that its public-key and
// cipher work (Open) needs no access to the Node: a shell prepares and
// finishes under the lock that guards its Node and opens between, so that
// frames from many links are unwrapped at once and the Node's lock is held
// only for table look-ups.
type Opening struct {
	c     *codec
	key   *ecdh.PrivateKey
	kind  byte
	epoch uint64
	pkt   []byte
	drop  string // a reason to drop, found before opening
	u     unwrapped
	err   error
	done  bool
}

// Prepare starts the receipt of frame f: it checks f's size and kind and
// finds the key that opens it. It changes nothing in the Node.
func (n *Node) Prepare(f []byte) *Opening {
	o := &Opening{c: n.c}
	if len(f) != n.FrameSize() {
		o.drop = DropMalformed
		return o
	}
	o.kind, o.epoch, o.pkt = f[0], binary.BigEndian.Uint64(f[1:frameHeader]), f[frameHeader:]
	switch o.kind {
	case frameRelay:
		if k := n.relay[o.epoch]; k == nil {
			o.drop = DropUnknownKey
		} else {
			o.key = k.key
		}
	case frameEndpoint:
		o.key = n.ekey
	default:
		o.drop = DropMalformed
	}
	return o
}

// Open removes the frame's Sphinx layer (in place). It reads nothing of
// the Node that prepared it, so it may run outside that Node's lock,
// concurrently with other Openings; an Opening itself is for one goroutine.
func (o *Opening) Open() {
	if o.drop != "" || o.done {
		return
	}
	o.done = true
	o.u, o.err = o.c.unwrap(o.key, o.pkt)
}

// Finish ends the receipt of an opened frame: the replay check, the delay
// queue, delivery and acknowledgement. A frame whose relay key left the
// Node since Prepare (its epoch ended) is dropped as unknown_key.
func (n *Node) Finish(now time.Time, o *Opening) []Effect {
	n.tick(now)
	n.stats.PacketsIn++
	switch {
	case o.drop != "":
		return n.drop(o.drop)
	case !o.done:
		return n.drop(DropMalformed)
	case o.kind == frameRelay && !n.holds(o.epoch, o.key):
		return n.drop(DropUnknownKey)
	case o.err != nil:
		return n.unwrapDrop(o.err)
	case o.kind == frameRelay:
		return n.relayPacket(o.epoch, n.relay[o.epoch], o.u)
	}
	return n.endpointPacket(o.u)
}

// holds reports whether key is still the Node's relay key of epoch.
func (n *Node) holds(epoch uint64, key *ecdh.PrivateKey) bool {
	k := n.relay[epoch]
	return k != nil && k.key.Equal(key)
}

func (n *Node) drop(reason string) []Effect {
	if n.stats.Drops == nil {
		n.stats.Drops = map[string]uint64{}
	}
	n.stats.Drops[reason]++
	return nil
}

func (n *Node) unwrapDrop(err error) []Effect {
	switch {
	case errors.Is(err, errMAC):
		return n.drop(DropMAC)
	case errors.Is(err, errPayload):
		return n.drop(DropPayload)
	}
	return n.drop(DropMalformed)
}

// relayPacket holds a packet unwrapped under this node's relay key k of
// the epoch for its delay.
func (n *Node) relayPacket(epoch uint64, k *relayKey, u unwrapped) []Effect {
	if _, dup := k.tags[u.tag]; dup {
		return n.drop(DropReplay)
	}
	if len(k.tags) >= n.cfg.ReplayTags {
		return n.drop(DropReplayFull)
	}
	k.tags[u.tag] = struct{}{}
	eff := []Effect{PersistTag{Epoch: epoch, Tag: u.tag}}
	switch {
	case u.final && u.surbID == nil:
		// Drop cover ends at a relay.
		n.stats.CoverDropped++
		return eff
	case u.final || u.delay > maxHold:
		return append(eff, n.drop(DropMalformed)...)
	}
	if n.held.Len() >= n.cfg.MaxHeld {
		return append(eff, n.drop(DropHeldFull)...)
	}
	kind := frameRelay
	if u.nextEndpoint {
		kind = frameEndpoint
	}
	n.seq++
	heap.Push(&n.held, heldPacket{at: n.now.Add(u.delay), seq: n.seq,
		t: Transmit{To: u.next, Frame: frame(kind, epoch, u.packet)}})
	n.stats.Relayed++
	n.stats.DelaySum += u.delay
	return eff
}

// endpointPacket handles a packet at the end of its route: a message, an
// ACK, a reply, a loop or drop cover.
func (n *Node) endpointPacket(u unwrapped) []Effect {
	if !u.final {
		return n.drop(DropMalformed)
	}
	payload := u.payload
	if u.surbID != nil {
		b := n.blocks[*u.surbID]
		if b == nil {
			return n.drop(DropUnknownRef)
		}
		delete(n.blocks, *u.surbID)
		var err error
		if payload, err = n.c.openSURB(b.keys, payload); err != nil {
			return n.drop(DropPayload)
		}
		n.alive(b.route)
	}
	m, err := decodeMessage(payload, n.c.surbSize())
	if err != nil {
		return n.drop(DropMalformed)
	}
	switch {
	case m.kind == kindAck && u.surbID != nil:
		return n.acked(m.id)
	case m.kind == kindReply && u.surbID != nil:
		return n.inbound(m)
	case m.kind == kindData && u.surbID == nil:
		return n.inbound(m)
	case m.kind == kindLoop && u.surbID == nil:
		if l := n.loops[m.id]; l != nil {
			n.alive(l.route)
			delete(n.loops, m.id)
			n.stats.LoopsBack++
		}
		return nil
	case m.kind == kindDrop && u.surbID == nil:
		n.stats.CoverDropped++
		return nil
	}
	return n.drop(DropMalformed)
}

// alive records that a packet came back through route: its relays work.
// (A block's route is only the way back; the forward route of an ACKed
// message is cleared too, by acked.)
func (n *Node) alive(route []NodeID) {
	for _, r := range route {
		delete(n.health, r)
	}
}

// lost records that a packet through route did not come back in time.
// Each relay of it may be the one that failed; one that keeps failing
// reaches LoopsToDead first, as the others' successes reset theirs.
func (n *Node) lost(route []NodeID) {
	for _, r := range route {
		n.health[r]++
	}
}

// acked ends a pending message.
func (n *Node) acked(id MsgID) []Effect {
	m := n.pending[id]
	if m == nil {
		return nil // a late ACK of a retransmission
	}
	delete(n.pending, id)
	for _, b := range m.blocks {
		delete(n.blocks, b)
	}
	n.alive(m.lastRoute)
	n.stats.Acked++
	return []Effect{Acked{ID: id, Latency: n.now.Sub(m.sent), Attempts: m.attempts}}
}

// inbound delivers a message (once) and acknowledges it (every time: the
// first ACK may have been lost).
func (n *Node) inbound(m *message) []Effect {
	var eff []Effect
	if _, dup := n.seen[m.id]; dup {
		n.stats.Duplicates++
	} else {
		n.seen[m.id] = n.now.Add(2 * n.cfg.TTL)
		n.sweepBy(n.now.Add(2 * n.cfg.TTL))
		in := Inbound{ID: m.id, Body: m.body, At: n.now, CanReply: m.reply != nil}
		if m.kind == kindReply {
			r := m.inReplyTo
			in.InReplyTo = &r
		}
		if m.reply != nil {
			n.replies[m.id] = m.reply
		}
		n.stats.Delivered++
		eff = append(eff, Deliver{Message: in})
	}
	ack := &message{kind: kindAck, id: m.id}
	pl, err := ack.encode(n.c.payloadSize())
	if err != nil {
		return eff
	}
	pkt, first, err := n.c.fromSURB(m.ack.surb, pl)
	if err != nil {
		return append(eff, n.drop(DropMalformed)...)
	}
	// ACKs go first: a sender's retransmission timer runs.
	n.queue = append([]queued{{t: Transmit{To: first, Frame: frame(frameRelay, m.ack.epoch, pkt)}}}, n.queue...)
	if len(n.queue) > n.cfg.MaxQueue {
		n.queue = n.queue[:n.cfg.MaxQueue]
	}
	n.stats.AcksSent++
	return n.flush(eff)
}
