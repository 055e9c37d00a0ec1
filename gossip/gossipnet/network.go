package gossipnet

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"net"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	mocknet "github.com/libp2p/go-libp2p/p2p/net/mock"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/fog-compute/fog/gossip"
	"github.com/fog-compute/fog/internal/clock"
)

// NetworkConfig describes an in-process network of gossip nodes.
type NetworkConfig struct {
	// Nodes is the number of honest gossip nodes.
	Nodes int
	// Degree is how many random other nodes each node dials, besides its
	// successor on a ring that keeps the graph connected. 0 means 4.
	Degree int
	// MinLatency and MaxLatency bound the one-way latency of each link,
	// drawn uniformly per link.
	MinLatency, MaxLatency time.Duration
	// Seed makes the topology and latencies reproducible.
	Seed uint64
	// Config is every node's gossip configuration; the zero value means
	// gossip.TestConfig().
	Config gossip.Config
	// Version is put into the nodes' adverts.
	Version string
	// Clock is every node's clock and paces WaitReady; nil means
	// clock.Real().
	Clock clock.Clock
}

// Network is an in-process network on libp2p's mocknet: real hosts, real
// gossipsub, links with latency. It is safe for concurrent use.
type Network struct {
	// Mocknet is the underlying mock network.
	Mocknet mocknet.Mocknet
	// Hosts, Keys and Nodes hold the honest nodes, index by index.
	Hosts []host.Host
	Keys  []crypto.PrivKey
	Nodes []*gossip.Gossip

	cfg NetworkConfig

	mu   sync.Mutex
	rng  *mrand.Rand
	next int // host address counter
	once sync.Once
	err  error
	cut  map[[2]peer.ID][]network.Conn // connections Cut closed, per pair
}

// NewNetwork builds the network, connects it and starts gossip on every
// node. It does not wait for the meshes to form (WaitReady does).
func NewNetwork(ctx context.Context, cfg NetworkConfig) (_ *Network, err error) {
	if cfg.Nodes < 1 {
		return nil, errors.New("gossipnet: network needs at least one node")
	}
	if cfg.MaxLatency < cfg.MinLatency || cfg.MinLatency < 0 {
		return nil, fmt.Errorf("gossipnet: latency range [%s, %s] is empty", cfg.MinLatency, cfg.MaxLatency)
	}
	if cfg.Degree <= 0 {
		cfg.Degree = 4
	}
	if cfg.Config.Heartbeat == 0 {
		cfg.Config = gossip.TestConfig()
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.Real()
	}
	n := &Network{Mocknet: mocknet.New(), cfg: cfg, rng: mrand.New(mrand.NewPCG(cfg.Seed, cfg.Seed^0x9e3779b97f4a7c15))}
	defer func() {
		if err != nil {
			_ = n.Close()
		}
	}()
	for range cfg.Nodes {
		h, k, err := n.AddHost()
		if err != nil {
			return nil, err
		}
		n.Hosts, n.Keys = append(n.Hosts, h), append(n.Keys, k)
	}
	for i, h := range n.Hosts {
		g, err := gossip.New(ctx, h, cfg.Config, gossip.Options{
			Latency: h.Peerstore().LatencyEWMA,
			Version: cfg.Version,
			Clock:   cfg.Clock,
		})
		if err != nil {
			return nil, fmt.Errorf("gossipnet: node %d: %w", i, err)
		}
		n.Nodes = append(n.Nodes, g)
	}
	// A ring keeps the graph connected; Degree-1 random dials per node
	// add shortcuts. Dials run in parallel: each costs a few link
	// round trips.
	N := len(n.Hosts)
	var pairs [][2]int
	for i := range N {
		if N > 1 {
			pairs = append(pairs, [2]int{i, (i + 1) % N})
		}
		for range min(cfg.Degree-1, N-2) {
			if j := n.intn(N); j != i {
				pairs = append(pairs, [2]int{i, j})
			}
		}
	}
	errs := make(chan error, len(pairs))
	var wg sync.WaitGroup
	for _, p := range pairs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- n.Connect(ctx, n.Hosts[p[0]], n.Hosts[p[1]])
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return n, nil
}

func (n *Network) intn(k int) int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.rng.IntN(k)
}

func (n *Network) latency() time.Duration {
	n.mu.Lock()
	defer n.mu.Unlock()
	span := n.cfg.MaxLatency - n.cfg.MinLatency
	if span <= 0 {
		return n.cfg.MinLatency
	}
	return n.cfg.MinLatency + time.Duration(n.rng.Int64N(int64(span)+1))
}

