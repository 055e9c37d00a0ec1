package runner_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fog-compute/fog/compute/queue"
	"github.com/fog-compute/fog/compute/queue/queuetest"
	"github.com/fog-compute/fog/compute/runner"
	"github.com/fog-compute/fog/compute/wasm"
	"github.com/fog-compute/fog/internal/cputime"
	"github.com/fog-compute/fog/store"
	"github.com/stretchr/testify/require"
	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
)

// runInBackground runs rn until the returned function is called, which
// stops it and checks that Run returned no error.
func runInBackground(tb testing.TB, ctx context.Context, rn *runner.Runner) (stop func()) {
	runCtx, cancel := context.WithCancel(ctx)
	ran := make(chan error, 1)
	go func() { ran <- rn.Run(runCtx, nil) }()
	return func() {
		cancel()
		require.NoError(tb, <-ran)
	}
}

// The local throughput targets: a minimal task (compute/wasm/testdata/
// minimal.wasm, 138 bytes, compiled once) goes through enqueue, claim, run
// and completion, every state change synced to disk, at 2,000 tasks/s or
// more on 2 cores, and costs at most 1.5× running it directly with wazero on
// the same cores. Run:
//
//	go test -run '^$' -bench 'LocalThroughput|DirectWazero' -count 5 ./compute/runner/
//
// BenchmarkLocalThroughput reports, per sub-benchmark:
//
//   - tasks/s: tasks completed per second of wall time, with "inflight"
//     tasks in flight;
//   - cpu-us/task: CPU time (user and system, all goroutines, Badger's
//     included) per task;
//   - x-direct: wall time per task divided by that of direct wazero
//     (instantiate, run, close) on the same cores, measured in the same
//     process right after (directPerTask); x-direct-cpu: the same ratio of
//     CPU times;
//   - x-executor, x-executor-cpu: the same against wasm.Executor.Run, which
//     is what the runner calls, so the ratio is the cost of the queue, the
//     runner and the persistence on top of execution.
//
// "Per-task overhead" with persistence involved: a task's latency includes
// three synced commits (queued, running, done), each a few hundred
// microseconds of waiting on the disk, but that wait is shared (group
// commit) and overlapped with the execution of other tasks, so with enough
// tasks in flight the cost per task is what the ratios of throughput and
// CPU time measure, not a task's latency.

var benchStdin = []byte("input")

func readModule(tb testing.TB, name string) []byte {
	tb.Helper()
	code, err := os.ReadFile("../wasm/testdata/" + name + ".wasm")
	require.NoError(tb, err)
	return code
}

// BenchmarkLocalThroughput runs minimal tasks through queue, runner and
// executor on a store on disk with synced writes. Closed-loop clients (the
// "inflight" of the sub-benchmark) each enqueue a task, wait for it to be
// done (Queue.Wait) and check its output, then start over: that many tasks
// are in flight at any time, so that the syncs of their state changes are
// shared (group commit) and overlap execution. Each task costs three synced
// state changes (queued, running, done). The "memory" variant keeps the
// store in memory (no log, no sync; a node never does): the cost of
// everything but the disk.
func BenchmarkLocalThroughput(b *testing.B) {
	for _, bc := range []struct {
		name               string
		inflight, prefetch int
		memory             bool
	}{
		{"inflight=256", 256, -1, false},                    // DefaultConfig: MaxPrefetch 32×cores
		{"inflight=256,maxprefetch=2", 256, 2, false},       // claiming (almost) only for free slots
		{"inflight=1024,maxprefetch=512", 1024, 512, false}, // larger groups of claims
		{"inflight=256,memory", 256, -1, true},
	} {
		b.Run(bc.name, func(b *testing.B) { localThroughput(b, bc.inflight, bc.prefetch, bc.memory) })
	}
}

