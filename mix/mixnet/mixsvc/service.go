package mixsvc

import (
	"bytes"
	"context"
	"crypto/ecdh"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	mrand "math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ipfs/go-datastore"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	"golang.org/x/time/rate"

	"github.com/fog-compute/fog/internal/clock"
	"github.com/fog-compute/fog/mix/lottery"
	"github.com/fog-compute/fog/mix/mixnet"
	"github.com/fog-compute/fog/p2p"
)

// Sentinels.
var (
	// ErrConfig: the Config or the Options are invalid.
	ErrConfig = errors.New("mixsvc: invalid config")
	// ErrNotRunning: the service is not running (before Run, after it
	// returned).
	ErrNotRunning = errors.New("mixsvc: not running")
	// ErrUnknownMessage: Wait was given an ID this node did not send, or
	// one whose outcome it no longer keeps.
	ErrUnknownMessage = errors.New("mixsvc: unknown message")
)

// Protocol is the mix's stream protocol. 1.0.0 carries one frame per
// stream; 1.1.0 keeps a stream open per neighbour and carries frames back
// to back. A node serves both and opens the highest its peer speaks.
var Protocol = p2p.MustProtocol("mix", p2p.Version{Major: 1, Minor: 1}, p2p.Version{Major: 1})

// version11 is the ID of the streaming version.
var version11 = Protocol.ID(p2p.Version{Major: 1, Minor: 1})

// Directories is what the service needs of the relay lottery (package
// lotterysvc's Service satisfies it).
type Directories interface {
	// Epoch is the current epoch. It must not wait (lotterysvc's is an
	// atomic read): a frame's receipt asks it.
	Epoch() uint64
	// Directory is this node's directory of epoch e, if it holds it.
	Directory(e uint64) (*lottery.Directory, bool)
	// ClosedInfo says whether the directory of epoch e is final.
	ClosedInfo(e uint64) (lottery.ClosedInfo, bool)
	// Closed returns a channel closed once the directory of epoch e is
	// final (or e is dropped unclosed: ClosedInfo tells the two apart).
	Closed(e uint64) <-chan struct{}
	// MixKey is this node's mix key of epoch e, if it won seats in e.
	MixKey(e uint64) (*ecdh.PrivateKey, bool)
}

// Options are what the node gives the service.
type Options struct {
	// Host carries the frames. Required.
	Host host.Host
	// Identity is the node's Ed25519 key: the mix addresses nodes by it.
	// Required.
	Identity crypto.PrivKey
	// Lottery gives the epochs' directories and this node's mix keys.
	// Required.
	Lottery Directories
	// Store keeps the replay tags of this node's relay keys across a
	// restart (the node's Datastore of the mix prefix). Required.
	Store datastore.Batching
	// Clock is the node's clock; nil: clock.Real().
	Clock clock.Clock
	// Rand seeds the core's generator (routes, delays, Poisson gaps,
	// packet keys); nil: crypto/rand.
	Rand io.Reader
	// Logger receives the logs; nil discards them.
	Logger *slog.Logger
	// Observe, if set, is called with every frame this node hands to a
	// link and every frame it receives from one, as a global passive
	// observer of the network would see them (the simulator's anonymity
	// figures). It is called on the service's goroutines and must not
	// block. Nil in a real node.
	Observe func(Observation)
	// Received, if set, is called with every message that enters the
	// inbox (not those a Route takes), after it is there, on the
	// service's goroutines; it must not block (the node's event stream).
	Received func(Received)
}

// Received is a message in the inbox.
type Received struct {
	// Seq numbers the inbox's messages from 1, in arrival order.
	Seq uint64
	mixnet.Inbound
}

// Result is how a message this node sent ended.
type Result struct {
	Acked *mixnet.Acked
	Err   error // wraps mixnet.ErrExpired if it was not acknowledged in time
}

