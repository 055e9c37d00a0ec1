package placement_test

import (
	"fmt"
	"time"

	"github.com/fog-compute/fog/compute/placement"
)

// Strategies choose among candidates; they are pure functions.
func ExamplePick() {
	cands := []placement.Candidate{
		{Peer: "a", Cores: 4, Queued: 4, Price: 100},
		{Peer: "b", Cores: 2, Queued: 0, Price: 300},
		{Peer: "c", Cores: 1, Queued: 1, Price: 50},
	}
	st := &placement.PickState{}
	for _, s := range []placement.Strategy{placement.LeastLoaded, placement.LowestPrice, placement.RoundRobin, placement.RoundRobin} {
		fmt.Println(s, string(cands[placement.Pick(s, cands, st)].Peer))
	}
	// Output:
	// least-loaded b
	// lowest-price c
	// round-robin a
	// round-robin b
}

// A breaker opens at its threshold of consecutive failures and lets one
// probe through once its cooldown has passed.
func ExampleBreaker() {
	b := placement.NewBreaker(placement.BreakerConfig{Threshold: 2, Cooldown: time.Minute})
	now := time.Unix(0, 0)
	b.Failure(now)
	b.Failure(now)
	fmt.Println(b.State(now), b.Allow(now))
	later := now.Add(time.Minute)
	fmt.Println(b.State(later), b.Allow(later), b.Allow(later))
	b.Success(later)
	fmt.Println(b.State(later))
	// Output:
	// open false
	// half-open true false
	// closed
}
