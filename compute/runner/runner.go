package runner

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"

	"golang.org/x/sync/semaphore"

	"github.com/fog-compute/fog/compute/queue"
	"github.com/fog-compute/fog/compute/wasm"
	"github.com/fog-compute/fog/internal/clock"
)

// Executor runs tasks; *wasm.Executor is one.
type Executor interface {
	// Run runs one task (see wasm.Executor.Run for the meaning of its
	// errors).
	Run(ctx context.Context, spec wasm.Spec) (wasm.Result, error)
	// Load compiles a module given with its ID.
	Load(ctx context.Context, id wasm.ModuleID, code []byte) error
	// Loaded reports whether a module is compiled and cached.
	Loaded(id wasm.ModuleID) bool
}

// ModuleSource fetches the code of a module by its ID (from the local
// store or from peers).
type ModuleSource interface {
	// Module returns the code of module id; the runner checks that it
	// hashes to id (wasm.Executor.Load).
	Module(ctx context.Context, id wasm.ModuleID) ([]byte, error)
}

// Errors of the runner itself.
var (
	// ErrRunning: Run was called while the Runner is already running.
	ErrRunning = errors.New("runner: already running")
	// ErrNotRunning: Health was called while Run is not running.
	ErrNotRunning = errors.New("runner: not running")
	// ErrMemoryBudget: a task's memory limit alone exceeds Config.Memory,
	// the memory this node gives the tasks it runs; its job fails.
	ErrMemoryBudget = errors.New("runner: the task's memory limit exceeds the memory this node gives its tasks")
)

var (
	// errCancelRequested is the cancellation cause of a task whose job was
	// cancelled.
	errCancelRequested = errors.New("runner: job cancelled")
	// errBadPayload prefixes the reason of a job whose payload is not a Task.
	errBadPayload = errors.New("invalid payload")
)

// Runner takes jobs from a Queue and runs them in an Executor, at most
// Config.Concurrency at once and within Config.Memory. It is a node service
// (Name, Run, Health).
type Runner struct {
	q    *queue.Queue
	exec Executor
	cfg  Config
	log  *slog.Logger

	slots   chan struct{}       // one token per executing task
	mem     *semaphore.Weighted // bytes of memory limits, nil if Config.Memory is 0
	running atomic.Bool

	failing atomic.Bool // lastErr != nil
	mu      sync.Mutex
	lastErr error // the last failure to persist an outcome, cleared by a success

	liveMu sync.Mutex
	live   map[string]*wasm.Live // the output of the jobs executing, by job ID
}

// New returns a Runner of the jobs of q on exec.
func New(q *queue.Queue, exec Executor, cfg Config) (*Runner, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.Real()
	}
	r := &Runner{
		q:     q,
		exec:  exec,
		cfg:   cfg,
		log:   log.With("component", "runner"),
		slots: make(chan struct{}, cfg.Concurrency),
		live:  make(map[string]*wasm.Live),
	}
	if cfg.Memory > 0 {
		r.mem = semaphore.NewWeighted(int64(cfg.Memory))
	}
	return r, nil
}

// Name returns "runner".
func (r *Runner) Name() string { return "runner" }

// Run runs jobs until ctx is cancelled, then stops the tasks still
// executing and requeues their jobs (durably, without counting the
// attempt), as it does with jobs it claimed and had not started, persists
// the outcomes of the tasks that ended, and returns nil. It calls ready
// once its workers are started. It returns an error if the queue fails (is
// closed, or its store fails); it may then be run again.
func (r *Runner) Run(ctx context.Context, ready func()) error {
	if !r.running.CompareAndSwap(false, true) {
		return ErrRunning
	}
	defer r.running.Store(false)
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		workers, completers sync.WaitGroup
		errOnce             sync.Once
		runErr              error
	)
	n := r.cfg.Concurrency + r.cfg.MaxPrefetch
	pace := newPacer(r.cfg.Concurrency, r.cfg.MaxPrefetch)
	// Outcomes are persisted by completers, so that a worker claims its next
	// job while the sync of its last outcome is in progress.
	outcomes := make(chan outcome, n)
	for range n {
		completers.Go(func() {
			for o := range outcomes {
				r.finish(runCtx, o, pace)
			}
		})
	}
	for range n {
		workers.Go(func() {
			for pace.acquire() {
				j, err := r.q.Next(runCtx)
				if err != nil {
					pace.release()
					if runCtx.Err() == nil {
						errOnce.Do(func() { runErr = fmt.Errorf("runner: %w", err) })
						cancel()
					}
					return
				}
				o, ok := r.process(runCtx, j, pace)
				pace.release()
				if ok {
					outcomes <- o
				}
			}
		})
	}
	if ready != nil {
		ready()
	}
	<-runCtx.Done()
	pace.stop()
	workers.Wait()
	close(outcomes)
	completers.Wait()
	return runErr
}