// Service runs a mixnet.Node on a node: it carries frames over the mix
// protocol, gives the core the lottery's directories and this node's relay
// keys as epochs close, persists replay tags (synced before any packet
// relayed after them leaves), and wakes the core at its NextTick. It
// satisfies the node's service interface (Name, Run, Health). Its methods
// are safe for concurrent use; the core sees one input at a time, under
// the Service's lock, which is never held across a wait for the lottery,
// the store or a link: Run owns a schedule loop, a release loop (the
// store's writes) and a sync loop (the lottery's epochs and the store's
// reads), and a goroutine per link.
type Service struct {
	cfg   Config
	o     Options
	log   *slog.Logger
	clock clock.Clock
	self  mixnet.NodeID
	pub   ed25519.PublicKey

	mu       sync.Mutex
	node     *mixnet.Node
	given    map[uint64]bool     // epochs whose directory the core has
	keyed    map[uint64]int      // epochs whose relay key the core has: the layer
	parked   map[uint64][][]byte // relay frames of epochs not given yet, by epoch
	nParked  int                 // the frames in parked
	tags     []tagEntry          // replay tags not yet persisted
	waiters  map[mixnet.MsgID][]chan Result
	results  map[mixnet.MsgID]Result
	resOrder []mixnet.MsgID
	inbox    []Received
	seq      uint64
	limiters map[peer.ID]*rate.Limiter
	links    map[peer.ID]*link
	linkSeq  uint64 // links started, for their connection tags
	// readers counts the streams being read from each peer; while there
	// is one, its connection is protected under readTag.
	readers map[peer.ID]int
	routes  []route
	warm    map[uint64][]peer.ID // the relays whose connections are protected, by epoch
	ctx     context.Context      // Run's, for links
	wg      sync.WaitGroup
	stats   shellStats
	lags    LagHistogram

	wake     chan struct{}
	syncWake chan struct{} // a parked frame asks the sync loop to look again
	running  atomic.Bool
	server   atomic.Pointer[p2p.Server] // Run's, for Status
}

type shellStats struct {
	linkDrops  uint64 // frames dropped: link queue full or link broken
	rateDrops  uint64 // frames refused: a peer over FrameRate
	tagSyncs   uint64
	lateTicks  uint64
	lagMax     time.Duration
	openErrors uint64
	readErrors uint64 // inbound link streams that ended in an error, not EOF
}

// New returns a Service; Run starts it.
func New(cfg Config, o Options) (*Service, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if o.Host == nil || o.Lottery == nil || o.Store == nil || o.Identity == nil {
		return nil, fmt.Errorf("%w: Options.Host, Lottery, Store and Identity are required", ErrConfig)
	}
	raw, err := o.Identity.Raw()
	if err != nil || o.Identity.Type() != crypto.Ed25519 || len(raw) != ed25519.PrivateKeySize {
		return nil, fmt.Errorf("%w: Options.Identity must be an Ed25519 key", ErrConfig)
	}
	sk := ed25519.PrivateKey(raw)
	if o.Clock == nil {
		o.Clock = clock.Real()
	}
	if o.Rand == nil {
		o.Rand = rand.Reader
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	var seed [32]byte
	if _, err := io.ReadFull(o.Rand, seed[:]); err != nil {
		return nil, fmt.Errorf("mixsvc: seed: %w", err)
	}
	n, err := mixnet.NewNode(cfg.Config, sk, mrand.NewChaCha8(seed))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	return &Service{
		cfg: cfg, o: o, log: o.Logger, clock: o.Clock, self: n.ID(), pub: sk.Public().(ed25519.PublicKey),
		node: n, given: map[uint64]bool{}, keyed: map[uint64]int{}, parked: map[uint64][][]byte{},
		waiters: map[mixnet.MsgID][]chan Result{}, results: map[mixnet.MsgID]Result{},
		limiters: map[peer.ID]*rate.Limiter{}, links: map[peer.ID]*link{}, readers: map[peer.ID]int{}, warm: map[uint64][]peer.ID{},
		wake: make(chan struct{}, 1), syncWake: make(chan struct{}, 1),
	}, nil
}

// Name implements the node's service interface.
func (s *Service) Name() string { return "mix" }

// Health reports whether the service runs.
func (s *Service) Health(context.Context) error {
	if !s.running.Load() {
		return ErrNotRunning
	}
	return nil
}

// Run serves the mix protocol and drives the core until ctx ends; ready is
// called once the protocol is served.
func (s *Service) Run(ctx context.Context, ready func()) error {
	if !s.running.CompareAndSwap(false, true) {
		return fmt.Errorf("mixsvc: already running")
	}
	defer s.running.Store(false)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	s.mu.Lock()
	s.ctx = ctx
	s.mu.Unlock()
	srv, err := Protocol.Handle(s.o.Host, p2p.Limits{
		Streams: 512, StreamsPerPeer: 8, Idle: s.cfg.LinkIdle + 10*time.Second,
		Lifetime: time.Hour, Clock: s.clock,
	}, s.handle)
	if err != nil {
		return fmt.Errorf("mixsvc: serve: %w", err)
	}
	s.server.Store(srv)
	rel := make(chan release, releaseQueue)
	s.wg.Go(func() { s.releaseLoop(ctx, rel) })
	s.wg.Go(func() { s.syncLoop(ctx) })
	defer func() {
		Protocol.Unhandle(s.o.Host)
		cancel()
		s.wg.Wait()
		fctx, fcancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer fcancel()
		if err := s.persistTags(fctx); err != nil {
			s.log.Warn("persisting replay tags at stop", "err", err)
		}
	}()
	if ready != nil {
		ready()
	}
	timer := s.clock.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-timer.C():
		case <-s.wake:
		}
		next, r := s.step()
		select {
		case rel <- r:
		case <-ctx.Done():
			return nil
		}
		timer.Stop()
		timer.Reset(max(0, next.Sub(s.clock.Now())))
	}
}

