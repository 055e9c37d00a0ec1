package dm

import (
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fog-compute/fog/chat"
)

// net is two or more cores wired together on virtual time: direct frames
// go at once (while both are online), sealed envelopes wait in mailboxes
// until fetched or go through a "mix" at once, key lookups are answered
// from the published keys.
type net struct {
	t       *testing.T
	now     time.Time
	nodes   map[peer.ID]*Node
	keys    map[peer.ID]*chat.ChatKey
	online  map[peer.ID]bool
	mailbox map[peer.ID][][]byte
	// deposited names, in order, the message of each envelope left in
	// the mailboxes (zero for a receipt)
	deposited []MsgID
	wire      []SendOnline // direct frames, in order, for inspection
	got       map[peer.ID][]Message
	states    map[MsgID][]State
	lookups   int
	drop      bool // lose direct frames
	errs      []error
	queue     []queued // effects not carried out yet, in order
	busy      bool
}

type queued struct {
	self peer.ID
	eff  Effect
}

func newNet(t *testing.T, cfg Config, seeds ...byte) (*net, []peer.ID) {
	n := &net{
		t: t, now: t0, nodes: map[peer.ID]*Node{}, keys: map[peer.ID]*chat.ChatKey{},
		online: map[peer.ID]bool{}, mailbox: map[peer.ID][][]byte{},
		got: map[peer.ID][]Message{}, states: map[MsgID][]State{},
	}
	var ids []peer.ID
	for _, s := range seeds {
		_, id, k := testKeys(t, s)
		nd, err := NewNode(cfg, k, rnd(s+200))
		require.NoError(t, err)
		n.nodes[id], n.keys[id] = nd, k.Record
		ids = append(ids, id)
	}
	return n, ids
}

// setOnline makes p reachable (or not) for every other node.
func (n *net) setOnline(p peer.ID, on bool) {
	n.online[p] = on
	for id, nd := range n.nodes {
		if id != p {
			n.apply(id, nd.SetPeer(n.now, p, on && n.online[id]))
		}
	}
	if on {
		for id := range n.nodes {
			if id != p && n.online[id] {
				n.apply(p, n.nodes[p].SetPeer(n.now, id, true))
			}
		}
	}
}

// apply carries out eff in order, after the effects queued before them.
func (n *net) apply(self peer.ID, eff []Effect) {
	for _, e := range eff {
		n.queue = append(n.queue, queued{self, e})
	}
	if n.busy {
		return
	}
	n.busy = true
	defer func() { n.busy = false }()
	for len(n.queue) > 0 {
		q := n.queue[0]
		n.queue = n.queue[1:]
		n.do(q.self, q.eff)
	}
}

func (n *net) do(self peer.ID, e Effect) {
	{
		switch e := e.(type) {
		case SendOnline:
			n.wire = append(n.wire, e)
			if n.drop || !n.online[e.Peer] || !n.online[self] {
				return
			}
			n.recv(e.Peer, self, Direct, e.Frame)
		case StoreInMailbox:
			n.mailbox[e.Peer] = append(n.mailbox[e.Peer], e.Sealed)
			n.deposited = append(n.deposited, e.Message)
		case SendAnonymous:
			n.recv(e.Peer, "", Mix, e.Sealed)
		case LookupKey:
			n.lookups++
			eff, err := n.nodes[self].SetKey(n.now, e.Peer, n.keys[e.Peer])
			require.NoError(n.t, err)
			n.apply(self, eff)
		case Deliver:
			n.got[self] = append(n.got[self], e.Message)
		case StateChanged:
			n.states[e.ID] = append(n.states[e.ID], e.State)
		}
	}
}

func (n *net) recv(to, from peer.ID, r Route, frame []byte) {
	eff, err := n.nodes[to].Receive(n.now, from, r, frame)
	if err != nil {
		n.errs = append(n.errs, err)
	}
	n.apply(to, eff)
}

// fetch hands p its mailbox.
func (n *net) fetch(p peer.ID) {
	box := n.mailbox[p]
	n.mailbox[p] = nil
	for _, env := range box {
		n.recv(p, "", Mailbox, env)
	}
}

