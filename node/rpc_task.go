package node

import (
	"context"
	"errors"
	"time"

	"github.com/creachadair/jrpc2"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/fog-compute/fog/compute"
	"github.com/fog-compute/fog/compute/wasm"
)

// CodeConflict means the call does not fit the task's state (its result is
// asked for before it finished, or it is cancelled after it finished).
const CodeConflict jrpc2.Code = 409

// TaskSubmitParams are task.submit's parameters.
type TaskSubmitParams struct {
	// Module is the WebAssembly module (WASI preview 1 command), base64 in
	// JSON. Either it or ModuleID is required.
	Module []byte `json:"module,omitempty"`
	// ModuleID names, in hex SHA-256, a module this node already stores
	// (from an earlier submission).
	ModuleID string `json:"module_id,omitempty"`
	// Args is the guest's argv; Args[0] is the program name by convention
	// (the CLI puts the module's file name there).
	Args []string          `json:"args,omitempty"`
	Env  map[string]string `json:"env,omitempty"`
	// Stdin is the guest's standard input, base64 in JSON.
	Stdin []byte `json:"stdin,omitempty"`
	// MemoryMiB, TimeoutSeconds and OutputBytes limit each run; 0 takes the
	// node's defaults.
	MemoryMiB      uint32  `json:"memory_mib,omitempty"`
	TimeoutSeconds float64 `json:"timeout_seconds,omitempty"`
	OutputBytes    int64   `json:"output_bytes,omitempty"`
	// Clock, Random and Scratch give the task the host's clocks, the host's
	// randomness (each makes it non-deterministic) or an in-memory scratch
	// filesystem at /scratch (which does not).
	Clock   bool `json:"clock,omitempty"`
	Random  bool `json:"random,omitempty"`
	Scratch bool `json:"scratch,omitempty"`
	// Replicas is how many distinct providers run it (default 1), Quorum
	// how many must agree (default a majority).
	Replicas int `json:"replicas,omitempty"`
	Quorum   int `json:"quorum,omitempty"`
	// Strategy is round-robin, least-loaded (default), lowest-price,
	// lowest-latency or power-of-two.
	Strategy string `json:"strategy,omitempty"`
	// MaxPrice caps the price per CPU-second in micro-credits (0: any).
	MaxPrice uint64 `json:"max_price,omitempty"`
	// DeadlineSeconds is how long the task may take, waiting for room
	// included (default one hour).
	DeadlineSeconds float64 `json:"deadline_seconds,omitempty"`
	Priority        int32   `json:"priority,omitempty"`
	// CrashPolicy is rerun (default) or fail: what to do with a run lost to
	// a crashed provider.
	CrashPolicy string `json:"crash_policy,omitempty"`
}

// TaskSubmitResult is task.submit's result.
type TaskSubmitResult struct {
	ID     compute.TaskID `json:"id"`
	Module string         `json:"module"`
}

// TaskIDParams name a task.
type TaskIDParams struct {
	ID string `json:"id"`
	// Wait, for task.result, waits until the task has finished.
	Wait bool `json:"wait,omitempty"`
}

// TaskLogsParams are task.logs's parameters: the task, and the bytes of
// its stdout and stderr the caller already has (0 for all of them).
type TaskLogsParams struct {
	ID           string `json:"id"`
	StdoutOffset int    `json:"stdout_offset,omitempty"`
	StderrOffset int    `json:"stderr_offset,omitempty"`
}

// TaskListParams are task.list's parameters.
type TaskListParams struct {
	State string `json:"state,omitempty"`
	Limit int    `json:"limit,omitempty"`
}

// TaskDescription is task.describe's result: the task's status (state,
// attempts, timings) with its spec as submitted and resolved, and, once it
// has finished, what its accepted run did.
type TaskDescription struct {
	compute.Status
	// Args, Env and the size of Stdin are the program's input.
	Args       []string          `json:"args"`
	Env        map[string]string `json:"env,omitempty"`
	StdinBytes int               `json:"stdin_bytes"`
	// MemoryMiB, TimeoutSeconds and OutputBytes are the limits of each run,
	// the node's defaults filled in (the units of task.submit).
	MemoryMiB      uint32  `json:"memory_mib"`
	TimeoutSeconds float64 `json:"timeout_seconds"`
	OutputBytes    int64   `json:"output_bytes"`
	// Clock, Random and Scratch are what the task may observe of its host.
	Clock   bool `json:"clock,omitempty"`
	Random  bool `json:"random,omitempty"`
	Scratch bool `json:"scratch,omitempty"`
	// MaxPrice (0: any) and CrashPolicy are as submitted, with defaults.
	MaxPrice    uint64              `json:"max_price"`
	CrashPolicy compute.CrashPolicy `json:"crash_policy"`
	// Result is set once the task has finished.
	Result *TaskRunSummary `json:"result,omitempty"`
}

