package p2p

import (
	"container/list"
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/fog-compute/fog/internal/clock"
)

// errStreamRate is what the resource manager answers a stream beyond its
// peer's rate; the swarm then resets the stream before any protocol is
// negotiated. It wraps network.ErrResourceLimitExceeded, as libp2p's own
// refusals do.
var errStreamRate = fmt.Errorf("p2p: peer opens inbound streams too fast: %w", network.ErrResourceLimitExceeded)

// StreamRateStats are the counters of the per-peer limit on the rate of
// new inbound streams (Config.StreamRate).
type StreamRateStats struct {
	// Allowed and Refused count new inbound streams let through and
	// refused for their peer's rate; Refunded those of the exempt
	// protocols (Config.StreamRateExempt), whose token was given back.
	Allowed  uint64 `json:"allowed"`
	Refused  uint64 `json:"refused"`
	Refunded uint64 `json:"refunded"`
	// Suspended counts the times a peer reached StreamRateStrikes
	// refusals within a minute and was disconnected and suspended.
	Suspended uint64 `json:"suspended"`
	// Peers is the buckets kept now (at most StreamRatePeers).
	Peers int `json:"peers"`
	// Deepest is the most tokens any peer's bucket has been drained by
	// at the negotiation of a stream of a protocol that is not exempt
	// (StreamBurst minus the fewest tokens left): how near the traffic
	// came to the limit.
	Deepest float64 `json:"deepest"`
}

// tokenBucket holds up to burst tokens and gains rate of them a second.
// It is written here rather than taken from golang.org/x/time/rate
// because a stream of an exempt protocol gives its token back once its
// protocol is negotiated, and rate.Reservation.CancelAt gives nothing back
// once the reservation's time has passed.
type tokenBucket struct {
	n    float64
	last time.Time
}

// fill adds the tokens earned since the last fill (time going backwards
// earns none).
func (t *tokenBucket) fill(now time.Time, rate float64, burst int) {
	if d := now.Sub(t.last); d > 0 {
		t.n = min(float64(burst), t.n+d.Seconds()*rate)
		t.last = now
	}
}

// strikeWindow is the window over which a peer's refusals are counted
// against StreamRateStrikes.
const strikeWindow = time.Minute

// streamBuckets is one token bucket of new inbound streams per peer, at
// most max of them (the least recently used is forgotten first), and the
// count of each peer's refusals. It takes the time as a value: no clock,
// no I/O. It is safe for concurrent use.
type streamBuckets struct {
	rate    float64
	burst   int
	max     int
	strikes int

	mu    sync.Mutex
	peers map[peer.ID]*list.Element // of *bucket
	lru   list.List                 // front: most recently used
	st    StreamRateStats
}

// bucket is one peer's state.
type bucket struct {
	id      peer.ID
	tokens  tokenBucket
	refused int       // refusals since since
	since   time.Time // start of the strike window
	struck  bool      // the peer reached strikes in this window
}

func newStreamBuckets(r float64, burst, max, strikes int) *streamBuckets {
	return &streamBuckets{rate: r, burst: burst, max: max, strikes: strikes,
		peers: make(map[peer.ID]*list.Element)}
}

// verdict is what admit decided about one stream.
type verdict int

const (
	admitted verdict = iota
	refused
	// suspend: refused, and the peer has just reached its strikes.
	suspend
)

// admit decides whether p may open a new inbound stream at now, and takes
// a token if so.
func (b *streamBuckets) admit(p peer.ID, now time.Time) verdict {
	b.mu.Lock()
	defer b.mu.Unlock()
	e, ok := b.peers[p]
	if ok {
		b.lru.MoveToFront(e)
	} else {
		if b.lru.Len() >= b.max {
			old := b.lru.Back()
			delete(b.peers, old.Value.(*bucket).id)
			b.lru.Remove(old)
		}
		e = b.lru.PushFront(&bucket{id: p, tokens: tokenBucket{n: float64(b.burst), last: now}})
		b.peers[p] = e
	}
	k := e.Value.(*bucket)
	k.tokens.fill(now, b.rate, b.burst)
	if k.tokens.n >= 1-1e-9 { // a whole token, but for rounding
		k.tokens.n--
		b.st.Allowed++
		return admitted
	}
	b.st.Refused++
	if now.Sub(k.since) >= strikeWindow {
		k.since, k.refused, k.struck = now, 0, false
	}
	k.refused++
	if k.refused >= b.strikes && !k.struck {
		k.struck = true
		b.st.Suspended++
		return suspend
	}
	return refused
}

// negotiated records that an admitted stream of p settled on a protocol
// at now: an exempt one gives its token back, any other counts towards
// Deepest.
func (b *streamBuckets) negotiated(p peer.ID, exempt bool, now time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	e, ok := b.peers[p]
	if !ok {
		return // forgotten since (disconnected, or evicted): nothing to give back
	}
	k := e.Value.(*bucket)
	k.tokens.fill(now, b.rate, b.burst)
	if exempt {
		k.tokens.n = min(float64(b.burst), k.tokens.n+1)
		b.st.Refunded++
		return
	}
	b.st.Deepest = max(b.st.Deepest, float64(b.burst)-k.tokens.n)
}

