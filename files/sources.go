package files

import (
	"math"
	"slices"
	"time"

	bsmsg "github.com/ipfs/boxo/bitswap/message"
	pb "github.com/ipfs/boxo/bitswap/message/pb"
	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/peer"
)

// rateEvery is how much busy time of a source one sample of its rate
// spans: a few 256 KiB blocks on a link of 16 MB/s, so that one block
// more or less moves a sample by a fraction, not by a multiple.
const rateEvery = 100 * time.Millisecond

// sources is the guard's account of the want-blocks outstanding at each
// Bitswap source, and the cap on them that spreads a get over its sources.
//
// boxo's session sends each want's want-block to the first peer whose
// HAVE it hears (and a window's other wants with it): whichever source
// answers a broadcast of want-haves first takes the window, however much
// it already has to send. So the guard holds back a source's HAVEs while
// the want-blocks outstanding at it (sent and not yet answered by the
// block, a DONT_HAVE or a cancel) are at its cap, and hands them to
// Bitswap once it is below: meanwhile the HAVEs of the sources with room
// reach the session first, and a window goes to a source that has room.
// A source's cap is what it sends in Config.SourceBacklog at the rate
// measured while it had wants outstanding, and at least floor blocks.
//
// A CID has at most one owner: the source its want-block went to, or the
// one whose HAVE was let through for it (the session is about to send it
// the want-block). A session sends all its wants to the first source it
// hears from, so the CIDs of one window (a group) go together: a HAVE let
// through makes its source the owner of the whole group, and the HAVEs
// of a group another source owns are held until that source gives it up
// (DONT_HAVE, disconnect) and dropped when the block arrives or the want
// is cancelled.
//
// It does no I/O and reads no clock (the time is passed in); the guard's
// lock serialises its use.
type sources struct {
	backlog time.Duration
	floor   int
	peers   map[peer.ID]*source
	owner   map[cid.Cid]peer.ID
	groupOf map[cid.Cid]int   // the group of each CID of a window under way
	groups  map[int][]cid.Cid // each group's CIDs not yet arrived
	next    int               // the next group's number
}

// source is one peer's part of sources.
type source struct {
	asked map[cid.Cid]struct{} // wants sent to it and not cancelled
	owned int                  // CIDs it owns
	held  []cid.Cid            // its HAVEs held back, oldest first

	// The rate: blocks a second while it owned CIDs, a moving average of
	// samples of rateEvery (0 until the first). n and busy are the current
	// sample's blocks and closed busy stretches; since is when the current
	// stretch began (while owned > 0).
	rate  float64
	n     int
	busy  time.Duration
	since time.Time
}

// release is HAVEs from a source let through.
type release struct {
	p    peer.ID
	cids []cid.Cid
}

func newSources(backlog time.Duration, floor int) *sources {
	return &sources{
		backlog: backlog, floor: max(1, floor), peers: make(map[peer.ID]*source), owner: make(map[cid.Cid]peer.ID),
		groupOf: make(map[cid.Cid]int), groups: make(map[int][]cid.Cid),
	}
}

// group makes cs, the wants of one session, a group; end forgets it.
func (s *sources) group(cs []cid.Cid) (end func()) {
	id := s.next
	s.next++
	s.groups[id] = slices.Clone(cs)
	for _, c := range cs {
		s.groupOf[c] = id
	}
	return func() {
		for _, c := range s.groups[id] {
			if s.groupOf[c] == id {
				delete(s.groupOf, c)
			}
		}
		delete(s.groups, id)
	}
}

// members returns the CIDs of c's group (c alone if it has none).
func (s *sources) members(c cid.Cid) []cid.Cid {
	if id, ok := s.groupOf[c]; ok {
		return s.groups[id]
	}
	return []cid.Cid{c}
}

// admits decides on a HAVE from p for c: true lets it through (p then
// owns c and, unless p owns part of it already, its whole group), false
// holds it.
func (s *sources) admits(p peer.ID, src *source, c cid.Cid, now time.Time) bool {
	if q, ok := s.owner[c]; ok {
		return q == p
	}
	mine := false
	for _, m := range s.members(c) {
		if q, ok := s.owner[m]; ok {
			if q != p {
				return false // another source has this window
			}
			mine = true
		}
	}
	if mine {
		s.own(p, c, now)
		return true
	}
	if src.owned >= s.limit(src) {
		return false
	}
	for _, m := range s.members(c) {
		s.own(p, m, now)
	}
	return true
}

func (s *sources) source(p peer.ID) *source {
	src := s.peers[p]
	if src == nil {
		src = &source{asked: make(map[cid.Cid]struct{})}
		s.peers[p] = src
	}
	return src
}

// limit is p's cap: the blocks it sends in backlog at its rate.
func (s *sources) limit(src *source) int {
	return max(s.floor, int(math.Ceil(src.rate*s.backlog.Seconds())))
}

