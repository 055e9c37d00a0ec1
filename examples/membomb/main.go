//go:build wasip1

// Command membomb is a fog task that allocates without bound: it keeps
// every 1 MiB block it allocates, and writes to each 4 KiB page of it so the
// memory is really used. Only the executor's memory limit stops it. It
// reports the MiB held so far on stderr every 16 MiB.
//
// Build: GOOS=wasip1 GOARCH=wasm go build -o examples/bin/membomb.wasm ./examples/membomb
package main

import (
	"fmt"
	"os"
)

func main() {
	var held [][]byte
	for {
		b := make([]byte, 1<<20)
		for i := 0; i < len(b); i += 4096 {
			b[i] = byte(len(held))
		}
		held = append(held, b)
		if len(held)%16 == 0 {
			fmt.Fprintf(os.Stderr, "%d MiB\n", len(held))
		}
	}
}