// forget drops p's bucket, unless p was refused within the strike window
// (such a peer finds its bucket as it left it when it reconnects).
func (b *streamBuckets) forget(p peer.ID, now time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	e, ok := b.peers[p]
	if !ok {
		return
	}
	if k := e.Value.(*bucket); k.refused > 0 && now.Sub(k.since) < strikeWindow {
		return
	}
	delete(b.peers, p)
	b.lru.Remove(e)
}

func (b *streamBuckets) stats() StreamRateStats {
	b.mu.Lock()
	defer b.mu.Unlock()
	st := b.st
	st.Peers = b.lru.Len()
	return st
}

// streamGate is the host's resource manager with the per-peer rate of new
// inbound streams in front: the swarm asks it for every inbound stream
// before the protocol is negotiated, so a refusal costs the node a reset
// and nothing of the negotiation or the protocol's handler.
type streamGate struct {
	network.ResourceManager
	clk     clock.Clock
	buckets *streamBuckets
	exempt  []string // protocol ID prefixes whose streams get their token back
	// onRefuse runs for each refusal, with suspend set when the peer has
	// just reached its strikes. It runs on the connection's accept loop:
	// it must not block.
	onRefuse func(p peer.ID, suspend bool)
}

// OpenStream refuses an inbound stream beyond its peer's rate, and passes
// everything else to the resource manager.
func (g *streamGate) OpenStream(p peer.ID, dir network.Direction) (network.StreamManagementScope, error) {
	if dir != network.DirInbound {
		return g.ResourceManager.OpenStream(p, dir)
	}
	v := g.buckets.admit(p, g.clk.Now())
	if v != admitted {
		g.onRefuse(p, v == suspend)
		return nil, errStreamRate
	}
	s, err := g.ResourceManager.OpenStream(p, dir)
	if err != nil {
		return nil, err
	}
	return &rateScope{StreamManagementScope: s, g: g, p: p}, nil
}

func (g *streamGate) isExempt(id protocol.ID) bool {
	for _, pre := range g.exempt {
		if strings.HasPrefix(string(id), pre) {
			return true
		}
	}
	return false
}

// rateScope is an admitted inbound stream's scope: when its protocol is
// negotiated, the gate learns which.
type rateScope struct {
	network.StreamManagementScope
	g    *streamGate
	p    peer.ID
	once sync.Once
}

// SetProtocol tells the gate the stream's protocol, then the resource
// manager.
func (s *rateScope) SetProtocol(id protocol.ID) error {
	s.once.Do(func() { s.g.buckets.negotiated(s.p, s.g.isExempt(id), s.g.clk.Now()) })
	return s.StreamManagementScope.SetProtocol(id)
}

// newStreamGate puts cfg's per-peer rate of new inbound streams in front of
// rm. A peer that reaches its strikes is suspended in opts.Bans and
// disconnected by the host built will hold; refusals and suspensions are
// counted in opts.Registerer, if any.
func newStreamGate(rm network.ResourceManager, cfg Config, opts Options, log *slog.Logger, built *atomic.Pointer[Host]) (*streamGate, error) {
	var refusedC, suspendedC prometheus.Counter
	if reg := opts.Registerer; reg != nil {
		refusedC = prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "fog", Subsystem: "p2p", Name: "streams_rate_refused_total",
			Help: "New inbound streams refused because their peer opened streams faster than p2p.stream_rate.",
		})
		suspendedC = prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "fog", Subsystem: "p2p", Name: "peers_rate_suspended_total",
			Help: "Peers disconnected and suspended for reaching p2p.stream_rate_strikes refusals within a minute.",
		})
		for _, c := range []prometheus.Collector{refusedC, suspendedC} {
			if err := reg.Register(c); err != nil {
				return nil, fmt.Errorf("p2p: stream rate metrics: %w", err)
			}
		}
	}
	g := &streamGate{
		ResourceManager: rm,
		clk:             cfg.Clock,
		buckets:         newStreamBuckets(cfg.StreamRate, cfg.StreamBurst, cfg.StreamRatePeers, cfg.StreamRateStrikes),
		exempt:          slices.Clone(cfg.StreamRateExempt),
	}
	g.onRefuse = func(p peer.ID, suspend bool) {
		if refusedC != nil {
			refusedC.Inc()
		}
		if !suspend {
			return
		}
		if suspendedC != nil {
			suspendedC.Inc()
		}
		log.Warn("peer opens streams too fast: disconnected and suspended", "peer", p,
			"strikes", cfg.StreamRateStrikes, "for", cfg.StreamRateSuspend)
		opts.Bans.Suspend(p, cfg.StreamRateSuspend)
		if h := built.Load(); h != nil {
			// Not on the connection's accept loop, which closing the
			// connection waits for.
			h.spawn(func(context.Context) { _ = h.Network().ClosePeer(p) })
		}
	}
	return g, nil
}

// StreamRateStats returns the counters of the limit on the rate of new
// inbound streams per peer; zero when the limit is off (Config.StreamRate
// 0) or the host was built by Attach.
func (h *Host) StreamRateStats() StreamRateStats {
	if h.gate == nil {
		return StreamRateStats{}
	}
	return h.gate.buckets.stats()
}
