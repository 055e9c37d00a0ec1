package wasm

import (
	"context"
	"github.com/fog-compute/fog/internal/notify"
	"sync"
)

// Live is the output of a task while it runs: what the guest has written
// to stdout and stderr so far, readable from other goroutines. It holds
// no copy of its own: it shares the run's output buffers, which the
// output limit bounds (Limits.OutputBytes), and which the guest's writes
// only append to, under the Live's lock. A Live given to a run (WithLive) must not be given to
// another; it keeps the run's output after the run ends.
type Live struct {
	mu             sync.Mutex
	stdout, stderr []byte
	written        notify.Signal
	onWrite        func()
}

// NewLive returns a Live that calls onWrite (if not nil) after each write
// of the guest, outside the Live's lock; it must be quick. The zero Live
// (new(Live)) has none.
func NewLive(onWrite func()) *Live { return &Live{onWrite: onWrite} }

// Written returns a channel closed at the guest's next write, so that a
// reader can wait for output without polling.
func (l *Live) Written() <-chan struct{} { return l.written.Wait() }

// WithLive returns a context under which Executor.Run publishes the
// task's output to l as the guest writes it.
func WithLive(ctx context.Context, l *Live) context.Context {
	return context.WithValue(ctx, liveKey{}, l)
}

type liveKey struct{}

func liveOf(ctx context.Context) *Live {
	l, _ := ctx.Value(liveKey{}).(*Live)
	return l
}

// Len returns the sizes of the output written so far.
func (l *Live) Len() (stdout, stderr int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.stdout), len(l.stderr)
}

// Read copies the output written so far from the given offsets, at most
// max bytes of each stream (max <= 0: all of it). An offset beyond what
// was written reads nothing.
func (l *Live) Read(stdoutOff, stderrOff, max int) (stdout, stderr []byte) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return window(l.stdout, stdoutOff, max), window(l.stderr, stderrOff, max)
}

func window(b []byte, off, max int) []byte {
	if off < 0 || off >= len(b) {
		return nil
	}
	b = b[off:]
	if max > 0 && len(b) > max {
		b = b[:max]
	}
	return append([]byte(nil), b...)
}
