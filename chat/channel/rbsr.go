package channel

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"math"
	"math/bits"
	"slices"

	"github.com/fog-compute/fog/internal/binenc"
)

// This file is the deterministic core of history sync: range-based set
// reconciliation (RBSR) of message IDs ordered by time, after Negentropy
// and Waku's store sync. It does no I/O and reads no clock; the stream
// shell (sync.go) carries its messages. docs/channels.md, "History sync",
// describes the protocol.

// Item is one element of a reconciled set: a message's time (unix ms) and
// ID. Items are ordered by time, then ID.
type Item struct {
	Time uint64
	ID   ID
}

func (a Item) cmp(b Item) int {
	switch {
	case a.Time < b.Time:
		return -1
	case a.Time > b.Time:
		return 1
	}
	return bytes.Compare(a.ID[:], b.ID[:])
}

// fingerprintLen is the length of a range's fingerprint.
const fingerprintLen = 16

// rbsrVersion is the first byte of every reconciliation message.
const rbsrVersion = 1

// Range modes on the wire.
const (
	modeSkip        = 0
	modeFingerprint = 1
	modeIDList      = 2
)

// bound is the upper end (exclusive) of a range: an item x lies below it
// if x.Time < time, or x.Time == time and x.ID is below prefix padded with
// zero bytes. inf lies above every item. A canonical prefix has no
// trailing zero byte.
type bound struct {
	inf    bool
	time   uint64
	prefix []byte
}

var infBound = bound{inf: true}

// below reports whether x lies below b.
func (b bound) below(x Item) bool {
	if b.inf || x.Time < b.time {
		return true
	}
	if x.Time > b.time {
		return false
	}
	return bytes.Compare(x.ID[:len(b.prefix)], b.prefix) < 0
}

// cmpBound orders bounds.
func cmpBound(a, b bound) int {
	switch {
	case a.inf && b.inf:
		return 0
	case a.inf:
		return 1
	case b.inf:
		return -1
	case a.time != b.time:
		if a.time < b.time {
			return -1
		}
		return 1
	}
	var pa, pb [32]byte
	copy(pa[:], a.prefix)
	copy(pb[:], b.prefix)
	return bytes.Compare(pa[:], pb[:])
}

// between returns the shortest bound above a and not above b (a < b).
func between(a, b Item) bound {
	if a.Time < b.Time {
		return bound{time: b.Time}
	}
	l := 0
	for l < len(a.ID) && a.ID[l] == b.ID[l] {
		l++
	}
	return bound{time: b.Time, prefix: slices.Clone(b.ID[:l+1])}
}

// Set is a sorted set of items with prefix sums of the IDs, so that any
// range's fingerprint costs O(1) after an O(n) build. It is immutable and
// safe for concurrent use.
type Set struct {
	items []Item
	sums  [][4]uint64 // sums[i] = Σ items[:i].ID, as 256-bit little-endian integers mod 2²⁵⁶
}

// NewSet builds a set of items (duplicates are dropped).
func NewSet(items []Item) *Set {
	it := slices.Clone(items)
	slices.SortFunc(it, Item.cmp)
	it = slices.CompactFunc(it, func(a, b Item) bool { return a.cmp(b) == 0 })
	s := &Set{items: it, sums: make([][4]uint64, len(it)+1)}
	for i, x := range it {
		s.sums[i+1] = add256(s.sums[i], limbs(x.ID))
	}
	return s
}

// Len returns the number of items.
func (s *Set) Len() int { return len(s.items) }

func limbs(id ID) [4]uint64 {
	var l [4]uint64
	for i := range l {
		l[i] = binary.LittleEndian.Uint64(id[8*i:])
	}
	return l
}

func add256(a, b [4]uint64) [4]uint64 {
	var c uint64
	for i := range a {
		a[i], c = bits.Add64(a[i], b[i], c)
	}
	return a
}

func sub256(a, b [4]uint64) [4]uint64 {
	var c uint64
	for i := range a {
		a[i], c = bits.Sub64(a[i], b[i], c)
	}
	return a
}

// index returns the number of items below b.
func (s *Set) index(b bound) int {
	if b.inf {
		return len(s.items)
	}
	i, _ := slices.BinarySearchFunc(s.items, b, func(x Item, b bound) int {
		if b.below(x) {
			return -1
		}
		return 1
	})
	return i
}

