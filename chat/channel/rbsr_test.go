package channel

import (
	"crypto/sha256"
	"encoding/binary"
	"math"
	mrand "math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// reconcileStats is what one simulated reconciliation cost.
type reconcileStats struct {
	rounds int // initiator messages sent (each answered once)
	bytes  int // both directions
}

// reconcile runs a reconciliation between a (initiator) and b in memory.
func reconcile(t testing.TB, a, b *Set, cfg RBSRConfig, floor uint64) (have, need []ID, st reconcileStats) {
	t.Helper()
	ini, resp := NewReconciler(a, cfg, true), NewReconciler(b, cfg, false)
	msg := ini.Initiate(floor)
	for {
		st.rounds++
		st.bytes += len(msg)
		require.Less(t, st.rounds, 64, "reconciliation does not end")
		reply, _, err := resp.Step(msg)
		require.NoError(t, err)
		st.bytes += len(reply)
		next, done, err := ini.Step(reply)
		require.NoError(t, err)
		if done {
			return ini.Have(), ini.Need(), st
		}
		msg = next
	}
}

func item(seed uint64, i int, t uint64) Item {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:], seed)
	binary.BigEndian.PutUint64(b[8:], uint64(i))
	return Item{Time: t, ID: sha256.Sum256(b[:])}
}

// sets returns two sets of n common items, plus onlyA items only in a and
// onlyB only in b, at random times (many shared: 1 ms resolution over
// n/4 ms, so equal times and the ID prefixes of bounds are exercised).
func sets(seed uint64, n, onlyA, onlyB int) (a, b []Item, wantHave, wantNeed []ID) {
	rng := mrand.New(mrand.NewPCG(seed, 7))
	span := uint64(max(n/4, 1))
	t0 := uint64(1_700_000_000_000)
	for i := range n {
		x := item(seed, i, t0+rng.Uint64N(span))
		a, b = append(a, x), append(b, x)
	}
	for i := range onlyA {
		x := item(seed^1, i, t0+rng.Uint64N(span))
		a, wantHave = append(a, x), append(wantHave, x.ID)
	}
	for i := range onlyB {
		x := item(seed^2, i, t0+rng.Uint64N(span))
		b, wantNeed = append(b, x), append(wantNeed, x.ID)
	}
	return a, b, wantHave, wantNeed
}

func sortIDs(ids []ID) []ID {
	ids = slices.Clone(ids)
	slices.SortFunc(ids, func(x, y ID) int { return slices.Compare(x[:], y[:]) })
	return ids
}

func TestReconcileFindsDifferences(t *testing.T) {
	cfg := DefaultRBSRConfig()
	tests := []struct {
		name                 string
		common, onlyA, onlyB int
	}{
		{"both empty", 0, 0, 0},
		{"equal small", 10, 0, 0},
		{"equal large", 5000, 0, 0},
		{"initiator empty", 0, 0, 3000},
		{"responder empty", 0, 3000, 0},
		{"one missing", 5000, 0, 1},
		{"one extra", 5000, 1, 0},
		{"both sides", 5000, 37, 53},
		{"disjoint", 0, 500, 700},
		{"small", 3, 2, 2},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, b, wantHave, wantNeed := sets(uint64(i), tt.common, tt.onlyA, tt.onlyB)
			have, need, st := reconcile(t, NewSet(a), NewSet(b), cfg, 0)
			assert.Equal(t, sortIDs(wantHave), sortIDs(have))
			assert.Equal(t, sortIDs(wantNeed), sortIDs(need))
			t.Logf("n=%d onlyA=%d onlyB=%d: %d rounds, %d bytes", tt.common, tt.onlyA, tt.onlyB, st.rounds, st.bytes)
		})
	}
}

// TestReconcileFloor: items before the floor are not reconciled.
func TestReconcileFloor(t *testing.T) {
	a, b, _, _ := sets(9, 100, 0, 0)
	old := Item{Time: 1000, ID: ID{1}}
	newer := Item{Time: math.MaxInt64 / 2, ID: ID{2}}
	b = append(b, old, newer)
	have, need, _ := reconcile(t, NewSet(a), NewSet(b), DefaultRBSRConfig(), 2000)
	assert.Empty(t, have)
	assert.Equal(t, []ID{newer.ID}, need)
}

