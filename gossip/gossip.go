package gossip

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"time"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"

	"github.com/fog-compute/fog/internal/clock"
)

// Options are what New needs besides Config: hooks supplied by the node,
// the simulator or tests rather than by config.toml.
type Options struct {
	// Logger receives pubsub's and the package's logs; nil discards them.
	Logger *slog.Logger
	// Latency returns the measured round-trip time to a peer, 0 if
	// unknown; directory queries sorted by latency use it. The node passes
	// its peerstore's LatencyEWMA. Nil: every latency is unknown.
	Latency func(peer.ID) time.Duration
	// AppScore is the application-specific peer score (P5), e.g. from
	// stake; nil scores every peer 0.
	AppScore func(peer.ID) float64
	// Clock is the clock of the validators, the directory, the
	// advertiser and the maintenance tickers; nil means clock.Real(). The
	// node passes its one clock; tests use a skewed one to check skew and
	// expiry rules.
	Clock clock.Clock
	// Tracer receives pubsub's raw trace events as well (the simulator
	// times deliveries with it); nil for none.
	Tracer pubsub.RawTracer
	// Version is the software version put into this node's adverts.
	Version string
}

// Protocols returns the stream protocols gossipsub serves, highest
// first (the node gives them resource-manager limits).
func Protocols() []protocol.ID { return slices.Clone(pubsub.GossipSubDefaultProtocols) }

// Gossip owns one node's gossipsub router, its typed topics, the capacity
// topic and the capacity directory fed by it. It is safe for concurrent use.
type Gossip struct {
	cfg  Config
	opts Options
	h    host.Host
	ps   *pubsub.PubSub
	log  *slog.Logger
	clk  clock.Clock
	now  func() time.Time

	ctx    context.Context // cancelled by Close: stops pubsub and our goroutines
	cancel context.CancelFunc
	wg     sync.WaitGroup

	scores *scoreBook
	stats  *statsTracer
	dir    *Directory
	cap    *Topic[Advert]

	mu     sync.Mutex
	topics map[string]io.Closer
	closed bool
	once   sync.Once
	err    error
}

// New starts gossipsub on h with peer scoring and strict message signing,
// joins the capacity topic and starts filling the directory from it. The
// Gossip runs until Close; ctx only bounds the start.
func New(ctx context.Context, h host.Host, cfg Config, opts Options) (_ *Gossip, err error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("gossip: start: %w", err)
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	clk := opts.Clock
	if clk == nil {
		clk = clock.Real()
	}
	now := clk.Now
	g := &Gossip{
		cfg:    cfg,
		opts:   opts,
		h:      h,
		log:    log,
		clk:    clk,
		now:    now,
		scores: newScoreBook(cfg.Score.GraylistThreshold, now),
		stats:  newStatsTracer(),
		topics: map[string]io.Closer{},
	}
	g.ctx, g.cancel = context.WithCancel(context.WithoutCancel(ctx))
	defer func() {
		if err != nil {
			_ = g.Close()
		}
	}()

	gp := pubsub.DefaultGossipSubParams()
	gp.D, gp.Dlo, gp.Dhi = cfg.D, cfg.Dlo, cfg.Dhi
	gp.Dlazy = cfg.D
	gp.Dscore = min(gp.Dscore, cfg.Dhi)
	gp.Dout = max(0, min(gp.Dout, cfg.Dlo-1, cfg.D/2-1))
	gp.HeartbeatInterval = cfg.Heartbeat
	gp.HistoryLength = historyLength
	tracers := []pubsub.RawTracer{g.stats}
	if opts.Tracer != nil {
		tracers = append(tracers, opts.Tracer)
	}
	psOpts := []pubsub.Option{
		pubsub.WithGossipSubParams(gp),
		pubsub.WithMessageSignaturePolicy(pubsub.StrictSign),
		pubsub.WithMessageIdFn(msgID),
		pubsub.WithPeerScore(cfg.Score.peerParams(cfg.SeenTTL, opts.AppScore), cfg.Score.thresholds()),
		pubsub.WithPeerScoreInspect(pubsub.ExtendedPeerScoreInspectFn(g.scores.update), cfg.Score.InspectPeriod),
		pubsub.WithPeerExchange(cfg.PeerExchange),
		pubsub.WithFloodPublish(cfg.FloodPublish),
		pubsub.WithSeenMessagesTTL(cfg.SeenTTL),
		pubsub.WithMaxMessageSize(cfg.MaxRPCSize),
		pubsub.WithValidateQueueSize(cfg.ValidateQueue),
		pubsub.WithLogger(log.With("subsystem", "pubsub")),
	}
	for _, t := range tracers {
		psOpts = append(psOpts, pubsub.WithRawTracer(t))
	}
	if cfg.ValidateWorkers > 0 {
		psOpts = append(psOpts, pubsub.WithValidateWorkers(cfg.ValidateWorkers))
	}
	g.ps, err = pubsub.NewGossipSub(g.ctx, h, psOpts...)
	if err != nil {
		return nil, fmt.Errorf("gossip: start gossipsub: %w", err)
	}

	g.dir = NewDirectory(cfg.Directory, h.ID(), opts.Latency, now)
	g.cap, err = Join(g, CapacityConfig(cfg))
	if err != nil {
		return nil, err
	}
	if _, err = g.cap.Subscribe(func(r Received[Advert]) { g.dir.Update(r.Msg) }); err != nil {
		return nil, err
	}
	g.wg.Add(1)
	go g.maintain()
	return g, nil
}

