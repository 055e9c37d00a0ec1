package wasm

import (
	"fmt"
	"time"
)

// PageSize is the size of a WebAssembly memory page: limits on memory are
// counted in pages.
const PageSize = 64 << 10

// maxPages is the most pages a 32-bit WebAssembly memory can have (4 GiB).
const maxPages = 1 << 16

// Limits bound what one task may use. In a Spec a zero field means "the
// executor's default" (Config.DefaultLimits).
type Limits struct {
	// MemoryPages is the most linear memory the task may have, in 64 KiB
	// pages. A module declaring a larger minimum is refused; a memory.grow
	// past it fails (returns -1 to the guest).
	MemoryPages uint32
	// WallTime is how long the task may run, from instantiation to exit.
	WallTime time.Duration
	// OutputBytes caps stdout and stderr together. A task writing more is
	// stopped (ErrOutputLimit) and its output truncated to this many bytes.
	OutputBytes int64
}

// Config configures an Executor.
type Config struct {
	// CacheDir is where wazero keeps compiled machine code across restarts,
	// so a module is compiled once per node rather than once per process
	// (a 2.5 MB Go program takes about a second to compile). Empty keeps
	// compiled code in memory only (tests, one-shot tools). The executor
	// runs the machine code it finds there: the directory must be writable
	// by this node only.
	CacheDir string
	// ScratchBytes is the quota of a task's /scratch (Spec.Scratch): an
	// in-memory filesystem (package memfs), so this is host memory, on top
	// of the task's MemoryPages, for as long as the task runs. A write past
	// it fails (the guest sees EIO). Zero gives tasks no scratch space: a
	// Spec asking for it is refused with ErrInvalidSpec. Default 64 MiB,
	// the default memory limit of a task: room for the temporary files of
	// a typical command-line program.
	ScratchBytes int64
	// ScratchFiles bounds the files and directories in a task's /scratch
	// (its root included). Default 4096 (memfs's default): ample for
	// temporary files, and it bounds the memory of their names.
	ScratchFiles int
	// MaxCompiledModules bounds the in-memory cache of compiled modules
	// (least recently used first out). A compiled Go program takes about
	// 15 MiB (machine code and metadata; small modules far less), so the
	// default of 16 keeps the cache under about 250 MiB.
	MaxCompiledModules int
	// DefaultLimits applies to each zero field of a Spec's Limits. The
	// default (64 MiB, 10 s, 1 MiB) runs a typical Go or Rust command-line
	// program; a task that needs more says so.
	DefaultLimits Limits
	// MaxLimits is the most a Spec may ask for; a Spec above it is refused
	// with ErrInvalidSpec. The default (1 GiB, 10 min, 64 MiB) keeps one task
	// from taking the whole machine.
	MaxLimits Limits
}

// DefaultConfig returns the configuration a node uses unless told
// otherwise. Each default is explained on its Config field.
func DefaultConfig() Config {
	return Config{
		MaxCompiledModules: 16,
		ScratchBytes:       64 << 20,
		ScratchFiles:       4096,
		DefaultLimits: Limits{
			MemoryPages: 1024, // 64 MiB
			WallTime:    10 * time.Second,
			OutputBytes: 1 << 20,
		},
		MaxLimits: Limits{
			MemoryPages: 16384, // 1 GiB
			WallTime:    10 * time.Minute,
			OutputBytes: 64 << 20,
		},
	}
}

// TestConfig returns a configuration for tests and the simulator: short
// time limits, small memory, output and scratch space, and a small module
// cache.
func TestConfig() Config {
	return Config{
		MaxCompiledModules: 8,
		ScratchBytes:       8 << 20,
		ScratchFiles:       256,
		DefaultLimits: Limits{
			MemoryPages: 512, // 32 MiB
			WallTime:    5 * time.Second,
			OutputBytes: 64 << 10,
		},
		MaxLimits: Limits{
			MemoryPages: 4096, // 256 MiB
			WallTime:    30 * time.Second,
			OutputBytes: 4 << 20,
		},
	}
}