// sent records the wants of a message sent to p.
func (s *sources) sent(p peer.ID, wl []bsmsg.Entry, now time.Time) {
	for _, e := range wl {
		if e.Cancel {
			s.forget(p, e.Cid, now)
			continue
		}
		src := s.source(p)
		if len(src.asked) < maxAsked {
			src.asked[e.Cid] = struct{}{}
		}
		if e.WantType == pb.Message_Wantlist_Block {
			s.own(p, e.Cid, now)
		}
	}
}

// own makes p the owner of c.
func (s *sources) own(p peer.ID, c cid.Cid, now time.Time) {
	q, ok := s.owner[c]
	if ok && q == p {
		return
	}
	if ok {
		s.disown(q, c, now)
	}
	s.owner[c] = p
	src := s.source(p)
	src.owned++
	if src.owned == 1 {
		src.since = now
	}
}

// disown ends p's ownership of c.
func (s *sources) disown(p peer.ID, c cid.Cid, now time.Time) {
	if q, ok := s.owner[c]; !ok || q != p {
		return
	}
	delete(s.owner, c)
	src := s.peers[p]
	src.owned--
	if src.owned == 0 {
		src.busy += now.Sub(src.since)
	}
}

// forget drops c from p: a cancel sent to it.
func (s *sources) forget(p peer.ID, c cid.Cid, now time.Time) {
	src := s.peers[p]
	if src == nil {
		return
	}
	delete(src.asked, c)
	src.unhold(c)
	s.disown(p, c, now)
}

func (src *source) unhold(c cid.Cid) {
	for i, h := range src.held {
		if h == c {
			src.held = append(src.held[:i], src.held[i+1:]...)
			return
		}
	}
}

// received records what a message from p carries and returns the HAVEs
// of it to hold back.
func (s *sources) received(p peer.ID, blks, haves, dontHaves []cid.Cid, now time.Time) (held []cid.Cid) {
	for _, c := range blks {
		if q, ok := s.owner[c]; ok {
			if q == p {
				s.peers[p].n++
			}
			s.disown(q, c, now)
		}
		// The want is over at every source: a HAVE for c from now on
		// (one in flight, or the answer to a broadcast whose cancel goes
		// to the sender only) is not a want's and owns nothing.
		for _, src := range s.peers {
			src.unhold(c)
			delete(src.asked, c)
		}
		if id, ok := s.groupOf[c]; ok {
			s.groups[id] = slices.DeleteFunc(s.groups[id], func(m cid.Cid) bool { return m == c })
			delete(s.groupOf, c)
		}
	}
	if len(blks) > 0 {
		s.sample(p, now)
	}
	for _, c := range dontHaves {
		s.disown(p, c, now)
		if src := s.peers[p]; src != nil {
			src.unhold(c)
		}
	}
	for _, c := range haves {
		src := s.peers[p]
		if src == nil {
			continue // not a want of ours: Bitswap ignores it
		}
		if _, ok := src.asked[c]; !ok {
			continue
		}
		if !s.admits(p, src, c, now) {
			if !containsCID(src.held, c) {
				src.held = append(src.held, c)
			}
			held = append(held, c)
		}
	}
	return held
}

// releases lets through the held HAVEs of the sources below their caps,
// each becoming the owner of the CIDs let through.
func (s *sources) releases(now time.Time) []release {
	var out []release
	for p, src := range s.peers {
		if len(src.held) == 0 {
			continue
		}
		var let []cid.Cid
		keep := src.held[:0]
		for _, c := range src.held {
			if s.admits(p, src, c, now) {
				let = append(let, c)
			} else {
				keep = append(keep, c)
			}
		}
		src.held = keep
		if len(let) > 0 {
			out = append(out, release{p: p, cids: let})
		}
	}
	return out
}

// sample closes a sample of p's rate once it spans rateEvery of busy
// time.
func (s *sources) sample(p peer.ID, now time.Time) {
	src := s.peers[p]
	busy := src.busy
	if src.owned > 0 {
		busy += now.Sub(src.since)
	}
	if busy < rateEvery || src.n == 0 {
		return
	}
	r := float64(src.n) / busy.Seconds()
	if src.rate == 0 {
		src.rate = r
	} else {
		src.rate += (r - src.rate) / 4
	}
	src.n, src.busy, src.since = 0, 0, now
}

// gone forgets p (disconnected or dropped): the CIDs it owned are free.
func (s *sources) gone(p peer.ID, now time.Time) {
	if _, ok := s.peers[p]; !ok {
		return
	}
	for c, q := range s.owner {
		if q == p {
			s.disown(p, c, now)
		}
	}
	delete(s.peers, p)
}

// outstanding returns the CIDs p owns and its cap.
func (s *sources) outstanding(p peer.ID) (owned, limit int) {
	src := s.peers[p]
	if src == nil {
		return 0, s.floor
	}
	return src.owned, s.limit(src)
}

func containsCID(cs []cid.Cid, c cid.Cid) bool {
	for _, x := range cs {
		if x == c {
			return true
		}
	}
	return false
}
