package channel

import (
	"bufio"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
)

func sha256Sum(b []byte) [32]byte { return sha256.Sum256(b) }

// SyncStats is what one history sync cost and brought.
type SyncStats struct {
	// Rounds is the reconciliation round trips.
	Rounds int
	// Sent and Received are the bytes written and read on the stream.
	Sent, Received int
	// Have and Need are the differences found: our messages the peer
	// lacks, and its messages we lack.
	Have, Need int
	// Stored is the messages fetched, verified and stored.
	Stored int
}

func (a *SyncStats) add(b SyncStats) {
	a.Rounds += b.Rounds
	a.Sent += b.Sent
	a.Received += b.Received
	a.Have += b.Have
	a.Need += b.Need
	a.Stored += b.Stored
}

// Sync reconciles the histories of the named channels (every joined
// channel if none is named) with peer p and fetches what p has and this
// node lacks, verifying each message before storing it. It returns the
// summed statistics and the first error; a channel p refuses or fails is
// skipped after the error is recorded.
func (s *Service) Sync(ctx context.Context, p peer.ID, channels ...string) (SyncStats, error) {
	var js []*joined
	if len(channels) == 0 {
		js = s.joinedList()
	}
	for _, name := range channels {
		j, err := s.channel(name)
		if err != nil {
			return SyncStats{}, err
		}
		js = append(js, j)
	}
	var total SyncStats
	var first error
	for _, j := range js {
		st, err := s.syncChannel(ctx, p, j)
		total.add(st)
		if err != nil && first == nil {
			first = err
		}
	}
	return total, first
}

// countRW counts a stream's bytes.
type countRW struct {
	rw       io.ReadWriter
	sent     int
	received int
}

func (c *countRW) Read(b []byte) (int, error) {
	n, err := c.rw.Read(b)
	c.received += n
	return n, err
}

func (c *countRW) Write(b []byte) (int, error) {
	n, err := c.rw.Write(b)
	c.sent += n
	return n, err
}

// floor is where this node's reconciliation of a channel starts (unix
// ms): HistoryAge ago, or at the oldest message kept if the history is
// full, so that a peer with a longer history does not send back what
// pruning removed.
func (s *Service) floor(items []Item) uint64 {
	f := s.clock.Now().Add(-s.cfg.HistoryAge).UnixMilli()
	if f < 0 {
		f = 0
	}
	fl := uint64(f)
	if n := len(items); n >= s.cfg.HistoryCount {
		fl = max(fl, items[n-s.cfg.HistoryCount].Time)
	}
	return fl
}

// syncChannel is the initiator's side of one sync conversation.
func (s *Service) syncChannel(ctx context.Context, p peer.ID, j *joined) (st SyncStats, err error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.SyncTimeout)
	defer cancel()
	stream, err := SyncProtocol.Open(ctx, s.h, p)
	if err != nil {
		return st, fmt.Errorf("%w: %s with %s: %w", ErrSync, j.name, p, err)
	}
	stop := context.AfterFunc(ctx, func() { _ = stream.Reset() })
	defer stop()
	defer func() {
		if err != nil {
			_ = stream.Reset()
			err = fmt.Errorf("%w: %s with %s: %w", ErrSync, j.name, p, err)
		} else {
			_ = stream.Close()
		}
	}()
	c := &countRW{rw: stream}
	defer func() { st.Sent, st.Received = c.sent, c.received }()
	br := bufio.NewReader(c)
	limit := s.cfg.MaxFrame
	if err := writeFrame(c, frame{kind: fHello, name: j.name}, limit); err != nil {
		return st, err
	}
	f, err := readFrame(br, limit)
	if err != nil {
		return st, err
	}
	switch f.kind {
	case fRefuse:
		return st, fmt.Errorf("refused: %s", f.reason)
	case fWelcome:
	default:
		return st, fmt.Errorf("%w: frame %d instead of welcome", ErrMalformed, f.kind)
	}
	if len(f.roster) > 0 {
		if err := s.acceptSynced(j, f.roster, KindRoster); err != nil {
			return st, fmt.Errorf("roster: %w", err)
		}
	}
	items, err := s.hist.items(ctx, j.name)
	if err != nil {
		return st, err
	}
	ini := NewReconciler(NewSet(items), s.cfg.RBSR, true)
	msg := ini.Initiate(s.floor(items))
	for {
		if st.Rounds == s.cfg.SyncMaxRounds {
			return st, fmt.Errorf("no agreement within %d rounds", st.Rounds)
		}
		st.Rounds++
		if err := writeFrame(c, frame{kind: fRecon, recon: msg}, limit); err != nil {
			return st, err
		}
		f, err := readFrame(br, limit)
		if err != nil {
			return st, err
		}
		if f.kind != fRecon {
			return st, fmt.Errorf("%w: frame %d instead of reconciliation", ErrMalformed, f.kind)
		}
		next, done, err := ini.Step(f.recon)
		if err != nil {
			return st, err
		}
		if done {
			break
		}
		msg = next
	}
	need := ini.Need()
	st.Have, st.Need = len(ini.Have()), len(need)
	need = need[:min(len(need), s.cfg.SyncMaxFetch)]
	for len(need) > 0 {
		batch := need[:min(len(need), s.cfg.FetchBatch)]
		need = need[len(batch):]
		if err := writeFrame(c, frame{kind: fFetch, ids: batch}, limit); err != nil {
			return st, err
		}
		f, err := readFrame(br, limit)
		if err != nil {
			return st, err
		}
		if f.kind != fMsgs || len(f.msgs) > len(batch) {
			return st, fmt.Errorf("%w: bad answer to a fetch", ErrMalformed)
		}
		asked := make(map[ID]bool, len(batch))
		for _, id := range batch {
			asked[id] = true
		}
		for _, enc := range f.msgs {
			id := ID(sha256Sum(enc))
			if !asked[id] {
				return st, fmt.Errorf("%w: a message not asked for", ErrMalformed)
			}
			delete(asked, id)
			if err := s.acceptSynced(j, enc, 0); err != nil {
				return st, err
			}
			st.Stored++
		}
	}
	// Show the responder what it lacks: where it answered with its own ID
	// list, only this side learnt the difference, and it pulls by syncing
	// back.
	have := ini.Have()
	if err := writeFrame(c, frame{kind: fDone, ids: have[:min(len(have), maxShown)]}, limit); err != nil {
		return st, err
	}
	if st.Stored > 0 {
		s.fanout(j, p)
	}
	return st, nil
}

