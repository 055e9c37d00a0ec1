package compute

import (
	"fmt"
	"log/slog"
	"regexp"
	"runtime"
	"time"

	"github.com/pbnjay/memory"

	"github.com/fog-compute/fog/compute/placement"
	"github.com/fog-compute/fog/compute/wasm"
	"github.com/fog-compute/fog/compute/wire"
	"github.com/fog-compute/fog/gossip"
	"github.com/fog-compute/fog/internal/clock"
)

// Config configures a Service: the provider it is if it offers compute,
// and the submitter it always is.
type Config struct {
	// Offer makes this node a provider: it serves the task protocol, runs
	// tasks of peers (and its own) in its local queue, and counts itself
	// among the candidates of its own tasks. Without it the node only
	// submits. Default true, as a fog node offers compute unless told not
	// to.
	Offer bool
	// Scratch makes this provider run tasks that ask for a /scratch
	// filesystem (Spec.Scratch: in memory, within the executor's quota,
	// wasm.Config.ScratchBytes) and say so in its advert
	// (gossip.RuntimeWasmScratch, see Runtimes). Without it such a task
	// from a peer is refused (RefuseLimits), and its own are placed on
	// other providers. Default true: /scratch holds no host path, and its
	// quota bounds the memory it costs.
	Scratch bool
	// Cores is the number of tasks run at once, the cores advertised.
	// Default runtime.NumCPU().
	Cores int
	// Price is this node's price per CPU-second in micro-credits, the one
	// it advertises: tasks whose MaxPrice is lower are refused. Default
	// 1000 (0.001 credit), as the node's default config.
	Price uint64
	// RequirePayment makes this node refuse (RefusePrice) tasks from
	// peers that name no MaxPrice or, with Options.Payments, whose
	// submitter has not escrowed MaxPrice for them. Default false.
	RequirePayment bool
	// MaxQueuedPerCore bounds the tasks a provider holds: it accepts a
	// task while its queued and running tasks number less than
	// Cores × (1 + MaxQueuedPerCore), and refuses it as busy otherwise.
	// The submitter uses the same bound to avoid offering tasks to
	// providers its own attempts already fill. Default 4: a queue deep
	// enough to keep the cores busy between two tasks' network round
	// trips, shallow enough that a task does not wait behind many others
	// when another provider has room.
	MaxQueuedPerCore int
	// Memory is the memory, in bytes, this node gives the tasks it runs:
	// the memory limits of the tasks running at once add up to at most
	// this (a task waits to start until its limit fits), and a task whose
	// limit alone exceeds it is refused (RefuseLimits, or as this node's
	// own candidate). A task may use all of its limit, and the executor
	// holds it to about that, so this bounds the memory tasks take.
	// Default half of the machine's memory, as a node whose
	// compute.memory_mib is 0; it must hold a task of DefaultLimits.
	Memory uint64
	// Prefetch is the runner's MaxPrefetch: jobs claimed ahead of the
	// free cores so that queue syncs overlap execution. Default 2×Cores:
	// enough for tasks longer than a sync, and a claimed job counts as
	// running in the node's advert.
	Prefetch int

	// DefaultLimits fills the zero fields of a submitted task's limits.
	// Default 64 MiB of memory, 10 s, 256 KiB of output: a typical Go or
	// Rust command-line program.
	DefaultLimits Limits
	// MaxLimits is the most a task may ask for, submitted here or accepted
	// from a peer. It must be within the executor's own maxima, and the
	// output limit within what a store value holds (New checks). Default
	// 1 GiB, 10 minutes, 512 KiB.
	MaxLimits Limits
	// MaxStdinBytes bounds a task's stdin. Default 256 KiB: input is
	// carried in the task message and stored with the task; bulk data
	// belongs in a module or a later blob.
	MaxStdinBytes int
	// MaxArgsBytes bounds a task's args and environment together. Default
	// 64 KiB, an ample command line.
	MaxArgsBytes int

	// ExecNamespace and SubmitNamespace are the queue namespaces (see
	// queue.Config.Namespace) of the local execution queue (tasks this
	// node runs) and of the submission queue (tasks it submitted). They
	// must differ. Defaults "exec" and "submit".
	ExecNamespace, SubmitNamespace string
	// ResultTTL is how long finished tasks are kept, both the results a
	// provider keeps for its submitters to fetch again and the outcomes
	// a submitter keeps for its user. Default 24 h.
	ResultTTL time.Duration
	// MaxInFlight bounds the submitted tasks being placed or run at once;
	// the others wait in the submission queue, in priority order. Default
	// 1024: enough to keep a network of providers busy with short tasks.
	MaxInFlight int
	// MaxWaiting bounds the tasks in flight that wait for a provider with
	// room; while that many wait, the placement loop leaves further tasks
	// in the submission queue (where they keep their priority order and
	// fail at their deadline). Default 64: a network without room is
	// noticed by a few tasks, not by every task in the queue.
	MaxWaiting int
	// MaxRetries is how many attempts a task may make beyond its replicas,
	// to replace failed runs and to settle disagreements. Default 4.
	MaxRetries int
	// DefaultDeadline is the deadline of a task submitted without one.
	// Default 1 h: a task that found no room in an hour is better reported
	// failed than kept forever.
	DefaultDeadline time.Duration
	// DefaultStrategy places tasks submitted without a strategy. Default
	// LeastLoaded.
	DefaultStrategy Strategy

	// StatusInterval is how often a provider tells a submitter that a task
	// it holds is still queued or running. Default 5 s.
	StatusInterval time.Duration
	// OutputInterval is how often a provider sends a running task's new
	// output (Output, a preview for task.logs) to a submitter whose stream
	// speaks /fog/task/1.1.0; at most 4 messages of 16 KiB per stream each
	// time. Default 1 s: output shows up about as fast as a person reads it,
	// for one small message a second per task that writes any.
	OutputInterval time.Duration
	// IdleTimeout is how long a submitter waits for a message from a
	// provider that accepted a task before it gives the attempt up (and
	// first tries to re-attach). A provider applies it to its streams:
	// one whose first message has not arrived in full within it, or that
	// moves no byte either way for as long, is reset. Default 20 s: four
	// status intervals.
	IdleTimeout time.Duration
	// AcceptTimeout bounds the wait for a provider's answer to a submit,
	// which includes its download of the module. Default 2 minutes.
	AcceptTimeout time.Duration
	// FetchTimeout bounds a provider's download of a task's module from
	// its submitter (or the DHT's providers). Default 90 s, under
	// AcceptTimeout.
	FetchTimeout time.Duration
	// AttemptSlack is how long past its wall-time limit a task may run at a
	// provider before the submitter gives the attempt up. Default 30 s.
	AttemptSlack time.Duration
	// StragglerGrace is how long a decided task waits for the answers of
	// its remaining attempts, so that disagreeing providers are noted,
	// before it cancels them. Default 2 s.
	StragglerGrace time.Duration
	// CancelTimeout bounds the wait for a provider's confirmation of a
	// cancel. Default 5 s.
	CancelTimeout time.Duration
	// ProviderWait is how long a task waits for its directory to list
	// enough distinct providers for its replicas before it fails, saying
	// how many exist. Default 10 s: adverts reach a node that just joined
	// within a few seconds, and a task that can never be placed should
	// not wait out its deadline (an hour by default).
	ProviderWait time.Duration
	// RetryAfter is the retry hint a busy provider gives, and the wait of
	// a submitter refused without a hint. Default 1 s.
	RetryAfter time.Duration

	// MaxStreams and MaxStreamsPerPeer bound the task streams a provider
	// serves, in all and per submitter; beyond them it refuses as busy.
	// Each holds a goroutine or two and a 4 KiB buffer while its task is
	// queued or running. Defaults 4096 and 512: a submitter keeps a stream
	// per task it has placed on the provider, at most the provider's
	// queue bound.
	MaxStreams, MaxStreamsPerPeer int
	// MaxPendingPerPeer bounds the task streams of one peer that have not
	// yet carried their first message; beyond it a new stream is refused
	// as busy without being read. An honest submitter writes its first
	// message as it opens a stream, so it has at most a burst of them
	// pending; a peer that opens streams and stays silent holds no more
	// than this many, each for at most IdleTimeout. Default 8: it takes
	// MaxStreams/8 = 512 hostile connections, twice the resource manager's
	// inbound limit, to fill MaxStreams with silent streams.
	MaxPendingPerPeer int
	// StreamLifetime bounds one task stream at a provider, from open to
	// close: it is reset then, and a submitter still waiting for the
	// task's result attaches again on a new stream. Default 1 h: a task
	// that waited behind the queue and ran for its longest wall time is
	// well within it.
	StreamLifetime time.Duration
	// Breaker tunes the per-provider circuit breakers.
	Breaker placement.BreakerConfig
	// MaxProviderRecords bounds the providers a submitter keeps breakers
	// and records for. Default 10,000.
	MaxProviderRecords int

	// Logger receives the service's messages; nil discards them.
	Logger *slog.Logger
	// Clock times the task loop (deadlines, straggler grace, provider
	// waits), the service's timestamps and the queues'. Default
	// clock.Real(); tests run the service in a testing/synctest bubble
	// instead of replacing it.
	Clock clock.Clock
}

