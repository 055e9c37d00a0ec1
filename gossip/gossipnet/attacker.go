package gossipnet

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	pb "github.com/libp2p/go-libp2p-pubsub/pb"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-msgio/pbio"
	"google.golang.org/protobuf/proto"

	"github.com/fog-compute/fog/gossip"
	"github.com/fog-compute/fog/internal/clock"
)

// Attack is one kind of hostile message.
type Attack int

// The attacks, each aimed at one rule of the validator chain.
const (
	// Garbage: random bytes under the attacker's valid signature (decode).
	Garbage Attack = iota
	// Oversized: a signed message larger than the topic's limit (size).
	Oversized
	// BadSignature: an advert of the attacker with a corrupted signature
	// (pubsub's envelope check).
	BadSignature
	// WrongAuthor: a well-signed advert claiming to be the receiver's
	// (author).
	WrongAuthor
	// Replay: old adverts of honest nodes, genuinely signed, replayed
	// (time): seeded ones (Seed) and, once older than ReplayAfter, ones the
	// attacker received.
	Replay
	// Flood: the attacker's own valid adverts, far above the rate limit
	// (rate: rejected when the author sends them itself).
	Flood
	numAttacks
)

// AllAttacks lists every attack.
func AllAttacks() []Attack {
	return []Attack{Garbage, Oversized, BadSignature, WrongAuthor, Replay, Flood}
}

// String names the attack.
func (a Attack) String() string {
	switch a {
	case Garbage:
		return "garbage"
	case Oversized:
		return "oversized"
	case BadSignature:
		return "bad-signature"
	case WrongAuthor:
		return "wrong-author"
	case Replay:
		return "replay"
	case Flood:
		return "flood"
	}
	return fmt.Sprintf("attack(%d)", int(a))
}

// AttackerConfig tunes an Attacker.
type AttackerConfig struct {
	// Topic is attacked; empty means gossip.CapacityTopic.
	Topic string
	// Kinds are sent in turn; empty means AllAttacks().
	Kinds []Attack
	// Rate is messages per second sent to each target; 0 means 100.
	Rate float64
	// MaxSize is the topic's size limit, which Oversized exceeds; 0 means
	// the default capacity limit.
	MaxSize int
	// ReplayAfter is the age at which messages the attacker received are
	// replayed; 0 replays only seeded messages.
	ReplayAfter time.Duration
	// Clock paces the attack and dates the adverts; nil means
	// clock.Real().
	Clock clock.Clock
}

// Attacker is a raw-protocol hostile gossipsub peer: it speaks
// /meshsub/1.1.0 directly, subscribes to the topic, forwards nothing, and
// sends its targets a stream of hostile messages built without any of
// gossip's checks. It is safe for concurrent use.
type Attacker struct {
	h   host.Host
	key crypto.PrivKey
	cfg AttackerConfig

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	seqno atomic.Uint64
	sent  [numAttacks]atomic.Uint64

	mu       sync.Mutex
	seeded   []*pb.Message
	recorded []recorded
	started  bool
	closed   bool
	once     sync.Once
}

type recorded struct {
	m  *pb.Message
	at time.Time
}

const maxRecorded = 256

// NewAttacker makes h an attacker. h's peerstore must hold its private key
// (mocknet's does).
func NewAttacker(h host.Host, cfg AttackerConfig) (*Attacker, error) {
	key := h.Peerstore().PrivKey(h.ID())
	if key == nil {
		return nil, errors.New("gossipnet: attacker host has no private key")
	}
	if cfg.Topic == "" {
		cfg.Topic = gossip.CapacityTopic
	}
	if len(cfg.Kinds) == 0 {
		cfg.Kinds = AllAttacks()
	}
	if cfg.Rate <= 0 {
		cfg.Rate = 100
	}
	if cfg.MaxSize <= 0 {
		cfg.MaxSize = gossip.DefaultConfig().Capacity.MaxSize
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.Real()
	}
	a := &Attacker{h: h, key: key, cfg: cfg}
	a.ctx, a.cancel = context.WithCancel(context.Background())
	h.SetStreamHandler(pubsub.GossipSubID_v11, a.handleInbound)
	return a, nil
}

