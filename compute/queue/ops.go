package queue

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/fog-compute/fog/internal/clock"
)

// Enqueue adds a job to the queue and returns it as stored (ID, state
// queued, Seq and Created set). It returns once the job is durable.
//
// It reads ID, Owner, Priority, CrashPolicy, MaxAttempts, Deadline and
// Payload from j (Payload is copied). An empty ID is replaced by a
// generated one; a given ID must not name a job the store holds
// (ErrExists), finished ones included until their records expire. It fails
// with ErrInvalidJob, ErrTooLarge, ErrFull or ErrClosed.
func (q *Queue) Enqueue(ctx context.Context, j Job) (Job, error) {
	if err := q.begin(ctx); err != nil {
		return Job{}, err
	}
	defer q.ops.Done()
	now := q.cfg.Clock.Now()
	generated := j.ID == ""
	if generated {
		j.ID = newID(now)
	}
	switch {
	case len(j.ID) > MaxIDLen:
		return Job{}, fmt.Errorf("%w: ID of %d bytes, limit %d", ErrInvalidJob, len(j.ID), MaxIDLen)
	case len(j.Owner) > MaxOwnerLen:
		return Job{}, fmt.Errorf("%w: Owner of %d bytes, limit %d", ErrInvalidJob, len(j.Owner), MaxOwnerLen)
	case j.CrashPolicy > CrashFail:
		return Job{}, fmt.Errorf("%w: unknown CrashPolicy %d", ErrInvalidJob, j.CrashPolicy)
	case !j.Deadline.IsZero() && !j.Deadline.After(now):
		return Job{}, fmt.Errorf("%w: Deadline %v has passed", ErrInvalidJob, j.Deadline)
	}
	if j.MaxAttempts == 0 {
		j.MaxAttempts = q.cfg.DefaultMaxAttempts
	}
	j = Job{
		ID: j.ID, Owner: j.Owner, Priority: j.Priority, State: StateQueued,
		CrashPolicy: j.CrashPolicy, MaxAttempts: j.MaxAttempts, Deadline: j.Deadline,
		Payload: bytes.Clone(j.Payload), Created: now,
	}
	if n := recordSize(&j); n > q.maxRecord {
		return Job{}, fmt.Errorf("%w: %d bytes with its payload, limit %d", ErrTooLarge, n, q.maxRecord)
	}

	q.mu.Lock()
	if q.counts.Queued+q.enqueuing >= q.cfg.MaxQueued {
		q.mu.Unlock()
		return Job{}, fmt.Errorf("%w: %d jobs queued", ErrFull, q.cfg.MaxQueued)
	}
	if _, ok := q.live[j.ID]; ok {
		q.mu.Unlock()
		return Job{}, fmt.Errorf("%w: %q", ErrExists, j.ID)
	}
	q.seq++
	j.Seq = q.seq
	e := q.newEntry(j.ID, j.Priority, j.Seq, live{deadline: unixNano(j.Deadline), id: j.ID})
	e.busy = true
	if cost := cacheCost(&j); q.cached+cost <= q.cfg.CacheBytes {
		rec := j
		e.rec, e.cached = &rec, cost
		q.cached += cost
	}
	q.live[j.ID] = e
	q.enqueuing++
	q.mu.Unlock()

	var err error
	if !generated {
		// The ID may name a finished job, which only the store knows.
		err = q.bdb.View(func(txn *badger.Txn) error {
			_, err := txn.Get(e.jobKey)
			if err == nil {
				return fmt.Errorf("%w: %q", ErrExists, j.ID)
			}
			if errors.Is(err, badger.ErrKeyNotFound) {
				return nil
			}
			return fmt.Errorf("queue: enqueue %q: %w", j.ID, err)
		})
	}
	if err == nil {
		l := live{state: StateQueued, deadline: e.live.deadline, id: j.ID}
		err = q.com.commit([]op{
			{key: e.jobKey, value: appendJob(make([]byte, 0, recordSize(&j)), &j)},
			{key: e.liveKey, value: l.encode()},
		})
	}

	q.mu.Lock()
	defer q.mu.Unlock()
	q.enqueuing--
	if err != nil {
		delete(q.live, j.ID)
		q.uncache(e)
		for _, w := range e.waiters {
			close(w) // they look again, and find no job
		}
		e.waiters = nil
		q.releaseLocked(e)
		return Job{}, err
	}
	e.live.state = StateQueued
	q.counts.Queued++
	q.releaseLocked(e)
	q.makeReady(e)
	return j, nil
}

