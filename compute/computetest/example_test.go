package computetest_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/fog-compute/fog/compute"
	"github.com/fog-compute/fog/compute/computetest"
	"github.com/fog-compute/fog/compute/placement"
	"github.com/fog-compute/fog/compute/runner"
	"github.com/fog-compute/fog/compute/wasm"
	"github.com/fog-compute/fog/compute/wire"
)

// A network of three honest nodes and a provider that lies cheaply: with
// three replicas, the liar is outvoted.
func Example() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	nw, err := computetest.NewNetwork(ctx, computetest.NetworkConfig{Nodes: 3, Seed: 1,
		Configure: func(i int, c *compute.Config) { c.Price = 100 * uint64(i+1) }})
	if err != nil {
		log.Fatal(err)
	}
	defer nw.Close()
	liar, err := nw.AddHostile(ctx, computetest.HostileConfig{Cores: 4, Price: 1,
		Answer: func(*wire.SubmitMsg) *wire.ResultMsg {
			out := runner.EncodeResult(wasm.Result{Stdout: []byte("a lie")})
			return &wire.ResultMsg{State: wire.StateDone, Kind: compute.KindCompleted, Output: out}
		}})
	if err != nil {
		log.Fatal(err)
	}
	echo, err := os.ReadFile("../testdata/echo.wasm")
	if err != nil {
		log.Fatal(err)
	}
	node := nw.Nodes[0].Compute()
	id, err := node.Submit(ctx, compute.Spec{Stdin: []byte("the truth"), Replicas: 3, Strategy: placement.LowestPrice}, echo)
	if err != nil {
		log.Fatal(err)
	}
	res, err := node.Wait(ctx, id)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s %q, agreed by %d\n", res.State, res.Stdout, len(res.Providers))
	fmt.Println("liar outvoted:", len(res.Disagreeing) == 1 && res.Disagreeing[0] == liar.ID())
	// Output:
	// done "the truth", agreed by 2
	// liar outvoted: true
}
