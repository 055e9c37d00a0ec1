package compute

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base32"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/fog-compute/fog/compute/placement"
	"github.com/fog-compute/fog/compute/queue"
	"github.com/fog-compute/fog/compute/runner"
	"github.com/fog-compute/fog/compute/wasm"
	"github.com/fog-compute/fog/gossip"
	"github.com/fog-compute/fog/store"
)

// submitter is the half of a Service that submits tasks to the network:
// the submission queue, the tasks being placed and run, the per-provider
// records and breakers, the placement state and the tasks waiting for
// room. Its lock is its own; it never holds it while taking the
// provider half's.
type submitter struct {
	*base
	ds   *store.Datastore // the attempt records
	dir  *gossip.Directory
	subQ *queue.Queue
	prov *provider // this node's own provider half: its reservations count as load

	mu       sync.Mutex
	tasks    map[TaskID]*task    // tasks being placed or run by this process
	fresh    map[TaskID]struct{} // submitted by this process and not started
	book     map[peer.ID]*providerState
	pick     placement.PickState
	waiters  []*task       // tasks waiting for room, woken one at a time
	roomGen  uint64        // counts the times room appeared
	nWaiting int           // tasks that could not place all their attempts
	gate     chan struct{} // closed (and replaced) when nWaiting drops
	lastErr  error         // the last failure to persist a task's state

	submitted, done, failed, cancelled, attempts, lost, refusals, reattached atomic.Uint64
}

// providerRecords returns what this node learnt about each provider it sent
// attempts to, sorted by peer ID.
func (s *submitter) providerRecords() []ProviderRecord {
	now := s.cfg.Clock.Now()
	s.mu.Lock()
	out := make([]ProviderRecord, 0, len(s.book))
	for _, p := range s.book {
		r := p.rec
		r.Breaker = p.breaker.State(now)
		out = append(out, r)
	}
	s.mu.Unlock()
	sortRecords(out)
	return out
}

// providerRecord returns the record of one provider.
func (s *submitter) providerRecord(p peer.ID) (ProviderRecord, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ps, ok := s.book[p]
	if !ok {
		return ProviderRecord{}, false
	}
	r := ps.rec
	r.Breaker = ps.breaker.State(s.cfg.Clock.Now())
	return r, true
}

// stats adds the submitter's counters to st.
func (s *submitter) stats(st *Stats) {
	st.Submitted, st.Done, st.Failed, st.Cancelled = s.submitted.Load(), s.done.Load(), s.failed.Load(), s.cancelled.Load()
	st.Attempts, st.Lost, st.Refusals, st.Reattached = s.attempts.Load(), s.lost.Load(), s.refusals.Load(), s.reattached.Load()
	s.mu.Lock()
	st.InFlight = len(s.tasks)
	tasks := make([]*task, 0, len(s.tasks))
	for _, t := range s.tasks {
		tasks = append(tasks, t)
	}
	s.mu.Unlock()
	for _, t := range tasks {
		t.mu.Lock()
		if t.waiting != "" {
			st.Waiting++
		}
		t.mu.Unlock()
	}
}

// health returns the last failure to persist a task's state.
func (s *submitter) health() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lastErr
}

// providerState is what the submitter keeps per provider.
type providerState struct {
	rec       ProviderRecord
	breaker   *placement.Breaker
	fullUntil time.Time // refused as busy: not asked again before
	inflight  int       // this node's attempts there
}

// providerLocked returns p's state, creating it (and evicting the least
// recently updated idle record beyond Config.MaxProviderRecords). s.mu
// must be held.
func (s *submitter) providerLocked(p peer.ID, now time.Time) *providerState {
	if ps, ok := s.book[p]; ok {
		return ps
	}
	if len(s.book) >= s.cfg.MaxProviderRecords {
		var oldest peer.ID
		var at time.Time
		for id, ps := range s.book {
			if ps.inflight == 0 && (oldest == "" || ps.rec.Updated.Before(at)) {
				oldest, at = id, ps.rec.Updated
			}
		}
		if oldest != "" {
			delete(s.book, oldest)
		}
	}
	ps := &providerState{rec: ProviderRecord{Peer: p, Updated: now}, breaker: placement.NewBreaker(s.cfg.Breaker)}
	s.book[p] = ps
	return ps
}

