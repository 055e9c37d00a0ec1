package mailbox

import (
	"context"
	"crypto/ecdh"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	ds "github.com/ipfs/go-datastore"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/fog-compute/fog/internal/clock"
	"github.com/fog-compute/fog/p2p"
)

// Router finds the peers responsible for a key. The node's *dht.DHT
// implements it.
type Router interface {
	// ClosestPeers returns up to k peers closest to key in the DHT,
	// closest first, never this node itself.
	ClosestPeers(ctx context.Context, key string, k int) ([]peer.ID, error)
}

// Options are New's collaborators.
type Options struct {
	// Host serves the mailbox protocol and opens streams to hosts.
	// Required.
	Host host.Host
	// Identity is the node's Ed25519 identity key, Host's: it proves to
	// hosts that this node owns the mailboxes it fetches. Required.
	Identity crypto.PrivKey
	// ChatKey is the node's X25519 chat key, whose public half senders
	// seal to. Nil: Fetch fails; the node still hosts and deposits.
	ChatKey *ecdh.PrivateKey
	// Datastore keeps the items this node hosts; the node passes its store
	// rooted at /chat, where they live under /mailbox. Required.
	Datastore ds.Batching
	// Router finds a mailbox's hosts. Nil: Deposit and Fetch fail; the
	// node still hosts.
	Router Router
	// Logger receives the service's logs; nil discards them.
	Logger *slog.Logger
}

// Stats are a Service's counters.
type Stats struct {
	// Items and Bytes are what this node hosts now.
	Items int   `json:"items"`
	Bytes int64 `json:"bytes"`
	// Stored counts items deposited here; Refused deposits refused (too
	// large, quota, full, ID taken); Fetches fetches answered and Denied
	// fetches and acks refused for want of proof; Acked items deleted on
	// their owner's ack; Expired items deleted for age.
	Stored  uint64 `json:"stored"`
	Refused uint64 `json:"refused"`
	Fetches uint64 `json:"fetches"`
	Denied  uint64 `json:"denied"`
	Acked   uint64 `json:"acked"`
	Expired uint64 `json:"expired"`
	// HandedOn counts copies this node handed to peers that became
	// closer to an item's mailbox key (Config.HandoffInterval).
	HandedOn uint64 `json:"handed_on"`
	// Busy counts streams refused beyond the serving limits; Malformed
	// requests that broke the wire format.
	Busy      uint64 `json:"busy"`
	Malformed uint64 `json:"malformed"`
}

// Service is a node's mailbox service: it hosts other nodes' mail (serving
// Protocol from the store), deposits mail for absent nodes and fetches its
// own. It is safe for concurrent use.
type Service struct {
	cfg    Config
	h      host.Host
	id     crypto.PrivKey
	chat   *ecdh.PrivateKey
	router Router
	store  *hostStore
	srv    *p2p.Server
	log    *slog.Logger

	ctx    context.Context // ends with Close
	cancel context.CancelFunc
	wg     sync.WaitGroup // handlers in flight

	mu     sync.Mutex
	closed bool
	seen   map[ItemID]seenItem // items delivered, so a copy is not delivered twice

	handed map[ref]map[peer.ID]bool // hosts known to hold an item this node holds (Run's)

	stored, refused, fetches, denied, acked, expired, malformed, handedOn atomic.Uint64

	closeOnce sync.Once
}

// New loads the items o.Datastore holds (deleting those expired or
// unreadable) and serves Protocol on o.Host. Run sweeps expired items;
// Close stops the service.
func New(ctx context.Context, cfg Config, o Options) (*Service, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if o.Host == nil || o.Identity == nil || o.Datastore == nil {
		return nil, fmt.Errorf("%w: host, identity and datastore are required", ErrConfig)
	}
	if o.Identity.Type() != crypto.Ed25519 {
		return nil, fmt.Errorf("%w: identity is %s, not Ed25519", ErrConfig, o.Identity.Type())
	}
	if id, err := peer.IDFromPrivateKey(o.Identity); err != nil || id != o.Host.ID() {
		return nil, fmt.Errorf("%w: identity is not the host's", ErrConfig)
	}
	if o.ChatKey != nil && o.ChatKey.Curve() != ecdh.X25519() {
		return nil, fmt.Errorf("%w: chat key is not X25519", ErrConfig)
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	st, dropped, err := openHostStore(ctx, o.Datastore, quotasOf(cfg), cfg.Clock.Now())
	if err != nil {
		return nil, err
	}
	if dropped > 0 {
		log.Info("mailbox items expired or unreadable deleted at start", "items", dropped)
	}
	sctx, cancel := context.WithCancel(context.Background())
	s := &Service{
		cfg: cfg, h: o.Host, id: o.Identity, chat: o.ChatKey, router: o.Router, store: st, log: log,
		ctx: sctx, cancel: cancel, seen: map[ItemID]seenItem{}, handed: map[ref]map[peer.ID]bool{},
	}
	s.srv, err = Protocol.Handle(o.Host, p2p.Limits{
		Streams: cfg.MaxServeStreams, StreamsPerPeer: cfg.MaxServeStreamsPerPeer,
		Idle: cfg.IdleTimeout, Lifetime: cfg.StreamTimeout, Refuse: s.refuseBusy, Clock: cfg.Clock,
	}, s.handle)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("mailbox: %w", err)
	}
	return s, nil
}

