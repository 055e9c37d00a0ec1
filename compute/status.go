package compute

import (
	"cmp"
	"errors"
	"slices"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/fog-compute/fog/compute/placement"
	"github.com/fog-compute/fog/compute/queue"
	"github.com/fog-compute/fog/compute/wire"
	"github.com/fog-compute/fog/p2p"
)

// Sentinel errors callers branch on (returned wrapped: use errors.Is).
var (
	// ErrInvalidSpec: the spec (or a task ID) is malformed or beyond this
	// node's limits; the message names the field.
	ErrInvalidSpec = errors.New("compute: invalid task spec")
	// ErrNotFound: no task has that ID on this node (or its record
	// expired, Config.ResultTTL after it finished).
	ErrNotFound = errors.New("compute: task not found")
	// ErrNotFinished: Result was asked for a task still queued or running.
	ErrNotFinished = errors.New("compute: task not finished")
	// ErrFinished: Cancel was asked for a task that already finished.
	ErrFinished = errors.New("compute: task already finished")
	// ErrModule: the module is not available (not given, not stored, not
	// fetchable) or its bytes do not match Spec.Module (it then also
	// matches wasm.ErrHashMismatch).
	ErrModule = errors.New("compute: module unavailable")
	// ErrCorrupt: a record this node stored (a task, an attempt, an
	// outcome) does not decode; the store was damaged or written by an
	// incompatible version.
	ErrCorrupt = errors.New("compute: corrupt record")
	// ErrClosed: the Service is closed.
	ErrClosed = errors.New("compute: closed")
	// ErrRunning: Run was called while the Service already runs.
	ErrRunning = errors.New("compute: already running")
	// ErrNotRunning: Health was called while Run is not running.
	ErrNotRunning = errors.New("compute: not running")
	// ErrConfig is wrapped by every error Config.Validate returns,
	// and by New for options it cannot use.
	ErrConfig = errors.New("compute: invalid config")
)

// State is where a task is, as its submitter sees it.
type State string

// The states of a task. Done, failed and cancelled are terminal.
const (
	// StateQueued: waiting in the submitter's queue to be placed.
	StateQueued State = "queued"
	// StateRunning: being placed or run (Status.Waiting says when no
	// provider has room for it yet).
	StateRunning State = "running"
	// StateDone: a quorum of providers returned the same result, and the
	// task ran to its end (whatever its exit code).
	StateDone State = "done"
	// StateFailed: the task did not run to completion: a quorum agreed it
	// hit a limit, no quorum was reached, the deadline passed, or its run
	// was lost under CrashFail.
	StateFailed State = "failed"
	// StateCancelled: cancelled by its submitter.
	StateCancelled State = "cancelled"
)

// Terminal reports whether s is done, failed or cancelled.
func (s State) Terminal() bool {
	return s == StateDone || s == StateFailed || s == StateCancelled
}

func stateOf(s queue.State) State {
	switch s {
	case queue.StateQueued:
		return StateQueued
	case queue.StateRunning:
		return StateRunning
	case queue.StateDone:
		return StateDone
	case queue.StateFailed:
		return StateFailed
	case queue.StateCancelled:
		return StateCancelled
	}
	return State(s.String())
}

// AttemptState is where one run of a task (on one provider) is.
type AttemptState string

// The states of an attempt.
const (
	// AttemptSent: the task was offered to the provider (or, for a run on
	// this node, queued locally) and it has not answered yet.
	AttemptSent AttemptState = "sent"
	// AttemptQueued: the provider accepted the task and queued it.
	AttemptQueued AttemptState = "queued"
	// AttemptRunning: the provider reports the task running.
	AttemptRunning AttemptState = "running"
	// AttemptAnswered: the provider returned a (signed) result.
	AttemptAnswered AttemptState = "answered"
	// AttemptFailed: the attempt ended without a result (the provider
	// failed, vanished or broke the protocol); it may be replaced.
	AttemptFailed AttemptState = "failed"
	// AttemptCancelled: the attempt was stopped: its task was cancelled or
	// finished without it.
	AttemptCancelled AttemptState = "cancelled"
)

// Kind classifies a provider's answer (see wire.ResultHash): only answers
// of the same kind can agree.
type Kind = wire.Kind

// The kinds of answer (see wire.Kind).
const (
	KindCompleted = wire.KindCompleted
	KindTimeout   = wire.KindTimeout
	KindMemory    = wire.KindMemory
	KindOutput    = wire.KindOutput
	KindInvalid   = wire.KindInvalid
)

