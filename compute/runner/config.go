package runner

import (
	"errors"
	"fmt"
	"log/slog"
	"runtime"
)

// ErrInvalidConfig is wrapped by every error Config.Validate returns.
var ErrInvalidConfig = errors.New("runner: invalid config")

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
	// Modules fetches modules the executor does not have and that the task
	// does not carry. nil: such tasks fail with wasm.ErrUnknownModule.
	Modules ModuleSource
	// Logger receives the runner's messages; nil discards them.
	Logger *slog.Logger
}

// DefaultConfig returns the configuration of a node's runner.
func DefaultConfig() Config {
	n := runtime.NumCPU()
	return Config{
		Concurrency: n,
		MaxPrefetch: 32 * n,
		Logger:      slog.Default(),
	}
}

// Validate reports the first field that has a bad value, naming it.
func (c Config) Validate() error {
	switch {
	case c.Concurrency < 1:
		return fmt.Errorf("%w: Concurrency: %d, need at least 1", ErrInvalidConfig, c.Concurrency)
	case c.MaxPrefetch < 0:
		return fmt.Errorf("%w: MaxPrefetch: %d is negative", ErrInvalidConfig, c.MaxPrefetch)
	}
	return nil
}