// Name implements the node's Service interface.
func (s *Service) Name() string { return "mailbox" }

// Run deletes expired items every Config.SweepInterval until ctx ends or
// the service is closed. Serving, Deposit and Fetch do not need it.
func (s *Service) Run(ctx context.Context, ready func()) error {
	if s.ctx.Err() != nil {
		return ErrClosed
	}
	ready()
	t := s.cfg.Clock.NewTimer(s.cfg.SweepInterval)
	defer t.Stop()
	var handoffC <-chan time.Time
	var ht clock.Timer
	if s.cfg.HandoffInterval > 0 {
		ht = s.cfg.Clock.NewTimer(s.cfg.HandoffInterval)
		defer ht.Stop()
		handoffC = ht.C()
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-s.ctx.Done():
			return nil
		case <-handoffC:
			s.handoff(ctx)
			ht.Reset(s.cfg.HandoffInterval)
		case <-t.C():
			n, err := s.store.sweep(ctx, s.cfg.Clock.Now())
			if err != nil && ctx.Err() == nil {
				s.log.Warn("sweeping expired mailbox items", "err", err)
			}
			s.expired.Add(uint64(n))
			t.Reset(s.cfg.SweepInterval)
		}
	}
}

// Stats returns the service's counters.
func (s *Service) Stats() Stats {
	u := s.store.usage()
	srv := s.srv.Stats()
	return Stats{
		Items: u.items, Bytes: u.bytes,
		Stored: s.stored.Load(), Refused: s.refused.Load(), Fetches: s.fetches.Load(), Denied: s.denied.Load(),
		Acked: s.acked.Load(), Expired: s.expired.Load(), HandedOn: s.handedOn.Load(), Busy: srv.Refused, Malformed: s.malformed.Load(),
	}
}

// Close stops serving, ends Deposits and Fetches in flight and waits for
// the handlers. It is idempotent.
func (s *Service) Close() error {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		s.closed = true
		s.mu.Unlock()
		Protocol.Unhandle(s.h)
		s.cancel()
		s.wg.Wait()
	})
	return nil
}

// enter registers a handler, unless the service is closed.
func (s *Service) enter() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.wg.Add(1)
	return true
}

// refuseBusy answers a stream beyond the serving limits.
func (s *Service) refuseBusy(st network.Stream) {
	_ = writeFrame(st, (&response{status: statusBusy}).marshal())
}

// handle serves one inbound stream: one request frame in, one response
// frame out.
func (s *Service) handle(st network.Stream) {
	if !s.enter() {
		_ = st.Reset()
		return
	}
	defer s.wg.Done()
	body, err := readFrame(st, MaxRequestLen)
	if err != nil {
		s.malformed.Add(1)
		_ = writeFrame(st, (&response{status: statusMalformed}).marshal())
		_ = st.Reset()
		return
	}
	req, err := decodeRequest(body)
	var resp response
	if err != nil {
		s.malformed.Add(1)
		resp = response{status: statusMalformed}
	} else {
		resp = s.serve(s.ctx, st.Conn().RemotePeer(), req)
	}
	if err := writeFrame(st, resp.marshal()); err != nil {
		_ = st.Reset()
		return
	}
	_ = st.Close()
}

// serve answers one request from peer from (this node itself for a
// Deposit or Fetch that chose it as a host).
func (s *Service) serve(ctx context.Context, from peer.ID, req request) response {
	now := s.cfg.Clock.Now()
	switch req.op {
	case opDeposit:
		st, err := s.store.deposit(ctx, ref{req.key, req.id}, from, req.sealed, expiryTime(req.expires), now)
		if err != nil {
			s.log.Warn("storing a mailbox item", "err", err)
			return response{status: statusBusy}
		}
		if st == statusOK {
			s.stored.Add(1)
		} else {
			s.refused.Add(1)
		}
		return response{status: st}
	case opFetch, opAck:
		if err := req.authorize(s.h.ID(), now, s.cfg.TTL, s.cfg.MaxClockSkew); err != nil {
			s.denied.Add(1)
			s.log.Debug("mailbox request denied", "peer", from, "err", err)
			return response{status: statusDenied}
		}
	}
	if req.op == opAck {
		n, err := s.store.ack(ctx, req.key, req.ids)
		if err != nil {
			s.log.Warn("deleting acknowledged mailbox items", "err", err)
			return response{status: statusBusy}
		}
		s.acked.Add(uint64(n))
		return response{status: statusOK, deleted: uint64(n)}
	}
	items, more, err := s.store.fetch(ctx, req.key, req.after, now)
	if err != nil {
		s.log.Warn("reading mailbox items", "err", err)
		return response{status: statusBusy}
	}
	s.fetches.Add(1)
	return response{status: statusOK, items: items, more: more}
}
