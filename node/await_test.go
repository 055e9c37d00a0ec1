package node

import (
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/host"

	"github.com/fog-compute/fog/internal/await"
)

// The node tests run real nodes on loopback TCP, which cannot run in a
// synctest bubble (a goroutine blocked on a socket is not durably blocked).
// What they wait for they await through the notification the node's parts
// give (a directory's Updated channel, libp2p's connectedness events); the
// deadline only bounds a failure.

// awaitDirectory waits until n's capacity directory holds want adverts.
func awaitDirectory(t *testing.T, n *Node, want int, msgAndArgs ...any) {
	t.Helper()
	d := n.Gossip().Directory()
	await.Until(t, 30*time.Second, d.Updated, func() bool { return d.Len() == want }, msgAndArgs...)
}

// awaitConns waits until cond holds, looking again at every change of a
// peer's connectedness on any of nodes, for at most d.
func awaitConns(t *testing.T, d time.Duration, cond func() bool, nodes ...*testNode) {
	t.Helper()
	hosts := make([]host.Host, len(nodes))
	for i, n := range nodes {
		hosts[i] = n.Host()
	}
	await.Conns(t, d, cond, hosts...)
}
