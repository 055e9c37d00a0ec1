package mixnet

import (
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// With cover on, a node's links carry one Poisson process of
// SendRate+LoopRate+DropRate packets per second whether it talks or not.
func TestCoverRate(t *testing.T) {
	cfg := DefaultConfig()
	tn := newTestNet(t, cfg, 5, 1, 9)
	const d = 50 * time.Second
	for range 25 { // node 3 talks, node 4 does not
		tn.send(3, 4, "m", SendOptions{})
		tn.run(d / 25)
	}
	want := (cfg.SendRate + cfg.LoopRate + cfg.DropRate) * d.Seconds()
	for _, i := range []int{3, 4} {
		got := float64(tn.nodes[i].Stats().PacketsOut)
		// A Poisson count is within 5 standard deviations of its mean but
		// for one run in 3 million.
		assert.InDelta(t, want, got, 5*math.Sqrt(want), "node %d", i)
	}
	tn.run(15 * time.Second) // the last messages' ACKs
	s := tn.nodes[3].Stats()
	assert.EqualValues(t, 25, s.Acked)
	assert.NotZero(t, s.LoopsBack)
	assert.Zero(t, tn.nodes[4].Stats().Sent)
}

// Loops find a dead relay and routes stop using it.
func TestLoopsSteerAroundDeadRelay(t *testing.T) {
	cfg := DefaultConfig()
	cfg.LoopRate = 5
	tn := newTestNet(t, cfg, 7, 2, 10)
	dead := tn.relays[1].ID // layer 1
	tn.dead[dead] = true
	// A loop counts as lost AckSlack after its route's delays.
	tn.run(cfg.AckSlack + 3*time.Second)
	n := tn.nodes[6]
	require.GreaterOrEqual(t, n.health[dead], cfg.LoopsToDead, "loops through the dead relay are lost")
	for range 200 {
		r, err := n.route()
		require.NoError(t, err)
		for _, h := range r {
			require.NotEqual(t, dead, h.ID)
		}
	}
}

// A relay sends loops of its own at RelayLoopRate while it serves a layer:
// from the layer after its own through the others and back, never through
// itself; nodes that do not relay send none.
func TestRelayLoops(t *testing.T) {
	cfg := DefaultConfig()
	cfg.RelayLoopRate = 4
	tn := newTestNet(t, cfg, 9, 2, 11) // nodes 0–5 relay, layers 0,1,2,0,1,2
	const d = 20 * time.Second
	tn.run(d)
	tn.run(5 * time.Second) // let the last loops come back
	want := cfg.RelayLoopRate * d.Seconds()
	for i, nd := range tn.nodes {
		s := nd.Stats()
		if i >= 6 {
			assert.Zero(t, s.RelayLoops, "node %d does not relay", i)
			continue
		}
		// Sent over 25 s, the last 5 of them to let loops return.
		assert.InDelta(t, want*5/4, float64(s.RelayLoops), 5*math.Sqrt(want*5/4), "relay %d", i)
		assert.GreaterOrEqual(t, s.LoopsBack, s.RelayLoops, "relay %d: its relay loops and user loops come back", i)
	}

	relay := tn.nodes[1] // layer 1
	layerOf := map[NodeID]int{}
	for _, r := range tn.relays {
		layerOf[r.ID] = r.Layer
	}
	for range 200 {
		before := len(relay.loops)
		tr, ok := relay.relayLoop(1)
		require.True(t, ok)
		assert.Equal(t, 2, layerOf[tr.To], "the first hop is in the next layer")
		require.Len(t, relay.loops, before+1)
	}
	for _, l := range relay.loops {
		assert.NotContains(t, l.route, relay.ID(), "never through itself")
	}

	// A node that stops relaying stops the stream.
	relay.DropEpoch(1)
	relay.SetDirectory(2, tn.relays)
	before := relay.Stats().RelayLoops
	tn.apply(relay, relay.Tick(tn.now.Add(10*time.Second)))
	assert.Equal(t, before, relay.Stats().RelayLoops)
}
