package mixnet

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"time"
)

// NodeID names a node on the mix: its Ed25519 identity key. The lottery's
// directory names relays by the same key (lottery.Relay.Claimant), and
// Sphinx's next-hop command carries it as a 32-byte node ID.
type NodeID [32]byte

// Relay is one seat holder of an epoch's directory, as the route picker
// needs it.
type Relay struct {
	ID     NodeID
	Layer  int      // 0-based mix layer it serves
	Seats  uint64   // weight in route choice
	MixKey [32]byte // X25519 public key of its claim for the epoch
}

// ErrNoRoute: the directory has no usable relay for some layer.
var ErrNoRoute = errors.New("mixnet: no route")

// Hop is one relay of a route and the delay it holds the packet for.
type Hop struct {
	Relay
	Delay time.Duration
}

// anyLayer asks pickLayer for a relay of any layer.
const anyLayer = -1

// pickRoute picks one relay per layer, 0 to layers-1, each with a
// probability proportional to its seats, never two on the same node and
// never one that avoid reports as unusable (a relay whose loops stopped
// coming back). Where that leaves no choice it loosens, in this order:
// the avoided relays of the layer (a route through a doubtful relay is
// better than none), then a relay of another layer (a small network's
// lottery leaves a layer empty now and then), and last a shorter route, if
// the directory has fewer relays than layers. Each hop gets an exponential
// delay of the given mean, cut at maxDelay.
func pickRoute(rng *rand.Rand, relays []Relay, layers int, avoid func(NodeID) bool,
	mean, maxDelay time.Duration) ([]Hop, error) {
	order := make([]int, layers)
	for l := range order {
		order[l] = l
	}
	return pickRouteLayers(rng, relays, order, NodeID{}, avoid, mean, maxDelay)
}

// pickRouteLayers is pickRoute through the layers in the given order,
// never through the node skip (a relay's own loops; the zero ID skips
// none).
func pickRouteLayers(rng *rand.Rand, relays []Relay, order []int, skip NodeID, avoid func(NodeID) bool,
	mean, maxDelay time.Duration) ([]Hop, error) {
	route := make([]Hop, 0, len(order))
	used := make(map[NodeID]bool, len(order)+1)
	if skip != (NodeID{}) {
		used[skip] = true
	}
	for _, l := range order {
		r, ok := pickLayer(rng, relays, l, used, avoid)
		for _, try := range []struct {
			layer int
			avoid func(NodeID) bool
		}{{l, nil}, {anyLayer, avoid}, {anyLayer, nil}} {
			if ok {
				break
			}
			r, ok = pickLayer(rng, relays, try.layer, used, try.avoid)
		}
		if !ok {
			break
		}
		used[r.ID] = true
		route = append(route, Hop{Relay: r, Delay: expDelay(rng, mean, maxDelay)})
	}
	if len(route) == 0 {
		return nil, fmt.Errorf("%w: the directory has no relay", ErrNoRoute)
	}
	return route, nil
}

func pickLayer(rng *rand.Rand, relays []Relay, layer int, used map[NodeID]bool, avoid func(NodeID) bool) (Relay, bool) {
	var total uint64
	ok := func(r Relay) bool {
		return (layer == anyLayer || r.Layer == layer) && r.Seats > 0 && !used[r.ID] && (avoid == nil || !avoid(r.ID))
	}
	for _, r := range relays {
		if ok(r) {
			total += r.Seats
		}
	}
	if total == 0 {
		return Relay{}, false
	}
	x := rng.Uint64N(total)
	for _, r := range relays {
		if !ok(r) {
			continue
		}
		if x < r.Seats {
			return r, true
		}
		x -= r.Seats
	}
	return Relay{}, false // unreachable: x < total
}

// expDelay draws from the exponential distribution of the given mean (a
// Poisson process's gaps), cut at max; a mean of zero gives zero.
func expDelay(rng *rand.Rand, mean, max time.Duration) time.Duration {
	if mean <= 0 {
		return 0
	}
	d := rng.ExpFloat64() * float64(mean)
	if max > 0 && d > float64(max) {
		return max
	}
	if d > math.MaxInt64/2 {
		return math.MaxInt64 / 2
	}
	return time.Duration(d)
}
