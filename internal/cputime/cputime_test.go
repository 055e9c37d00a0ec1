package cputime

import (
	"crypto/sha256"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestProcessCountsWork checks that the CPU time grows with work: a loop
// that keeps one goroutine busy until the reading has advanced by 20 ms.
// It fails if it never does (a clock that does not count this process's
// work), whatever the load on the machine.
func TestProcessCountsWork(t *testing.T) {
	before, ok := Process()
	if !ok {
		t.Skip("no CPU time on", runtime.GOOS)
	}
	var sum [32]byte
	deadline := time.Now().Add(10 * time.Second)
	for {
		for range 1000 {
			sum = sha256.Sum256(sum[:])
		}
		now, ok := Process()
		require.True(t, ok)
		require.GreaterOrEqual(t, now, before, "CPU time went back")
		if now-before >= 20*time.Millisecond {
			return
		}
		require.True(t, time.Now().Before(deadline), "10 s of work added only %v of CPU time", now-before)
	}
}
