package cputime_test

import (
	"crypto/sha256"
	"fmt"

	"github.com/fog-compute/fog/internal/cputime"
)

func Example() {
	before, ok := cputime.Process()
	if !ok {
		fmt.Println("no CPU time here")
		return
	}
	sum := sha256.Sum256(nil)
	for range 10000 {
		sum = sha256.Sum256(sum[:])
	}
	after, _ := cputime.Process()
	fmt.Println("CPU time went forward:", after >= before)
	// Output: CPU time went forward: true
}
