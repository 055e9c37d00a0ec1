package wasm

import (
	"bytes"
	"context"
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

// BenchmarkExecutorRunGo runs a small Go program (examples/primes up to
// 100) through Executor.Run: the per-task cost of a Go task, whose memory
// (about 2.5 MiB at start, grown by its runtime) is too large to be pooled
// and lives in a mapping of its own (see memory).
func BenchmarkExecutorRunGo(b *testing.B) {
	goTask(b, "primes")
	ctx := context.Background()
	cfg := DefaultConfig()
	cfg.CacheDir = goTasks.cacheDir
	e, err := New(ctx, cfg)
	require.NoError(b, err)
	defer e.Close()
	id, err := e.Compile(ctx, goTask(b, "primes"))
	require.NoError(b, err)
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
