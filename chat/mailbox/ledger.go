package mailbox

import (
	"bytes"
	"crypto/sha256"
	"slices"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
)

// ref names one stored item: its mailbox and its ID.
type ref struct {
	key Key
	id  ItemID
}

// entry is what the ledger knows of one stored item.
type entry struct {
	from    peer.ID   // the peer that deposited it, whose quota it counts in
	size    int       // the sealed item's bytes
	sum     [32]byte  // SHA-256 of the sealed item, to tell a retry from a clash
	expires time.Time // at most the deposit time + TTL; a handed-off copy keeps its own
}

// usage is a count of items and their bytes.
type usage struct {
	items int
	bytes int64
}

// quotas are the ledger's limits (from Config).
type quotas struct {
	ttl          time.Duration
	maxItem      int
	senderItems  int
	senderBytes  int64
	hostItems    int
	hostBytes    int64
	maxFetchSize int
}

func quotasOf(c Config) quotas {
	return quotas{ttl: c.TTL, maxItem: c.MaxItemBytes, senderItems: c.SenderItems, senderBytes: c.SenderBytes,
		hostItems: c.HostItems, hostBytes: c.HostBytes, maxFetchSize: c.MaxFetchBytes}
}

// ledger is the host's deterministic core: which items it holds, for whom
// and from whom, until when, and whether a deposit fits the quotas. It
// does no I/O and reads no clock: every call that depends on the time
// takes it as now. The host store persists what the ledger admits. It is
// not safe for concurrent use.
type ledger struct {
	q        quotas
	items    map[ref]entry
	byKey    map[Key]map[ItemID]struct{}
	bySender map[peer.ID]usage
	total    usage
}

func newLedger(q quotas) *ledger {
	return &ledger{q: q, items: map[ref]entry{}, byKey: map[Key]map[ItemID]struct{}{}, bySender: map[peer.ID]usage{}}
}

// expiry is when an item deposited at now asking to expire at asked is
// dropped: asked, but never beyond the TTL from now (a sender's clock
// ahead of this host's, or a peer asking for more than the TTL).
func (l *ledger) expiry(asked, now time.Time) time.Time {
	if limit := now.Add(l.q.ttl); asked.After(limit) {
		return limit
	}
	return asked
}

// admit decides a deposit of sealed under r by from at now, to expire at
// expires: statusOK and fresh if it is to be stored, statusOK and !fresh
// if the same item is held already (a retry: nothing to do), or the
// refusal (statusExpired if expires is not after now). An expired item
// under r no longer counts (the caller sweeps it first).
func (l *ledger) admit(r ref, from peer.ID, sealed []byte, expires, now time.Time) (st status, fresh bool) {
	if len(sealed) > l.q.maxItem {
		return statusTooLarge, false
	}
	if !now.Before(expires) {
		return statusExpired, false
	}
	if e, ok := l.items[r]; ok && now.Before(e.expires) {
		if e.sum == sha256.Sum256(sealed) {
			return statusOK, false
		}
		return statusExists, false
	}
	u := l.bySender[from]
	switch {
	case l.total.items+1 > l.q.hostItems || l.total.bytes+int64(len(sealed)) > l.q.hostBytes:
		return statusFull, false
	case u.items+1 > l.q.senderItems || u.bytes+int64(len(sealed)) > l.q.senderBytes:
		return statusQuota, false
	}
	return statusOK, true
}

// add records an item (admitted, or loaded from the store) that expires
// at expires, replacing any under r.
func (l *ledger) add(r ref, from peer.ID, sealed []byte, expires time.Time) {
	l.remove(r)
	e := entry{from: from, size: len(sealed), sum: sha256.Sum256(sealed), expires: expires}
	l.items[r] = e
	ids := l.byKey[r.key]
	if ids == nil {
		ids = map[ItemID]struct{}{}
		l.byKey[r.key] = ids
	}
	ids[r.id] = struct{}{}
	u := l.bySender[from]
	u.items++
	u.bytes += int64(e.size)
	l.bySender[from] = u
	l.total.items++
	l.total.bytes += int64(e.size)
}

// remove forgets the item under r, reporting whether there was one.
func (l *ledger) remove(r ref) bool {
	e, ok := l.items[r]
	if !ok {
		return false
	}
	delete(l.items, r)
	if ids := l.byKey[r.key]; ids != nil {
		delete(ids, r.id)
		if len(ids) == 0 {
			delete(l.byKey, r.key)
		}
	}
	u := l.bySender[e.from]
	u.items--
	u.bytes -= int64(e.size)
	if u.items <= 0 {
		delete(l.bySender, e.from)
	} else {
		l.bySender[e.from] = u
	}
	l.total.items--
	l.total.bytes -= int64(e.size)
	return true
}

// has reports whether r is held and unexpired at now.
func (l *ledger) has(r ref, now time.Time) bool {
	e, ok := l.items[r]
	return ok && now.Before(e.expires)
}

// expired returns the items whose TTL has passed at now.
func (l *ledger) expired(now time.Time) []ref {
	var out []ref
	for r, e := range l.items {
		if !now.Before(e.expires) {
			out = append(out, r)
		}
	}
	return out
}

// page returns the unexpired items of mailbox key with IDs above after,
// ascending, as many as fit in the response limit, and whether more
// remain.
func (l *ledger) page(key Key, after ItemID, now time.Time) (refs []ref, more bool) {
	var ids []ItemID
	for id := range l.byKey[key] {
		if bytes.Compare(id[:], after[:]) > 0 && l.has(ref{key, id}, now) {
			ids = append(ids, id)
		}
	}
	slices.SortFunc(ids, func(a, b ItemID) int { return bytes.Compare(a[:], b[:]) })
	size := 0
	for i, id := range ids {
		r := ref{key, id}
		// an item costs its ID, its length prefix and its bytes
		n := IDLen + 3 + l.items[r].size
		if i > 0 && size+n > l.q.maxFetchSize {
			return refs, true
		}
		size += n
		refs = append(refs, r)
	}
	return refs, false
}

// sender returns what from holds at the host.
func (l *ledger) sender(from peer.ID) usage { return l.bySender[from] }
