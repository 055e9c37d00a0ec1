package p2p

import (
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/host"

	"github.com/fog-compute/fog/internal/await"
	"github.com/fog-compute/fog/internal/clock"
)

// awaitConns waits until cond holds, looking again at every change of a
// peer's connectedness on any of hosts, for at most d: libp2p's events say
// when to look, instead of a poll on the wall clock. The tests on real
// TCP hosts cannot run in a synctest bubble (a goroutine blocked on a
// socket is not durably blocked), so d only bounds a failure.
func awaitConns(t *testing.T, d time.Duration, cond func() bool, hosts ...host.Host) {
	t.Helper()
	await.Conns(t, d, cond, hosts...)
}

// timerClock is the real clock that reports every timer made on it: the
// bootstrapper makes one after each failed dial, once it has recorded the
// failure.
type timerClock struct {
	clock.Clock
	made chan time.Duration
}

func (c timerClock) NewTimer(d time.Duration) clock.Timer {
	t := c.Clock.NewTimer(d)
	select {
	case c.made <- d:
	default:
	}
	return t
}