// Get returns a job as it is durably stored, or ErrNotFound (also once a
// finished job's record expired).
func (q *Queue) Get(ctx context.Context, id string) (Job, error) {
	if err := q.begin(ctx); err != nil {
		return Job{}, err
	}
	defer q.ops.Done()
	return q.getJob(id)
}

// List returns the jobs that match f, all from one snapshot of the store:
// queued and running jobs in the order Next serves them (read from the live
// index), other selections by ID; with f.Newest, every selection by ID from
// the highest down.
func (q *Queue) List(ctx context.Context, f Filter) ([]Job, error) {
	if err := q.begin(ctx); err != nil {
		return nil, err
	}
	defer q.ops.Done()
	if f.State != 0 && !f.State.valid() {
		return nil, fmt.Errorf("queue: list: unknown state %d", f.State)
	}
	var jobs []Job
	add := func(j *Job) bool {
		if (f.State == 0 || j.State == f.State) && (f.Owner == "" || j.Owner == f.Owner) {
			jobs = append(jobs, *j)
		}
		return f.Limit > 0 && len(jobs) >= f.Limit
	}
	err := q.bdb.View(func(txn *badger.Txn) error {
		if (f.State == StateQueued || f.State == StateRunning) && !f.Newest {
			it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte(q.livePrefix), PrefetchValues: true, PrefetchSize: 100})
			defer it.Close()
			for it.Rewind(); it.Valid(); it.Next() {
				if err := ctx.Err(); err != nil {
					return err
				}
				var l live
				if err := it.Item().Value(func(v []byte) (err error) {
					l, err = decodeLive(v)
					return err
				}); err != nil {
					return err
				}
				if l.state != f.State {
					continue
				}
				j, err := q.recordTxn(txn, l.id)
				if err != nil {
					return err
				}
				l.overlay(&j)
				if add(&j) {
					return nil
				}
			}
			return nil
		}
		it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte(q.jobPrefix), PrefetchValues: true, PrefetchSize: 100, Reverse: f.Newest})
		defer it.Close()
		if f.Newest {
			// In reverse, Seek finds the last key at or before its argument;
			// 0xff sorts after every ID byte.
			it.Seek(append([]byte(q.jobPrefix), 0xff))
		} else {
			it.Rewind()
		}
		for ; it.Valid(); it.Next() {
			if err := ctx.Err(); err != nil {
				return err
			}
			v, err := it.Item().ValueCopy(nil)
			if err != nil {
				return err
			}
			j, err := decodeJob(v)
			if err != nil {
				return fmt.Errorf("key %q: %w", it.Item().Key(), err)
			}
			if !j.State.Terminal() {
				if err := q.overlayTxn(txn, &j); err != nil {
					return err
				}
			}
			if add(&j) {
				return nil
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("queue: list: %w", err)
	}
	return jobs, nil
}

// Counts returns how many jobs are queued and running, and how many
// finished in each terminal state since Open.
func (q *Queue) Counts() Counts {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.counts
}

// Next waits for a queued job, moves the first one (highest priority,
// oldest within it) to running, durably, and returns it with Attempts
// incremented and Started set. A job whose deadline passed is failed
// instead of returned. Next fails with ctx's error or ErrClosed.
func (q *Queue) Next(ctx context.Context) (Job, error) {
	if err := q.begin(ctx); err != nil {
		return Job{}, err
	}
	defer q.ops.Done()
	var wake chan struct{}
	for {
		q.mu.Lock()
		if q.closed {
			q.mu.Unlock()
			return Job{}, ErrClosed
		}
		if len(q.ready) == 0 {
			if wake == nil {
				wake = make(chan struct{}, 1)
			}
			q.sleepers = append(q.sleepers, wake)
			q.mu.Unlock()
			select {
			case <-wake:
				continue
			case <-ctx.Done():
				q.leave(wake)
				return Job{}, fmt.Errorf("queue: next: %w", ctx.Err())
			case <-q.done:
				return Job{}, ErrClosed
			}
		}
		e := q.ready[0]
		q.unready(e)
		e.busy = true
		if len(q.ready) > 0 {
			q.wakeOne() // more work: let another sleeper look
		}
		q.mu.Unlock()
		j, ok, err := q.start(e)
		if err != nil || ok {
			return j, err
		}
	}
}

