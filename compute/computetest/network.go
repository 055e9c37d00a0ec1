package computetest

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/fog-compute/fog/compute"
	"github.com/fog-compute/fog/compute/blob"
	"github.com/fog-compute/fog/compute/wasm"
	"github.com/fog-compute/fog/gossip"
	"github.com/fog-compute/fog/gossip/gossipnet"
	"github.com/fog-compute/fog/store"
)

// NetworkConfig describes an in-process network of compute nodes.
type NetworkConfig struct {
	// Nodes is the number of nodes.
	Nodes int
	// Config is every node's compute configuration before Configure; the
	// zero value means compute.TestConfig().
	Config compute.Config
	// Configure, if set, adjusts node i's configuration (Offer, Price,
	// Cores, ...).
	Configure func(i int, c *compute.Config)
	// MinLatency and MaxLatency bound each link's one-way latency.
	MinLatency, MaxLatency time.Duration
	// Seed makes the topology, the latencies and placement's random draws
	// reproducible.
	Seed uint64
	// Gossip is every node's gossip configuration; the zero value means
	// gossip.TestConfig().
	Gossip gossip.Config
	// Dir, if set, puts node i's store on disk in Dir/node-<i> (Badger
	// with synced writes, as a node runs it) instead of in memory.
	Dir string
}

// Node is one node of a Network: a real host, gossip with its capacity
// directory and advertiser, an in-memory store, a blob service, a wasm
// executor and the compute service.
type Node struct {
	Index  int
	Host   host.Host
	Gossip *gossip.Gossip
	DB     *store.DB
	Blob   *blob.Service
	Exec   *wasm.Executor
	Config compute.Config

	mu      sync.Mutex
	svc     *compute.Service
	cancel  context.CancelFunc
	stopped chan struct{} // closed when the node's goroutines ended
	down    bool
	runErr  error
}

// Err returns why the node's compute service stopped by itself, if it did.
func (n *Node) Err() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.runErr
}

// Compute returns the node's compute service (a new one after
// RestartCompute).
func (n *Node) Compute() *compute.Service {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.svc
}

// ID returns the node's peer ID.
func (n *Node) ID() peer.ID { return n.Host.ID() }

// capacity is the advertiser's view of the node: cores, price and
// memory from its configuration, the load from its compute service.
type capacity struct{ n *Node }

// Capacity implements gossip.CapacitySource.
func (c capacity) Capacity(context.Context) (gossip.Capacity, error) {
	svc := c.n.Compute()
	if svc == nil {
		return gossip.Capacity{}, errors.New("computetest: compute is stopped")
	}
	q, r := svc.Load()
	cfg := c.n.Config
	return gossip.Capacity{
		Cores: uint32(cfg.Cores), Memory: uint64(cfg.MaxLimits.MemoryPages) * wasm.PageSize, Queue: q, Running: r,
		Price: cfg.Price, Runtimes: cfg.Runtimes(),
	}, nil
}

// Network is an in-process network of compute nodes on libp2p's mocknet.
type Network struct {
	// Gossip is the underlying gossip network (hosts, mocknet, gossip).
	Gossip *gossipnet.Network
	// Nodes are the compute nodes, index by index with Gossip's.
	Nodes []*Node

	cfg       NetworkConfig
	mu        sync.Mutex
	hostiles  []*Hostile
	attacks   []*StreamAttack
	closeOnce sync.Once
	closeErr  error
}