// Health reports whether the runner runs and its last attempt to persist
// an outcome succeeded.
func (r *Runner) Health(context.Context) error {
	if !r.running.Load() {
		return ErrNotRunning
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.lastErr
}

// outcome is how a claimed job's run ended, to be persisted.
type outcome struct {
	job   queue.Job
	res   wasm.Result
	err   error // from decoding the payload, loading the module or running
	cause error // why the task's context ended, if it did
}

// process runs one claimed job. ctx is the runner's: its end means
// shutdown. ok is false if the job was not running any more.
func (r *Runner) process(ctx context.Context, j queue.Job, pace *pacer) (o outcome, ok bool) {
	o.job = j
	taskCtx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	if err := r.q.NotifyCancel(j.ID, func() { cancel(errCancelRequested) }); err != nil {
		// Someone else moved the job on (it is not running any more).
		r.log.Warn("claimed job is not running", "job", j.ID, "err", err)
		return o, false
	}
	task, err := DecodeTask(j.Payload)
	if err != nil {
		o.err = fmt.Errorf("%w: %w", errBadPayload, err)
		return o, true
	}
	if o.err = r.admit(taskCtx, j.ID, &task); o.err == nil {
		start := r.cfg.Clock.Now()
		var wrote func()
		if r.cfg.Wrote != nil {
			wrote = func() { r.cfg.Wrote(j.ID) }
		}
		live := wasm.NewLive(wrote)
		r.liveMu.Lock()
		r.live[j.ID] = live
		r.liveMu.Unlock()
		if r.cfg.Started != nil {
			r.cfg.Started(j.ID)
		}
		o.res, o.err = r.execute(wasm.WithLive(taskCtx, live), &task)
		r.liveMu.Lock()
		delete(r.live, j.ID)
		r.liveMu.Unlock()
		r.leave(&task)
		pace.observe(clock.Since(r.cfg.Clock, start), 0)
	}
	o.cause = context.Cause(taskCtx)
	return o, true
}

// Output returns the output so far of job id while its task executes
// here, or nil if it does not (any more). The Live stays readable after
// the task ends; the job's result is then the authority.
func (r *Runner) Output(id string) *wasm.Live {
	r.liveMu.Lock()
	defer r.liveMu.Unlock()
	return r.live[id]
}

// memoryOf returns the memory limit t runs with, in bytes, first giving it
// Config.DefaultMemoryPages if it has none.
func (r *Runner) memoryOf(t *Task) uint64 {
	l := &t.Spec.Limits
	if l.MemoryPages == 0 {
		l.MemoryPages = r.cfg.DefaultMemoryPages
	}
	return uint64(l.MemoryPages) * wasm.PageSize
}

// admit waits until t may execute: for a free slot, then (in the order the
// tasks holding slots asked) until its memory limit fits beside those of
// the tasks executing. It fails with ErrMemoryBudget for a task that can
// never fit, and with ctx's cause if ctx ends first. On success the caller
// must call leave once t has run.
func (r *Runner) admit(ctx context.Context, id string, t *Task) error {
	need := r.memoryOf(t)
	if r.mem != nil && need > r.cfg.Memory {
		return fmt.Errorf("%w: the task asks for %d MiB, this node runs tasks within %d MiB",
			ErrMemoryBudget, need>>20, r.cfg.Memory>>20)
	}
	select {
	case r.slots <- struct{}{}:
	case <-ctx.Done():
		return context.Cause(ctx)
	}
	if r.mem == nil || r.mem.TryAcquire(int64(need)) {
		return nil
	}
	r.log.Debug("task waits for memory", "job", id, "need_mib", need>>20, "memory_mib", r.cfg.Memory>>20)
	if err := r.mem.Acquire(ctx, int64(need)); err != nil {
		<-r.slots
		return context.Cause(ctx)
	}
	return nil
}

// leave gives back the slot and memory t was admitted with.
func (r *Runner) leave(t *Task) {
	if r.mem != nil {
		r.mem.Release(int64(uint64(t.Spec.Limits.MemoryPages) * wasm.PageSize))
	}
	<-r.slots
}

// execute loads the task's module if needed and runs the task.
func (r *Runner) execute(ctx context.Context, t *Task) (wasm.Result, error) {
	id := t.Spec.Module
	for attempt := 0; ; attempt++ {
		if !r.exec.Loaded(id) {
			if err := r.load(ctx, t); err != nil {
				return wasm.Result{}, err
			}
		}
		res, err := r.exec.Run(ctx, t.Spec)
		// The module may have been evicted between Loaded and Run.
		if errors.Is(err, wasm.ErrUnknownModule) && attempt == 0 {
			continue
		}
		return res, err
	}
}

func (r *Runner) load(ctx context.Context, t *Task) error {
	id := t.Spec.Module
	code := t.Code
	if len(code) == 0 {
		if r.cfg.Modules == nil {
			return fmt.Errorf("%w: %s (the task does not carry it and the runner has no module source)", wasm.ErrUnknownModule, id)
		}
		var err error
		if code, err = r.cfg.Modules.Module(ctx, id); err != nil {
			return fmt.Errorf("runner: fetch module %s: %w", id, err)
		}
	}
	return r.exec.Load(ctx, id, code)
}

// finish persists the outcome of a run. The rule: a task that ran to its
// end, whatever its exit code and even if it trapped, is done (Result says
// how it ended); a task stopped by a limit, or that could not run, failed;
// a task stopped because its job was cancelled is cancelled; a task
// stopped because the runner stops is requeued.
func (r *Runner) finish(ctx context.Context, o outcome, pace *pacer) {
	start := r.cfg.Clock.Now()
	defer func() { pace.observe(0, clock.Since(r.cfg.Clock, start)) }()
	id, res, err := o.job.ID, o.res, o.err
	var result []byte
	if err == nil || res.Usage.Wall > 0 || len(res.Stdout)+len(res.Stderr) > 0 {
		result = EncodeResult(res)
	}
	switch {
	case err == nil:
		r.persist(ctx, id, func(ctx context.Context) (queue.Job, error) {
			done, err := r.q.Complete(ctx, id, result)
			if errors.Is(err, queue.ErrTooLarge) {
				reason := fmt.Sprintf("result too large to store: %v", err)
				res.Stdout, res.Stderr = nil, nil
				return r.q.Fail(ctx, id, reason, EncodeResult(res))
			}
			return done, err
		})
	case errors.Is(o.cause, errCancelRequested):
		r.persist(ctx, id, func(ctx context.Context) (queue.Job, error) {
			return r.q.ConfirmCancel(ctx, id, result)
		})
	case o.cause != nil && errors.Is(err, context.Canceled), errors.Is(err, wasm.ErrClosed):
		r.persist(ctx, id, func(ctx context.Context) (queue.Job, error) {
			return r.q.Requeue(ctx, id)
		})
	default:
		r.persist(ctx, id, func(ctx context.Context) (queue.Job, error) {
			failed, ferr := r.q.Fail(ctx, id, err.Error(), result)
			if errors.Is(ferr, queue.ErrTooLarge) {
				return r.q.Fail(ctx, id, err.Error(), nil)
			}
			return failed, ferr
		})
	}
}

// persist runs a queue change that must happen even while the runner
// stops, and records its failure for Health.
func (r *Runner) persist(ctx context.Context, id string, change func(context.Context) (queue.Job, error)) {
	_, err := change(context.WithoutCancel(ctx))
	if err != nil && errors.Is(err, queue.ErrBadTransition) {
		// The job was moved on meanwhile (a cancel raced the outcome).
		r.log.Warn("job changed while it ran", "job", id, "err", err)
		return
	}
	if err == nil && !r.failing.Load() {
		return
	}
	r.mu.Lock()
	r.lastErr = err
	r.failing.Store(err != nil)
	r.mu.Unlock()
	if err != nil {
		r.log.Error("persisting a job's outcome", "job", id, "err", err)
	}
}