// leave removes a Next that gives up from the sleepers; if it was woken
// meanwhile, it passes the wake-up on.
func (q *Queue) leave(wake chan struct{}) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if i := slices.Index(q.sleepers, wake); i >= 0 {
		q.sleepers = slices.Delete(q.sleepers, i, i+1)
		return
	}
	select {
	case <-wake:
		q.wakeOne()
	default:
	}
}

// wakeOne wakes the longest-waiting Next, if any.
func (q *Queue) wakeOne() {
	if len(q.sleepers) == 0 {
		return
	}
	w := q.sleepers[0]
	q.sleepers[0] = nil
	q.sleepers = q.sleepers[1:]
	w <- struct{}{}
}

// start moves a taken (busy, unready) queued entry to running. ok is false
// if the job was not started: its deadline had passed (it failed), or its
// record was missing.
func (q *Queue) start(e *entry) (j Job, ok bool, err error) {
	if err := q.loadRecord(e); err != nil {
		if errors.Is(err, ErrNotFound) {
			// A live index entry without its record: drop it.
			q.log.Warn("dropping a live index entry without a record", "job", e.id)
			err := q.com.commit([]op{{key: e.liveKey, delete: true}})
			q.mu.Lock()
			defer q.mu.Unlock()
			q.releaseLocked(e)
			if err != nil {
				q.makeReady(e)
				return Job{}, false, err
			}
			delete(q.live, e.id)
			q.uncache(e)
			q.counts.Queued--
			for _, w := range e.waiters {
				close(w) // they look again, and find no job
			}
			e.waiters = nil
			return Job{}, false, nil
		}
		q.requeueEntry(e)
		return Job{}, false, fmt.Errorf("queue: next: %w", err)
	}
	now := q.cfg.Clock.Now()
	if e.live.deadline != 0 && now.UnixNano() >= e.live.deadline {
		j := e.job()
		terminate(&j, StateFailed, ReasonDeadline, now)
		err := q.com.commit(q.finishOps(&j, e.jobKey, e.liveKey))
		q.applyTerminal(e, j, err)
		return Job{}, false, err
	}
	l := e.live
	l.state = StateRunning
	l.attempts++
	l.started = now.UnixNano()
	if err := q.com.commit([]op{{key: e.liveKey, value: l.encode()}}); err != nil {
		q.requeueEntry(e)
		return Job{}, false, err
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	e.live = l
	q.uncache(e)
	q.counts.Queued--
	q.counts.Running++
	q.releaseLocked(e)
	return e.job(), true, nil
}

// requeueEntry puts back a queued entry whose change failed.
func (q *Queue) requeueEntry(e *entry) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.releaseLocked(e)
	q.makeReady(e)
}

// releaseLocked clears busy and wakes the calls waiting for it, and those
// waiting on Changed: every change of a job ends here, with q.mu held
// until its effects are in place.
func (q *Queue) releaseLocked(e *entry) {
	e.busy = false
	if e.idle != nil {
		close(e.idle)
		e.idle = nil
	}
	q.changed.Notify()
}

// Changed returns a channel closed at the next change of a job (enqueued,
// started, requeued, cancelled or finished, whether the change succeeded or
// not), so that a caller can wait for a state (Get, Counts) without
// polling.
func (q *Queue) Changed() <-chan struct{} { return q.changed.Wait() }

// applyTerminal records the outcome of a commit that moved e's job (from
// queued or running) to the terminal state of j. If the commit failed, e
// keeps its state.
func (q *Queue) applyTerminal(e *entry, j Job, err error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.releaseLocked(e)
	if err != nil {
		if e.live.state == StateQueued {
			q.makeReady(e)
		}
		return
	}
	switch e.live.state {
	case StateQueued:
		q.counts.Queued--
	case StateRunning:
		q.counts.Running--
	}
	q.countTerminal(j.State)
	q.uncache(e)
	delete(q.live, e.id)
	e.onCancel = nil
	for _, w := range e.waiters {
		w <- j
	}
	e.waiters = nil
}

