package gossip

import (
	"cmp"
	"crypto/sha256"
	"encoding/binary"
	"math"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/fog-compute/fog/internal/clock"
)

// Entry is one peer's advert in the directory.
type Entry struct {
	// Advert is the newest valid advert of the peer. Its slices are
	// shared with the directory: treat them as read-only.
	Advert Advert `json:"advert"`
	// Latency is the peer's measured round-trip time at the last refresh
	// (0 for ourselves and for peers never measured).
	Latency time.Duration `json:"latency"`
	// Received is when this node stored the advert.
	Received time.Time `json:"received"`
}

// SortKey orders query results.
type SortKey int

// Query orders. Ties are broken by price, then load, then peer ID, so the
// same directory always answers the same query with the same list.
const (
	// ByPrice sorts by ascending price per CPU-second.
	ByPrice SortKey = iota
	// ByLoad sorts by ascending load (tasks queued and running per core).
	ByLoad
	// ByLatency sorts by ascending measured latency, unmeasured peers
	// last; this node itself counts as latency 0.
	ByLatency
)

// String names the sort key as the API spells it.
func (k SortKey) String() string {
	switch k {
	case ByPrice:
		return "price"
	case ByLoad:
		return "load"
	case ByLatency:
		return "latency"
	}
	return "unknown"
}

// ParseSortKey parses "price", "load" or "latency".
func ParseSortKey(s string) (SortKey, bool) {
	for _, k := range []SortKey{ByPrice, ByLoad, ByLatency} {
		if k.String() == s {
			return k, true
		}
	}
	return 0, false
}

// Query selects directory entries: those offering at least the given
// cores, free memory and disk and the runtime (if set), sorted by Sort,
// at most Limit of them (0 for all).
type Query struct {
	MinCores  uint32  `json:"min_cores,omitempty"`
	MinMemory uint64  `json:"min_memory,omitempty"`
	MinDisk   uint64  `json:"min_disk,omitempty"`
	Runtime   string  `json:"runtime,omitempty"`
	Sort      SortKey `json:"sort"`
	Limit     int     `json:"limit,omitempty"`
}

// Directory holds the newest valid advert per peer, its own node's
// included, and answers queries over them. Entries past their expiry are
// never returned and are removed by Prune. It is safe for concurrent use;
// queries run in parallel with each other.
//
// A query scans a compact array of the filter and sort fields (one 64-byte
// row per entry) and keeps the best Limit matches in a bounded heap, so it
// costs O(n + m·log Limit) for n entries and m matches and allocates only
// its result: tens of microseconds at 10,000 entries.
type Directory struct {
	cfg     DirectoryConfig
	self    peer.ID
	latency func(peer.ID) time.Duration
	now     func() time.Time

	mu      sync.RWMutex
	idx     map[peer.ID]int
	rows    []row    // parallel to entries
	entries []*Entry // never mutated once stored
	rtBit   map[string]uint
	notify  chan struct{} // closed and replaced whenever an advert is stored
}

// row holds what a query reads for one entry, 64 bytes.
type row struct {
	key     [3]uint64 // sort keys indexed by SortKey: price, load, latency (ns, noLatency when unknown)
	mem     uint64
	disk    uint64
	rt      uint64 // bit i: runtime interned as i; rtOther: some runtime is not interned
	expires int64  // unix ms
	cores   uint32
}

const (
	rtOther   = 63 // bit for runtimes beyond the interned 63
	noLatency = math.MaxInt64
)

// NewDirectory returns an empty directory of the node self. latency may be
// nil (every peer unmeasured), now nil for clock.Real().Now. Gossip creates one;
// the constructor is exported for tools and benchmarks that feed adverts
// directly.
func NewDirectory(cfg DirectoryConfig, self peer.ID, latency func(peer.ID) time.Duration, now func() time.Time) *Directory {
	if now == nil {
		now = clock.Real().Now
	}
	if latency == nil {
		latency = func(peer.ID) time.Duration { return 0 }
	}
	if cfg.MaxEntries < 1 {
		cfg.MaxEntries = DefaultConfig().Directory.MaxEntries
	}
	return &Directory{
		cfg:     cfg,
		self:    self,
		latency: latency,
		now:     now,
		idx:     map[peer.ID]int{},
		rtBit:   map[string]uint{},
		notify:  make(chan struct{}),
	}
}

