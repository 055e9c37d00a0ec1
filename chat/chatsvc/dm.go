package chatsvc

import (
	"context"
	"crypto/ecdh"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ipfs/go-datastore/query"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/fog-compute/fog/chat"
	"github.com/fog-compute/fog/chat/dm"
	"github.com/fog-compute/fog/chat/mailbox"
	"github.com/fog-compute/fog/internal/clock"
	"github.com/fog-compute/fog/mix/mixnet"
	"github.com/fog-compute/fog/p2p"
	"github.com/fog-compute/fog/store"
)

// maxFrame bounds a frame read from a DM stream (the dm core refuses
// larger ones anyway).
const maxFrame = 1 << 16

// Received is a direct message in the inbox.
type Received struct {
	// Seq numbers the inbox from 1, in arrival order.
	Seq uint64 `json:"seq"`
	// At is when it arrived, on this node's clock.
	At time.Time `json:"at"`
	dm.Message
}

// Sent is what this node knows of a message it sent.
type Sent struct {
	ID    dm.MsgID  `json:"-"`
	To    peer.ID   `json:"to"`
	State dm.State  `json:"-"`
	At    time.Time `json:"at"`
	// Routes says how it went out: "direct", "mailbox" (with how many
	// mailboxes took it), "mix".
	Routes    []string `json:"routes"`
	Mailboxes int      `json:"mailboxes"`
}

// SendOptions are the choices of one Send.
type SendOptions = dm.SendOptions

// Send sends body to the peer or name to; it returns the message's ID at
// once, and Wait tells how it went.
func (s *Service) Send(ctx context.Context, to string, body []byte, o SendOptions) (dm.MsgID, peer.ID, error) {
	var id dm.MsgID
	if _, err := s.runCtx(); err != nil {
		return id, "", err
	}
	p, err := s.Resolve(to)
	if err != nil {
		return id, "", err
	}
	if o.Anonymous && s.o.Mix == nil {
		return id, p, ErrNoMix
	}
	if err := s.space(); err != nil {
		return id, p, err
	}
	connected := online(s.o.Host.Network().Connectedness(p))
	now := s.clock.Now()
	s.mu.Lock()
	eff := s.node.SetPeer(now, p, connected)
	id, more, err := s.node.Send(now, p, body, o)
	var rec dm.Outgoing
	if err == nil {
		s.sent[id] = &Sent{ID: id, To: p, State: dm.Pending, At: now}
		s.trimSentLocked()
		rec, _ = s.node.Outgoing(id)
	}
	s.mu.Unlock()
	if err != nil {
		s.apply(eff)
		return id, p, err
	}
	// Stored before anything leaves, so that a receipt cannot overtake it
	// and leave a record that is retried for nothing after a restart.
	if err := s.saveOutgoing(ctx, rec); err != nil {
		// The disk filled since the check above: the message goes out
		// all the same, but is not retried after a restart.
		s.log.Warn("storing a sent message for its retries", "err", err)
	}
	s.apply(append(eff, more...))
	if !connected && !o.Anonymous {
		s.maybeConnect(p)
	}
	s.poke()
	return id, p, nil
}

// maxSent bounds the sent messages remembered for Wait and SentInfo: past
// it, those that ended (delivered, read or failed) are forgotten.
const maxSent = 10_000

func (s *Service) trimSentLocked() {
	if len(s.sent) <= maxSent {
		return
	}
	for id, m := range s.sent {
		if m.State >= dm.Delivered && len(s.waiters[id]) == 0 {
			delete(s.sent, id)
		}
	}
}

// maybeConnect calls tryConnect for p unless it was tried within the last
// Config.DM.RetryMin. A peer that is connected is online: a stream to it
// that failed (it was busy, or the machine was) marked it offline, and no
// connectedness event will say otherwise while the connection lasts.
func (s *Service) maybeConnect(p peer.ID) {
	if online(s.o.Host.Network().Connectedness(p)) {
		s.mu.Lock()
		var eff []dm.Effect
		if s.node != nil {
			eff = s.node.SetPeer(s.clock.Now(), p, true)
		}
		s.mu.Unlock()
		s.apply(eff)
		return
	}
	now := s.clock.Now()
	s.mu.Lock()
	if last, ok := s.dialed[p]; ok && now.Sub(last) < s.cfg.DM.RetryMin {
		s.mu.Unlock()
		return
	}
	if len(s.dialed) >= maxDialed {
		clear(s.dialed)
	}
	s.dialed[p] = now
	s.mu.Unlock()
	s.tryConnect(p)
}

