package node

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/protocol"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/fog-compute/fog/chat/chatsvc"
	"github.com/fog-compute/fog/chat/mailbox"
	"github.com/fog-compute/fog/compute"
	"github.com/fog-compute/fog/compute/blob"
	"github.com/fog-compute/fog/compute/wasm"
	"github.com/fog-compute/fog/compute/wire"
	"github.com/fog-compute/fog/dht"
	"github.com/fog-compute/fog/files"
	"github.com/fog-compute/fog/gossip"
	"github.com/fog-compute/fog/internal/clock"
	"github.com/fog-compute/fog/internal/events"
	"github.com/fog-compute/fog/mix/lottery"
	"github.com/fog-compute/fog/mix/lottery/lotterysvc"
	"github.com/fog-compute/fog/mix/mixnet/mixsvc"
	"github.com/fog-compute/fog/p2p"
	"github.com/fog-compute/fog/store"
	"github.com/fog-compute/fog/token/ledgersvc"
)

// Options are what Start needs besides Config: where the node lives and the
// knobs that embedders (devnet, simulator, tests) set but config.toml does
// not.
type Options struct {
	// Dir is the data directory with the identity key, the API token and
	// the Badger store. Required unless Identity is set and InMemory is on.
	Dir DataDir
	// Logger receives the node's logs; nil logs to stderr as cfg.Log says.
	Logger *slog.Logger
	// Supervisor tunes restarts and health checks; the zero value means
	// DefaultSupervisorConfig. Its Clock is replaced by the node's.
	Supervisor SupervisorConfig
	// Clock is the node's one clock, which Start gives to every component
	// that reads the time (store, host, DHT, gossip, relay lottery,
	// supervisor, module store, compute and its queues, the API's ages
	// and deadlines); nil means clock.Real(). Start is the only place that
	// picks the real clock.
	Clock clock.Clock
	// P2P supplies the host timers config.toml does not carry (dial
	// timeout, bootstrap backoff); nil means p2p.DefaultConfig.
	P2P *p2p.Config
	// DHT supplies the DHT timers config.toml does not carry; nil means
	// dht.DefaultConfig.
	DHT *dht.Config
	// Gossip supplies the gossip timers and scoring parameters config.toml
	// does not carry; nil means gossip.DefaultConfig.
	Gossip *gossip.Config
	// Compute supplies the compute limits and timers config.toml does not
	// carry; nil means compute.DefaultConfig (compute.TestConfig for a store
	// in memory, whose values are smaller).
	Compute *compute.Config
	// Seed makes placement's random draws reproducible (simulator); 0
	// draws one.
	Seed uint64
	// Relay, when set, is the lottery service's whole configuration and
	// the [relay] section is not used (the simulator gives every node the
	// same genesis and candidate set).
	Relay *lottery.ServiceConfig
	// Chat supplies the chat's timers and limits config.toml does not
	// carry (the [chat] section still applies on top); nil means
	// chatsvc.DefaultConfig. Devnets and the simulator give short ones
	// (channel.TestConfig's), matching their short gossip timers.
	Chat *chatsvc.Config
	// Ledger supplies the ledger's timers config.toml does not carry
	// (the [token] section still applies on top); nil means
	// ledgersvc.DefaultConfig. Devnets and tests give
	// ledgersvc.TestConfig's, which fit gossip.TestConfig's SeenTTL.
	Ledger *ledgersvc.Config
	// Mix, when set, is the mix service's whole configuration and the
	// [mix] section is not used (the simulator's scale and baselines).
	Mix *mixsvc.Config
	// MixObserve, when set, sees every mix frame on this node's links
	// (mixsvc.Options.Observe): the simulator's global passive observer.
	MixObserve func(mixsvc.Observation)
	// InMemory keeps the store in memory (simulator); nothing survives Close.
	InMemory bool
	// Store is a store the caller opened and owns (the simulator keeps a
	// crashed node's in-memory store to restart it from). The node uses it
	// instead of opening one and does not close it.
	Store *store.DB
	// NewHost builds the libp2p host instead of p2p.New (the simulator puts
	// hosts on libp2p's mocknet). The node wraps it with p2p.Attach.
	NewHost func(priv crypto.PrivKey) (host.Host, error)
	// Identity overrides the key file in Dir.
	Identity crypto.PrivKey
	// NoAPI skips the JSON-RPC listener (the simulator runs hundreds of
	// nodes that nobody calls over HTTP).
	NoAPI bool
}