// ID returns the attacker's peer ID.
func (a *Attacker) ID() peer.ID { return a.h.ID() }

// Seed adds messages for the Replay attack.
func (a *Attacker) Seed(msgs ...*pb.Message) {
	a.mu.Lock()
	a.seeded = append(a.seeded, msgs...)
	a.mu.Unlock()
}

// handleInbound reads what honest peers send and records their messages.
func (a *Attacker) handleInbound(s network.Stream) {
	a.mu.Lock()
	if a.closed {
		a.mu.Unlock()
		_ = s.Reset()
		return
	}
	a.wg.Add(1)
	a.mu.Unlock()
	defer a.wg.Done()
	defer s.Reset()
	stop := context.AfterFunc(a.ctx, func() { _ = s.Reset() })
	defer stop()
	r := pbio.NewDelimitedReader(s, 1<<20)
	for {
		var rpc pb.RPC
		if err := r.ReadMsg(&rpc); err != nil {
			return
		}
		now := a.cfg.Clock.Now()
		a.mu.Lock()
		for _, m := range rpc.GetPublish() {
			if m.GetTopic() == a.cfg.Topic {
				a.recorded = append(a.recorded, recorded{m: m, at: now})
			}
		}
		if over := len(a.recorded) - maxRecorded; over > 0 {
			a.recorded = append(a.recorded[:0], a.recorded[over:]...)
		}
		a.mu.Unlock()
	}
}

// Start attacks every target (reachable in the mock network) from its own
// goroutine — connect, open a gossipsub stream, subscribe, then send
// hostile messages at Rate — until Close. It returns at once; it may be
// called once.
func (a *Attacker) Start(targets []peer.AddrInfo) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.started || a.closed {
		return errors.New("gossipnet: attacker already started or closed")
	}
	a.started = true
	for _, t := range targets {
		a.wg.Add(1)
		go a.attack(t)
	}
	return nil
}

func (a *Attacker) attack(target peer.AddrInfo) {
	defer a.wg.Done()
	if err := a.h.Connect(a.ctx, target); err != nil {
		return
	}
	s, err := a.h.NewStream(a.ctx, target.ID, pubsub.GossipSubID_v11)
	if err != nil {
		return
	}
	defer s.Reset()
	stop := context.AfterFunc(a.ctx, func() { _ = s.Reset() })
	defer stop()
	w := pbio.NewDelimitedWriter(s)
	topic := a.cfg.Topic
	sub := &pb.RPC{Subscriptions: []*pb.RPC_SubOpts{{Topicid: &topic, Subscribe: proto.Bool(true)}}}
	if err := w.WriteMsg(sub); err != nil {
		return
	}
	tick := a.cfg.Clock.NewTicker(time.Duration(float64(time.Second) / a.cfg.Rate))
	defer tick.Stop()
	for i := 0; ; i++ {
		select {
		case <-a.ctx.Done():
			return
		case <-tick.C():
		}
		kind := a.cfg.Kinds[i%len(a.cfg.Kinds)]
		m, err := a.craft(kind, target.ID)
		if err != nil || m == nil {
			continue
		}
		if err := w.WriteMsg(&pb.RPC{Publish: []*pb.Message{m}}); err != nil {
			return
		}
		a.sent[kind].Add(1)
	}
}

