package token

import (
	"testing"

	"github.com/fog-compute/fog/internal/coretest"
)

// TestCoreImportsNoIO holds the package to its shape: it is the ledger's
// deterministic core, so nothing it depends on may do the node's I/O. The
// gossip, the store and the network are the shells' (token/ledgerstore,
// token/ledgersvc).
func TestCoreImportsNoIO(t *testing.T) {
	coretest.NoIO(t, "golang.org/x/crypto/blake2b", "github.com/fog-compute/fog/token/ledger")
}

// TestCoreReadsNoClock: time comes in as arguments (Node.Tick,
// Node.ProcessVote), so two Nodes given the same inputs do the same thing.
func TestCoreReadsNoClock(t *testing.T) { coretest.NoClock(t) }
