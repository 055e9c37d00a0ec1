package mailbox

import (
	"context"
	"slices"

	"github.com/libp2p/go-libp2p/core/peer"
)

// handoff hands every item this node holds to the K peers now closest to
// its mailbox key that do not hold it yet, and deletes the items whose K
// closest peers no longer include this node once each of them holds a
// copy. Peers that joined closer to a key after the deposit are the ones a
// Fetch asks first, and a host that leaves takes its copy with it: so the
// K copies follow the key. A copy handed on counts in the quota of this
// node, as its depositor, at the receiving host, and keeps its expiry: a
// handoff never extends an item's life. Run calls it every
// HandoffInterval.
func (s *Service) handoff(ctx context.Context) {
	if s.router == nil {
		return
	}
	now := s.cfg.Clock.Now()
	held := s.store.held(now)
	self := s.h.ID()
	// Forget what is known of items no longer held.
	for r := range s.handed {
		if !slices.Contains(held[r.key], r.id) {
			delete(s.handed, r)
		}
	}
	moved, dropped := 0, 0
	for _, key := range sortedKeys(held) {
		if ctx.Err() != nil {
			return
		}
		hosts, err := s.hosts(ctx, key, s.cfg.K, "")
		if err != nil {
			s.log.Debug("mailbox handoff: hosts", "key", key, "err", err)
			continue
		}
		stay := slices.Contains(hosts, self)
		var gone []ItemID
		for _, id := range held[key] {
			r := ref{key, id}
			if s.handed[r] == nil {
				s.handed[r] = map[peer.ID]bool{}
			}
			sealed, expires, err := s.store.sealed(ctx, r)
			if err != nil || sealed == nil || !now.Before(expires) {
				continue
			}
			all := true
			for _, p := range hosts {
				if p == self || s.handed[r][p] {
					continue
				}
				resp, err := s.call(ctx, p, request{op: opDeposit, key: key, id: id, expires: expiresOf(expires), sealed: sealed})
				if err == nil {
					err = resp.status.err()
				}
				if err != nil {
					s.log.Debug("mailbox handoff", "host", p, "err", err)
					all = false
					continue
				}
				s.handed[r][p] = true
				moved++
			}
			if !stay && all && len(hosts) >= s.cfg.K {
				gone = append(gone, id)
			}
		}
		if len(gone) > 0 {
			n, err := s.store.ack(ctx, key, gone)
			if err != nil {
				s.log.Warn("mailbox handoff: deleting items handed on", "err", err)
				continue
			}
			dropped += n
			for _, id := range gone {
				delete(s.handed, ref{key, id})
			}
		}
	}
	if moved > 0 || dropped > 0 {
		s.log.Debug("mailbox handoff", "copies", moved, "dropped", dropped)
	}
	s.handedOn.Add(uint64(moved))
}

func sortedKeys(m map[Key][]ItemID) []Key {
	ks := make([]Key, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.SortFunc(ks, func(a, b Key) int { return slices.Compare(a[:], b[:]) })
	return ks
}
