package cputime

import (
	"crypto/sha256"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestProcessCountsWork checks that the CPU time grows by about the work
// done: a loop that keeps one goroutine busy for a while.
func TestProcessCountsWork(t *testing.T) {
	before, ok := Process()
	if !ok {
		t.Skip("no CPU time on", runtime.GOOS)
	}
	var sum [32]byte
	var busy time.Duration
	for busy < 50*time.Millisecond {
		t0 := time.Now()
		for range 1000 {
			sum = sha256.Sum256(sum[:])
		}
		busy += time.Since(t0)
	}
	after, ok := Process()
	require.True(t, ok)
	// The process used at least part of the busy time as CPU (a loaded
	// machine may deschedule it, which the wall clock counts and the CPU
	// time does not), and CPU time never goes back.
	require.Greater(t, after-before, busy/10)
}