// signalRoom is told that room may have appeared (an attempt or a job
// ended): it wakes the first task waiting for room. That task passes the
// wake on if it cannot use the room for reasons of its own, or if it
// could place everything it needed (there may be more room); so a
// completion costs one or two placement tries, not one per waiting task.
func (s *submitter) signalRoom() {
	s.mu.Lock()
	s.roomGen++
	s.passLocked()
	s.mu.Unlock()
}

// passLocked wakes the first waiting task. s.mu must be held.
func (s *submitter) passLocked() {
	if len(s.waiters) == 0 {
		return
	}
	t := s.waiters[0]
	s.waiters[0] = nil
	s.waiters = s.waiters[1:]
	t.queued = false
	t.nudge()
}

// waitLocked makes t wait for room after a failed placement that began
// when the room generation was gen. woken says a room signal woke t;
// full, that candidates exist but are full (so the room is gone, rather
// than unusable by t alone). s.mu must be held.
func (s *submitter) waitLocked(t *task, gen uint64, woken, full bool) {
	if woken && !full && t.triedGen != s.roomGen {
		s.passLocked() // the room is not for t; once round the waiters at most
	}
	t.triedGen = s.roomGen
	if s.roomGen != gen {
		t.nudge() // room appeared while t was choosing: look again
		return
	}
	if t.queued {
		return
	}
	t.queued = true
	if woken && full {
		s.waiters = slices.Insert(s.waiters, 0, t) // it keeps its turn
	} else {
		s.waiters = append(s.waiters, t)
	}
}

// unwait takes t out of the waiting tasks; woken passes its wake on.
func (s *submitter) unwait(t *task, woken bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t.queued {
		s.waiters = slices.DeleteFunc(s.waiters, func(x *task) bool { return x == t })
		t.queued = false
	}
	if woken {
		s.passLocked()
	}
}

// countWaiting counts a task starting (+1) or ending (-1) its wait for
// room; the placement loop takes no new task while Config.MaxWaiting
// wait.
func (s *submitter) countWaiting(d int) {
	s.mu.Lock()
	s.nWaiting += d
	if d < 0 {
		close(s.gate)
		s.gate = make(chan struct{})
	}
	s.mu.Unlock()
}

// waitGate returns once fewer than Config.MaxWaiting tasks wait for room.
func (s *submitter) waitGate(ctx context.Context) bool {
	for {
		s.mu.Lock()
		n, ch := s.nWaiting, s.gate
		s.mu.Unlock()
		if n < s.cfg.MaxWaiting {
			return true
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return false
		}
	}
}

// persistFailed records the failure of a write of a task's state for
// Health (nil clears it).
func (s *submitter) persistFailed(err error) {
	s.mu.Lock()
	s.lastErr = err
	s.mu.Unlock()
	if err != nil {
		s.log.Error("persisting task state", "err", err)
	}
}

// idEncoding is the alphabet of task IDs: base32 with digits first, so
// that IDs sort as their bytes.
var idEncoding = base32.NewEncoding("0123456789abcdefghijklmnopqrstuv").WithPadding(base32.NoPadding)

// newTaskID returns 26 characters encoding the time in nanoseconds and 64
// random bits.
func newTaskID(now time.Time) TaskID {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], uint64(now.UnixNano()))
	_, _ = rand.Read(b[8:])
	return TaskID(idEncoding.EncodeToString(b[:]))
}