// Node is a running fog node. Its methods are safe for concurrent use.
type Node struct {
	cfg     Config
	dir     DataDir
	log     *slog.Logger
	clk     clock.Clock // Options.Clock, the one every component gets
	started time.Time

	store   *store.DB
	host    *p2p.Host
	dht     *dht.DHT
	gossip  *gossip.Gossip
	lottery *lotterysvc.Service
	mix     *mixsvc.Service  // nil when [mix] is off
	chat    *chatsvc.Service // nil when [chat] is off
	mailbox *mailbox.Service
	exec    *wasm.Executor
	blob    *blob.Service
	compute *compute.Service
	files   *files.Service // nil when [files] is off
	api     *API
	events  *events.Bus // the live event stream (GET /events)
	// shutdown is fired by node.shutdown (ShutdownRequested).
	shutdown *shutdownSignal
	// taskTime observes how long this node's tasks took, submission to
	// end, as the event source sees them end.
	taskTime *prometheus.HistogramVec
	reg      *prometheus.Registry
	sup      *supervisor

	// ledger is nil without a genesis (token.genesis) or with
	// token.enabled off.
	ledger *ledgersvc.Service
	dao    *ledgersvc.DAO // with ledger
	// wallet holds the wallet's account keys other than the identity
	// (wallet.create, wallet.import); with ledger.
	wallet *walletKeys
	// stakeOracle weighs the relay lottery by the ledger's stake (with ledger,
	// unless relay.candidates fixes the candidates); nil otherwise.
	stakeOracle *ledgerStake

	// closers release what the start steps acquired, in the order they
	// acquired it; Close runs them backwards after stopping the supervisor.
	closers   []func() error
	closeOnce sync.Once
	closeErr  error
}

// storeConfig is the configuration of the node's store.
func storeConfig(cfg Config, dir DataDir, inMemory bool, log *slog.Logger, clk clock.Clock) store.Config {
	scfg := store.DefaultConfig(dir.Store())
	if inMemory {
		scfg = store.InMemoryConfig()
	}
	scfg.SyncWrites = cfg.Store.SyncWrites
	scfg.Logger = log.With("subsystem", "store")
	scfg.Clock = clk
	return scfg
}

// RepairStore runs store.Repair on the store of the data directory, with
// the configuration Start opens it with (cfg's [store] section). The node
// must be stopped: a running node holds the store's lock, and RepairStore
// then fails with store.ErrLocked.
func RepairStore(ctx context.Context, dir DataDir, cfg Config, opts store.RepairOptions, log *slog.Logger) (*store.RepairReport, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return store.Repair(ctx, storeConfig(cfg, dir, false, log, clock.Real()), opts)
}

// Start opens the store, builds the host, starts the node's services in
// dependency order (the steps of starter.steps) and returns once the API (if
// any) serves. On the first error everything already opened is closed again,
// in reverse order, by Close.
func Start(ctx context.Context, cfg Config, opts Options) (*Node, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	log := opts.Logger
	if log == nil {
		log = NewLogger(os.Stderr, cfg.Log)
	}
	sc := opts.Supervisor
	if sc == (SupervisorConfig{}) {
		sc = DefaultSupervisorConfig()
	}
	sc.Clock = opts.clock()
	if err := sc.Validate(); err != nil {
		return nil, err
	}
	if opts.Dir == "" && (opts.Identity == nil || (!opts.InMemory && opts.Store == nil)) {
		return nil, fmt.Errorf("%w: no data directory", ErrConfig)
	}
	priv := opts.Identity
	if priv == nil {
		var err error
		if priv, err = p2p.LoadIdentity(opts.Dir.Identity()); err != nil {
			return nil, err
		}
	}
	clk := opts.clock()
	n := &Node{cfg: cfg, dir: opts.Dir, log: log, clk: clk, started: clk.Now(), shutdown: newShutdownSignal()}
	if cfg.API.Metrics {
		n.reg = prometheus.NewRegistry()
		n.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	ecfg := events.DefaultConfig()
	ecfg.Clock = clk
	bus, err := events.New(ecfg)
	if err != nil {
		return nil, fmt.Errorf("node: %w", err)
	}
	n.events = bus
	n.closers = append(n.closers, func() error { bus.Close(); return nil })
	s := &starter{n: n, cfg: cfg, opts: opts, sc: sc, priv: priv}
	s.wc, s.bc, s.cc = n.computeConfigs(cfg, opts)
	for _, step := range s.steps() {
		if err := step.run(ctx); err != nil {
			n.log.Debug("node start failed", "step", step.name, "err", err)
			n.Close()
			return nil, err
		}
	}
	log.Info("node started", "peer", n.host.ID(), "api", n.APIAddr())
	return n, nil
}

// NewLogger builds the slog logger cfg describes, writing to w.
func NewLogger(w io.Writer, cfg LogConfig) *slog.Logger {
	lvl, _ := Config{Log: cfg}.logLevel()
	o := &slog.HandlerOptions{Level: lvl}
	if cfg.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, o))
	}
	return slog.New(slog.NewTextHandler(w, o))
}

