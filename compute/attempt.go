package compute

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/fog-compute/fog/compute/queue"
	"github.com/fog-compute/fog/internal/clock"
)

// runRemote runs an attempt on a remote provider over the task protocol:
// Submit (or Attach, to re-attach an attempt stored before a restart),
// then the provider's status and signed result. A stream that breaks is
// re-attached once; a stop request is passed on as a Cancel.
func (t *task) runRemote(a *attempt, reattach bool) event {
	var first Message = t.sub
	if reattach {
		first = &AttachMsg{TaskID: string(t.id)}
	}
	accepted, sent := false, reattach
	for try := 0; ; try++ {
		out := t.converse(a, first)
		accepted = accepted || out.accepted
		if _, ok := first.(*SubmitMsg); ok && out.sent {
			sent = true
		}
		switch out.end {
		case convAbandoned:
			return event{kind: evAbandoned}
		case convResult:
			return t.resultEvent(out.msg, out.hash)
		case convRefused:
			if a.stop.Err() != nil {
				return event{kind: evCancelled}
			}
			err := &refusedError{Provider: a.rec.Provider, RefuseMsg: *out.refuse}
			if _, ok := first.(*SubmitMsg); !ok {
				// Attach refused: the provider does not hold the task. If it
				// had accepted it, it lost it.
				return event{kind: evFail, err: err, lost: accepted, fault: accepted}
			}
			return event{kind: evRefuse, refuse: out.refuse, err: err}
		}
		if a.stop.Err() != nil {
			if try == 0 && out.opened {
				first = &CancelMsg{TaskID: string(t.id)}
				continue
			}
			return event{kind: evCancelled}
		}
		if try == 0 && out.opened && !out.bad {
			first = &AttachMsg{TaskID: string(t.id)}
			continue
		}
		return event{kind: evFail, err: out.err, lost: accepted || sent, fault: true}
	}
}

type convEnd int

const (
	convBroken convEnd = iota
	convResult
	convRefused
	convAbandoned
)

// convOut is how one conversation with a provider ended.
type convOut struct {
	end      convEnd
	msg      *ResultMsg
	hash     [32]byte
	refuse   *RefuseMsg
	err      error
	opened   bool // the stream opened: the provider was reachable
	sent     bool // the first message went out
	accepted bool // the provider said it holds the task
	bad      bool // the provider broke the protocol
}

// converse holds one stream with the attempt's provider, starting with
// first, until a result, a refusal, a broken stream or a timeout.
func (t *task) converse(a *attempt, first Message) (out convOut) {
	s := t.s
	p := a.rec.Provider
	st, err := Protocol.Open(a.ctx, s.host, p)
	if err != nil {
		if a.ctx.Err() != nil {
			out.end = convAbandoned
		} else {
			out.err = fmt.Errorf("compute: %w", err)
		}
		return out
	}
	out.opened = true
	c := newConn(st, resultFrame(t.spec.Limits.OutputBytes))
	graceful := false
	defer func() { c.close(graceful) }()
	if err := c.write(first); err != nil {
		out.err = fmt.Errorf("compute: send to %s: %w", p, err)
		return out
	}
	out.sent = true
	wait := s.cfg.IdleTimeout
	if _, ok := first.(*SubmitMsg); ok {
		wait = s.cfg.AcceptTimeout
	}
	stopC := a.stop.Done()
	stopping := false
	if _, ok := first.(*CancelMsg); ok {
		stopC, stopping, wait = nil, true, s.cfg.CancelTimeout
	}
	idle := s.cfg.Clock.NewTimer(wait)
	defer idle.Stop()
	var hard clock.Timer
	var hardC <-chan time.Time
	defer func() {
		if hard != nil {
			hard.Stop()
		}
	}()
	heard := func() {
		if !stopping {
			idle.Reset(s.cfg.IdleTimeout)
		}
	}
	for {
		select {
		case m, ok := <-c.frames:
			if !ok {
				out.err = fmt.Errorf("compute: stream from %s: %w", p, c.readErr())
				if errors.Is(out.err, ErrMalformed) {
					out.bad = true
				}
				return out
			}
			switch m := m.(type) {
			case *AcceptMsg:
				out.accepted = true
				t.mu.Lock()
				if a.rec.State == AttemptSent {
					a.rec.State = AttemptQueued
				}
				t.mu.Unlock()
				heard()
			case *StatusMsg:
				if !out.accepted {
					out.err, out.bad = fmt.Errorf("%w: %s sent a status before accepting", ErrMalformed, p), true
					return out
				}
				if m.Running && hard == nil {
					t.setAttemptState(a, AttemptRunning)
					hard = s.cfg.Clock.NewTimer(t.spec.Limits.WallTime + s.cfg.AttemptSlack)
					hardC = hard.C()
				}
				heard()
			case *OutputMsg:
				if !out.accepted {
					out.err, out.bad = fmt.Errorf("%w: %s sent output before accepting", ErrMalformed, p), true
					return out
				}
				if err := t.addOutput(a, m); err != nil {
					out.err, out.bad = fmt.Errorf("compute: output from %s: %w", p, err), true
					return out
				}
				heard()
			case *ResultMsg:
				_, h, err := m.Verify(string(t.id), s.self, p, s.host.Peerstore().PubKey(p))
				if err != nil {
					out.err, out.bad = fmt.Errorf("compute: result from %s: %w", p, err), true
					return out
				}
				out.end, out.msg, out.hash, graceful = convResult, m, h, true
				return out
			case *RefuseMsg:
				out.end, out.refuse, graceful = convRefused, m, true
				return out
			default:
				out.err, out.bad = fmt.Errorf("%w: %s sent a message of type %d", ErrMalformed, p, m.Type()), true
				return out
			}
		case <-idle.C():
			out.err = fmt.Errorf("compute: no word from %s for %v", p, s.cfg.IdleTimeout)
			if stopping {
				out.err = fmt.Errorf("compute: %s did not confirm the cancel within %v", p, s.cfg.CancelTimeout)
			}
			return out
		case <-hardC:
			out.err = fmt.Errorf("compute: %s still runs the task %v after its wall-time limit", p, s.cfg.AttemptSlack)
			return out
		case <-stopC:
			stopC, stopping = nil, true
			if err := c.write(&CancelMsg{TaskID: string(t.id)}); err != nil {
				out.err = fmt.Errorf("compute: send cancel to %s: %w", p, err)
				return out
			}
			idle.Reset(s.cfg.CancelTimeout)
		case <-a.ctx.Done():
			out.end = convAbandoned
			return out
		}
	}
}

