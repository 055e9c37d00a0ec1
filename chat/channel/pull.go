package channel

import (
	"slices"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
)

// pullAttempts is how many times a pull from one neighbour is tried
// before it is given up (the neighbour shows its messages again at its
// next sync with this node, and the periodic round remains).
const pullAttempts = 3

// pullBackoff is the wait before a pull from a neighbour that failed
// once; it doubles with each further failure.
const pullBackoff = 500 * time.Millisecond

// pulls is one channel's pending pulls, the deterministic part of the
// sync back: the neighbours that showed, at the end of a sync they
// initiated, messages this node lacks. One pull runs at a time per
// channel, apart from the other background syncs, so that it does not
// queue behind a fan-out's (which show this node's messages to others
// and mostly bring nothing); a pull that stores what one neighbour
// showed makes the others' pulls unnecessary, and one that fails is
// retried with a backoff, from another neighbour first. No I/O, no
// clock; not safe for concurrent use (the channel's mutex guards it).
type pulls struct {
	cands   []pullCand
	running bool
}

type pullCand struct {
	peer     peer.ID
	ids      []ID // what it showed, at most maxShown
	failures int
}

// shown records that p holds ids, which this node lacks, and reports
// whether a puller is to be started (none is running).
func (q *pulls) shown(p peer.ID, ids []ID) (start bool) {
	if len(ids) == 0 {
		return false
	}
	i := slices.IndexFunc(q.cands, func(c pullCand) bool { return c.peer == p })
	if i < 0 {
		q.cands = append(q.cands, pullCand{peer: p})
		i = len(q.cands) - 1
	}
	c := &q.cands[i]
	for _, id := range ids {
		if len(c.ids) < maxShown && !slices.Contains(c.ids, id) {
			c.ids = append(c.ids, id)
		}
	}
	c.failures = 0 // it showed them again: worth a new set of attempts
	if q.running {
		return false
	}
	q.running = true
	return true
}

// next returns the neighbour to pull from now and how long to wait
// before: the first that has failed least, with the backoff of its
// failures. ok is false when none is left; the puller then stops.
func (q *pulls) next() (p peer.ID, wait time.Duration, ok bool) {
	if len(q.cands) == 0 {
		q.running = false
		return "", 0, false
	}
	best := 0
	for i, c := range q.cands {
		if c.failures < q.cands[best].failures {
			best = i
		}
	}
	c := q.cands[best]
	if c.failures > 0 {
		wait = pullBackoff << (c.failures - 1)
	}
	return c.peer, wait, true
}

// done records the end of a pull from p: failed says whether it failed,
// held whether this node now holds an ID. Neighbours all of whose shown
// IDs are held are done with; p, if it failed, is tried again later
// unless it has failed pullAttempts times.
func (q *pulls) done(p peer.ID, failed bool, held func(ID) bool) {
	q.cands = slices.DeleteFunc(q.cands, func(c pullCand) bool {
		if c.peer == p && failed {
			return false
		}
		return !slices.ContainsFunc(c.ids, func(id ID) bool { return !held(id) })
	})
	if i := slices.IndexFunc(q.cands, func(c pullCand) bool { return c.peer == p }); i >= 0 {
		if failed {
			q.cands[i].failures++
		}
		if !failed || q.cands[i].failures >= pullAttempts {
			// Pulled without error and still lacking (the peer pruned
			// them, or fetched beyond SyncMaxFetch): or given up.
			q.cands = slices.Delete(q.cands, i, i+1)
		}
	}
}

// stop forgets every pending pull (the service is closing).
func (q *pulls) stop() {
	q.cands, q.running = nil, false
}
