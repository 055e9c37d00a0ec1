package sim_test

import (
	"context"
	"fmt"
	"time"

	"github.com/fog-compute/fog/sim"
)

// Four real nodes on the mocknet: boot them, then find node 3 from node 0
// through the DHT.
func Example() {
	nw, err := sim.New(sim.DefaultConfig(4))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer nw.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := sim.Boot(ctx, nw, time.Minute, nil); err != nil {
		fmt.Println(err)
		return
	}
	running := 0
	for _, n := range nw.Nodes() {
		if n.Running() != nil {
			running++
		}
	}
	fmt.Println("running:", running)
	_, err = nw.Node(0).Running().DHT().Lookup(ctx, nw.Node(3).ID)
	fmt.Println("node 0 finds node 3:", err == nil)
	// Output:
	// running: 4
	// node 0 finds node 3: true
}