// NewNetwork builds the network, starts every node's services (compute,
// and the advertiser of those that offer compute) and waits until every
// node's directory lists every node that offers compute.
func NewNetwork(ctx context.Context, cfg NetworkConfig) (_ *Network, err error) {
	if cfg.Config.Cores == 0 {
		cfg.Config = compute.TestConfig()
	}
	g, err := gossipnet.NewNetwork(ctx, gossipnet.NetworkConfig{
		Nodes: cfg.Nodes, MinLatency: cfg.MinLatency, MaxLatency: cfg.MaxLatency, Seed: cfg.Seed, Config: cfg.Gossip,
	})
	if err != nil {
		return nil, err
	}
	nw := &Network{Gossip: g, cfg: cfg}
	defer func() {
		if err != nil {
			_ = nw.Close()
		}
	}()
	for i := range cfg.Nodes {
		c := cfg.Config
		if cfg.Configure != nil {
			cfg.Configure(i, &c)
		}
		n := &Node{Index: i, Host: g.Hosts[i], Gossip: g.Nodes[i], Config: c}
		nw.Nodes = append(nw.Nodes, n)
		scfg := store.InMemoryConfig()
		if cfg.Dir != "" {
			scfg = store.DefaultConfig(filepath.Join(cfg.Dir, fmt.Sprintf("node-%d", i)))
		}
		if n.DB, err = store.Open(scfg); err != nil {
			return nil, fmt.Errorf("computetest: node %d: %w", i, err)
		}
		if n.Blob, err = blob.New(blob.TestConfig(), blob.Options{Host: n.Host}); err != nil {
			return nil, fmt.Errorf("computetest: node %d: %w", i, err)
		}
		wc := wasm.TestConfig()
		if !c.Scratch {
			wc.ScratchBytes = 0 // as a node does: its executor refuses them too
		}
		if n.Exec, err = wasm.New(ctx, wc); err != nil {
			return nil, fmt.Errorf("computetest: node %d: %w", i, err)
		}
		if err := nw.start(ctx, n); err != nil {
			return nil, err
		}
	}
	if err := g.WaitReady(ctx); err != nil {
		return nil, err
	}
	return nw, nw.WaitDirectory(ctx)
}

// start creates node n's compute service and runs it and its advertiser.
func (nw *Network) start(ctx context.Context, n *Node) error {
	svc, err := compute.New(ctx, n.Config, compute.Options{
		Host: n.Host, DB: n.DB, Directory: n.Gossip.Directory(), Blob: n.Blob, Executor: n.Exec,
		Seed: nw.cfg.Seed + uint64(n.Index) + 1,
	})
	if err != nil {
		return fmt.Errorf("computetest: node %d: %w", n.Index, err)
	}
	runCtx, cancel := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	ready := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := svc.Run(runCtx, func() { close(ready) }); err != nil && runCtx.Err() == nil {
			n.mu.Lock()
			n.runErr = fmt.Errorf("computetest: node %d: compute stopped: %w", n.Index, err)
			n.mu.Unlock()
		}
	})
	n.mu.Lock()
	n.svc, n.cancel, n.stopped = svc, cancel, stopped
	n.mu.Unlock()
	if n.Config.Offer {
		adv := gossip.NewAdvertiser(n.Gossip, capacity{n})
		wg.Go(func() { _ = adv.Run(runCtx, func() {}) })
	}
	go func() {
		wg.Wait()
		close(stopped)
	}()
	select {
	case <-ready:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// WaitDirectory waits until every running node's directory lists every
// running node that offers compute.
func (nw *Network) WaitDirectory(ctx context.Context) error {
	for _, n := range nw.Nodes {
		if n.isDown() {
			continue
		}
		d := n.Gossip.Directory()
		for {
			ch := d.Updated()
			missing := 0
			for _, o := range nw.Nodes {
				if !o.isDown() && o.Config.Offer {
					if _, ok := d.Get(o.ID()); !ok {
						missing++
					}
				}
			}
			nw.mu.Lock()
			for _, h := range nw.hostiles {
				if _, ok := d.Get(h.ID()); !ok {
					missing++
				}
			}
			nw.mu.Unlock()
			if missing == 0 {
				break
			}
			select {
			case <-ch:
			case <-ctx.Done():
				return fmt.Errorf("computetest: node %d's directory misses %d providers: %w", n.Index, missing, ctx.Err())
			}
		}
	}
	return nil
}

func (n *Node) isDown() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.down
}