// fingerprint returns the fingerprint of items[lo:hi]: the first 16 bytes
// of SHA-256 over the sum of their IDs (mod 2²⁵⁶, 32 bytes little-endian)
// and their count (uvarint).
func (s *Set) fingerprint(lo, hi int) [fingerprintLen]byte {
	sum := sub256(s.sums[hi], s.sums[lo])
	var buf [32 + binary.MaxVarintLen64]byte
	for i, l := range sum {
		binary.LittleEndian.PutUint64(buf[8*i:], l)
	}
	n := binary.PutUvarint(buf[32:], uint64(hi-lo))
	h := sha256.Sum256(buf[:32+n])
	var fp [fingerprintLen]byte
	copy(fp[:], h[:])
	return fp
}

// RBSRConfig tunes reconciliation. Both sides may use different values.
type RBSRConfig struct {
	// Buckets is how many sub-ranges a range whose fingerprints differ is
	// split into. 16, as Negentropy: log₁₆ n rounds, 16 fingerprints per
	// differing range per round.
	Buckets int
	// IDListThreshold: a differing range of at most this many of our
	// items is answered with their IDs instead of being split. 16 (=
	// Buckets): 16 IDs cost 512 bytes, 16 fingerprints with their bounds
	// about 300 and another round trip.
	IDListThreshold int
	// MaxIDs bounds the IDs a responder lists for a range the initiator
	// listed; beyond it the responder splits the range. It bounds one
	// message to about MaxIDs × 32 bytes per range.
	MaxIDs int
	// MaxRanges bounds the ranges of a message accepted from the peer.
	// 32,768: about 2,000 differing ranges split 16 ways, some 650 KiB
	// of fingerprints, within Config.MaxFrame.
	MaxRanges int
}

// DefaultRBSRConfig returns the defaults documented on RBSRConfig.
func DefaultRBSRConfig() RBSRConfig {
	return RBSRConfig{Buckets: 16, IDListThreshold: 16, MaxIDs: 1024, MaxRanges: 1 << 15}
}

func (c RBSRConfig) validate() error {
	switch {
	case c.Buckets < 2:
		return fmt.Errorf("%w: RBSR.Buckets %d must be at least 2", ErrConfig, c.Buckets)
	case c.IDListThreshold < c.Buckets:
		return fmt.Errorf("%w: RBSR.IDListThreshold %d must be at least Buckets %d", ErrConfig, c.IDListThreshold, c.Buckets)
	case c.MaxIDs < c.IDListThreshold:
		return fmt.Errorf("%w: RBSR.MaxIDs %d must be at least IDListThreshold %d", ErrConfig, c.MaxIDs, c.IDListThreshold)
	case c.MaxRanges < c.Buckets:
		return fmt.Errorf("%w: RBSR.MaxRanges %d must be at least Buckets %d", ErrConfig, c.MaxRanges, c.Buckets)
	}
	return nil
}

// rangeMsg is one range of a reconciliation message.
type rangeMsg struct {
	upper bound
	mode  int
	fp    [fingerprintLen]byte
	ids   []ID
}

// Reconciler is one side of a reconciliation over a Set. The initiator
// calls Initiate, then Step with each reply until Step says it is done;
// it then knows Have (its IDs the responder lacks) and Need (the
// responder's IDs it lacks). The responder calls Step with each message
// and sends back what it returns; its Need and Have come from the ID
// lists the initiator sent it and from the IDs the initiator shows it at
// the end (Shown): where the responder answered with its own ID list, only
// the initiator learns the difference. It is not safe for concurrent use.
type Reconciler struct {
	set       *Set
	cfg       RBSRConfig
	initiator bool
	have      []ID
	need      []ID
}

// NewReconciler returns one side of a reconciliation over set.
func NewReconciler(set *Set, cfg RBSRConfig, initiator bool) *Reconciler {
	return &Reconciler{set: set, cfg: cfg, initiator: initiator}
}

// Initiate returns the initiator's first message: ranges covering items
// from floor (unix ms) on; everything earlier is skipped.
func (r *Reconciler) Initiate(floor uint64) []byte {
	var out builder
	if floor > 0 {
		out.skip(bound{time: floor})
	}
	lo := r.set.index(bound{time: floor})
	r.split(&out, lo, len(r.set.items), infBound)
	return out.encode()
}