// TaskRunSummary is a finished task's accepted run, without its output
// (task.result has it).
type TaskRunSummary struct {
	Kind   compute.Kind `json:"kind,omitempty"`
	Agreed bool         `json:"agreed"`
	// ExitCode is present only when the program ran to its end (kind
	// completed, no guest_error).
	ExitCode        *uint32   `json:"exit_code,omitempty"`
	GuestError      string    `json:"guest_error,omitempty"`
	StdoutBytes     int       `json:"stdout_bytes"`
	StderrBytes     int       `json:"stderr_bytes"`
	Truncated       bool      `json:"truncated,omitempty"`
	WallMS          float64   `json:"wall_ms"`
	PeakMemoryBytes uint64    `json:"peak_memory_bytes"`
	Providers       []peer.ID `json:"providers"`
	ResultHash      string    `json:"result_hash,omitempty"`
}

// describe assembles a task's description.
func describe(st compute.Status, spec compute.Spec, res *compute.Result) TaskDescription {
	d := TaskDescription{
		Status: st, Args: spec.Args, Env: spec.Env, StdinBytes: len(spec.Stdin),
		MemoryMiB: spec.Limits.MemoryPages / 16, TimeoutSeconds: spec.Limits.WallTime.Seconds(), OutputBytes: spec.Limits.OutputBytes,
		Clock: spec.Clock, Random: spec.Random, Scratch: spec.Scratch, MaxPrice: spec.MaxPrice, CrashPolicy: spec.CrashPolicy,
	}
	if d.Args == nil {
		d.Args = []string{}
	}
	if res != nil {
		r := &TaskRunSummary{
			Kind: res.Kind, Agreed: res.Agreed, GuestError: res.GuestError, StdoutBytes: len(res.Stdout), StderrBytes: len(res.Stderr),
			Truncated: res.Truncated, WallMS: float64(res.Usage.WallTime) / float64(time.Millisecond),
			PeakMemoryBytes: res.Usage.PeakMemoryBytes, Providers: res.Providers, ResultHash: res.ResultHash,
		}
		if res.Agreed && res.Kind == compute.KindCompleted && res.GuestError == "" {
			code := res.ExitCode
			r.ExitCode = &code
		}
		d.Result = r
	}
	return d
}

// maxMemoryMiB is a 32-bit WebAssembly module's whole address space:
// 65,536 pages of 64 KiB.
const maxMemoryMiB = 65536 / 16

// spec turns submit parameters into a task spec.
func (p TaskSubmitParams) spec(now time.Time) (compute.Spec, error) {
	s := compute.Spec{
		Args: p.Args, Env: p.Env, Stdin: p.Stdin,
		Limits: compute.Limits{
			MemoryPages: p.MemoryMiB * 16, // 16 pages of 64 KiB per MiB
			WallTime:    time.Duration(p.TimeoutSeconds * float64(time.Second)),
			OutputBytes: p.OutputBytes,
		},
		Clock: p.Clock, Random: p.Random, Scratch: p.Scratch,
		Replicas: p.Replicas, Quorum: p.Quorum, MaxPrice: p.MaxPrice, Priority: p.Priority,
		Strategy: compute.Strategy(p.Strategy), CrashPolicy: compute.CrashPolicy(p.CrashPolicy),
	}
	switch {
	case len(p.Module) == 0 && p.ModuleID == "":
		return s, invalidParams("module or module_id is required")
	case len(p.Module) > 0 && p.ModuleID != "":
		return s, invalidParams("give module or module_id, not both")
	case p.DeadlineSeconds < 0:
		return s, invalidParams("deadline_seconds: %v is negative", time.Duration(p.DeadlineSeconds*float64(time.Second)))
	case p.MemoryMiB > maxMemoryMiB:
		return s, invalidParams("memory_mib: %d MiB exceeds %d MiB, all a WebAssembly module can address", p.MemoryMiB, maxMemoryMiB)
	}
	if p.ModuleID != "" {
		id, err := wasm.ParseModuleID(p.ModuleID)
		if err != nil {
			return s, invalidParams("module_id %q: %v", p.ModuleID, err)
		}
		s.Module = id
	}
	if len(p.Module) > 0 {
		s.Module = wasm.IDOf(p.Module)
	}
	if p.DeadlineSeconds > 0 {
		s.Deadline = now.Add(time.Duration(p.DeadlineSeconds * float64(time.Second)))
	}
	// Check the whole spec now, so that a mistake (an unknown strategy,
	// say) costs no compilation of the module.
	if err := s.Validate(); err != nil {
		return s, taskError(err)
	}
	return s, nil
}

// rpcParam names task.submit's parameter for a spec field: some are taken
// under another name (and unit), the others have the same name in both.
func rpcParam(field string) string {
	switch field {
	case "limits.memory_pages":
		return "memory_mib"
	case "limits.wall_time":
		return "timeout_seconds"
	case "limits.output_bytes":
		return "output_bytes"
	case "deadline":
		return "deadline_seconds"
	}
	return field
}

