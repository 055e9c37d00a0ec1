package mixsvc

import (
	"context"
	"crypto/ecdh"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/fog-compute/fog/mix/mixnet"
)

// epochPoll is how often the sync loop asks the lottery for its current
// epoch (an atomic read); the close of the current epoch's directory wakes
// it at once.
const epochPoll = 250 * time.Millisecond

// graceEpochs is how many epochs after its own a relay key and its
// directory are kept: packets and reply blocks made with a directory are
// good until two epochs after it (a sender switches to the directory of
// epoch e only once it closes, some time into e, so one epoch of grace
// could leave a reply block made just before that switch a fraction of an
// epoch to live).
const graceEpochs = 2

// maxParked bounds the relay frames held back, all epochs together, until
// their epoch's key is given to the core; beyond it a frame goes to the
// core at once, which drops it (DropUnknownKey) as it would without a
// key. 1,024: seconds of a relay's traffic, about 2.4 MB.
const maxParked = 1024

// epochInfo is what the sync loop gathered for one epoch without holding
// the Service's lock: the directory for the core, the relays whose links
// to warm, and this node's relay key with the replay tags persisted for it.
type epochInfo struct {
	epoch  uint64
	relays []mixnet.Relay
	peers  []peer.ID // protected already
	key    *ecdh.PrivateKey
	layer  int
	tags   [][32]byte
}

// syncLoop gives the core the lottery's epochs, owned by Run. It is the
// only goroutine that waits for the lottery and for the store's replay
// tags, and it holds the Service's lock only to hand over what it
// gathered: a frame read from a link never waits for an epoch's sync, and
// one of an epoch not given yet is parked until this loop gives it.
func (s *Service) syncLoop(ctx context.Context) {
	closed := map[uint64]<-chan struct{}{} // the lottery's Closed channels of epochs not given yet
	t := s.clock.NewTimer(0)
	defer t.Stop()
	for {
		wait := s.syncEpochs(ctx, closed)
		t.Stop()
		t.Reset(epochPoll)
		select {
		case <-ctx.Done():
			return
		case <-wait:
		case <-s.syncWake:
		case <-t.C():
		}
	}
}

// syncEpochs gives the core every closed directory of the current and
// previous epochs, this node's relay keys for them with the replay tags
// persisted earlier, and the frames parked for them; it drops epochs older
// than graceEpochs. It returns the Closed channel of the current epoch if
// its directory is not given yet (nil otherwise), for the loop to wait on.
// closed caches the lottery's Closed channels: the lottery's lock may be
// held for a while by the claims it verifies.
func (s *Service) syncEpochs(ctx context.Context, closed map[uint64]<-chan struct{}) <-chan struct{} {
	cur := s.o.Lottery.Epoch()
	var wait <-chan struct{}
	for _, e := range []uint64{cur - 1, cur} {
		if e > cur {
			continue
		}
		s.mu.Lock()
		given := s.given[e]
		s.mu.Unlock()
		if given {
			continue
		}
		ch, ok := closed[e]
		if !ok {
			ch = s.o.Lottery.Closed(e)
			closed[e] = ch
		}
		select {
		case <-ch:
		default:
			if e == cur {
				wait = ch
			}
			continue
		}
		info, ok := s.gather(ctx, e)
		if !ok {
			continue
		}
		s.give(info)
	}
	for e := range closed {
		if e+1 < cur {
			delete(closed, e)
		}
	}
	s.dropOld(ctx, cur)
	return wait
}

// gather asks the lottery and the store what the core needs of epoch e,
// whose directory the lottery closed, and protects the connections to its
// relays; it holds no lock of the Service's.
func (s *Service) gather(ctx context.Context, e uint64) (epochInfo, bool) {
	info := epochInfo{epoch: e}
	if _, ok := s.o.Lottery.ClosedInfo(e); !ok {
		return info, false
	}
	d, ok := s.o.Lottery.Directory(e)
	if !ok {
		return info, false
	}
	info.relays = relaysOf(d)
	if ctx.Err() == nil {
		for _, r := range info.relays {
			p, err := peerOf(r.ID)
			if err != nil || p == s.o.Host.ID() {
				continue
			}
			// Protected from the connection manager's trimming while the
			// directory is in use.
			s.o.Host.ConnManager().Protect(p, connTag)
			info.peers = append(info.peers, p)
		}
	}
	if k, ok := s.o.Lottery.MixKey(e); ok {
		if r, ok := d.Lookup(s.pub); ok {
			tags, err := loadTags(ctx, s.o.Store, e)
			if err != nil {
				s.log.Warn("loading replay tags: not relaying this epoch", "epoch", e, "err", err)
			} else {
				info.key, info.layer, info.tags = k, r.Layer, tags
			}
		}
	}
	return info, true
}

