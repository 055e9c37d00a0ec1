package lotterysvc

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/ipfs/go-datastore"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/stretchr/testify/require"

	"github.com/fog-compute/fog/gossip"
	"github.com/fog-compute/fog/gossip/gossipnet"
	"github.com/fog-compute/fog/mix/lottery"
	"github.com/fog-compute/fog/store"
)

// The network tests run inside a testing/synctest bubble: the mocknet, the
// gossip routers, the stores and the Services all live in it, so their
// clocks and timers are the bubble's virtual time, which moves only when
// every goroutine waits. A test's schedule (3-second epochs, a 1.2 s claim
// window) is then exact however busy the machine is, and the seconds of
// protocol time take no wall time: what the tests cost is the CPU of the
// cryptography.

// svcConfig is SimServiceConfig with 3-second epochs (1.2 s claim window,
// 800 ms reveals, 50 ms skew) so that a test runs several epochs.
func svcConfig(genesis time.Time) lottery.ServiceConfig {
	c := lottery.SimServiceConfig()
	c.NetworkID = "fog-test"
	c.Genesis = genesis
	c.EpochLength = 3 * time.Second
	c.ClaimWindow = 1200 * time.Millisecond
	c.RevealWindow = 800 * time.Millisecond
	c.MaxClockSkew = 50 * time.Millisecond
	c.WarmUp = 200 * time.Millisecond
	c.FlushInterval = 100 * time.Millisecond
	c.JoinQuorum = 2
	c.TargetRelays = 6
	return c
}

// revealAt is when relays of epoch e publish their reveals.
func revealAt(cfg lottery.ServiceConfig, e uint64) time.Time {
	return cfg.EpochStart(e + 1).Add(-cfg.RevealWindow)
}

// cluster is a gossipnet network with a lottery Service per node.
type cluster struct {
	t    *testing.T
	net  *gossipnet.Network
	db   *store.DB
	mu   sync.Mutex
	svcs []*Service
	runs []*run
}

type run struct {
	cancel context.CancelFunc
	done   chan error
}

func newCluster(t *testing.T, nodes int, seed uint64) *cluster {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	net, err := gossipnet.NewNetwork(ctx, gossipnet.NetworkConfig{
		Nodes: nodes, Degree: 4, MinLatency: 2 * time.Millisecond, MaxLatency: 15 * time.Millisecond,
		Seed: seed, Config: gossip.TestConfig(),
	})
	require.NoError(t, err)
	db, err := store.Open(store.InMemoryConfig())
	require.NoError(t, err)
	c := &cluster{t: t, net: net, db: db, svcs: make([]*Service, nodes), runs: make([]*run, nodes)}
	t.Cleanup(func() {
		for i := range c.runs {
			_ = c.stop(i)
		}
		require.NoError(t, net.Close())
		require.NoError(t, db.Close())
	})
	return c
}

// ds returns node i's part of the shared in-memory store.
func (c *cluster) ds(i int) datastore.Batching {
	return c.db.Datastore(store.Prefix(fmt.Sprintf("/lottery%d", i)))
}

// start runs a new Service for node i with cfg on ds and waits until it is
// ready.
func (c *cluster) start(i int, cfg lottery.ServiceConfig, ds datastore.Batching) *Service {
	c.t.Helper()
	s, err := New(cfg, Options{Gossip: c.net.Nodes[i], Store: ds, Identity: c.net.Keys[i]})
	require.NoError(c.t, err)
	ctx, cancel := context.WithCancel(context.Background())
	r := &run{cancel: cancel, done: make(chan error, 1)}
	ready := make(chan struct{})
	go func() { r.done <- s.Run(ctx, func() { close(ready) }) }()
	select {
	case <-ready:
	case err := <-r.done:
		cancel()
		c.t.Fatalf("node %d: Run: %v", i, err)
	}
	c.mu.Lock()
	c.svcs[i], c.runs[i] = s, r
	c.mu.Unlock()
	return s
}

// stop ends node i's Run and returns its error.
func (c *cluster) stop(i int) error {
	c.mu.Lock()
	r := c.runs[i]
	c.runs[i] = nil
	c.mu.Unlock()
	if r == nil {
		return nil
	}
	r.cancel()
	return <-r.done
}

// peerIDs returns the peer IDs of nodes.
func (c *cluster) peerIDs(nodes ...int) []peer.ID {
	out := make([]peer.ID, len(nodes))
	for k, i := range nodes {
		out[k] = c.net.Hosts[i].ID()
	}
	return out
}

// pub returns node i's Ed25519 identity key.
func (c *cluster) pub(i int) ed25519.PublicKey {
	c.t.Helper()
	return edKey(c.t, c.net.Keys[i]).Public().(ed25519.PublicKey)
}

// waitTopic waits until each of nodes sees its connected neighbours among
// nodes subscribed to the lottery topic.
func (c *cluster) waitTopic(ctx context.Context, topic string, nodes []int) {
	c.t.Helper()
	in := map[peer.ID]bool{}
	for _, i := range nodes {
		in[c.net.Hosts[i].ID()] = true
	}
	require.Eventually(c.t, func() bool {
		for _, i := range nodes {
			subs := map[peer.ID]bool{}
			for _, p := range c.net.Nodes[i].TopicPeers(topic) {
				subs[p] = true
			}
			for _, p := range c.net.Hosts[i].Network().Peers() {
				if in[p] && !subs[p] {
					return false
				}
			}
		}
		return ctx.Err() == nil
	}, 10*time.Second, 10*time.Millisecond, "lottery topic meshes")
}

// services returns the Services of nodes.
func (c *cluster) services(nodes ...int) []*Service {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]*Service, len(nodes))
	for k, i := range nodes {
		out[k] = c.svcs[i]
	}
	return out
}

// waitUntil blocks until the clock reaches at: the lottery is driven by
// its schedule, so tests wait for protocol time, not for goroutines. In a
// synctest bubble the wait is virtual and exact.
func waitUntil(at time.Time) { time.Sleep(time.Until(at)) }

// waitClosed waits, at most timeout, until svc's directory of epoch e is
// final.
func waitClosed(t *testing.T, svc *Service, e uint64, timeout time.Duration) {
	t.Helper()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case <-svc.Closed(e):
	case <-timer.C:
		t.Fatalf("directory of epoch %d not closed within %s", e, timeout)
	}
}

// indexes returns the node indexes [from, to).
func indexes(from, to int) []int {
	out := make([]int, 0, to-from)
	for i := from; i < to; i++ {
		out = append(out, i)
	}
	return out
}

// measure waits for epoch e to close on svcs and requires agreement.
func measure(t *testing.T, svcs []*Service, e uint64, timeout time.Duration) Agreement {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	a, err := MeasureAgreement(ctx, svcs, e)
	require.NoError(t, err)
	return a
}

func edKey(t *testing.T, k crypto.PrivKey) ed25519.PrivateKey {
	t.Helper()
	raw, err := k.Raw()
	require.NoError(t, err)
	return ed25519.PrivateKey(raw)
}

// detRand is a reproducible random stream for mix keys.
func detRand(label string) io.Reader {
	var buf bytes.Buffer
	for i := range 256 {
		s := sha256.Sum256(binary.BigEndian.AppendUint64([]byte(label), uint64(i)))
		buf.Write(s[:])
	}
	return &buf
}

// testKey returns the i-th reproducible identity key.
func testKey(i int) ed25519.PrivateKey {
	seed := sha256.Sum256(binary.BigEndian.AppendUint64([]byte("lotterysvc test key"), uint64(i)))
	return ed25519.NewKeyFromSeed(seed[:])
}
