package compute

import (
	"errors"
	"io"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fog-compute/fog/compute/runner"
	"github.com/fog-compute/fog/compute/wasm"
	"github.com/fog-compute/fog/compute/wire"
)

// The conversation with a provider, driven step by step without a
// network: each input and the actions it must produce, then how the
// conversation ended.
func TestConversationSteps(t *testing.T) {
	provKey, prov := testKey(t, 1)
	_, sub := testKey(t, 2)
	otherKey, _ := testKey(t, 3)
	const taskID = "task-1"
	p := convParams{
		taskID: taskID, submitter: sub, provider: prov,
		idle: 10 * time.Second, accept: 20 * time.Second, cancel: 5 * time.Second,
		slack: 3 * time.Second, wallTime: time.Minute,
	}
	good := &wire.ResultMsg{State: wire.StateDone, Kind: KindCompleted, Output: runner.EncodeResult(wasm.Result{Stdout: []byte("42\n")})}
	require.NoError(t, good.Sign(provKey, taskID, sub))
	forged := &wire.ResultMsg{State: wire.StateDone, Kind: KindCompleted, Output: good.Output}
	require.NoError(t, forged.Sign(otherKey, taskID, sub)) // signed, but not by the provider
	out := &wire.OutputMsg{Stdout: []byte("first\n")}
	refuse := &wire.RefuseMsg{Code: wire.RefuseBusy, RetryAfter: time.Second}

	frame := func(m wire.Message) convInput { return convInput{ev: inFrame, msg: m} }
	idle := func(d time.Duration) convAction { return convAction{kind: actIdle, d: d} }
	state := func(s AttemptState) convAction { return convAction{kind: actState, state: s} }
	finish := []convAction{{kind: actFinish}}
	type step struct {
		in   convInput
		want []convAction
	}
	accepted := step{frame(&wire.AcceptMsg{}), []convAction{state(AttemptQueued), idle(p.idle)}}
	running := step{frame(&wire.StatusMsg{Running: true}), []convAction{state(AttemptRunning), {kind: actHard, d: p.wallTime + p.slack}, idle(p.idle)}}
	tests := []struct {
		name      string
		first     wire.Message
		attempt   AttemptState
		firstWait time.Duration
		steps     []step
		end       convEnd
		err       error  // the error wraps it (nil: no error)
		errText   string // the error says it
		bad       bool
		accepted  bool
		graceful  bool
	}{
		{
			name: "accept, running, output, result", first: &wire.SubmitMsg{}, attempt: AttemptSent, firstWait: p.accept,
			steps: []step{
				accepted,
				{frame(&wire.StatusMsg{}), []convAction{idle(p.idle)}},
				running,
				{frame(&wire.StatusMsg{Running: true}), []convAction{idle(p.idle)}}, // the hard timer is armed once
				{frame(out), []convAction{{kind: actOutput, output: out}, idle(p.idle)}},
				{frame(good), finish},
			},
			end: convResult, accepted: true, graceful: true,
		},
		{
			name: "refused", first: &wire.SubmitMsg{}, attempt: AttemptSent, firstWait: p.accept,
			steps: []step{{frame(refuse), finish}},
			end:   convRefused, graceful: true,
		},
		{
			name: "status before accept is malformed", first: &wire.SubmitMsg{}, attempt: AttemptSent, firstWait: p.accept,
			steps: []step{{frame(&wire.StatusMsg{Running: true}), finish}},
			err:   wire.ErrMalformed, errText: "status before accepting", bad: true,
		},
		{
			name: "output before accept is malformed", first: &wire.SubmitMsg{}, attempt: AttemptSent, firstWait: p.accept,
			steps: []step{{frame(out), finish}},
			err:   wire.ErrMalformed, errText: "output before accepting", bad: true,
		},
		{
			name: "idle timeout", first: &wire.SubmitMsg{}, attempt: AttemptSent, firstWait: p.accept,
			steps:   []step{accepted, {convInput{ev: inIdle}, finish}},
			errText: "no word from", accepted: true,
		},
		{
			name: "hard timeout", first: &wire.SubmitMsg{}, attempt: AttemptSent, firstWait: p.accept,
			steps:   []step{accepted, running, {convInput{ev: inHard}, finish}},
			errText: "after its wall-time limit", accepted: true,
		},
		{
			name: "stop: cancel sent, then the cancel times out", first: &wire.SubmitMsg{}, attempt: AttemptSent, firstWait: p.accept,
			steps: []step{
				accepted,
				{convInput{ev: inStop}, []convAction{{kind: actWrite, msg: &wire.CancelMsg{TaskID: taskID}}, idle(p.cancel)}},
				{convInput{ev: inStop}, nil}, // one cancel
				{frame(&wire.StatusMsg{Running: true}), []convAction{state(AttemptRunning), {kind: actHard, d: p.wallTime + p.slack}}}, // no idle reset while stopping
				{convInput{ev: inIdle}, finish},
			},
			errText: "did not confirm the cancel", accepted: true,
		},
		{
			name: "stop: the provider confirms with a cancelled result", first: &wire.SubmitMsg{}, attempt: AttemptSent, firstWait: p.accept,
			steps: []step{
				accepted,
				{convInput{ev: inStop}, []convAction{{kind: actWrite, msg: &wire.CancelMsg{TaskID: taskID}}, idle(p.cancel)}},
				{frame(refuse), finish},
			},
			end: convRefused, accepted: true, graceful: true,
		},
		{
			name: "the cancel cannot be written", first: &wire.SubmitMsg{}, attempt: AttemptSent, firstWait: p.accept,
			steps: []step{
				{convInput{ev: inStop}, []convAction{{kind: actWrite, msg: &wire.CancelMsg{TaskID: taskID}}, idle(p.cancel)}},
				{convInput{ev: inWriteFailed, err: io.ErrClosedPipe}, finish},
			},
			err: io.ErrClosedPipe, errText: "send cancel",
		},
		{
			name: "a cancel on a fresh stream waits CancelTimeout", first: &wire.CancelMsg{TaskID: taskID}, attempt: AttemptRunning, firstWait: p.cancel,
			steps: []step{
				{convInput{ev: inStop}, nil},
				{frame(&wire.AcceptMsg{}), nil}, // already past sent; no idle reset while stopping
				{convInput{ev: inIdle}, finish},
			},
			errText: "did not confirm the cancel", accepted: true,
		},
		{
			name: "attach of a running attempt keeps its state", first: &wire.AttachMsg{TaskID: taskID}, attempt: AttemptRunning, firstWait: p.idle,
			steps: []step{{frame(&wire.AcceptMsg{}), []convAction{idle(p.idle)}}, {frame(good), finish}},
			end:   convResult, accepted: true, graceful: true,
		},
		{
			name: "a result that does not verify", first: &wire.SubmitMsg{}, attempt: AttemptSent, firstWait: p.accept,
			steps: []step{accepted, {frame(forged), finish}},
			err:   wire.ErrBadSignature, errText: "result from", accepted: true, bad: true,
		},
		{
			name: "a message of a type the provider never sends", first: &wire.SubmitMsg{}, attempt: AttemptSent, firstWait: p.accept,
			steps: []step{accepted, {frame(&wire.SubmitMsg{TaskID: taskID}), finish}},
			err:   wire.ErrMalformed, errText: "message of type 1", accepted: true, bad: true,
		},
		{
			name: "output the task refuses", first: &wire.SubmitMsg{}, attempt: AttemptSent, firstWait: p.accept,
			steps: []step{accepted, {frame(out), []convAction{{kind: actOutput, output: out}, idle(p.idle)}}, {convInput{ev: inOutputRejected, err: errLiveOutput}, finish}},
			err:   errLiveOutput, accepted: true, bad: true,
		},
		{
			name: "the stream ends cleanly before a result", first: &wire.SubmitMsg{}, attempt: AttemptSent, firstWait: p.accept,
			steps: []step{accepted, {convInput{ev: inClosed, err: io.EOF}, finish}},
			err:   io.EOF, errText: "stream from", accepted: true,
		},
		{
			name: "the stream carries a malformed frame", first: &wire.SubmitMsg{}, attempt: AttemptSent, firstWait: p.accept,
			steps: []step{{convInput{ev: inClosed, err: &wire.FrameTooLargeError{Size: 1 << 30, Limit: 1 << 20}}, finish}},
			err:   wire.ErrMalformed, bad: true,
		},
		{
			name: "abandoned", first: &wire.SubmitMsg{}, attempt: AttemptSent, firstWait: p.accept,
			steps: []step{accepted, {convInput{ev: inAbandoned}, finish}},
			end:   convAbandoned, accepted: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, acts := newConv(p, tt.first, tt.attempt)
			assert.Equal(t, []convAction{idle(tt.firstWait)}, acts)
			for i, s := range tt.steps {
				assert.Equal(t, s.want, c.step(s.in), "step %d", i)
			}
			assert.Nil(t, c.step(convInput{ev: inIdle}), "nothing after the end")
			o := c.out
			assert.Equal(t, tt.end, o.end)
			assert.Equal(t, tt.bad, o.bad, "bad")
			assert.Equal(t, tt.accepted, o.accepted, "accepted")
			assert.Equal(t, tt.graceful, o.graceful, "graceful")
			switch {
			case tt.err == nil && tt.errText == "":
				assert.NoError(t, o.err)
			default:
				require.Error(t, o.err)
				if tt.err != nil {
					assert.True(t, errors.Is(o.err, tt.err), "%v is not %v", o.err, tt.err)
				}
				assert.Contains(t, o.err.Error(), tt.errText)
			}
			switch o.end {
			case convResult:
				res, h, err := good.Verify(taskID, sub, prov, nil)
				require.NoError(t, err)
				assert.Equal(t, wire.ResultHash(KindCompleted, &res), h)
				assert.Equal(t, h, o.hash)
				assert.Same(t, good, o.msg)
			case convRefused:
				assert.Same(t, refuse, o.refuse)
			}
		})
	}
}
