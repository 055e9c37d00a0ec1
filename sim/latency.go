package sim

import (
	"errors"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/network"

	"github.com/fog-compute/fog/internal/clock"
)

// errStreamClosed is what a write to a laggedStream returns after Close.
var errStreamClosed = errors.New("sim: write on a closed stream")

// maxInFlight bounds the bytes a laggedStream holds in flight; a write
// beyond it waits, as a sender waits for a full window on a real link.
const maxInFlight = 1 << 20

// laggedStream gives a stream its link's one-way latency: every write
// reaches the other end latency after it was made, in order, and writes are
// pipelined — a write does not wait for the one before it to arrive.
//
// mocknet's own link latency is not used for node links because it lets
// only one write of 256 bytes or more be in flight per stream: the stream
// waits out the latency before it takes the next write. A stream that
// carries a 1 KiB message every 100 ms over a 120 ms link then falls
// further and further behind, which no real link does; gossip spread in
// the simulator measured seconds instead of hundreds of milliseconds.
type laggedStream struct {
	network.Stream
	lat time.Duration
	clk clock.Clock

	mu       sync.Mutex
	cond     *sync.Cond // signalled when the queue shrinks or the state changes
	queue    []lagged
	bytes    int           // bytes in queue
	running  bool          // a deliver goroutine owns the queue's head
	err      error         // first failure; later writes return it
	closing  bool          // Close or CloseWrite was called
	reset    chan struct{} // closed by Reset: the deliverer stops waiting
	resetOne sync.Once
}

// lagged is one write and when it arrives.
type lagged struct {
	b  []byte
	at time.Time
}

// lag wraps s with latency lat on clk; with lat 0 it returns s itself.
func lag(s network.Stream, lat time.Duration, clk clock.Clock) network.Stream {
	if lat <= 0 {
		return s
	}
	l := &laggedStream{Stream: s, lat: lat, clk: clk, reset: make(chan struct{})}
	l.cond = sync.NewCond(&l.mu)
	return l
}

// Write queues a copy of p to arrive one latency from now.
func (s *laggedStream) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for s.err == nil && !s.closing && s.bytes > 0 && s.bytes+len(p) > maxInFlight {
		s.cond.Wait()
	}
	switch {
	case s.err != nil:
		return 0, s.err
	case s.closing:
		return 0, errStreamClosed
	case len(p) == 0:
		return 0, nil
	}
	s.queue = append(s.queue, lagged{b: append([]byte(nil), p...), at: s.clk.Now().Add(s.lat)})
	s.bytes += len(p)
	if !s.running {
		s.running = true
		go s.deliver()
	}
	return len(p), nil
}

// deliver writes the queued writes through as they arrive, and returns when
// the queue is empty or the stream failed or was reset.
func (s *laggedStream) deliver() {
	s.mu.Lock()
	defer s.mu.Unlock()
	var t clock.Timer
	defer func() {
		if t != nil {
			t.Stop()
		}
	}()
	for len(s.queue) > 0 && s.err == nil {
		m := s.queue[0]
		s.mu.Unlock()
		if d := clock.Until(s.clk, m.at); d > 0 {
			if t == nil {
				t = s.clk.NewTimer(d)
			} else {
				t.Reset(d)
			}
			select {
			case <-t.C():
			case <-s.reset:
			}
		}
		var err error
		select {
		case <-s.reset:
			err = network.ErrReset
		default:
			_, err = s.Stream.Write(m.b)
		}
		s.mu.Lock()
		if err != nil && s.err == nil {
			s.err = err
		}
		if len(s.queue) > 0 {
			s.queue[0] = lagged{}
			s.queue = s.queue[1:]
			s.bytes -= len(m.b)
		}
		s.cond.Broadcast()
	}
	s.running = false
	s.cond.Broadcast()
}

// drain marks the stream closing and waits until every queued write has
// been delivered (or the stream failed); it returns the failure.
func (s *laggedStream) drain() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closing = true
	s.cond.Broadcast()
	for s.running {
		s.cond.Wait()
	}
	return s.err
}

// CloseWrite delivers what was written, then closes the stream for writing.
func (s *laggedStream) CloseWrite() error {
	if err := s.drain(); err != nil && !errors.Is(err, network.ErrReset) {
		_ = s.Stream.Reset()
		return err
	}
	return s.Stream.CloseWrite()
}

// Close delivers what was written, then closes the stream.
func (s *laggedStream) Close() error {
	if err := s.drain(); err != nil && !errors.Is(err, network.ErrReset) {
		_ = s.Stream.Reset()
		return err
	}
	return s.Stream.Close()
}

// Reset drops what is in flight and resets the stream.
func (s *laggedStream) Reset() error {
	s.stop()
	return s.Stream.Reset()
}

// ResetWithError drops what is in flight and resets the stream.
func (s *laggedStream) ResetWithError(code network.StreamErrorCode) error {
	s.stop()
	return s.Stream.ResetWithError(code)
}

func (s *laggedStream) stop() {
	s.resetOne.Do(func() { close(s.reset) })
	s.mu.Lock()
	if s.err == nil {
		s.err = network.ErrReset
	}
	s.queue, s.bytes = nil, 0
	s.cond.Broadcast()
	s.mu.Unlock()
}
