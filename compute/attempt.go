package compute

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/fog-compute/fog/compute/queue"
	"github.com/fog-compute/fog/compute/wire"
	"github.com/fog-compute/fog/internal/clock"
)

// runRemote runs an attempt on a remote provider over the task protocol:
// Submit (or Attach, to re-attach an attempt stored before a restart),
// then the provider's status and signed result. A stream that breaks is
// re-attached once; a stop request is passed on as a Cancel.
func (t *task) runRemote(a *attempt, reattach bool) event {
	var first wire.Message = t.sub
	if reattach {
		first = &wire.AttachMsg{TaskID: string(t.id)}
	}
	accepted, sent := false, reattach
	for try := 0; ; try++ {
		out := t.converse(a, first)
		accepted = accepted || out.accepted
		if _, ok := first.(*wire.SubmitMsg); ok && out.sent {
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
			if _, ok := first.(*wire.SubmitMsg); !ok {
				// Attach refused: the provider does not hold the task. If it
				// had accepted it, it lost it.
				return event{kind: evFail, err: err, lost: accepted, fault: accepted}
			}
			return event{kind: evRefuse, refuse: out.refuse, err: err}
		}
		if a.stop.Err() != nil {
			if try == 0 && out.opened {
				first = &wire.CancelMsg{TaskID: string(t.id)}
				continue
			}
			return event{kind: evCancelled}
		}
		if try == 0 && out.opened && !out.bad {
			first = &wire.AttachMsg{TaskID: string(t.id)}
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
	msg      *wire.ResultMsg
	hash     [32]byte
	refuse   *wire.RefuseMsg
	err      error
	opened   bool // the stream opened: the provider was reachable
	sent     bool // the first message went out
	accepted bool // the provider said it holds the task
	bad      bool // the provider broke the protocol
	graceful bool // the conversation ended as the protocol says: close the stream, not reset it
}

// converse holds one stream with the attempt's provider, starting with
// first, until a result, a refusal, a broken stream or a timeout. It
// does the I/O and runs the timers; convState decides.
func (t *task) converse(a *attempt, first wire.Message) convOut {
	s := t.s
	p := a.rec.Provider
	var out convOut
	st, err := wire.Protocol.Open(a.ctx, s.host, p)
	if err != nil {
		if a.ctx.Err() != nil {
			out.end = convAbandoned
		} else {
			out.err = fmt.Errorf("compute: %w", err)
		}
		return out
	}
	out.opened = true
	c := newConn(st, resultFrame(t.spec.Limits.OutputBytes), s.cfg.Clock)
	graceful := false
	defer func() { c.close(graceful) }()
	if err := c.write(first); err != nil {
		out.err = fmt.Errorf("compute: send to %s: %w", p, err)
		return out
	}
	out.sent = true
	t.mu.Lock()
	state := a.rec.State
	t.mu.Unlock()
	cs, acts := newConv(convParams{
		taskID: string(t.id), submitter: s.self, provider: p, pub: s.host.Peerstore().PubKey(p),
		idle: s.cfg.IdleTimeout, accept: s.cfg.AcceptTimeout, cancel: s.cfg.CancelTimeout,
		slack: s.cfg.AttemptSlack, wallTime: t.spec.Limits.WallTime,
	}, first, state)
	var idle, hard clock.Timer
	var idleC, hardC <-chan time.Time
	defer func() {
		for _, tm := range []clock.Timer{idle, hard} {
			if tm != nil {
				tm.Stop()
			}
		}
	}()
	arm := func(tm *clock.Timer, ch *<-chan time.Time, d time.Duration) {
		if *tm == nil {
			*tm = s.cfg.Clock.NewTimer(d)
			*ch = (*tm).C()
			return
		}
		(*tm).Reset(d)
	}
	for {
		for len(acts) > 0 {
			act := acts[0]
			acts = acts[1:]
			switch act.kind {
			case actWrite:
				if err := c.write(act.msg); err != nil {
					acts = cs.step(convInput{ev: inWriteFailed, err: err})
				}
			case actIdle:
				arm(&idle, &idleC, act.d)
			case actHard:
				arm(&hard, &hardC, act.d)
			case actState:
				t.setAttemptState(a, act.state)
			case actOutput:
				if err := t.addOutput(a, act.output); err != nil {
					acts = cs.step(convInput{ev: inOutputRejected, err: err})
				}
			case actFinish:
				o := cs.out
				o.opened, o.sent = out.opened, out.sent
				graceful = o.graceful
				return o
			}
		}
		var stopC <-chan struct{}
		if !cs.stopping {
			stopC = a.stop.Done()
		}
		select {
		case m, ok := <-c.frames:
			if !ok {
				acts = cs.step(convInput{ev: inClosed, err: c.readErr()})
			} else {
				acts = cs.step(convInput{ev: inFrame, msg: m})
			}
		case <-idleC:
			acts = cs.step(convInput{ev: inIdle})
		case <-hardC:
			acts = cs.step(convInput{ev: inHard})
		case <-stopC:
			acts = cs.step(convInput{ev: inStop})
		case <-a.ctx.Done():
			acts = cs.step(convInput{ev: inAbandoned})
		}
	}
}

// resultEvent turns a provider's result into the attempt's event.
func (t *task) resultEvent(m *wire.ResultMsg, h [32]byte) event {
	switch {
	case m.State == wire.StateCancelled:
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
	task, err := t.sub.Task()
	if err != nil {
		return event{kind: evFail, err: err}
	}
	_, err = s.execQ.Enqueue(a.ctx, queue.Job{
		ID: id, Owner: s.self.String(), Priority: t.spec.Priority, CrashPolicy: t.spec.CrashPolicy.queue(),
		Deadline: t.spec.Deadline, Payload: task,
	})
	switch {
	case err == nil, errors.Is(err, queue.ErrExists):
	case errors.Is(err, queue.ErrFull):
		m := &wire.RefuseMsg{Code: wire.RefuseBusy, RetryAfter: s.cfg.RetryAfter, Reason: err.Error()}
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
			_, h, err := m.DecodeOutput()
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
