package queuetest

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fog-compute/fog/compute/queue"
	"github.com/fog-compute/fog/internal/cputime"
)

// Load is what ClosedLoop measured.
type Load struct {
	// Wall is the time from the first Enqueue to the last job's end.
	Wall time.Duration
	// CPU is the CPU time the whole process used meanwhile (0 where the
	// platform does not report it).
	CPU time.Duration
}

// ClosedLoop runs n jobs through q from inflight clients, each of which
// enqueues a job with payload, waits for it to end (queue.Wait), checks it
// with check, and starts over; so that many jobs are in flight at any
// time. Something else (a runner, or workers calling Next and Complete)
// must run the jobs. It stops at the first error: a failed call, a job
// that did not end done, or an error from check.
func ClosedLoop(ctx context.Context, q *queue.Queue, n, inflight int, payload []byte, check func(queue.Job) error) (Load, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	cpu0, _ := cputime.Process()
	start := time.Now()
	var next atomic.Int64
	var clients sync.WaitGroup
	for range inflight {
		clients.Go(func() {
			for next.Add(1) <= int64(n) {
				j, err := q.Enqueue(ctx, queue.Job{Payload: payload})
				if err == nil {
					j, err = q.Wait(ctx, j.ID)
				}
				if err == nil && j.State != queue.StateDone {
					err = fmt.Errorf("job %s ended %s: %s", j.ID, j.State, j.Error)
				}
				if err == nil && check != nil {
					err = check(j)
				}
				if err != nil {
					cancel(err)
					return
				}
			}
		})
	}
	clients.Wait()
	load := Load{Wall: time.Since(start)}
	cpu1, _ := cputime.Process()
	load.CPU = cpu1 - cpu0
	return load, context.Cause(ctx)
}