// acquire takes the live entry of id for a change, once no other change of
// it is in flight, if check accepts it. A job that is not live gives
// ErrNotFound or ErrBadTransition, as the store says.
func (q *Queue) acquire(ctx context.Context, id, verb string, check func(*entry) error) (*entry, error) {
	q.mu.Lock()
	for {
		if q.closed {
			q.mu.Unlock()
			return nil, ErrClosed
		}
		e := q.live[id]
		if e == nil {
			q.mu.Unlock()
			j, err := q.getJob(id)
			if err != nil {
				return nil, fmt.Errorf("queue: %s: %w", verb, err)
			}
			return nil, fmt.Errorf("%w: cannot %s job %q: it is %s", ErrBadTransition, verb, id, j.State)
		}
		if !e.busy {
			if err := check(e); err != nil {
				q.mu.Unlock()
				return nil, err
			}
			e.busy = true
			q.mu.Unlock()
			return e, nil
		}
		if e.idle == nil {
			e.idle = make(chan struct{})
		}
		idle := e.idle
		q.mu.Unlock()
		select {
		case <-idle:
		case <-ctx.Done():
			return nil, fmt.Errorf("queue: %s: %w", verb, ctx.Err())
		case <-q.done:
			return nil, ErrClosed
		}
		q.mu.Lock()
	}
}

func (q *Queue) release(e *entry) {
	q.mu.Lock()
	q.releaseLocked(e)
	q.mu.Unlock()
}

// mustBeRunning is a check for acquire.
func mustBeRunning(verb string) func(*entry) error {
	return func(e *entry) error {
		if e.live.state != StateRunning {
			return fmt.Errorf("%w: cannot %s job %q: it is %s", ErrBadTransition, verb, e.id, e.live.state)
		}
		return nil
	}
}

// runningChange returns the writes that store j, the new state of e's
// running job (terminal or queued), and e's new live state if it is
// queued.
func (q *Queue) runningChange(e *entry, j *Job) ([]op, live) {
	if j.State.Terminal() {
		return q.finishOps(j, e.jobKey, e.liveKey), live{}
	}
	l := e.live
	l.state, l.cancel, l.attempts, l.started = StateQueued, false, j.Attempts, 0
	return []op{{key: e.liveKey, value: l.encode()}}, l
}

// requeueOps are the writes of Requeue for e's running job.
func (q *Queue) requeueOps(e *entry, now time.Time) []op {
	j := e.job()
	requeueJob(&j, now)
	ops, _ := q.runningChange(e, &j)
	return ops
}

// finishRunning moves a running job to the state set by change.
func (q *Queue) finishRunning(ctx context.Context, id, verb string, change func(j *Job) error) (Job, error) {
	if err := q.begin(ctx); err != nil {
		return Job{}, err
	}
	defer q.ops.Done()
	e, err := q.acquire(ctx, id, verb, mustBeRunning(verb))
	if err != nil {
		return Job{}, err
	}
	j := e.job()
	if err := change(&j); err != nil {
		q.release(e)
		return Job{}, err
	}
	if !CanTransition(StateRunning, j.State) {
		q.release(e)
		return Job{}, fmt.Errorf("%w: %s would move job %q from running to %s", ErrBadTransition, verb, id, j.State)
	}
	ops, l := q.runningChange(e, &j)
	if err := q.com.commit(ops); err != nil {
		q.release(e) // still running
		return Job{}, fmt.Errorf("queue: %s %q: %w", verb, id, err)
	}
	if j.State.Terminal() {
		q.applyTerminal(e, j, nil)
		return j, nil
	}
	// Requeued: back to the heaps, at its old place.
	q.mu.Lock()
	defer q.mu.Unlock()
	q.releaseLocked(e)
	e.live, e.onCancel = l, nil
	if cost := cacheCost(e.rec); q.cached+cost <= q.cfg.CacheBytes {
		e.cached = cost
		q.cached += cost
	} else {
		e.rec = nil
	}
	q.counts.Running--
	q.counts.Queued++
	q.makeReady(e)
	return j, nil
}

// checkResult rejects a result that would make the record too large.
func (q *Queue) checkResult(j *Job) error {
	if n := recordSize(j); n > q.maxRecord {
		return fmt.Errorf("%w: %d bytes with its result (%d bytes), limit %d", ErrTooLarge, n, len(j.Result), q.maxRecord)
	}
	return nil
}

// MaxResultSize is the largest Result that Complete, Fail or ConfirmCancel
// can store with job j, leaving room for a reason of up to 1 KiB: a job's
// record, payload included, must fit in one store value.
func (q *Queue) MaxResultSize(j Job) int {
	j.Result, j.Error = nil, ""
	j.Finished = q.cfg.Clock.Now()
	return q.maxRecord - recordSize(&j) - 4 - 1024
}

