package chatsvc

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/ipfs/go-datastore"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/fog-compute/fog/chat"
	"github.com/fog-compute/fog/gossip"
	"github.com/fog-compute/fog/store"
)

// NamesTopic carries nickname claims. Each message is an announcement:
// an 8-byte announcement sequence (the author's clock in milliseconds, so
// that re-announcing the same claim passes gossip's growing-sequence rule)
// and the signed claim. The claim's own signature is what a Book checks;
// gossip checks that the envelope's author is the claim's owner.
const NamesTopic = "/fog/chat/names/1"

// nickRecordName is the DHT record that also holds a node's claim, for
// whois of a peer not heard on the topic.
const nickRecordName = "chat/nick"

var nickKey = store.Key("self", "nick")

// announcement is one message of NamesTopic.
type announcement struct {
	seq  uint64
	at   time.Time
	nick *chat.Nick
}

func encodeAnnouncement(a announcement) ([]byte, error) {
	n, err := a.nick.Encode()
	if err != nil {
		return nil, err
	}
	b := binary.BigEndian.AppendUint64(nil, a.seq)
	b = binary.BigEndian.AppendUint64(b, uint64(a.at.UnixMilli()))
	return append(b, n...), nil
}

// errAnnouncement: a names topic message that does not decode.
var errAnnouncement = errors.New("chatsvc: malformed name announcement")

func decodeAnnouncement(b []byte) (announcement, error) {
	if len(b) < 16 {
		return announcement{}, fmt.Errorf("%w: %d bytes", errAnnouncement, len(b))
	}
	n, err := chat.DecodeNick(b[16:])
	if err != nil {
		return announcement{}, fmt.Errorf("%w: %w", errAnnouncement, err)
	}
	ms := binary.BigEndian.Uint64(b[8:16])
	if ms > 1<<62 {
		return announcement{}, fmt.Errorf("%w: time out of range", errAnnouncement)
	}
	return announcement{seq: binary.BigEndian.Uint64(b), at: time.UnixMilli(int64(ms)), nick: n}, nil
}

// namesParams are the names topic's validator parameters: small messages,
// rare per author.
var namesParams = gossip.TopicParams{
	MaxSize: 16 + 512, MaxSkew: 2 * time.Second, MaxAge: 10 * time.Second,
	Rate: 0.1, Burst: 3, MaxAuthors: 10_000, Weight: 0.2,
}

func (s *Service) namesConfig() gossip.TopicConfig[announcement] {
	return gossip.TopicConfig[announcement]{
		Name: NamesTopic, Params: namesParams,
		Encode: encodeAnnouncement, Decode: decodeAnnouncement,
		Header: func(a announcement) gossip.Header {
			return gossip.Header{Author: a.nick.Owner, Seq: a.seq, Time: a.at}
		},
		Check: func(a announcement, _ time.Time, _ bool) error {
			if err := a.nick.Verify(); err != nil {
				return fmt.Errorf("%w: %w", gossip.ErrInvalid, err)
			}
			return nil
		},
	}
}

// addNick puts a verified claim in the book.
func (s *Service) addNick(n *chat.Nick) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.book.Add(n); err != nil && !errors.Is(err, chat.ErrStale) {
		s.log.Debug("nickname claim", "peer", n.Owner, "err", err)
	}
}

// SetNick claims a nickname for this node: stored, announced on the names
// topic and put in the DHT.
func (s *Service) SetNick(ctx context.Context, name string) (chat.Entry, error) {
	if err := chat.ValidateNick(name); err != nil {
		return chat.Entry{}, err
	}
	s.mu.Lock()
	var seq uint64 = 1
	if old, ok := s.book.Claim(s.self); ok {
		seq = old.Seq + 1
	}
	s.mu.Unlock()
	n, err := chat.NewNick(s.o.Identity, name, seq, s.clock.Now())
	if err != nil {
		return chat.Entry{}, err
	}
	enc, err := n.Encode()
	if err != nil {
		return chat.Entry{}, err
	}
	if err := s.o.Store.Put(ctx, nickKey, enc); err != nil {
		return chat.Entry{}, fmt.Errorf("chatsvc: store nickname: %w", err)
	}
	s.addNick(n)
	s.announce(ctx)
	s.mu.Lock()
	e, _ := s.book.Lookup(s.self)
	s.mu.Unlock()
	return e, nil
}

// loadNick puts this node's stored claim back in the book.
func (s *Service) loadNick(ctx context.Context) error {
	b, err := s.o.Store.Get(ctx, nickKey)
	if errors.Is(err, datastore.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	n, err := chat.DecodeNick(b)
	if err != nil {
		return fmt.Errorf("chatsvc: stored nickname: %w", err)
	}
	s.addNick(n)
	return nil
}

// announce publishes this node's claim, if it has one, on the topic and
// in the DHT.
func (s *Service) announce(ctx context.Context) {
	s.mu.Lock()
	n, ok := s.book.Claim(s.self)
	topic := s.names
	s.mu.Unlock()
	if !ok || topic == nil {
		return
	}
	now := s.clock.Now()
	seq := uint64(now.UnixMilli())
	s.mu.Lock()
	if seq <= s.annSeq {
		seq = s.annSeq + 1
	}
	s.annSeq = seq
	s.mu.Unlock()
	if err := topic.Publish(ctx, announcement{seq: seq, at: now, nick: n}); err != nil {
		s.log.Debug("announce nickname", "err", err)
	}
	if enc, err := n.Encode(); err == nil {
		pctx, cancel := context.WithTimeout(ctx, s.cfg.SendTimeout)
		if _, err := s.o.Records.PutRecord(pctx, nickRecordName, enc); err != nil {
			s.log.Debug("publish nickname", "err", err)
		}
		cancel()
	}
}

// Whois returns what this node knows of a name ("alice", "alice#1a2b3c4d",
// "#1a2b3c4d") or a peer ID. A peer not yet heard of is looked up in the
// DHT.
func (s *Service) Whois(ctx context.Context, query string) []chat.Entry {
	s.mu.Lock()
	out := s.book.Whois(query)
	s.mu.Unlock()
	if len(out) > 0 {
		return out
	}
	p, err := peer.Decode(query)
	if err != nil {
		return nil
	}
	if n := s.fetchNick(ctx, p); n != nil {
		s.addNick(n)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if e, ok := s.book.Lookup(p); ok {
		return []chat.Entry{e}
	}
	return []chat.Entry{{Peer: p, Fingerprint: chat.Fingerprint(p)}}
}

// fetchNick reads a peer's claim from the DHT.
func (s *Service) fetchNick(ctx context.Context, p peer.ID) *chat.Nick {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.SendTimeout)
	defer cancel()
	r, err := s.o.Records.GetRecord(ctx, p, nickRecordName)
	if err != nil {
		return nil
	}
	n, err := chat.DecodeNick(r.Value)
	if err != nil || n.Owner != p || n.Verify() != nil {
		return nil
	}
	return n
}

// Resolve turns a peer ID or a name into a peer: a name that more than one
// identity claims is refused with the candidates (chat.AmbiguousError).
func (s *Service) Resolve(query string) (peer.ID, error) {
	if p, err := peer.Decode(query); err == nil {
		return p, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.book.Resolve(query)
}

// NamesUpdated returns a channel that is closed when the name book next
// changes (a claim heard or made): take it, check with Resolve or Whois,
// then wait on it.
func (s *Service) NamesUpdated() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.book.Updated()
}
