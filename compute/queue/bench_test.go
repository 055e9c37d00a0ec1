package queue_test

import (
	"context"
	"runtime"
	"sync"
	"testing"

	"github.com/fog-compute/fog/compute/queue"
	"github.com/fog-compute/fog/compute/queue/queuetest"
	"github.com/fog-compute/fog/store"
	"github.com/stretchr/testify/require"
)

// BenchmarkCycle measures the queue alone: a job's whole life (enqueued,
// claimed by Next, completed, its completion seen by Wait) with nothing
// executed, so the figure is the ceiling that persistence and bookkeeping
// put on local throughput, whatever runs the jobs. Each job costs three
// state changes, each durable before it returns (in group commits) on
// disk. Closed-loop clients (256 in flight) enqueue a job and wait for it;
// 32 workers per core claim and complete jobs, as the runner's default
// prefetch does ("claimers=512" has 512 per core and 1024 clients: larger
// groups). Payload and result have the sizes of a minimal task's. Run:
//
//	go test -run '^$' -bench Cycle -count 5 ./compute/queue/
//
// It reports tasks/s (jobs per second of wall time) and cpu-us/task (CPU
// time of the whole process, Badger's goroutines included, per job).
func BenchmarkCycle(b *testing.B) {
	for _, bc := range []struct {
		name                      string
		onDisk                    bool
		inflight, claimersPerCore int
	}{
		{"disk-synced", true, 256, 32},
		{"disk-synced,claimers=512", true, 1024, 512},
		{"memory", false, 256, 32},
	} {
		b.Run(bc.name, func(b *testing.B) { cycle(b, bc.onDisk, bc.inflight, bc.claimersPerCore) })
	}
}

func cycle(b *testing.B, onDisk bool, inflight, claimersPerCore int) {
	scfg := store.InMemoryConfig()
	if onDisk {
		scfg = store.DefaultConfig(b.TempDir())
	}
	scfg.Logger = nil
	db, err := store.Open(scfg)
	require.NoError(b, err)
	defer db.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	q, err := queue.Open(ctx, db, queue.TestConfig())
	require.NoError(b, err)
	defer q.Close()

	payload, result := make([]byte, 64), make([]byte, 32)
	var workers sync.WaitGroup
	defer workers.Wait()
	defer cancel()
	for range claimersPerCore * runtime.GOMAXPROCS(0) {
		workers.Go(func() {
			for {
				j, err := q.Next(ctx)
				if err != nil {
					return // cancelled: the benchmark is over
				}
				if _, err := q.Complete(ctx, j.ID, result); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}

	b.ReportAllocs()
	b.ResetTimer()
	load, err := queuetest.ClosedLoop(ctx, q, b.N, inflight, payload, nil)
	b.StopTimer()
	require.NoError(b, err)
	b.ReportMetric(float64(b.N)/load.Wall.Seconds(), "tasks/s")
	b.ReportMetric(float64(load.CPU)/1e3/float64(b.N), "cpu-us/task")
}