// submit implements Service.Submit.
func (s *submitter) submit(ctx context.Context, spec Spec, module []byte) (TaskID, error) {
	if s.closed.Load() {
		return "", ErrClosed
	}
	if len(module) > 0 && spec.Module == (wasm.ModuleID{}) {
		spec.Module = wasm.IDOf(module)
	}
	if err := s.resolve(&spec, s.cfg.Clock.Now()); err != nil {
		return "", err
	}
	if len(module) > 0 {
		// Checks the bytes against spec.Module (wasm.ErrHashMismatch).
		if err := s.blob.Store().PutVerified(ctx, spec.Module, module); err != nil {
			return "", fmt.Errorf("%w: %w", ErrModule, err)
		}
	} else if !s.blob.Store().Has(spec.Module) {
		if _, err := s.blob.Fetch(ctx, spec.Module); err != nil {
			return "", fmt.Errorf("%w: %s: %w", ErrModule, spec.Module, err)
		}
	}
	payload, err := encodeSpec(&spec)
	if err != nil {
		return "", err
	}
	id := newTaskID(s.cfg.Clock.Now())
	if err := s.lockPayment(ctx, id, &spec); err != nil {
		return "", err
	}
	s.mu.Lock()
	s.fresh[id] = struct{}{}
	s.mu.Unlock()
	_, err = s.subQ.Enqueue(ctx, queue.Job{
		ID: string(id), Priority: spec.Priority, Deadline: spec.Deadline,
		CrashPolicy: queue.CrashRerun, MaxAttempts: submitMaxStarts, Payload: payload,
	})
	if err != nil {
		s.mu.Lock()
		delete(s.fresh, id)
		s.mu.Unlock()
		if errors.Is(err, queue.ErrClosed) {
			return "", ErrClosed
		}
		return "", fmt.Errorf("compute: submit: %w", err)
	}
	s.submitted.Add(1)
	return id, nil
}

// submitMaxStarts bounds how often a submitted task is taken up again
// after the submitting node crashed while placing it.
const submitMaxStarts = 100

// resolve checks spec and fills its defaults from the config.
func (s *submitter) resolve(spec *Spec, now time.Time) error {
	if err := spec.Validate(); err != nil {
		return err
	}
	c := &s.cfg
	spec.Replicas, spec.Quorum = spec.replicas(), spec.quorum()
	if spec.Strategy == "" {
		spec.Strategy = c.DefaultStrategy
	}
	if spec.CrashPolicy == "" {
		spec.CrashPolicy = CrashRerun
	}
	l := &spec.Limits
	if l.MemoryPages == 0 {
		l.MemoryPages = c.DefaultLimits.MemoryPages
	}
	if l.WallTime == 0 {
		l.WallTime = c.DefaultLimits.WallTime
	}
	if l.OutputBytes == 0 {
		l.OutputBytes = c.DefaultLimits.OutputBytes
	}
	if spec.Deadline.IsZero() {
		spec.Deadline = now.Add(c.DefaultDeadline)
	}
	if e := l.above(c.MaxLimits); e != nil {
		e.Reason += " (this node's maximum)"
		return e
	}
	switch {
	case len(spec.Stdin) > c.MaxStdinBytes:
		return &SpecError{"stdin", fmt.Sprintf("%d bytes exceeds this node's maximum of %d", len(spec.Stdin), c.MaxStdinBytes)}
	case spec.argsSize() > c.MaxArgsBytes:
		return &SpecError{"args", fmt.Sprintf("args and env take %d bytes, more than this node's maximum of %d", spec.argsSize(), c.MaxArgsBytes)}
	case !spec.Deadline.After(now):
		return &SpecError{"deadline", fmt.Sprintf("%s has passed", spec.Deadline.Format(time.RFC3339))}
	}
	return nil
}

// status implements Service.Status.
func (s *submitter) status(ctx context.Context, id TaskID) (Status, error) {
	if !validTaskID(string(id)) {
		return Status{}, fmt.Errorf("%w: %q", ErrNotFound, id)
	}
	j, err := s.subQ.Get(ctx, string(id))
	if err != nil {
		return Status{}, s.queueErr(id, err)
	}
	return s.statusOf(j)
}

func (s *submitter) queueErr(id TaskID, err error) error {
	switch {
	case errors.Is(err, queue.ErrNotFound):
		return fmt.Errorf("%w: %s", ErrNotFound, id)
	case errors.Is(err, queue.ErrClosed):
		return ErrClosed
	}
	return fmt.Errorf("compute: %w", err)
}

// statusOf builds the status of a task from its job.
func (s *submitter) statusOf(j queue.Job) (Status, error) {
	spec, err := decodeSpec(j.Payload)
	if err != nil {
		return Status{}, err
	}
	if j.State == queue.StateRunning {
		// The queue is the authority on the state; the task's goroutine
		// knows its attempts.
		s.mu.Lock()
		t := s.tasks[TaskID(j.ID)]
		s.mu.Unlock()
		if t != nil {
			return t.status(), nil
		}
	}
	st := baseStatus(TaskID(j.ID), &spec, j)
	if j.State.Terminal() && len(j.Result) > 0 {
		o, err := decodeOutcome(j.Result)
		if err != nil {
			return st, err
		}
		st.Attempts, st.Refusals = o.Attempts, o.Refusals
	}
	return st, nil
}

