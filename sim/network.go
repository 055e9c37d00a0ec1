package sim

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	mocknet "github.com/libp2p/go-libp2p/p2p/net/mock"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/fog-compute/fog/chat/chatsvc"
	"github.com/fog-compute/fog/compute"
	"github.com/fog-compute/fog/dht"
	"github.com/fog-compute/fog/gossip"
	"github.com/fog-compute/fog/internal/clock"
	"github.com/fog-compute/fog/mix/lottery"
	"github.com/fog-compute/fog/mix/mixnet/mixsvc"
	"github.com/fog-compute/fog/node"
	"github.com/fog-compute/fog/p2p"
	"github.com/fog-compute/fog/store"
	"github.com/fog-compute/fog/token/ledgersvc"
)

// Errors of the simulated network.
var (
	// ErrLost is the error of a stream whose opening was lost on every
	// retry of a lossy link.
	ErrLost = errors.New("sim: request lost on a lossy link")
	// ErrDown means the node is not running.
	ErrDown = errors.New("sim: node is down")
	// ErrConfig is wrapped by every error Config.Validate and
	// Links.Validate return.
	ErrConfig = errors.New("sim: invalid config")
)

// Links describes the simulated links between every pair of nodes.
type Links struct {
	// LatencyMin and LatencyMax bound the one-way latency of a link, drawn
	// uniformly per pair of nodes from the seed. 20–120 ms spans a metro
	// link to an intercontinental one.
	LatencyMin, LatencyMax time.Duration
	// Bandwidth is each link's bandwidth in bytes per second; 0 is
	// unlimited.
	Bandwidth float64
	// Loss is the probability that one attempt to open a stream (a request)
	// on a link is lost. A lost attempt costs a retransmission timeout
	// (twice the round trip, at least 200 ms) and is retried; after three
	// lost attempts the stream fails with ErrLost, as a connection attempt
	// does after its SYN retries.
	Loss float64
}

// DefaultLinks are links of 20–120 ms, unlimited bandwidth, no loss.
func DefaultLinks() Links {
	return Links{LatencyMin: 20 * time.Millisecond, LatencyMax: 120 * time.Millisecond}
}

// Validate names the first bad field.
func (l Links) Validate() error {
	switch {
	case l.LatencyMin < 0 || l.LatencyMax < l.LatencyMin:
		return fmt.Errorf("%w: LatencyMin %s and LatencyMax %s are not a range", ErrConfig, l.LatencyMin, l.LatencyMax)
	case l.Bandwidth < 0:
		return fmt.Errorf("%w: Bandwidth %v is negative", ErrConfig, l.Bandwidth)
	case l.Loss < 0 || l.Loss >= 1:
		return fmt.Errorf("%w: Loss %v: want 0 <= Loss < 1", ErrConfig, l.Loss)
	}
	return nil
}

// Config describes a simulated network.
type Config struct {
	// Nodes is how many nodes the network has.
	Nodes int
	// Seed seeds every random choice of the simulation: keys, link
	// latencies, which node bootstraps to which, faults and workloads. Two
	// runs with one seed make the same choices; goroutine scheduling still
	// makes timings differ.
	Seed uint64
	// Links describes the links.
	Links Links
	// BootstrapPeers is how many earlier nodes each node bootstraps to
	// (chosen at random); 3 gives every node a few ways in without making
	// node 0 a hub.
	BootstrapPeers int
	// Node is the configuration of every node (Node.TestConfig by default).
	Node node.Config
	// DHT holds the DHT timers of every node.
	DHT dht.Config
	// P2P holds the host timers of every node.
	P2P p2p.Config
	// Gossip holds the gossip timers and scoring of every node.
	Gossip gossip.Config
	// Compute holds the compute limits and timers of every node.
	Compute compute.Config
	// Relay, when set, is every node's relay lottery configuration (the
	// same network, genesis and epochs for all), with Candidate set for the
	// first RelayCandidates nodes only. Nil: each node's [relay] config.
	Relay           *lottery.ServiceConfig
	RelayCandidates int
	// Mix, when set, is every node's mix service configuration; nil: each
	// node's [mix] config (off by default). MixObserve, when set, sees
	// every mix frame on every node's links.
	Mix        *mixsvc.Config
	MixObserve func(mixsvc.Observation)
	// Chat, when set, is every node's chat configuration
	// (node.Options.Chat); nil: chatsvc.DefaultConfig.
	Chat *chatsvc.Config
	// Ledger, when set, is every node's ledger timers
	// (node.Options.Ledger; the [token] section of Node still names the
	// genesis); nil: ledgersvc.DefaultConfig.
	Ledger *ledgersvc.Config
	// Supervisor holds the service supervisor's timers of every node.
	Supervisor node.SupervisorConfig
	// Store configures every node's in-memory store.
	Store store.Config
	// Logger receives every node's logs; nil discards them.
	Logger *slog.Logger
	// Clock is the clock of every node (node.Options.Clock), of the link
	// latencies and of the scenarios' schedules and measurements. The
	// simulator is a composition root: DefaultConfig picks clock.Real().
	// Inside a testing/synctest bubble that clock is virtual, and a
	// scenario's seconds cost no wall time.
	Clock clock.Clock
}

