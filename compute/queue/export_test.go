package queue

// Crash stops q as a crash would, for tests: its goroutines end, but the
// jobs it holds as running are left so in the store (Close would requeue
// them). The store stays open.
func Crash(q *Queue) {
	q.closeOnce.Do(func() {
		q.mu.Lock()
		q.closed = true
		close(q.done)
		q.mu.Unlock()
		q.ops.Wait()
		q.wg.Wait()
		q.com.close()
	})
}

// Waiters returns how many Wait calls wait for job id.
func Waiters(q *Queue, id string) int {
	q.mu.Lock()
	defer q.mu.Unlock()
	if e := q.live[id]; e != nil {
		return len(e.waiters)
	}
	return 0
}

// Sleepers returns how many Next calls wait for a job.
func Sleepers(q *Queue) int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.sleepers)
}