// Complete moves a running job to done with its result, durably.
func (q *Queue) Complete(ctx context.Context, id string, result []byte) (Job, error) {
	return q.finishRunning(ctx, id, "complete", func(j *Job) error {
		terminate(j, StateDone, "", q.cfg.Clock.Now())
		j.Result = result
		return q.checkResult(j)
	})
}

// Fail moves a running job to failed, durably, with the reason it failed
// and what it produced (result may be nil).
func (q *Queue) Fail(ctx context.Context, id, reason string, result []byte) (Job, error) {
	return q.finishRunning(ctx, id, "fail", func(j *Job) error {
		terminate(j, StateFailed, reason, q.cfg.Clock.Now())
		j.Result = result
		return q.checkResult(j)
	})
}

// ConfirmCancel moves a running job whose cancel was requested to
// cancelled (Error ReasonStopped), durably, with what it produced before
// it stopped (result may be nil). A job without a cancel request gives
// ErrBadTransition.
func (q *Queue) ConfirmCancel(ctx context.Context, id string, result []byte) (Job, error) {
	return q.finishRunning(ctx, id, "confirm the cancel of", func(j *Job) error {
		if !j.CancelRequested {
			return fmt.Errorf("%w: no cancel was requested for job %q", ErrBadTransition, id)
		}
		terminate(j, StateCancelled, ReasonStopped, q.cfg.Clock.Now())
		j.Result = result
		return q.checkResult(j)
	})
}

// Requeue gives a running job back to the queue, durably, at its old place
// (its priority and Seq), without counting the attempt: for a worker that
// stops through no fault of the job (a shutdown). A job whose cancel was
// requested is cancelled instead, with ReasonStopped.
func (q *Queue) Requeue(ctx context.Context, id string) (Job, error) {
	return q.finishRunning(ctx, id, "requeue", func(j *Job) error {
		requeueJob(j, q.cfg.Clock.Now())
		return nil
	})
}

// requeueJob turns a running job into a queued one, or a cancelled one if
// a cancel was requested.
func requeueJob(j *Job, now time.Time) {
	if j.CancelRequested {
		terminate(j, StateCancelled, ReasonStopped, now)
		return
	}
	j.State = StateQueued
	j.Started = time.Time{}
	if j.Attempts > 0 {
		j.Attempts--
	}
}

// Cancel cancels a job. A queued job is cancelled at once (Error
// ReasonCancelled), durably. For a running job the cancel request is
// stored, durably, and then the functions given to NotifyCancel are called:
// whoever runs the job should stop it and call ConfirmCancel (or Complete,
// if it finished anyway). Cancel returns the job as stored; cancelling a
// running job twice is not an error. A finished job gives ErrBadTransition.
func (q *Queue) Cancel(ctx context.Context, id string) (Job, error) {
	if err := q.begin(ctx); err != nil {
		return Job{}, err
	}
	defer q.ops.Done()
	e, err := q.acquire(ctx, id, "cancel", func(e *entry) error {
		if e.live.state == StateQueued {
			q.unready(e)
		}
		return nil
	})
	if err != nil {
		return Job{}, err
	}
	if e.live.state == StateQueued {
		if err := q.loadRecord(e); err != nil {
			q.applyTerminal(e, Job{}, err) // puts it back
			return Job{}, fmt.Errorf("queue: cancel: %w", err)
		}
		j := e.job()
		terminate(&j, StateCancelled, ReasonCancelled, q.cfg.Clock.Now())
		err := q.com.commit(q.finishOps(&j, e.jobKey, e.liveKey))
		q.applyTerminal(e, j, err)
		if err != nil {
			return Job{}, fmt.Errorf("queue: cancel %q: %w", id, err)
		}
		return j, nil
	}
	// Running.
	if e.live.cancel {
		j := e.job()
		q.release(e)
		return j, nil
	}
	l := e.live
	l.cancel = true
	err = q.com.commit([]op{{key: e.liveKey, value: l.encode()}})
	q.mu.Lock()
	q.releaseLocked(e)
	if err != nil {
		q.mu.Unlock()
		return Job{}, fmt.Errorf("queue: cancel %q: %w", id, err)
	}
	e.live = l
	j := e.job()
	fs := e.onCancel
	e.onCancel = nil
	q.mu.Unlock()
	for _, f := range fs {
		f()
	}
	return j, nil
}

