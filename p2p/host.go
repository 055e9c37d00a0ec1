package p2p

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/libp2p/go-libp2p"
	connmgrcore "github.com/libp2p/go-libp2p/core/connmgr"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/p2p/discovery/mdns"
	rcmgr "github.com/libp2p/go-libp2p/p2p/host/resource-manager"
	"github.com/libp2p/go-libp2p/p2p/muxer/yamux"
	"github.com/libp2p/go-libp2p/p2p/net/connmgr"
	"github.com/libp2p/go-libp2p/p2p/security/noise"
	tls "github.com/libp2p/go-libp2p/p2p/security/tls"
	quic "github.com/libp2p/go-libp2p/p2p/transport/quic"
	"github.com/libp2p/go-libp2p/p2p/transport/tcp"
	"github.com/libp2p/go-libp2p/x/rate"
	"github.com/pbnjay/memory"
	"github.com/prometheus/client_golang/prometheus"
)

// Options are the collaborators New needs beyond Config.
type Options struct {
	// Identity is the node's key (from LoadIdentity). Required.
	Identity crypto.PrivKey
	// Bans is the persistent ban list that gates connections. Required.
	Bans *BanList
	// Registerer receives libp2p's metrics; nil disables them.
	Registerer prometheus.Registerer
	// Logger receives the host's logs; nil discards them.
	Logger *slog.Logger
}

// Host is a fog node's libp2p host with its ban list, bootstrapper and
// optional mDNS discovery.
type Host struct {
	host.Host
	// Bans is the ban list that gates the host's connections.
	Bans *BanList
	// Bootstrap keeps the host connected to its bootstrap peers.
	Bootstrap *Bootstrapper

	log       *slog.Logger
	gate      *streamGate // nil: no limit on the rate of new inbound streams
	mdns      mdns.Service
	connMgr   *connmgr.BasicConnMgr // set by Attach for hosts built without one
	ctx       context.Context       // cancelled by Close; bounds mDNS dials
	cancel    context.CancelFunc
	wg        sync.WaitGroup
	spawnMu   sync.Mutex
	closing   bool
	closeOnce sync.Once
	closeErr  error
}