// Status is a task as its submitter sees it: what the RPC's task.status
// and task.list return.
type Status struct {
	// ID names the task on this node.
	ID TaskID `json:"id"`
	// State is where it is.
	State State `json:"state"`
	// Error says why a failed or cancelled task did not complete.
	Error string `json:"error,omitempty"`
	// Waiting says why a running task has no run in progress (typically:
	// no provider has room); empty otherwise.
	Waiting string `json:"waiting,omitempty"`
	// Module is the module's ID in hex.
	Module string `json:"module"`
	// Name is the program's name: its Args[0], which fog task submit sets
	// to the module's file name; empty if the task has no args.
	Name string `json:"name,omitempty"`
	// Replicas, Quorum, Strategy, Priority and Deadline are the task's, as
	// resolved at Submit.
	Replicas int       `json:"replicas"`
	Quorum   int       `json:"quorum"`
	Strategy Strategy  `json:"strategy"`
	Priority int32     `json:"priority"`
	Deadline time.Time `json:"deadline"`
	// Attempts are the runs of the task, one per provider, in order.
	Attempts []Attempt `json:"attempts"`
	// Refusals counts providers that refused the task (busy, limits,
	// price); they are not attempts.
	Refusals int `json:"refusals,omitempty"`
	// Created is when it was submitted, Finished when it ended.
	Created  time.Time `json:"created"`
	Finished time.Time `json:"finished,omitzero"`
}

// Attempt is one run of a task on one provider.
type Attempt struct {
	// N numbers the attempts of a task from 0.
	N int `json:"n"`
	// Provider ran it; Local says it is this node.
	Provider peer.ID `json:"provider"`
	Local    bool    `json:"local,omitempty"`
	// State is where it is, Error why it failed.
	State AttemptState `json:"state"`
	Error string       `json:"error,omitempty"`
	// Kind and ResultHash (hex) describe its answer, once answered.
	Kind       Kind   `json:"kind,omitempty"`
	ResultHash string `json:"result_hash,omitempty"`
	// Started is when it was sent, Ended when it ended.
	Started time.Time `json:"started"`
	Ended   time.Time `json:"ended,omitzero"`
}

// Usage is what the accepted run consumed, as its provider reports it.
type Usage struct {
	WallTime        time.Duration `json:"wall_time"`
	PeakMemoryBytes uint64        `json:"peak_memory_bytes"`
}

// Result is a finished task's outcome: what task.result returns.
type Result struct {
	// ID names the task, State is its terminal state, Error why it did not
	// complete.
	ID    TaskID `json:"id"`
	State State  `json:"state"`
	Error string `json:"error,omitempty"`
	// Kind is the kind of the accepted answer (empty if none).
	Kind Kind `json:"kind,omitempty"`
	// ExitCode, Stdout and Stderr are the accepted answer's.
	ExitCode uint32 `json:"exit_code"`
	Stdout   []byte `json:"stdout"`
	Stderr   []byte `json:"stderr"`
	// GuestError says why the guest did not run to its end (a trap, a
	// limit), as the accepting provider reported it.
	GuestError string `json:"guest_error,omitempty"`
	// Truncated reports output cut at the output limit; NonDeterministic
	// that the run could observe its host (clock, randomness, scratch).
	Truncated        bool `json:"truncated,omitempty"`
	NonDeterministic bool `json:"non_deterministic,omitempty"`
	// Usage is the accepted run's, from the first provider of the quorum.
	Usage Usage `json:"usage"`
	// Agreed reports that a quorum of providers returned this result.
	Agreed bool `json:"agreed"`
	// Replicas and Quorum are the task's.
	Replicas int `json:"replicas"`
	Quorum   int `json:"quorum"`
	// ResultHash is the accepted answer's hash (hex, see wire.ResultHash).
	ResultHash string `json:"result_hash,omitempty"`
	// Providers are the providers whose answers form the quorum.
	Providers []peer.ID `json:"providers"`
	// Answers holds every provider's answer, agreeing or not.
	Answers []Answer `json:"answers,omitempty"`
	// Disagreeing are the providers whose answer differs from the accepted
	// one (outvoted); Service.Providers counts them per provider.
	Disagreeing []peer.ID `json:"disagreeing,omitempty"`
}

// Output is a task's output from given offsets: what task.logs returns.
// While the task runs it is a preview of one of its attempts (a run on
// this node if it has one, else the first provider to stream output):
// what it has written so far, unsigned, then its whole answer once it has
// answered; no quorum has checked it, and the accepted result may
// contradict it. Once the task has finished it is the accepted result's
// output.
type Output struct {
	// ID names the task; State is where it is.
	ID    TaskID `json:"id"`
	State State  `json:"state"`
	// Live reports a preview of a running attempt's output; false once
	// the task has finished (the bytes are then the accepted result's),
	// and while no attempt has output to show.
	Live bool `json:"live"`
	// Attempt is the number of the attempt shown, while Live.
	Attempt int `json:"attempt"`
	// StdoutOffset and StderrOffset are the offsets asked for: where
	// Stdout and Stderr start in the whole output.
	StdoutOffset int    `json:"stdout_offset"`
	Stdout       []byte `json:"stdout"`
	StderrOffset int    `json:"stderr_offset"`
	Stderr       []byte `json:"stderr"`
}

