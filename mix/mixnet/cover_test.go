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
	tn.run(8 * time.Second)
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