// DefaultConfig returns the configuration of a node. Each default is
// explained on its field.
func DefaultConfig() Config {
	n := runtime.NumCPU()
	return Config{
		Offer:              true,
		Scratch:            true,
		Cores:              n,
		Price:              1000,
		MaxQueuedPerCore:   4,
		Memory:             memory.TotalMemory() / 2,
		Prefetch:           2 * n,
		DefaultLimits:      Limits{MemoryPages: 1024, WallTime: 10 * time.Second, OutputBytes: 256 << 10},
		MaxLimits:          Limits{MemoryPages: 16384, WallTime: 10 * time.Minute, OutputBytes: 512 << 10},
		MaxStdinBytes:      256 << 10,
		MaxArgsBytes:       64 << 10,
		ExecNamespace:      "exec",
		SubmitNamespace:    "submit",
		ResultTTL:          24 * time.Hour,
		MaxInFlight:        1024,
		MaxWaiting:         64,
		MaxRetries:         4,
		DefaultDeadline:    time.Hour,
		DefaultStrategy:    placement.LeastLoaded,
		StatusInterval:     5 * time.Second,
		OutputInterval:     time.Second,
		IdleTimeout:        20 * time.Second,
		AcceptTimeout:      2 * time.Minute,
		FetchTimeout:       90 * time.Second,
		AttemptSlack:       30 * time.Second,
		StragglerGrace:     2 * time.Second,
		CancelTimeout:      5 * time.Second,
		ProviderWait:       10 * time.Second,
		RetryAfter:         time.Second,
		MaxStreams:         4096,
		MaxStreamsPerPeer:  512,
		MaxPendingPerPeer:  8,
		StreamLifetime:     time.Hour,
		Breaker:            placement.BreakerConfig{Threshold: 3, Cooldown: 30 * time.Second},
		MaxProviderRecords: 10000,
		Clock:              clock.Real(),
	}
}