// DefaultConfig returns a network of n nodes with DefaultLinks.
func DefaultConfig(n int) Config {
	sup := node.TestSupervisorConfig()
	// Hundreds of nodes share two cores: check health every few seconds.
	sup.HealthInterval, sup.StableAfter = 5*time.Second, 10*time.Second
	d := dht.TestConfig()
	d.SnapshotInterval = 5 * time.Second
	// Simulated nodes model public ones, reachable by every other: their
	// WAN DHT serves, as it would once AutoNAT said so (the simulator runs
	// no AutoNAT). Their addresses lie in 127.0.0.0/8, though, which the
	// WAN DHT admits to neither its table nor its queries: every lookup
	// of the simulator runs in the LAN DHT, and the WAN DHT's filters
	// (public addresses, peer diversity) never act
	// (TestSimulatedNodesRouteOnTheLANDHT).
	d.Mode = dht.ModeServer
	nc := node.TestConfig()
	// Adverts every 10 s: with hundreds of nodes on two cores, validating
	// every node's advert each second would crowd out what is measured.
	nc.Gossip.AdvertInterval = node.Duration(10 * time.Second)
	// gossip's defaults, including a 1 s score snapshot: snapshotting every
	// 100 ms on hundreds of nodes contended for pubsub's score lock and
	// stalled every node's message loop.
	g := gossip.DefaultConfig()
	// A modest connection budget, as on a home machine: without it every
	// simulated node ends up connected to every other and lookups are moot.
	nc.P2P.ConnLow, nc.P2P.ConnHigh, nc.P2P.ConnGrace = 24, 48, node.Duration(20*time.Second)
	// No scenario shares files yet: Bitswap's goroutines on hundreds of
	// nodes would only add to what is measured.
	nc.Files.Enabled = false
	return Config{
		Nodes:          n,
		Seed:           1,
		Links:          DefaultLinks(),
		BootstrapPeers: 3,
		Node:           nc,
		DHT:            d,
		P2P:            p2p.TestConfig(),
		Gossip:         g,
		Compute:        simCompute(),
		Supervisor:     sup,
		Store:          simStore(),
		Clock:          clock.Real(),
	}
}

// simCompute is compute's test preset with inputs and outputs small enough
// for the simulator's small store values (see simStore).
func simCompute() compute.Config {
	c := compute.TestConfig()
	c.MaxStdinBytes, c.MaxArgsBytes = 16<<10, 8<<10
	c.DefaultLimits.OutputBytes = min(c.DefaultLimits.OutputBytes, 16<<10)
	c.MaxLimits.OutputBytes = 16 << 10
	return c
}

// simStore is the in-memory store of a simulated node: a 1 MiB memtable
// (Badger allocates each memtable's arena whole, so at 2 MiB it was two
// thirds of a node's heap); values up to about 150 KiB fit.
func simStore() store.Config {
	c := store.InMemoryConfig()
	c.MemTableSize = 1 << 20
	c.Logger = nil
	return c
}

