package wasm

import "errors"

// Sentinel errors returned (wrapped) by the Executor. Callers branch on them
// with errors.Is; the wrapping message carries the numbers.
var (
	// ErrConfig is wrapped by every error Config.Validate (and so New)
	// returns.
	ErrConfig = errors.New("wasm: invalid config")
	// ErrTimeout: the task reached its wall-time limit and was stopped.
	ErrTimeout = errors.New("wasm: wall-time limit exceeded")
	// ErrMemoryLimit: the task needs more linear memory than its limit
	// allows, either at start (its declared minimum; the task is not run)
	// or while running (a memory.grow was refused and the task then failed).
	ErrMemoryLimit = errors.New("wasm: memory limit exceeded")
	// ErrOutputLimit: the task wrote more than its output limit
	// (stdout and stderr together) and was stopped.
	ErrOutputLimit = errors.New("wasm: output limit exceeded")
	// ErrInvalidModule: the bytes are not a valid WebAssembly module, or the
	// module is not a WASI preview 1 command this executor runs (it imports
	// anything but WASI functions, or has no _start export).
	ErrInvalidModule = errors.New("wasm: invalid module")
	// ErrHashMismatch: the supplied bytes do not hash to the claimed ModuleID.
	ErrHashMismatch = errors.New("wasm: module bytes do not match module ID")
	// ErrUnknownModule: Run was given a ModuleID that is not loaded (never
	// compiled, or evicted from the in-memory cache); Load it and retry.
	ErrUnknownModule = errors.New("wasm: module not loaded")
	// ErrInvalidSpec: the Spec is malformed (limits above the executor's
	// maximum, NUL bytes in args or env, '=' in an env key).
	ErrInvalidSpec = errors.New("wasm: invalid task spec")
	// ErrClosed: the Executor is closed (a task that was running when Close
	// was called was stopped).
	ErrClosed = errors.New("wasm: executor closed")
)
