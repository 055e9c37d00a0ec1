package ledgersvc

import (
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/ipfs/go-datastore"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/stretchr/testify/require"

	"github.com/fog-compute/fog/gossip"
	"github.com/fog-compute/fog/gossip/gossipnet"
	"github.com/fog-compute/fog/store"
	"github.com/fog-compute/fog/token"
)

// The network tests run inside testing/synctest bubbles: mocknet, the
// gossip routers, the stores and the Services run on the bubble's virtual
// time, so ticks and election rounds take no wall time.

const funds = 1_000_000

type cluster struct {
	t       *testing.T
	net     *gossipnet.Network
	db      *store.DB
	genesis token.Genesis
	mu      sync.Mutex
	svcs    []*Service
	runs    []*run
}

type run struct {
	cancel context.CancelFunc
	done   chan error
}

func edKey(t testing.TB, k crypto.PrivKey) ed25519.PrivateKey {
	t.Helper()
	raw, err := k.Raw()
	require.NoError(t, err)
	return ed25519.PrivateKey(raw)
}

func accountOf(t testing.TB, k crypto.PrivKey) token.Account {
	return token.AccountOf(edKey(t, k).Public().(ed25519.PublicKey))
}

// stakers returns n keys derived from seed and genesis allocations
// giving each a stake of token.DefaultRules().ProposerStake: proposers
// that are not nodes.
func stakers(n int, seed byte) ([]ed25519.PrivateKey, []token.Allocation) {
	keys := make([]ed25519.PrivateKey, n)
	allocs := make([]token.Allocation, n)
	for i := range keys {
		var s [ed25519.SeedSize]byte
		s[0], s[1] = seed, byte(i)
		keys[i] = ed25519.NewKeyFromSeed(s[:])
		a := token.AccountOf(keys[i].Public().(ed25519.PublicKey))
		allocs[i] = token.Allocation{Account: hex.EncodeToString(a[:]), Staked: token.DefaultRules().ProposerStake}
	}
	return keys, allocs
}

// newCluster starts a gossip network of n nodes and a genesis funding
// each node's account with funds, each its own representative.
func newCluster(t *testing.T, n int, seed uint64, extra ...token.Allocation) *cluster {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	net, err := gossipnet.NewNetwork(ctx, gossipnet.NetworkConfig{
		Nodes: n, Degree: 3, MinLatency: 2 * time.Millisecond, MaxLatency: 15 * time.Millisecond,
		Seed: seed, Config: gossip.TestConfig(),
	})
	require.NoError(t, err)
	db, err := store.Open(store.InMemoryConfig())
	require.NoError(t, err)
	g := token.Genesis{Network: "ledgersvc-test", UnbondingEpochs: 2}
	for _, k := range net.Keys {
		a := accountOf(t, k)
		g.Accounts = append(g.Accounts, token.Allocation{Account: hex.EncodeToString(a[:]), Balance: funds})
	}
	g.Accounts = append(g.Accounts, extra...)
	c := &cluster{t: t, net: net, db: db, genesis: g, svcs: make([]*Service, n), runs: make([]*run, n)}
	t.Cleanup(func() {
		for i := range c.runs {
			require.NoError(t, c.stop(i))
		}
		require.NoError(t, net.Close())
		require.NoError(t, db.Close())
		// pubsub retries a subscription announcement a full queue dropped
		// in a goroutine of its own, after up to 1 s, which Close does not
		// stop; let it wake up, see the router closed and end inside the
		// bubble (virtual time: this costs nothing).
		time.Sleep(1001 * time.Millisecond)
	})
	return c
}

func (c *cluster) ds(i int) datastore.Batching {
	return c.db.Datastore(store.Prefix(fmt.Sprintf("/token%d", i)))
}

// start opens and runs node i's Service and waits until it is ready;
// before, if given, sees the Service before it runs.
func (c *cluster) start(i int, before ...func(*Service)) *Service {
	c.t.Helper()
	s, err := New(context.Background(), TestConfig(), Options{Gossip: c.net.Nodes[i], Store: c.ds(i), Genesis: c.genesis, Identity: c.net.Keys[i]})
	require.NoError(c.t, err)
	for _, f := range before {
		f(s)
	}
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

// waitMesh waits until every node sees every neighbour it is connected to
// on both ledger topics.
func (c *cluster) waitMesh(nodes []int) {
	c.t.Helper()
	in := map[peer.ID]bool{}
	for _, i := range nodes {
		in[c.net.Hosts[i].ID()] = true
	}
	require.Eventually(c.t, func() bool {
		for _, topic := range []string{BlocksTopic, VotesTopic} {
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
		}
		return true
	}, 10*time.Second, 10*time.Millisecond, "ledger topics mesh")
}

func indexes(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = i
	}
	return out
}
