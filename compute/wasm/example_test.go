package wasm_test

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/fog-compute/fog/compute/wasm"
)

func Example() {
	ctx := context.Background()
	exec, err := wasm.New(ctx, wasm.DefaultConfig())
	if err != nil {
		panic(err)
	}
	defer exec.Close()

	// A module arrives with its ID (say, from a peer): check and compile it.
	code, err := os.ReadFile("testdata/minimal.wasm")
	if err != nil {
		panic(err)
	}
	id := wasm.IDOf(code)
	if err := exec.Load(ctx, id, code); err != nil {
		panic(err)
	}

	res, err := exec.Run(ctx, wasm.Spec{
		Module: id,
		Args:   []string{"minimal"},
		Limits: wasm.Limits{MemoryPages: 16, WallTime: time.Second, OutputBytes: 1 << 10},
	})
	if err != nil {
		panic(err)
	}
	fmt.Printf("exit %d, deterministic %t, peak memory %d KiB\n", res.ExitCode, !res.NonDeterministic, res.Usage.PeakMemoryBytes>>10)
	fmt.Print(string(res.Stdout))
	// Output:
	// exit 0, deterministic true, peak memory 64 KiB
	// hello, fog
}
