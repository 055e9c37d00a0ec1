package compute

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/fog-compute/fog/compute/placement"
	"github.com/fog-compute/fog/compute/queue"
	"github.com/fog-compute/fog/compute/wasm"
	"github.com/fog-compute/fog/compute/wire"
)

// Bounds on a Spec that do not depend on a node's configuration.
const (
	// maxReplicas is the most providers one task may be run on.
	maxReplicas = 16
	// maxTaskIDLen bounds a task ID, on the wire and in the API.
	maxTaskIDLen = wire.MaxTaskIDLen
	// maxArgsLimit is the largest value Config.MaxArgsBytes may take: the
	// args and environment of a task together, in bytes.
	maxArgsLimit = 1 << 20
	// maxStdinLimit is the largest value Config.MaxStdinBytes may take.
	maxStdinLimit = 16 << 20
)

// TaskID names a task on the node that submitted it: 26 characters of
// lowercase base32 that sort by submission time. Providers know the task
// by its submitter and this ID.
type TaskID string

// validTaskID reports whether s may name a task (wire.ValidTaskID).
// Generated IDs are a subset; the wider set keeps the protocol open to
// other submitters.
func validTaskID(s string) bool { return wire.ValidTaskID(s) }

// ParseTaskID checks that s can name a task.
func ParseTaskID(s string) (TaskID, error) {
	if !validTaskID(s) {
		return "", fmt.Errorf("%w: %q is not a task ID (1 to %d of a-z, 0-9 and '-')", ErrInvalidSpec, s, maxTaskIDLen)
	}
	return TaskID(s), nil
}

// Strategy names how the submitting node chooses providers among the
// candidates of its capacity directory: placement.RoundRobin,
// LeastLoaded, LowestPrice, LowestLatency or PowerOfTwo (see
// placement.Pick).
type Strategy = placement.Strategy

// strategyNames lists the strategies for error messages.
func strategyNames() string {
	var names []string
	for _, k := range placement.Strategies() {
		names = append(names, string(k))
	}
	return strings.Join(names, ", ")
}

// CrashPolicy says what happens to a task whose run was lost: its provider
// crashed, or stopped answering, after accepting it, so it may or may not
// have run.
type CrashPolicy string

// The crash policies.
const (
	// CrashRerun runs the task again, on another provider (or, for a run on
	// the submitting node itself, after its restart): for tasks that may
	// safely run more than once. The default.
	CrashRerun CrashPolicy = "rerun"
	// CrashFail never replaces a lost run: the task fails unless the runs
	// still alive can reach its quorum. For tasks that must not run twice.
	CrashFail CrashPolicy = "fail"
)

func (p CrashPolicy) queue() queue.CrashPolicy { return crashPolicy(p == CrashFail) }

// crashPolicy is the queue's policy for a task whose crash policy is
// CrashFail (fail) or not.
func crashPolicy(fail bool) queue.CrashPolicy {
	if fail {
		return queue.CrashFail
	}
	return queue.CrashRerun
}

// Limits bound one run of a task. At Submit, a zero field takes the
// submitting node's Config.DefaultLimits, so every replica of a task runs
// under the same limits whatever its provider's defaults.
type Limits struct {
	// MemoryPages is the most linear memory, in 64 KiB pages.
	MemoryPages uint32 `json:"memory_pages,omitempty"`
	// WallTime is how long one run may take, from start to exit.
	WallTime time.Duration `json:"wall_time,omitempty"`
	// OutputBytes caps stdout and stderr together.
	OutputBytes int64 `json:"output_bytes,omitempty"`
}

func (l Limits) wasm() wasm.Limits {
	return wasm.Limits{MemoryPages: l.MemoryPages, WallTime: l.WallTime, OutputBytes: l.OutputBytes}
}

// limitsOf is the inverse of Limits.wasm.
func limitsOf(w wasm.Limits) Limits {
	return Limits{MemoryPages: w.MemoryPages, WallTime: w.WallTime, OutputBytes: w.OutputBytes}
}

