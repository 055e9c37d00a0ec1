package node

import (
	"context"
	"errors"
	"net/netip"
	"os"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/protocol"
	rcmgr "github.com/libp2p/go-libp2p/p2p/host/resource-manager"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fog-compute/fog/compute"
	"github.com/fog-compute/fog/compute/wire"
	"github.com/fog-compute/fog/dht"
	"github.com/fog-compute/fog/gossip"
	"github.com/fog-compute/fog/p2p"
	"github.com/fog-compute/fog/p2p/p2ptest"
)

// TestConnectionFloodFromOneAddress: one process opens 300 connections to
// a node from one address, each under its own identity. With the per-IP
// limit in force (loopback is exempt by default, so the test applies it to
// loopback) the node holds only conns_per_ip of them, and a real node
// still connects to it — `fog connect`, over the API — and runs a task
// there.
func TestConnectionFloodFromOneAddress(t *testing.T) {
	target := startTestNode(t, func(c *Config) {
		c.P2P.ConnsPerIP = 8
		c.P2P.ConnExempt = []string{}
	})
	honest := startTestNode(t, func(c *Config) { c.Compute.Offer = false })
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	from := netip.MustParseAddr("127.0.0.2") // loopback, not the nodes' 127.0.0.1
	f, err := p2ptest.NewFlood(ctx, target.Host().AddrInfo(), from, 300, 16)
	if err != nil && !errors.Is(err, context.DeadlineExceeded) {
		t.Skipf("cannot flood from %s here: %v", from, err)
	}
	require.NoError(t, err)
	t.Cleanup(func() { f.Close() })
	t.Logf("flood of 300 connections from %s: %d accepted, %d refused", from, f.Held, f.Refused)
	assert.LessOrEqual(t, f.Held, 8, "no more than conns_per_ip from one address")

	c := honest.client(t)
	var pi PeerInfo
	require.NoError(t, c.Call(ctx, "node.connect", ConnectParams{Addr: target.p2pAddr()}, &pi), "fog connect during the flood")
	assert.Equal(t, target.Host().ID().String(), pi.ID)

	// The honest node learns the target's advert, and its task runs there.
	awaitDirectory(t, honest.Node, 1)
	var es []DirectoryEntry
	require.NoError(t, c.Call(ctx, "directory.list", DirectoryParams{}, &es))
	require.Len(t, es, 1)
	echo, err := os.ReadFile("../compute/testdata/echo.wasm")
	require.NoError(t, err)
	var sub TaskSubmitResult
	require.NoError(t, c.Call(ctx, "task.submit", TaskSubmitParams{Module: echo, Stdin: []byte("through the flood")}, &sub))
	var res compute.Result
	require.NoError(t, c.Call(ctx, "task.result", TaskIDParams{ID: string(sub.ID), Wait: true}, &res))
	require.Equal(t, compute.StateDone, res.State, res.Error)
	assert.Equal(t, "through the flood", string(res.Stdout))
	require.Len(t, res.Providers, 1)
	assert.Equal(t, target.Host().ID(), res.Providers[0])
}

// TestNodeLimitsItsProtocols: the node gives the resource manager limits
// for the protocols it serves, the DHT's among them under the ID the DHT
// really serves, and its connection limits.
func TestNodeLimitsItsProtocols(t *testing.T) {
	n := startTestNode(t, nil)
	// auto mode, not publicly reachable: the LAN DHT serves, the WAN one asks
	require.Contains(t, n.Host().Mux().Protocols(), dht.LANProtocol)
	pc := p2p.TestConfig()
	cc := compute.TestConfig()
	rm := n.Host().Network().ResourceManager()
	inbound := func(proto protocol.ID) int {
		var got int
		require.NoError(t, rm.ViewProtocol(proto, func(s network.ProtocolScope) error {
			got = s.(rcmgr.ResourceScopeLimiter).Limit().GetStreamLimit(network.DirInbound)
			return nil
		}))
		return got
	}
	assert.Equal(t, 2*pc.MaxInboundConns, inbound(dht.WANProtocol))
	assert.Equal(t, 2*pc.MaxInboundConns, inbound(dht.LANProtocol))
	assert.Equal(t, 2*pc.MaxInboundConns, inbound(gossip.Protocols()[0]))
	assert.Equal(t, 2*cc.MaxStreams, inbound(wire.Protocol.IDs()[0]))
	require.NoError(t, rm.ViewSystem(func(s network.ResourceScope) error {
		assert.Equal(t, pc.MaxInboundConns, s.(rcmgr.ResourceScopeLimiter).Limit().GetConnLimit(network.DirInbound))
		return nil
	}))
}