// NotifyCancel arranges for f to be called once a cancel is requested for
// the running job id: at once if it already was, else by the Cancel call
// that requests it, once the request is durable. f must not block (a
// context.CancelFunc is typical). It is dropped when the job leaves
// running. A job that is not running gives ErrBadTransition or ErrNotFound.
func (q *Queue) NotifyCancel(id string, f func()) error {
	q.mu.Lock()
	e := q.live[id]
	if e == nil || e.live.state != StateRunning {
		q.mu.Unlock()
		if e != nil {
			return fmt.Errorf("%w: job %q is %s, not running", ErrBadTransition, id, e.live.state)
		}
		return fmt.Errorf("%w: %q is neither queued nor running", ErrNotFound, id)
	}
	if e.live.cancel {
		q.mu.Unlock()
		f()
		return nil
	}
	e.onCancel = append(e.onCancel, f)
	q.mu.Unlock()
	return nil
}

// Wait waits until job id is done, failed or cancelled, without polling,
// and returns it. It returns at once for a finished job, and fails with
// ErrNotFound for a job that does not exist, ctx's error or ErrClosed.
func (q *Queue) Wait(ctx context.Context, id string) (Job, error) {
	if err := q.begin(ctx); err != nil {
		return Job{}, err
	}
	defer q.ops.Done()
	// A job that is neither live nor finished in the store is being
	// enqueued between the two looks; another round settles it.
	for range 100 {
		q.mu.Lock()
		if q.closed {
			q.mu.Unlock()
			return Job{}, ErrClosed
		}
		if e := q.live[id]; e != nil {
			w := make(chan Job, 1)
			e.waiters = append(e.waiters, w)
			q.mu.Unlock()
			select {
			case j, ok := <-w:
				if ok {
					return j, nil
				}
				continue // its enqueue failed: look again
			case <-ctx.Done():
				q.mu.Lock()
				if i := slices.Index(e.waiters, w); i >= 0 {
					e.waiters = slices.Delete(e.waiters, i, i+1)
				}
				q.mu.Unlock()
				return Job{}, fmt.Errorf("queue: wait: %w", ctx.Err())
			case <-q.done:
				return Job{}, ErrClosed
			}
		}
		q.mu.Unlock()
		j, err := q.getJob(id)
		if err != nil {
			return Job{}, fmt.Errorf("queue: wait: %w", err)
		}
		if j.State.Terminal() {
			return j, nil
		}
	}
	return Job{}, fmt.Errorf("%w: job %q is unfinished in the store but unknown to the queue", ErrCorrupt, id)
}

// kickExpiry tells the expiry goroutine that the earliest deadline changed.
func (q *Queue) kickExpiry() {
	select {
	case q.expiryKick <- struct{}{}:
	default:
	}
}

// expiryLoop fails queued jobs at their deadlines until Close.
func (q *Queue) expiryLoop() {
	defer q.wg.Done()
	timer := q.cfg.Clock.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	for {
		q.mu.Lock()
		pending := len(q.deadlines) > 0
		var wait time.Duration
		if pending {
			wait = clock.Until(q.cfg.Clock, time.Unix(0, q.deadlines[0].live.deadline))
		}
		q.mu.Unlock()
		if pending && wait <= 0 {
			if err := q.expire(); err == nil {
				continue
			} else {
				q.log.Error("failing jobs past their deadline", "err", err)
				wait = time.Second // retry later rather than spin on a failing store
			}
		}
		if pending {
			timer.Reset(wait)
		}
		select {
		case <-timer.C():
		case <-q.expiryKick:
			timer.Stop()
		case <-q.done:
			return
		}
	}
}

// expire fails the queued jobs whose deadline passed.
func (q *Queue) expire() error {
	now := q.cfg.Clock.Now()
	var due []*entry
	q.mu.Lock()
	for len(q.deadlines) > 0 && q.deadlines[0].live.deadline <= now.UnixNano() {
		e := q.deadlines[0]
		q.unready(e)
		e.busy = true
		due = append(due, e)
	}
	q.mu.Unlock()
	jobs := make([]Job, 0, len(due))
	reqs := make([][]op, 0, len(due))
	var readErr error
	for _, e := range due {
		if err := q.loadRecord(e); err != nil {
			readErr = err
			q.requeueEntry(e)
			continue
		}
		j := e.job()
		terminate(&j, StateFailed, ReasonDeadline, now)
		due[len(jobs)] = e
		jobs = append(jobs, j)
		reqs = append(reqs, q.finishOps(&j, e.jobKey, e.liveKey))
	}
	err := q.commitAll(reqs)
	for i, j := range jobs {
		q.applyTerminal(due[i], j, err)
	}
	return errors.Join(readErr, err)
}