func (n *net) send(from, to peer.ID, body string, opts SendOptions) MsgID {
	id, eff, err := n.nodes[from].Send(n.now, to, []byte(body), opts)
	require.NoError(n.t, err)
	n.apply(from, eff)
	return id
}

// advance runs every node's ticks up to d from now.
func (n *net) advance(d time.Duration) {
	end := n.now.Add(d)
	for {
		var next time.Time
		for _, nd := range n.nodes {
			if t := nd.NextTick(); !t.IsZero() && (next.IsZero() || t.Before(next)) {
				next = t
			}
		}
		if next.IsZero() || next.After(end) {
			break
		}
		if next.After(n.now) {
			n.now = next
		}
		for id, nd := range n.nodes {
			n.apply(id, nd.Tick(n.now))
		}
	}
	n.now = end
}

func (n *net) state(from peer.ID, id MsgID) State {
	s, ok := n.nodes[from].State(id)
	require.True(n.t, ok)
	return s
}

func TestNodeOnline(t *testing.T) {
	cfg := testConfig()
	cfg.ReadReceipts = true
	n, ids := newNet(t, cfg, 1, 2)
	a, b := ids[0], ids[1]
	n.setOnline(a, true)
	n.setOnline(b, true)

	id := n.send(a, b, "hello b", SendOptions{})
	require.Len(t, n.got[b], 1)
	m := n.got[b][0]
	assert.Equal(t, "hello b", string(m.Body))
	assert.Equal(t, a, m.From)
	assert.Equal(t, id, m.ID)
	assert.Equal(t, Direct, m.Route)
	assert.Equal(t, []State{Sent, Delivered}, n.states[id])
	assert.Zero(t, n.lookups, "the handshake carried the keys")
	assert.Empty(t, n.errs)
	require.NotNil(t, n.nodes[a].Key(b), "a holds b's key from the handshake")
	assert.Equal(t, b, n.nodes[a].Key(b).Owner)
	assert.Nil(t, n.nodes[a].Key(ids[0]+"x"), "no key for a peer never heard of")

	// The session is reused: one data frame each way for the next message.
	before := len(n.wire)
	id2 := n.send(b, a, "hi a", SendOptions{})
	assert.Len(t, n.wire, before+2)
	assert.Equal(t, Delivered, n.state(b, id2))
	assert.Equal(t, uint64(1), n.got[b][0].Seq+1)

	eff, err := n.nodes[b].MarkRead(n.now, a, id)
	require.NoError(t, err)
	n.apply(b, eff)
	assert.Equal(t, Read, n.state(a, id))
	assert.Equal(t, []State{Sent, Delivered, Read}, n.states[id])
}

func TestNodeReadReceiptsOff(t *testing.T) {
	n, ids := newNet(t, testConfig(), 1, 2)
	a, b := ids[0], ids[1]
	n.setOnline(a, true)
	n.setOnline(b, true)
	id := n.send(a, b, "x", SendOptions{})
	eff, err := n.nodes[b].MarkRead(n.now, a, id)
	require.NoError(t, err)
	assert.Empty(t, eff)
	assert.Equal(t, Delivered, n.state(a, id))
	_, err = n.nodes[b].MarkRead(n.now, a, MsgID{9})
	assert.ErrorIs(t, err, ErrUnknownMessage)
}

func TestNodeOfflineMailbox(t *testing.T) {
	n, ids := newNet(t, testConfig(), 1, 2)
	a, b := ids[0], ids[1]
	n.setOnline(a, true)

	id := n.send(a, b, "while you were out", SendOptions{})
	assert.Equal(t, 1, n.lookups, "a needs b's published key to seal")
	require.Len(t, n.mailbox[b], 1)
	assert.Equal(t, Sent, n.state(a, id))

	// b reads its mailbox before it reaches a: the receipt is sealed to
	// a's mailboxes.
	n.fetch(b)
	require.Len(t, n.got[b], 1)
	assert.Equal(t, "while you were out", string(n.got[b][0].Body))
	assert.Equal(t, Mailbox, n.got[b][0].Route)
	assert.Equal(t, a, n.got[b][0].From)
	assert.Equal(t, Sent, n.state(a, id))
	require.Len(t, n.mailbox[a], 1)
	n.fetch(a)
	assert.Equal(t, Delivered, n.state(a, id))
	// Each envelope names the message it carries, so that the shell says
	// "stored in mailboxes" of that message only; the receipt names none.
	assert.Equal(t, []MsgID{id, {}}, n.deposited)

	// Once both are online, nothing is sent again.
	before := len(n.wire)
	n.setOnline(b, true)
	n.advance(time.Hour)
	assert.Len(t, n.wire, before)
	assert.Len(t, n.got[b], 1)
}

