package queue_test

import (
	"context"
	"fmt"
	"log"

	"github.com/fog-compute/fog/compute/queue"
	"github.com/fog-compute/fog/store"
)

// A worker takes jobs in priority order and completes them; a submitter
// waits for its job's result.
func Example() {
	db, err := store.Open(store.InMemoryConfig()) // store.DefaultConfig(dir) on disk
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	q, err := queue.Open(ctx, db, queue.TestConfig())
	if err != nil {
		log.Fatal(err)
	}
	defer q.Close()

	for _, j := range []queue.Job{
		{ID: "backup", Priority: 0, Payload: []byte("tar /home")},
		{ID: "render", Priority: 5, Payload: []byte("frame 1")},
		{ID: "render-2", Priority: 5, Payload: []byte("frame 2")},
	} {
		if _, err := q.Enqueue(ctx, j); err != nil {
			log.Fatal(err)
		}
	}

	go func() { // the worker
		for range 3 {
			j, err := q.Next(ctx)
			if err != nil {
				return
			}
			if _, err := q.Complete(ctx, j.ID, append([]byte("did "), j.Payload...)); err != nil {
				log.Print(err)
			}
		}
	}()

	for _, id := range []string{"render", "render-2", "backup"} {
		j, err := q.Wait(ctx, id)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("%s: %s, %s (attempt %d)\n", j.ID, j.State, j.Result, j.Attempts)
	}
	fmt.Printf("%+v\n", q.Counts())
	// Output:
	// render: done, did frame 1 (attempt 1)
	// render-2: done, did frame 2 (attempt 1)
	// backup: done, did tar /home (attempt 1)
	// {Queued:0 Running:0 Done:3 Failed:0 Cancelled:0}
}
