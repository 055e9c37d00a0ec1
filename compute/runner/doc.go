// Package runner is a node's local worker pool: it takes jobs from a
// queue.Queue, runs them as WebAssembly tasks in a wasm executor, at most
// Config.Concurrency at once (the cores the node offers) and with memory
// limits that add up to at most Config.Memory, and records their outcomes
// in the queue. A Runner is a node service (Name "runner", Run, Health).
//
// # Admission
//
// A claimed task first waits for a free slot, then until its memory limit
// (Config.DefaultMemoryPages if it gives none) fits beside the limits of
// the tasks executing; tasks holding a slot are admitted in the order they
// asked, so a large task is not starved by smaller ones behind it. A task
// whose limit alone exceeds Config.Memory fails at once with
// ErrMemoryBudget. The executor holds a task to about its limit of memory
// and returns it when the task ends, so the memory tasks take stays near
// the sum of the limits admitted.
//
// # Payloads and results
//
// A job's payload is an encoded Task (EncodeTask, DecodeTask): a wasm.Spec
// and, optionally, the module's code, for a node that does not have it yet
// (Config.Modules fetches missing modules otherwise). Its result is an
// encoded wasm.Result (EncodeResult, DecodeResult): exit code, stdout,
// stderr, usage, the guest's error, and whether output was truncated and
// the run non-deterministic. Both encodings are versioned, canonical
// (every value has exactly one encoding, and the decoders accept only it)
// and decoded without trusting the input, as they will come from peers.
//
// # Outcomes
//
// The rule that maps a run to a job's state:
//
//   - A task that ran to its end is done, whatever its exit code and even if
//     it trapped: the task ran, and whether its outcome is a success is the
//     submitter's business (Result.ExitCode and Result.Err say it).
//   - A task stopped by a limit (wall time, memory, output), or that could
//     not run (bad payload, unknown or invalid module, invalid spec), failed:
//     Job.Error names the cause (it contains the wasm sentinel's message,
//     such as wasm.ErrTimeout's), and Job.Result holds what it produced.
//   - A task whose job was cancelled is stopped and cancelled
//     (queue.ConfirmCancel), with what it produced.
//   - A task stopped because the runner stops is requeued, without counting
//     the attempt (queue.Requeue), and so is every job the runner had
//     claimed but not started: a clean shutdown loses nothing. After a crash
//     the queue's recovery applies each job's crash policy.
//
// A result too large for the store fails the job with the reason and the
// result without its output.
//
// # Throughput
//
// Claiming a job and recording its outcome each wait for a synced commit.
// Workers claim jobs ahead of the free execution slots, and completers
// record outcomes while the workers claim their next jobs, so that the
// syncs, shared between all of them by the queue's group commit, overlap
// execution. How many jobs are claimed ahead adapts to the ratio of the
// sync time to the task time (Config.MaxPrefetch). See
// BenchmarkLocalThroughput.
//
// # Concurrency
//
// A Runner's methods are safe for concurrent use; Run runs at most once at
// a time and owns its workers, which it stops (and waits for) before
// returning.
package runner
