package placement

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fog-compute/fog/gossip"
)

// testPeers returns n peer IDs from fixed keys, sorted.
func testPeers(t testing.TB, n int) []peer.ID {
	t.Helper()
	r := rand.NewChaCha8([32]byte{'f', 'o', 'g'})
	ids := make([]peer.ID, n)
	for i := range ids {
		k, _, err := crypto.GenerateEd25519Key(r)
		require.NoError(t, err)
		ids[i], err = peer.IDFromPrivateKey(k)
		require.NoError(t, err)
	}
	sortIDs(ids)
	return ids
}

func sortIDs(ids []peer.ID) {
	for i := range ids {
		for j := i + 1; j < len(ids); j++ {
			if ids[j] < ids[i] {
				ids[i], ids[j] = ids[j], ids[i]
			}
		}
	}
}

// fixedDirectory is a capacity directory holding five adverts:
//
//	name  cores queue running price latency  load (‰ per core)
//	self  2     1     1       500   (self)   1000
//	a     4     0     1       300   20 ms     250
//	b     2     3     2       100    5 ms    2500
//	c     8     2     2       200   unknown   500
//	d     1     0     0       150   50 ms       0
func fixedDirectory(t *testing.T) (d *gossip.Directory, self, a, b, c, dd peer.ID) {
	ids := testPeers(t, 5)
	self, a, b, c, dd = ids[0], ids[1], ids[2], ids[3], ids[4]
	lat := map[peer.ID]time.Duration{a: 20 * time.Millisecond, b: 5 * time.Millisecond, dd: 50 * time.Millisecond}
	d = gossip.NewDirectory(gossip.DirectoryConfig{MaxEntries: 100, PruneInterval: time.Second, LatencyRefresh: time.Second},
		self, func(p peer.ID) time.Duration { return lat[p] }, nil)
	now := time.Now()
	for _, ad := range []gossip.Advert{
		{Peer: self, Cores: 2, Queue: 1, Running: 1, Price: 500},
		{Peer: a, Cores: 4, Queue: 0, Running: 1, Price: 300},
		{Peer: b, Cores: 2, Queue: 3, Running: 2, Price: 100},
		{Peer: c, Cores: 8, Queue: 2, Running: 2, Price: 200},
		{Peer: dd, Cores: 1, Queue: 0, Running: 0, Price: 150},
	} {
		ad.Memory, ad.Runtimes, ad.Seq, ad.Issued, ad.Expires = 1<<30, []string{gossip.RuntimeWasm}, 1, now, now.Add(time.Hour)
		require.True(t, d.Update(ad))
	}
	return d, self, a, b, c, dd
}

func candidatesOf(d *gossip.Directory, self peer.ID, skip ...peer.ID) []Candidate {
	var out []Candidate
	for _, e := range d.Query(gossip.Query{Runtime: gossip.RuntimeWasm}) {
		c := CandidateOf(e, self)
		keep := true
		for _, s := range skip {
			keep = keep && c.Peer != s
		}
		if keep {
			out = append(out, c)
		}
	}
	SortCandidates(out)
	return out
}

func TestPickFixedDirectory(t *testing.T) {
	d, self, a, b, c, dd := fixedDirectory(t)
	tests := []struct {
		name     string
		strategy Strategy
		skip     []peer.ID
		want     peer.ID
	}{
		{"least-loaded takes the idle one", LeastLoaded, nil, dd},
		{"least-loaded without it takes the lowest load per core", LeastLoaded, []peer.ID{dd}, a},
		{"lowest-price takes the cheapest", LowestPrice, nil, b},
		{"lowest-price without it, next cheapest", LowestPrice, []peer.ID{b}, dd},
		{"lowest-latency takes this node itself", LowestLatency, nil, self},
		{"lowest-latency without self takes the fastest", LowestLatency, []peer.ID{self}, b},
		{"lowest-latency puts unmeasured last", LowestLatency, []peer.ID{self, a, b, dd}, c},
		{"lowest-latency: measured before unmeasured", LowestLatency, []peer.ID{self, b, a}, dd},
		{"unknown strategy picks as least-loaded", Strategy("bogus"), nil, dd},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cands := candidatesOf(d, self, tt.skip...)
			i := Pick(tt.strategy, cands, &PickState{})
			require.GreaterOrEqual(t, i, 0)
			assert.Equal(t, tt.want, cands[i].Peer)
		})
	}
	assert.Equal(t, -1, Pick(LeastLoaded, nil, &PickState{}))
}

func TestPickRoundRobin(t *testing.T) {
	d, self, _, _, _, _ := fixedDirectory(t)
	cands := candidatesOf(d, self)
	st := &PickState{}
	// Two rounds visit every candidate in peer ID order.
	for round := range 2 {
		for want := range cands {
			i := Pick(RoundRobin, cands, st)
			require.Equal(t, cands[want].Peer, cands[i].Peer, "round %d", round)
		}
	}
	// A candidate leaving does not break the turn: the next in ID order
	// after the cursor comes next.
	st.Cursor = cands[1].Peer
	rest := append([]Candidate{cands[0], cands[1]}, cands[3:]...)
	assert.Equal(t, cands[3].Peer, rest[Pick(RoundRobin, rest, st)].Peer)
}

func TestPickPowerOfTwo(t *testing.T) {
	d, self, _, b, _, dd := fixedDirectory(t)
	cands := candidatesOf(d, self)
	st := &PickState{Rand: rand.New(rand.NewPCG(1, 2))}
	shadow := rand.New(rand.NewPCG(1, 2))
	counts := map[peer.ID]int{}
	for range 2000 {
		// The choice is the less loaded of the two draws.
		i := shadow.IntN(len(cands))
		j := shadow.IntN(len(cands) - 1)
		if j >= i {
			j++
		}
		want := cands[i]
		if cands[j].Load() < want.Load() {
			want = cands[j]
		}
		got := cands[Pick(PowerOfTwo, cands, st)]
		require.Equal(t, want.Peer, got.Peer)
		counts[got.Peer]++
	}
	// The most loaded candidate is never chosen; the idle one is chosen
	// whenever it is drawn (2 of 5 draws: about 40 %).
	assert.Zero(t, counts[b])
	assert.InDelta(t, 800, counts[dd], 120)
	// With one candidate there is nothing to draw.
	assert.Equal(t, 0, Pick(PowerOfTwo, cands[:1], st))
}

func TestCandidateLoadCountsInFlight(t *testing.T) {
	c := Candidate{Cores: 2, Queued: 1, Running: 1}
	assert.Equal(t, uint64(1000), c.Load())
	c.InFlight = 6 // this node's attempts exceed the stale advert
	assert.Equal(t, uint64(3000), c.Load())
	c.Cores = 0
	assert.Equal(t, uint64(6000), c.Load())
}
