package channel

import (
	"slices"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/fog-compute/fog/internal/clock"
)

// What spreads history between periodic rounds: a neighbour not seen
// before is synced with at once (checkNeighbours); a sync that stored new
// messages is followed by syncs with every other neighbour, SyncFanout at
// most (fanout); and a responder that lacks some of the initiator's
// messages — seen in its ID lists, or shown in its Done frame — pulls them
// by syncing back (serve, pullSoon), apart from the other background
// syncs (pull). The initiator of a sync only pulls, so
// the fan-out's syncs carry nothing themselves: they show the neighbours
// what this node has, and each neighbour that lacks some of it pulls it by
// syncing back, then fans out in turn. The flood stops where a sync
// stores nothing new. Every neighbour of a node that gained messages is
// shown them, so the flood reaches every member the neighbour graph
// connects; a fan-out to a neighbour whose sync is under way (and began
// before the gain) runs again once it ends, so that none is skipped.

// pullSoon records that p showed ids this node lacks and starts the
// channel's puller if it is not running.
func (s *Service) pullSoon(j *joined, p peer.ID, ids []ID) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	j.mu.Lock()
	start := j.pulls.shown(p, ids)
	j.mu.Unlock()
	if start {
		s.wg.Go(func() { s.pull(j) })
	}
}

// pull syncs j with the neighbours that showed messages this node lacks,
// one at a time, as j.pulls decides, until none is left.
func (s *Service) pull(j *joined) {
	for {
		j.mu.Lock()
		p, wait, ok := j.pulls.next()
		j.mu.Unlock()
		if !ok {
			return
		}
		if wait > 0 {
			t := s.clock.NewTimer(wait)
			select {
			case <-t.C():
			case <-s.ctx.Done():
				t.Stop()
			}
		}
		if s.ctx.Err() != nil {
			j.mu.Lock()
			j.pulls.stop()
			j.mu.Unlock()
			return
		}
		began := s.clock.Now()
		st, err := s.syncChannel(s.ctx, p, j)
		s.log.Debug("channel: pull", "channel", j.name, "peer", p, "took", clock.Since(s.clock, began),
			"need", st.Need, "stored", st.Stored, "err", err)
		held := map[ID]bool{}
		if items, ierr := s.hist.items(s.ctx, j.name); ierr == nil {
			for _, it := range items {
				held[it.ID] = true
			}
		}
		j.mu.Lock()
		j.pulls.done(p, err != nil, func(id ID) bool { return held[id] })
		j.mu.Unlock()
	}
}

// checkNeighbours syncs every joined channel with the neighbours that
// appeared since the last check.
func (s *Service) checkNeighbours() {
	for _, j := range s.joinedList() {
		t := j.topicOf()
		if t == nil {
			continue
		}
		peers := t.Peers()
		slices.Sort(peers)
		now := make(map[peer.ID]bool, len(peers))
		var fresh []peer.ID
		j.mu.Lock()
		for _, p := range peers {
			now[p] = true
			if !j.neighbours[p] {
				fresh = append(fresh, p)
			}
		}
		j.neighbours = now
		j.mu.Unlock()
		for _, p := range fresh {
			s.syncSoon(j, p)
		}
	}
}

// fanout syncs j with every neighbour other than except, SyncFanout at
// most, starting after the last one a fan-out or periodic round chose.
func (s *Service) fanout(j *joined, except peer.ID) {
	t := j.topicOf()
	if s.cfg.SyncFanout == 0 || t == nil {
		return
	}
	peers := slices.DeleteFunc(t.Peers(), func(p peer.ID) bool { return p == except })
	if len(peers) == 0 {
		return
	}
	slices.Sort(peers)
	j.mu.Lock()
	first := j.syncNext
	j.syncNext += min(s.cfg.SyncFanout, len(peers))
	j.mu.Unlock()
	for k := range min(s.cfg.SyncFanout, len(peers)) {
		s.syncSoon(j, peers[(first+k)%len(peers)])
	}
}

// syncSoon syncs j with p on a goroutine of the service, at most
// MaxBackgroundSyncs at once, unless the service is closed. If a sync
// with p is under way already, it is marked to run once more when it
// ends: it may have listed this node's history before what made the
// caller ask, and p must see that too.
func (s *Service) syncSoon(j *joined, p peer.ID) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	j.mu.Lock()
	_, busy := j.syncing[p]
	j.syncing[p] = busy
	j.mu.Unlock()
	if busy {
		return
	}
	s.wg.Go(func() {
		for s.syncOnce(j, p) {
		}
	})
}

// syncOnce runs one background sync of j with p and reports whether
// another was asked for meanwhile; if not, p is no longer syncing.
func (s *Service) syncOnce(j *joined, p peer.ID) bool {
	ran := false
	asked := s.clock.Now()
	select {
	case s.bgSem <- struct{}{}:
		ran = true
		began := s.clock.Now()
		st, err := s.syncChannel(s.ctx, p, j)
		s.log.Debug("channel: background sync", "channel", j.name, "peer", p, "queued", began.Sub(asked),
			"took", clock.Since(s.clock, began), "need", st.Need, "stored", st.Stored, "err", err)
		<-s.bgSem
	case <-s.ctx.Done():
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	if ran && j.syncing[p] && s.ctx.Err() == nil {
		j.syncing[p] = false
		return true
	}
	delete(j.syncing, p)
	return false
}