// resultEvent turns a provider's result into the attempt's event.
func (t *task) resultEvent(m *ResultMsg, h [32]byte) event {
	switch {
	case m.State == StateCancelled:
		return event{kind: evCancelled, msg: m}
	case m.Kind == "":
		return event{
			kind: evFail, msg: m, err: fmt.Errorf("compute: the provider failed the task: %s", m.Reason),
			lost: crashReason(m.Reason), fault: m.Reason != queue.ReasonDeadline,
		}
	}
	return event{kind: evAnswer, msg: m, hash: h}
}

// runLocal runs an attempt on this node: in its own execution queue, as
// its runner runs tasks of peers, without the network. A stored attempt
// is re-attached the same way: its job is found in the queue (or queued
// again if it never got there).
func (t *task) runLocal(a *attempt) event {
	s := t.s
	if s.execQ == nil {
		return event{kind: evFail, err: errors.New("compute: this node does not offer compute")}
	}
	id := jobID(s.self, string(t.id))
	_, err := s.execQ.Enqueue(a.ctx, queue.Job{
		ID: id, Owner: s.self.String(), Priority: t.spec.Priority, CrashPolicy: t.spec.CrashPolicy.queue(),
		Deadline: t.spec.Deadline, Payload: t.sub.task,
	})
	switch {
	case err == nil, errors.Is(err, queue.ErrExists):
	case errors.Is(err, queue.ErrFull):
		m := &RefuseMsg{Code: RefuseBusy, RetryAfter: s.cfg.RetryAfter, Reason: err.Error()}
		return event{kind: evRefuse, refuse: m, err: &refusedError{Provider: s.self, RefuseMsg: *m}}
	case a.ctx.Err() != nil, errors.Is(err, queue.ErrClosed):
		return event{kind: evAbandoned}
	default:
		return event{kind: evFail, err: fmt.Errorf("compute: queue locally: %w", err)}
	}
	t.setAttemptState(a, AttemptQueued)
	type waited struct {
		j   queue.Job
		err error
	}
	ctx, cancel := context.WithCancel(a.ctx)
	defer cancel()
	ch := make(chan waited, 1)
	t.wg.Go(func() {
		j, err := s.execQ.Wait(ctx, id)
		ch <- waited{j, err}
	})
	stop := a.stop.Done()
	for {
		select {
		case w := <-ch:
			switch {
			case w.err == nil:
			case a.ctx.Err() != nil, errors.Is(w.err, queue.ErrClosed):
				return event{kind: evAbandoned}
			default:
				return event{kind: evFail, err: fmt.Errorf("compute: local run: %w", w.err), lost: true}
			}
			m := jobResult(w.j)
			_, h, err := m.decodeOutput()
			if err != nil {
				return event{kind: evFail, err: err, lost: true}
			}
			return t.resultEvent(m, h)
		case <-stop:
			stop = nil
			if _, err := s.execQ.Cancel(context.WithoutCancel(a.ctx), id); err != nil && !errors.Is(err, queue.ErrBadTransition) {
				s.log.Warn("cancelling a local run", "task", t.id, "err", err)
			}
		}
	}
}
