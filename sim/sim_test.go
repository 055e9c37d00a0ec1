package sim

import (
	"context"
	"io"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/network"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/fog-compute/fog/node"
	"github.com/fog-compute/fog/p2p"
	"github.com/fog-compute/fog/store"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		goleak.IgnoreTopFunction("github.com/ipfs/go-log/v2/writer.(*MirrorWriter).logRoutine"),
		goleak.IgnoreAnyFunction("github.com/libp2p/go-flow-metrics.(*sweeper).run"),
		goleak.IgnoreTopFunction("github.com/patrickmn/go-cache.(*janitor).Run"),
		goleak.IgnoreTopFunction("go.opencensus.io/stats/view.(*worker).start"),
		// mocknet's conn.openStream does not check whether the conn is
		// closed: a stream opened while a stopping or crashing node's
		// conn is torn down gets a remote end that no handler ever sees
		// (the closed host has none), and that end's writer goroutine
		// waits for a Close or Reset that never comes.
		goleak.IgnoreTopFunction("github.com/libp2p/go-libp2p/p2p/net/mock.(*stream).transport"),
	)
}

// smallNet returns a booted network of n nodes with short timers.
func smallNet(t *testing.T, n int) *Network {
	t.Helper()
	cfg := DefaultConfig(n)
	cfg.Links.LatencyMin, cfg.Links.LatencyMax = 5*time.Millisecond, 30*time.Millisecond
	cfg.DHT.SnapshotInterval = 200 * time.Millisecond
	nw, err := New(cfg)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, nw.Close()) })
	require.NoError(t, Boot(context.Background(), nw, time.Minute, nil))
	return nw
}

