package blob

import (
	"fmt"
	"io"
	"sync/atomic"
	"time"

	"github.com/fog-compute/fog/internal/clock"
	"github.com/libp2p/go-libp2p/core/network"
)

// watchdog resets a stream that makes no progress for idle or outlives its
// total time. It sets the stream's deadlines too, but does not rely on
// them: not every transport honours them (mocknet's streams ignore them),
// and a reset unblocks a read or write on any of them.
type watchdog struct {
	clock clock.Clock
	st    network.Stream
	end   time.Time
	idle  time.Duration
	timer clock.Timer
	fired atomic.Bool
}

func newWatchdog(c clock.Clock, st network.Stream, total, idle time.Duration) *watchdog {
	w := &watchdog{clock: c, st: st, end: c.Now().Add(total), idle: idle}
	d := w.next()
	_ = st.SetDeadline(c.Now().Add(d))
	w.timer = c.AfterFunc(d, func() {
		w.fired.Store(true)
		_ = st.Reset()
	})
	return w
}

// next is how long the stream may now go without progress.
func (w *watchdog) next() time.Duration { return min(w.idle, clock.Until(w.clock, w.end)) }

// progress restarts the idle timer (but never past the total time).
func (w *watchdog) progress() {
	d := w.next()
	w.timer.Reset(d)
	_ = w.st.SetDeadline(w.clock.Now().Add(d))
}

// stop disarms the watchdog.
func (w *watchdog) stop() { w.timer.Stop() }

// err attributes err to the watchdog if it reset the stream.
func (w *watchdog) err(err error) error {
	if w.fired.Load() {
		return fmt.Errorf("%w (%v)", ErrTimeout, err)
	}
	return err
}

// progressReader tells the watchdog of every read that returns bytes.
type progressReader struct {
	r io.Reader
	w *watchdog
}

func (p progressReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	if n > 0 {
		p.w.progress()
	}
	return n, err
}
