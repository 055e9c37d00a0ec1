package mixnet

import (
	"container/heap"
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

// Receive handles a frame that arrived from another node.
func (n *Node) Receive(now time.Time, f []byte) []Effect {
	n.tick(now)
	n.stats.PacketsIn++
	if len(f) != n.FrameSize() {
		return n.drop(DropMalformed)
	}
	epoch := binary.BigEndian.Uint64(f[1:frameHeader])
	pkt := f[frameHeader:]
	switch f[0] {
	case frameRelay:
		return n.relayPacket(epoch, pkt)
	case frameEndpoint:
		return n.endpointPacket(pkt)
	}
	return n.drop(DropMalformed)
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

// relayPacket unwraps one layer of a packet under this node's relay key
// of the epoch and holds the rest for its delay.
func (n *Node) relayPacket(epoch uint64, pkt []byte) []Effect {
	k := n.relay[epoch]
	if k == nil {
		return n.drop(DropUnknownKey)
	}
	u, err := n.c.unwrap(k.key, pkt)
	if err != nil {
		return n.unwrapDrop(err)
	}
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
func (n *Node) endpointPacket(pkt []byte) []Effect {
	u, err := n.c.unwrap(n.ekey, pkt)
	if err != nil {
		return n.unwrapDrop(err)
	}
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