// taskError maps compute errors to API errors callers can branch on. A
// spec's error names task.submit's parameter.
func taskError(err error) error {
	var (
		je *jrpc2.Error
		se *compute.SpecError
	)
	switch {
	case err == nil:
		return nil
	case errors.As(err, &je):
		return err
	case errors.As(err, &se):
		return invalidParams("%s: %s", rpcParam(se.Field), se.Reason)
	case errors.Is(err, compute.ErrNotFound):
		return &jrpc2.Error{Code: CodeNotFound, Message: err.Error()}
	case errors.Is(err, compute.ErrNotFinished), errors.Is(err, compute.ErrFinished):
		return &jrpc2.Error{Code: CodeConflict, Message: err.Error()}
	case errors.Is(err, compute.ErrInvalidSpec), errors.Is(err, compute.ErrModule), errors.Is(err, wasm.ErrInvalidModule),
		errors.Is(err, wasm.ErrHashMismatch):
		return &jrpc2.Error{Code: jrpc2.InvalidParams, Message: err.Error()}
	case errors.Is(err, compute.ErrPayment):
		return &jrpc2.Error{Code: CodeConflict, Message: err.Error()}
	case errors.Is(err, compute.ErrClosed), errors.Is(err, compute.ErrNotRunning):
		return &jrpc2.Error{Code: CodeUnavailable, Message: err.Error()}
	}
	return err
}

func parseTaskID(s string) (compute.TaskID, error) {
	id, err := compute.ParseTaskID(s)
	if err != nil {
		return "", invalidParams("id %q is not a task ID: %v", s, err)
	}
	return id, nil
}

func (n *Node) registerTaskMethods() error {
	c := n.compute
	methods := map[string]any{
		"task.submit": func(ctx context.Context, p TaskSubmitParams) (TaskSubmitResult, error) {
			spec, err := p.spec(n.clk.Now())
			if err != nil {
				return TaskSubmitResult{}, err
			}
			if len(p.Module) > 0 {
				// Refuse what could never run before it enters the queue (and
				// warm this node's cache of compiled modules on the way).
				if _, err = n.exec.Compile(ctx, p.Module); err != nil {
					return TaskSubmitResult{}, taskError(err)
				}
			}
			id, err := c.Submit(ctx, spec, p.Module)
			if err != nil {
				return TaskSubmitResult{}, taskError(err)
			}
			return TaskSubmitResult{ID: id, Module: spec.Module.String()}, nil
		},
		"task.status": func(ctx context.Context, p TaskIDParams) (compute.Status, error) {
			id, err := parseTaskID(p.ID)
			if err != nil {
				return compute.Status{}, err
			}
			st, err := c.Status(ctx, id)
			return st, taskError(err)
		},
		"task.describe": func(ctx context.Context, p TaskIDParams) (TaskDescription, error) {
			id, err := parseTaskID(p.ID)
			if err != nil {
				return TaskDescription{}, err
			}
			spec, err := c.Spec(ctx, id)
			if err != nil {
				return TaskDescription{}, taskError(err)
			}
			st, err := c.Status(ctx, id)
			if err != nil {
				return TaskDescription{}, taskError(err)
			}
			var res *compute.Result
			if st.State.Terminal() {
				r, err := c.Result(ctx, id)
				if err != nil {
					return TaskDescription{}, taskError(err)
				}
				res = &r
			}
			return describe(st, spec, res), nil
		},
		"task.result": func(ctx context.Context, p TaskIDParams) (compute.Result, error) {
			id, err := parseTaskID(p.ID)
			if err != nil {
				return compute.Result{}, err
			}
			var res compute.Result
			if p.Wait {
				res, err = c.Wait(ctx, id)
			} else {
				res, err = c.Result(ctx, id)
			}
			return res, taskError(err)
		},
		"task.logs": func(ctx context.Context, p TaskLogsParams) (compute.Output, error) {
			id, err := parseTaskID(p.ID)
			if err != nil {
				return compute.Output{}, err
			}
			if p.StdoutOffset < 0 || p.StderrOffset < 0 {
				return compute.Output{}, invalidParams("stdout_offset %d, stderr_offset %d: want offsets of 0 or more", p.StdoutOffset, p.StderrOffset)
			}
			out, err := c.Output(ctx, id, p.StdoutOffset, p.StderrOffset)
			return out, taskError(err)
		},
		"task.cancel": func(ctx context.Context, p TaskIDParams) (compute.Status, error) {
			id, err := parseTaskID(p.ID)
			if err != nil {
				return compute.Status{}, err
			}
			st, err := c.Cancel(ctx, id)
			return st, taskError(err)
		},
		"task.list": func(ctx context.Context, p TaskListParams) ([]compute.Status, error) {
			f := compute.ListFilter{State: compute.State(p.State), Limit: p.Limit}
			switch f.State {
			case "", compute.StateQueued, compute.StateRunning, compute.StateDone, compute.StateFailed, compute.StateCancelled:
			default:
				return nil, invalidParams("state %q: want queued, running, done, failed or cancelled", p.State)
			}
			var err error
			if f.Limit, err = listLimit(p.Limit); err != nil {
				return nil, err
			}
			out, err := c.List(ctx, f)
			if out == nil {
				out = []compute.Status{}
			}
			return out, taskError(err)
		},
		"task.providers": func(context.Context) ([]compute.ProviderRecord, error) {
			out := c.Providers()
			if out == nil {
				out = []compute.ProviderRecord{}
			}
			return out, nil
		},
	}
	return n.api.registerAll(methods)
}
