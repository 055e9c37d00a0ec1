package chatsvc

import (
	"context"
	"crypto/ecdh"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ipfs/go-datastore"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/event"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/fog-compute/fog/chat"
	"github.com/fog-compute/fog/chat/channel"
	"github.com/fog-compute/fog/chat/dm"
	"github.com/fog-compute/fog/chat/mailbox"
	"github.com/fog-compute/fog/dht"
	"github.com/fog-compute/fog/gossip"
	"github.com/fog-compute/fog/internal/clock"
	"github.com/fog-compute/fog/mix/mixnet"
	"github.com/fog-compute/fog/mix/mixnet/mixsvc"
	"github.com/fog-compute/fog/p2p"
)

// Sentinels.
var (
	// ErrNotRunning: the service is not running.
	ErrNotRunning = errors.New("chatsvc: not running")
	// ErrNoMix: an anonymous message on a node whose mix is off.
	ErrNoMix = errors.New("chatsvc: --anonymous needs the mix, which is off on this node (mix.enabled)")
	// ErrUnknownMessage: Wait was given an ID this node did not send.
	ErrUnknownMessage = errors.New("chatsvc: unknown message")
	// ErrNoChatKey: Wait gave up on a message that could not leave,
	// Config.KeyLookupWait after it was sent, for want of the recipient's
	// chat key; the error names the peer and why the lookup failed.
	ErrNoChatKey = errors.New("chatsvc: no chat key for the recipient")
)

// DMProtocol carries direct messages' frames: each a 4-byte big-endian
// length and a dm frame (handshake, transport, reset or sealed).
var DMProtocol = p2p.MustProtocol("chat/dm", p2p.Version{Major: 1})

// Records is the DHT as the chat uses it: signed records under a node's
// identity (package dht's DHT).
type Records interface {
	PutRecord(ctx context.Context, name string, value []byte) (dht.Record, error)
	GetRecord(ctx context.Context, owner peer.ID, name string) (dht.Record, error)
	FindPeer(ctx context.Context, id peer.ID) (peer.AddrInfo, error)
}

// Mix is what anonymous messages need of the mix (mixsvc's Service).
type Mix interface {
	Send(ctx context.Context, to peer.ID, body []byte, o mixnet.SendOptions) (mixnet.MsgID, error)
	Route(prefix []byte, fn func(mixsvc.Received))
}

// Mailboxes leaves envelopes for absent peers and fetches this node's
// (package mailbox's Service).
type Mailboxes interface {
	// Deposit stores payload, sealed to the recipient's chat key, at the
	// mailboxes of to, and says at how many.
	Deposit(ctx context.Context, to peer.ID, chatKey *ecdh.PublicKey, payload []byte) (int, error)
	// Fetch gives deliver the payloads waiting for this node, and has the
	// hosts delete those deliver accepted.
	Fetch(ctx context.Context, deliver func(mailbox.Message) error) (mailbox.FetchReport, error)
}

// Options are what the node gives the service.
type Options struct {
	Host     host.Host
	Identity crypto.PrivKey // Ed25519
	Records  Records
	Gossip   *gossip.Gossip
	// Store is the node's datastore of the chat prefix.
	Store datastore.Batching
	// Space, if set, says whether Store can take writes now (the node's
	// store.DB.CheckSpace): while it cannot, Send refuses with its error
	// and received frames are dropped before the core sees them, so that
	// no message is acknowledged (by a receipt, or to the caller) that
	// could not be stored. Their senders retry.
	Space func() error
	// Mix, if set, carries anonymous messages.
	Mix Mix
	// Mailboxes, if set, keeps messages for absent peers.
	Mailboxes Mailboxes
	// Keys are the node's chat keys (LoadKeys); nil: Run loads or makes
	// them.
	Keys   *dm.Keys
	Clock  clock.Clock
	Rand   io.Reader
	Logger *slog.Logger
	// Received, if set, is called with every direct message received
	// (after it is stored and in the inbox; not those reloaded at start),
	// on the service's goroutines; it must not block (the node's event
	// stream).
	Received func(Received)
	// StateChanged, if set, is called when a sent message changes state
	// (sent, delivered, read, failed), on the service's goroutines; it
	// must not block (the node's event stream).
	StateChanged func(id dm.MsgID, to peer.ID, state dm.State)
	// Posted, if set, is called with each new post of a joined channel
	// (channel.Options.Posted); it must not block.
	Posted func(channel.Post)
}