// online says whether a peer so connected can take a DM stream now: a
// relayed (limited) connection can, for DMs open streams on it.
func online(c network.Connectedness) bool {
	return c == network.Connected || c == network.Limited
}

// maxDialed bounds the peers remembered by maybeConnect.
const maxDialed = 1000

// tryConnect looks the peer up and dials it; if that works, the core
// learns it is online and sends directly.
func (s *Service) tryConnect(p peer.ID) {
	s.carry(func(ctx context.Context) {
		// The addresses this node knows first, then the DHT's.
		if s.o.Host.Connect(ctx, peer.AddrInfo{ID: p}) == nil {
			return
		}
		ai, err := s.o.Records.FindPeer(ctx, p)
		if err != nil {
			return
		}
		if err := s.o.Host.Connect(ctx, ai); err != nil {
			return
		}
		// The connectedness event tells the core.
	})
}

// Wait waits until the message id reaches the state until (Delivered or
// Read), has failed, or — with orStored — sits in the recipient's
// mailboxes, or until ctx ends; it returns what is known of it. A message
// still pending Config.KeyLookupWait after it was sent because the
// recipient's chat key was not found ends the wait with ErrNoChatKey
// (the message is still retried until it expires).
func (s *Service) Wait(ctx context.Context, id dm.MsgID, until dm.State, orStored bool) (Sent, error) {
	var giveUp clock.Timer
	defer func() {
		if giveUp != nil {
			giveUp.Stop()
		}
	}()
	var giveUpC <-chan time.Time
	for {
		s.mu.Lock()
		m := s.sent[id]
		if m == nil {
			s.mu.Unlock()
			return Sent{}, ErrUnknownMessage
		}
		out := *m
		out.Routes = slices.Clone(m.Routes)
		if m.State >= until || m.State == dm.Failed || orStored && m.Mailboxes > 0 {
			s.mu.Unlock()
			return out, nil
		}
		if m.State == dm.Pending && s.node != nil && s.node.Key(m.To) == nil {
			left := clock.Until(s.clock, m.At.Add(s.cfg.KeyLookupWait))
			if left <= 0 {
				why := s.keyErrs[m.To]
				s.mu.Unlock()
				reason := "the lookup has not answered"
				if why != nil {
					reason = why.Error()
				}
				return out, fmt.Errorf("%w: peer %s: not found within %s (%s); the node keeps trying until the message expires",
					ErrNoChatKey, m.To, s.cfg.KeyLookupWait, reason)
			}
			if giveUp == nil {
				giveUp = s.clock.NewTimer(left)
				giveUpC = giveUp.C()
			}
		}
		ch := make(chan struct{})
		s.waiters[id] = append(s.waiters[id], ch)
		s.mu.Unlock()
		select {
		case <-ch:
		case <-giveUpC:
			giveUpC = nil
			giveUp = nil
		case <-ctx.Done():
			return Sent{}, ctx.Err()
		}
	}
}

// SentInfo returns what is known of a sent message.
func (s *Service) SentInfo(id dm.MsgID) (Sent, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.sent[id]
	if m == nil {
		return Sent{}, false
	}
	out := *m
	out.Routes = slices.Clone(m.Routes)
	return out, true
}

// Inbox returns the received messages with Seq greater than after.
func (s *Service) Inbox(after uint64) []Received {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Received
	for _, r := range s.inbox {
		if r.Seq > after {
			out = append(out, r)
		}
	}
	return out
}

// MarkRead tells the sender of a received message that it was read, if
// read receipts are on (Config.DM.ReadReceipts).
func (s *Service) MarkRead(from peer.ID, id dm.MsgID) error {
	s.mu.Lock()
	eff, err := s.node.MarkRead(s.clock.Now(), from, id)
	s.mu.Unlock()
	s.apply(eff)
	return err
}

// handle reads the frames of a DM stream.
func (s *Service) handle(st network.Stream) {
	defer st.Close()
	from := st.Conn().RemotePeer()
	var hdr [4]byte
	for {
		if _, err := io.ReadFull(st, hdr[:]); err != nil {
			if err != io.EOF {
				_ = st.Reset()
			}
			return
		}
		n := binary.BigEndian.Uint32(hdr[:])
		if n == 0 || n > maxFrame {
			_ = st.Reset()
			return
		}
		f := make([]byte, n)
		if _, err := io.ReadFull(st, f); err != nil {
			_ = st.Reset()
			return
		}
		p2p.Touch(st)
		s.receive(from, dm.Direct, f)
	}
}

