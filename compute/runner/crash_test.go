package runner_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fog-compute/fog/compute/queue"
	"github.com/fog-compute/fog/compute/runner"
	"github.com/fog-compute/fog/compute/wasm"
	"github.com/fog-compute/fog/internal/crashtest"
	"github.com/fog-compute/fog/store"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// crashEnv holds the data directory of a crash-test child process.
const crashEnv = "FOG_RUNNER_CRASH_DIR"

// The long jobs the child starts and never finishes: one per crash
// outcome.
var longJobs = map[string]queue.Job{
	"long-rerun": {ID: "long-rerun", Priority: 10},                              // requeued
	"long-fail":  {ID: "long-fail", Priority: 10, CrashPolicy: queue.CrashFail}, // failed: crashed
	"long-last":  {ID: "long-last", Priority: 10, MaxAttempts: 1},               // failed: attempts
}

func crashStoreConfig(dir string) store.Config {
	cfg := store.DefaultConfig(dir)
	cfg.Logger = nil
	cfg.GCInterval = 0
	return cfg
}

// TestCrashRecovery kills a node with SIGKILL while it runs long tasks and
// a stream of short ones are enqueued, run and completed, then reopens its
// store and checks that no acknowledged job is lost: the child prints "ack
// ID" once Enqueue returned and "started ID" when a task starts executing
// (its running state is durable by then). After recovery every
// acknowledged job exists and none is running; the long jobs ended as
// their crash policies say; short jobs are done (with their output),
// queued (never started, or requeued) or failed by their CrashFail policy;
// and the requeued and queued ones then run to completion.
func TestCrashRecovery(t *testing.T) {
	if dir, ok := crashtest.Child(crashEnv); ok {
		crashChild(dir)
		return
	}
	dir := t.TempDir()
	acked := map[string]bool{}
	started := map[string]bool{}
	// Kill once the long tasks run and enough short ones went through.
	crashtest.Run(t, crashtest.Config{
		Test: "TestCrashRecovery", Env: crashEnv, Dir: dir,
		Record: func(line string) {
			verb, id, ok := strings.Cut(line, " ")
			require.True(t, ok, "child line %q", line)
			switch verb {
			case "ack":
				acked[id] = true
			case "started":
				started[id] = true
			default:
				t.Fatalf("child line %q", line)
			}
		},
		Ready: func() bool {
			for id := range longJobs {
				if !started[id] {
					return false
				}
			}
			return len(acked) >= 300 && len(started) >= 50
		},
		Timeout: 30 * time.Second,
	})

	db, err := store.Open(crashStoreConfig(dir))
	require.NoError(t, err, "reopen after the crash")
	defer func() { require.NoError(t, db.Close()) }()
	ctx := t.Context()
	q, err := queue.Open(ctx, db, queue.TestConfig())
	require.NoError(t, err)
	defer func() { require.NoError(t, q.Close()) }()

	running, err := q.List(ctx, queue.Filter{State: queue.StateRunning})
	require.NoError(t, err)
	assert.Empty(t, running, "recovery leaves no job running")
	assert.Zero(t, q.Counts().Running)

	byState := map[queue.State]int{}
	var toRun []string
	for id := range acked {
		j, err := q.Get(ctx, id)
		if !assert.NoError(t, err, "acknowledged job %s lost", id) {
			continue
		}
		byState[j.State]++
		if long, ok := longJobs[id]; ok {
			assert.Equal(t, uint32(1), j.Attempts, id)
			switch {
			case long.CrashPolicy == queue.CrashFail:
				assert.Equal(t, queue.StateFailed, j.State, id)
				assert.Equal(t, queue.ReasonCrashed, j.Error, id)
			case long.MaxAttempts == 1:
				assert.Equal(t, queue.StateFailed, j.State, id)
				assert.Equal(t, queue.ReasonAttempts, j.Error, id)
			default:
				assert.Equal(t, queue.StateQueued, j.State, id)
			}
			continue
		}
		// A job that started executing either finished (done) or was
		// running at the kill; one that did not start may still have been
		// claimed (running in the store) just before the kill.
		switch j.State {
		case queue.StateDone:
			res, err := runner.DecodeResult(j.Result)
			require.NoError(t, err)
			assert.Equal(t, "hello, fog\n", string(res.Stdout), id)
		case queue.StateQueued:
			if j.CrashPolicy == queue.CrashFail {
				assert.Zero(t, j.Attempts, "%s is queued: it was never claimed", id)
			}
			if started[id] {
				assert.Equal(t, uint32(1), j.Attempts, "%s was running at the kill: requeued, its attempt counted", id)
			}
			toRun = append(toRun, id)
		case queue.StateFailed:
			assert.Equal(t, queue.CrashFail, j.CrashPolicy, id)
			assert.Equal(t, queue.ReasonCrashed, j.Error, id)
			assert.Equal(t, uint32(1), j.Attempts, id)
		default:
			t.Errorf("%s is %s after recovery", id, j.State)
		}
		if started[id] && j.CrashPolicy == queue.CrashFail {
			assert.NotEqual(t, queue.StateQueued, j.State, "%s started: it must not run again", id)
		}
	}
	t.Logf("%d acknowledged jobs after SIGKILL: %v", len(acked), byState)

	// The requeued and never-started jobs run now.
	_, err = q.Cancel(ctx, "long-rerun")
	require.NoError(t, err)
	ex, err := wasm.New(ctx, wasm.TestConfig())
	require.NoError(t, err)
	defer ex.Close()
	_, err = ex.Compile(ctx, readModule(t, "minimal"))
	require.NoError(t, err)
	cfg := runner.DefaultConfig()
	cfg.Logger = nil
	rn, err := runner.New(q, ex, cfg)
	require.NoError(t, err)
	defer runInBackground(t, ctx, rn)()
	for _, id := range toRun {
		wctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		j, err := q.Wait(wctx, id)
		cancel()
		require.NoError(t, err)
		assert.Equal(t, queue.StateDone, j.State, id)
	}
}