// mixPrefix starts the body of a chat envelope sent over the mix.
var mixPrefix = []byte("fog/chat/1\x00")

// Service is the chat on a node.
type Service struct {
	cfg   Config
	o     Options
	log   *slog.Logger
	clock clock.Clock
	self  peer.ID

	mu      sync.Mutex
	keys    dm.Keys
	node    *dm.Node
	book    *chat.Book
	names   *gossip.Topic[announcement]
	annSeq  uint64
	ch      *channel.Service
	inbox   []Received
	seq     uint64
	sent    map[dm.MsgID]*Sent
	waiters map[dm.MsgID][]chan struct{}
	keyErrs map[peer.ID]error     // why the last chat key lookup failed
	dialed  map[peer.ID]time.Time // when maybeConnect last tried a peer
	links   map[peer.ID]*dmLink
	ctx     context.Context

	wake    chan struct{}
	sem     chan struct{}
	fetchMu sync.Mutex // one mailbox fetch at a time
	wg      sync.WaitGroup
	running atomic.Bool
}

// New returns a Service; Run starts it.
func New(cfg Config, o Options) (*Service, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if o.Host == nil || o.Identity == nil || o.Records == nil || o.Gossip == nil || o.Store == nil {
		return nil, fmt.Errorf("%w: Options.Host, Identity, Records, Gossip and Store are required", ErrConfig)
	}
	self, err := peer.IDFromPrivateKey(o.Identity)
	if err != nil || o.Identity.Type() != crypto.Ed25519 {
		return nil, fmt.Errorf("%w: Options.Identity must be an Ed25519 key", ErrConfig)
	}
	if o.Clock == nil {
		o.Clock = clock.Real()
	}
	if o.Rand == nil {
		o.Rand = rand.Reader
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return &Service{
		cfg: cfg, o: o, log: o.Logger, clock: o.Clock, self: self,
		book: chat.NewBook(cfg.MaxNames), sent: map[dm.MsgID]*Sent{}, waiters: map[dm.MsgID][]chan struct{}{},
		links: map[peer.ID]*dmLink{}, keyErrs: map[peer.ID]error{}, dialed: map[peer.ID]time.Time{},
		wake: make(chan struct{}, 1), sem: make(chan struct{}, cfg.MaxInFlight),
	}, nil
}

// Name implements the node's service interface.
func (s *Service) Name() string { return "chat" }

// Health reports whether the service runs.
func (s *Service) Health(context.Context) error {
	if !s.running.Load() {
		return ErrNotRunning
	}
	return nil
}

// Run starts the chat and drives it until ctx ends.
func (s *Service) Run(ctx context.Context, ready func()) (err error) {
	if !s.running.CompareAndSwap(false, true) {
		return errors.New("chatsvc: already running")
	}
	defer s.running.Store(false)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var keys dm.Keys
	if s.o.Keys != nil {
		keys = *s.o.Keys
	} else if keys, err = LoadKeys(ctx, s.o.Store, s.o.Identity, s.clock.Now(), s.o.Rand); err != nil {
		return err
	}
	node, err := dm.NewNode(s.cfg.DM, keys, s.o.Rand)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrConfig, err)
	}
	ch, err := channel.New(s.cfg.Channel, channel.Options{
		Gossip: s.o.Gossip, Store: s.o.Store, Identity: s.o.Identity, ChatKey: keys.Private,
		Clock: s.clock, Rand: s.o.Rand, Logger: s.log.With("part", "channel"), Posted: s.o.Posted,
	})
	if err != nil {
		return err
	}
	defer func() {
		if cerr := ch.Close(); cerr != nil && err == nil {
			err = cerr
		}
	}()
	names, err := gossip.Join(s.o.Gossip, s.namesConfig())
	if err != nil {
		return fmt.Errorf("chatsvc: join %s: %w", NamesTopic, err)
	}
	defer names.Close()
	if _, err := names.Subscribe(func(r gossip.Received[announcement]) { s.addNick(r.Msg.nick) }); err != nil {
		return fmt.Errorf("chatsvc: subscribe %s: %w", NamesTopic, err)
	}
	sub, err := s.o.Host.EventBus().Subscribe(new(event.EvtPeerConnectednessChanged))
	if err != nil {
		return fmt.Errorf("chatsvc: connectedness events: %w", err)
	}
	defer sub.Close()
	s.mu.Lock()
	s.keys, s.node, s.ch, s.names, s.ctx = keys, node, ch, names, ctx
	s.mu.Unlock()
	if err := s.loadNick(ctx); err != nil {
		return err
	}
	if err := s.loadInbox(ctx); err != nil {
		return err
	}
	if err := s.loadOutgoing(ctx); err != nil {
		return err
	}
	if err := s.rejoin(ctx); err != nil {
		return err
	}
	if s.o.Mix != nil {
		s.o.Mix.Route(mixPrefix, func(r mixsvc.Received) { s.receive("", dm.Mix, r.Body[len(mixPrefix):]) })
	}
	if _, err := DMProtocol.Handle(s.o.Host, p2p.Limits{
		Streams: 256, StreamsPerPeer: 8, Idle: 30 * time.Second, Lifetime: 10 * time.Minute, Clock: s.clock,
	}, s.handle); err != nil {
		return fmt.Errorf("chatsvc: serve: %w", err)
	}
	defer func() {
		DMProtocol.Unhandle(s.o.Host)
		cancel()
		s.wg.Wait()
	}()
	s.wg.Go(func() { s.background(ctx) })
	if ready != nil {
		ready()
	}
	timer := s.clock.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev := <-sub.Out():
			e := ev.(event.EvtPeerConnectednessChanged)
			s.mu.Lock()
			eff := s.node.SetPeer(s.clock.Now(), e.Peer, online(e.Connectedness))
			s.mu.Unlock()
			s.apply(eff)
			continue
		case <-timer.C():
		case <-s.wake:
		}
		s.mu.Lock()
		eff := s.node.Tick(s.clock.Now())
		next := s.node.NextTick()
		s.mu.Unlock()
		s.apply(eff)
		wait := time.Minute
		if !next.IsZero() {
			wait = min(wait, max(0, clock.Until(s.clock, next)))
		}
		timer.Stop()
		timer.Reset(wait)
	}
}

