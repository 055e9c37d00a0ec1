package mixsvc

import (
	"context"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/fog-compute/fog/mix/mixnet"
)

// link carries frames to one neighbour: a bounded queue and the goroutine
// that writes it, over one long-lived stream (1.1.0) or a stream per frame
// (1.0.0). It ends after LinkIdle without frames, or when Run stops.
type link struct {
	q chan []byte
	// tag protects the link's connection from the connection manager's
	// trimming while the link lives: a frame written on a connection the
	// manager then closes is lost without an error (seen in the simulator,
	// whose nodes trim above 48 connections: a last hop's link to a
	// recipient, which is no relay, was cut with frames in flight). One
	// tag per link, so that a link ending after its successor started
	// does not lift the successor's protection. The reader protects its
	// side once its handler runs (serve.go), and a link's stream is
	// opened with Protocol.OpenAccepted, which returns only once that
	// handler runs: a stream opened lazily went out with its first frame
	// and was lost without an error if the reader's connection manager
	// had just closed the connection (at 100 simulated nodes, trimming
	// above 48 connections, 162 frames in two minutes).
	tag string
}

// openTimeout bounds opening a stream to a neighbour.
const openTimeout = 10 * time.Second

// transmit queues a frame for its next hop, starting the link if needed.
func (s *Service) transmit(t mixnet.Transmit) {
	p, err := peerOf(t.To)
	if err != nil {
		s.countLinkDrop()
		return
	}
	if p == s.o.Host.ID() {
		// This node is the next hop (a relay of two layers in a row, or
		// the endpoint of its own loop): no network.
		s.receive(p, t.Frame)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ctx == nil || s.ctx.Err() != nil {
		s.stats.linkDrops++
		return
	}
	l := s.linkLocked(p)
	select {
	case l.q <- t.Frame:
	default:
		s.stats.linkDrops++
	}
}

// linkLocked returns p's link, starting it if needed.
func (s *Service) linkLocked(p peer.ID) *link {
	l := s.links[p]
	if l == nil {
		s.linkSeq++
		l = &link{q: make(chan []byte, s.cfg.LinkQueue), tag: fmt.Sprintf("%s-%d", linkTag, s.linkSeq)}
		s.o.Host.ConnManager().Protect(p, l.tag)
		s.links[p] = l
		ctx := s.ctx
		s.wg.Go(func() { s.runLink(ctx, p, l) })
	}
	return l
}

// unwarmLocked forgets epoch e's relays and returns those whose
// connections no epoch still in use needs protected, for the caller to
// unprotect outside the lock.
func (s *Service) unwarmLocked(e uint64) []peer.ID {
	gone := s.warm[e]
	delete(s.warm, e)
	var out []peer.ID
	for _, p := range gone {
		kept := false
		for _, ps := range s.warm {
			kept = kept || slices.Contains(ps, p)
		}
		if !kept {
			out = append(out, p)
		}
	}
	return out
}

// connTag protects the connections to the relays of the directories in
// use.
const connTag = "mix-relay"

// linkTag prefixes the tags that protect the connections of open links.
const linkTag = "mix-link"

func (s *Service) countLinkDrop() {
	s.mu.Lock()
	s.stats.linkDrops++
	s.mu.Unlock()
}

// runLink writes a link's frames until it idles out or ctx ends.
func (s *Service) runLink(ctx context.Context, p peer.ID, l *link) {
	var st network.Stream
	defer func() {
		if st != nil {
			_ = st.Close()
		}
		s.o.Host.ConnManager().Unprotect(p, l.tag)
		s.mu.Lock()
		if s.links[p] == l {
			delete(s.links, p)
		}
		// Frames queued after the link was removed from the map are lost,
		// as on a broken link; count them.
		s.stats.linkDrops += uint64(len(l.q))
		s.mu.Unlock()
	}()
	// Open at once: the link exists because a frame or a directory needs
	// it.
	if st == nil {
		octx, cancel := context.WithTimeout(ctx, openTimeout)
		var err error
		if st, err = Protocol.OpenAccepted(octx, s.o.Host, p); err != nil {
			st = nil
			s.mu.Lock()
			s.stats.openErrors++
			s.mu.Unlock()
		}
		cancel()
	}
	idle := s.clock.NewTimer(s.cfg.LinkIdle)
	defer idle.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-idle.C():
			s.mu.Lock()
			if len(l.q) == 0 {
				delete(s.links, p)
				s.mu.Unlock()
				return
			}
			s.mu.Unlock()
			idle.Reset(s.cfg.LinkIdle)
		case f := <-l.q:
			idle.Stop()
			idle.Reset(s.cfg.LinkIdle)
			var err error
			if st, err = s.write(ctx, p, st, f); err != nil {
				s.countLinkDrop()
				s.log.Debug("mix link", "peer", p, "err", err)
			}
		}
	}
}

// write sends one frame to p on st (opening a stream if st is nil or
// broken) and returns the stream to keep for the next frame, nil under
// 1.0.0.
func (s *Service) write(ctx context.Context, p peer.ID, st network.Stream, f []byte) (network.Stream, error) {
	for try := 0; try < 2; try++ {
		if st == nil {
			octx, cancel := context.WithTimeout(ctx, openTimeout)
			var err error
			st, err = Protocol.OpenAccepted(octx, s.o.Host, p)
			cancel()
			if err != nil {
				s.mu.Lock()
				s.stats.openErrors++
				s.mu.Unlock()
				return nil, err
			}
		}
		at := s.clock.Now()
		_ = st.SetWriteDeadline(at.Add(openTimeout))
		_, err := st.Write(f)
		if err == nil {
			// On the wire since the write began, where an observer of the
			// link sees it (a frame waiting for its link to open is not
			// on one yet). Stamped before the write: a writer descheduled
			// after it returns would otherwise see its frame leave after
			// the reader saw it arrive.
			s.observeAt(s.o.Host.ID(), p, false, at)
		}
		if err == nil && st.Protocol() == version11 {
			return st, nil
		}
		if err == nil {
			// 1.0.0: one frame per stream.
			return nil, st.Close()
		}
		_ = st.Reset()
		st = nil
		if try == 1 {
			return nil, err
		}
	}
	return nil, io.ErrClosedPipe
}