// TestConfig returns a configuration for tests and the simulator: two
// cores, short timers, small limits that fit an in-memory store's values
// (store.InMemoryConfig), and the wasm package's test limits.
func TestConfig() Config {
	c := DefaultConfig()
	c.Cores = 2
	c.Prefetch = 4
	c.Memory = 1 << 30 // four tasks at MaxLimits, whatever the machine
	c.DefaultLimits = Limits{MemoryPages: 512, WallTime: 5 * time.Second, OutputBytes: 32 << 10}
	c.MaxLimits = Limits{MemoryPages: 4096, WallTime: 30 * time.Second, OutputBytes: 64 << 10}
	c.MaxStdinBytes = 32 << 10
	c.MaxArgsBytes = 16 << 10
	c.ResultTTL = time.Hour
	c.DefaultDeadline = time.Minute
	c.StatusInterval = 200 * time.Millisecond
	c.OutputInterval = 100 * time.Millisecond
	c.IdleTimeout = 2 * time.Second
	c.AcceptTimeout = 10 * time.Second
	c.FetchTimeout = 5 * time.Second
	c.AttemptSlack = 2 * time.Second
	c.StragglerGrace = time.Second
	c.CancelTimeout = 2 * time.Second
	c.RetryAfter = 200 * time.Millisecond
	c.Breaker = placement.BreakerConfig{Threshold: 3, Cooldown: time.Second}
	c.MaxProviderRecords = 1000
	c.StreamLifetime = 2 * time.Minute
	return c
}

