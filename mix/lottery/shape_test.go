package lottery

import (
	"testing"

	"github.com/fog-compute/fog/internal/coretest"
)

// TestCoreImportsNoIO holds the package to its shape: it is the lottery's
// deterministic core, so nothing it depends on may do the node's I/O. The
// gossip, the store and the network are the shell's (package lotterysvc).
func TestCoreImportsNoIO(t *testing.T) {
	coretest.NoIO(t, "github.com/fog-compute/fog/mix/vrf", "github.com/fog-compute/fog/mix/lottery/lotterysvc")
}

// TestCoreReadsNoClock: time comes in as arguments (Node.Tick,
// Node.Receive), so two Nodes given the same inputs do the same thing.
func TestCoreReadsNoClock(t *testing.T) { coretest.NoClock(t) }