// TestReconcileCost checks that k differences among n cost O(k log n)
// bytes and O(log n) rounds, far below sending every ID, and logs the
// figures docs/channels.md quotes.
func TestReconcileCost(t *testing.T) {
	cfg := DefaultRBSRConfig()
	for _, n := range []int{1000, 10_000, 100_000} {
		for _, k := range []int{0, 1, 10, 100} {
			a, b, _, _ := sets(uint64(n+k), n, 0, k)
			_, need, st := reconcile(t, NewSet(a), NewSet(b), cfg, 0)
			require.Len(t, need, k)
			all := (n + k) * len(ID{}) // the responder sending every ID
			logn := math.Log(float64(n)) / math.Log(float64(cfg.Buckets))
			t.Logf("n=%6d k=%3d: %d rounds, %7d bytes (all IDs: %8d bytes, %.4f of it)", n, k, st.rounds, st.bytes, all, float64(st.bytes)/float64(all))
			assert.LessOrEqual(t, float64(st.rounds), math.Ceil(logn)+2, "rounds")
			// Per differing item and level: a split into Buckets
			// fingerprints (~20 bytes each) and its echo; plus the first
			// message.
			limit := float64(max(k, 1)) * (math.Ceil(logn) + 1) * float64(cfg.Buckets) * 2 * 24
			assert.LessOrEqual(t, float64(st.bytes), limit+float64(cfg.Buckets*24), "bytes")
			if k*1000 <= n { // differences of at most 0.1 %
				assert.Less(t, st.bytes, all/10, "at most a tenth of sending every ID")
			}
		}
	}
}

func BenchmarkReconcile(b *testing.B) {
	a, c, _, _ := sets(1, 10_000, 0, 10)
	sa, sc := NewSet(a), NewSet(c)
	cfg := DefaultRBSRConfig()
	var st reconcileStats
	for b.Loop() {
		_, _, st = reconcile(b, sa, sc, cfg, 0)
	}
	b.ReportMetric(float64(st.bytes), "bytes/sync")
	b.ReportMetric(float64(st.rounds), "rounds/sync")
}

func TestDecodeRangesRejects(t *testing.T) {
	good := (&builder{ranges: []rangeMsg{
		{upper: bound{time: 5}, mode: modeSkip},
		{upper: bound{time: 9, prefix: []byte{3}}, mode: modeFingerprint},
		{upper: infBound, mode: modeIDList, ids: []ID{{1}}},
	}}).encode()
	_, err := decodeRanges(good, 100)
	require.NoError(t, err)
	tests := map[string][]byte{
		"empty":            {},
		"version":          {2},
		"trailing skip":    {1, 3, 0, 0},
		"bad mode":         {1, 3, 0, 9},
		"zero prefix end":  {1, 3, 1, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0},
		"inf with prefix":  {1, 0, 1, 5, 2, 0},
		"after inf":        {1, 0, 0, 2, 0, 3, 0, 2, 0},
		"decreasing":       {1, 5, 1, 7, 2, 0, 1, 1, 3, 2, 0},
		"id list overruns": {1, 0, 0, 2, 5, 1},
		"truncated fp":     {1, 0, 0, 1, 1, 2},
		"too many ranges":  bytesRepeat(),
	}
	for name, in := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := decodeRanges(in, 100)
			require.ErrorIs(t, err, ErrMalformed)
		})
	}
}

func bytesRepeat() []byte {
	out := []byte{1}
	for range 101 {
		out = append(out, 2, 0, 2, 0) // time +1, no prefix, ID list of 0
	}
	return out
}

// TestResponderShown: where the responder answers with its own ID lists,
// reconciliation tells only the initiator what the responder lacks; the
// IDs shown at the end (the Done frame) tell the responder too.
func TestResponderShown(t *testing.T) {
	cfg := DefaultRBSRConfig()
	tests := []struct {
		name            string
		n, onlyA        int
		needBeforeShown bool // the responder learnt it from the initiator's ID lists
	}{
		{"initiator sends its IDs", 5, 3, true},
		{"initiator sends fingerprints", 20, 20, false},
		{"larger histories: the initiator lists its IDs a level down", 1000, 30, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a, b, wantHave, _ := sets(11, tc.n, tc.onlyA, 0)
			ini, resp := NewReconciler(NewSet(a), cfg, true), NewReconciler(NewSet(b), cfg, false)
			msg := ini.Initiate(0)
			for range 64 {
				reply, _, err := resp.Step(msg)
				require.NoError(t, err)
				next, done, err := ini.Step(reply)
				require.NoError(t, err)
				if done {
					break
				}
				msg = next
			}
			assert.Equal(t, sortIDs(wantHave), sortIDs(ini.Have()))
			assert.Equal(t, tc.needBeforeShown, len(resp.Need()) > 0)
			resp.Shown(ini.Have())
			resp.Shown(ini.Have()) // twice: nothing is added again
			assert.Equal(t, sortIDs(wantHave), sortIDs(resp.Need()))
			resp.Shown([]ID{b[0].ID})
			assert.Len(t, resp.Need(), len(wantHave), "an ID the responder holds is not needed")
		})
	}
}
