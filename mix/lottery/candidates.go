package lottery

import (
	"bytes"
	"container/heap"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"
)

// kindCandidacy tags a Candidacy on the wire (version 1).
const kindCandidacy byte = 0x03

// CandidacySize is the length of an encoded candidacy:
//
//	offset size  field
//	     0    1  kind 0x03 (candidacy, version 1)
//	     1    8  epoch the candidacy is for, big-endian, at least 1
//	     9   32  candidate's Ed25519 public key
//
// A candidacy carries no signature of its own: it travels on the lottery
// topic, whose envelope signature and author rule bind it to the key's
// owner, and whose name carries the network ID.
const CandidacySize = 1 + 8 + ed25519.PublicKeySize

// ErrCandidatesFull: the candidate set of the epoch holds
// ServiceConfig.MaxCandidates keys that all rank before the announced one.
var ErrCandidatesFull = errors.New("lottery: candidate set full")

// Candidacy announces that Key stands as a relay candidate in Epoch. It is
// published in the claim window of the epoch before (see CandidateBook).
type Candidacy struct {
	Epoch uint64            // epoch the candidacy is for, at least 1
	Key   ed25519.PublicKey // the candidate's identity key
}

// Encode returns the CandidacySize-byte encoding of c, or an error wrapping
// ErrMalformed for a key of the wrong size or epoch 0.
func (c Candidacy) Encode() ([]byte, error) {
	if len(c.Key) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("%w: candidate key has %d bytes", ErrMalformed, len(c.Key))
	}
	if c.Epoch == 0 {
		return nil, fmt.Errorf("%w: candidacy for epoch 0", ErrMalformed)
	}
	b := make([]byte, 0, CandidacySize)
	b = append(b, kindCandidacy)
	b = binary.BigEndian.AppendUint64(b, c.Epoch)
	return append(b, c.Key...), nil
}

// DecodeCandidacy parses a candidacy encoded by Encode. It checks the
// structure (exact length, kind byte, epoch at least 1) and rejects anything
// else with an error wrapping ErrMalformed; it never panics. The result
// does not alias b.
func DecodeCandidacy(b []byte) (Candidacy, error) {
	if len(b) != CandidacySize {
		return Candidacy{}, fmt.Errorf("%w: candidacy has %d bytes, want %d", ErrMalformed, len(b), CandidacySize)
	}
	if b[0] != kindCandidacy {
		return Candidacy{}, fmt.Errorf("%w: kind 0x%02x is not a candidacy", ErrMalformed, b[0])
	}
	e := binary.BigEndian.Uint64(b[1:9])
	if e == 0 {
		return Candidacy{}, fmt.Errorf("%w: candidacy for epoch 0", ErrMalformed)
	}
	return Candidacy{Epoch: e, Key: bytes.Clone(b[9:])}, nil
}

// CandidateBook is the candidate set learnt from candidacy announcements,
// and a StakeOracle that gives each candidate weight 1 (a node running
// the ledger weighs by stake instead).
//
// The candidates of epoch e are the keys whose candidacy for e arrived in
// the claim window of epoch e-1, on this node's clock:
// [EpochStart(e-1) - 2*MaxClockSkew, ClaimClose(e-1)). Candidates announce
// at EpochStart(e-1) + 2*MaxClockSkew, together with the claims of e-1, so
// under the lottery's timing assumptions every honest node receives the same
// announcements, and the set of e is final at ClaimClose(e-1): long before
// the reveals that fix seed(e) start, at EpochStart(e) - RevealWindow (the
// freeze point StakeOracle requires). Weight and TotalWeight for e are only
// asked once e has started, when the set can no longer change.
//
// At most max keys are kept per epoch: those whose rank
// SHA-256("fog/lottery/candidate-rank/v1" || e || key) is smallest, so two
// nodes that received the same announcements in any order hold the same
// set.
//
// It is safe for concurrent use.
//
// Agreement on the set rests on timing, like agreement on claims: a
// candidacy that reaches some nodes before the window closes and others
// after it splits the set, and then p and every claim's verification with
// it. The book marks such candidacies as disputed — those it received in
// the second half of the window or after it closed (an honest one arrives
// within moments of the window's start) — so that a Node does not
// penalise peers for claims that another view of the set may have accepted
// (Disputed).
type CandidateBook struct {
	cfg Config
	max int

	mu       sync.RWMutex
	sets     map[uint64]*candSet
	disputed map[uint64]map[pkKey]struct{}
}

