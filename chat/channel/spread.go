package channel

import (
	"slices"

	"github.com/libp2p/go-libp2p/core/peer"
)

// What spreads history between periodic rounds: a neighbour not seen
// before is synced with at once (checkNeighbours); a sync that stored new
// messages is followed by syncs with up to SyncFanout other neighbours
// (fanout); and a responder that saw, in the initiator's ID lists, IDs it
// lacks syncs back (serve). The initiator of a sync only pulls, so the
// fan-out's syncs carry nothing themselves: they show the neighbours what
// this node has, and each neighbour that lacks some of it pulls it by
// syncing back, then fans out in turn. The flood stops where a sync
// stores nothing new.

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

// fanout syncs j with up to SyncFanout neighbours other than except,
// starting after the last one a fan-out or periodic round chose.
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
// MaxBackgroundSyncs at once, unless one with p is under way or the
// service is closed.
func (s *Service) syncSoon(j *joined, p peer.ID) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	j.mu.Lock()
	busy := j.syncing[p]
	j.syncing[p] = true
	j.mu.Unlock()
	if busy {
		return
	}
	s.wg.Go(func() {
		defer func() {
			j.mu.Lock()
			delete(j.syncing, p)
			j.mu.Unlock()
		}()
		select {
		case s.bgSem <- struct{}{}:
		case <-s.ctx.Done():
			return
		}
		defer func() { <-s.bgSem }()
		if _, err := s.syncChannel(s.ctx, p, j); err != nil {
			s.log.Debug("channel: sync", "channel", j.name, "peer", p, "err", err)
		}
	})
}
