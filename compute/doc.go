// Package compute is fog's compute service: a person submits a task (a
// WebAssembly module with its input and limits), the submitting node
// chooses providers with room from its capacity directory, they run it in
// their sandbox and return signed results, and the submitter accepts the
// result a quorum of them agrees on. There is no coordinator: every node
// decides from its own directory, queues and verifications.
//
// # What it owns
//
// A Service owns, in the node's store under /compute:
//
//   - the submission queue (namespace Config.SubmitNamespace): one job per
//     task submitted here, holding the task (a binary record of the
//     resolved Spec) and, once it finished, its outcome (Status and Result
//     data, with the accepted output);
//   - the attempt records (/compute/<SubmitNamespace>.attempt.<task>/<n>):
//     one per run of a task on a provider, written before the task is
//     sent and when the attempt ends, dropped when the task finishes;
//   - with Config.Offer, the execution queue (namespace
//     Config.ExecNamespace) and the runner that executes it: tasks of
//     peers (job ID "<submitter peer ID>.<task ID>") and this node's own
//     runs (under its own peer ID), at most Config.Cores at once and with
//     memory limits adding up to at most Config.Memory.
//
// It also owns the task protocol's handler on the host, the per-provider
// circuit breakers and records (in memory), and the placement state (the
// round-robin cursor and power-of-two's random source). The decisions of
// placement (strategies, breakers, the quorum tally) are the pure state
// machines of package compute/placement. It uses, and does
// not close, the host, the store, the capacity directory, the blob service
// (modules are stored there at Submit, fetched from the submitter by
// providers, verified against their SHA-256) and the executor.
//
// # A task's life
//
// Submit checks the Spec, fills its defaults (limits from
// Config.DefaultLimits, so every replica runs under the same ones; a
// majority quorum; the deadline), stores the module and queues the task,
// durably, before it returns. While Run runs, the placement loop takes
// tasks from the submission queue (priority, then submission order; at
// most Config.MaxInFlight at once) and runs each on a goroutine, driven by
// the tally, a pure quorum state machine:
//
//  1. It chooses providers one at a time with the task's Strategy (placement.Pick)
//     among the candidates of the directory that offer the wasm runtime
//     (for a task with Scratch, the "wasm/scratch" runtime of providers
//     with Config.Scratch) and enough memory, ask at most MaxPrice, whose
//     circuit breaker lets an attempt through, that have not refused the
//     task lately, that this node's own attempts do not already fill, and
//     that were not used by the task before. This node is a candidate too
//     when it offers compute (and Scratch, for a scratch task), so a
//     3-node network runs 3 replicas, and runs its attempts in its own
//     execution queue, not over the network.
//  2. Each attempt is stored, then sent (Submit); the provider accepts or
//     refuses it. A refusal is not an attempt: a busy provider is avoided
//     until its retry-after hint, one refusing for a lasting reason is
//     not asked again for this task. When no candidate is left the task
//     waits, without polling, for the directory to change, an attempt or
//     job to end, or a retry-after or breaker cooldown to pass, until its
//     deadline. The end of an attempt or job wakes one waiting task, which
//     passes the wake on if it could use the room fully or could not use
//     it for reasons of its own, so a completion costs a placement try or
//     two, not one per waiting task; while Config.MaxWaiting tasks wait,
//     further tasks stay in the submission queue, in priority order.
//  3. A provider's result is verified (signature, task, submitter,
//     provider) and hashed (wire.ResultHash). When Quorum answers share a hash
//     the outcome is decided; the remaining attempts get
//     Config.StragglerGrace to answer (so that disagreeing providers are
//     noted), then are cancelled. An attempt that fails (the provider
//     vanished, went silent, broke the protocol, failed the task for its
//     own reasons) is first re-attached once, then replaced on another
//     provider, within Replicas + Config.MaxRetries attempts; answers that
//     cannot reach a quorum with those in flight call for more attempts.
//     Under CrashFail a run that may have happened and was lost is never
//     replaced.
//  4. The outcome is stored in the submission queue (done when the quorum
//     ran to completion, whatever the exit code; failed when it agreed on
//     a limit, when no quorum could be reached, at the deadline, or when a
//     run was lost under CrashFail; cancelled on request), and kept for
//     Config.ResultTTL. Wait returns then.
//
// Cancel cancels a queued task at once, and a running one by cancelling
// its attempts at their providers. When Run stops (or the node crashes),
// tasks being placed go back to the submission queue and their attempts
// keep running at their providers; the next Run takes them up again and
// re-attaches every attempt stored as in flight (asking its provider for
// it by task ID), so a task is never lost and never run twice needlessly.
//
// # Invariants
//
//   - Every submitter-side change of a task (queued, each attempt sent and
//     ended, the outcome) is durable before it is acted on or reported;
//     every provider-side change is durable before it is acknowledged
//     (Accept follows the enqueue).
//   - Only results signed by the provider that ran them, for this task of
//     this submitter, are counted; the accepted result is one that a
//     quorum of distinct providers returned.
//   - A provider holds at most Config.Cores × (1 + MaxQueuedPerCore) tasks
//     and refuses more; it never runs a module whose bytes do not hash to
//     its ID.
//   - Every decoder of network input (compute/wire's, and the submitter's
//     records) bounds sizes before allocating, rejects rather than
//     panics, and accepts only canonical encodings.
//
// # The task protocol, /fog/task/1.1.0 (and 1.0.0)
//
// Package compute/wire holds the protocol's messages and encodings (see
// its documentation); this is what each side applies. A provider reads a
// Submit of at most MaxStdinBytes + MaxArgsBytes + 4 KiB and refuses a
// larger one unread; a submitter reads a Result of at most the task's
// output limit + 66 KiB. A provider sends Status every
// Config.StatusInterval and Output every Config.OutputInterval while the
// task runs and has written more (at most four at a time, on 1.1.0
// streams); a submitter cuts off a provider whose chunks leave a gap or
// exceed the task's output limit.
//
// A provider fetches the module (blob protocol, the submitter as hint)
// before it accepts, and refuses with RefuseHash if the bytes do not hash
// to the module ID. Submit of a task the provider already holds for that
// submitter, or Attach, continues watching it (at once if finished;
// results are kept Config.ResultTTL). The provider closes the stream
// after the Result; a stream that breaks does not stop the task. A
// submitter that hears nothing for IdleTimeout after Accept, or nothing
// within AcceptTimeout after Submit, gives the stream up; one whose task
// runs AttemptSlack past its wall-time limit, or whose Cancel is not
// confirmed within CancelTimeout, too. The submitter's side of a
// conversation is a pure state machine (convState: inputs in, actions
// out) driven by (*task).converse, which does the stream's I/O and runs
// the timers on Config.Clock.
//
// A provider serves the protocol within p2p.Limits: MaxStreams and
// MaxStreamsPerPeer streams (more are refused as busy), each reset after
// IdleTimeout without a byte read or written and after StreamLifetime in
// all. A stream's first message must arrive whole within IdleTimeout, and
// at most MaxPendingPerPeer streams of a peer may be waiting for theirs:
// silent streams and frames that never end cost a hostile peer a few
// slots for a few seconds, never the node's compute.
//
// # Concurrency
//
// A Service is safe for concurrent use. It is two halves with a lock
// each, sharing the node's parts and the execution queue: the submitter
// (tasks submitted here, their attempts, the provider records and
// breakers, the tasks waiting for room) and the provider (the task
// streams of peers, the tasks being accepted). Neither holds its lock
// while taking the other's; the provider tells the submitter when a job
// ends (room may have appeared), and the submitter reads the provider's
// reservations as this node's own load.
//
// The Service owns its goroutines: the runner's and the placement loop's
// (under Run, which stops them and waits before returning), one per task
// in flight and one or two per attempt (owned by the task's goroutine,
// which waits for them), and the stream handlers with their helpers
// (waited for by Close). Close is idempotent.
package compute
