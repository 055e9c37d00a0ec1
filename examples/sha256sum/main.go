//go:build wasip1

// Command sha256sum is a fog task: it prints the SHA-256 of its standard
// input in hex, followed by "  -", as sha256sum does.
//
// Build: GOOS=wasip1 GOARCH=wasm go build -o examples/bin/sha256sum.wasm ./examples/sha256sum
package main

import (
	"crypto/sha256"
	"fmt"
	"io"
	"os"
)

func main() {
	h := sha256.New()
	if _, err := io.Copy(h, os.Stdin); err != nil {
		fmt.Fprintln(os.Stderr, "sha256sum:", err)
		os.Exit(1)
	}
	fmt.Printf("%x  -\n", h.Sum(nil))
}
