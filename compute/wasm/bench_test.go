package wasm

import (
	"bytes"
	"context"
	"errors"
	"os"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
)

// The per-task overhead target: Executor.Run of a minimal module with a
// cached compiled module costs at most 1.5x running it directly with wazero.
// Compare BenchmarkDirectWazero and BenchmarkExecutorRun from one run:
//
//	go test -run '^$' -bench 'DirectWazero|ExecutorRun$' -count 5 ./compute/wasm/

var benchStdin = []byte("input")

// zeroReader is a free random source for the direct baselines: wazero's
// default (a math/rand source seeded per instantiation) costs more than the
// whole rest of a minimal run, and Executor.Run does not pay it either.
type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// BenchmarkDirectWazero instantiates, runs and closes testdata/minimal with
// plain wazero: a runtime and a compiled module made once, and per run a
// ModuleConfig with stdin, stdout, stderr, args and a random source, as
// Executor.Run sets.
func BenchmarkDirectWazero(b *testing.B) {
	ctx := context.Background()
	rt := wazero.NewRuntime(ctx)
	defer rt.Close(ctx)
	wasi_snapshot_preview1.MustInstantiate(ctx, rt)
	compiled, err := rt.CompileModule(ctx, readTestdata(b, "minimal"))
	require.NoError(b, err)
	base := wazero.NewModuleConfig().WithName("").WithRandSource(zeroReader{})
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		var stdout, stderr bytes.Buffer
		cfg := base.WithStdin(bytes.NewReader(benchStdin)).WithStdout(&stdout).WithStderr(&stderr).WithArgs("minimal")
		mod, err := rt.InstantiateModule(ctx, compiled, cfg)
		if err != nil {
			b.Fatal(err)
		}
		_ = mod.Close(ctx)
		if stdout.Len() != 11 {
			b.Fatalf("stdout %q", stdout.String())
		}
	}
}

// BenchmarkDirectWazeroBounded is BenchmarkDirectWazero with the machinery a
// time limit needs in wazero: WithCloseOnContextDone and a context with a
// deadline per run. It isolates the part of Executor.Run's overhead that
// enforcing a wall-time limit costs in wazero itself.
func BenchmarkDirectWazeroBounded(b *testing.B) {
	ctx := context.Background()
	rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfig().WithCloseOnContextDone(true))
	defer rt.Close(ctx)
	wasi_snapshot_preview1.MustInstantiate(ctx, rt)
	compiled, err := rt.CompileModule(ctx, readTestdata(b, "minimal"))
	require.NoError(b, err)
	base := wazero.NewModuleConfig().WithName("").WithRandSource(zeroReader{})
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		var stdout, stderr bytes.Buffer
		runCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
		cfg := base.WithStdin(bytes.NewReader(benchStdin)).WithStdout(&stdout).WithStderr(&stderr).WithArgs("minimal")
		mod, err := rt.InstantiateModule(runCtx, compiled, cfg)
		if err != nil {
			b.Fatal(err)
		}
		_ = mod.Close(ctx)
		cancel()
		if stdout.Len() != 11 {
			b.Fatalf("stdout %q", stdout.String())
		}
	}
}

// BenchmarkExecutorRun runs the same task through Executor.Run.
func BenchmarkExecutorRun(b *testing.B) {
	ctx := context.Background()
	e, err := New(ctx, DefaultConfig())
	require.NoError(b, err)
	defer e.Close()
	id, err := e.Compile(ctx, readTestdata(b, "minimal"))
	require.NoError(b, err)
	spec := Spec{Module: id, Args: []string{"minimal"}, Stdin: benchStdin}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		res, err := e.Run(ctx, spec)
		if err != nil || len(res.Stdout) != 11 {
			b.Fatalf("%v %q", err, res.Stdout)
		}
	}
}

// BenchmarkExecutorRunParallel runs the minimal task from GOMAXPROCS
// goroutines at once.
func BenchmarkExecutorRunParallel(b *testing.B) {
	ctx := context.Background()
	e, err := New(ctx, DefaultConfig())
	require.NoError(b, err)
	defer e.Close()
	id, err := e.Compile(ctx, readTestdata(b, "minimal"))
	require.NoError(b, err)
	spec := Spec{Module: id, Args: []string{"minimal"}, Stdin: benchStdin}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			res, err := e.Run(ctx, spec)
			if err != nil || len(res.Stdout) != 11 {
				b.Errorf("%v %q", err, res.Stdout)
				return
			}
		}
	})
}