// step ticks the core. It returns when to step next, and the tick's
// effects with the replay tags queued before them, for the release loop to
// persist and then carry out. The epochs are the sync loop's.
func (s *Service) step() (time.Time, release) {
	now := s.clock.Now()
	s.mu.Lock()
	var r release
	if nt := s.node.NextTick(); !nt.IsZero() && !now.Before(nt) {
		r.due = nt // a tick that was due: the release loop says how late it ran
	}
	r.eff = s.node.Tick(now)
	next := s.node.NextTick()
	r.tags, s.tags = s.tags, nil
	s.mu.Unlock()
	limit := now.Add(s.cfg.SyncEvery)
	if next.IsZero() || next.After(limit) {
		next = limit
	}
	return next, r
}

// release is one step's effects and the replay tags queued before it,
// which must be durable before the effects forward the packets they
// belong to (a restart must not reopen a replay).
type release struct {
	due  time.Time // the tick it was due at; zero if none was due
	tags []tagEntry
	eff  []mixnet.Effect
}

// releaseQueue bounds the steps waiting for their tags to be persisted;
// the loop waits when it is full.
const releaseQueue = 64

// releaseLoop persists the replay tags of the steps in rel, those waiting
// together in one batch, and then carries out their effects in order, so
// that the schedule loop never waits for the store. A failed write holds
// every later step back and is tried again after SyncEvery. The lag of a
// due tick is measured when its effects are carried out: the store's
// latency counts as the node's. At the end, tags not yet written go back
// to the queue that Run's last persistTags writes.
func (s *Service) releaseLoop(ctx context.Context, rel <-chan release) {
	var batch []release
	defer func() {
		var tags []tagEntry
		for _, r := range batch {
			tags = append(tags, r.tags...)
		}
		s.mu.Lock()
		s.tags = append(tags, s.tags...)
		s.mu.Unlock()
	}()
	for {
		if len(batch) == 0 {
			select {
			case r := <-rel:
				batch = append(batch, r)
			case <-ctx.Done():
				return
			}
		}
	drain:
		for {
			select {
			case r := <-rel:
				batch = append(batch, r)
			default:
				break drain
			}
		}
		var tags []tagEntry
		for _, r := range batch {
			tags = append(tags, r.tags...)
		}
		if err := s.persist(ctx, tags); err != nil {
			if ctx.Err() != nil {
				return
			}
			s.log.Warn("persisting replay tags", "err", err)
			t := s.clock.NewTimer(s.cfg.SyncEvery)
			select {
			case <-t.C():
			case <-ctx.Done():
				t.Stop()
				return
			}
			continue
		}
		for i, r := range batch {
			s.sealAll(r.eff)
			if !r.due.IsZero() {
				lag := s.clock.Now().Sub(r.due)
				s.mu.Lock()
				s.lags.Counts[lagBucket(lag)]++
				s.stats.lagMax = max(s.stats.lagMax, lag)
				s.mu.Unlock()
			}
			s.apply(r.eff)
			batch[i] = release{}
		}
		batch = batch[:0]
	}
}

