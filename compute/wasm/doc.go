// Package wasm runs fog tasks: WebAssembly modules (WASI preview 1
// commands) executed locally by wazero, in a sandbox with bounded memory,
// time and output.
//
// # What it owns
//
// An Executor owns one wazero runtime, its compilation cache (machine code
// on disk in Config.CacheDir, so a module is compiled once per node), and a
// bounded in-memory LRU of compiled modules keyed by ModuleID, the SHA-256
// of the module binary. Compile (or Load, which checks the bytes against a
// claimed ID) validates and compiles a module; Run runs one task, a Spec,
// and returns its Result.
//
// # The sandbox
//
// A task sees only WASI preview 1: its args, its environment (in key
// order), its stdin, stdout and stderr. It has no network (no sockets are
// given) and no filesystem, except an empty in-memory filesystem at
// /scratch when Spec.Scratch asks for it (package memfs; dropped after the
// run). No host path is behind /scratch, so nothing a guest does there
// (symlinks, hard links, ".." chains, renames) can reach a host file:
// memfs has no links at all and resolves every path inside its own tree.
// Its quota is Config.ScratchBytes of file data and Config.ScratchFiles
// files and directories; past it a write fails with EIO. Its clocks are
// fake and deterministic and its random bytes a fixed stream keyed by the
// module ID, unless Spec.Clock or Spec.Random ask for the host's; a Result
// that may depend on the host (real clock or real randomness) is marked
// NonDeterministic. Without those, running the same Spec twice, on any
// node, gives the same Result, except for Usage and for whether the
// wall-time limit is reached; /scratch is deterministic too (inode
// numbers, listing order, and time stamps from the task's clock).
//
// A module is accepted only if it is a WASI command: it exports _start and
// imports nothing but WASI functions with their WASI signatures (no
// imported memories, tables or globals). Anything else is ErrInvalidModule
// at compile time rather than a failure of every run.
//
// # Limits
//
//   - Memory: Limits.MemoryPages (64 KiB pages). A module declaring a larger
//     minimum is refused before it runs (ErrMemoryLimit). Compiled modules
//     are shared by all tasks, and wazero fixes its own memory limit at
//     compile time, so the per-task limit is enforced by a per-run memory
//     allocator (wazero's experimental MemoryAllocator): a memory.grow past
//     the limit fails (the guest sees -1). If the guest then fails (traps or
//     exits non-zero) the run returns ErrMemoryLimit; a guest that copes and
//     exits 0 has simply succeeded. Usage.PeakMemoryBytes is the memory's
//     final size, which is its peak. A memory of up to 1 MiB is a Go slice
//     pooled for the next task; a larger one (every Go program's) is, on
//     Linux, an anonymous mapping that reserves the task's limit of address
//     space up front and costs memory only for the pages the guest touches:
//     it grows in place, without copying, and is unmapped, its memory back
//     to the OS, as soon as the task ends. A task so costs the node about
//     its limit of memory at most, and nothing once it has ended.
//   - Wall time: Limits.WallTime, from instantiation to exit. The runtime is
//     built WithCloseOnContextDone, so compiled code checks for
//     cancellation at every loop iteration, and a runaway loop stops within
//     about a millisecond of its deadline (ErrTimeout). Sleeps of a task
//     with the real clock end with the run too.
//   - Output: Limits.OutputBytes caps stdout and stderr together. Output is
//     cut exactly at the cap (Result.Truncated) and the task is stopped
//     (ErrOutputLimit): a partial output is not a result worth returning, and
//     a task spewing output is burning the node's time. Because the cut is
//     exact, this outcome is deterministic.
//
// A guest that traps (unreachable, out-of-bounds access, ...) has failed,
// but the executor has not: Run returns a nil error and Result.Err says
// why. Result.ExitCode is the guest's proc_exit code.
//
// # Concurrency
//
// An Executor is safe for concurrent use: any number of Runs and Compiles
// may proceed at once (concurrent compilations of the same module are
// shared). A module evicted from the LRU while tasks run it is released
// when the last of them ends; a later Run of it returns ErrUnknownModule
// until it is loaded again. Close stops running tasks (their Runs return
// ErrClosed), waits for them, and releases everything; it starts no
// goroutine of its own, and the only goroutines it causes are wazero's
// per-call cancellation watchers, which end with each Run.
//
// The ctx given to Compile and New is passed to wazero, so wazero's
// experimental context options (for example experimental.
// WithCompilationWorkers to compile a large module on several cores) apply.
//
// # Security notes
//
// Config.CacheDir holds machine code that the executor will run: it must be
// writable only by the node. A task's /scratch is host memory on top of its
// memory limit: at most Config.ScratchBytes of file data (memfs keeps a
// file's backing array within twice its size) for as long as the task runs.
package wasm