// lookupAll runs a full lookup from every running node in from to every
// running node in to and returns the failures.
func lookupAll(nw *Network, from, to []int) int {
	failed := 0
	for _, i := range from {
		src := nw.Node(i).Running()
		for _, j := range to {
			if i == j || src == nil {
				continue
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			if _, err := src.DHT().Lookup(ctx, nw.Node(j).ID); err != nil {
				failed++
			}
			cancel()
		}
	}
	return failed
}

func TestDHTScenarioNoFaults(t *testing.T) {
	s := DefaultDHTScenario(24)
	s.Network.Links.LatencyMin, s.Network.Links.LatencyMax = 5*time.Millisecond, 30*time.Millisecond
	s.Lookups = 150
	res, err := s.Run(context.Background(), nil)
	require.NoError(t, err)
	assert.Equal(t, 1.0, res.LookupSuccessRate, "failures: %v", res.Failures)
	assert.Equal(t, 150, res.Lookups)
	assert.Len(t, res.Hops, 150)
	assert.Greater(t, res.LatencyMsP50, 0.0)
	assert.Greater(t, res.HeapMiBPerNode, 0.0)
}

func TestLookupsAcrossHealedPartition(t *testing.T) {
	nw := smallNet(t, 20)
	group := func(i int) int { return i % 2 }
	nw.Partition(group)
	var even, odd []int
	for i := range 20 {
		if group(i) == 0 {
			even = append(even, i)
		} else {
			odd = append(odd, i)
		}
	}
	// split: within a group lookups work, across they cannot
	assert.Zero(t, lookupAll(nw, even[:3], even), "lookups within a group")
	assert.Equal(t, 3*len(odd), lookupAll(nw, even[:3], odd), "nothing crosses the cut")
	nw.Heal()
	require.Eventually(t, func() bool {
		return lookupAll(nw, even[:4], odd) == 0 && lookupAll(nw, odd[:4], even) == 0
	}, 60*time.Second, 500*time.Millisecond, "lookups across the former cut succeed again")
}

func TestCrashedNodeRestartsWithRoutingTable(t *testing.T) {
	nw := smallNet(t, 16)
	n := nw.Node(5)
	size := n.Running().DHT().Table().Size
	require.Greater(t, size, 0)
	// wait until a snapshot holding the table has been written
	require.Eventually(t, func() bool {
		return n.Running().DHT().SaveSnapshot(context.Background()) == nil
	}, 5*time.Second, 100*time.Millisecond)
	require.NoError(t, nw.Crash(5))
	assert.Nil(t, n.Running())
	require.NoError(t, nw.Start(context.Background(), 5))
	info := n.Running().DHT().Table()
	assert.Equal(t, size, info.LAN.Restored, "every peer of the snapshot is restored (simulated nodes meet in the LAN DHT)")
	// The table may already have dropped a restored peer whose liveness
	// check timed out on a loaded machine (CI saw 14 of 15), so the size is
	// not bound to Restored; that the node routes is what counts.
	assert.Positive(t, info.Size)
	// and the restarted node routes again
	assert.Zero(t, lookupAll(nw, []int{5}, []int{0, 1, 2, 3, 9, 12}))
}

func TestStopLeavesNoGoroutinesAndRestarts(t *testing.T) {
	nw := smallNet(t, 6)
	require.NoError(t, nw.Stop(2))
	require.NoError(t, nw.Stop(2)) // idempotent
	assert.Equal(t, 1, lookupAll(nw, []int{0}, []int{2}), "a stopped node cannot be found")
	require.NoError(t, nw.Start(context.Background(), 2))
	require.Eventually(t, func() bool { return lookupAll(nw, []int{0}, []int{2}) == 0 }, 30*time.Second, 200*time.Millisecond)
}

func TestLinksAndConfig(t *testing.T) {
	cfg := DefaultConfig(10)
	nw, err := New(cfg)
	require.NoError(t, err)
	defer nw.Close()
	for i := range 10 {
		for j := range 10 {
			if i != j {
				l := nw.Latency(i, j)
				assert.GreaterOrEqual(t, l, cfg.Links.LatencyMin)
				assert.LessOrEqual(t, l, cfg.Links.LatencyMax)
				assert.Equal(t, l, nw.Latency(j, i))
			}
		}
	}
	// the same seed gives the same identities
	again, err := New(cfg)
	require.NoError(t, err)
	defer again.Close()
	assert.Equal(t, nw.Node(3).ID, again.Node(3).ID)
	for field, bad := range map[string]func(*Config){
		"Nodes 0":                    func(c *Config) { c.Nodes = 0 },
		"Links.Loss 1":               func(c *Config) { c.Links.Loss = 1 },
		"Links.LatencyMin":           func(c *Config) { c.Links.LatencyMax = c.Links.LatencyMin - 1 },
		"BootstrapPeers 0":           func(c *Config) { c.BootstrapPeers = 0 },
		"Store.InMemory must be set": func(c *Config) { c.Store = store.DefaultConfig(t.TempDir()) },
	} {
		c := DefaultConfig(3)
		bad(&c)
		err := c.Validate()
		require.ErrorIs(t, err, ErrConfig, field)
		assert.Contains(t, err.Error(), field)
	}
}

func TestLossyLinksStillRoute(t *testing.T) {
	cfg := DefaultConfig(12)
	cfg.Links.LatencyMin, cfg.Links.LatencyMax = 2*time.Millisecond, 10*time.Millisecond
	cfg.Links.Loss = 0.2
	s := DefaultDHTScenario(12)
	s.Network = cfg
	s.Lookups = 60
	res, err := s.Run(context.Background(), nil)
	require.NoError(t, err)
	assert.GreaterOrEqual(t, res.LookupSuccessRate, 0.95, "failures: %v", res.Failures)
}

func TestGossipScenarioConvergesAndResistsAttackers(t *testing.T) {
	s := DefaultGossipScenario(20)
	s.Network.Links.LatencyMin, s.Network.Links.LatencyMax = 5*time.Millisecond, 40*time.Millisecond
	s.Interval = 2 * time.Second
	s.Rounds = 3
	s.Attackers = 4
	s.AttackTargets = 4
	res, err := s.Run(context.Background(), nil)
	require.NoError(t, err)
	t.Logf("%+v", res)
	assert.True(t, res.DirectoriesConverged, "convergence %v ms", res.ConvergenceMs)
	assert.GreaterOrEqual(t, res.HonestDeliveryRate, 0.99)
	assert.Equal(t, 4, res.Graylisted, "every attacker graylisted by all its honest neighbours")
	assert.Zero(t, res.HonestGraylisted)
	assert.Greater(t, res.Adverts, 20)
	assert.Greater(t, res.AttackMessages, uint64(0))
}

func TestComputeScenarioUnderChurn(t *testing.T) {
	s := DefaultComputeScenario(12)
	s.Network.Links.LatencyMin, s.Network.Links.LatencyMax = 5*time.Millisecond, 30*time.Millisecond
	s.Network.Node.Gossip.AdvertInterval = node.Duration(time.Second)
	s.Tasks, s.Duration = 60, 10*time.Second
	s.SleepMin, s.SleepMax = 200*time.Millisecond, time.Second
	s.Deadline = 30 * time.Second
	s.Churn, s.ChurnDowntime = 1, 3*time.Second
	res, err := s.Run(context.Background(), nil)
	require.NoError(t, err)
	t.Logf("%+v", res)
	assert.Equal(t, 60, res.Submitted+res.SubmitErrors)
	assert.Equal(t, res.Submitted, res.Terminal, "every task reaches a terminal state: %v", res.Failed)
	assert.GreaterOrEqual(t, res.SuccessRate, 0.9, "failures: %v", res.Failed)
	assert.Greater(t, res.Departures, 0)
}

// TestSimulatedNodesRouteOnTheLANDHT: simulated nodes have loopback
// addresses, so after the boot every routing table entry is in the LAN
// DHT and none in the WAN DHT, whose filters therefore never act here
// (docs/bench.md, the lottery section).
func TestSimulatedNodesRouteOnTheLANDHT(t *testing.T) {
	nw := smallNet(t, 6)
	for i, nd := range nw.Nodes() {
		st := nd.Running().DHT().Status()
		assert.Zero(t, st.WAN.Peers, "node %d: WAN table", i)
		assert.Positive(t, st.LAN.Peers, "node %d: LAN table", i)
	}
	assert.Zero(t, lookupAll(nw, []int{0}, []int{5}), "a lookup succeeds on the LAN DHT alone")
}

func TestLotteryScenarioAgrees(t *testing.T) {
	s := DefaultLotteryScenario(16)
	s.Network.Links.LatencyMin, s.Network.Links.LatencyMax = 5*time.Millisecond, 40*time.Millisecond
	s.Candidates, s.TargetRelays, s.Epochs = 10, 5, 2
	s.EpochLength, s.GenesisDelay = 6*time.Second, 4*time.Second
	res, err := s.Run(context.Background(), nil)
	require.NoError(t, err)
	t.Logf("%+v", res)
	assert.True(t, res.AllAgree, "every node holds the identical directory: %+v", res.Epochs)
	for _, e := range res.Epochs {
		assert.Equal(t, 16, e.Closed)
		assert.Positive(t, e.Relays, "some candidates won")
	}
	assert.Positive(t, res.ClaimsVerified)
}

// TestRunningDoesNotWaitForATransition: Running reads a node's state
// without waiting for a Start, Stop or Crash in progress (each holds the
// node's lock for as long as a node takes to boot or shut down, and a
// crash's store snapshot waits for the node's writes). It used to take
// that lock: the ledger scenario's pickPair, holding the network's random
// source, then waited on a churning node's restart, and every other
// reader of a node behind it; at 100 nodes on a loaded machine the
// transfers stalled for minutes. Here the lock is held as a transition
// would hold it; before, this test hung.
func TestRunningDoesNotWaitForATransition(t *testing.T) {
	nw := smallNet(t, 4)
	n := nw.Node(1)
	n.mu.Lock()
	defer n.mu.Unlock()
	assert.NotNil(t, n.Running(), "still running: no transition has begun to stop it")
	_, _, ok := pickPair(nw, func(a, b int) bool { return a == 1 || b == 1 })
	assert.True(t, ok)
}

// TestStreamsOpenedAcceptedHaveTheLinksLatency: a stream opened with
// p2p.Protocol.OpenAccepted, which opens it on the host's network rather
// than with the host's NewStream, still carries the link's latency (the mix
// opened its links so, and its frames crossed the simulator at once).
func TestStreamsOpenedAcceptedHaveTheLinksLatency(t *testing.T) {
	nw := smallNet(t, 2)
	proto, err := p2p.NewProtocol("latency-test", p2p.Version{Major: 1})
	require.NoError(t, err)
	got := make(chan time.Time, 1)
	srv := nw.Node(1).Running().Host()
	_, err = proto.Handle(srv, p2p.Limits{Streams: 1, StreamsPerPeer: 1, Idle: time.Minute, Lifetime: time.Minute}, func(s network.Stream) {
		var b [1]byte
		if _, err := io.ReadFull(s, b[:]); err == nil {
			got <- time.Now()
		}
		_ = s.Close()
	})
	require.NoError(t, err)
	defer proto.Unhandle(srv)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := proto.OpenAccepted(ctx, nw.Node(0).Running().Host(), nw.Node(1).ID)
	require.NoError(t, err)
	defer func() { _ = s.Close() }()
	sent := time.Now()
	_, err = s.Write([]byte{1})
	require.NoError(t, err)
	select {
	case at := <-got:
		assert.GreaterOrEqual(t, at.Sub(sent), nw.Latency(0, 1), "the byte took at least the link's latency")
	case <-ctx.Done():
		t.Fatal("the byte never arrived")
	}
}
