package compute

import (
	"errors"
	"fmt"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/fog-compute/fog/compute/wire"
)

// A conversation with a provider is a deterministic state machine,
// convState: (*task).converse opens the stream, writes the first message
// and then feeds the machine what happens (a frame, the stream's end, a
// timer, a stop request, the attempt abandoned) and carries out what it
// returns (write a message, arm a timer, set the attempt's state, add
// output, finish). The machine does no I/O and reads no clock, so its
// tests drive it without a network.

// convEvent is the kind of a conversation's input.
type convEvent int

const (
	inFrame          convEvent = iota // a message arrived (convInput.msg)
	inClosed                          // the stream's read side ended (convInput.err says why; io.EOF if cleanly)
	inIdle                            // the idle timer fired
	inHard                            // the hard timer fired
	inStop                            // the task asks the provider to cancel the attempt
	inAbandoned                       // the attempt's context ended: this node stops
	inWriteFailed                     // writing the Cancel failed (convInput.err)
	inOutputRejected                  // the task refused an Output (convInput.err)
)

// convInput is one thing that happened to a conversation.
type convInput struct {
	ev  convEvent
	msg wire.Message
	err error
}

// convActKind is the kind of an action a conversation asks for.
type convActKind int

const (
	actWrite  convActKind = iota // write msg to the stream
	actIdle                      // (re)arm the idle timer for d
	actHard                      // arm the hard timer (once) for d
	actState                     // set the attempt's state to state
	actOutput                    // add output to the task's live output
	actFinish                    // the conversation is over: convState.out says how
)

// convAction is one thing the driver of a conversation is to do, in the
// order returned.
type convAction struct {
	kind   convActKind
	msg    wire.Message
	d      time.Duration
	state  AttemptState
	output *wire.OutputMsg
}

// convParams are a conversation's fixed inputs.
type convParams struct {
	taskID              string
	submitter, provider peer.ID
	pub                 crypto.PubKey // the provider's key, or nil to take it from its ID
	// The timeouts (Config's IdleTimeout, AcceptTimeout, CancelTimeout,
	// AttemptSlack) and the task's wall-time limit.
	idle, accept, cancel, slack, wallTime time.Duration
}

// convState is one conversation with a provider after its first message
// went out.
type convState struct {
	p        convParams
	attempt  AttemptState // the attempt's state, as the driver last set it
	stopping bool         // a Cancel went out: no more stop requests, no idle resets
	hard     bool         // the hard timer is armed (the provider reported the task running)
	done     bool
	out      convOut
}

// newConv returns the conversation that first (Submit, Attach or Cancel)
// opened, for an attempt in state attempt, and its first actions.
func newConv(p convParams, first wire.Message, attempt AttemptState) (*convState, []convAction) {
	c := &convState{p: p, attempt: attempt}
	wait := p.idle
	switch first.(type) {
	case *wire.SubmitMsg:
		wait = p.accept
	case *wire.CancelMsg:
		c.stopping, wait = true, p.cancel
	}
	return c, []convAction{{kind: actIdle, d: wait}}
}

// step applies one input and returns the actions it calls for. After
// actFinish it returns nothing.
func (c *convState) step(in convInput) []convAction {
	if c.done {
		return nil
	}
	pr := c.p.provider
	switch in.ev {
	case inFrame:
		return c.frame(in.msg)
	case inClosed:
		err := fmt.Errorf("compute: stream from %s: %w", pr, in.err)
		return c.fail(err, errors.Is(err, wire.ErrMalformed))
	case inIdle:
		if c.stopping {
			return c.fail(fmt.Errorf("compute: %s did not confirm the cancel within %v", pr, c.p.cancel), false)
		}
		return c.fail(fmt.Errorf("compute: no word from %s for %v", pr, c.p.idle), false)
	case inHard:
		return c.fail(fmt.Errorf("compute: %s still runs the task %v after its wall-time limit", pr, c.p.slack), false)
	case inStop:
		if c.stopping {
			return nil
		}
		c.stopping = true
		return []convAction{{kind: actWrite, msg: &wire.CancelMsg{TaskID: c.p.taskID}}, {kind: actIdle, d: c.p.cancel}}
	case inAbandoned:
		c.out.end = convAbandoned
		return c.finish()
	case inWriteFailed:
		return c.fail(fmt.Errorf("compute: send cancel to %s: %w", pr, in.err), false)
	case inOutputRejected:
		return c.fail(fmt.Errorf("compute: output from %s: %w", pr, in.err), true)
	}
	return nil
}

// frame applies a message from the provider.
func (c *convState) frame(m wire.Message) []convAction {
	pr := c.p.provider
	switch m := m.(type) {
	case *wire.AcceptMsg:
		c.out.accepted = true
		var acts []convAction
		if c.attempt == AttemptSent {
			acts = append(acts, c.setState(AttemptQueued))
		}
		return append(acts, c.heard()...)
	case *wire.StatusMsg:
		if !c.out.accepted {
			return c.fail(fmt.Errorf("%w: %s sent a status before accepting", wire.ErrMalformed, pr), true)
		}
		var acts []convAction
		if m.Running && !c.hard {
			c.hard = true
			acts = append(acts, c.setState(AttemptRunning), convAction{kind: actHard, d: c.p.wallTime + c.p.slack})
		}
		return append(acts, c.heard()...)
	case *wire.OutputMsg:
		if !c.out.accepted {
			return c.fail(fmt.Errorf("%w: %s sent output before accepting", wire.ErrMalformed, pr), true)
		}
		return append([]convAction{{kind: actOutput, output: m}}, c.heard()...)
	case *wire.ResultMsg:
		_, h, err := m.Verify(c.p.taskID, c.p.submitter, pr, c.p.pub)
		if err != nil {
			return c.fail(fmt.Errorf("compute: result from %s: %w", pr, err), true)
		}
		c.out.end, c.out.msg, c.out.hash, c.out.graceful = convResult, m, h, true
		return c.finish()
	case *wire.RefuseMsg:
		c.out.end, c.out.refuse, c.out.graceful = convRefused, m, true
		return c.finish()
	}
	return c.fail(fmt.Errorf("%w: %s sent a message of type %d", wire.ErrMalformed, pr, m.Type()), true)
}

// heard is the provider's sign of life: unless a cancel is pending, the
// idle timer starts again.
func (c *convState) heard() []convAction {
	if c.stopping {
		return nil
	}
	return []convAction{{kind: actIdle, d: c.p.idle}}
}

func (c *convState) setState(s AttemptState) convAction {
	c.attempt = s
	return convAction{kind: actState, state: s}
}

// fail ends the conversation as broken; bad says the provider broke the
// protocol.
func (c *convState) fail(err error, bad bool) []convAction {
	c.out.err, c.out.bad = err, bad
	return c.finish()
}

func (c *convState) finish() []convAction {
	c.done = true
	return []convAction{{kind: actFinish}}
}
