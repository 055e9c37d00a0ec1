package mixnet

import (
	"container/heap"
	"fmt"
	"time"
)

// Stats counts what a Node did since it was made.
type Stats struct {
	// Relay side.
	PacketsIn    uint64            // frames received
	Relayed      uint64            // packets unwrapped and held for the next hop
	Forwarded    uint64            // held packets released to the next hop
	Replays      uint64            // packets dropped as replays (Drops[DropReplay])
	Drops        map[string]uint64 // dropped packets by reason (Drop*)
	DelaySum     time.Duration     // the delays of relayed packets, summed
	Held         int               // packets held now
	CoverDropped uint64            // drop cover that ended here

	// Sender and recipient side.
	PacketsOut    uint64 // frames sent on the send stream (all kinds)
	Sent          uint64 // messages sent (Send and Reply)
	Acked         uint64 // messages acknowledged
	Retransmitted uint64 // packets sent again over a fresh route
	Failed        uint64 // messages given up
	Delivered     uint64 // messages delivered to this node's user
	Duplicates    uint64 // messages received again (and ACKed again)
	AcksSent      uint64
	LoopsSent     uint64
	LoopsBack     uint64
	RelayLoops    uint64 // loops sent as a relay (RelayLoopRate)
	DropsSent     uint64 // drop cover sent (stream filler and λ_D)
	Queued        int    // packets waiting for the send stream
	Pending       int    // messages waiting for their ACK
}

// Stats returns the counters.
func (n *Node) Stats() Stats {
	s := n.stats
	s.Drops = make(map[string]uint64, len(n.stats.Drops))
	for k, v := range n.stats.Drops {
		s.Drops[k] = v
	}
	s.Held, s.Queued, s.Pending = n.held.Len(), len(n.queue), len(n.pending)
	s.Replays = s.Drops[DropReplay]
	return s
}

// never is a time no tick waits for.
var never = time.Unix(1<<62, 0)

// NextTick returns when Tick must next be called (a held packet's release,
// the Poisson streams' next events, a retransmission or expiry); the zero
// time if the Node has not been given a time yet.
func (n *Node) NextTick() time.Time {
	if !n.start {
		return time.Time{}
	}
	t := n.sweepAt
	if n.held.Len() > 0 && n.held[0].at.Before(t) {
		t = n.held[0].at
	}
	if n.cfg.Cover {
		for _, c := range []time.Time{n.nextSend, n.nextLoop, n.nextDrop} {
			if c.Before(t) {
				t = c
			}
		}
		if _, ok := n.relayLayer(); ok && n.cfg.RelayLoopRate > 0 {
			c := n.nextRelayLoop
			if c.IsZero() {
				c = n.now // a Tick starts the stream: the node became a relay
			}
			if c.Before(t) {
				t = c
			}
		}
	}
	return t
}

// sweepBy makes the next sweep happen by t.
func (n *Node) sweepBy(t time.Time) {
	if t.Before(n.sweepAt) || n.sweepAt.IsZero() {
		n.sweepAt = t
	}
}

// Tick releases held packets whose delay is over, runs the Poisson
// streams up to now, retransmits messages whose ACK is late and expires
// what has lived out its time.
func (n *Node) Tick(now time.Time) []Effect {
	n.tick(now)
	var eff []Effect
	for n.held.Len() > 0 && !n.held[0].at.After(n.now) {
		p := heap.Pop(&n.held).(heldPacket)
		eff = append(eff, p.t)
		n.stats.Forwarded++
	}
	if !n.sweepAt.After(n.now) {
		eff = n.sweep(eff)
	}
	if n.cfg.Cover {
		// Queued packets leave at the send stream's events and take the
		// place of the drop stream's cover too: both are indistinguishable
		// drop-or-real slots to an observer, and a queued ACK waits for the
		// first of them (mean 1/(SendRate+DropRate)).
		for !n.nextSend.After(n.now) {
			eff = n.slot(eff)
			n.nextSend = n.nextSend.Add(n.gap(n.cfg.SendRate))
		}
		for !n.nextLoop.After(n.now) {
			if t, ok := n.cover(true); ok {
				eff = append(eff, t)
				n.stats.LoopsSent++
				n.stats.PacketsOut++
			}
			n.nextLoop = n.nextLoop.Add(n.gap(n.cfg.LoopRate))
		}
		for !n.nextDrop.After(n.now) {
			eff = n.slot(eff)
			n.nextDrop = n.nextDrop.Add(n.gap(n.cfg.DropRate))
		}
		eff = n.relayLoops(eff)
	}
	return eff
}

// relayLayer returns the layer this node relays in the epoch it sends in.
func (n *Node) relayLayer() (int, bool) {
	k := n.relay[n.sendDir]
	if k == nil || n.dirs[n.sendDir] == nil {
		return 0, false
	}
	return k.layer, true
}

