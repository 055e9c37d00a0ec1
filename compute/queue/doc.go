// Package queue is a node's persistent priority queue of jobs, kept in its
// Badger store (store.DB) under store.PrefixCompute. It is the local engine
// of fog compute: the runner takes the jobs it executes from it, and the
// compute service uses it both for tasks it accepts from peers and for
// tasks it places on them. A job's payload and result are opaque bytes.
//
// # States
//
// A job is queued, running, done, failed or cancelled; CanTransition is the
// state machine, and every change is checked against it (ErrBadTransition).
// Enqueue makes a queued job; Next hands out the first one, by priority
// (higher first) and then first in, first out, moving it to running;
// Complete, Fail, ConfirmCancel and Requeue end or return a running job;
// Cancel cancels a queued job at once and asks whoever runs a running job
// to stop (NotifyCancel tells them). A queued job past its Deadline fails
// with ReasonDeadline. Wait waits for a job to finish without polling, and Changed for any change.
//
// # Persistence
//
// Every change is durable before the call that makes it returns, and
// before anyone else can observe it (Wait, Next): with a store opened with
// SyncWrites, Badger has synced its write-ahead log. A change writes a few
// keys in one Badger transaction. Concurrent changes are written together,
// in one transaction and one sync (group commit): while one group syncs,
// the next gathers. So a single caller pays one sync per change (a few
// hundred microseconds on a disk), and many callers together pay much less
// per change.
//
// Keys are /compute/<namespace>.job/<id> (the job record) and
// /compute/<namespace>.live/<order> (the live index). The live index holds
// the queued and running jobs, ordered as Next serves them (priority, then
// Seq), with the part of their state that changes while they are live
// (state, attempts, start time, cancel request); starting, requeueing or
// flagging a job rewrites only that small value. The record, payload
// included, is written when the job is enqueued and when it finishes, then
// with a time to live (Config.ResultTTL) after which Badger drops it. The
// ready heap that Next serves from is rebuilt from the live index when the
// queue opens, without reading the records.
//
// # Crash recovery
//
// Open recovers a queue whose node stopped without Close: each job left
// running is requeued, if its CrashPolicy is CrashRerun and it has attempts
// left (it keeps its place and the attempt counts, so a task that crashes
// the node is not retried forever), failed (ReasonCrashed, or
// ReasonAttempts) otherwise, or cancelled (ReasonStopped) if a cancel had
// been requested. Nothing acknowledged is lost: an Enqueue that returned is
// in the store, and so is every change that returned. Close, by contrast,
// requeues running jobs without counting their attempt.
//
// # Concurrency
//
// A Queue is safe for concurrent use. It owns two goroutines (the group
// committer and the deadline timer), which Close stops after the calls in
// flight have returned; blocked calls (Next, Wait) return ErrClosed. The
// changes of one job are serialized; changes of different jobs proceed in
// parallel and share commits. Jobs returned by the queue are copies whose
// byte slices (Payload, Result) may be shared: treat them as read-only.
package queue