// Step processes the peer's message. The responder sends what it returns
// back (always a message). For the initiator, done says reconciliation is
// complete (out is nil); otherwise out is the next message to send.
func (r *Reconciler) Step(in []byte) (out []byte, done bool, err error) {
	ranges, err := decodeRanges(in, r.cfg.MaxRanges)
	if err != nil {
		return nil, false, err
	}
	var b builder
	lower := 0
	for _, rg := range ranges {
		hi := r.set.index(rg.upper)
		if hi < lower { // cannot happen: bounds increase
			hi = lower
		}
		switch rg.mode {
		case modeSkip:
			b.skip(rg.upper)
		case modeFingerprint:
			if r.set.fingerprint(lower, hi) == rg.fp {
				b.skip(rg.upper)
			} else {
				r.split(&b, lower, hi, rg.upper)
			}
		case modeIDList:
			if r.initiator {
				r.diff(rg.ids, r.set.items[lower:hi])
				b.skip(rg.upper)
			} else if hi-lower <= r.cfg.MaxIDs {
				r.diff(rg.ids, r.set.items[lower:hi])
				b.idList(rg.upper, r.set.items[lower:hi])
			} else {
				r.buckets(&b, lower, hi, rg.upper)
			}
		}
		lower = hi
	}
	if r.initiator && !b.open() {
		return nil, true, nil
	}
	return b.encode(), false, nil
}

// split answers a differing range [items lo, hi) ending at upper: with our
// IDs if few, else with fingerprints of Buckets sub-ranges.
func (r *Reconciler) split(b *builder, lo, hi int, upper bound) {
	if hi-lo <= r.cfg.IDListThreshold {
		b.idList(upper, r.set.items[lo:hi])
		return
	}
	r.buckets(b, lo, hi, upper)
}

func (r *Reconciler) buckets(b *builder, lo, hi int, upper bound) {
	n := hi - lo
	k := min(r.cfg.Buckets, n)
	start := lo
	for i := 1; i <= k; i++ {
		end := lo + i*n/k
		ub := upper
		if i < k {
			ub = between(r.set.items[end-1], r.set.items[end])
		}
		b.fingerprint(ub, r.set.fingerprint(start, end))
		start = end
	}
}

// diff records the differences between the responder's IDs theirs and our
// items mine of one range.
func (r *Reconciler) diff(theirs []ID, mine []Item) {
	have := make(map[ID]bool, len(mine))
	for _, x := range mine {
		have[x.ID] = true
	}
	seen := make(map[ID]bool, len(theirs))
	for _, id := range theirs {
		seen[id] = true
		if !have[id] {
			r.need = append(r.need, id)
		}
	}
	for _, x := range mine {
		if !seen[x.ID] {
			r.have = append(r.have, x.ID)
		}
	}
}

// Shown records, on the responder, IDs the initiator holds (its Have):
// those not in the set and not yet known are added to Need.
func (r *Reconciler) Shown(ids []ID) {
	if len(ids) == 0 {
		return
	}
	known := make(map[ID]bool, len(r.set.items)+len(r.need))
	for _, x := range r.set.items {
		known[x.ID] = true
	}
	for _, id := range r.need {
		known[id] = true
	}
	for _, id := range ids {
		if !known[id] {
			known[id] = true
			r.need = append(r.need, id)
		}
	}
}

// Have returns the initiator's IDs the responder lacks, known so far.
func (r *Reconciler) Have() []ID { return slices.Clone(r.have) }

// Need returns the responder's IDs the initiator lacks, known so far.
func (r *Reconciler) Need() []ID { return slices.Clone(r.need) }

// builder assembles a message's ranges, merging adjacent skips.
type builder struct{ ranges []rangeMsg }

func (b *builder) skip(upper bound) {
	if n := len(b.ranges); n > 0 && b.ranges[n-1].mode == modeSkip {
		b.ranges[n-1].upper = upper
		return
	}
	b.ranges = append(b.ranges, rangeMsg{upper: upper, mode: modeSkip})
}

func (b *builder) fingerprint(upper bound, fp [fingerprintLen]byte) {
	b.ranges = append(b.ranges, rangeMsg{upper: upper, mode: modeFingerprint, fp: fp})
}

func (b *builder) idList(upper bound, items []Item) {
	ids := make([]ID, len(items))
	for i, x := range items {
		ids[i] = x.ID
	}
	b.ranges = append(b.ranges, rangeMsg{upper: upper, mode: modeIDList, ids: ids})
}

// open reports whether any range asks for an answer.
func (b *builder) open() bool {
	for _, rg := range b.ranges {
		if rg.mode != modeSkip {
			return true
		}
	}
	return false
}