// poke wakes the loop: an input may have moved the core's NextTick.
func (s *Service) poke() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// relaysOf converts a lottery directory for the core.
func relaysOf(d *lottery.Directory) []mixnet.Relay {
	rs := d.Relays()
	out := make([]mixnet.Relay, 0, len(rs))
	for _, r := range rs {
		var m mixnet.Relay
		if len(r.Claimant) != len(m.ID) || r.MixKey == nil {
			continue
		}
		copy(m.ID[:], r.Claimant)
		copy(m.MixKey[:], r.MixKey.Bytes())
		m.Layer, m.Seats = r.Layer, r.Seats
		out = append(out, m)
	}
	return out
}

// apply carries out effects outside the lock.
func (s *Service) apply(eff []mixnet.Effect) {
	for _, e := range eff {
		switch e := e.(type) {
		case mixnet.Transmit:
			if s.seal(&e) {
				s.transmit(e)
			}
		case mixnet.PersistTag:
			s.mu.Lock()
			s.tags = append(s.tags, tagEntry{epoch: e.Epoch, tag: e.Tag})
			s.mu.Unlock()
		case mixnet.Deliver:
			s.mu.Lock()
			s.seq++
			r := Received{Seq: s.seq, Inbound: e.Message}
			if fn := s.routeLocked(e.Message.Body); fn != nil {
				s.mu.Unlock()
				fn(r)
				continue
			}
			s.inbox = append(s.inbox, r)
			if len(s.inbox) > s.cfg.Inbox {
				s.inbox = slices.Delete(s.inbox, 0, len(s.inbox)-s.cfg.Inbox)
			}
			s.mu.Unlock()
			if s.o.Received != nil {
				s.o.Received(r)
			}
		case mixnet.Acked:
			a := e
			s.finish(e.ID, Result{Acked: &a})
		case mixnet.Failed:
			s.finish(e.ID, Result{Err: e.Err})
		}
	}
}

// seal builds a packet the core left for its shell to wrap (the Sphinx
// public-key work, outside the lock: apply runs without it) and reports
// whether it can be sent; a failure counts as a link drop.
func (s *Service) seal(t *mixnet.Transmit) bool {
	if err := t.Seal(); err != nil {
		s.countLinkDrop()
		s.log.Debug("mix seal", "err", err)
		return false
	}
	return true
}

// sealAll builds every packet of eff that the core left unwrapped, in
// place, before a tick's lag is measured: the wrapping is part of the
// tick's work, as when the core did it.
func (s *Service) sealAll(eff []mixnet.Effect) {
	for i, e := range eff {
		if t, ok := e.(mixnet.Transmit); ok {
			if eff[i] = nil; s.seal(&t) {
				eff[i] = t
			}
		}
	}
}

func (s *Service) routeLocked(body []byte) func(Received) {
	for _, r := range s.routes {
		if bytes.HasPrefix(body, r.prefix) {
			return r.fn
		}
	}
	return nil
}

// maxResults bounds the outcomes kept for Wait after they happened.
const maxResults = 4096

func (s *Service) finish(id mixnet.MsgID, r Result) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, ch := range s.waiters[id] {
		ch <- r
	}
	delete(s.waiters, id)
	s.results[id] = r
	s.resOrder = append(s.resOrder, id)
	if len(s.resOrder) > maxResults {
		delete(s.results, s.resOrder[0])
		s.resOrder = s.resOrder[1:]
	}
}

