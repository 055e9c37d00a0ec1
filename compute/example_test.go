package compute_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/fog-compute/fog/compute"
	"github.com/fog-compute/fog/compute/computetest"
)

// Three nodes on an in-process network run a task three times (the
// submitting node is one of them) and agree on its output.
func Example() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	nw, err := computetest.NewNetwork(ctx, computetest.NetworkConfig{Nodes: 3, Seed: 1})
	if err != nil {
		log.Fatal(err)
	}
	defer nw.Close()

	echo, err := os.ReadFile("testdata/echo.wasm") // copies stdin to stdout
	if err != nil {
		log.Fatal(err)
	}
	node := nw.Nodes[0].Compute()
	id, err := node.Submit(ctx, compute.Spec{Stdin: []byte("hello, fog\n"), Replicas: 3}, echo)
	if err != nil {
		log.Fatal(err)
	}
	res, err := node.Wait(ctx, id)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s: exit %d, %q\n", res.State, res.ExitCode, res.Stdout)
	fmt.Printf("agreed by %d of %d providers (quorum %d)\n", len(res.Providers), res.Replicas, res.Quorum)
	// Output:
	// done: exit 0, "hello, fog\n"
	// agreed by 3 of 3 providers (quorum 2)
}
