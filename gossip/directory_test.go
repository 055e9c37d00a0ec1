package gossip

import (
	"cmp"
	"encoding/json"
	"fmt"
	mrand "math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fakeID returns a distinct peer ID without key generation (the directory
// never parses IDs).
func fakeID(i int) peer.ID { return peer.ID(fmt.Sprintf("peer-%06d", i)) }

func TestDirectoryUpdate(t *testing.T) {
	clk := newClock()
	d := NewDirectory(DefaultConfig().Directory, "self", nil, clk.Now)
	p := newPeerID(t)
	a := testAdvert(p, 5, clk.Now())
	require.True(t, d.Update(a))
	assert.False(t, d.Update(a), "same seq")
	older := a
	older.Seq = 4
	assert.False(t, d.Update(older), "older seq")
	newer := a
	newer.Seq, newer.Price = 6, 1
	assert.True(t, d.Update(newer))
	e, ok := d.Get(p)
	require.True(t, ok)
	assert.EqualValues(t, 6, e.Advert.Seq)
	assert.Equal(t, 1, d.Len())

	expired := testAdvert(newPeerID(t), 1, clk.Now())
	expired.Expires = clk.Now()
	assert.False(t, d.Update(expired), "expired adverts are not stored")

	clk.Add(91 * time.Second) // past a's expiry
	assert.Equal(t, 0, d.Len())
	_, ok = d.Get(p)
	assert.False(t, ok)
	assert.Empty(t, d.Query(Query{}))
	assert.Equal(t, 1, d.Prune())
	// An expired entry no longer blocks a lower seq (the node's clock may
	// have stepped back across a restart).
	again := testAdvert(p, 3, clk.Now())
	assert.True(t, d.Update(again))
}

func TestDirectoryFullEvictsSoonestExpiry(t *testing.T) {
	clk := newClock()
	cfg := DefaultConfig().Directory
	cfg.MaxEntries = 3
	d := NewDirectory(cfg, "", nil, clk.Now)
	for i := range 3 {
		a := testAdvert(fakeID(i), 1, clk.Now())
		a.Expires = a.Issued.Add(time.Duration(10+i) * time.Second)
		require.True(t, d.Update(a))
	}
	soon := testAdvert(fakeID(9), 1, clk.Now())
	soon.Expires = soon.Issued.Add(5 * time.Second)
	assert.False(t, d.Update(soon), "a newcomer expiring first is dropped")
	late := testAdvert(fakeID(10), 1, clk.Now())
	assert.True(t, d.Update(late))
	_, ok := d.Get(fakeID(0))
	assert.False(t, ok, "the entry closest to expiry was evicted")
	assert.Equal(t, 3, d.Len())
}

// randomDirectory fills a directory with n random adverts and returns them.
func randomDirectory(t testing.TB, n int, rng *mrand.Rand, now time.Time, lat func(peer.ID) time.Duration) (*Directory, []Advert) {
	d := NewDirectory(DefaultConfig().Directory, fakeID(0), lat, func() time.Time { return now })
	runtimes := [][]string{{"wasm"}, {"js", "wasm"}, {"js"}, nil}
	ads := make([]Advert, n)
	for i := range ads {
		a := Advert{
			Peer:     fakeID(i),
			Cores:    uint32(rng.IntN(33)),
			Memory:   uint64(rng.IntN(64)) << 30,
			Disk:     uint64(rng.IntN(1000)) << 30,
			Queue:    uint32(rng.IntN(10)),
			Running:  uint32(rng.IntN(10)),
			Price:    uint64(rng.IntN(50)) * 100,
			Runtimes: runtimes[rng.IntN(len(runtimes))],
			Seq:      1,
			Issued:   now.Add(-time.Second),
			Expires:  now.Add(time.Duration(rng.IntN(120)-10) * time.Second),
		}
		ads[i] = a
		d.Update(a)
	}
	d.RefreshLatency()
	return d, ads
}

// TestDirectoryQueryMatchesReference compares Query with a brute-force
// filter and sort over random directories and queries.
func TestDirectoryQueryMatchesReference(t *testing.T) {
	rng := mrand.New(mrand.NewPCG(1, 2))
	now := time.UnixMilli(1_800_000_000_000)
	lat := func(p peer.ID) time.Duration {
		var h int
		for _, c := range []byte(p) {
			h = h*31 + int(c)
		}
		if h%5 == 0 {
			return 0 // unmeasured
		}
		return time.Duration(h%200) * time.Millisecond
	}
	d, ads := randomDirectory(t, 2000, rng, now, lat)
	latOf := func(a Advert) int64 {
		if a.Peer == fakeID(0) {
			return 0
		}
		if l := lat(a.Peer); l > 0 {
			return int64(l)
		}
		return noLatency
	}
	for q := range 300 {
		query := Query{
			MinCores:  uint32(rng.IntN(40)),
			MinMemory: uint64(rng.IntN(70)) << 30,
			Runtime:   []string{"", "wasm", "js", "python"}[rng.IntN(4)],
			Sort:      SortKey(rng.IntN(3)),
			Limit:     []int{0, 1, 5, 20}[rng.IntN(4)],
		}
		if q%4 == 0 {
			query.MinDisk = uint64(rng.IntN(1000)) << 30
		}
		var want []Advert
		for _, a := range ads {
			if !a.Expires.After(now) || a.Cores < query.MinCores || a.Memory < query.MinMemory || a.Disk < query.MinDisk {
				continue
			}
			if query.Runtime != "" && !slices.Contains(a.Runtimes, query.Runtime) {
				continue
			}
			want = append(want, a)
		}
		slices.SortFunc(want, func(x, y Advert) int {
			var c int
			switch query.Sort {
			case ByLoad:
				c = cmp.Compare(x.Load(), y.Load())
			case ByLatency:
				c = cmp.Compare(latOf(x), latOf(y))
			}
			if c == 0 {
				c = cmp.Compare(x.Price, y.Price)
			}
			if c == 0 {
				c = cmp.Compare(x.Load(), y.Load())
			}
			if c == 0 {
				c = strings.Compare(string(x.Peer), string(y.Peer))
			}
			return c
		})
		if query.Limit > 0 && len(want) > query.Limit {
			want = want[:query.Limit]
		}
		got := d.Query(query)
		require.Len(t, got, len(want), "query %d %+v", q, query)
		for i := range want {
			require.Equal(t, want[i].Peer, got[i].Advert.Peer, "query %d %+v, rank %d", q, query, i)
		}
	}
}

func TestDirectoryRuntimeOverflow(t *testing.T) {
	clk := newClock()
	d := NewDirectory(DefaultConfig().Directory, "", nil, clk.Now)
	// 70 distinct runtimes: more than the 63 the directory interns.
	for i := range 70 {
		a := testAdvert(fakeID(i), 1, clk.Now())
		a.Runtimes = []string{fmt.Sprintf("rt%02d", i)}
		require.True(t, d.Update(a))
	}
	for _, i := range []int{0, 62, 63, 69} {
		got := d.Query(Query{Runtime: fmt.Sprintf("rt%02d", i)})
		require.Len(t, got, 1, "runtime %d", i)
		assert.Equal(t, fakeID(i), got[0].Advert.Peer)
	}
	assert.Empty(t, d.Query(Query{Runtime: "none"}))
}

// TestScratchRuntime checks the advert flag of nodes that run scratch
// tasks: RuntimeWasmScratch beside RuntimeWasm is a valid advert that
// round-trips, and a query for it finds those nodes only, while one for
// RuntimeWasm finds every node.
func TestScratchRuntime(t *testing.T) {
	clk := newClock()
	d := NewDirectory(DefaultConfig().Directory, "", nil, clk.Now)
	ids := make([]peer.ID, 4)
	for i := range ids {
		ids[i] = newPeerID(t)
		a := testAdvert(ids[i], 1, clk.Now())
		if i%2 == 1 {
			a.Runtimes = []string{RuntimeWasm, RuntimeWasmScratch}
		}
		require.NoError(t, a.Validate())
		b, err := EncodeAdvert(a)
		require.NoError(t, err)
		got, err := DecodeAdvert(b)
		require.NoError(t, err)
		assert.Equal(t, a.Runtimes, got.Runtimes)
		require.True(t, d.Update(got))
	}
	peers := func(es []Entry) []peer.ID {
		out := []peer.ID{}
		for _, e := range es {
			out = append(out, e.Advert.Peer)
		}
		return out
	}
	assert.ElementsMatch(t, []peer.ID{ids[1], ids[3]}, peers(d.Query(Query{Runtime: RuntimeWasmScratch})))
	assert.Len(t, d.Query(Query{Runtime: RuntimeWasm}), 4)
}

func TestDirectoryLatencyAndSelf(t *testing.T) {
	clk := newClock()
	lats := map[peer.ID]time.Duration{fakeID(1): 50 * time.Millisecond, fakeID(2): 10 * time.Millisecond}
	d := NewDirectory(DefaultConfig().Directory, fakeID(0), func(p peer.ID) time.Duration { return lats[p] }, clk.Now)
	for i := range 4 { // fakeID(3) is never measured
		require.True(t, d.Update(testAdvert(fakeID(i), 1, clk.Now())))
	}
	order := func() []peer.ID {
		var out []peer.ID
		for _, e := range d.Query(Query{Sort: ByLatency}) {
			out = append(out, e.Advert.Peer)
		}
		return out
	}
	assert.Equal(t, []peer.ID{fakeID(0), fakeID(2), fakeID(1), fakeID(3)}, order(), "self first, unmeasured last")
	lats[fakeID(1)] = time.Millisecond
	assert.Equal(t, fakeID(2), order()[1], "latency is cached until refreshed")
	d.RefreshLatency()
	assert.Equal(t, []peer.ID{fakeID(0), fakeID(1), fakeID(2), fakeID(3)}, order())
	e, _ := d.Get(fakeID(1))
	assert.Equal(t, time.Millisecond, e.Latency)
}

func TestDirectoryDigestOrderIndependent(t *testing.T) {
	clk := newClock()
	var ads []Advert
	for i := range 50 {
		ads = append(ads, testAdvert(fakeID(i), uint64(i+1), clk.Now()))
	}
	a := NewDirectory(DefaultConfig().Directory, "", nil, clk.Now)
	b := NewDirectory(DefaultConfig().Directory, "", nil, clk.Now)
	for i := range ads {
		a.Update(ads[i])
		b.Update(ads[len(ads)-1-i])
	}
	assert.Equal(t, a.Digest(), b.Digest())
	snap := a.Snapshot()
	require.Len(t, snap, 50)
	assert.True(t, slices.IsSortedFunc(snap, func(x, y Entry) int { return strings.Compare(string(x.Advert.Peer), string(y.Advert.Peer)) }))
	newer := ads[7]
	newer.Seq++
	b.Update(newer)
	assert.NotEqual(t, a.Digest(), b.Digest())
}

func TestParseSortKey(t *testing.T) {
	for _, k := range []SortKey{ByPrice, ByLoad, ByLatency} {
		got, ok := ParseSortKey(k.String())
		require.True(t, ok)
		assert.Equal(t, k, got)
	}
	_, ok := ParseSortKey("speed")
	assert.False(t, ok)
}

func TestEntryJSON(t *testing.T) {
	clk := newClock()
	p := newPeerID(t)
	e := Entry{Advert: testAdvert(p, 1, clk.Now()), Latency: time.Millisecond, Received: clk.Now()}
	b, err := json.Marshal(e)
	require.NoError(t, err)
	s := string(b)
	assert.Contains(t, s, `"peer":"`+p.String()+`"`)
	assert.Contains(t, s, `"/ip4/192.0.2.7/tcp/4001"`)
	assert.Contains(t, s, `"runtimes":["wasm"]`)
	var back Entry
	require.NoError(t, json.Unmarshal(b, &back))
	assert.Equal(t, p, back.Advert.Peer)
	assert.True(t, back.Advert.Addrs[1].Equal(e.Advert.Addrs[1]))
}

func TestDirectoryUpdatedWakes(t *testing.T) {
	clk := newClock()
	d := NewDirectory(DefaultConfig().Directory, "", nil, clk.Now)
	ch := d.Updated()
	select {
	case <-ch:
		t.Fatal("woke before any update")
	default:
	}
	require.True(t, d.Update(testAdvert(fakeID(1), 1, clk.Now())))
	select {
	case <-ch:
	default:
		t.Fatal("not woken by an update")
	}
	ch = d.Updated()
	require.False(t, d.Update(testAdvert(fakeID(1), 1, clk.Now())), "same seq is not stored")
	select {
	case <-ch:
		t.Fatal("woken without a change")
	default:
	}
}