// Send sends body to the node to over the mix and returns the message's ID
// at once; Wait tells when it is acknowledged.
func (s *Service) Send(ctx context.Context, to peer.ID, body []byte, o mixnet.SendOptions) (mixnet.MsgID, error) {
	var id mixnet.MsgID
	if !s.running.Load() {
		return id, ErrNotRunning
	}
	nid, err := NodeIDOf(to)
	if err != nil {
		return id, err
	}
	s.mu.Lock()
	id, eff, err := s.node.Send(s.clock.Now(), nid, body, o)
	s.mu.Unlock()
	if err != nil {
		return id, err
	}
	s.apply(eff)
	s.poke()
	return id, nil
}

// Reply answers a received message that carried a reply block.
func (s *Service) Reply(ctx context.Context, to mixnet.MsgID, body []byte) (mixnet.MsgID, error) {
	var id mixnet.MsgID
	if !s.running.Load() {
		return id, ErrNotRunning
	}
	s.mu.Lock()
	id, eff, err := s.node.Reply(s.clock.Now(), to, body)
	s.mu.Unlock()
	if err != nil {
		return id, err
	}
	s.apply(eff)
	s.poke()
	return id, nil
}

// Wait waits until the message id is acknowledged or given up, or ctx
// ends.
func (s *Service) Wait(ctx context.Context, id mixnet.MsgID) (Result, error) {
	s.mu.Lock()
	if r, ok := s.results[id]; ok {
		s.mu.Unlock()
		return r, nil
	}
	if !s.node.Pending(id) {
		s.mu.Unlock()
		return Result{}, ErrUnknownMessage
	}
	ch := make(chan Result, 1)
	s.waiters[id] = append(s.waiters[id], ch)
	s.mu.Unlock()
	select {
	case r := <-ch:
		return r, nil
	case <-ctx.Done():
		s.mu.Lock()
		s.waiters[id] = slices.DeleteFunc(s.waiters[id], func(c chan Result) bool { return c == ch })
		s.mu.Unlock()
		return Result{}, ctx.Err()
	}
}

// Inbox returns the received messages with Seq greater than after, oldest
// first.
func (s *Service) Inbox(after uint64) []Received {
	s.mu.Lock()
	defer s.mu.Unlock()
	i, _ := slices.BinarySearchFunc(s.inbox, after+1, func(r Received, seq uint64) int {
		switch {
		case r.Seq < seq:
			return -1
		case r.Seq > seq:
			return 1
		}
		return 0
	})
	return slices.Clone(s.inbox[i:])
}

type route struct {
	prefix []byte
	fn     func(Received)
}

// Route hands the received messages whose body starts with prefix to fn
// instead of the inbox: another subsystem's traffic over the mix (the
// chat's anonymous messages). fn runs on the goroutine that received the
// message, outside the Service's lock; it must not block.
func (s *Service) Route(prefix []byte, fn func(Received)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.routes = append(s.routes, route{prefix: slices.Clone(prefix), fn: fn})
}

// NodeIDOf returns the mix address of a peer: its Ed25519 key.
func NodeIDOf(p peer.ID) (mixnet.NodeID, error) {
	var id mixnet.NodeID
	pk, err := p.ExtractPublicKey()
	if err != nil || pk.Type() != crypto.Ed25519 {
		return id, fmt.Errorf("%w: %s has no Ed25519 key in its ID", mixnet.ErrMalformed, p)
	}
	raw, err := pk.Raw()
	if err != nil || len(raw) != len(id) {
		return id, fmt.Errorf("%w: %s: bad key", mixnet.ErrMalformed, p)
	}
	copy(id[:], raw)
	return id, nil
}

// peerOf returns the peer ID of a mix address.
func peerOf(id mixnet.NodeID) (peer.ID, error) {
	pk, err := crypto.UnmarshalEd25519PublicKey(id[:])
	if err != nil {
		return "", err
	}
	return peer.IDFromPublicKey(pk)
}