func baseStatus(id TaskID, spec *Spec, j queue.Job) Status {
	name := ""
	if len(spec.Args) > 0 {
		name = spec.Args[0]
	}
	return Status{
		ID: id, State: stateOf(j.State), Error: j.Error, Module: spec.Module.String(), Name: name,
		Replicas: spec.Replicas, Quorum: spec.Quorum, Strategy: spec.Strategy, Priority: spec.Priority,
		Deadline: spec.Deadline, Attempts: []Attempt{}, Created: j.Created, Finished: j.Finished,
	}
}

// spec implements Service.Spec.
func (s *submitter) spec(ctx context.Context, id TaskID) (Spec, error) {
	if !validTaskID(string(id)) {
		return Spec{}, fmt.Errorf("%w: %q", ErrNotFound, id)
	}
	j, err := s.subQ.Get(ctx, string(id))
	if err != nil {
		return Spec{}, s.queueErr(id, err)
	}
	return decodeSpec(j.Payload)
}

// result implements Service.Result.
func (s *submitter) result(ctx context.Context, id TaskID) (Result, error) {
	if !validTaskID(string(id)) {
		return Result{}, fmt.Errorf("%w: %q", ErrNotFound, id)
	}
	j, err := s.subQ.Get(ctx, string(id))
	if err != nil {
		return Result{}, s.queueErr(id, err)
	}
	if !j.State.Terminal() {
		return Result{}, fmt.Errorf("%w: %s is %s", ErrNotFinished, id, stateOf(j.State))
	}
	s.forget(id)
	return s.resultOf(j)
}

