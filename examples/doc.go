// Package examples holds real fog tasks written in Go, each a WASI command
// in its own directory (package main, built only for GOOS=wasip1):
//
//   - wordcount: lines, words and bytes of stdin, like wc
//   - primes: the number of primes up to N and the largest of them
//   - sha256sum: the hex SHA-256 of stdin
//   - forever: never ends (stopped by the wall-time limit)
//   - membomb: allocates without bound (stopped by the memory limit)
//
// Build one with
//
//	GOOS=wasip1 GOARCH=wasm go build -o examples/bin/NAME.wasm ./examples/NAME
//
// and run it with the executor in compute/wasm. This package itself has no
// code; it exists so that tools run on the host see a package here.
package examples