func TestNodeAnonymous(t *testing.T) {
	n, ids := newNet(t, testConfig(), 1, 2)
	a, b := ids[0], ids[1]
	n.setOnline(a, true)
	n.setOnline(b, true)
	id := n.send(a, b, "quietly", SendOptions{Anonymous: true})
	require.Len(t, n.got[b], 1)
	assert.Equal(t, Mix, n.got[b][0].Route)
	assert.Equal(t, a, n.got[b][0].From, "the recipient learns the sender; the network does not")
	assert.Equal(t, Delivered, n.state(a, id))
	for _, w := range n.wire {
		assert.NotEqual(t, frameHS1, w.Frame[0], "no direct stream was used")
	}
}

func TestNodeRetryAndExpiry(t *testing.T) {
	cfg := testConfig()
	cfg.TTL = 5 * time.Minute
	n, ids := newNet(t, cfg, 1, 2)
	a, b := ids[0], ids[1]
	n.setOnline(a, true)
	n.setOnline(b, true)
	n.drop = true // every direct frame is lost

	id := n.send(a, b, "lost", SendOptions{})
	assert.Equal(t, Pending, n.state(a, id), "waiting for the handshake")
	n.advance(cfg.HandshakeTimeout)
	assert.Equal(t, Sent, n.state(a, id), "after the handshake timeout, a mailbox copy")
	n.advance(cfg.TTL)
	assert.Equal(t, Failed, n.state(a, id))
	assert.Equal(t, []State{Sent, Failed}, n.states[id])
	var hs1 int
	for _, w := range n.wire {
		if w.Frame[0] == frameHS1 {
			hs1++
		}
	}
	// Backoff 10, 20, 40, 80, 160 s within 5 min: a handful of handshakes.
	assert.GreaterOrEqual(t, hs1, 3)
	assert.LessOrEqual(t, hs1, 8)
	assert.GreaterOrEqual(t, len(n.mailbox[b]), 3)

	// A retry that gets through is delivered once.
	n.drop = false
	id2 := n.send(a, b, "second", SendOptions{})
	assert.Equal(t, Delivered, n.state(a, id2))
	n.fetch(b) // the old copies: expired, refused
	for _, m := range n.got[b] {
		assert.NotEqual(t, id, m.ID)
	}
	assert.ErrorIs(t, n.errs[len(n.errs)-1], ErrExpired)
}

func TestNodeDedupe(t *testing.T) {
	n, ids := newNet(t, testConfig(), 1, 2)
	a, b := ids[0], ids[1]
	n.setOnline(a, true)
	// Offline b: three retries leave three copies in its mailbox.
	id := n.send(a, b, "once", SendOptions{})
	n.advance(2 * time.Minute)
	require.GreaterOrEqual(t, len(n.mailbox[b]), 3)
	n.fetch(b)
	require.Len(t, n.got[b], 1)
	assert.Equal(t, id, n.got[b][0].ID)
	// Receipts (sealed, to a's mailbox) for every copy.
	assert.GreaterOrEqual(t, len(n.mailbox[a]), 3)
	n.fetch(a)
	assert.Equal(t, Delivered, n.state(a, id))
}