var namespaceRE = regexp.MustCompile(`^[a-z0-9-]{1,32}$`)

// Validate reports the first field that has a bad value, naming it.
func (c Config) Validate() error {
	bad := func(f string, a ...any) error {
		return fmt.Errorf("%w: %s", ErrConfig, fmt.Sprintf(f, a...))
	}
	over := c.DefaultLimits.above(c.MaxLimits)
	switch {
	case c.Cores < 1:
		return bad("Cores: %d, need at least 1", c.Cores)
	case c.MaxQueuedPerCore < 0:
		return bad("MaxQueuedPerCore: %d is negative", c.MaxQueuedPerCore)
	case c.Prefetch < 0:
		return bad("Prefetch: %d is negative", c.Prefetch)
	case c.MaxLimits.MemoryPages == 0 || c.MaxLimits.WallTime <= 0 || c.MaxLimits.OutputBytes <= 0:
		return bad("MaxLimits: every field must be positive, got %+v", c.MaxLimits)
	case c.DefaultLimits.MemoryPages == 0 || c.DefaultLimits.WallTime <= 0 || c.DefaultLimits.OutputBytes <= 0:
		return bad("DefaultLimits: every field must be positive, got %+v", c.DefaultLimits)
	case over != nil:
		return bad("DefaultLimits: %s %s (MaxLimits)", over.Field, over.Reason)
	case !c.fitsMemory(c.DefaultLimits):
		return bad("Memory: %d bytes is less than DefaultLimits' %d MiB of memory", c.Memory, c.DefaultLimits.MemoryPages/16)
	case c.MaxStdinBytes < 0 || c.MaxStdinBytes > maxStdinLimit:
		return bad("MaxStdinBytes: %d is outside [0, %d]", c.MaxStdinBytes, maxStdinLimit)
	case c.MaxArgsBytes < 0 || c.MaxArgsBytes > maxArgsLimit:
		return bad("MaxArgsBytes: %d is outside [0, %d]", c.MaxArgsBytes, maxArgsLimit)
	case !namespaceRE.MatchString(c.ExecNamespace):
		return bad("ExecNamespace: %q, want 1 to 32 of a-z, 0-9 and '-'", c.ExecNamespace)
	case !namespaceRE.MatchString(c.SubmitNamespace):
		return bad("SubmitNamespace: %q, want 1 to 32 of a-z, 0-9 and '-'", c.SubmitNamespace)
	case c.ExecNamespace == c.SubmitNamespace:
		return bad("SubmitNamespace: %q is also ExecNamespace", c.SubmitNamespace)
	case c.ResultTTL <= 0:
		return bad("ResultTTL: %v, need a positive duration", c.ResultTTL)
	case c.MaxInFlight < 1:
		return bad("MaxInFlight: %d, need at least 1", c.MaxInFlight)
	case c.MaxWaiting < 1:
		return bad("MaxWaiting: %d, need at least 1", c.MaxWaiting)
	case c.MaxRetries < 0:
		return bad("MaxRetries: %d is negative", c.MaxRetries)
	case c.DefaultDeadline <= 0:
		return bad("DefaultDeadline: %v, need a positive duration", c.DefaultDeadline)
	case c.StatusInterval <= 0:
		return bad("StatusInterval: %v, need a positive duration", c.StatusInterval)
	case c.OutputInterval <= 0:
		return bad("OutputInterval: %v, need a positive duration", c.OutputInterval)
	case c.IdleTimeout <= c.StatusInterval:
		return bad("IdleTimeout: %v must exceed StatusInterval (%v)", c.IdleTimeout, c.StatusInterval)
	case c.FetchTimeout <= 0:
		return bad("FetchTimeout: %v, need a positive duration", c.FetchTimeout)
	case c.AcceptTimeout <= c.FetchTimeout:
		return bad("AcceptTimeout: %v must exceed FetchTimeout (%v)", c.AcceptTimeout, c.FetchTimeout)
	case c.AttemptSlack <= 0:
		return bad("AttemptSlack: %v, need a positive duration", c.AttemptSlack)
	case c.StragglerGrace < 0:
		return bad("StragglerGrace: %v is negative", c.StragglerGrace)
	case c.CancelTimeout <= 0:
		return bad("CancelTimeout: %v, need a positive duration", c.CancelTimeout)
	case c.ProviderWait <= 0:
		return bad("ProviderWait: %v, need a positive duration", c.ProviderWait)
	case c.RetryAfter <= 0:
		return bad("RetryAfter: %v, need a positive duration", c.RetryAfter)
	case c.MaxStreams < 1:
		return bad("MaxStreams: %d, need at least 1", c.MaxStreams)
	case c.MaxStreamsPerPeer < 1 || c.MaxStreamsPerPeer > c.MaxStreams:
		return bad("MaxStreamsPerPeer: %d is outside [1, MaxStreams=%d]", c.MaxStreamsPerPeer, c.MaxStreams)
	case c.MaxPendingPerPeer < 1 || c.MaxPendingPerPeer > c.MaxStreamsPerPeer:
		return bad("MaxPendingPerPeer: %d is outside [1, MaxStreamsPerPeer=%d]", c.MaxPendingPerPeer, c.MaxStreamsPerPeer)
	case c.StreamLifetime < c.AcceptTimeout+c.MaxLimits.WallTime+c.AttemptSlack:
		return bad("StreamLifetime: %v is below AcceptTimeout + MaxLimits.WallTime + AttemptSlack (%v)",
			c.StreamLifetime, c.AcceptTimeout+c.MaxLimits.WallTime+c.AttemptSlack)
	case c.MaxProviderRecords < 1:
		return bad("MaxProviderRecords: %d, need at least 1", c.MaxProviderRecords)
	case c.Clock == nil:
		return bad("Clock: is nil")
	}
	if !c.DefaultStrategy.Known() {
		return bad("DefaultStrategy: %q is unknown (want one of %s)", c.DefaultStrategy, strategyNames())
	}
	switch {
	case c.Breaker.Threshold < 1:
		return bad("Breaker.Threshold: %d, need at least 1", c.Breaker.Threshold)
	case c.Breaker.Cooldown <= 0:
		return bad("Breaker.Cooldown: %v, need a positive duration", c.Breaker.Cooldown)
	}
	return nil
}