// space returns why the store cannot take writes now, or nil.
func (s *Service) space() error {
	if s.o.Space == nil {
		return nil
	}
	if err := s.o.Space(); err != nil {
		return fmt.Errorf("chatsvc: %w", err)
	}
	return nil
}

// receive hands a frame to the core, unless the store cannot take writes:
// then it drops the frame, unacknowledged, and returns why.
func (s *Service) receive(from peer.ID, route dm.Route, f []byte) error {
	if err := s.space(); err != nil {
		s.log.Debug("dm frame dropped: the store takes no writes", "from", from, "route", route, "err", err)
		return err
	}
	s.mu.Lock()
	if s.node == nil {
		s.mu.Unlock()
		return nil
	}
	var eff []dm.Effect
	if route == dm.Direct && from != "" {
		// It wrote to us over a stream: it is online, whatever the
		// connectedness events said (a connection older than this service
		// sent none).
		eff = s.node.SetPeer(s.clock.Now(), from, true)
	}
	more, err := s.node.Receive(s.clock.Now(), from, route, f)
	eff = append(eff, more...)
	s.mu.Unlock()
	if err != nil {
		s.log.Debug("dm frame refused", "from", from, "route", route, "err", err)
	}
	s.apply(eff)
	s.poke()
	return nil
}

// carry runs f on a goroutine owned by Run, at most MaxInFlight at once.
func (s *Service) carry(f func(ctx context.Context)) {
	ctx, err := s.runCtx()
	if err != nil {
		return
	}
	s.wg.Go(func() {
		select {
		case s.sem <- struct{}{}:
		case <-ctx.Done():
			return
		}
		defer func() { <-s.sem }()
		cctx, cancel := context.WithTimeout(ctx, s.cfg.SendTimeout)
		defer cancel()
		f(cctx)
	})
}

// apply carries out the core's effects: messages are stored before any
// receipt that acknowledges them leaves.
func (s *Service) apply(eff []dm.Effect) {
	for _, e := range eff {
		if d, ok := e.(dm.Deliver); ok {
			s.deliver(d.Message)
		}
	}
	for _, e := range eff {
		switch e := e.(type) {
		case dm.SendOnline:
			s.sendFrame(e.Peer, e.Frame)
			s.route(e.Peer, "direct")
		case dm.StoreInMailbox:
			s.carry(func(ctx context.Context) { s.deposit(ctx, e.Peer, e.Message, e.Sealed) })
			// The peer may be online all the same, only not connected to
			// this node: a retry tries to reach it directly too.
			s.maybeConnect(e.Peer)
		case dm.SendAnonymous:
			s.carry(func(ctx context.Context) { s.sendMix(ctx, e.Peer, e.Sealed) })
		case dm.LookupKey:
			s.carry(func(ctx context.Context) { s.lookupKey(ctx, e.Peer) })
			// Online, it would give its key in a handshake.
			s.maybeConnect(e.Peer)
		case dm.StateChanged:
			s.mu.Lock()
			if m := s.sent[e.ID]; m != nil {
				m.State = e.State
			}
			for _, ch := range s.waiters[e.ID] {
				close(ch)
			}
			delete(s.waiters, e.ID)
			s.mu.Unlock()
			if s.o.StateChanged != nil {
				s.o.StateChanged(e.ID, e.Peer, e.State)
			}
			if e.State > dm.Sent {
				s.settled(e.ID)
			}
		}
	}
}

// route records, for the messages to p waiting, how a copy went out.
func (s *Service) route(p peer.ID, how string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, m := range s.sent {
		if m.To == p && m.State <= dm.Sent && !slices.Contains(m.Routes, how) {
			m.Routes = append(m.Routes, how)
		}
	}
}

// dmLink carries the frames to one peer in order, over one stream: the
// handshake's and the session's frames must arrive in the order the core
// made them.
type dmLink struct {
	q chan []byte
}

// linkQueue bounds the frames waiting for one peer.
const linkQueue = 256

// sendFrame queues a frame for p's link, starting it if needed.
func (s *Service) sendFrame(p peer.ID, f []byte) {
	ctx, err := s.runCtx()
	if err != nil {
		return
	}
	s.mu.Lock()
	l := s.links[p]
	if l == nil {
		l = &dmLink{q: make(chan []byte, linkQueue)}
		s.links[p] = l
		s.wg.Go(func() { s.runLink(ctx, p, l) })
	}
	select {
	case l.q <- f:
	default: // a peer that takes no frames: the core retries later
	}
	s.mu.Unlock()
}

