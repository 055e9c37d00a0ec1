package queue

import "container/heap"

// heapOrder is what an indexedHeap needs of its elements: how two compare
// and where an element keeps its position in the heap. Implementations are
// empty structs, so one element type can sit in heaps of several orders.
type heapOrder[E any] interface {
	less(a, b E) bool
	index(e E) *int
}

// indexedHeap is a container/heap of elements that know their position in
// it (-1 when out), so that heap.Remove and heap.Fix find them in O(1). It
// is a plain slice: h[0] is the least element and len(h) its size.
type indexedHeap[E any, O heapOrder[E]] []E

func (h indexedHeap[E, O]) Len() int { return len(h) }

func (h indexedHeap[E, O]) Less(i, j int) bool {
	var o O
	return o.less(h[i], h[j])
}

func (h indexedHeap[E, O]) Swap(i, j int) {
	var o O
	h[i], h[j] = h[j], h[i]
	*o.index(h[i]) = i
	*o.index(h[j]) = j
}

// Push appends x (heap.Push then restores the order).
func (h *indexedHeap[E, O]) Push(x any) {
	var o O
	e := x.(E)
	*o.index(e) = len(*h)
	*h = append(*h, e)
}

// Pop removes the last element (heap.Pop has moved the least there).
func (h *indexedHeap[E, O]) Pop() any {
	var o O
	old := *h
	e := old[len(old)-1]
	var zero E
	old[len(old)-1] = zero
	*h = old[:len(old)-1]
	*o.index(e) = -1
	return e
}

// readyOrder orders the queued jobs that Next may take as the ready index
// does: priority descending, then seq ascending.
type readyOrder struct{}

func (readyOrder) less(a, b *entry) bool {
	if a.prio != b.prio {
		return a.prio > b.prio
	}
	return a.seq < b.seq
}

func (readyOrder) index(e *entry) *int { return &e.readyIdx }

// deadlineOrder orders the queued jobs that have a deadline, earliest
// first.
type deadlineOrder struct{}

func (deadlineOrder) less(a, b *entry) bool { return a.live.deadline < b.live.deadline }

func (deadlineOrder) index(e *entry) *int { return &e.deadlineIdx }

// readyHeap holds the queued jobs that Next may take, in readyOrder.
type readyHeap = indexedHeap[*entry, readyOrder]

// deadlineHeap holds the queued jobs that have a deadline, earliest first.
type deadlineHeap = indexedHeap[*entry, deadlineOrder]

// makeReady puts a queued entry in the heaps and wakes a waiting Next.
func (q *Queue) makeReady(e *entry) {
	heap.Push(&q.ready, e)
	q.wakeOne()
	if e.live.deadline != 0 {
		heap.Push(&q.deadlines, e)
		if q.deadlines[0] == e {
			q.kickExpiry()
		}
	}
}

// unready takes an entry out of the heaps.
func (q *Queue) unready(e *entry) {
	if e.readyIdx >= 0 {
		heap.Remove(&q.ready, e.readyIdx)
	}
	if e.deadlineIdx >= 0 {
		heap.Remove(&q.deadlines, e.deadlineIdx)
	}
}