// Runtimes returns the runtimes a provider with this configuration
// advertises (gossip.Capacity.Runtimes): RuntimeWasm, and
// RuntimeWasmScratch if it runs scratch tasks.
func (c *Config) Runtimes() []string {
	if c.Scratch {
		return []string{gossip.RuntimeWasm, gossip.RuntimeWasmScratch}
	}
	return []string{gossip.RuntimeWasm}
}

// fitsMemory reports whether a task with limits l can ever run here: its
// memory limit alone is within Memory.
func (c *Config) fitsMemory(l Limits) bool { return uint64(l.MemoryPages)*wasm.PageSize <= c.Memory }

// capacity is the most tasks this node holds as a provider.
func (c *Config) capacity() int { return c.Cores * (1 + c.MaxQueuedPerCore) }

// maxSubmitFrame bounds a Submit's body as this node reads it.
func (c *Config) maxSubmitFrame() int { return c.MaxStdinBytes + c.MaxArgsBytes + 4<<10 }

// resultFrame bounds a Result's body for a task with output limit out.
func resultFrame(out int64) int { return int(out) + wire.MaxReasonLen + wire.MaxSignatureLen + 64<<10 }

// recordOverhead is room left in a store value, beyond stdin, args and
// output, for the rest of a task's records (spec, attempts, answers).
const recordOverhead = 64 << 10
