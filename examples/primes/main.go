//go:build wasip1

// Command primes is a fog task: it sieves the primes up to N (its first
// argument) and prints "N count last": how many primes are <= N and the
// largest of them (0 if none).
//
// Build: GOOS=wasip1 GOARCH=wasm go build -o examples/bin/primes.wasm ./examples/primes
package main

import (
	"fmt"
	"os"
	"strconv"
)

// maxN bounds the sieve (one byte per number) to keep it within a task's
// default memory limit.
const maxN = 50_000_000

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: primes N")
		os.Exit(2)
	}
	n, err := strconv.Atoi(os.Args[1])
	if err != nil || n < 0 || n > maxN {
		fmt.Fprintf(os.Stderr, "primes: N must be an integer in [0, %d]\n", maxN)
		os.Exit(2)
	}
	count, last := sieve(n)
	fmt.Printf("%d %d %d\n", n, count, last)
}

// sieve returns the number of primes <= n and the largest one.
func sieve(n int) (count, last int) {
	composite := make([]bool, n+1)
	for i := 2; i <= n; i++ {
		if composite[i] {
			continue
		}
		count++
		last = i
		for j := i * i; j <= n; j += i {
			composite[j] = true
		}
	}
	return count, last
}
