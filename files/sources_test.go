package files

import (
	"bytes"
	"sync"
	"testing"
	"time"

	bsmsg "github.com/ipfs/boxo/bitswap/message"
	pb "github.com/ipfs/boxo/bitswap/message/pb"
	blocks "github.com/ipfs/go-block-format"
	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// cids returns n distinct CIDs.
func cids(n int) []cid.Cid {
	out := make([]cid.Cid, n)
	for i := range out {
		out[i] = blocks.NewBlock([]byte{byte(i), byte(i >> 8), 's'}).Cid()
	}
	return out
}

func entries(wantType pb.Message_Wantlist_WantType, cs ...cid.Cid) []bsmsg.Entry {
	out := make([]bsmsg.Entry, len(cs))
	for i, c := range cs {
		out[i].Cid, out[i].WantType = c, wantType
	}
	return out
}

func cancels(cs ...cid.Cid) []bsmsg.Entry {
	out := entries(pb.Message_Wantlist_Block, cs...)
	for i := range out {
		out[i].Cancel = true
	}
	return out
}

// TestSources drives the sources' caps through the events a get brings:
// wants sent, HAVEs, blocks, DONT_HAVEs, cancels and disconnects, each
// step checking which HAVEs are held, which are let through later, and
// what each source owns. The cap is the floor here (no rate measured
// yet): 4 blocks, two windows of 2.
func TestSources(t *testing.T) {
	a, b := peer.ID("a"), peer.ID("b")
	t0 := time.Unix(1000, 0)
	cs := cids(12)
	w := [][]cid.Cid{cs[0:2], cs[2:4], cs[4:6], cs[6:8]} // four windows

	type step struct {
		name string
		do   func(s *sources) (held []cid.Cid, rel []release)
		held []cid.Cid
		rel  []release
		// owned and held HAVEs per source after the step
		ownedA, ownedB, heldA, heldB int
	}
	haves := func(p peer.ID, cs ...cid.Cid) func(s *sources) ([]cid.Cid, []release) {
		return func(s *sources) ([]cid.Cid, []release) {
			h := s.received(p, nil, cs, nil, t0)
			return h, s.releases(t0)
		}
	}
	blocksFrom := func(p peer.ID, cs ...cid.Cid) func(s *sources) ([]cid.Cid, []release) {
		return func(s *sources) ([]cid.Cid, []release) {
			h := s.received(p, cs, nil, nil, t0)
			return h, s.releases(t0)
		}
	}
	steps := []step{
		{name: "a's HAVE for window 0 makes a its owner, both blocks", do: haves(a, w[0][0]), ownedA: 2},
		{name: "b's HAVE for window 0 is held: a has it", do: haves(b, w[0]...), held: w[0], ownedA: 2, heldB: 2},
		{name: "a's HAVE for window 1 fills its cap", do: haves(a, w[1]...), ownedA: 4, heldB: 2},
		{name: "a at its cap: its HAVE for window 2 is held", do: haves(a, w[2][0]), held: w[2][:1], ownedA: 4, heldA: 1, heldB: 2},
		{name: "b has room: its HAVE for window 2 goes through", do: haves(b, w[2]...), ownedA: 4, ownedB: 2, heldA: 1, heldB: 2},
		{
			name: "a block of window 0 from a: a has room, its held HAVE is for b's window, so stays held",
			do:   blocksFrom(a, w[0][0]), ownedA: 3, ownedB: 2, heldA: 1, heldB: 1,
		},
		{
			name: "a's HAVE for window 3 takes the room",
			do:   haves(a, w[3]...), ownedA: 5, ownedB: 2, heldA: 1, heldB: 1,
		},
		{
			name: "window 2 arrives from b: a's held HAVE for it is dropped",
			do:   blocksFrom(b, w[2]...), ownedA: 5, ownedB: 0, heldB: 1,
		},
		{
			name: "a says DONT_HAVE for the rest of window 0: b's held HAVE for it goes through",
			do: func(s *sources) ([]cid.Cid, []release) {
				h := s.received(a, nil, nil, w[0][1:], t0)
				return h, s.releases(t0)
			},
			rel:    []release{{p: b, cids: w[0][1:]}},
			ownedA: 4, ownedB: 1,
		},
		{
			name: "a cancel to a frees window 1",
			do: func(s *sources) ([]cid.Cid, []release) {
				s.sent(a, cancels(w[1]...), t0)
				return nil, s.releases(t0)
			},
			ownedA: 2, ownedB: 1,
		},
		{
			name: "a HAVE after its block owns nothing",
			do:   haves(a, w[2][0]), ownedA: 2, ownedB: 1,
		},
		{
			name: "a disconnects: window 3 is free for b",
			do: func(s *sources) ([]cid.Cid, []release) {
				s.gone(a, t0)
				return nil, s.releases(t0)
			},
			ownedB: 1,
		},
		{name: "b's HAVE for window 3 goes through", do: haves(b, w[3]...), ownedB: 3},
	}

	s := newSources(time.Millisecond, 4)
	for _, g := range w {
		s.group(g)
	}
	for _, p := range []peer.ID{a, b} {
		s.sent(p, entries(pb.Message_Wantlist_Have, cs[:8]...), t0)
	}
	for _, st := range steps {
		held, rel := st.do(s)
		assert.ElementsMatch(t, st.held, held, "%s: held", st.name)
		assert.Equal(t, st.rel, rel, "%s: released", st.name)
		ownedA, _ := s.outstanding(a)
		ownedB, _ := s.outstanding(b)
		assert.Equal(t, st.ownedA, ownedA, "%s: a owns", st.name)
		assert.Equal(t, st.ownedB, ownedB, "%s: b owns", st.name)
		heldA, heldB := 0, 0
		if src := s.peers[a]; src != nil {
			heldA = len(src.held)
		}
		if src := s.peers[b]; src != nil {
			heldB = len(src.held)
		}
		assert.Equal(t, st.heldA, heldA, "%s: a's held", st.name)
		assert.Equal(t, st.heldB, heldB, "%s: b's held", st.name)
	}
}

// TestSourcesRelease checks that a source at its cap gets its held HAVEs
// through once its blocks arrive, as many windows as its room takes.
func TestSourcesRelease(t *testing.T) {
	a := peer.ID("a")
	t0 := time.Unix(1000, 0)
	cs := cids(8)
	s := newSources(time.Millisecond, 2)
	for i := 0; i < len(cs); i += 2 {
		s.group(cs[i : i+2])
	}
	s.sent(a, entries(pb.Message_Wantlist_Have, cs...), t0)
	held := s.received(a, nil, cs, nil, t0)
	assert.ElementsMatch(t, cs[2:], held, "the first window fills the cap of 2")
	assert.Empty(t, s.releases(t0))

	s.sent(a, entries(pb.Message_Wantlist_Block, cs[:2]...), t0)
	assert.Empty(t, s.received(a, cs[:1], nil, nil, t0))
	rel := s.releases(t0)
	require.Len(t, rel, 1, "one block in: room for one more window")
	assert.Equal(t, a, rel[0].p)
	assert.Equal(t, cs[2:4], rel[0].cids, "the next window whole, oldest first")
	owned, _ := s.outstanding(a)
	assert.Equal(t, 3, owned)

	s.sent(a, entries(pb.Message_Wantlist_Block, cs[2:4]...), t0)
	assert.Empty(t, s.received(a, cs[1:2], nil, nil, t0))
	assert.Empty(t, s.releases(t0), "two owned: a is at its cap")
	assert.Empty(t, s.received(a, cs[2:3], nil, nil, t0))
	rel = s.releases(t0)
	require.Len(t, rel, 1)
	assert.Equal(t, cs[4:6], rel[0].cids)
	owned, _ = s.outstanding(a)
	assert.Equal(t, 3, owned)
}

// TestSourcesRate checks that a source's cap follows its measured rate:
// 100 blocks a second for a second, with a backlog of 250 ms, is a cap of
// 25 blocks; a source not measured has the floor.
func TestSourcesRate(t *testing.T) {
	a, b := peer.ID("a"), peer.ID("b")
	t0 := time.Unix(1000, 0)
	cs := cids(101)
	s := newSources(250*time.Millisecond, 8)
	s.sent(a, entries(pb.Message_Wantlist_Block, cs...), t0)
	for i := range 100 {
		s.received(a, cs[i:i+1], nil, nil, t0.Add(time.Duration(i+1)*10*time.Millisecond))
	}
	_, limit := s.outstanding(a)
	assert.Equal(t, 25, limit)
	_, limit = s.outstanding(b)
	assert.Equal(t, 8, limit)
}

// TestGetCapsWantsPerSource checks, on a real get from one source over a
// slow link, that the want-blocks outstanding at the source never pass
// its cap by more than a window: the floor of two windows here (a backlog
// of 1 ms is below any rate), so at most 8 + 4 − 1. All 16 windows start
// at once (FirstWindows = Windows): without the cap, Bitswap sends the
// source all 64 of their want-blocks as soon as it answers. The test
// counts from the messages sent and the blocks received, not from the
// guard's own books.
func TestGetCapsWantsPerSource(t *testing.T) {
	tn := newCappedNet(t, 1e6)
	cfg := TestConfig()
	cfg.Window, cfg.Windows, cfg.FirstWindows = 4, 16, 16
	cfg.SourceBacklog = time.Millisecond
	ctx := testCtx(t)
	src := tn.node(t, cfg, Options{})
	data := content(9, 96*cfg.ChunkBytes)
	root := sharedOnT(t, data, src)
	dst := tn.node(t, cfg, Options{})

	var (
		mu       sync.Mutex
		inFlight = make(map[cid.Cid]struct{})
		most     int
	)
	dst.guard.mu.Lock()
	dst.guard.onSent = func(p peer.ID, m bsmsg.BitSwapMessage) {
		if p != src.h.ID() {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		for _, e := range m.Wantlist() {
			switch {
			case e.Cancel:
				delete(inFlight, e.Cid)
			case e.WantType == pb.Message_Wantlist_Block:
				inFlight[e.Cid] = struct{}{}
			}
		}
		most = max(most, len(inFlight))
	}
	dst.guard.mu.Unlock()
	defer dst.guard.watch(func(p peer.ID, c cid.Cid, _ int) {
		mu.Lock()
		delete(inFlight, c)
		mu.Unlock()
	})()

	prog, err := dst.Get(ctx, root, GetOptions{Providers: []peer.AddrInfo{info(src)}})
	require.NoError(t, err)
	require.True(t, prog.Done)
	assert.True(t, bytes.Equal(data, readAll(t, dst, ctx, Pin{Root: root})))
	mu.Lock()
	defer mu.Unlock()
	assert.LessOrEqual(t, most, 2*cfg.Window+cfg.Window-1, "want-blocks outstanding at the source")
	assert.Positive(t, most)
}
