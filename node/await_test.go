package node

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/event"
	"github.com/stretchr/testify/require"
)

// The node tests run real nodes on loopback TCP, which cannot run in a
// synctest bubble (a goroutine blocked on a socket is not durably blocked).
// What they wait for they await through the notification the node's parts
// give (a directory's Updated channel, libp2p's connectedness events); the
// deadline only bounds a failure.

// await waits until cond holds, checking it whenever updated's channel is
// closed, for at most d.
func await(t *testing.T, d time.Duration, updated func() <-chan struct{}, cond func() bool, msgAndArgs ...any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), d)
	defer cancel()
	for {
		ch := updated()
		if cond() {
			return
		}
		select {
		case <-ch:
		case <-ctx.Done():
			require.True(t, cond(), msgAndArgs...)
			return
		}
	}
}

// awaitDirectory waits until n's capacity directory holds want adverts.
func awaitDirectory(t *testing.T, n *Node, want int, msgAndArgs ...any) {
	t.Helper()
	d := n.Gossip().Directory()
	await(t, 30*time.Second, d.Updated, func() bool { return d.Len() == want }, msgAndArgs...)
}

// awaitConns waits until cond holds, looking again at every change of a
// peer's connectedness on any of nodes, for at most d.
func awaitConns(t *testing.T, d time.Duration, cond func() bool, nodes ...*testNode) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), d)
	defer cancel()
	changed := make(chan struct{}, 1)
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	for _, n := range nodes {
		sub, err := n.Host().EventBus().Subscribe(new(event.EvtPeerConnectednessChanged))
		require.NoError(t, err)
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer sub.Close()
			for {
				select {
				case <-sub.Out():
					select {
					case changed <- struct{}{}:
					default:
					}
				case <-ctx.Done():
					return
				}
			}
		}()
	}
	for !cond() {
		select {
		case <-changed:
		case <-ctx.Done():
			require.True(t, cond(), "condition not met within %s", d)
			return
		}
	}
}
