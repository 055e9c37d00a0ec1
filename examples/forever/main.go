//go:build wasip1

// Command forever is a fog task that never ends: it spins on a counter
// without calling the host, so only the executor's wall-time limit stops it.
//
// Build: GOOS=wasip1 GOARCH=wasm go build -o examples/bin/forever.wasm ./examples/forever
package main

import "fmt"

func main() {
	var n uint64
	for n != ^uint64(0) { // true for about 2^64 iterations: forever
		n++
	}
	fmt.Println(n)
}
