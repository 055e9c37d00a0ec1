package mixnet

import (
	"testing"

	"github.com/fog-compute/fog/internal/coretest"
)

// TestCoreImportsNoIO: the mix's core does none of the node's I/O; links,
// the store and the lottery are the shell's (package mixsvc).
func TestCoreImportsNoIO(t *testing.T) {
	coretest.NoIO(t, "github.com/fog-compute/fog/mix/sphinx", "github.com/fog-compute/fog/mix/mixnet/mixsvc")
}

// TestCoreReadsNoClock: time comes in as arguments (Node.Tick,
// Node.Receive, Node.Send).
func TestCoreReadsNoClock(t *testing.T) { coretest.NoClock(t) }
