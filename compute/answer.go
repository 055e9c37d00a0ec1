package compute

import (
	"strings"

	"github.com/fog-compute/fog/compute/queue"
	"github.com/fog-compute/fog/compute/runner"
	"github.com/fog-compute/fog/compute/wasm"
	"github.com/fog-compute/fog/compute/wire"
)

// jobResult turns a finished job of the local execution queue into the
// result a provider sends: its state, the kind of answer (from the
// reason, which names the wasm sentinel that stopped the run, as the
// runner documents), the reason and the output.
func jobResult(j queue.Job) *wire.ResultMsg {
	m := &wire.ResultMsg{Reason: clip(j.Error, wire.MaxReasonLen), Output: j.Result}
	switch j.State {
	case queue.StateDone:
		m.State, m.Kind = wire.StateDone, wire.KindCompleted
	case queue.StateFailed:
		m.State, m.Kind = wire.StateFailed, failureKind(j.Error)
	case queue.StateCancelled:
		m.State = wire.StateCancelled
	}
	if len(m.Output) > 0 {
		if _, err := runner.DecodeResult(m.Output); err != nil {
			m.Output = nil
		}
	}
	return m
}

// failureKind classifies the reason of a failed job: the limits and
// invalid tasks are answers; anything else (a crash, the queue's
// deadline, a module the runner could not fetch) is the provider's
// failure, not the task's.
func failureKind(reason string) Kind {
	switch {
	case strings.Contains(reason, wasm.ErrTimeout.Error()):
		return KindTimeout
	case strings.Contains(reason, wasm.ErrMemoryLimit.Error()):
		return KindMemory
	case strings.Contains(reason, wasm.ErrOutputLimit.Error()):
		return KindOutput
	case strings.Contains(reason, wasm.ErrInvalidModule.Error()), strings.Contains(reason, wasm.ErrInvalidSpec.Error()):
		return KindInvalid
	}
	return ""
}

// crashReason reports whether a failed job's reason says its provider
// crashed while running it.
func crashReason(reason string) bool {
	return reason == queue.ReasonCrashed || reason == queue.ReasonAttempts
}

// clip cuts s to at most n bytes.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}
