package mixsvc

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/ipfs/go-datastore"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/stretchr/testify/require"

	"github.com/fog-compute/fog/gossip"
	"github.com/fog-compute/fog/gossip/gossipnet"
	"github.com/fog-compute/fog/mix/lottery"
	"github.com/fog-compute/fog/mix/lottery/lotterysvc"
	"github.com/fog-compute/fog/store"
)

// A testMix is a gossipnet network (every pair of nodes linked) with the
// real relay lottery and a mix Service on every node. The tests run it in a
// testing/synctest bubble: the schedule (3-second epochs, 50 ms delays) is
// virtual and exact however loaded the machine is.
type testMix struct {
	t       testing.TB
	net     *gossipnet.Network
	db      *store.DB
	cfg     lottery.ServiceConfig
	lots    []*lotterysvc.Service
	mixes   []*Service
	cancels []context.CancelFunc
	dones   []chan error
	opts    netOptions
	mu      sync.Mutex
}

func lotteryConfig(genesis time.Time, ids []peer.ID) lottery.ServiceConfig {
	c := lottery.SimServiceConfig()
	c.NetworkID = "fog-mix-test"
	c.Genesis = genesis
	c.EpochLength = 3 * time.Second
	c.ClaimWindow = 1200 * time.Millisecond
	c.RevealWindow = 800 * time.Millisecond
	c.MaxClockSkew = 50 * time.Millisecond
	c.WarmUp = 200 * time.Millisecond
	c.FlushInterval = 100 * time.Millisecond
	c.JoinQuorum = 2
	c.TargetRelays = 12
	c.Candidates = ids
	c.Candidate = true
	return c
}

// newMixnet starts n nodes with mix config mc; the lottery's genesis is
// 1.5 s after the start.
func newMixnet(t testing.TB, n int, mc Config) *testMix {
	t.Helper()
	return newMixnetWith(t, n, mc, netOptions{})
}

// netOptions vary a test network.
type netOptions struct {
	// epoch is the lottery's epoch length (0: 3 s), its windows scaled as
	// in lottery.ScaledSimConfig.
	epoch time.Duration
	// noLatency makes the links instant. Mocknet delivers the frames of
	// one stream one link latency after another (it does not pipeline), so
	// a benchmark of throughput over one stream needs it.
	noLatency bool
	// store, if set, wraps node i's mix store (a slow store).
	store func(i int, ds datastore.Batching) datastore.Batching
	// host, if set, wraps node i's host for its mix service (a host with
	// a connection manager).
	host func(i int, h host.Host) host.Host
}

// newMixnetWith is newMixnet with options.
func newMixnetWith(t testing.TB, n int, mc Config, o netOptions) *testMix {
	t.Helper()
	epoch := o.epoch
	minLat, maxLat := 2*time.Millisecond, 10*time.Millisecond
	if o.noLatency {
		minLat, maxLat = 0, 0
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	net, err := gossipnet.NewNetwork(ctx, gossipnet.NetworkConfig{
		Nodes: n, MinLatency: minLat, MaxLatency: maxLat, Seed: 1,
		Config: gossip.TestConfig(),
	})
	require.NoError(t, err)
	for i := range n {
		for j := i + 1; j < n; j++ {
			require.NoError(t, net.Connect(ctx, net.Hosts[i], net.Hosts[j]))
		}
	}
	db, err := store.Open(store.InMemoryConfig())
	require.NoError(t, err)
	ids := make([]peer.ID, n)
	for i, h := range net.Hosts {
		ids[i] = h.ID()
	}
	m := &testMix{t: t, net: net, db: db, cfg: lotteryConfig(time.Now().Add(1500*time.Millisecond), ids), opts: o}
	if epoch > 0 {
		sc := lottery.ScaledSimConfig(epoch)
		m.cfg.EpochLength, m.cfg.ClaimWindow, m.cfg.RevealWindow, m.cfg.MaxClockSkew = sc.EpochLength, sc.ClaimWindow, sc.RevealWindow, sc.MaxClockSkew
	}
	t.Cleanup(func() {
		for i := range m.cancels {
			m.stop(i)
		}
		require.NoError(t, net.Close())
		require.NoError(t, db.Close())
	})
	m.cancels = make([]context.CancelFunc, 2*n)
	m.dones = make([]chan error, 2*n)
	for i := range n {
		l, err := lotterysvc.New(m.cfg, lotterysvc.Options{Gossip: net.Nodes[i], Store: m.ds(i, "l"), Identity: net.Keys[i]})
		require.NoError(t, err)
		m.run(2*i, l.Run)
		m.lots = append(m.lots, l)
	}
	for i := range n {
		m.mixes = append(m.mixes, nil)
		m.startMix(i, mc)
	}
	return m
}

func (m *testMix) ds(i int, kind string) *store.Datastore {
	return m.db.Datastore(store.Prefix(fmt.Sprintf("/%s%d", kind, i)))
}

// startMix (re)starts node i's mix Service.
func (m *testMix) startMix(i int, mc Config) *Service {
	var ds datastore.Batching = m.ds(i, "m")
	if m.opts.store != nil {
		ds = m.opts.store(i, ds)
	}
	var h host.Host = m.net.Hosts[i]
	if m.opts.host != nil {
		h = m.opts.host(i, h)
	}
	s, err := New(mc, Options{Host: h, Identity: m.net.Keys[i], Lottery: m.lots[i], Store: ds})
	require.NoError(m.t, err)
	m.run(2*i+1, s.Run)
	m.mixes[i] = s
	return s
}

// run starts a service's Run and waits for it to be ready.
func (m *testMix) run(slot int, run func(context.Context, func()) error) {
	m.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	ready := make(chan struct{})
	go func() { done <- run(ctx, func() { close(ready) }) }()
	select {
	case <-ready:
	case err := <-done:
		cancel()
		m.t.Fatalf("slot %d: Run: %v", slot, err)
	}
	m.mu.Lock()
	m.cancels[slot], m.dones[slot] = cancel, done
	m.mu.Unlock()
}

func (m *testMix) stop(slot int) {
	m.mu.Lock()
	cancel, done := m.cancels[slot], m.dones[slot]
	m.cancels[slot] = nil
	m.mu.Unlock()
	if cancel == nil {
		return
	}
	cancel()
	require.NoError(m.t, <-done)
}

// waitRoutable waits for the first epoch from e whose directory (closed on
// every node) has a relay in every layer, and returns it. With a dozen
// candidates a layer is empty now and then, as it would be in a network
// that small.
func (m *testMix) waitRoutable(e uint64) uint64 {
	m.t.Helper()
	for ; e < 10; e++ {
		m.waitDirectory(e)
		d, ok := m.lots[0].Directory(e)
		require.True(m.t, ok)
		full := true
		for l := range m.cfg.Layers {
			full = full && len(d.Layer(l)) > 0
		}
		if full {
			// Let every mix service see it before the test sends.
			time.Sleep(DefaultConfig().SyncEvery)
			return e
		}
	}
	m.t.Fatal("no epoch with a relay in every layer")
	return 0
}

// waitDirectory waits until every node's lottery closed epoch e.
func (m *testMix) waitDirectory(e uint64) {
	m.t.Helper()
	timer := time.NewTimer(30 * time.Second)
	defer timer.Stop()
	for i, l := range m.lots {
		select {
		case <-l.Closed(e):
		case <-timer.C:
			m.t.Fatalf("node %d: directory of epoch %d not closed", i, e)
		}
	}
}