// Host returns the node's libp2p host.
func (n *Node) Host() *p2p.Host { return n.host }

// DHT returns the node's Kademlia DHT.
func (n *Node) DHT() *dht.DHT { return n.dht }

// Gossip returns the node's gossipsub router and capacity directory.
func (n *Node) Gossip() *gossip.Gossip { return n.gossip }

// Chat returns the node's chat service, nil if chat.enabled is off.
func (n *Node) Chat() *chatsvc.Service { return n.chat }

// Mailbox returns the node's mailbox service, nil if chat.enabled is off.
func (n *Node) Mailbox() *mailbox.Service { return n.mailbox }

// Mix returns the node's mix service, nil if mix.enabled is off.
func (n *Node) Mix() *mixsvc.Service { return n.mix }

// Lottery returns the node's relay lottery service.
func (n *Node) Lottery() *lotterysvc.Service { return n.lottery }

// Compute returns the node's task service.
func (n *Node) Compute() *compute.Service { return n.compute }

// Store returns the node's Badger store.
func (n *Node) Store() *store.DB { return n.store }

// API returns the JSON-RPC server, or nil with Options.NoAPI.
func (n *Node) API() *API { return n.api }

// APIAddr returns the address the API listens on, or "" without one.
func (n *Node) APIAddr() string {
	if n.api == nil {
		return ""
	}
	if a := n.api.Addr(); a != nil {
		return a.String()
	}
	return ""
}

// Dir returns the node's data directory ("" in memory).
func (n *Node) Dir() DataDir { return n.dir }

// Services returns every service's status in start order.
func (n *Node) Services() []ServiceStatus { return n.sup.statuses() }

// writeAddr records where the API listens, for clients of this data dir.
func (n *Node) writeAddr(a net.Addr) {
	if n.dir == "" {
		return
	}
	if err := writeFileSync(n.dir.Addr(), []byte(a.String()+"\n"), 0o600); err != nil {
		n.log.Warn("cannot record the API address", "err", err)
	}
}

func (n *Node) storeHealth(ctx context.Context) error {
	return n.store.Badger().View(func(*badger.Txn) error { return nil })
}

func (n *Node) hostHealth(context.Context) error {
	if len(n.host.Network().ListenAddresses()) == 0 {
		return errors.New("not listening on any address")
	}
	return nil
}

func (n *Node) bootstrapHealth(context.Context) error {
	peers := n.host.Bootstrap.Peers()
	if len(peers) == 0 {
		return nil
	}
	for _, p := range peers {
		if p.Connected {
			return nil
		}
	}
	return fmt.Errorf("none of %d bootstrap peers is connected", len(peers))
}

// registerer is where the node's metrics go: nil when they are off
// ([api] metrics = false).
func (n *Node) registerer() prometheus.Registerer {
	if n.reg == nil {
		return nil
	}
	return n.reg
}

// register adds collectors to the node's metrics, if they are on.
func (n *Node) register(cs ...prometheus.Collector) error {
	if n.reg == nil {
		return nil
	}
	for _, c := range cs {
		if err := n.reg.Register(c); err != nil {
			return fmt.Errorf("node: metrics: %w", err)
		}
	}
	return nil
}

// metrics returns fog's own node-level collectors.
func (n *Node) metrics() []prometheus.Collector {
	return []prometheus.Collector{
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: "fog", Name: "peers", Help: "Peers this node is connected to.",
		}, func() float64 { return float64(len(n.host.Network().Peers())) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: "fog", Name: "uptime_seconds", Help: "Seconds since the node started.",
		}, func() float64 { return clock.Since(n.clk, n.started).Seconds() }),
		&restartCollector{sup: n.sup, desc: prometheus.NewDesc("fog_service_restarts_total",
			"Restarts of each service after a failure.", []string{"service"}, nil)},
	}
}

type restartCollector struct {
	sup  *supervisor
	desc *prometheus.Desc
}

func (c *restartCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *restartCollector) Collect(ch chan<- prometheus.Metric) {
	for _, s := range c.sup.statuses() {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.CounterValue, float64(s.Restarts), s.Name)
	}
}

