package runner

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"runtime"

	"github.com/pbnjay/memory"

	"github.com/fog-compute/fog/compute/wasm"
	"github.com/fog-compute/fog/internal/clock"
)

// ErrConfig is wrapped by every error Config.Validate returns.
var ErrConfig = errors.New("runner: invalid config")

// Config configures a Runner.
type Config struct {
	// Concurrency is how many tasks execute at once: the cores the node
	// offers. Default runtime.NumCPU().
	Concurrency int
	// MaxPrefetch bounds how many jobs may be claimed (moved to running,
	// durably) beyond those executing. Claiming ahead lets the sync of a
	// claim, a few hundred microseconds on a disk, overlap the execution of
	// other tasks instead of idling a core. The runner adapts how many it
	// claims ahead to the tasks: about as many as its slots execute while
	// two claims are synced, at least one and at most MaxPrefetch. Tasks
	// longer than a sync get one per slot; tasks of tens of microseconds
	// need tens (see BenchmarkLocalThroughput). A job claimed ahead runs
	// before a higher-priority job enqueued after the claim, and counts as
	// running if the node crashes. Default 32×Concurrency; 0 claims a job
	// only when a slot is free.
	MaxPrefetch int
	// Memory bounds, in bytes, the memory of the tasks executing at once:
	// the sum of their memory limits stays within it, since a task may
	// use all of its limit (and the executor holds a task to about that).
	// A task waits for a free slot and then until its limit fits beside
	// the limits of the tasks running, in the order they asked (so a large
	// task is not starved by small ones); a task whose limit alone exceeds
	// Memory fails at once with ErrMemoryBudget. Default half of the
	// machine's memory, as a node offers when not told (compute.memory_mib);
	// 0 bounds nothing.
	Memory uint64
	// DefaultMemoryPages is the memory limit, in 64 KiB pages, of a task
	// that gives none: the runner runs it with this limit, so that what it
	// counts is what the executor enforces. Default the wasm executor's
	// default (wasm.DefaultConfig), 64 MiB.
	DefaultMemoryPages uint32
	// Modules fetches modules the executor does not have and that the task
	// does not carry. nil: such tasks fail with wasm.ErrUnknownModule.
	Modules ModuleSource
	// Logger receives the runner's messages; nil discards them.
	Logger *slog.Logger
	// Started, if set, is told the ID of each job whose task starts
	// executing (its live output is readable from then on), so that its
	// owner can tell waiters; it must not block. nil tells no one.
	Started func(jobID string)
	// Wrote, if set, is told the ID of a job whose running task has just
	// written output (after each write of the guest), so that its owner
	// can tell readers of the live output; it must be quick and not
	// block. nil tells no one.
	Wrote func(jobID string)
	// Clock times the executions and the persisting of outcomes that pace
	// how many jobs the runner claims ahead. Default clock.Real(), and nil
	// means it too.
	Clock clock.Clock
}

// DefaultConfig returns the configuration of a node's runner.
func DefaultConfig() Config {
	n := runtime.NumCPU()
	return Config{
		Concurrency:        n,
		MaxPrefetch:        32 * n,
		Memory:             memory.TotalMemory() / 2,
		DefaultMemoryPages: wasm.DefaultConfig().DefaultLimits.MemoryPages,
		Logger:             slog.Default(),
		Clock:              clock.Real(),
	}
}

// Validate reports the first field that has a bad value, naming it.
func (c Config) Validate() error {
	switch {
	case c.Concurrency < 1:
		return fmt.Errorf("%w: Concurrency: %d, need at least 1", ErrConfig, c.Concurrency)
	case c.MaxPrefetch < 0:
		return fmt.Errorf("%w: MaxPrefetch: %d is negative", ErrConfig, c.MaxPrefetch)
	case c.DefaultMemoryPages == 0:
		return fmt.Errorf("%w: DefaultMemoryPages: 0, need at least 1", ErrConfig)
	case c.Memory != 0 && c.Memory < uint64(c.DefaultMemoryPages)*wasm.PageSize:
		return fmt.Errorf("%w: Memory: %d bytes is less than a task's default limit (DefaultMemoryPages %d, %d MiB)",
			ErrConfig, c.Memory, c.DefaultMemoryPages, c.DefaultMemoryPages/16)
	case c.Memory > math.MaxInt64:
		return fmt.Errorf("%w: Memory: %d bytes is too large", ErrConfig, c.Memory)
	}
	return nil
}