func TestNodeReplayedFrameRefused(t *testing.T) {
	n, ids := newNet(t, testConfig(), 1, 2)
	a, b := ids[0], ids[1]
	n.setOnline(a, true)
	n.setOnline(b, true)
	n.send(a, b, "once", SendOptions{})
	var data []byte
	for _, w := range n.wire {
		if w.Peer == b && w.Frame[0] == frameData {
			data = w.Frame
		}
	}
	require.NotNil(t, data)
	_, err := n.nodes[b].Receive(n.now, a, Direct, data)
	assert.ErrorIs(t, err, ErrReplay)
	assert.Len(t, n.got[b], 1)
	// From another peer's stream, it is not a's session.
	_, idc, _ := testKeys(t, 3)
	eff, err := n.nodes[b].Receive(n.now, idc, Direct, data)
	assert.ErrorIs(t, err, ErrNoSession)
	require.Len(t, eff, 1)
	assert.Equal(t, frameReset, eff[0].(SendOnline).Frame[0])
	// A session frame that did not come over a stream.
	_, err = n.nodes[b].Receive(n.now, "", Mailbox, data)
	assert.ErrorIs(t, err, ErrMalformed)
}

func TestNodeOversized(t *testing.T) {
	n, ids := newNet(t, testConfig(), 1, 2)
	_, _, err := n.nodes[ids[0]].Send(n.now, ids[1], make([]byte, testConfig().MaxBody+1), SendOptions{})
	assert.ErrorIs(t, err, ErrTooLarge)

	// A sealed envelope whose body exceeds the receiver's limit.
	_, _, ka := testKeys(t, 1)
	p := payload{kind: kindText, id: MsgID{1}, sent: t0, expiry: t0.Add(time.Hour), body: make([]byte, testConfig().MaxBody+1)}
	plain, err := p.encode()
	require.NoError(t, err)
	env, err := Seal(ka, n.keys[ids[1]], plain, rnd(3))
	require.NoError(t, err)
	_, err = n.nodes[ids[1]].Receive(n.now, "", Mailbox, env)
	assert.ErrorIs(t, err, ErrTooLarge)
}

// A peer that restarted has no session; its reset makes the sender start a
// fresh handshake, and the message goes through.
func TestNodeSessionReset(t *testing.T) {
	cfg := testConfig()
	n, ids := newNet(t, cfg, 1, 2)
	a, b := ids[0], ids[1]
	n.setOnline(a, true)
	n.setOnline(b, true)
	n.send(a, b, "one", SendOptions{})
	_, _, kb := testKeys(t, 2)
	fresh, err := NewNode(cfg, kb, rnd(99))
	require.NoError(t, err)
	n.nodes[b] = fresh
	n.apply(b, fresh.SetPeer(n.now, a, true))
	id := n.send(a, b, "two", SendOptions{})
	assert.Equal(t, Delivered, n.state(a, id))
	assert.Equal(t, "two", string(n.got[b][len(n.got[b])-1].Body))
}

// Both sides start a handshake at once: one session results.
func TestNodeSimultaneousHandshake(t *testing.T) {
	n, ids := newNet(t, testConfig(), 1, 2)
	a, b := ids[0], ids[1]
	n.online[a], n.online[b] = true, true
	n.apply(a, n.nodes[a].SetPeer(n.now, b, true))
	n.apply(b, n.nodes[b].SetPeer(n.now, a, true))
	// Queue both first messages without delivering, then exchange.
	n.drop = true
	ida, effa, err := n.nodes[a].Send(n.now, b, []byte("from a"), SendOptions{})
	require.NoError(t, err)
	idb, effb, err := n.nodes[b].Send(n.now, a, []byte("from b"), SendOptions{})
	require.NoError(t, err)
	n.drop = false
	n.apply(a, effa)
	n.apply(b, effb)
	assert.Equal(t, Delivered, n.state(a, ida))
	assert.Equal(t, Delivered, n.state(b, idb))
}

func TestNodeForgedKeyRefused(t *testing.T) {
	n, ids := newNet(t, testConfig(), 1, 2)
	a, b := ids[0], ids[1]
	forged := *n.keys[b]
	forged.Public = n.keys[a].Public
	_, err := n.nodes[a].SetKey(n.now, b, &forged)
	assert.ErrorIs(t, err, chat.ErrBadSignature)
	_, err = n.nodes[a].SetKey(n.now, a, n.keys[b])
	assert.ErrorIs(t, err, chat.ErrBadSignature, "b's key offered as a's")
}