// give hands an epoch to the core and opens links to its relays before
// packets need them (the first packet on a new link would otherwise wait
// for a dial, seconds that look like a lost packet). Then the frames parked
// for it go to the core, in the order they arrived.
func (s *Service) give(info epochInfo) {
	s.mu.Lock()
	s.node.SetDirectory(info.epoch, info.relays)
	s.given[info.epoch] = true
	if s.ctx != nil && s.ctx.Err() == nil {
		for _, p := range info.peers {
			s.linkLocked(p)
		}
	}
	s.warm[info.epoch] = info.peers
	if info.key != nil {
		s.node.SetRelayKey(info.epoch, info.layer, info.key, info.tags)
		s.keyed[info.epoch] = info.layer
	}
	frames := s.unparkLocked(info.epoch)
	s.mu.Unlock()
	s.receiveParked(frames)
}

// dropOld drops the epochs older than graceEpochs from the core, lifts the
// protection of their relays' connections and deletes their replay tags
// (their keys are gone), and hands the frames still parked for epochs that
// can no longer be given to the core, which drops them.
func (s *Service) dropOld(ctx context.Context, cur uint64) {
	var unprotect []peer.ID
	var untag []uint64
	var stale [][]byte
	s.mu.Lock()
	for e := range s.given {
		if cur >= graceEpochs && e < cur-graceEpochs {
			s.node.DropEpoch(e)
			delete(s.given, e)
			unprotect = append(unprotect, s.unwarmLocked(e)...)
			if _, ok := s.keyed[e]; ok {
				delete(s.keyed, e)
				untag = append(untag, e)
			}
		}
	}
	for e := range s.parked {
		if e+1 < cur {
			stale = append(stale, s.unparkLocked(e)...)
		}
	}
	s.mu.Unlock()
	for _, p := range unprotect {
		s.o.Host.ConnManager().Unprotect(p, connTag)
	}
	for _, e := range untag {
		if err := dropTags(ctx, s.o.Store, e); err != nil {
			s.log.Warn("dropping replay tags", "epoch", e, "err", err)
		}
	}
	s.receiveParked(stale)
}

// parkLocked holds back a relay frame of epoch e, whose directory the core
// does not have yet, and reports whether it did: only frames of the epochs
// the sync loop may still give (the previous, the current and the next,
// whose directory another node may have closed first), within maxParked,
// while Run runs. The caller wakes the sync loop.
func (s *Service) parkLocked(e uint64, f []byte) bool {
	if s.ctx == nil || s.ctx.Err() != nil || s.nParked >= maxParked {
		return false
	}
	cur := s.o.Lottery.Epoch()
	if e+1 < cur || e > cur+1 {
		return false
	}
	s.parked[e] = append(s.parked[e], f)
	s.nParked++
	return true
}

// unparkLocked takes the frames parked for epoch e.
func (s *Service) unparkLocked(e uint64) [][]byte {
	fs := s.parked[e]
	delete(s.parked, e)
	s.nParked -= len(fs)
	return fs
}

// receiveParked hands parked frames to the core, one at a time, as
// receive does.
func (s *Service) receiveParked(frames [][]byte) {
	for _, f := range frames {
		s.mu.Lock()
		eff := s.open(s.node.Prepare(f))
		s.apply(eff)
	}
	if len(frames) > 0 {
		s.poke()
	}
}

// wakeSync asks the sync loop to look at the lottery's epochs again.
func (s *Service) wakeSync() {
	select {
	case s.syncWake <- struct{}{}:
	default:
	}
}