func (d *Directory) measure(p peer.ID) int64 {
	if p == d.self {
		return 0
	}
	if l := d.latency(p); l > 0 {
		return int64(l)
	}
	return noLatency
}

// Update stores a, unless the directory holds an advert of the same peer
// with an equal or higher sequence number, or a has expired. It reports
// whether a was stored. The advert must have passed validation (Gossip
// feeds the directory from the capacity topic's validated messages).
func (d *Directory) Update(a Advert) bool {
	now := d.now()
	if !a.Expires.After(now) {
		return false
	}
	lat := d.measure(a.Peer) // outside the lock: it may take the peerstore's
	e := &Entry{Advert: a, Latency: latencyOf(lat), Received: now}
	d.mu.Lock()
	defer d.mu.Unlock()
	r := d.rowOf(&a, lat)
	if i, ok := d.idx[a.Peer]; ok {
		if d.entries[i].Advert.Seq >= a.Seq && d.rows[i].expires > now.UnixMilli() {
			return false
		}
		d.rows[i], d.entries[i] = r, e
		d.changed()
		return true
	}
	if len(d.rows) >= d.cfg.MaxEntries {
		d.pruneLocked(now.UnixMilli())
	}
	if len(d.rows) >= d.cfg.MaxEntries {
		// Full of live entries: the one closest to expiry goes, unless
		// that is the newcomer.
		victim := 0
		for i := range d.rows {
			if d.rows[i].expires < d.rows[victim].expires {
				victim = i
			}
		}
		if r.expires <= d.rows[victim].expires {
			return false
		}
		d.removeLocked(victim)
	}
	d.idx[a.Peer] = len(d.rows)
	d.rows = append(d.rows, r)
	d.entries = append(d.entries, e)
	d.changed()
	return true
}

// changed wakes Updated waiters; d.mu is held.
func (d *Directory) changed() {
	close(d.notify)
	d.notify = make(chan struct{})
}

// Updated returns a channel that is closed when the next advert is stored,
// to wait for the directory to change without polling: take the channel,
// check the condition, then wait on the channel.
func (d *Directory) Updated() <-chan struct{} {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return d.notify
}

func latencyOf(ns int64) time.Duration {
	if ns == noLatency {
		return 0
	}
	return time.Duration(ns)
}

func (d *Directory) rowOf(a *Advert, lat int64) row {
	r := row{
		key:     [3]uint64{ByPrice: a.Price, ByLoad: a.Load(), ByLatency: uint64(lat)},
		mem:     a.Memory,
		disk:    a.Disk,
		expires: a.Expires.UnixMilli(),
		cores:   a.Cores,
	}
	for _, name := range a.Runtimes {
		bit, ok := d.rtBit[name]
		if !ok && len(d.rtBit) < rtOther {
			bit, ok = uint(len(d.rtBit)), true
			d.rtBit[name] = bit
		}
		if !ok {
			bit = rtOther
		}
		r.rt |= 1 << bit
	}
	return r
}

// removeLocked deletes entry i by moving the last entry into its place.
func (d *Directory) removeLocked(i int) {
	last := len(d.rows) - 1
	delete(d.idx, d.entries[i].Advert.Peer)
	if i != last {
		d.rows[i], d.entries[i] = d.rows[last], d.entries[last]
		d.idx[d.entries[i].Advert.Peer] = i
	}
	d.entries[last] = nil
	d.rows, d.entries = d.rows[:last], d.entries[:last]
}

// Prune removes expired entries and returns how many it removed.
func (d *Directory) Prune() int {
	now := d.now().UnixMilli()
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.pruneLocked(now)
}

