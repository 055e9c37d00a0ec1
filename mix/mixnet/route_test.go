package mixnet

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func relaySet(layers ...int) []Relay {
	rs := make([]Relay, len(layers))
	for i, l := range layers {
		rs[i] = Relay{ID: NodeID{byte(i + 1)}, Layer: l, Seats: uint64(1 + i%3)}
	}
	return rs
}

func TestPickRoute(t *testing.T) {
	tests := []struct {
		name   string
		relays []Relay
		avoid  map[byte]bool
		want   []int // layers of the route's hops; -1: any
	}{
		{"one per layer", relaySet(0, 1, 2, 0, 1, 2), nil, []int{0, 1, 2}},
		{"avoids a dead relay", relaySet(0, 1, 2, 1), map[byte]bool{2: true}, []int{0, 1, 2}},
		{"a dead relay if nothing else", relaySet(0, 1, 2), map[byte]bool{2: true}, []int{0, 1, 2}},
		{"an empty layer borrows another layer's relay", relaySet(0, 0, 2), nil, []int{0, 0, 2}},
		{"fewer relays than layers: a shorter route", relaySet(1, 2), nil, []int{-1, -1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(1, 2))
			for range 200 {
				r, err := pickRoute(rng, tc.relays, 3, func(id NodeID) bool { return tc.avoid[id[0]] }, 50*time.Millisecond, time.Second)
				require.NoError(t, err)
				require.Len(t, r, len(tc.want))
				seen := map[NodeID]bool{}
				for i, h := range r {
					assert.False(t, seen[h.ID], "two hops on one node")
					seen[h.ID] = true
					if tc.want[i] >= 0 && tc.name != "an empty layer borrows another layer's relay" {
						assert.Equal(t, tc.want[i], h.Layer)
					}
					if len(tc.relays) > 3 {
						assert.False(t, tc.avoid[h.ID[0]], "avoided relay %d used", h.ID[0])
					}
					assert.LessOrEqual(t, h.Delay, time.Second)
				}
			}
		})
	}
	_, err := pickRoute(rand.New(rand.NewPCG(1, 2)), nil, 3, nil, 0, 0)
	require.ErrorIs(t, err, ErrNoRoute)
}

// Seats weigh the choice: a relay with twice the seats of another in its
// layer is chosen about twice as often.
func TestPickRouteWeighsSeats(t *testing.T) {
	rs := []Relay{{ID: NodeID{1}, Layer: 0, Seats: 1}, {ID: NodeID{2}, Layer: 0, Seats: 2}}
	rng := rand.New(rand.NewPCG(3, 4))
	count := map[byte]int{}
	const n = 30000
	for range n {
		r, err := pickRoute(rng, rs, 1, nil, 0, 0)
		require.NoError(t, err)
		count[r[0].ID[0]]++
	}
	assert.InDelta(t, 2.0, float64(count[2])/float64(count[1]), 0.1)
}