// BenchmarkRunawayStop measures how long after its wall-time limit a
// runaway loop is stopped: the "ms-late" metric is the mean of
// (Usage.Wall - limit), "ms-late-max" the worst.
func BenchmarkRunawayStop(b *testing.B) {
	for _, name := range []string{"loop", "hostloop"} {
		b.Run(name, func(b *testing.B) {
			ctx := context.Background()
			e, err := New(ctx, DefaultConfig())
			require.NoError(b, err)
			defer e.Close()
			id, err := e.Compile(ctx, readTestdata(b, name))
			require.NoError(b, err)
			const limit = 20 * time.Millisecond
			var late, worst time.Duration
			n := 0
			for b.Loop() {
				res, err := e.Run(ctx, Spec{Module: id, Limits: Limits{WallTime: limit}})
				if err == nil {
					b.Fatal("runaway loop not stopped")
				}
				d := res.Usage.Wall - limit
				late += d
				worst = max(worst, d)
				n++
			}
			b.ReportMetric(float64(late)/float64(n)/float64(time.Millisecond), "ms-late")
			b.ReportMetric(float64(worst)/float64(time.Millisecond), "ms-late-max")
		})
	}
}

// goExecutor returns an executor with the default config on the shared
// compilation cache, closed when b ends, and the Go example name compiled.
func goExecutor(b *testing.B, name string) (*Executor, ModuleID) {
	code := goTask(b, name)
	cfg := DefaultConfig()
	cfg.CacheDir = goTasks.cacheDir
	e, err := New(context.Background(), cfg)
	require.NoError(b, err)
	b.Cleanup(func() { e.Close() })
	id, err := e.Compile(context.Background(), code)
	require.NoError(b, err)
	return e, id
}

// BenchmarkExecutorRunGo runs a small Go program (examples/primes up to
// 100) through Executor.Run: the per-task cost of a Go task, whose memory
// (about 2.5 MiB at start, grown by its runtime) is too large to be pooled
// and lives in a mapping of its own (see memory).
func BenchmarkExecutorRunGo(b *testing.B) {
	ctx := context.Background()
	e, id := goExecutor(b, "primes")
	spec := Spec{Module: id, Args: []string{"primes", "100"}}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		res, err := e.Run(ctx, spec)
		if err != nil || !res.OK() {
			b.Fatalf("%v %s %s", err, res.Err, res.Stderr)
		}
	}
}

// BenchmarkMembombRSS runs examples/membomb, which allocates and touches
// memory until its limit stops it, at a limit of 1 GiB through
// Executor.Run, and reads the process's resident memory (Linux only):
// "alone" runs one task, "10x2" then ten tasks two at a time. It reports
// the peak growth of resident memory over the baseline (before the first
// task) divided by the sum of the limits of the tasks running at once
// (peak-x-limits), and the growth left right after the last task ended
// (after-MiB). Run once per figure:
//
//	go test -run '^$' -bench MembombRSS -benchtime 1x -count 3 ./compute/wasm/
func BenchmarkMembombRSS(b *testing.B) {
	if _, err := procStatus("VmRSS"); err != nil {
		b.Skipf("no /proc/self/status: %v", err)
	}
	ctx := context.Background()
	e, id := goExecutor(b, "membomb")
	lim := Limits{MemoryPages: 16384, WallTime: 5 * time.Minute}
	run := func(l Limits) {
		if _, err := e.Run(ctx, Spec{Module: id, Limits: l}); !errors.Is(err, ErrMemoryLimit) {
			b.Fatalf("membomb: %v, want ErrMemoryLimit", err)
		}
	}
	run(Limits{MemoryPages: 64, WallTime: time.Minute}) // warm up
	// The baseline is the process's before any large task, so that memory
	// an earlier sub-benchmark left behind counts against the next.
	runtime.GC()
	base, err := procStatus("VmRSS")
	require.NoError(b, err)
	for _, bc := range []struct {
		name       string
		tasks, par int
	}{{"alone", 1, 1}, {"10x2", 10, 2}} {
		b.Run(bc.name, func(b *testing.B) {
			var peakX, after float64
			for b.Loop() {
				// Reset the peak (VmHWM) to the current RSS.
				require.NoError(b, os.WriteFile("/proc/self/clear_refs", []byte("5"), 0))
				jobs := make(chan struct{})
				var wg sync.WaitGroup
				for range bc.par {
					wg.Go(func() {
						for range jobs {
							run(lim)
						}
					})
				}
				for range bc.tasks {
					jobs <- struct{}{}
				}
				close(jobs)
				wg.Wait()
				peak, err := procStatus("VmHWM")
				require.NoError(b, err)
				end, err := procStatus("VmRSS")
				require.NoError(b, err)
				running := float64(bc.par) * float64(uint64(lim.MemoryPages)*PageSize)
				peakX = float64(max(peak, base)-base) / running
				after = float64(max(end, base)-base) / (1 << 20)
			}
			b.ReportMetric(peakX, "peak-x-limits")
			b.ReportMetric(after, "after-MiB")
		})
	}
}