// runLink writes a link's frames until it idles out, fails or ctx ends; a
// failure tells the core p is not reachable now.
func (s *Service) runLink(ctx context.Context, p peer.ID, l *dmLink) {
	var st network.Stream
	failed := false
	defer func() {
		if st != nil {
			_ = st.Close()
		}
		s.mu.Lock()
		delete(s.links, p)
		var eff []dm.Effect
		if failed && s.node != nil {
			eff = s.node.SetPeer(s.clock.Now(), p, false)
		}
		s.mu.Unlock()
		s.apply(eff)
	}()
	idle := s.clock.NewTimer(30 * time.Second)
	defer idle.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-idle.C():
			s.mu.Lock()
			if len(l.q) == 0 {
				delete(s.links, p)
				s.mu.Unlock()
				return
			}
			s.mu.Unlock()
			idle.Reset(30 * time.Second)
		case f := <-l.q:
			idle.Stop()
			idle.Reset(30 * time.Second)
			if st == nil {
				octx, cancel := context.WithTimeout(ctx, s.cfg.SendTimeout)
				// A relayed (limited) connection is enough for a DM: two
				// nodes behind NATs that hole punching cannot join talk
				// through a relay's circuit, whose limits (128 KiB, 2
				// minutes) the link's reopening survives.
				octx = network.WithAllowLimitedConn(octx, "chat-dm")
				var err error
				st, err = DMProtocol.Open(octx, s.o.Host, p)
				cancel()
				if err != nil {
					s.log.Debug("dm stream", "peer", p, "err", err)
					failed = true
					return
				}
			}
			_ = st.SetWriteDeadline(s.clock.Now().Add(s.cfg.SendTimeout))
			b := binary.BigEndian.AppendUint32(make([]byte, 0, 4+len(f)), uint32(len(f)))
			if _, err := st.Write(append(b, f...)); err != nil {
				s.log.Debug("dm stream", "peer", p, "err", err)
				_ = st.Reset()
				st, failed = nil, true
				return
			}
		}
	}
}

func (s *Service) sendMix(ctx context.Context, p peer.ID, sealed []byte) {
	if s.o.Mix == nil {
		return
	}
	body := append(append([]byte(nil), mixPrefix...), sealed...)
	if _, err := s.o.Mix.Send(ctx, p, body, mixnet.SendOptions{}); err != nil {
		s.log.Debug("dm over the mix", "peer", p, "err", err)
		return
	}
	s.route(p, "mix")
}

// deposit leaves the sealed envelope of message id (zero for a receipt)
// in p's mailboxes, and records in how many it is stored.
func (s *Service) deposit(ctx context.Context, p peer.ID, id dm.MsgID, sealed []byte) {
	if s.o.Mailboxes == nil {
		return
	}
	// The core sealed the envelope to the key it holds for p: use that one,
	// rather than ask the DHT again.
	s.mu.Lock()
	rec := s.node.Key(p)
	s.mu.Unlock()
	var key *ecdh.PublicKey
	var err error
	if rec != nil {
		key, err = ecdh.X25519().NewPublicKey(rec.Public[:])
	} else {
		key, err = s.chatKey(ctx, p)
	}
	if err != nil {
		s.log.Debug("dm to mailboxes", "peer", p, "err", err)
		return
	}
	n, err := s.o.Mailboxes.Deposit(ctx, p, key, sealed)
	if err != nil || n == 0 {
		s.log.Debug("dm to mailboxes", "peer", p, "stored", n, "err", err)
		return
	}
	s.route(p, "mailbox")
	// Only this envelope's message is stored: another one to p, sent
	// meanwhile, is in its own envelope, whose deposit may yet fail.
	s.mu.Lock()
	if m := s.sent[id]; m != nil && m.To == p && m.State <= dm.Sent {
		m.Mailboxes = max(m.Mailboxes, n)
		for _, ch := range s.waiters[id] {
			close(ch)
		}
		delete(s.waiters, id)
	}
	s.mu.Unlock()
}

// fetchMail reads this node's mailboxes.
func (s *Service) fetchMail(ctx context.Context) {
	if s.o.Mailboxes == nil {
		return
	}
	s.fetchMu.Lock()
	defer s.fetchMu.Unlock()
	fctx, cancel := context.WithTimeout(ctx, 4*s.cfg.SendTimeout)
	defer cancel()
	// An item not taken (no room to store it) stays at its hosts.
	rep, err := s.o.Mailboxes.Fetch(fctx, func(m mailbox.Message) error {
		return s.receive("", dm.Mailbox, m.Payload)
	})
	if err != nil {
		s.log.Debug("mailboxes", "fetched", rep.Delivered, "err", err)
	}
}