func (d *Directory) pruneLocked(nowMs int64) int {
	n := 0
	for i := 0; i < len(d.rows); {
		if d.rows[i].expires <= nowMs {
			d.removeLocked(i)
			n++
			continue
		}
		i++
	}
	return n
}

// RefreshLatency re-reads every entry's measured latency. Gossip calls it
// every DirectoryConfig.LatencyRefresh.
func (d *Directory) RefreshLatency() {
	d.mu.RLock()
	peers := make([]peer.ID, len(d.entries))
	for i, e := range d.entries {
		peers[i] = e.Advert.Peer
	}
	d.mu.RUnlock()
	lats := make([]int64, len(peers))
	for i, p := range peers {
		lats[i] = d.measure(p)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	for i, p := range peers {
		j, ok := d.idx[p]
		if !ok || d.rows[j].key[ByLatency] == uint64(lats[i]) {
			continue
		}
		d.rows[j].key[ByLatency] = uint64(lats[i])
		e := *d.entries[j]
		e.Latency = latencyOf(lats[i])
		d.entries[j] = &e
	}
}

// Query returns copies of the live entries matching q, best first. An
// unknown Sort sorts by price.
func (d *Directory) Query(q Query) []Entry {
	now := d.now().UnixMilli()
	sk := q.Sort
	if sk < ByPrice || sk > ByLatency {
		sk = ByPrice
	}
	d.mu.RLock()
	defer d.mu.RUnlock()

	var want, anyRT uint64 = 0, 1
	if q.Runtime != "" {
		bit, ok := d.rtBit[q.Runtime]
		switch {
		case ok:
			want, anyRT = 1<<bit, 0
		case len(d.rtBit) >= rtOther:
			return d.copyOut(d.querySlow(q, sk, now)) // not interned: compare names
		default:
			return nil // nobody offers it
		}
	}
	sel := newSelector(d, sk, q.Limit)
	// The filter is evaluated without branches and folded with "no worse
	// than the worst kept": once the heap holds Limit good entries almost
	// every row fails that test, so the one branch per row is predictable
	// and a scan of 10,000 rows stays in the tens of microseconds.
	worst := uint64(math.MaxUint64)
	for i := range d.rows {
		r := &d.rows[i]
		ok := b2u(r.expires > now) & b2u(r.cores >= q.MinCores) & b2u(r.mem >= q.MinMemory) &
			b2u(r.disk >= q.MinDisk) & (b2u(r.rt&want != 0) | anyRT) & b2u(r.key[sk] <= worst)
		if ok == 0 {
			continue
		}
		if sel.offer(i) {
			worst = d.rows[sel.heap[0]].key[sk]
		}
	}
	return d.copyOut(sel.sorted())
}

func b2u(b bool) uint64 {
	if b {
		return 1
	}
	return 0
}

// querySlow answers a query for a runtime that is not interned.
func (d *Directory) querySlow(q Query, sk SortKey, now int64) []int {
	sel := newSelector(d, sk, q.Limit)
	for i := range d.rows {
		r := &d.rows[i]
		if r.expires <= now || r.cores < q.MinCores || r.mem < q.MinMemory || r.disk < q.MinDisk ||
			r.rt&(1<<rtOther) == 0 || !slices.Contains(d.entries[i].Advert.Runtimes, q.Runtime) {
			continue
		}
		sel.offer(i)
	}
	return sel.sorted()
}

func (d *Directory) copyOut(idx []int) []Entry {
	out := make([]Entry, len(idx))
	for j, i := range idx {
		out[j] = *d.entries[i]
	}
	return out
}

// selector keeps the best limit row indices in a max-heap (worst on top),
// or every index when limit is 0.
type selector struct {
	d     *Directory
	key   SortKey
	limit int
	heap  []int
}

// newSelector returns a selector whose heap is allocated once: with a
// limit it never holds more than limit (or every row) indices.
func newSelector(d *Directory, key SortKey, limit int) selector {
	s := selector{d: d, key: key, limit: limit}
	if limit > 0 {
		s.heap = make([]int, 0, min(limit, len(d.rows)))
	}
	return s
}

// cmp orders rows i and j: negative when i is better. Ties on the sort key
// fall to price, then load, then peer ID.
func (s *selector) cmp(i, j int) int {
	a, b := &s.d.rows[i], &s.d.rows[j]
	if c := cmp.Compare(a.key[s.key], b.key[s.key]); c != 0 {
		return c
	}
	if c := cmp.Compare(a.key[ByPrice], b.key[ByPrice]); c != 0 {
		return c
	}
	if c := cmp.Compare(a.key[ByLoad], b.key[ByLoad]); c != 0 {
		return c
	}
	return strings.Compare(string(s.d.entries[i].Advert.Peer), string(s.d.entries[j].Advert.Peer))
}

// offer considers row i and reports whether the heap is full (so its top
// is the worst entry kept).
func (s *selector) offer(i int) bool {
	if s.limit <= 0 {
		s.heap = append(s.heap, i)
		return false
	}
	if len(s.heap) < s.limit {
		s.heap = append(s.heap, i)
		s.up(len(s.heap) - 1)
		return len(s.heap) == s.limit
	}
	if s.cmp(i, s.heap[0]) < 0 {
		s.heap[0] = i
		s.down(0)
	}
	return true
}

func (s *selector) up(k int) {
	for k > 0 {
		p := (k - 1) / 2
		if s.cmp(s.heap[k], s.heap[p]) <= 0 {
			return
		}
		s.heap[k], s.heap[p] = s.heap[p], s.heap[k]
		k = p
	}
}

func (s *selector) down(k int) {
	n := len(s.heap)
	for {
		l := 2*k + 1
		if l >= n {
			return
		}
		w := l
		if r := l + 1; r < n && s.cmp(s.heap[r], s.heap[l]) > 0 {
			w = r
		}
		if s.cmp(s.heap[w], s.heap[k]) <= 0 {
			return
		}
		s.heap[k], s.heap[w] = s.heap[w], s.heap[k]
		k = w
	}
}

func (s *selector) sorted() []int {
	slices.SortFunc(s.heap, s.cmp)
	return s.heap
}

// Get returns the live entry of peer p.
func (d *Directory) Get(p peer.ID) (Entry, bool) {
	now := d.now().UnixMilli()
	d.mu.RLock()
	defer d.mu.RUnlock()
	i, ok := d.idx[p]
	if !ok || d.rows[i].expires <= now {
		return Entry{}, false
	}
	return *d.entries[i], true
}

// Len returns the number of live entries.
func (d *Directory) Len() int {
	now := d.now().UnixMilli()
	d.mu.RLock()
	defer d.mu.RUnlock()
	n := 0
	for i := range d.rows {
		if d.rows[i].expires > now {
			n++
		}
	}
	return n
}

// Snapshot returns copies of the live entries sorted by peer ID.
func (d *Directory) Snapshot() []Entry {
	now := d.now().UnixMilli()
	d.mu.RLock()
	out := make([]Entry, 0, len(d.entries))
	for i, e := range d.entries {
		if d.rows[i].expires > now {
			out = append(out, *e)
		}
	}
	d.mu.RUnlock()
	slices.SortFunc(out, func(a, b Entry) int { return strings.Compare(string(a.Advert.Peer), string(b.Advert.Peer)) })
	return out
}

// Digest summarises which advert the directory holds for which peer:
// SHA-256 over the live entries' (peer ID, sequence) in peer order. Two
// directories with equal digests hold the same adverts, whatever order
// they received them in; the simulator compares them to measure
// convergence.
func (d *Directory) Digest() [32]byte {
	h := sha256.New()
	var buf [8]byte
	for _, e := range d.Snapshot() {
		h.Write([]byte{byte(len(e.Advert.Peer))})
		h.Write([]byte(e.Advert.Peer))
		binary.BigEndian.PutUint64(buf[:], e.Advert.Seq)
		h.Write(buf[:])
	}
	var out [32]byte
	h.Sum(out[:0])
	return out
}