// relayLoops runs the relay loop stream up to now while the node relays;
// it starts one gap after the node becomes a relay and stops when it no
// longer is.
func (n *Node) relayLoops(eff []Effect) []Effect {
	layer, ok := n.relayLayer()
	if !ok || n.cfg.RelayLoopRate <= 0 {
		n.nextRelayLoop = time.Time{}
		return eff
	}
	if n.nextRelayLoop.IsZero() {
		n.nextRelayLoop = n.now.Add(n.gap(n.cfg.RelayLoopRate))
	}
	for !n.nextRelayLoop.After(n.now) {
		if t, ok := n.relayLoop(layer); ok {
			eff = append(eff, t)
			n.stats.RelayLoops++
		}
		n.nextRelayLoop = n.nextRelayLoop.Add(n.gap(n.cfg.RelayLoopRate))
	}
	return eff
}

// relayLoop builds a relay's loop: from the layer after its own through
// every other layer, never through itself, and back to it.
func (n *Node) relayLoop(layer int) (Transmit, bool) {
	d := n.dirs[n.sendDir]
	order := make([]int, 0, n.cfg.Layers-1)
	for i := 1; i < n.cfg.Layers; i++ {
		order = append(order, (layer+i)%n.cfg.Layers)
	}
	route, err := pickRouteLayers(n.rng, d.relays, order, n.self, func(id NodeID) bool {
		return n.health[id] >= n.cfg.LoopsToDead
	}, n.cfg.MeanDelay, n.cfg.MaxDelay)
	if err != nil {
		return Transmit{}, false
	}
	return n.loopOver(route)
}

// slot fills one event of a Poisson stream: the next queued packet, or drop
// cover.
func (n *Node) slot(eff []Effect) []Effect {
	if len(n.queue) > 0 {
		return append(eff, n.depart())
	}
	if t, ok := n.cover(false); ok {
		n.stats.DropsSent++
		n.stats.PacketsOut++
		eff = append(eff, t)
	}
	return eff
}

// sweep retransmits late messages, gives up expired ones, counts lost
// loops against their relays and forgets expired blocks and IDs.
func (n *Node) sweep(eff []Effect) []Effect {
	next := never
	soon := func(t time.Time) {
		if t.Before(next) {
			next = t
		}
	}
	for id, m := range n.pending {
		switch {
		case !n.now.Before(m.deadline):
			delete(n.pending, id)
			n.stats.Failed++
			eff = append(eff, Failed{ID: id, Err: fmt.Errorf("%w (%d attempts)", ErrExpired, m.attempts)})
			continue
		case !n.now.Before(m.retryAt):
			n.lost(m.lastRoute)
			if err := n.transmitMsg(m); err != nil {
				m.retryAt = n.now.Add(n.cfg.AckSlack) // no route now: try again later
			} else {
				n.stats.Retransmitted++
			}
		}
		soon(m.retryAt)
		soon(m.deadline)
	}
	for id, l := range n.loops {
		if n.now.Before(l.deadline) {
			soon(l.deadline)
			continue
		}
		n.lost(l.route)
		delete(n.loops, id)
	}
	for id, b := range n.blocks {
		if n.now.Before(b.expires) {
			soon(b.expires)
		} else {
			delete(n.blocks, id)
		}
	}
	for id, t := range n.seen {
		if n.now.Before(t) {
			soon(t)
		} else {
			delete(n.seen, id)
			delete(n.replies, id)
		}
	}
	n.sweepAt = next
	return n.flush(eff)
}

// cover builds a loop packet (back to this node) or a drop packet (ending
// at a relay of the last layer).
func (n *Node) cover(isLoop bool) (Transmit, bool) {
	route, err := n.route()
	if err != nil {
		return Transmit{}, false
	}
	if !isLoop {
		var id MsgID
		n.fill(id[:])
		last := route[len(route)-1]
		hops, _ := n.hops(route[:len(route)-1], last.ID, nil)
		mk := hopKey(last.Relay)
		hops[len(hops)-1].key = mk
		pl, err := (&message{kind: kindDrop, id: id}).encode(n.c.payloadSize())
		if err != nil {
			return Transmit{}, false
		}
		t, err := n.sealLater(route[0].ID, hops, pl)
		return t, err == nil
	}
	return n.loopOver(route)
}

// loopOver builds a loop packet over route back to this node and waits
// for it, to learn whether the route's relays work.
func (n *Node) loopOver(route []Hop) (Transmit, bool) {
	var id MsgID
	n.fill(id[:])
	t, total, err := n.packet(route, n.self, &message{kind: kindLoop, id: id})
	if err != nil {
		return Transmit{}, false
	}
	dl := n.now.Add(total + n.cfg.AckSlack)
	n.loops[id] = &loop{route: relayIDs(route), deadline: dl}
	n.sweepBy(dl)
	return t, true
}