type candSet struct {
	members map[pkKey][DigestSize]byte // key -> rank
	worst   rankHeap                   // max-heap by rank, filled once the set is full
}

type rankEntry struct {
	rank [DigestSize]byte
	key  pkKey
}

// rankHeap is a max-heap of ranks: the root is the entry to evict first.
type rankHeap []rankEntry

func (h rankHeap) Len() int           { return len(h) }
func (h rankHeap) Less(i, j int) bool { return bytes.Compare(h[i].rank[:], h[j].rank[:]) > 0 }
func (h rankHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *rankHeap) Push(x any)        { *h = append(*h, x.(rankEntry)) }
func (h *rankHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

const rankDomain = "fog/lottery/candidate-rank/v1"

func candidateRank(e uint64, k pkKey) [DigestSize]byte {
	b := make([]byte, 0, len(rankDomain)+8+len(k))
	b = append(b, rankDomain...)
	b = binary.BigEndian.AppendUint64(b, e)
	b = append(b, k[:]...)
	return sha256.Sum256(b)
}

// NewCandidateBook returns an empty book for cfg that keeps at most limit
// candidates per epoch (at least 1).
func NewCandidateBook(cfg Config, limit int) *CandidateBook {
	return &CandidateBook{cfg: cfg, max: max(limit, 1), sets: map[uint64]*candSet{}, disputed: map[uint64]map[pkKey]struct{}{}}
}

// Window returns the interval of this node's clock in which candidacies for
// epoch e are accepted: [EpochStart(e-1) - 2*MaxClockSkew, ClaimClose(e-1)).
// Epoch 0 has no window (ok false): it never has announced candidates.
func (b *CandidateBook) Window(e uint64) (from, until time.Time, ok bool) {
	if e == 0 {
		return time.Time{}, time.Time{}, false
	}
	return b.cfg.EpochStart(e - 1).Add(-2 * b.cfg.MaxClockSkew), b.cfg.ClaimClose(e - 1), true
}

// Receive records candidacy c received at now. It returns Accept if c is
// new and inside its window, and Ignore with ErrEarly, ErrLate,
// ErrDuplicate or ErrCandidatesFull otherwise; a malformed candidacy is
// rejected with ErrMalformed.
func (b *CandidateBook) Receive(now time.Time, c Candidacy) (Verdict, error) {
	if len(c.Key) != ed25519.PublicKeySize || c.Epoch == 0 {
		return Reject, fmt.Errorf("%w: candidacy fields", ErrMalformed)
	}
	from, until, _ := b.Window(c.Epoch)
	k := pkKey(c.Key)
	b.mu.Lock()
	defer b.mu.Unlock()
	switch {
	case now.Before(from):
		return Ignore, fmt.Errorf("%w: candidacy for epoch %d, window opens at %s", ErrEarly, c.Epoch, from.Format(time.RFC3339Nano))
	case !now.Before(until):
		if s := b.sets[c.Epoch]; s != nil {
			if _, member := s.members[k]; member {
				return Ignore, fmt.Errorf("%w: candidacy of %x for epoch %d", ErrDuplicate, k[:], c.Epoch)
			}
		}
		if now.Before(until.Add(b.cfg.epochLength(c.Epoch - 1))) {
			b.dispute(c.Epoch, k)
		}
		return Ignore, fmt.Errorf("%w: candidacy for epoch %d, window closed at %s", ErrLate, c.Epoch, until.Format(time.RFC3339Nano))
	case !now.Before(until.Add(-b.cfg.ClaimWindow / 2)):
		b.dispute(c.Epoch, k)
	}
	s := b.sets[c.Epoch]
	if s == nil {
		s = &candSet{members: map[pkKey][DigestSize]byte{}}
		b.sets[c.Epoch] = s
	}
	if _, ok := s.members[k]; ok {
		return Ignore, fmt.Errorf("%w: candidacy of %x for epoch %d", ErrDuplicate, k[:], c.Epoch)
	}
	r := candidateRank(c.Epoch, k)
	if len(s.members) >= b.max {
		if s.worst == nil {
			for mk, mr := range s.members {
				s.worst = append(s.worst, rankEntry{rank: mr, key: mk})
			}
			heap.Init(&s.worst)
		}
		if bytes.Compare(r[:], s.worst[0].rank[:]) >= 0 {
			return Ignore, fmt.Errorf("%w: %d candidates for epoch %d", ErrCandidatesFull, b.max, c.Epoch)
		}
		out := heap.Pop(&s.worst).(rankEntry)
		delete(s.members, out.key)
		heap.Push(&s.worst, rankEntry{rank: r, key: k})
	}
	s.members[k] = r
	return Accept, nil
}

// dispute marks k's candidacy for e as received near or after the
// deadline. b.mu is held.
func (b *CandidateBook) dispute(e uint64, k pkKey) {
	d := b.disputed[e]
	if d == nil {
		d = map[pkKey]struct{}{}
		b.disputed[e] = d
	}
	if len(d) < b.max {
		d[k] = struct{}{}
	}
}

// Disputed reports whether pk's candidacy for epoch e arrived here near
// or after the window's close, so that other nodes may disagree on whether
// pk is a candidate of e; with pk nil, whether any candidacy for e did, so
// that other nodes may count another total weight (and draw p
// differently).
func (b *CandidateBook) Disputed(e uint64, pk ed25519.PublicKey) bool {
	b.mu.RLock()
	defer b.mu.RUnlock()
	d := b.disputed[e]
	if pk == nil {
		return len(d) > 0
	}
	if len(pk) != ed25519.PublicKeySize {
		return false
	}
	_, ok := d[pkKey(pk)]
	return ok
}

// Weight returns 1 if pk is a candidate of epoch e, else 0.
func (b *CandidateBook) Weight(e uint64, pk ed25519.PublicKey) uint64 {
	if len(pk) != ed25519.PublicKeySize {
		return 0
	}
	b.mu.RLock()
	defer b.mu.RUnlock()
	if s := b.sets[e]; s != nil {
		if _, ok := s.members[pkKey(pk)]; ok {
			return 1
		}
	}
	return 0
}

// TotalWeight returns the number of candidates of epoch e.
func (b *CandidateBook) TotalWeight(e uint64) uint64 {
	b.mu.RLock()
	defer b.mu.RUnlock()
	if s := b.sets[e]; s != nil {
		return uint64(len(s.members))
	}
	return 0
}

// Candidates returns the candidates of epoch e, sorted by key bytes. Before
// the window of e has closed the set may still grow.
func (b *CandidateBook) Candidates(e uint64) []ed25519.PublicKey {
	b.mu.RLock()
	defer b.mu.RUnlock()
	s := b.sets[e]
	if s == nil {
		return nil
	}
	ks := slices.SortedFunc(maps.Keys(s.members), func(x, y pkKey) int { return bytes.Compare(x[:], y[:]) })
	out := make([]ed25519.PublicKey, len(ks))
	for i, k := range ks {
		out[i] = bytes.Clone(k[:])
	}
	return out
}

// Prune forgets the candidate sets of epochs before before.
func (b *CandidateBook) Prune(before uint64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for e := range b.sets {
		if e < before {
			delete(b.sets, e)
		}
	}
	for e := range b.disputed {
		if e < before {
			delete(b.disputed, e)
		}
	}
}