// Validate names the first bad field.
func (c Config) Validate() error {
	if c.Nodes < 1 {
		return fmt.Errorf("%w: Nodes %d: want at least 1", ErrConfig, c.Nodes)
	}
	if c.Clock == nil {
		return fmt.Errorf("%w: Clock is nil", ErrConfig)
	}
	if err := c.Store.Validate(); err != nil {
		return err
	}
	if !c.Store.InMemory {
		return fmt.Errorf("%w: Store.InMemory must be set", ErrConfig)
	}
	if c.BootstrapPeers < 1 {
		return fmt.Errorf("%w: BootstrapPeers %d: want at least 1", ErrConfig, c.BootstrapPeers)
	}
	if err := c.Links.Validate(); err != nil {
		return fmt.Errorf("%w: Links.%s", ErrConfig, strings.TrimPrefix(err.Error(), ErrConfig.Error()+": "))
	}
	return c.Node.Validate()
}

// Node is one simulated node: its identity and store outlive restarts.
type Node struct {
	// Index is the node's position in the network.
	Index int
	// ID is the node's peer ID.
	ID peer.ID

	key   crypto.PrivKey
	boot  []int
	group int

	// mu serialises Start, Stop and Crash, which hold it for as long as a
	// node takes to boot or to shut down; running is read without it, so
	// that a scenario picking nodes or reading their state never waits on
	// a churning node's transition.
	mu      sync.Mutex
	store   *store.DB // the "disk": survives crashes and restarts
	node    *node.Node
	running atomic.Pointer[node.Node]
}

// Running returns the node while it runs, nil while it is down, starting
// or going down. It does not wait for a Start, Stop or Crash in progress.
func (n *Node) Running() *node.Node {
	return n.running.Load()
}

// Network is an in-process network of real fog nodes on libp2p's mocknet.
// Its methods are safe for concurrent use.
type Network struct {
	cfg   Config
	mn    mocknet.Mocknet
	nodes []*Node
	log   *slog.Logger
	stuck atomic.Int64 // closes left behind (closeNode)

	index map[peer.ID]int // immutable after New

	mu          sync.Mutex // guards links, groups, present and partitioned
	partitioned bool
	present     []bool     // the node's host is on the mocknet and linked
	rng         *rand.Rand // guarded by rngMu
	rngMu       sync.Mutex
}

// New creates a network of cfg.Nodes nodes; none runs until Start.
func New(cfg Config) (*Network, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	nw := &Network{cfg: cfg, mn: mocknet.New(), log: log, rng: rand.New(rand.NewPCG(cfg.Seed, 0x5eed)),
		index: make(map[peer.ID]int, cfg.Nodes), present: make([]bool, cfg.Nodes)}
	for i := range cfg.Nodes {
		// Ed25519 keys from the seed: the same seed gives the same peer IDs.
		seed := make([]byte, 32)
		for j := range seed {
			seed[j] = byte(nw.rng.Uint32())
		}
		key, _, err := crypto.GenerateEd25519Key(&seedReader{b: seed})
		if err != nil {
			return nil, fmt.Errorf("sim: key: %w", err)
		}
		id, err := peer.IDFromPrivateKey(key)
		if err != nil {
			return nil, err
		}
		n := &Node{Index: i, ID: id, key: key}
		if i > 0 {
			perm := nw.rng.Perm(i)
			n.boot = perm[:min(cfg.BootstrapPeers, i)]
		}
		nw.nodes = append(nw.nodes, n)
		nw.index[id] = i
	}
	return nw, nil
}

// seedReader yields its bytes then zeros: a deterministic source for key
// generation.
type seedReader struct{ b []byte }

func (r *seedReader) Read(p []byte) (int, error) {
	n := copy(p, r.b)
	r.b = r.b[n:]
	for i := n; i < len(p); i++ {
		p[i] = 0
	}
	return len(p), nil
}

// Nodes returns the network's nodes.
func (nw *Network) Nodes() []*Node { return nw.nodes }

// Node returns node i.
func (nw *Network) Node(i int) *Node { return nw.nodes[i] }

// Rand runs f with the network's seeded random source.
func (nw *Network) Rand(f func(r *rand.Rand)) {
	nw.rngMu.Lock()
	defer nw.rngMu.Unlock()
	f(nw.rng)
}

// addr is a node's address on the mocknet (never used by the OS).
func addr(i int) ma.Multiaddr {
	return ma.StringCast(fmt.Sprintf("/ip4/127.%d.%d.%d/tcp/4001", 1+i/65025, (i/255)%255, i%255+1))
}