// New builds the host cfg describes, starts listening and starts dialling the
// bootstrap peers in the background. A malformed config fails here with an
// error naming the field or entry; an unreachable bootstrap peer does not.
func New(ctx context.Context, cfg Config, opts Options) (*Host, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if opts.Identity == nil {
		return nil, fmt.Errorf("%w: no identity", ErrConfig)
	}
	if opts.Bans == nil {
		return nil, fmt.Errorf("%w: no ban list", ErrConfig)
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	listen, _ := ParseListenAddrs(cfg.ListenAddrs)
	boot, _ := ParseBootstrap(cfg.Bootstrap)
	if err := checkListenFree(listen); err != nil {
		return nil, err
	}

	rm, err := newResourceManager(cfg, opts.Registerer)
	if err != nil {
		return nil, err
	}
	// The gate's refusals need the host, which exists only once libp2p.New
	// returns; no stream arrives before then.
	var built atomic.Pointer[Host]
	var gate *streamGate
	if cfg.StreamRate > 0 {
		gate, err = newStreamGate(rm, cfg, opts, log, &built)
		if err != nil {
			rm.Close()
			return nil, err
		}
		rm = gate
	}
	cm, err := connmgr.NewConnManager(cfg.ConnLow, cfg.ConnHigh, connmgr.WithGracePeriod(cfg.ConnGrace))
	if err != nil {
		rm.Close()
		return nil, fmt.Errorf("p2p: connection manager: %w", err)
	}
	lo := []libp2p.Option{
		libp2p.Identity(opts.Identity),
		libp2p.ListenAddrs(listen...),
		libp2p.Transport(tcp.NewTCPTransport),
		libp2p.Transport(quic.NewTransport),
		libp2p.Security(noise.ID, noise.New),
		libp2p.Security(tls.ID, tls.New),
		libp2p.Muxer(yamux.ID, yamux.DefaultTransport),
		libp2p.ResourceManager(rm),
		libp2p.ConnectionManager(cm),
		libp2p.ConnectionGater(opts.Bans),
		libp2p.UserAgent(cfg.UserAgent),
		libp2p.WithDialTimeout(cfg.DialTimeout),
	}
	if opts.Registerer != nil {
		lo = append(lo, libp2p.PrometheusRegisterer(opts.Registerer))
	} else {
		lo = append(lo, libp2p.DisableMetrics())
	}
	if cfg.AutoNAT {
		lo = append(lo, libp2p.EnableNATService(), libp2p.EnableAutoNATv2())
	}
	if cfg.HolePunching {
		lo = append(lo, libp2p.EnableHolePunching())
	}
	// AutoRelay's peer source reads the host, which exists only once
	// libp2p.New returns; it is not asked for candidates before then
	// (only after AutoNAT says the node is private).
	var relayRef relayHostRef
	if cfg.RelayClient {
		lo = append(lo, libp2p.EnableRelay(),
			libp2p.EnableAutoRelayWithPeerSource(relayRef.candidates))
	} else {
		lo = append(lo, libp2p.DisableRelay())
	}
	if cfg.RelayService {
		lo = append(lo, libp2p.EnableRelayService())
	}
	h, err := libp2p.New(lo...)
	if err != nil {
		return nil, fmt.Errorf("p2p: start host: %w", err)
	}
	relayRef.set(h)
	hctx, cancel := context.WithCancel(context.Background())
	hh := &Host{Host: h, Bans: opts.Bans, log: log, ctx: hctx, cancel: cancel, gate: gate}
	built.Store(hh)
	if gate != nil {
		h.Network().Notify(&network.NotifyBundle{
			DisconnectedF: func(n network.Network, c network.Conn) {
				if n.Connectedness(c.RemotePeer()) != network.Connected {
					gate.buckets.forget(c.RemotePeer(), gate.clk.Now())
				}
			},
		})
	}
	hh.Bootstrap, err = NewBootstrapper(h, cfg, boot, log)
	if err != nil {
		cancel()
		h.Close()
		return nil, fmt.Errorf("p2p: bootstrapper: %w", err)
	}
	if cfg.MDNS {
		hh.mdns = mdns.NewMdnsService(h, cfg.MDNSService, &mdnsNotifee{h: hh, timeout: cfg.DialTimeout})
		if err := hh.mdns.Start(); err != nil {
			hh.Close()
			return nil, fmt.Errorf("p2p: mdns: %w", err)
		}
	}
	log.Info("host started", "peer", h.ID(), "addrs", h.Addrs())
	return hh, nil
}

// relayHostRef hands AutoRelay the host once it is built.
type relayHostRef struct {
	mu sync.Mutex
	h  host.Host
}

func (r *relayHostRef) set(h host.Host) {
	r.mu.Lock()
	r.h = h
	r.mu.Unlock()
}

// candidates is AutoRelay's peer source: up to num of the peers the host is
// connected to directly, those that said (through identify) they serve
// circuit relay v2 first. AutoRelay checks each and reserves a slot on
// those that accept.
func (r *relayHostRef) candidates(_ context.Context, num int) <-chan peer.AddrInfo {
	r.mu.Lock()
	h := r.h
	r.mu.Unlock()
	var hop, other []peer.AddrInfo
	if h != nil {
		for _, id := range h.Network().Peers() {
			direct := false
			for _, c := range h.Network().ConnsToPeer(id) {
				if !c.Stat().Limited {
					direct = true
				}
			}
			if !direct {
				continue
			}
			ai := peer.AddrInfo{ID: id, Addrs: h.Peerstore().Addrs(id)}
			if ps, err := h.Peerstore().SupportsProtocols(id, relayHopProto); err == nil && len(ps) > 0 {
				hop = append(hop, ai)
			} else {
				other = append(other, ai)
			}
		}
	}
	all := append(hop, other...)
	all = all[:min(len(all), max(num, 0))]
	ch := make(chan peer.AddrInfo, len(all))
	for _, ai := range all {
		ch <- ai
	}
	close(ch)
	return ch
}

// relayHopProto is circuit relay v2's hop protocol, which relays serve.
const relayHopProto = "/libp2p/circuit/relay/0.2.0/hop"

func newResourceManager(cfg Config, reg prometheus.Registerer) (network.ResourceManager, error) {
	limits := rcmgr.DefaultLimits
	libp2p.SetDefaultServiceLimits(&limits)
	// Per peer: ConnsPerPeer connections.
	limits.PeerBaseLimit.Conns = cfg.ConnsPerPeer
	limits.PeerBaseLimit.ConnsInbound = cfg.ConnsPerPeer
	limits.PeerBaseLimit.ConnsOutbound = cfg.ConnsPerPeer
	for _, p := range cfg.Protocols {
		// The protocol's default limits, but for its inbound streams.
		base, inc := limits.ProtocolBaseLimit, limits.ProtocolLimitIncrease
		base.StreamsInbound, inc.StreamsInbound = p.Streams, 0
		base.Streams = max(base.Streams, p.Streams)
		limits.AddProtocolLimit(p.ID, base, inc)
		pbase, pinc := limits.ProtocolPeerBaseLimit, limits.ProtocolPeerLimitIncrease
		pbase.StreamsInbound, pinc.StreamsInbound = p.StreamsPerPeer, 0
		pbase.Streams = max(pbase.Streams, p.StreamsPerPeer)
		limits.AddProtocolPeerLimit(p.ID, pbase, pinc)
	}
	var concrete rcmgr.ConcreteLimitConfig
	if cfg.ResourceMemory == 0 && cfg.ResourceFDs == 0 {
		concrete = limits.AutoScale()
	} else {
		mem, fds := cfg.ResourceMemory, cfg.ResourceFDs
		if mem == 0 {
			mem = int64(memory.TotalMemory() / 8)
		}
		if fds == 0 {
			fds = defaultResourceFDs
		}
		concrete = limits.Scale(mem, fds)
	}
	// The system's inbound connections are MaxInboundConns, whatever the
	// machine, and its total leaves as many again for outbound ones.
	sys := concrete.ToPartialLimitConfig().System
	total := max(int(sys.Conns), 2*cfg.MaxInboundConns)
	concrete = rcmgr.PartialLimitConfig{System: rcmgr.ResourceLimits{
		ConnsInbound: rcmgr.LimitVal(cfg.MaxInboundConns),
		Conns:        rcmgr.LimitVal(total),
	}}.Build(concrete)

	exempt, err := parsePrefixes(cfg.ConnLimitExempt)
	if err != nil {
		return nil, err
	}
	ro := connLimitOptions(cfg.ConnsPerIP, exempt)
	if reg != nil {
		rcmgr.MustRegisterWith(reg)
		str, err := rcmgr.NewStatsTraceReporter()
		if err != nil {
			return nil, fmt.Errorf("p2p: resource manager metrics: %w", err)
		}
		ro = append(ro, rcmgr.WithTraceReporter(str))
	}
	rm, err := rcmgr.NewResourceManager(rcmgr.NewFixedLimiter(concrete), ro...)
	if err != nil {
		return nil, fmt.Errorf("p2p: resource manager: %w", err)
	}
	return rm, nil
}

// connLimitOptions limits the connections per IP address (and their rate
// of arrival) to perIP, except for the exempt networks, which libp2p
// exempts by default (loopback) and a config may change.
func connLimitOptions(perIP int, exempt []netip.Prefix) []rcmgr.Option {
	var v4, v6 []rcmgr.NetworkPrefixLimit
	var rates []rate.PrefixLimit
	for _, p := range exempt {
		l := rcmgr.NetworkPrefixLimit{Network: p, ConnCount: math.MaxInt}
		if p.Addr().Is4() {
			v4 = append(v4, l)
		} else {
			v6 = append(v6, l)
		}
		rates = append(rates, rate.PrefixLimit{Prefix: p}) // zero: unlimited
	}
	if v4 == nil {
		v4 = []rcmgr.NetworkPrefixLimit{} // non-nil: replaces libp2p's loopback exemption
	}
	if v6 == nil {
		v6 = []rcmgr.NetworkPrefixLimit{}
	}
	// libp2p's rate of new connections per address: a burst of twice the
	// concurrent limit, then one every 5 s (one every 2 s per IPv6 /48).
	burst := 2 * perIP
	return []rcmgr.Option{
		rcmgr.WithNetworkPrefixLimit(v4, v6),
		rcmgr.WithLimitPerSubnet(
			[]rcmgr.ConnLimitPerSubnet{{PrefixLength: 32, ConnCount: perIP}},
			[]rcmgr.ConnLimitPerSubnet{{PrefixLength: 56, ConnCount: perIP}, {PrefixLength: 48, ConnCount: 8 * perIP}},
		),
		rcmgr.WithConnRateLimiters(&rate.Limiter{
			NetworkPrefixLimits: rates,
			SubnetRateLimiter: rate.SubnetLimiter{
				IPv4SubnetLimits: []rate.SubnetLimit{{PrefixLength: 32, Limit: rate.Limit{RPS: 0.2, Burst: burst}}},
				IPv6SubnetLimits: []rate.SubnetLimit{
					{PrefixLength: 56, Limit: rate.Limit{RPS: 0.2, Burst: burst}},
					{PrefixLength: 48, Limit: rate.Limit{RPS: 0.5, Burst: 10 * perIP}},
				},
				GracePeriod: time.Minute,
			},
		}),
	}
}

// defaultResourceFDs is the file descriptor budget used when only
// ResourceMemory is configured.
const defaultResourceFDs = 4096

// ConnManager returns the host's connection manager: libp2p's own, or the
// one Attach brought for a host that had none.
func (h *Host) ConnManager() connmgrcore.ConnManager {
	if h.connMgr != nil {
		return h.connMgr
	}
	return h.Host.ConnManager()
}

// AddrInfo returns the host's ID and listen addresses.
func (h *Host) AddrInfo() peer.AddrInfo {
	return peer.AddrInfo{ID: h.ID(), Addrs: h.Addrs()}
}

// Close stops mDNS and the bootstrapper, then closes the host and with it
// every connection and stream. It is idempotent and returns the first error.
func (h *Host) Close() error {
	h.closeOnce.Do(func() {
		var errs []error
		if h.mdns != nil {
			errs = append(errs, h.mdns.Close())
		}
		h.spawnMu.Lock()
		h.closing = true
		h.spawnMu.Unlock()
		h.cancel()
		h.wg.Wait()
		if h.Bootstrap != nil {
			errs = append(errs, h.Bootstrap.Close())
		}
		errs = append(errs, h.Host.Close())
		if h.connMgr != nil {
			errs = append(errs, h.connMgr.Close())
		}
		h.closeErr = errors.Join(errs...)
	})
	return h.closeErr
}

// spawn runs f in a goroutine the host owns (Close cancels its context and
// waits for it), unless the host is closing.
func (h *Host) spawn(f func(ctx context.Context)) {
	h.spawnMu.Lock()
	defer h.spawnMu.Unlock()
	if h.closing {
		return
	}
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		f(h.ctx)
	}()
}

