// Package queuetest drives a queue.Queue with load for benchmarks: the
// queue's own and the runner's measure a task's life the same way.
//
// # Concurrency
//
// ClosedLoop is safe for concurrent use; it owns the client goroutines it
// starts and returns only once they have ended.
package queuetest