// latency is the one-way latency of the link between nodes i and j: uniform
// in [LatencyMin, LatencyMax], fixed by the seed and the pair.
func (nw *Network) latency(i, j int) time.Duration {
	if i > j {
		i, j = j, i
	}
	h := fnv.New64a()
	fmt.Fprintf(h, "%d/%d/%d", nw.cfg.Seed, i, j)
	span := nw.cfg.Links.LatencyMax - nw.cfg.Links.LatencyMin
	if span <= 0 {
		return nw.cfg.Links.LatencyMin
	}
	return nw.cfg.Links.LatencyMin + time.Duration(h.Sum64()%uint64(span+1))
}

// Latency returns the one-way latency between nodes i and j.
func (nw *Network) Latency(i, j int) time.Duration { return nw.latency(i, j) }

// Start starts node i (from its store, if it ran before). Node i
// bootstraps to the nodes chosen for it when the network was made.
func (nw *Network) Start(ctx context.Context, i int) error {
	n := nw.nodes[i]
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.node != nil {
		return nil
	}
	if n.store == nil {
		db, err := store.Open(nw.cfg.Store)
		if err != nil {
			return fmt.Errorf("sim: node %d store: %w", i, err)
		}
		n.store = db
	}
	cfg := nw.cfg.Node
	cfg.P2P.Bootstrap = nil
	for _, b := range n.boot {
		cfg.P2P.Bootstrap = append(cfg.P2P.Bootstrap, fmt.Sprintf("%s/p2p/%s", addr(b), nw.nodes[b].ID))
	}
	p2pc, dhtc, gc, cc := nw.cfg.P2P, nw.cfg.DHT, nw.cfg.Gossip, nw.cfg.Compute
	var relay *lottery.ServiceConfig
	if nw.cfg.Relay != nil {
		rc := *nw.cfg.Relay
		rc.Candidate = i < nw.cfg.RelayCandidates
		relay = &rc
	}
	nd, err := node.Start(ctx, cfg, node.Options{
		Relay:      relay,
		Mix:        nw.cfg.Mix,
		MixObserve: nw.cfg.MixObserve,
		Chat:       nw.cfg.Chat,
		Ledger:     nw.cfg.Ledger,
		Identity:   n.key,
		Store:      n.store,
		NoAPI:      true,
		P2P:        &p2pc,
		DHT:        &dhtc,
		Gossip:     &gc,
		Compute:    &cc,
		Seed:       nw.cfg.Seed + uint64(i),
		Supervisor: nw.cfg.Supervisor,
		Logger:     nw.log.With("node", i),
		Clock:      nw.cfg.Clock,
		NewHost: func(priv crypto.PrivKey) (host.Host, error) {
			h, err := nw.mn.AddPeer(priv, addr(i))
			if err != nil {
				return nil, err
			}
			nw.linkNode(i)
			return &simHost{Host: h, nw: nw, idx: i}, nil
		},
	})
	if err != nil {
		return fmt.Errorf("sim: start node %d: %w", i, err)
	}
	n.node = nd
	n.running.Store(nd)
	return nil
}

// linkNode links node i to every node present on the mocknet (in its group
// while the network is partitioned).
func (nw *Network) linkNode(i int) {
	nw.mu.Lock()
	defer nw.mu.Unlock()
	me := nw.nodes[i]
	nw.present[i] = true
	for j, o := range nw.nodes {
		if j == i || !nw.present[j] {
			continue
		}
		if nw.partitioned && o.group != me.group {
			continue
		}
		nw.link(i, j)
	}
}

// link creates the link between i and j with its latency; nw.mu held.
func (nw *Network) link(i, j int) {
	a, b := nw.nodes[i].ID, nw.nodes[j].ID
	if len(nw.mn.LinksBetweenPeers(a, b)) > 0 {
		return
	}
	l, err := nw.mn.LinkPeers(a, b)
	if err != nil {
		return
	}
	// The latency is the streams' own (see laggedStream), not mocknet's.
	l.SetOptions(mocknet.LinkOptions{Bandwidth: nw.cfg.Links.Bandwidth})
}

