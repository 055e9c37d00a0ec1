package mixsvc

import (
	"io"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"golang.org/x/time/rate"

	"github.com/fog-compute/fog/mix/mixnet"
	"github.com/fog-compute/fog/p2p"
)

// handle reads frames from a stream: one under 1.0.0, any number under
// 1.1.0. Protocol.Handle's limits bound the streams and reset one that
// stays silent.
func (s *Service) handle(st network.Stream) {
	defer func() { _ = st.Close() }()
	defer s.reading(st.Conn().RemotePeer())()
	size := s.frameSize()
	stream := st.Protocol() == version11
	for {
		f := make([]byte, size)
		if _, err := io.ReadFull(st, f); err != nil {
			if err != io.EOF {
				// A reset (by the writer, the connection's end or the
				// server's idle watch) or a partial frame.
				_ = st.Reset()
				s.mu.Lock()
				s.stats.readErrors++
				s.mu.Unlock()
			}
			return
		}
		p2p.Touch(st)
		s.receive(st.Conn().RemotePeer(), f)
		if !stream {
			return
		}
	}
}

// readTag protects the connections this node reads mix frames from.
const readTag = "mix-read"

// reading protects the connection from p from the connection manager's
// trimming while a stream from p is read, and returns what lifts the
// protection once the last such stream ends: the writer protects its side
// (see link), but the reader's connection manager could otherwise close
// the connection with frames on their way, lost where no one counts them.
func (s *Service) reading(p peer.ID) func() {
	s.mu.Lock()
	s.readers[p]++
	if s.readers[p] == 1 {
		s.o.Host.ConnManager().Protect(p, readTag)
	}
	s.mu.Unlock()
	return func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.readers[p]--; s.readers[p] == 0 {
			delete(s.readers, p)
			s.o.Host.ConnManager().Unprotect(p, readTag)
		}
	}
}

func (s *Service) frameSize() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.node.FrameSize()
}

// maxLimiters bounds the per-peer rate limiters kept; beyond it they are
// all forgotten (each peer then starts with a full burst again, which the
// stream limits still bound).
const maxLimiters = 4096

// receive hands a frame from p to the core, within p's frame rate, or
// parks it until the sync loop gives the core its epoch. It never waits for
// the lottery or the store: it runs on the reader of a link, whose next
// frames wait behind it.
func (s *Service) receive(p peer.ID, f []byte) {
	if p != s.o.Host.ID() {
		s.observe(p, s.o.Host.ID(), true)
	}
	s.mu.Lock()
	lim := s.limiters[p]
	if lim == nil {
		if len(s.limiters) >= maxLimiters {
			clear(s.limiters)
		}
		lim = rate.NewLimiter(rate.Limit(s.cfg.FrameRate), s.cfg.FrameRate)
		s.limiters[p] = lim
	}
	if !lim.AllowN(s.clock.Now(), 1) {
		s.stats.rateDrops++
		s.mu.Unlock()
		return
	}
	if e, ok := mixnet.RelayEpoch(f); ok && !s.given[e] && s.parkLocked(e, f) {
		// A packet of an epoch whose directory the core does not have yet
		// (its sender's lottery closed it first): it waits for the sync
		// loop, which this reader does not wait for.
		s.mu.Unlock()
		s.wakeSync()
		return
	}
	eff := s.open(s.node.Prepare(f))
	// The core holds every relayed packet for the next Tick, so nothing
	// here is a relayed packet whose replay tag must be synced first: these
	// are ACKs (without cover) and replay tags to queue.
	s.apply(eff)
	s.poke()
}

// open removes the Sphinx layer of a frame the core prepared, without the
// lock, so that the readers of many links unwrap at once and the lock is
// held only for the core's look-ups; then it finishes the frame in the core.
// Called with s.mu held; returns with it released.
func (s *Service) open(o *mixnet.Opening) []mixnet.Effect {
	s.mu.Unlock()
	o.Open()
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.node.Finish(s.clock.Now(), o)
}
