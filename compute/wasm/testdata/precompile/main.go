// Command precompile fills a wazero compilation cache directory with the
// given modules, compiled exactly as package wasm's Executor compiles them.
// The tests of package wasm run it (built without -race) so that the race
// test binary loads the large Go test tasks from the cache in a fraction of
// a second instead of compiling each with a race-instrumented compiler.
//
// Usage: precompile CACHEDIR MODULE.wasm...
package main

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"sync"

	"github.com/fog-compute/fog/compute/wasm"
	"github.com/tetratelabs/wazero/experimental"
)

func main() {
	if len(os.Args) < 3 {
		fmt.Fprintln(os.Stderr, "usage: precompile CACHEDIR MODULE.wasm...")
		os.Exit(2)
	}
	if err := run(os.Args[1], os.Args[2:]); err != nil {
		fmt.Fprintln(os.Stderr, "precompile:", err)
		os.Exit(1)
	}
}

func run(dir string, files []string) error {
	cfg := wasm.DefaultConfig()
	cfg.CacheDir = dir
	ctx := experimental.WithCompilationWorkers(context.Background(), runtime.GOMAXPROCS(0))
	e, err := wasm.New(ctx, cfg)
	if err != nil {
		return err
	}
	var wg sync.WaitGroup
	errs := make([]error, len(files))
	for i, f := range files {
		wg.Add(1)
		go func() {
			defer wg.Done()
			code, err := os.ReadFile(f)
			if err == nil {
				_, err = e.Compile(ctx, code)
			}
			if err != nil {
				errs[i] = fmt.Errorf("%s: %w", f, err)
			}
		}()
	}
	wg.Wait()
	if err := e.Close(); err != nil {
		return err
	}
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
