package queue

import "container/heap"

// readyHeap holds the queued jobs that Next may take, in the order of the
// ready index: priority descending, then seq ascending.
type readyHeap []*entry

func (h readyHeap) Len() int { return len(h) }

func (h readyHeap) Less(i, j int) bool {
	if h[i].prio != h[j].prio {
		return h[i].prio > h[j].prio
	}
	return h[i].seq < h[j].seq
}

func (h readyHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].readyIdx = i
	h[j].readyIdx = j
}

func (h *readyHeap) Push(x any) {
	e := x.(*entry)
	e.readyIdx = len(*h)
	*h = append(*h, e)
}

func (h *readyHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	e.readyIdx = -1
	return e
}

// deadlineHeap holds the queued jobs that have a deadline, earliest first.
type deadlineHeap []*entry

func (h deadlineHeap) Len() int           { return len(h) }
func (h deadlineHeap) Less(i, j int) bool { return h[i].live.deadline < h[j].live.deadline }

func (h deadlineHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].deadlineIdx = i
	h[j].deadlineIdx = j
}

func (h *deadlineHeap) Push(x any) {
	e := x.(*entry)
	e.deadlineIdx = len(*h)
	*h = append(*h, e)
}

func (h *deadlineHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	e.deadlineIdx = -1
	return e
}

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
