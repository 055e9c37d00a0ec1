package queue

import (
	"container/heap"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestIndexedHeap puts entries in both heaps, removes some from the middle
// by their recorded positions, and checks that both heaps then yield the
// rest in order with every position kept right.
func TestIndexedHeap(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var ready readyHeap
	var deadlines deadlineHeap
	var all []*entry
	for i := range 200 {
		e := &entry{prio: int32(rng.IntN(5)), seq: uint64(i), readyIdx: -1, deadlineIdx: -1}
		e.live.deadline = rng.Int64N(1000)
		heap.Push(&ready, e)
		heap.Push(&deadlines, e)
		all = append(all, e)
	}
	for i, e := range ready {
		require.Equal(t, i, e.readyIdx)
	}
	for i, e := range deadlines {
		require.Equal(t, i, e.deadlineIdx)
	}
	kept := map[*entry]bool{}
	for i, e := range all {
		if i%3 == 0 {
			heap.Remove(&ready, e.readyIdx)
			heap.Remove(&deadlines, e.deadlineIdx)
			assert.Equal(t, -1, e.readyIdx)
			assert.Equal(t, -1, e.deadlineIdx)
			continue
		}
		kept[e] = true
	}

	var got []*entry
	for ready.Len() > 0 {
		e := heap.Pop(&ready).(*entry)
		assert.Equal(t, -1, e.readyIdx)
		got = append(got, e)
	}
	require.Len(t, got, len(kept))
	assert.True(t, slices.IsSortedFunc(got, func(a, b *entry) int {
		if a.prio != b.prio {
			return int(b.prio - a.prio)
		}
		return int(a.seq) - int(b.seq)
	}), "priority descending, then seq ascending")

	var last int64 = -1
	for deadlines.Len() > 0 {
		e := heap.Pop(&deadlines).(*entry)
		require.True(t, kept[e], "a removed entry came back")
		assert.GreaterOrEqual(t, e.live.deadline, last, "earliest deadline first")
		last = e.live.deadline
	}
}

// BenchmarkReadyHeap pushes 1024 entries and pops them all.
func BenchmarkReadyHeap(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	es := make([]*entry, 1024)
	for i := range es {
		es[i] = &entry{prio: int32(rng.IntN(5)), seq: uint64(i), readyIdx: -1, deadlineIdx: -1}
	}
	h := make(readyHeap, 0, len(es))
	for b.Loop() {
		for _, e := range es {
			heap.Push(&h, e)
		}
		for h.Len() > 0 {
			heap.Pop(&h)
		}
	}
}