// AddHost adds a host with a fresh Ed25519 identity and its own IP address
// to the mock network, linked to every other host with a random latency.
// The simulator and tests make attackers from such hosts.
func (n *Network) AddHost() (host.Host, crypto.PrivKey, error) {
	k, _, err := crypto.GenerateEd25519Key(rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("gossipnet: key: %w", err)
	}
	n.mu.Lock()
	n.next++
	i := n.next
	n.mu.Unlock()
	// Every host gets its own IPv4 address in 198.18.0.0/15 (RFC 2544's
	// benchmarking range), so peer scoring's IP-colocation penalty sees
	// distinct machines. (Mocknet's own GenPeer puts all hosts into one
	// IPv6 /64, which that penalty counts as one address.)
	if i >= 1<<17 {
		return nil, nil, errors.New("gossipnet: out of host addresses")
	}
	ip := net.IPv4(198, 18+byte(i>>16), byte(i>>8), byte(i))
	addr, err := ma.NewMultiaddr(fmt.Sprintf("/ip4/%s/tcp/4242", ip))
	if err != nil {
		return nil, nil, fmt.Errorf("gossipnet: address: %w", err)
	}
	h, err := n.Mocknet.AddPeer(k, addr)
	if err != nil {
		return nil, nil, fmt.Errorf("gossipnet: add host: %w", err)
	}
	for _, other := range n.Mocknet.Peers() {
		if other == h.ID() {
			continue
		}
		l, err := n.Mocknet.LinkPeers(h.ID(), other)
		if err != nil {
			return nil, nil, fmt.Errorf("gossipnet: link: %w", err)
		}
		l.SetOptions(mocknet.LinkOptions{Latency: n.latency()})
	}
	return h, k, nil
}

// Connect connects a to b (a dials).
func (n *Network) Connect(ctx context.Context, a, b host.Host) error {
	if a.Network().Connectedness(b.ID()) == network.Connected {
		return nil
	}
	if err := a.Connect(ctx, peer.AddrInfo{ID: b.ID(), Addrs: b.Addrs()}); err != nil {
		return fmt.Errorf("gossipnet: connect %s to %s: %w", a.ID(), b.ID(), err)
	}
	return nil
}

// Cut partitions a from b: it removes the links between them first, so
// that nothing can dial across, then closes every connection between
// them on both sides. Connect after LinkPeers heals it.
//
// Mocknet lets a stream be opened on a connection that is being closed
// (gossipsub does, when it sees its stream die while the peer still
// counts as connected, and respawns its writer at once); such a stream
// outlives the connection and carries messages across the cut. Cut
// therefore remembers the connections it closed and resets any stream
// found on them, and calling Cut again on the same pair repeats that
// sweep: a test in a synctest bubble calls Cut, synctest.Wait, Cut.
func (n *Network) Cut(a, b peer.ID) error {
	if err := n.Mocknet.UnlinkPeers(a, b); err != nil {
		return fmt.Errorf("gossipnet: unlink %s from %s: %w", a, b, err)
	}
	key := [2]peer.ID{min(a, b), max(a, b)}
	var conns []network.Conn
	for _, pair := range [][2]peer.ID{{a, b}, {b, a}} {
		if nw := n.Mocknet.Net(pair[0]); nw != nil {
			conns = append(conns, nw.ConnsToPeer(pair[1])...)
		}
	}
	n.mu.Lock()
	if n.cut == nil {
		n.cut = map[[2]peer.ID][]network.Conn{}
	}
	n.cut[key] = append(n.cut[key], conns...)
	conns = slices.Clone(n.cut[key])
	n.mu.Unlock()
	for _, c := range conns {
		if err := c.Close(); err != nil {
			return fmt.Errorf("gossipnet: close %s to %s: %w", c.LocalPeer(), c.RemotePeer(), err)
		}
	}
	for range 3 {
		for _, c := range conns {
			for _, s := range c.GetStreams() {
				_ = s.Reset()
			}
		}
		runtime.Gosched()
	}
	return nil
}

// Index returns the index of the honest node with ID p, or -1.
func (n *Network) Index(p peer.ID) int {
	for i, h := range n.Hosts {
		if h.ID() == p {
			return i
		}
	}
	return -1
}

// WaitReady waits until every honest node sees each connected honest
// neighbour subscribed to the capacity topic, so that a message published
// now reaches the network.
func (n *Network) WaitReady(ctx context.Context) error {
	t := n.cfg.Clock.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for {
		if n.ready() {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("gossipnet: network not ready: %w", ctx.Err())
		case <-t.C():
		}
	}
}

func (n *Network) ready() bool {
	for i, g := range n.Nodes {
		subs := map[peer.ID]bool{}
		for _, p := range g.TopicPeers(gossip.CapacityTopic) {
			subs[p] = true
		}
		for _, p := range n.Hosts[i].Network().Peers() {
			if n.Index(p) >= 0 && !subs[p] {
				return false
			}
		}
	}
	return true
}

// Close stops every gossip node and the mock network. It is idempotent.
func (n *Network) Close() error {
	n.once.Do(func() {
		for _, g := range n.Nodes {
			if err := g.Close(); err != nil && n.err == nil {
				n.err = err
			}
		}
		if err := n.Mocknet.Close(); err != nil && n.err == nil {
			n.err = err
		}
	})
	return n.err
}
