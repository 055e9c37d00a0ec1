package wasm

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"time"
)

// ModuleID names a module by the SHA-256 of its binary.
type ModuleID [32]byte

// IDOf returns the ModuleID of a module binary.
func IDOf(code []byte) ModuleID { return sha256.Sum256(code) }

// String returns the ID in lowercase hex.
func (id ModuleID) String() string { return hex.EncodeToString(id[:]) }

// ParseModuleID parses the hex form returned by ModuleID.String.
func ParseModuleID(s string) (ModuleID, error) {
	var id ModuleID
	if len(s) != 2*len(id) {
		return id, fmt.Errorf("wasm: module ID must be %d hex digits, got %d", 2*len(id), len(s))
	}
	if _, err := hex.Decode(id[:], []byte(s)); err != nil {
		return id, fmt.Errorf("wasm: module ID: %w", err)
	}
	return id, nil
}

// Spec is one task: which module to run, with what input, under which
// limits, and which non-deterministic facilities it may see.
type Spec struct {
	// Module is the ID of a module loaded into the Executor.
	Module ModuleID
	// Args is the guest's argv, verbatim: Args[0] is by convention the
	// program name. No element may contain a NUL byte.
	Args []string
	// Env is the guest's environment. It is passed in key order, so the
	// guest sees the same environ for the same map. Keys must be non-empty
	// and contain neither '=' nor NUL; values may not contain NUL.
	Env map[string]string
	// Stdin is what the guest reads from standard input (then EOF).
	Stdin []byte
	// Limits bounds the run; zero fields take the executor's defaults.
	Limits Limits
	// Scratch mounts a fresh, empty in-memory filesystem at /scratch,
	// dropped after the run, with the executor's quota (Config.ScratchBytes
	// and ScratchFiles). No host path is behind it. Without it the guest
	// sees no filesystem at all.
	Scratch bool
	// Clock gives the guest the host's real wall and monotonic clocks and
	// real sleeps (which end when the run does). Without it the guest lives
	// in deterministic virtual time: the wall clock starts at
	// 2022-01-01T00:00:00Z and the monotonic clock at 0, each reading
	// advances them 1 ms, and a sleep returns at once, advancing them by its
	// length.
	Clock bool
	// Random gives the guest the host's cryptographic random source.
	// Without it random_get returns a deterministic stream keyed by the
	// module ID: the same bytes on every run, not secret.
	Random bool
}

// Usage is what a run consumed.
type Usage struct {
	// Wall is the time from instantiation to exit.
	Wall time.Duration
	// PeakMemoryBytes is the size of the guest's linear memory when it
	// ended, which is its peak: WebAssembly memory never shrinks.
	PeakMemoryBytes uint64
}

// Result is the outcome of one run.
type Result struct {
	// ExitCode is the code the guest passed to proc_exit, or 0 if _start
	// returned. It is meaningful only when Err is empty.
	ExitCode uint32
	// Stdout and Stderr are what the guest wrote, at most Limits.OutputBytes
	// bytes together.
	Stdout, Stderr []byte
	// Truncated reports that the guest wrote more than the output limit
	// (and was therefore stopped).
	Truncated bool
	// NonDeterministic reports that the run could observe the host: it had
	// the real clock or real randomness. (A /scratch filesystem alone does
	// not make a run non-deterministic: it is in memory, and its time
	// stamps are the task's clock.)
	// Without it, the Result is a function of the module and the Spec alone,
	// except for Usage and for whether the wall-time limit is reached.
	NonDeterministic bool
	// Usage is what the run consumed.
	Usage Usage
	// Err is empty if the guest ran to completion (returned from _start or
	// called proc_exit). Otherwise it says why it did not: a trap (for
	// example "wasm error: unreachable" with the guest's stack trace) or the
	// limit that stopped it.
	Err string
}

// OK reports whether the guest ran to completion with exit code 0.
func (r *Result) OK() bool { return r.Err == "" && r.ExitCode == 0 }

// check validates the parts of s that wazero would otherwise reject while
// instantiating, so they surface as ErrInvalidSpec rather than as a task
// failure.
func (s *Spec) check() error {
	for i, a := range s.Args {
		if strings.IndexByte(a, 0) >= 0 {
			return fmt.Errorf("%w: Args[%d] contains a NUL byte", ErrInvalidSpec, i)
		}
	}
	for k, v := range s.Env {
		if k == "" || strings.IndexByte(k, '=') >= 0 || strings.IndexByte(k, 0) >= 0 {
			return fmt.Errorf("%w: Env key %q is empty or contains '=' or NUL", ErrInvalidSpec, k)
		}
		if strings.IndexByte(v, 0) >= 0 {
			return fmt.Errorf("%w: Env[%q] contains a NUL byte", ErrInvalidSpec, k)
		}
	}
	return nil
}