// Validate reports the first invalid field of c, by name.
func (c Config) Validate() error {
	if c.MaxCompiledModules < 1 {
		return fmt.Errorf("%w: MaxCompiledModules must be at least 1, got %d", ErrConfig, c.MaxCompiledModules)
	}
	if c.ScratchBytes < 0 {
		return fmt.Errorf("%w: ScratchBytes must not be negative, got %d", ErrConfig, c.ScratchBytes)
	}
	if c.ScratchBytes > 0 && c.ScratchFiles < 1 {
		return fmt.Errorf("%w: ScratchFiles must be at least 1 when ScratchBytes is set, got %d", ErrConfig, c.ScratchFiles)
	}
	if err := c.MaxLimits.validate("MaxLimits"); err != nil {
		return err
	}
	if c.MaxLimits.MemoryPages > maxPages {
		return fmt.Errorf("%w: MaxLimits.MemoryPages must be at most %d (4 GiB), got %d", ErrConfig, maxPages, c.MaxLimits.MemoryPages)
	}
	if err := c.DefaultLimits.validate("DefaultLimits"); err != nil {
		return err
	}
	if c.DefaultLimits.MemoryPages > c.MaxLimits.MemoryPages {
		return fmt.Errorf("%w: DefaultLimits.MemoryPages (%d) exceeds MaxLimits.MemoryPages (%d)", ErrConfig, c.DefaultLimits.MemoryPages, c.MaxLimits.MemoryPages)
	}
	if c.DefaultLimits.WallTime > c.MaxLimits.WallTime {
		return fmt.Errorf("%w: DefaultLimits.WallTime (%v) exceeds MaxLimits.WallTime (%v)", ErrConfig, c.DefaultLimits.WallTime, c.MaxLimits.WallTime)
	}
	if c.DefaultLimits.OutputBytes > c.MaxLimits.OutputBytes {
		return fmt.Errorf("%w: DefaultLimits.OutputBytes (%d) exceeds MaxLimits.OutputBytes (%d)", ErrConfig, c.DefaultLimits.OutputBytes, c.MaxLimits.OutputBytes)
	}
	return nil
}

func (l Limits) validate(field string) error {
	switch {
	case l.MemoryPages == 0:
		return fmt.Errorf("%w: %s.MemoryPages must be positive", ErrConfig, field)
	case l.WallTime <= 0:
		return fmt.Errorf("%w: %s.WallTime must be positive, got %v", ErrConfig, field, l.WallTime)
	case l.OutputBytes <= 0:
		return fmt.Errorf("%w: %s.OutputBytes must be positive, got %d", ErrConfig, field, l.OutputBytes)
	}
	return nil
}

// resolve fills the zero fields of l from def and checks l against max.
func (l Limits) resolve(def, max Limits) (Limits, error) {
	if l.MemoryPages == 0 {
		l.MemoryPages = def.MemoryPages
	}
	if l.WallTime == 0 {
		l.WallTime = def.WallTime
	}
	if l.OutputBytes == 0 {
		l.OutputBytes = def.OutputBytes
	}
	switch {
	case l.MemoryPages > max.MemoryPages:
		return l, fmt.Errorf("%w: Limits.MemoryPages %d exceeds the maximum %d", ErrInvalidSpec, l.MemoryPages, max.MemoryPages)
	case l.WallTime < 0 || l.WallTime > max.WallTime:
		return l, fmt.Errorf("%w: Limits.WallTime %v is outside (0, %v]", ErrInvalidSpec, l.WallTime, max.WallTime)
	case l.OutputBytes < 0 || l.OutputBytes > max.OutputBytes:
		return l, fmt.Errorf("%w: Limits.OutputBytes %d is outside (0, %d]", ErrInvalidSpec, l.OutputBytes, max.OutputBytes)
	}
	return l, nil
}