// encode returns the message, a trailing skip left out:
//
//	u8 version=1 | ranges…
//	range: uvarint time | uvarint len, prefix | uvarint mode | payload
//	time: 0 for the infinite bound, else 1 + (time − previous bound's time)
//	payload: skip: none; fingerprint: 16 bytes; ID list: uvarint n, n × 32 bytes
func (b *builder) encode() []byte {
	rs := b.ranges
	if n := len(rs); n > 0 && rs[n-1].mode == modeSkip {
		rs = rs[:n-1]
	}
	out := []byte{rbsrVersion}
	var prev uint64
	for _, rg := range rs {
		if rg.upper.inf {
			out = append(out, 0)
		} else {
			out = binary.AppendUvarint(out, rg.upper.time-prev+1)
			prev = rg.upper.time
		}
		out = binenc.AppendBytes(out, rg.upper.prefix)
		out = binary.AppendUvarint(out, uint64(rg.mode))
		switch rg.mode {
		case modeFingerprint:
			out = append(out, rg.fp[:]...)
		case modeIDList:
			out = binary.AppendUvarint(out, uint64(len(rg.ids)))
			for _, id := range rg.ids {
				out = append(out, id[:]...)
			}
		}
	}
	return out
}

// decodeRanges parses a reconciliation message, rejecting non-canonical or
// out-of-order input and more than maxRanges ranges.
func decodeRanges(b []byte, maxRanges int) ([]rangeMsg, error) {
	r := binenc.NewReader(b, ErrMalformed)
	if v := r.Byte(); r.Err() == nil && v != rbsrVersion {
		return nil, fmt.Errorf("%w: reconciliation version %d, want %d", ErrMalformed, v, rbsrVersion)
	}
	var out []rangeMsg
	var prev uint64
	last := bound{time: 0}
	for r.Err() == nil && r.Len() > 0 {
		if len(out) == maxRanges {
			return nil, fmt.Errorf("%w: more than %d ranges", ErrMalformed, maxRanges)
		}
		if last.inf {
			return nil, fmt.Errorf("%w: range after the infinite bound", ErrMalformed)
		}
		var rg rangeMsg
		t := r.Uvarint()
		if t == 0 {
			rg.upper = infBound
		} else {
			d := t - 1
			if d > math.MaxInt64-prev {
				return nil, fmt.Errorf("%w: bound time out of range", ErrMalformed)
			}
			prev += d
			rg.upper = bound{time: prev}
		}
		p := r.Bytes()
		switch {
		case len(p) > len(ID{}):
			return nil, fmt.Errorf("%w: bound prefix of %d bytes", ErrMalformed, len(p))
		case len(p) > 0 && p[len(p)-1] == 0:
			return nil, fmt.Errorf("%w: bound prefix ends in a zero byte", ErrMalformed)
		case len(p) > 0 && rg.upper.inf:
			return nil, fmt.Errorf("%w: infinite bound with a prefix", ErrMalformed)
		}
		if len(p) > 0 {
			rg.upper.prefix = slices.Clone(p)
		}
		if r.Err() == nil && cmpBound(rg.upper, last) <= 0 && len(out) > 0 {
			return nil, fmt.Errorf("%w: bounds not increasing", ErrMalformed)
		}
		rg.mode = int(r.Uvarint())
		switch rg.mode {
		case modeSkip:
		case modeFingerprint:
			copy(rg.fp[:], fixed(r, fingerprintLen))
		case modeIDList:
			n := r.Uvarint()
			if r.Err() == nil && n > uint64(r.Len()/len(ID{})) {
				return nil, fmt.Errorf("%w: ID list overruns the message", ErrMalformed)
			}
			rg.ids = make([]ID, int(n))
			for i := range rg.ids {
				copy(rg.ids[i][:], fixed(r, len(ID{})))
			}
		default:
			return nil, fmt.Errorf("%w: range mode %d", ErrMalformed, rg.mode)
		}
		if len(out) > 0 && rg.mode == modeSkip && out[len(out)-1].mode == modeSkip {
			return nil, fmt.Errorf("%w: adjacent skips", ErrMalformed)
		}
		out = append(out, rg)
		last = rg.upper
	}
	if err := r.Err(); err != nil {
		return nil, err
	}
	if n := len(out); n > 0 && out[n-1].mode == modeSkip {
		return nil, fmt.Errorf("%w: trailing skip", ErrMalformed)
	}
	return out, nil
}