// CapacityConfig returns the TopicConfig of CapacityTopic under cfg: the
// advert codec, the generic chain with cfg.Capacity, and the advert's own
// check (expiry after issue and at most Advert.MaxTTL later).
func CapacityConfig(cfg Config) TopicConfig[Advert] {
	maxTTL := cfg.Advert.MaxTTL
	return TopicConfig[Advert]{
		Name:   CapacityTopic,
		Params: cfg.Capacity,
		Encode: EncodeAdvert,
		Decode: DecodeAdvert,
		Header: func(a Advert) Header { return a.Header() },
		Check: func(a Advert, _ time.Time, _ bool) error {
			if ttl := a.Expires.Sub(a.Issued); ttl > maxTTL {
				return fmt.Errorf("%w: advert lives %s, at most %s", ErrInvalid, ttl, maxTTL)
			}
			return nil
		},
	}
}

// maintain prunes the directory and refreshes its latencies.
func (g *Gossip) maintain() {
	defer g.wg.Done()
	prune := g.clk.NewTicker(g.cfg.Directory.PruneInterval)
	defer prune.Stop()
	lat := g.clk.NewTicker(g.cfg.Directory.LatencyRefresh)
	defer lat.Stop()
	for {
		select {
		case <-g.ctx.Done():
			return
		case <-prune.C():
			g.dir.Prune()
		case <-lat.C():
			g.dir.RefreshLatency()
		}
	}
}

func (g *Gossip) addTopic(name string, c io.Closer) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return ErrClosed
	}
	if _, ok := g.topics[name]; ok {
		return fmt.Errorf("gossip: topic %s already joined", name)
	}
	g.topics[name] = c
	return nil
}

func (g *Gossip) removeTopic(name string) {
	g.mu.Lock()
	delete(g.topics, name)
	g.mu.Unlock()
}

// Host returns the libp2p host gossip runs on.
func (g *Gossip) Host() host.Host { return g.h }

// Config returns the configuration gossip runs with.
func (g *Gossip) Config() Config { return g.cfg }

// Directory returns the capacity directory.
func (g *Gossip) Directory() *Directory { return g.dir }

// Capacity returns the capacity topic; publish adverts through an
// Advertiser, subscribe to watch them arrive.
func (g *Gossip) Capacity() *Topic[Advert] { return g.cap }

// Topics returns the topics joined, sorted.
func (g *Gossip) Topics() []string {
	t := g.ps.GetTopics()
	slices.Sort(t)
	return t
}

// TopicPeers returns the connected peers subscribed to topic, sorted.
func (g *Gossip) TopicPeers(topic string) []peer.ID {
	p := g.ps.ListPeers(topic)
	slices.Sort(p)
	return p
}

// Score returns a peer's score as of the last snapshot.
func (g *Gossip) Score(p peer.ID) (PeerScore, bool) { return g.scores.get(p) }

// Scores returns every scored peer's score (connected peers and those
// disconnected less than Score.RetainScore ago) and when the snapshot was
// taken (zero before the first one).
func (g *Gossip) Scores() (map[peer.ID]PeerScore, time.Time) { return g.scores.all() }

// ScoresUpdated returns a channel closed at the next score snapshot, for
// waiting on score changes without polling.
func (g *Gossip) ScoresUpdated() <-chan struct{} { return g.scores.updated() }

// Graylisted reports whether p's score, as of the last snapshot, is below
// the graylist threshold, so this node drops everything p sends.
func (g *Gossip) Graylisted(p peer.ID) bool {
	s, ok := g.scores.get(p)
	return ok && s.Graylisted
}

// Stats returns pubsub's message counters.
func (g *Gossip) Stats() Stats { return g.stats.snapshot() }

// Name names gossip in the node's status.
func (g *Gossip) Name() string { return "gossip" }

// Health returns nil while gossip runs, ErrClosed after Close.
func (g *Gossip) Health(context.Context) error {
	if g.ctx.Err() != nil {
		return ErrClosed
	}
	return nil
}

// Close leaves every topic, stops gossipsub and the directory's
// maintenance, and waits for the goroutines it owns. It is idempotent and
// returns the first error.
func (g *Gossip) Close() error {
	g.once.Do(func() {
		g.mu.Lock()
		g.closed = true
		topics := make([]io.Closer, 0, len(g.topics))
		for _, t := range g.topics {
			topics = append(topics, t)
		}
		g.mu.Unlock()
		for _, t := range topics {
			if err := t.Close(); err != nil && g.err == nil {
				g.err = err
			}
		}
		g.cancel()
		g.wg.Wait()
	})
	return g.err
}
