package queuetest_test

import (
	"context"
	"fmt"
	"sync"

	"github.com/fog-compute/fog/compute/queue"
	"github.com/fog-compute/fog/compute/queue/queuetest"
	"github.com/fog-compute/fog/store"
)

func Example() {
	ctx := context.Background()
	cfg := store.InMemoryConfig()
	cfg.Logger = nil
	db, err := store.Open(cfg)
	if err != nil {
		panic(err)
	}
	defer db.Close()
	q, err := queue.Open(ctx, db, queue.TestConfig())
	if err != nil {
		panic(err)
	}
	defer q.Close()

	// A worker that completes every job with its payload.
	wctx, stop := context.WithCancel(ctx)
	var worker sync.WaitGroup
	worker.Go(func() {
		for {
			j, err := q.Next(wctx)
			if err != nil {
				return
			}
			_, _ = q.Complete(wctx, j.ID, j.Payload)
		}
	})
	defer worker.Wait()
	defer stop()

	load, err := queuetest.ClosedLoop(ctx, q, 100, 8, []byte("hi"), func(j queue.Job) error {
		if string(j.Result) != "hi" {
			return fmt.Errorf("result %q", j.Result)
		}
		return nil
	})
	fmt.Println(err, load.Wall > 0, q.Counts().Done)
	// Output: <nil> true 100
}