// output implements Service.Output.
func (s *submitter) output(ctx context.Context, id TaskID, stdoutOff, stderrOff int) (Output, error) {
	if !validTaskID(string(id)) {
		return Output{}, fmt.Errorf("%w: %q", ErrNotFound, id)
	}
	stdoutOff, stderrOff = max(stdoutOff, 0), max(stderrOff, 0)
	j, err := s.subQ.Get(ctx, string(id))
	if err != nil {
		return Output{}, s.queueErr(id, err)
	}
	o := Output{ID: id, State: stateOf(j.State), StdoutOffset: stdoutOff, StderrOffset: stderrOff}
	if j.State.Terminal() {
		res, err := s.resultOf(j)
		if err != nil {
			return o, err
		}
		o.Stdout, o.Stderr = window(res.Stdout, stdoutOff), window(res.Stderr, stderrOff)
		return o, nil
	}
	s.mu.Lock()
	t := s.tasks[id]
	s.mu.Unlock()
	if t == nil {
		return o, nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	a := t.shownLocked()
	if a == nil {
		return o, nil
	}
	o.Live, o.Attempt = true, a.rec.N
	switch {
	case a.rec.State == AttemptAnswered:
		// Its whole output, signed (or this node's own).
		res, _, err := a.rec.answer().DecodeOutput()
		if err != nil {
			return o, err
		}
		o.Stdout, o.Stderr = window(res.Stdout, stdoutOff), window(res.Stderr, stderrOff)
	case a.rec.Local:
		if live := s.run.Output(jobID(s.self, string(id))); live != nil {
			o.Stdout, o.Stderr = live.Read(stdoutOff, stderrOff, 0)
		}
	case t.live != nil && t.live.n == a.rec.N:
		o.Stdout = bytes.Clone(window(t.live.stdout, stdoutOff))
		o.Stderr = bytes.Clone(window(t.live.stderr, stderrOff))
	}
	return o, nil
}

// shownLocked returns the attempt whose output a running task shows: a run
// on this node if it has one (its output is at hand at once), else the
// first remote attempt that streamed output; nil if none. An attempt
// that failed or was cancelled is not shown. t.mu is held.
func (t *task) shownLocked() *attempt {
	var remote *attempt
	for _, a := range t.attempts {
		if a.rec.State == AttemptFailed || a.rec.State == AttemptCancelled {
			continue
		}
		if a.rec.Local && t.s.run != nil {
			return a
		}
		if t.live != nil && t.live.n == a.rec.N {
			remote = a
		}
	}
	return remote
}

// window returns b from off (nothing if off is beyond it).
func window(b []byte, off int) []byte {
	if off >= len(b) {
		return nil
	}
	return b[off:]
}

// wait implements Service.Wait.
func (s *submitter) wait(ctx context.Context, id TaskID) (Result, error) {
	if !validTaskID(string(id)) {
		return Result{}, fmt.Errorf("%w: %q", ErrNotFound, id)
	}
	j, err := s.subQ.Wait(ctx, string(id))
	if err != nil {
		if ctx.Err() != nil {
			return Result{}, ctx.Err()
		}
		return Result{}, s.queueErr(id, err)
	}
	s.forget(id)
	return s.resultOf(j)
}

// forget drops a finished task from the tasks submitted by this process
// and never started (the queue may have failed it at its deadline).
func (s *submitter) forget(id TaskID) {
	s.mu.Lock()
	delete(s.fresh, id)
	s.mu.Unlock()
}

// resultOf builds a finished task's result from its job.
func (s *submitter) resultOf(j queue.Job) (Result, error) {
	spec, err := decodeSpec(j.Payload)
	if err != nil {
		return Result{}, err
	}
	r := Result{ID: TaskID(j.ID), State: stateOf(j.State), Error: j.Error, Replicas: spec.Replicas, Quorum: spec.Quorum, Providers: []peer.ID{}}
	if len(j.Result) == 0 {
		return r, nil
	}
	o, err := decodeOutcome(j.Result)
	if err != nil {
		return r, err
	}
	r.Kind, r.Agreed, r.ResultHash, r.Answers, r.Disagreeing = o.Kind, o.Agreed, o.Hash, o.Answers, o.Disagreeing
	if o.Providers != nil {
		r.Providers = o.Providers
	}
	if len(o.Output) > 0 {
		res, err := runner.DecodeResult(o.Output)
		if err != nil {
			return r, fmt.Errorf("compute: stored output: %w", err)
		}
		r.ExitCode, r.Stdout, r.Stderr, r.GuestError = res.ExitCode, res.Stdout, res.Stderr, res.Err
		r.Truncated, r.NonDeterministic = res.Truncated, res.NonDeterministic
		r.Usage = Usage{WallTime: res.Usage.Wall, PeakMemoryBytes: res.Usage.PeakMemoryBytes}
	}
	return r, nil
}

// cancel implements Service.Cancel.
func (s *submitter) cancel(ctx context.Context, id TaskID) (Status, error) {
	if !validTaskID(string(id)) {
		return Status{}, fmt.Errorf("%w: %q", ErrNotFound, id)
	}
	j, err := s.subQ.Cancel(ctx, string(id))
	if err != nil {
		if errors.Is(err, queue.ErrBadTransition) {
			return Status{}, fmt.Errorf("%w: %s", ErrFinished, id)
		}
		return Status{}, s.queueErr(id, err)
	}
	if j.State == queue.StateCancelled {
		s.cancelled.Add(1)
		s.mu.Lock()
		delete(s.fresh, id)
		s.mu.Unlock()
	}
	return s.status(ctx, id)
}

// list implements Service.List.
func (s *submitter) list(ctx context.Context, f ListFilter) ([]Status, error) {
	qf := queue.Filter{Limit: f.Limit, Newest: true}
	if f.State != "" {
		st, err := queue.ParseState(string(f.State))
		if err != nil {
			return nil, fmt.Errorf("%w: state %q", ErrInvalidSpec, f.State)
		}
		qf.State = st
	}
	jobs, err := s.subQ.List(ctx, qf)
	if err != nil {
		if errors.Is(err, queue.ErrClosed) {
			return nil, ErrClosed
		}
		return nil, fmt.Errorf("compute: %w", err)
	}
	out := make([]Status, 0, len(jobs))
	for _, j := range jobs {
		st, err := s.statusOf(j)
		if err != nil {
			return nil, err
		}
		out = append(out, st)
	}
	return out, nil
}

func hexHash(h [32]byte) string { return hex.EncodeToString(h[:]) }