// unlinkNode removes every link of node i; nw.mu held.
func (nw *Network) unlinkNode(i int) {
	nw.present[i] = false
	for j := range nw.nodes {
		if j != i {
			for _, l := range nw.mn.LinksBetweenPeers(nw.nodes[i].ID, nw.nodes[j].ID) {
				_ = nw.mn.Unlink(l)
			}
		}
	}
}

// AddHost adds a bare host that is not a fog node — an attacker, say — to
// the network, linked to every running node. Its links get the latency of a
// node at index i.
func (nw *Network) AddHost(key crypto.PrivKey, i int) (host.Host, error) {
	h, err := nw.mn.AddPeer(key, addr(i))
	if err != nil {
		return nil, fmt.Errorf("sim: add host: %w", err)
	}
	nw.mu.Lock()
	defer nw.mu.Unlock()
	for j, o := range nw.nodes {
		if !nw.present[j] {
			continue
		}
		l, err := nw.mn.LinkPeers(h.ID(), o.ID)
		if err != nil {
			return nil, err
		}
		l.SetOptions(mocknet.LinkOptions{Latency: nw.latency(i, j), Bandwidth: nw.cfg.Links.Bandwidth})
	}
	return h, nil
}

// Stop stops node i gracefully: its services save their state and its
// connections close, as when a person stops fog.
func (nw *Network) Stop(i int) error {
	n := nw.nodes[i]
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.node == nil {
		return nil
	}
	n.running.Store(nil)
	// Unlink first: a peer that dialled the node while it was closing
	// would keep a connection to a host whose handlers still answer.
	nw.mu.Lock()
	nw.unlinkNode(i)
	nw.mu.Unlock()
	ok, err := nw.closeNode(i, n.node)
	n.node = nil
	if !ok {
		// The node left behind still holds its store: a restart gets a
		// copy of it, as after a crash.
		disk, serr := n.store.Snapshot(nw.cfg.Store)
		if serr != nil {
			return fmt.Errorf("sim: stop node %d: %w", i, serr)
		}
		n.store = disk
		return fmt.Errorf("%w: node %d", ErrCloseStuck, i)
	}
	return err
}

// ErrCloseStuck is returned by Stop and Crash when the node's Close had
// not returned closeTimeout after it was called: the node is left behind,
// cut off from the network, and counts as down.
var ErrCloseStuck = errors.New("sim: a node's close did not return")

// closeTimeout bounds a node's Close in Stop and Crash, on the network's
// clock. mocknet now and then leaves a stream for good half open: one
// opened on a connection being torn down gets a remote end that no
// handler ever reads, and its writer's Close then waits for ever; a
// closing node's identify pushes to its peers are such streams, and the
// host's Close waits for them. A node's Close takes seconds otherwise.
const closeTimeout = time.Minute

// closeNode closes node i's nd within closeTimeout; it returns false if
// Close had not returned by then (it is left to itself).
func (nw *Network) closeNode(i int, nd *node.Node) (bool, error) {
	done := make(chan error, 1)
	go func() { done <- nd.Close() }()
	t := nw.cfg.Clock.NewTimer(closeTimeout)
	defer t.Stop()
	select {
	case err := <-done:
		return true, err
	case <-t.C():
		nw.stuck.Add(1)
		nw.log.Warn("a node's close did not return: left behind, cut off", "node", i, "after", closeTimeout)
		return false, nil
	}
}

// StuckCloses returns how many times a node's Close did not return within
// its bound (ErrCloseStuck).
func (nw *Network) StuckCloses() int { return int(nw.stuck.Load()) }

// Crash drops node i as a power cut would: what its store held at the
// instant of the crash survives (the simulator copies it), nothing the node
// would have written while shutting down does, and its peers see its
// connections vanish.
func (nw *Network) Crash(i int) error {
	n := nw.nodes[i]
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.node == nil {
		return nil
	}
	n.running.Store(nil)
	// Cut the node off first, so it can neither be reached nor tell anyone.
	nw.mu.Lock()
	nw.unlinkNode(i)
	nw.mu.Unlock()
	nd := n.node
	for _, c := range nd.Host().Network().Conns() {
		_ = c.Close()
	}
	disk, err := n.store.Snapshot(nw.cfg.Store)
	if err != nil {
		return fmt.Errorf("sim: crash node %d: %w", i, err)
	}
	// Writes made now go to the old store, which is dropped.
	ok, _ := nw.closeNode(i, nd)
	n.node = nil
	old := n.store
	n.store = disk
	if !ok {
		return fmt.Errorf("%w: node %d (crashed)", ErrCloseStuck, i) // the node left behind keeps the old store
	}
	return old.Close()
}