// background publishes the chat key, announces the nickname and fetches
// mailboxes at start and then periodically.
func (s *Service) background(ctx context.Context) {
	// The mail first, beside the rest: a node back from an absence wants
	// what waited for it now.
	s.wg.Go(func() { s.fetchMail(ctx) })
	s.announce(ctx)
	// Until the key is in the DHT (its tables fill after the start), try
	// again every few seconds, then every KeyRepublish.
	wait := time.Second
	keyT := s.clock.NewTimer(0)
	defer keyT.Stop()
	nameT := s.clock.NewTimer(s.cfg.NameAnnounce)
	defer nameT.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-keyT.C():
			if err := s.publishKey(ctx); err != nil {
				s.log.Debug("chat key", "err", err)
				wait = min(2*wait, s.cfg.KeyRepublish)
				keyT.Reset(wait)
				continue
			}
			if wait != s.cfg.KeyRepublish {
				// The DHT works now: the nickname's record failed alike,
				// and the fetch at the start may have found no hosts.
				s.announce(ctx)
				s.wg.Go(func() { s.fetchMail(ctx) })
				wait = s.cfg.KeyRepublish
			} else {
				s.fetchMail(ctx)
			}
			keyT.Reset(wait)
		case <-nameT.C():
			s.announce(ctx)
			nameT.Reset(s.cfg.NameAnnounce)
		}
	}
}

// poke wakes the loop: an input may have moved the core's NextTick.
func (s *Service) poke() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// running returns Run's context, or an error before Run.
func (s *Service) runCtx() (context.Context, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ctx == nil || s.ctx.Err() != nil {
		return nil, ErrNotRunning
	}
	return s.ctx, nil
}

// Keys returns this node's chat key record (nil before Run).
func (s *Service) Keys() *chat.ChatKey {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.keys.Record
}

// Channels returns the channel service (nil before Run).
func (s *Service) Channels() *channel.Service {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ch
}