// craft builds one hostile message for target, or nil if there is nothing
// to send (no replay available yet).
func (a *Attacker) craft(kind Attack, target peer.ID) (*pb.Message, error) {
	seq := a.seqno.Add(1)
	switch kind {
	case Garbage:
		b := make([]byte, 200)
		_, _ = rand.Read(b)
		return SignMessage(a.key, a.cfg.Topic, b, seq)
	case Oversized:
		b := make([]byte, a.cfg.MaxSize+1+int(seq%512))
		_, _ = rand.Read(b)
		return SignMessage(a.key, a.cfg.Topic, b, seq)
	case BadSignature:
		m, err := a.advert(a.h.ID(), seq)
		if err != nil {
			return nil, err
		}
		m.Signature[int(seq)%len(m.Signature)] ^= 0x01
		return m, nil
	case WrongAuthor:
		return a.advert(target, seq)
	case Replay:
		return a.replay(seq), nil
	case Flood:
		return a.advert(a.h.ID(), seq)
	}
	return nil, fmt.Errorf("gossipnet: unknown attack %d", kind)
}

// advert returns a fresh advert claiming to be claimed's, signed by the
// attacker.
func (a *Attacker) advert(claimed peer.ID, seq uint64) (*pb.Message, error) {
	now := a.cfg.Clock.Now()
	ad := gossip.Advert{
		Peer:     claimed,
		Cores:    64,
		Memory:   1 << 40,
		Price:    0,
		Runtimes: []string{gossip.RuntimeWasm},
		Seq:      uint64(now.UnixMilli())*1000 + seq%1000,
		Issued:   now,
		Expires:  now.Add(2 * time.Second),
	}
	data, err := gossip.EncodeAdvert(ad)
	if err != nil {
		return nil, err
	}
	return SignMessage(a.key, a.cfg.Topic, data, seq)
}

func (a *Attacker) replay(seq uint64) *pb.Message {
	a.mu.Lock()
	defer a.mu.Unlock()
	var pool []*pb.Message
	pool = append(pool, a.seeded...)
	if a.cfg.ReplayAfter > 0 {
		cut := a.cfg.Clock.Now().Add(-a.cfg.ReplayAfter)
		for _, r := range a.recorded {
			if r.at.Before(cut) {
				pool = append(pool, r.m)
			}
		}
	}
	if len(pool) == 0 {
		return nil
	}
	return proto.CloneOf(pool[int(seq)%len(pool)])
}

// Sent returns how many messages of each kind were sent.
func (a *Attacker) Sent() map[Attack]uint64 {
	out := map[Attack]uint64{}
	for k := range numAttacks {
		if n := a.sent[k].Load(); n > 0 {
			out[k] = n
		}
	}
	return out
}

// Close stops the attack and waits for the attacker's goroutines. It is
// idempotent. It does not close the host.
func (a *Attacker) Close() error {
	a.once.Do(func() {
		a.h.RemoveStreamHandler(pubsub.GossipSubID_v11)
		a.mu.Lock()
		a.closed = true
		a.mu.Unlock()
		a.cancel()
		a.wg.Wait()
	})
	return nil
}

// SignMessage builds a gossipsub message on topic carrying data, signed
// by key as pubsub's strict signing does (the protobuf of the message
// without signature, prefixed with "libp2p-pubsub:"), with sequence number
// seqno. It signs whatever it is given: tests use it to forge stale and
// hostile messages.
func SignMessage(key crypto.PrivKey, topic string, data []byte, seqno uint64) (*pb.Message, error) {
	id, err := peer.IDFromPrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("gossipnet: sign: %w", err)
	}
	sn := binary.BigEndian.AppendUint64(nil, seqno)
	m := &pb.Message{From: []byte(id), Data: data, Seqno: sn, Topic: &topic}
	b, err := proto.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("gossipnet: sign: %w", err)
	}
	sig, err := key.Sign(append([]byte(pubsub.SignPrefix), b...))
	if err != nil {
		return nil, fmt.Errorf("gossipnet: sign: %w", err)
	}
	m.Signature = sig
	if _, err := id.ExtractPublicKey(); err != nil { // key not inlined in the ID
		if m.Key, err = crypto.MarshalPublicKey(key.GetPublic()); err != nil {
			return nil, fmt.Errorf("gossipnet: sign: %w", err)
		}
	}
	return m, nil
}