// above reports the first field of l above max, or nil.
func (l Limits) above(max Limits) *SpecError {
	switch {
	case l.MemoryPages > max.MemoryPages:
		return &SpecError{"limits.memory_pages", fmt.Sprintf("%d pages (%d MiB) exceeds %d pages (%d MiB)",
			l.MemoryPages, l.MemoryPages/16, max.MemoryPages, max.MemoryPages/16)}
	case l.WallTime > max.WallTime:
		return &SpecError{"limits.wall_time", fmt.Sprintf("%v exceeds %v", l.WallTime, max.WallTime)}
	case l.OutputBytes > max.OutputBytes:
		return &SpecError{"limits.output_bytes", fmt.Sprintf("%d exceeds %d", l.OutputBytes, max.OutputBytes)}
	}
	return nil
}

// SpecError is a spec's first wrong field and what is wrong with it. It
// wraps ErrInvalidSpec. Field is the field's name in the spec's JSON form
// (for example "limits.wall_time" or "args[2]"), so that an API that takes
// the spec's fields under other names can say which of its own is wrong.
type SpecError struct {
	Field  string
	Reason string
}

// Error returns "compute: invalid task spec: <field>: <reason>".
func (e *SpecError) Error() string {
	return ErrInvalidSpec.Error() + ": " + e.Field + ": " + e.Reason
}

// Unwrap returns ErrInvalidSpec.
func (e *SpecError) Unwrap() error { return ErrInvalidSpec }

// Spec is a task as a person submits it: a WebAssembly module (WASI
// preview 1 command) named by its SHA-256, its input and limits, and how
// the network is to run it.
type Spec struct {
	// Module is the SHA-256 of the module binary. Submit fills it from the
	// module's bytes when they are given and it is zero.
	Module wasm.ModuleID `json:"module"`
	// Args is the guest's argv (Args[0] is by convention the program name).
	// No element may contain a NUL byte.
	Args []string `json:"args,omitempty"`
	// Env is the guest's environment: keys non-empty, without '=' or NUL;
	// values without NUL.
	Env map[string]string `json:"env,omitempty"`
	// Stdin is what the guest reads from standard input.
	Stdin []byte `json:"stdin,omitempty"`
	// Limits bounds each run; zero fields take the node's defaults.
	Limits Limits `json:"limits"`
	// Scratch, Clock and Random give the guest an in-memory scratch
	// filesystem at /scratch, the host's clocks, the host's randomness
	// (see wasm.Spec). Clock and Random make the result depend on the
	// provider: replicas of such a task may legitimately disagree. Scratch
	// does not, except through the provider's scratch quota, which may
	// differ between providers; a scratch task is placed only on providers
	// that accept scratch tasks.
	Scratch bool `json:"scratch,omitempty"`
	Clock   bool `json:"clock,omitempty"`
	Random  bool `json:"random,omitempty"`
	// Replicas is how many distinct providers run the task; 0 means 1.
	Replicas int `json:"replicas,omitempty"`
	// Quorum is how many of them must return the same result for it to be
	// accepted; 0 means a majority of Replicas.
	Quorum int `json:"quorum,omitempty"`
	// MaxPrice is the most the submitter pays per CPU-second, in
	// micro-credits; providers asking more are not used. 0 means no limit.
	MaxPrice uint64 `json:"max_price,omitempty"`
	// Deadline is when the task fails if it has not finished, waiting for
	// room included. Zero means Config.DefaultDeadline after Submit.
	Deadline time.Time `json:"deadline,omitzero"`
	// Priority orders the submitter's queue (higher first) and is passed
	// to providers, which order their own queues by it.
	Priority int32 `json:"priority,omitempty"`
	// Strategy chooses the providers; empty means Config.DefaultStrategy.
	Strategy Strategy `json:"strategy,omitempty"`
	// CrashPolicy says what to do with a lost run; empty means CrashRerun.
	CrashPolicy CrashPolicy `json:"crash_policy,omitempty"`
}

// specJSON is Spec with its module ID in hex.
type specJSON Spec

