package blob

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/fog-compute/fog/compute/wasm"
	"github.com/fog-compute/fog/p2p"
)

// Providers announces and finds the peers that hold a key. The node's
// *dht.DHT implements it.
type Providers interface {
	// Provide announces that this node holds key.
	Provide(ctx context.Context, key string) error
	// FindProviders returns up to limit peers that announced key.
	FindProviders(ctx context.Context, key string, limit int) ([]peer.AddrInfo, error)
}

// ProviderKey is the DHT key under which holders of module id announce it:
// "module:" and the ID in hex.
func ProviderKey(id wasm.ModuleID) string { return "module:" + id.String() }

// Options are New's collaborators.
type Options struct {
	// Host serves the blob protocol and opens streams to peers. Required.
	Host host.Host
	// Providers announces stored modules and finds peers holding a module
	// Fetch lacks. Nil: nothing is announced and Fetch asks only the peers
	// it is given.
	Providers Providers
	// OnBadPeer, if set, is told of every peer that sent bytes that do not
	// hash to the module asked for (ErrHashMismatch) or broke the wire
	// format (ErrMalformed), even when Fetch then succeeds with another
	// peer. It is called from Fetch's goroutine and must not block.
	OnBadPeer func(p peer.ID, err error)
	// Logger receives the service's logs; nil discards them.
	Logger *slog.Logger
}

// Stats are a Service's counters.
type Stats struct {
	// Modules and Bytes describe the store.
	Modules int   `json:"modules"`
	Bytes   int64 `json:"bytes"`
	// Serving is the streams being served now.
	Serving int `json:"serving"`
	// Served counts modules sent to peers; NotFound requests for modules
	// this node lacks; Refused streams answered busy; TimedOut streams
	// reset for making no progress within IdleTimeout or outlasting
	// StreamTimeout.
	Served   uint64 `json:"served"`
	NotFound uint64 `json:"not_found"`
	Refused  uint64 `json:"refused"`
	TimedOut uint64 `json:"timed_out"`
	// Fetched counts modules downloaded and verified, FetchedBytes their
	// size; FetchFailed fetches that got no valid copy.
	Fetched      uint64 `json:"fetched"`
	FetchedBytes uint64 `json:"fetched_bytes"`
	FetchFailed  uint64 `json:"fetch_failed"`
	// BadResponses counts responses with wrong bytes or a broken format.
	BadResponses uint64 `json:"bad_responses"`
	// Announced and AnnounceFailed count provider announcements.
	Announced      uint64 `json:"announced"`
	AnnounceFailed uint64 `json:"announce_failed"`
}

// Service is a node's module cache on the network: it serves the blob
// protocol from its Store, fetches modules it lacks from peers, and
// announces the modules it holds. It is safe for concurrent use.
type Service struct {
	cfg   Config
	h     host.Host
	store *Store
	prov  Providers
	onBad func(peer.ID, error)
	log   *slog.Logger

	ctx      context.Context // ends with Close
	cancel   context.CancelFunc
	wg       sync.WaitGroup // handlers, flights and the announcer
	fetchSem chan struct{}
	wake     chan struct{} // announcements are pending

	mu      sync.Mutex
	closed  bool
	serving map[network.Stream]struct{}
	srv     *p2p.Server // serves the protocol within the serving limits
	flights map[wasm.ModuleID]*flight
	pending map[wasm.ModuleID]struct{} // modules to announce

	served, notFound, refused, fetched, fetchedBytes, fetchFailed,
	badResponses, announced, announceFailed atomic.Uint64

	closeOnce sync.Once
}