// Close stops the supervised services, then releases what Start acquired in
// reverse order: the task service, module store and executor, gossip, the
// DHT, the host (closing every stream and connection), the store. It is
// idempotent and returns every error, joined.
func (n *Node) Close() error {
	n.closeOnce.Do(func() {
		var errs []error
		if n.sup != nil {
			n.sup.stop()
		}
		for i := len(n.closers) - 1; i >= 0; i-- {
			errs = append(errs, n.closers[i]())
		}
		if n.dir != "" && n.api != nil {
			if err := os.Remove(n.dir.Addr()); err != nil && !errors.Is(err, os.ErrNotExist) {
				errs = append(errs, err)
			}
		}
		n.closeErr = errors.Join(errs...)
		if n.closeErr == nil {
			n.log.Info("node stopped")
		}
	})
	return n.closeErr
}

// computeConfigs resolves the configurations of the executor, the module
// store and the task service.
func (n *Node) computeConfigs(cfg Config, opts Options) (wasm.Config, blob.Config, compute.Config) {
	inMemory := n.dir == "" || opts.InMemory || opts.Store != nil
	wc := wasm.DefaultConfig()
	bc := blob.DefaultConfig()
	cc := compute.DefaultConfig()
	if inMemory {
		wc, bc, cc = wasm.TestConfig(), blob.TestConfig(), compute.TestConfig()
		wc.CacheDir, bc.Dir = "", ""
	} else {
		wc.CacheDir = filepath.Join(string(n.dir), "wasm-cache")
		bc.Dir = filepath.Join(string(n.dir), "modules")
	}
	if opts.Compute != nil {
		cc = *opts.Compute
	}
	bc.MaxBytes = int64(cfg.Compute.ModuleCacheMiB) << 20
	cc.Offer, cc.Cores, cc.Price, cc.RequirePayment = cfg.Compute.Offer, cfg.Compute.cores(), cfg.Compute.Price, cfg.Compute.RequirePayment
	cc.ProviderWait = time.Duration(cfg.Compute.ProviderWait)
	// A node that refuses scratch tasks gives its executor no scratch
	// space either, so that none runs here by any path.
	cc.Scratch = cfg.Compute.Scratch
	wc.ScratchBytes = 0
	if cfg.Compute.Scratch {
		wc.ScratchBytes = int64(cfg.Compute.ScratchMiB) << 20
	}
	cc.Memory = cfg.Compute.memory()
	cc.Logger = n.log.With("subsystem", "compute")
	bc.Clock, cc.Clock = opts.clock(), opts.clock()
	return wc, bc, cc
}

// clock is Options.Clock, or the real clock if none is given: the one place
// a node picks the wall clock.
func (o Options) clock() clock.Clock {
	if o.Clock != nil {
		return o.Clock
	}
	return clock.Real()
}

// protocolLimits are the resource manager's limits on the inbound streams
// of the protocols the node serves. Fog's own handlers enforce their
// limits themselves (p2p.Limits) and refuse politely; the resource manager
// backs them at twice those, so that it resets streams only when the
// handlers' refusals pile up. The DHT and gossipsub handlers are libp2p's,
// with no limits of their own: a peer keeps one stream of each DHT (WAN and
// LAN) and one gossipsub stream to a node, so a few per peer and two per
// inbound connection in all leave room for reconnections.
func protocolLimits(pc p2p.Config, bc blob.Config, cc compute.Config) []p2p.ProtocolLimit {
	var out []p2p.ProtocolLimit
	for _, id := range wire.Protocol.IDs() {
		out = append(out, p2p.ProtocolLimit{ID: id, Streams: 2 * cc.MaxStreams, StreamsPerPeer: 2 * cc.MaxStreamsPerPeer})
	}
	for _, id := range blob.Protocol.IDs() {
		out = append(out, p2p.ProtocolLimit{ID: id, Streams: 2 * bc.MaxServeStreams, StreamsPerPeer: 2 * bc.MaxServeStreamsPerPeer})
	}
	for _, id := range []protocol.ID{dht.WANProtocol, dht.LANProtocol} {
		out = append(out, p2p.ProtocolLimit{ID: id, Streams: 2 * pc.MaxInboundConns, StreamsPerPeer: 8})
	}
	for _, id := range gossip.Protocols() {
		out = append(out, p2p.ProtocolLimit{ID: id, Streams: 2 * pc.MaxInboundConns, StreamsPerPeer: 4})
	}
	return out
}
