package dm

import (
	"testing"

	"github.com/fog-compute/fog/internal/coretest"
)

// TestCoreImportsNoIO: the DM core does none of the node's I/O; streams,
// the store, the mix and the mailboxes are the shell's (package chatsvc).
func TestCoreImportsNoIO(t *testing.T) {
	coretest.NoIO(t, "github.com/flynn/noise", "github.com/fog-compute/fog/chat/chatsvc", "github.com/fog-compute/fog/chat/mailbox")
}

// TestCoreReadsNoClock: time comes in as arguments.
func TestCoreReadsNoClock(t *testing.T) { coretest.NoClock(t) }
