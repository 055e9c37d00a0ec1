package p2p

import (
	"errors"
	"fmt"
	"github.com/fog-compute/fog/internal/notify"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fog-compute/fog/internal/clock"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
)

// ErrLimits is wrapped by the error Limits.Validate returns.
var ErrLimits = errors.New("p2p: invalid stream limits")

// TagValue is the weight, in the connection manager, of a peer with which
// this node spoke a fog protocol (either way). Peers without it — idle
// connections that never opened a fog protocol — are trimmed first; the
// DHT's own routing-table tag (5) ranks below it, so a peer we exchange
// tasks or modules with outlives one we only route through.
const TagValue = 20

// Limits bound the inbound streams of one protocol. Protocol.Handle
// enforces them in fog's own code, so they hold on every host, including
// mocknet's, which has no resource manager.
type Limits struct {
	// Streams bounds the streams served at once, from every peer.
	Streams int
	// StreamsPerPeer bounds the streams served at once to one peer, so that
	// one peer cannot take all of Streams.
	StreamsPerPeer int
	// Idle is how long a stream may go without a byte read or written
	// before it is reset; a reset unblocks a handler stuck in Read or
	// Write on any transport.
	Idle time.Duration
	// Lifetime bounds a stream from its opening: it is reset then, whatever
	// it is doing.
	Lifetime time.Duration
	// Refuse, if set, is given a stream that came beyond Streams or
	// StreamsPerPeer, to tell the peer (a protocol's "busy" message) before
	// the stream is closed. It runs under the Idle deadline. Nil resets
	// such streams without a word.
	Refuse func(network.Stream)
	// Clock times the Idle and Lifetime deadlines: the owning service's
	// Config.Clock. Nil means clock.Real(), so that a handler registered
	// without one still has deadlines.
	Clock clock.Clock
}

// clock is l.Clock, or the real clock if none is set.
func (l Limits) clock() clock.Clock {
	if l.Clock != nil {
		return l.Clock
	}
	return clock.Real()
}

// Validate reports the first field of l with a bad value, naming it.
func (l Limits) Validate() error {
	switch {
	case l.Streams < 1:
		return fmt.Errorf("%w: Streams %d, need at least 1", ErrLimits, l.Streams)
	case l.StreamsPerPeer < 1 || l.StreamsPerPeer > l.Streams:
		return fmt.Errorf("%w: StreamsPerPeer %d is outside [1, Streams=%d]", ErrLimits, l.StreamsPerPeer, l.Streams)
	case l.Idle <= 0:
		return fmt.Errorf("%w: Idle %v must be positive", ErrLimits, l.Idle)
	case l.Lifetime < l.Idle:
		return fmt.Errorf("%w: Lifetime %v is below Idle %v", ErrLimits, l.Lifetime, l.Idle)
	}
	return nil
}

// ServerStats are a Server's counters.
type ServerStats struct {
	// Serving is the streams being served now; Peers the peers they come
	// from.
	Serving int `json:"serving"`
	Peers   int `json:"peers"`
	// Served counts streams handed to the handler; Refused those beyond
	// the limits; TimedOut those reset for idleness or age.
	Served   uint64 `json:"served"`
	Refused  uint64 `json:"refused"`
	TimedOut uint64 `json:"timed_out"`
}

// Server serves one protocol's inbound streams within its Limits. It is
// safe for concurrent use.
type Server struct {
	h     host.Host
	tag   string
	lim   Limits
	inner network.StreamHandler

	mu      sync.Mutex
	serving int
	perPeer map[peer.ID]int

	served, refused, timedOut atomic.Uint64
	changed                   notify.Signal
}

// Handle serves every version of p on h with handler, within lim: streams
// beyond lim's counts are refused (lim.Refuse, then closed) without
// reaching handler, and a stream idle for lim.Idle or older than
// lim.Lifetime is reset, which ends the handler's blocked reads and
// writes. The handler learns the negotiated version from s.Protocol()
// (see VersionOf). The peer is tagged in h's connection manager (see
// TagValue).
func (p Protocol) Handle(h host.Host, lim Limits, handler network.StreamHandler) (*Server, error) {
	if err := lim.Validate(); err != nil {
		return nil, fmt.Errorf("p2p: protocol %s: %w", p.name, err)
	}
	s := &Server{h: h, tag: p.tag(), lim: lim, inner: handler, perPeer: make(map[peer.ID]int)}
	for _, id := range p.IDs() {
		h.SetStreamHandler(id, s.handle)
	}
	return s, nil
}

// tag is the connection manager tag of peers that spoke p.
func (p Protocol) tag() string { return "fog-" + p.name }

// Changed returns a channel closed at the next change of Stats (a stream
// starting, ending or refused), so that a caller can wait for a count
// without polling.
func (s *Server) Changed() <-chan struct{} { return s.changed.Wait() }

// Stats returns the server's counters.
func (s *Server) Stats() ServerStats {
	s.mu.Lock()
	st := ServerStats{Serving: s.serving, Peers: len(s.perPeer)}
	s.mu.Unlock()
	st.Served, st.Refused, st.TimedOut = s.served.Load(), s.refused.Load(), s.timedOut.Load()
	return st
}