// FetchMail reads this node's mailboxes now.
func (s *Service) FetchMail(ctx context.Context) error {
	if _, err := s.runCtx(); err != nil {
		return err
	}
	s.fetchMail(ctx)
	return nil
}

// lookupKey finds p's chat key in the DHT and gives it to the core.
func (s *Service) lookupKey(ctx context.Context, p peer.ID) {
	r, err := s.o.Records.GetRecord(ctx, p, chat.ChatKeyRecordName)
	var k *chat.ChatKey
	if err == nil {
		k, err = chat.DecodeChatKey(r.Value)
	}
	if err != nil {
		s.keyNotFound(p, err)
		return
	}
	s.mu.Lock()
	eff, err := s.node.SetKey(s.clock.Now(), p, k)
	if err == nil {
		delete(s.keyErrs, p)
	}
	s.mu.Unlock()
	if err != nil {
		s.keyNotFound(p, err)
	}
	s.apply(eff)
	s.poke()
}

// Received direct messages are stored under /dm/<time>-<id>, synced
// before the receipt that acknowledges them leaves.
func inboxKey(m dm.Message, at time.Time) string {
	return fmt.Sprintf("%020d-%s", at.UnixNano(), hex.EncodeToString(m.ID[:]))
}

// arrivedAt reads the arrival time back from a stored message's key (the
// zero time if the key is not one inboxKey made).
func arrivedAt(key string) time.Time {
	name := key[strings.LastIndexByte(key, '/')+1:]
	ns, _, ok := strings.Cut(name, "-")
	if !ok {
		return time.Time{}
	}
	n, err := strconv.ParseInt(ns, 10, 64)
	if err != nil {
		return time.Time{}
	}
	return time.Unix(0, n)
}

func (s *Service) deliver(m dm.Message) {
	ctx, err := s.runCtx()
	if err != nil {
		return
	}
	at := s.clock.Now()
	b, err := json.Marshal(m)
	if err == nil {
		k := store.Key("dm", inboxKey(m, at))
		if err = s.o.Store.Put(ctx, k, b); err == nil {
			err = s.o.Store.Sync(ctx, k)
		}
	}
	if err != nil {
		s.log.Warn("storing a received message", "err", err)
	}
	s.mu.Lock()
	r := s.addInboxLocked(m, at)
	s.mu.Unlock()
	if s.o.Received != nil {
		s.o.Received(r)
	}
}

func (s *Service) addInboxLocked(m dm.Message, at time.Time) Received {
	s.seq++
	r := Received{Seq: s.seq, At: at, Message: m}
	s.inbox = append(s.inbox, r)
	if len(s.inbox) > s.cfg.Inbox {
		s.inbox = slices.Delete(s.inbox, 0, len(s.inbox)-s.cfg.Inbox)
	}
	return r
}

// loadInbox reads the newest stored messages back.
func (s *Service) loadInbox(ctx context.Context) error {
	res, err := s.o.Store.Query(ctx, query.Query{Prefix: "/dm", Orders: []query.Order{query.OrderByKey{}}})
	if err != nil {
		return err
	}
	defer res.Close()
	type stored struct {
		m  dm.Message
		at time.Time
	}
	var ms []stored
	for r := range res.Next() {
		if r.Error != nil {
			return r.Error
		}
		var m dm.Message
		if json.Unmarshal(r.Value, &m) == nil {
			ms = append(ms, stored{m, arrivedAt(r.Key)})
		}
	}
	if len(ms) > s.cfg.Inbox {
		ms = ms[len(ms)-s.cfg.Inbox:]
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, m := range ms {
		s.addInboxLocked(m.m, m.at)
	}
	return nil
}

// maxKeyErrs bounds the lookup failures remembered for ErrNoChatKey.
const maxKeyErrs = 1000

// keyNotFound records why p's chat key was not found and lets the core ask
// again at its next attempt.
func (s *Service) keyNotFound(p peer.ID, err error) {
	s.log.Debug("chat key lookup", "peer", p, "err", err)
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.keyErrs) >= maxKeyErrs {
		clear(s.keyErrs)
	}
	s.keyErrs[p] = err
	s.node.KeyNotFound(p)
}