// busy returns the nodes on which a Start, Stop or Crash is under way.
func (nw *Network) busy() []int {
	var out []int
	for i, n := range nw.nodes {
		if !n.mu.TryLock() {
			out = append(out, i)
			continue
		}
		n.mu.Unlock()
	}
	return out
}

// Partition splits the network: node i goes to group groupOf(i), links and
// connections between groups are cut until Heal.
func (nw *Network) Partition(groupOf func(i int) int) {
	nw.mu.Lock()
	nw.partitioned = true
	for i, n := range nw.nodes {
		n.group = groupOf(i)
	}
	for i := range nw.nodes {
		for j := i + 1; j < len(nw.nodes); j++ {
			if nw.nodes[i].group != nw.nodes[j].group {
				for _, l := range nw.mn.LinksBetweenPeers(nw.nodes[i].ID, nw.nodes[j].ID) {
					_ = nw.mn.Unlink(l)
				}
			}
		}
	}
	nw.mu.Unlock()
	groups := make([]int, len(nw.nodes))
	nw.mu.Lock()
	for i, n := range nw.nodes {
		groups[i] = n.group
	}
	nw.mu.Unlock()
	// The connections close side by side: each close resets the
	// connection's streams one after the other and waits for each
	// stream's goroutine, which on a loaded machine waits its turn behind
	// every runnable goroutine of every node; one after the other, the
	// 2,500 connections between the halves of 100 nodes took minutes.
	var cut []network.Conn
	for i, n := range nw.nodes {
		nd := n.Running()
		if nd == nil {
			continue
		}
		for _, c := range nd.Host().Network().Conns() {
			if j := nw.indexOf(c.RemotePeer()); j >= 0 && groups[j] != groups[i] {
				cut = append(cut, c)
			}
		}
	}
	var wg sync.WaitGroup
	sem := make(chan struct{}, 32)
	for _, c := range cut {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			_ = c.Close()
		})
	}
	wg.Wait()
}

// Heal relinks every pair of running nodes.
func (nw *Network) Heal() {
	nw.mu.Lock()
	defer nw.mu.Unlock()
	nw.partitioned = false
	for i := range nw.nodes {
		if !nw.present[i] {
			continue
		}
		for j := i + 1; j < len(nw.nodes); j++ {
			if nw.present[j] {
				nw.link(i, j)
			}
		}
	}
}

// Group returns node i's group in the last partition.
func (nw *Network) Group(i int) int {
	nw.mu.Lock()
	defer nw.mu.Unlock()
	return nw.nodes[i].group
}

// indexOf returns the index of the node with id, or -1.
func (nw *Network) indexOf(id peer.ID) int {
	if i, ok := nw.index[id]; ok {
		return i
	}
	return -1
}

// Close stops every node and the mocknet. The nodes stop all at once: a
// node's close can wait its whole closeTimeout on a mocknet stream no one
// reads, and in batches those waits added up (a 100-node ledger run spent
// over ten minutes closing after its figures were in).
func (nw *Network) Close() error {
	var errs []error
	var wg sync.WaitGroup
	var mu sync.Mutex
	for i := range nw.nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := nw.Stop(i)
			n := nw.nodes[i]
			n.mu.Lock()
			if n.store != nil {
				err = errors.Join(err, n.store.Close())
				n.store = nil
			}
			n.mu.Unlock()
			if err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	errs = append(errs, nw.mn.Close())
	return errors.Join(errs...)
}

// simHost is a mocknet host whose streams to other nodes have the link's
// latency (laggedStream) and whose outgoing streams suffer the link's loss.
type simHost struct {
	host.Host
	nw  *Network
	idx int
}

// lag gives s the latency of the link to its remote node; a stream to a
// host that is not a node (AddHost) has mocknet's latency instead.
func (h *simHost) lag(s network.Stream) network.Stream {
	j := h.nw.indexOf(s.Conn().RemotePeer())
	if j < 0 {
		return s
	}
	return lag(s, h.nw.latency(h.idx, j), h.nw.cfg.Clock)
}