// New opens the store cfg describes and serves it with the blob protocol
// on o.Host. Modules stored from then on (by Store().Put or by Fetch) are
// announced to o.Providers in the background; Run announces them all again
// periodically. Close stops the service.
func New(cfg Config, o Options) (*Service, error) {
	if o.Host == nil {
		return nil, fmt.Errorf("blob: a host is required")
	}
	st, err := OpenStore(cfg)
	if err != nil {
		return nil, err
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Service{
		cfg:      cfg,
		h:        o.Host,
		store:    st,
		prov:     o.Providers,
		onBad:    o.OnBadPeer,
		log:      log,
		ctx:      ctx,
		cancel:   cancel,
		fetchSem: make(chan struct{}, cfg.MaxFetches),
		wake:     make(chan struct{}, 1),
		serving:  make(map[network.Stream]struct{}),
		flights:  make(map[wasm.ModuleID]*flight),
		pending:  make(map[wasm.ModuleID]struct{}),
	}
	if s.prov != nil {
		st.setOnAdd(s.announce)
		s.wg.Add(1)
		go s.announcer()
	}
	if s.srv, err = Protocol.Handle(s.h, p2p.Limits{
		Streams: cfg.MaxServeStreams, StreamsPerPeer: cfg.MaxServeStreamsPerPeer,
		Idle: cfg.IdleTimeout, Lifetime: cfg.StreamTimeout, Refuse: s.refuseBusy, Clock: cfg.Clock,
	}, s.handle); err != nil {
		cancel()
		s.wg.Wait()
		return nil, fmt.Errorf("blob: %w", err)
	}
	return s, nil
}

// Store returns the service's module store. Modules Put into it are
// announced.
func (s *Service) Store() *Store { return s.store }

// Name implements the node's Service interface.
func (s *Service) Name() string { return "blob" }

// Run announces every stored module now and then every
// Config.ReprovideInterval, until ctx ends. Serving and fetching do not
// need Run; they work from New to Close.
func (s *Service) Run(ctx context.Context, ready func()) error {
	if s.ctx.Err() != nil {
		return ErrClosed
	}
	ready()
	t := s.cfg.Clock.NewTimer(s.cfg.ReprovideInterval)
	defer t.Stop()
	for {
		s.announceAll()
		select {
		case <-ctx.Done():
			return nil
		case <-s.ctx.Done():
			return nil
		case <-t.C():
			t.Reset(s.cfg.ReprovideInterval)
		}
	}
}

// Health reports the service unhealthy once closed, or when its module
// directory has gone.
func (s *Service) Health(context.Context) error {
	if s.ctx.Err() != nil {
		return ErrClosed
	}
	if s.cfg.Dir != "" {
		if _, err := os.Stat(s.cfg.Dir); err != nil {
			return fmt.Errorf("blob: module directory: %w", err)
		}
	}
	return nil
}

// Stats returns the service's counters.
func (s *Service) Stats() Stats {
	s.mu.Lock()
	serving := len(s.serving)
	s.mu.Unlock()
	return Stats{
		Modules:        s.store.Len(),
		Bytes:          s.store.Size(),
		Serving:        serving,
		Served:         s.served.Load(),
		NotFound:       s.notFound.Load(),
		Refused:        s.refused.Load(),
		TimedOut:       s.srv.Stats().TimedOut,
		Fetched:        s.fetched.Load(),
		FetchedBytes:   s.fetchedBytes.Load(),
		FetchFailed:    s.fetchFailed.Load(),
		BadResponses:   s.badResponses.Load(),
		Announced:      s.announced.Load(),
		AnnounceFailed: s.announceFailed.Load(),
	}
}

// Close stops serving (streams being served are reset), ends fetches in
// flight with ErrClosed and stops announcing, and waits for all of it. The
// store stays readable. Close is idempotent.
func (s *Service) Close() error {
	s.closeOnce.Do(func() {
		Protocol.Unhandle(s.h)
		s.mu.Lock()
		s.closed = true
		streams := make([]network.Stream, 0, len(s.serving))
		for st := range s.serving {
			streams = append(streams, st)
		}
		s.mu.Unlock()
		s.cancel()
		for _, st := range streams {
			_ = st.Reset()
		}
		s.wg.Wait()
		s.store.setOnAdd(nil)
	})
	return nil
}

// refuseBusy answers a stream beyond the serving limits (Config.
// MaxServeStreams, MaxServeStreamsPerPeer) with a busy header; p2p closes
// it then.
func (s *Service) refuseBusy(st network.Stream) {
	s.refused.Add(1)
	_, _ = st.Write(Header{Status: StatusBusy}.Marshal())
}

// handle serves one inbound stream. It runs within the serving limits,
// and under Config.IdleTimeout and StreamTimeout, which reset a stream
// that stalls or lasts too long (p2p.Limits).
func (s *Service) handle(st network.Stream) {
	p := st.Conn().RemotePeer()
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		_ = st.Reset()
		return
	}
	s.serving[st] = struct{}{}
	s.wg.Add(1)
	s.mu.Unlock()
	defer s.wg.Done()
	defer func() {
		s.mu.Lock()
		delete(s.serving, st)
		s.mu.Unlock()
	}()
	if err := s.serve(st); err != nil {
		_ = st.Reset()
		if s.ctx.Err() == nil {
			s.log.Debug("blob stream", "peer", p, "err", err)
		}
		return
	}
	_ = st.Close()
}

