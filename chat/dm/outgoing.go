package dm

import (
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
)

// Outgoing is a sent message the core still retries (Pending or Sent): what
// the shell persists so that the retrying survives a restart (Restore).
type Outgoing struct {
	ID        MsgID     `json:"id"`
	To        peer.ID   `json:"to"`
	Seq       uint64    `json:"seq"`
	Sent      time.Time `json:"sent"`
	Expiry    time.Time `json:"expiry"`
	Body      []byte    `json:"body"`
	Anonymous bool      `json:"anonymous,omitempty"`
	State     State     `json:"state"`
}

// Outgoing returns the sent message id while the core retries it.
func (n *Node) Outgoing(id MsgID) (Outgoing, bool) {
	m := n.out[id]
	if m == nil || m.state > Sent {
		return Outgoing{}, false
	}
	return Outgoing{
		ID: id, To: m.to, Seq: m.p.seq, Sent: m.p.sent, Expiry: m.p.expiry,
		Body: append([]byte(nil), m.p.body...), Anonymous: m.anonymous, State: m.state,
	}, true
}

// Restore takes back the messages a previous run of this node sent and
// had not settled (from Outgoing). Each is retried from the next Tick by
// the route the peer's state gives then, with a fresh backoff; one that
// expired meanwhile fails (a StateChanged effect); one the core already
// holds, or whose body is over MaxBody, is ignored. The next messages to a
// peer are numbered after the restored ones.
func (n *Node) Restore(now time.Time, ms []Outgoing) []Effect {
	var eff []Effect
	for _, o := range ms {
		if _, ok := n.out[o.ID]; ok || o.To == n.self || o.To == "" || len(o.Body) > n.cfg.MaxBody || o.State > Sent {
			continue
		}
		if !now.Before(o.Expiry) {
			eff = append(eff, StateChanged{ID: o.ID, Peer: o.To, State: Failed})
			continue
		}
		if len(n.out) >= n.cfg.MaxPending {
			break
		}
		ps := n.peer(o.To)
		ps.seq = max(ps.seq, o.Seq+1)
		n.out[o.ID] = &outMsg{
			p: payload{kind: kindText, id: o.ID, seq: o.Seq, sent: time.UnixMilli(o.Sent.UnixMilli()),
				expiry: time.UnixMilli(o.Expiry.UnixMilli()), body: append([]byte(nil), o.Body...)},
			to: o.To, anonymous: o.Anonymous, state: o.State, retryAt: now,
		}
	}
	return eff
}

// KeyNotFound tells the core that the lookup of p's chat key (LookupKey)
// failed: the next attempt of a message to p asks again.
func (n *Node) KeyNotFound(p peer.ID) {
	if ps, ok := n.peers[p]; ok {
		ps.lookup = false
	}
}