// orphaned resets s and reports true if its connection is already closed.
//
// mocknet opens a stream on a connection without checking that it is open:
// a stream opened while the connection is torn down (a node stops or
// crashes) is missed by the teardown, so nothing ever resets it, and a
// write to it blocks for good once the other end stops reading. A stream
// is added to its connection before it is handed out, and a closing
// connection is marked closed before the teardown lists its streams: so a
// stream whose connection is not marked closed here will be reset by the
// teardown, and one whose connection is marked closed is reset here.
func orphaned(s network.Stream) bool {
	if !s.Conn().IsClosed() {
		return false
	}
	_ = s.Reset()
	return true
}

// handle wraps handler to see lagged streams, and none that are orphaned.
func (h *simHost) handle(handler network.StreamHandler) network.StreamHandler {
	return func(s network.Stream) {
		if !orphaned(s) {
			handler(h.lag(s))
		}
	}
}

// SetStreamHandler sets a handler that sees lagged streams.
func (h *simHost) SetStreamHandler(pid protocol.ID, handler network.StreamHandler) {
	h.Host.SetStreamHandler(pid, h.handle(handler))
}

// SetStreamHandlerMatch sets a handler that sees lagged streams.
func (h *simHost) SetStreamHandlerMatch(pid protocol.ID, match func(protocol.ID) bool, handler network.StreamHandler) {
	h.Host.SetStreamHandlerMatch(pid, match, h.handle(handler))
}

// NewStream opens a stream, losing attempts with the link's loss
// probability: each lost attempt costs a retransmission timeout.
func (h *simHost) NewStream(ctx context.Context, p peer.ID, pids ...protocol.ID) (network.Stream, error) {
	return h.open(ctx, p, func() (network.Stream, error) { return h.Host.NewStream(ctx, p, pids...) })
}

// Network returns the host's network, whose NewStream opens streams as the
// host's does (lagged, lossy): p2p.Protocol.OpenAccepted opens its streams
// there, to negotiate them before it returns.
func (h *simHost) Network() network.Network { return simNetwork{Network: h.Host.Network(), h: h} }

// simNetwork is a simHost's network.
type simNetwork struct {
	network.Network
	h *simHost
}

// NewStream opens a stream on an open connection to p, as simHost.NewStream.
func (n simNetwork) NewStream(ctx context.Context, p peer.ID) (network.Stream, error) {
	return n.h.open(ctx, p, func() (network.Stream, error) { return n.Network.NewStream(ctx, p) })
}

// open opens a stream to p with newStream after the link's losses, and
// gives it the link's latency.
func (h *simHost) open(ctx context.Context, p peer.ID, newStream func() (network.Stream, error)) (network.Stream, error) {
	loss := h.nw.cfg.Links.Loss
	if loss > 0 {
		j := h.nw.indexOf(p)
		rto := time.Duration(0)
		if j >= 0 {
			rto = max(200*time.Millisecond, 4*h.nw.latency(h.idx, j))
		}
		for attempt := 0; ; attempt++ {
			var lost bool
			h.nw.Rand(func(r *rand.Rand) { lost = r.Float64() < loss })
			if !lost {
				break
			}
			if attempt == 2 {
				return nil, fmt.Errorf("%w: %s to %s", ErrLost, h.ID(), p)
			}
			if err := sleepCtx(ctx, h.nw.cfg.Clock, rto); err != nil {
				return nil, err
			}
		}
	}
	s, err := newStream()
	if err != nil {
		return nil, err
	}
	if orphaned(s) {
		return nil, fmt.Errorf("sim: stream to %s: %w", p, network.ErrReset)
	}
	return h.lag(s), nil
}

// slowed checks that cfg has a clock and, for a slowdown above 1, slows it
// in cfg (clock.Slowed) for the whole scenario; it returns the clock and
// the slowdown applied (at least 1).
func slowed(cfg *Config, slowdown float64) (clock.Clock, float64, error) {
	if cfg.Clock == nil {
		return nil, 0, fmt.Errorf("%w: Network.Clock is nil", ErrConfig)
	}
	slow := max(slowdown, 1)
	if slow > 1 {
		cfg.Clock = clock.Slowed(cfg.Clock, slow)
	}
	return cfg.Clock, slow, nil
}