// serve answers the request on st. On error the caller resets the stream.
func (s *Service) serve(st network.Stream) error {
	var rb [RequestLen]byte
	if _, err := io.ReadFull(st, rb[:]); err != nil {
		return fmt.Errorf("blob: read request: %w", err)
	}
	req, err := DecodeRequest(rb[:])
	if err != nil {
		return err
	}
	mr, err := s.store.openModule(req.ID)
	if errors.Is(err, ErrNotFound) {
		s.notFound.Add(1)
		if _, err := st.Write(Header{Status: StatusNotFound}.Marshal()); err != nil {
			return err
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("blob: open %s: %w", req.ID, err)
	}
	damaged := false
	defer func() { mr.close(damaged) }()
	size := mr.size()
	if _, err := st.Write(Header{Status: StatusFound, Length: uint64(size)}.Marshal()); err != nil {
		return err
	}
	// Modules on disk are hashed as they are sent: one whose file was
	// damaged is dropped, so this node stops serving it (the client, which
	// verifies too, rejects it).
	verify := s.store.dir != ""
	sum := sha256.New()
	buf := make([]byte, min(int64(chunkSize), size))
	for sent := int64(0); sent < size; {
		k := min(int64(len(buf)), size-sent)
		if _, err := io.ReadFull(mr.r, buf[:k]); err != nil {
			damaged = true
			return fmt.Errorf("blob: read %s: %w", req.ID, err)
		}
		if verify {
			sum.Write(buf[:k])
		}
		if _, err := st.Write(buf[:k]); err != nil {
			return err
		}
		sent += k
	}
	if verify && wasm.ModuleID(sum.Sum(nil)) != req.ID {
		damaged = true
		s.log.Warn("stored module is damaged; dropped", "module", req.ID)
		return fmt.Errorf("blob: module %s damaged on disk", req.ID)
	}
	s.served.Add(1)
	return nil
}

// announce queues id for announcement.
func (s *Service) announce(id wasm.ModuleID) {
	s.mu.Lock()
	s.pending[id] = struct{}{}
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// announceAll queues every stored module for announcement.
func (s *Service) announceAll() {
	if s.prov == nil {
		return
	}
	ids := s.store.List()
	s.mu.Lock()
	for _, id := range ids {
		s.pending[id] = struct{}{}
	}
	s.mu.Unlock()
	if len(ids) > 0 {
		select {
		case s.wake <- struct{}{}:
		default:
		}
	}
}

// announcer announces queued modules, Config.ProvideConcurrency at a time,
// until Close.
func (s *Service) announcer() {
	defer s.wg.Done()
	sem := make(chan struct{}, s.cfg.ProvideConcurrency)
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-s.wake:
		}
		s.mu.Lock()
		ids := make([]wasm.ModuleID, 0, len(s.pending))
		for id := range s.pending {
			ids = append(ids, id)
		}
		clear(s.pending)
		s.mu.Unlock()
		for _, id := range ids {
			if !s.store.Has(id) {
				continue // evicted meanwhile
			}
			select {
			case sem <- struct{}{}:
			case <-s.ctx.Done():
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				ctx, cancel := context.WithTimeout(s.ctx, s.cfg.ProvideTimeout)
				defer cancel()
				if err := s.prov.Provide(ctx, ProviderKey(id)); err != nil {
					s.announceFailed.Add(1)
					if s.ctx.Err() == nil {
						s.log.Debug("announcing module", "module", id, "err", err)
					}
					return
				}
				s.announced.Add(1)
			}()
		}
	}
}
