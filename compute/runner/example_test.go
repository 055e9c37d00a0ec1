package runner_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"strings"
	"time"

	"github.com/fog-compute/fog/compute/queue"
	"github.com/fog-compute/fog/compute/runner"
	"github.com/fog-compute/fog/compute/wasm"
	"github.com/fog-compute/fog/store"
)

// A node runs queued WebAssembly tasks: one that completes, and one that
// reaches its wall-time limit and fails.
func Example() {
	ctx := context.Background()
	db, err := store.Open(store.InMemoryConfig())
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	exec, err := wasm.New(ctx, wasm.DefaultConfig())
	if err != nil {
		log.Fatal(err)
	}
	defer exec.Close()
	q, err := queue.Open(ctx, db, queue.TestConfig())
	if err != nil {
		log.Fatal(err)
	}
	defer q.Close()

	cfg := runner.DefaultConfig()
	cfg.Concurrency, cfg.Logger = 2, nil
	r, err := runner.New(q, exec, cfg)
	if err != nil {
		log.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	stopped := make(chan error)
	go func() { stopped <- r.Run(runCtx, nil) }()
	defer func() {
		stop()
		if err := <-stopped; err != nil {
			log.Print(err)
		}
	}()

	submit := func(file string, limits wasm.Limits) string {
		code, err := os.ReadFile("../wasm/testdata/" + file)
		if err != nil {
			log.Fatal(err)
		}
		// The task carries its module, so the runner can load it.
		payload, err := runner.EncodeTask(runner.Task{
			Spec: wasm.Spec{Module: wasm.IDOf(code), Args: []string{file}, Limits: limits},
			Code: code,
		})
		if err != nil {
			log.Fatal(err)
		}
		j, err := q.Enqueue(ctx, queue.Job{Payload: payload})
		if err != nil {
			log.Fatal(err)
		}
		return j.ID
	}
	hello := submit("minimal.wasm", wasm.Limits{})
	forever := submit("loop.wasm", wasm.Limits{WallTime: 50 * time.Millisecond})

	for _, id := range []string{hello, forever} {
		j, err := q.Wait(ctx, id)
		if err != nil {
			log.Fatal(err)
		}
		res, err := runner.DecodeResult(j.Result)
		if err != nil {
			log.Fatal(err)
		}
		switch j.State {
		case queue.StateDone:
			fmt.Printf("done: exit %d, stdout %q\n", res.ExitCode, res.Stdout)
		default:
			reason, _, _ := strings.Cut(j.Error, ": limit") // the rest has the numbers
			fmt.Printf("%s: %s\n", j.State, reason)
		}
	}
	// Output:
	// done: exit 0, stdout "hello, fog\n"
	// failed: wasm: wall-time limit exceeded
}