// Answer is one provider's answer to a task.
type Answer struct {
	Provider peer.ID `json:"provider"`
	Local    bool    `json:"local,omitempty"`
	// Agreed reports that the answer is the accepted one.
	Agreed     bool   `json:"agreed"`
	Kind       Kind   `json:"kind"`
	ResultHash string `json:"result_hash"`
	ExitCode   uint32 `json:"exit_code"`
	// GuestError is the provider's reason for a run that did not complete.
	GuestError string `json:"guest_error,omitempty"`
	// Stdout and Stderr are the first KiB of each, and
	// StdoutBytes and StderrBytes their full sizes.
	Stdout      []byte `json:"stdout,omitempty"`
	Stderr      []byte `json:"stderr,omitempty"`
	StdoutBytes int    `json:"stdout_bytes"`
	StderrBytes int    `json:"stderr_bytes"`
}

// answerPreviewBytes bounds the output kept of each answer in
// Result.Answers; the accepted answer's output is in Result.Stdout and
// Result.Stderr in full.
const answerPreviewBytes = 1024

// ListFilter selects tasks for List.
type ListFilter struct {
	// State selects tasks in that state; empty selects every state.
	State State `json:"state,omitempty"`
	// Limit is the most tasks returned; 0 means no limit.
	Limit int `json:"limit,omitempty"`
}

// Stats are a Service's counters since it was created.
type Stats struct {
	// Submitter side: tasks submitted and finished in each state; attempts
	// made, attempts that failed, refusals received, attempts re-attached
	// after a restart or a broken stream.
	Submitted  uint64 `json:"submitted"`
	Done       uint64 `json:"done"`
	Failed     uint64 `json:"failed"`
	Cancelled  uint64 `json:"cancelled"`
	Attempts   uint64 `json:"attempts"`
	Lost       uint64 `json:"attempts_failed"`
	Refusals   uint64 `json:"refusals"`
	Reattached uint64 `json:"reattached"`
	// InFlight is the tasks being placed or run now; Waiting those of them
	// waiting for a provider with room.
	InFlight int `json:"in_flight"`
	Waiting  int `json:"waiting"`
	// Provider side: tasks accepted from peers, refused (by reason) and
	// results sent.
	Accepted uint64            `json:"accepted"`
	Refused  map[string]uint64 `json:"refused,omitempty"`
	Results  uint64            `json:"results"`
	// Queued and Running are the local execution queue's counts (Load).
	Queued  uint32 `json:"queued"`
	Running uint32 `json:"running"`
	// Streams are the provider's task streams: being served, served,
	// refused beyond the stream limits, reset for idleness or age.
	Streams p2p.ServerStats `json:"streams"`
	// FirstMessageTimeouts counts streams reset because their first
	// message had not arrived in full within Config.IdleTimeout.
	FirstMessageTimeouts uint64 `json:"first_message_timeouts"`
}

// ProviderRecord is what this node learnt about one provider from its own
// attempts: input for the RPC, and for reputation later. It is kept in
// memory (Config.MaxProviderRecords of them, least recently used out).
type ProviderRecord struct {
	Peer peer.ID `json:"peer"`
	// Breaker is the provider's circuit breaker state.
	Breaker placement.BreakerState `json:"breaker"`
	// Attempts sent to it; Answers it returned; Failures of its attempts
	// (it vanished, timed out, broke the protocol, lost the task);
	// Refusals it gave.
	Attempts uint64 `json:"attempts"`
	Answers  uint64 `json:"answers"`
	Failures uint64 `json:"failures"`
	Refusals uint64 `json:"refusals"`
	// Agreed counts its answers that matched the accepted result;
	// Disagreed those that were outvoted.
	Agreed    uint64 `json:"agreed"`
	Disagreed uint64 `json:"disagreed"`
	// LastError is why its last attempt failed.
	LastError string `json:"last_error,omitempty"`
	// Updated is when the record last changed.
	Updated time.Time `json:"updated"`
}

func sortRecords(r []ProviderRecord) {
	slices.SortFunc(r, func(a, b ProviderRecord) int { return cmp.Compare(a.Peer, b.Peer) })
}