func (s *Server) handle(st network.Stream) { s.serve(st, s.inner) }

// serve runs inner on st within the server's limits.
func (s *Server) serve(st network.Stream, inner network.StreamHandler) {
	p := st.Conn().RemotePeer()
	s.mu.Lock()
	ok := s.serving < s.lim.Streams && s.perPeer[p] < s.lim.StreamsPerPeer
	if ok {
		s.serving++
		s.perPeer[p]++
	}
	s.mu.Unlock()
	if !ok {
		s.refused.Add(1)
		s.changed.Notify()
		if s.lim.Refuse == nil {
			_ = st.Reset()
			return
		}
		w := newWatch(s.lim.clock(), st, s.lim.Idle, s.lim.Idle, nil)
		s.lim.Refuse(w)
		if !w.ended.Load() {
			_ = w.Close()
		}
		w.stop()
		return
	}
	defer func() {
		s.mu.Lock()
		s.serving--
		if s.perPeer[p]--; s.perPeer[p] <= 0 {
			delete(s.perPeer, p)
		}
		s.mu.Unlock()
		s.changed.Notify()
	}()
	s.served.Add(1)
	s.h.ConnManager().TagPeer(p, s.tag, TagValue)
	s.changed.Notify()
	w := newWatch(s.lim.clock(), st, s.lim.Idle, s.lim.Lifetime, &s.timedOut)
	defer w.stop()
	inner(w)
}

// watched is a stream under a watchdog: reads and writes that move bytes
// renew its idle deadline; when the deadline or the stream's lifetime
// passes, the stream is reset, which ends a blocked Read or Write on every
// transport (stream deadlines would not: mocknet ignores them, and they
// leave the stream open). A handler that returns without closing or
// resetting its stream has it reset.
type watched struct {
	network.Stream
	clock   clock.Clock
	idle    time.Duration
	end     time.Time
	last    atomic.Int64 // unix nanoseconds of the last progress
	ended   atomic.Bool  // the handler closed or reset the stream
	timer   clock.Timer
	mu      sync.Mutex // guards fired and stopped against the timer
	fired   bool
	stopped bool
	count   *atomic.Uint64
}

func newWatch(c clock.Clock, st network.Stream, idle, lifetime time.Duration, count *atomic.Uint64) *watched {
	now := c.Now()
	w := &watched{Stream: st, clock: c, idle: idle, end: now.Add(lifetime), count: count}
	w.last.Store(now.UnixNano())
	w.mu.Lock() // check uses the timer
	w.timer = c.AfterFunc(min(idle, lifetime), w.check)
	w.mu.Unlock()
	return w
}

// check runs when the idle deadline may have passed: it resets the stream
// if it has, or waits for the renewed deadline.
func (w *watched) check() {
	now := w.clock.Now()
	due := earliest(time.Unix(0, w.last.Load()).Add(w.idle), w.end)
	w.mu.Lock()
	if w.stopped {
		w.mu.Unlock()
		return
	}
	if now.Before(due) {
		w.timer.Reset(due.Sub(now))
		w.mu.Unlock()
		return
	}
	w.fired = true
	w.mu.Unlock()
	if w.count != nil {
		w.count.Add(1)
	}
	_ = w.Stream.Reset()
}

// progress renews the idle deadline (never past the lifetime).
func (w *watched) progress() { w.last.Store(w.clock.Now().UnixNano()) }

func earliest(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// stop disarms the watchdog, resets the stream if the handler left it
// open, and reports whether the stream was ended (by the watchdog or the
// handler).
func (w *watched) stop() bool {
	w.mu.Lock()
	w.stopped = true
	w.timer.Stop()
	fired := w.fired
	w.mu.Unlock()
	if fired || w.ended.Load() {
		return true
	}
	_ = w.Stream.Reset()
	return true
}

// Close closes the stream.
func (w *watched) Close() error {
	w.ended.Store(true)
	return w.Stream.Close()
}

// Reset resets the stream.
func (w *watched) Reset() error {
	w.ended.Store(true)
	return w.Stream.Reset()
}

// ResetWithError resets the stream with an error code.
func (w *watched) ResetWithError(code network.StreamErrorCode) error {
	w.ended.Store(true)
	return w.Stream.ResetWithError(code)
}

// Read reads from the stream; bytes read renew the idle deadline.
func (w *watched) Read(b []byte) (int, error) {
	n, err := w.Stream.Read(b)
	if n > 0 {
		w.progress()
	}
	return n, err
}

// Write writes to the stream; bytes written renew the idle deadline.
func (w *watched) Write(b []byte) (int, error) {
	n, err := w.Stream.Write(b)
	if n > 0 {
		w.progress()
	}
	return n, err
}

// Touch renews the idle deadline of a stream served by Handle, for a
// handler that waits on something else (a download the conversation
// depends on) while the stream is quiet. It does nothing to other
// streams.
func Touch(st network.Stream) {
	if w, ok := st.(*watched); ok {
		w.progress()
	}
}

// Unhandle removes the handlers Handle installed.
func (p Protocol) Unhandle(h host.Host) {
	for _, id := range p.IDs() {
		h.RemoveStreamHandler(id)
	}
}