// MarshalJSON encodes the spec with its module ID in hex.
func (s Spec) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		specJSON
		Module string `json:"module"`
	}{specJSON(s), s.Module.String()})
}

// UnmarshalJSON decodes a spec whose module ID is in hex (or absent).
func (s *Spec) UnmarshalJSON(b []byte) error {
	var v struct {
		specJSON
		Module string `json:"module"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*s = Spec(v.specJSON)
	s.Module = wasm.ModuleID{}
	if v.Module != "" {
		id, err := wasm.ParseModuleID(v.Module)
		if err != nil {
			return fmt.Errorf("compute: spec: module: %w", err)
		}
		s.Module = id
	}
	return nil
}

// replicas returns Replicas with its default.
func (s *Spec) replicas() int { return max(s.Replicas, 1) }

// quorum returns Quorum with its default, a majority of the replicas.
func (s *Spec) quorum() int {
	if s.Quorum > 0 {
		return s.Quorum
	}
	return s.replicas()/2 + 1
}

func (s *Spec) wasm() wasm.Spec {
	return wasm.Spec{
		Module: s.Module, Args: s.Args, Env: s.Env, Stdin: s.Stdin, Limits: s.Limits.wasm(),
		Scratch: s.Scratch, Clock: s.Clock, Random: s.Random,
	}
}

// Validate checks what a spec can be checked for without a node's
// configuration: a module, replicas and quorum in range, a known strategy
// and crash policy, non-negative limits, well-formed args and environment
// within maxArgsLimit, and stdin within maxStdinLimit. Submit also checks
// the spec against the node's Config. The error is a *SpecError.
func (s *Spec) Validate() error {
	bad := func(field, format string, a ...any) error {
		return &SpecError{Field: field, Reason: fmt.Sprintf(format, a...)}
	}
	switch {
	case s.Module == wasm.ModuleID{}:
		return bad("module", "missing")
	case s.Replicas < 0 || s.Replicas > maxReplicas:
		return bad("replicas", "%d is outside [0, %d]", s.Replicas, maxReplicas)
	case s.Quorum < 0 || s.Quorum > s.replicas():
		return bad("quorum", "%d is outside [0, replicas=%d]", s.Quorum, s.replicas())
	case s.Limits.WallTime < 0:
		return bad("limits.wall_time", "%v is negative", s.Limits.WallTime)
	case s.Limits.OutputBytes < 0:
		return bad("limits.output_bytes", "%d is negative", s.Limits.OutputBytes)
	case len(s.Stdin) > maxStdinLimit:
		return bad("stdin", "%d bytes exceeds %d", len(s.Stdin), maxStdinLimit)
	}
	if s.Strategy != "" && !s.Strategy.Known() {
		return bad("strategy", "%q is unknown (want one of %s)", s.Strategy, strategyNames())
	}
	if s.CrashPolicy != "" && s.CrashPolicy != CrashRerun && s.CrashPolicy != CrashFail {
		return bad("crash_policy", "%q is neither %q nor %q", s.CrashPolicy, CrashRerun, CrashFail)
	}
	if n := s.argsSize(); n > maxArgsLimit {
		return bad("args", "args and env take %d bytes, more than %d", n, maxArgsLimit)
	}
	for i, a := range s.Args {
		if strings.IndexByte(a, 0) >= 0 {
			return bad(fmt.Sprintf("args[%d]", i), "contains a NUL byte")
		}
	}
	for k, v := range s.Env {
		if k == "" || strings.ContainsAny(k, "=\x00") {
			return bad("env", "key %q is empty or contains '=' or NUL", k)
		}
		if strings.IndexByte(v, 0) >= 0 {
			return bad("env", "the value of %q contains a NUL byte", k)
		}
	}
	return nil
}

// argsSize is the size of the args and environment.
func (s *Spec) argsSize() int {
	n := 0
	for _, a := range s.Args {
		n += len(a) + 1
	}
	for k, v := range s.Env {
		n += len(k) + len(v) + 2
	}
	return n
}