func localThroughput(b *testing.B, inflight, prefetch int, memory bool) {
	ctx := context.Background()
	scfg := store.DefaultConfig(b.TempDir())
	if memory {
		scfg = store.InMemoryConfig()
	}
	scfg.Logger = nil
	db, err := store.Open(scfg)
	require.NoError(b, err)
	defer db.Close()
	exec, err := wasm.New(ctx, wasm.DefaultConfig())
	require.NoError(b, err)
	defer exec.Close()
	id, err := exec.Compile(ctx, readModule(b, "minimal"))
	require.NoError(b, err)
	q, err := queue.Open(ctx, db, queue.TestConfig())
	require.NoError(b, err)
	defer q.Close()
	rcfg := runner.DefaultConfig()
	rcfg.Concurrency = runtime.GOMAXPROCS(0)
	if prefetch >= 0 {
		rcfg.MaxPrefetch = prefetch
	}
	rcfg.Logger = nil
	rn, err := runner.New(q, exec, rcfg)
	require.NoError(b, err)
	defer runInBackground(b, ctx, rn)()
	payload, err := runner.EncodeTask(runner.Task{Spec: wasm.Spec{Module: id, Args: []string{"minimal"}, Stdin: benchStdin}})
	require.NoError(b, err)

	b.ReportAllocs()
	b.ResetTimer()
	load, err := queuetest.ClosedLoop(ctx, q, b.N, inflight, payload, func(j queue.Job) error {
		res, err := runner.DecodeResult(j.Result)
		if err != nil || len(res.Stdout) != 11 {
			return fmt.Errorf("result %q: %v", res.Stdout, err)
		}
		return nil
	})
	b.StopTimer()
	require.NoError(b, err)
	elapsed, cpu := load.Wall, load.CPU
	perTask := float64(elapsed) / float64(b.N)
	cpuPerTask := float64(cpu) / float64(b.N)
	b.ReportMetric(1e9/perTask, "tasks/s")
	b.ReportMetric(cpuPerTask/1e3, "cpu-us/task")
	if b.N >= 1000 {
		n := max(b.N, 20000)
		wall, cpu := directPerTask(b, readModule(b, "minimal"), n)
		b.ReportMetric(perTask/wall, "x-direct")
		b.ReportMetric(cpuPerTask/cpu, "x-direct-cpu")
		spec := wasm.Spec{Module: id, Args: []string{"minimal"}, Stdin: benchStdin}
		wall, cpu = parallelPerTask(n, func() {
			if res, err := exec.Run(ctx, spec); err != nil || len(res.Stdout) != 11 {
				b.Fatalf("%v %q", err, res.Stdout)
			}
		})
		b.ReportMetric(perTask/wall, "x-executor")
		b.ReportMetric(cpuPerTask/cpu, "x-executor-cpu")
	}
}

// cpuTime is the CPU time the process has used (see package cputime).
func cpuTime() time.Duration {
	t, _ := cputime.Process()
	return t
}

// zeroReader is a free random source for direct wazero: its default (a
// seeded math/rand source per instantiation) costs more than the rest of a
// minimal run, and the executor does not pay it either.
type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// directRunner instantiates, runs and closes a module with plain wazero: a
// runtime and a compiled module made once, and per run a ModuleConfig with
// stdin, stdout, stderr, args and a random source, as the executor sets.
type directRunner struct {
	rt       wazero.Runtime
	compiled wazero.CompiledModule
	base     wazero.ModuleConfig
}

func newDirect(tb testing.TB, code []byte) *directRunner {
	ctx := context.Background()
	rt := wazero.NewRuntime(ctx)
	wasi_snapshot_preview1.MustInstantiate(ctx, rt)
	compiled, err := rt.CompileModule(ctx, code)
	require.NoError(tb, err)
	return &directRunner{rt: rt, compiled: compiled, base: wazero.NewModuleConfig().WithName("").WithRandSource(zeroReader{})}
}

func (d *directRunner) run(tb testing.TB) {
	ctx := context.Background()
	var stdout, stderr bytes.Buffer
	cfg := d.base.WithStdin(bytes.NewReader(benchStdin)).WithStdout(&stdout).WithStderr(&stderr).WithArgs("minimal")
	mod, err := d.rt.InstantiateModule(ctx, d.compiled, cfg)
	if err != nil {
		tb.Fatal(err)
	}
	_ = mod.Close(ctx)
	if stdout.Len() != 11 {
		tb.Fatalf("stdout %q", stdout.String())
	}
}

func (d *directRunner) close() { _ = d.rt.Close(context.Background()) }

// directPerTask runs n tasks directly with wazero from GOMAXPROCS
// goroutines (the cores the runner had) and returns the wall time and the
// CPU time per task, in nanoseconds.
func directPerTask(tb testing.TB, code []byte, n int) (wall, cpu float64) {
	d := newDirect(tb, code)
	defer d.close()
	return parallelPerTask(n, func() { d.run(tb) })
}

// parallelPerTask calls run n times from GOMAXPROCS goroutines and returns
// the wall time and the CPU time per call, in nanoseconds.
func parallelPerTask(n int, run func()) (wall, cpu float64) {
	var next atomic.Int64
	var wg sync.WaitGroup
	cpu0 := cpuTime()
	start := time.Now()
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			for next.Add(1) <= int64(n) {
				run()
			}
		})
	}
	wg.Wait()
	return float64(time.Since(start)) / float64(n), float64(cpuTime()-cpu0) / float64(n)
}

// BenchmarkDirectWazero runs the minimal task directly with wazero
// (instantiate, run, close), on one goroutine (serial) and on GOMAXPROCS
// goroutines (parallel: the same cores the runner uses, which is what
// BenchmarkLocalThroughput's x-direct compares with).
func BenchmarkDirectWazero(b *testing.B) {
	code := readModule(b, "minimal")
	b.Run("serial", func(b *testing.B) {
		d := newDirect(b, code)
		defer d.close()
		b.ReportAllocs()
		for b.Loop() {
			d.run(b)
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "tasks/s")
	})
	b.Run("parallel", func(b *testing.B) {
		cpu0 := cpuTime()
		d := newDirect(b, code)
		defer d.close()
		b.ReportAllocs()
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				d.run(b)
			}
		})
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "tasks/s")
		b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N)/1e3, "cpu-us/task")
	})
}