// printingExec announces each task it starts: Args[1] is the job's ID.
type printingExec struct {
	*wasm.Executor
	print func(string, string)
}

func (p printingExec) Run(ctx context.Context, spec wasm.Spec) (wasm.Result, error) {
	p.print("started", spec.Args[1])
	return p.Executor.Run(ctx, spec)
}

// crashChild runs a node's queue and runner until it is killed: three long
// tasks occupy three of its four slots, and short tasks are enqueued and run
// in the fourth as fast as they go.
func crashChild(dir string) {
	fail := func(err error) {
		fmt.Fprintln(os.Stderr, "child:", err)
		os.Exit(2)
	}
	var out sync.Mutex
	print := func(verb, id string) {
		out.Lock()
		defer out.Unlock()
		fmt.Printf("%s %s\n", verb, id)
	}
	ctx := context.Background()
	db, err := store.Open(crashStoreConfig(dir))
	if err != nil {
		fail(err)
	}
	ex, err := wasm.New(ctx, wasm.TestConfig())
	if err != nil {
		fail(err)
	}
	mods := map[string]wasm.ModuleID{}
	for _, name := range []string{"loop", "minimal"} {
		code, err := os.ReadFile("../wasm/testdata/" + name + ".wasm")
		if err != nil {
			fail(err)
		}
		if mods[name], err = ex.Compile(ctx, code); err != nil {
			fail(err)
		}
	}
	q, err := queue.Open(ctx, db, queue.TestConfig())
	if err != nil {
		fail(err)
	}
	cfg := runner.DefaultConfig()
	cfg.Concurrency, cfg.MaxPrefetch, cfg.Logger = 4, 0, nil
	rn, err := runner.New(q, printingExec{ex, print}, cfg)
	if err != nil {
		fail(err)
	}
	go func() {
		if err := rn.Run(ctx, nil); err != nil {
			fail(err)
		}
	}()
	enqueue := func(j queue.Job, mod string, wall time.Duration) {
		var err error
		j.Payload, err = runner.EncodeTask(runner.Task{Spec: wasm.Spec{
			Module: mods[mod], Args: []string{mod, j.ID}, Limits: wasm.Limits{WallTime: wall}}})
		if err != nil {
			fail(err)
		}
		if _, err := q.Enqueue(ctx, j); err != nil {
			fail(err)
		}
		print("ack", j.ID)
	}
	for _, j := range longJobs {
		enqueue(j, "loop", 25*time.Second)
	}
	for w := range 4 {
		go func() {
			for n := 0; ; n++ {
				j := queue.Job{ID: fmt.Sprintf("s%d-%d", w, n)}
				if n%2 == 1 {
					j.CrashPolicy = queue.CrashFail
				}
				enqueue(j, "minimal", 0)
			}
		}()
	}
	<-time.After(60 * time.Second) // the parent kills us long before
	fail(fmt.Errorf("not killed"))
}
