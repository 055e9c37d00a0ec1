// Package await waits in tests for a condition that a notification says
// when to look at again (a channel closed on every change, libp2p's
// connectedness events), instead of polling on the wall clock. The
// deadline only bounds a failure. It serves tests only; a package that
// uses it from non-test code is wrong.
package await

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/event"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/stretchr/testify/require"
)

// Until waits until cond holds, checking it whenever the channel updated
// returns is closed, for at most d (of the bubble's time inside a synctest
// bubble). It fails t with msgAndArgs if cond does not hold by then.
func Until(t testing.TB, d time.Duration, updated func() <-chan struct{}, cond func() bool, msgAndArgs ...any) {
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

// Conns waits until cond holds, looking again at every change of a peer's
// connectedness on any of hosts, for at most d.
func Conns(t testing.TB, d time.Duration, cond func() bool, hosts ...host.Host) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), d)
	defer cancel()
	changed := make(chan struct{}, 1)
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	for _, h := range hosts {
		sub, err := h.EventBus().Subscribe(new(event.EvtPeerConnectednessChanged))
		require.NoError(t, err)
		wg.Go(func() {
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
		})
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