// acceptSynced decodes and checks a message that came by sync (of kind
// want, if not 0) as gossip's validator would, plus the history bounds,
// and stores it.
func (s *Service) acceptSynced(j *joined, enc []byte, want Kind) error {
	m, err := DecodeMessage(enc)
	if err != nil {
		return err
	}
	if want != 0 && m.Kind != want {
		return fmt.Errorf("%w: message kind %d, want %d", ErrMalformed, m.Kind, want)
	}
	now := s.clock.Now()
	if m.Time.After(now.Add(s.cfg.Topic.MaxSkew)) {
		return fmt.Errorf("%w: message from the future (%s)", ErrMalformed, m.Time)
	}
	if m.Kind == KindPost && now.Sub(m.Time) > s.cfg.HistoryAge {
		return fmt.Errorf("%w: message older than the history keeps", ErrMalformed)
	}
	if err := s.admit(j, &m); err != nil {
		if errors.Is(err, ErrStaleEpoch) || errors.Is(err, ErrNotMember) {
			return nil // refused, not stored; the peer may hold it in good faith
		}
		return err
	}
	s.receive(j, m, enc, true)
	return nil
}

// serve is the responder's side of a sync conversation.
func (s *Service) serve(stream network.Stream) {
	defer stream.Close()
	remote := stream.Conn().RemotePeer()
	br := bufio.NewReader(stream)
	limit := s.cfg.MaxFrame
	refuse := func(reason string) { _ = writeFrame(stream, frame{kind: fRefuse, reason: reason}, limit) }
	f, err := readFrame(br, limit)
	if err != nil || f.kind != fHello {
		_ = stream.Reset()
		return
	}
	j, err := s.channel(f.name)
	if err != nil {
		refuse("not joined")
		return
	}
	var roster []byte
	if j.private {
		j.mu.Lock()
		rs, ok := j.rosters[j.latest]
		j.mu.Unlock()
		if !ok {
			refuse("no roster")
			return
		}
		if _, in := rs.roster.member(remote); !in {
			refuse("not a member")
			return
		}
		if roster, err = EncodeMessage(rs.msg); err != nil {
			return
		}
	}
	if err := writeFrame(stream, frame{kind: fWelcome, roster: roster}, limit); err != nil {
		return
	}
	ctx, cancel := context.WithTimeout(s.ctx, s.cfg.Server.Lifetime)
	defer cancel()
	items, err := s.hist.items(ctx, j.name)
	if err != nil {
		_ = stream.Reset()
		return
	}
	byID := make(map[ID]Item, len(items))
	for _, it := range items {
		byID[it.ID] = it
	}
	resp := NewReconciler(NewSet(items), s.cfg.RBSR, false)
	rounds := 0
	for {
		f, err := readFrame(br, limit)
		if err != nil {
			_ = stream.Reset()
			return
		}
		switch f.kind {
		case fRecon:
			if rounds++; rounds > s.cfg.SyncMaxRounds {
				_ = stream.Reset()
				return
			}
			out, _, err := resp.Step(f.recon)
			if err != nil {
				_ = stream.Reset()
				return
			}
			if err := writeFrame(stream, frame{kind: fRecon, recon: out}, limit); err != nil {
				return
			}
		case fFetch:
			if len(f.ids) > s.cfg.FetchBatch {
				_ = stream.Reset()
				return
			}
			var msgs [][]byte
			for _, id := range f.ids {
				it, ok := byID[id]
				if !ok {
					continue
				}
				enc, err := s.hist.get(ctx, j.name, it)
				if err != nil {
					_ = stream.Reset()
					return
				}
				if enc != nil {
					msgs = append(msgs, enc)
				}
			}
			if err := writeFrame(stream, frame{kind: fMsgs, msgs: msgs}, limit); err != nil {
				return
			}
		case fDone:
			resp.Shown(f.ids)
			need := resp.Need()
			s.log.Debug("channel: served", "channel", j.name, "peer", remote, "lacked", len(need))
			if s.cfg.SyncFanout > 0 && len(need) > 0 {
				// The initiator holds messages this node lacks.
				s.pullSoon(j, remote, need)
			}
			return
		default:
			_ = stream.Reset()
			return
		}
	}
}