// stopCompute stops node n's compute service and advertiser and waits for
// them.
func (n *Node) stopCompute() error {
	n.mu.Lock()
	svc, cancel, stopped := n.svc, n.cancel, n.stopped
	n.svc = nil
	n.mu.Unlock()
	if svc == nil {
		return nil
	}
	cancel()
	<-stopped
	return svc.Close()
}

// RestartCompute stops node i's compute service cleanly and starts a new
// one on the same host, store, blob service and executor, as a node
// restarting does: tasks it was placing are taken up again and their
// attempts re-attached.
func (nw *Network) RestartCompute(ctx context.Context, i int) error {
	if err := nw.StopCompute(i); err != nil {
		return err
	}
	return nw.StartCompute(ctx, i)
}

// StopCompute stops node i's compute service and advertiser cleanly; its
// host, store, blob service and executor stay up, so a test can change
// them before StartCompute.
func (nw *Network) StopCompute(i int) error { return nw.Nodes[i].stopCompute() }

// StartCompute starts a new compute service on node i after StopCompute.
func (nw *Network) StartCompute(ctx context.Context, i int) error {
	return nw.start(ctx, nw.Nodes[i])
}

// CrashRestartCompute restarts node i's compute service as after a power
// cut: the new service runs on a copy of the store taken while the old one
// was running (so nothing it would write while stopping survives), on the
// same host, blob service and executor. Its peers see its task streams
// break.
func (nw *Network) CrashRestartCompute(ctx context.Context, i int) error {
	n := nw.Nodes[i]
	if !n.DB.InMemory() {
		// The copy is kept in memory: a node on disk would come back on
		// another kind of store than it ran on.
		return fmt.Errorf("computetest: crash-restart node %d: supported for in-memory stores only", i)
	}
	snap, err := n.DB.Snapshot(store.InMemoryConfig())
	if err != nil {
		return fmt.Errorf("computetest: snapshot node %d: %w", i, err)
	}
	if err := n.stopCompute(); err != nil {
		_ = snap.Close()
		return err
	}
	old := n.DB
	n.DB = snap
	if err := old.Close(); err != nil {
		return err
	}
	return nw.start(ctx, n)
}

// Crash takes node i down as a power cut would, as its peers see it: its
// links and connections vanish at once, before it can say anything; then
// its services are stopped and its in-memory store discarded.
func (nw *Network) Crash(i int) error {
	n := nw.Nodes[i]
	n.mu.Lock()
	if n.down {
		n.mu.Unlock()
		return nil
	}
	n.down = true
	n.mu.Unlock()
	mn := nw.Gossip.Mocknet
	for _, o := range nw.Nodes {
		if o != n {
			_ = mn.UnlinkPeers(n.ID(), o.ID())
		}
	}
	for _, c := range n.Host.Network().Conns() {
		_ = c.Close()
	}
	return n.shutdown()
}

// shutdown stops everything node n runs except its host and gossip,
// which the gossip network closes.
func (n *Node) shutdown() error {
	errs := []error{n.stopCompute()}
	if n.Blob != nil {
		errs = append(errs, n.Blob.Close())
	}
	if n.Exec != nil {
		errs = append(errs, n.Exec.Close())
	}
	if n.DB != nil {
		errs = append(errs, n.DB.Close())
	}
	return errors.Join(errs...)
}

// Close stops every node and the network. It is idempotent.
func (nw *Network) Close() error {
	nw.closeOnce.Do(func() {
		var errs []error
		nw.mu.Lock()
		for _, h := range nw.hostiles {
			errs = append(errs, h.close())
		}
		for _, a := range nw.attacks {
			a.Close()
		}
		nw.mu.Unlock()
		for _, n := range nw.Nodes {
			n.mu.Lock()
			down := n.down
			n.down = true
			n.mu.Unlock()
			if !down {
				errs = append(errs, n.shutdown())
			}
		}
		errs = append(errs, nw.Gossip.Close())
		nw.closeErr = errors.Join(errs...)
	})
	return nw.closeErr
}