type mdnsNotifee struct {
	h       *Host
	timeout time.Duration
}

// HandlePeerFound dials a peer found on the LAN, unless it is banned.
func (n *mdnsNotifee) HandlePeerFound(ai peer.AddrInfo) {
	if ai.ID == n.h.ID() || n.h.Bans.IsBanned(ai.ID) {
		return
	}
	n.h.log.Debug("mdns: found peer", "peer", ai.ID)
	n.h.spawn(func(ctx context.Context) {
		ctx, cancel := context.WithTimeout(ctx, n.timeout)
		defer cancel()
		if err := n.h.Connect(ctx, ai); err != nil {
			n.h.log.Debug("mdns: dial failed", "peer", ai.ID, "err", err)
		}
	})
}

// Attach wraps a host built elsewhere — libp2p's mocknet in the simulator —
// with the ban list, bootstrapper and protocol conventions of New. Such a
// host has no connection gater, so Attach enforces bans by closing any
// connection a banned peer makes. The Host takes ownership of h: Close
// closes it.
func Attach(h host.Host, cfg Config, opts Options) (*Host, error) {
	if opts.Bans == nil {
		return nil, fmt.Errorf("%w: no ban list", ErrConfig)
	}
	boot, err := ParseBootstrap(cfg.Bootstrap)
	if err != nil {
		return nil, err
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	// mocknet hosts have no connection manager: bring our own, so that the
	// simulator's nodes keep a connection budget like real ones.
	cm, err := connmgr.NewConnManager(cfg.ConnLow, cfg.ConnHigh, connmgr.WithGracePeriod(cfg.ConnGrace))
	if err != nil {
		return nil, fmt.Errorf("p2p: connection manager: %w", err)
	}
	hctx, cancel := context.WithCancel(context.Background())
	hh := &Host{Host: h, Bans: opts.Bans, log: log, ctx: hctx, cancel: cancel, connMgr: cm}
	h.Network().Notify(cm.Notifee())
	h.Network().Notify(&network.NotifyBundle{
		ConnectedF: func(n network.Network, c network.Conn) {
			if opts.Bans.IsBanned(c.RemotePeer()) {
				// Not from inside the notification: closing there can deadlock.
				hh.spawn(func(context.Context) { _ = c.Close() })
			}
		},
	})
	if hh.Bootstrap, err = NewBootstrapper(hh, cfg, boot, log); err != nil {
		cancel()
		cm.Close()
		return nil, fmt.Errorf("p2p: bootstrapper: %w", err)
	}
	return hh, nil
}
