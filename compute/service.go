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
	"log/slog"
	mrand "math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/fog-compute/fog/compute/blob"
	"github.com/fog-compute/fog/compute/queue"
	"github.com/fog-compute/fog/compute/runner"
	"github.com/fog-compute/fog/compute/wasm"
	"github.com/fog-compute/fog/gossip"
	"github.com/fog-compute/fog/p2p"
	"github.com/fog-compute/fog/store"
)

// Options are New's collaborators: the node's shared parts.
type Options struct {
	// Host serves the task protocol and opens streams to providers.
	// Required.
	Host host.Host
	// DB holds the queues and the submitter's records. Required.
	DB *store.DB
	// Directory is the capacity directory placement chooses providers
	// from. Nil: only this node itself is a candidate.
	Directory *gossip.Directory
	// Blob stores the modules of submitted tasks (and serves them to
	// providers) and fetches those of accepted tasks. Required.
	Blob *blob.Service
	// Executor runs tasks; required with Config.Offer. The service does not
	// close it.
	Executor runner.Executor
	// Key signs results; nil takes the host's key from its peerstore.
	// Required (one way or the other) with Config.Offer.
	Key crypto.PrivKey
	// Seed seeds power-of-two's random draws; 0 draws a seed from
	// crypto/rand. Tests and the simulator set it to be reproducible.
	Seed uint64
}

// Service is fog compute on one node: it submits tasks to the network
// (placement, attempts, quorum) and, with Config.Offer, runs tasks for its
// peers and itself. It is a node service (Name, Run, Health) and is safe
// for concurrent use.
type Service struct {
	cfg   Config
	log   *slog.Logger
	host  host.Host
	self  peer.ID
	key   crypto.PrivKey
	ds    *store.Datastore
	dir   *gossip.Directory
	blob  *blob.Service
	execQ *queue.Queue // nil unless Offer
	run   *runner.Runner
	subQ  *queue.Queue

	ctx    context.Context // ends with Close
	cancel context.CancelFunc
	wg     sync.WaitGroup // stream handlers and their helpers
	runWG  sync.WaitGroup // Run
	closed atomic.Bool

	running atomic.Bool

	mu        sync.Mutex
	tasks     map[TaskID]*task    // tasks being placed or run by this process
	fresh     map[TaskID]struct{} // submitted by this process and not started
	book      map[peer.ID]*providerState
	pick      PickState
	waiters   []*task         // tasks waiting for room, woken one at a time
	roomGen   uint64          // counts the times room appeared
	nWaiting  int             // tasks that could not place all their attempts
	gate      chan struct{}   // closed (and replaced) when nWaiting drops
	pending   map[peer.ID]int // streams whose first message has not arrived, by peer
	srv       *p2p.Server     // serves the task protocol within its limits
	accepting int             // provider: tasks between the capacity check and their enqueue
	lastErr   error           // the last failure to persist a task's state

	submitted, done, failed, cancelled, attempts, lost, refusals, reattached,
	accepted, results, firstTimeouts atomic.Uint64
	refusedBy sync.Map // RefuseCode -> *atomic.Uint64

	closeOnce sync.Once
	closeErr  error
}

// providerState is what the submitter keeps per provider.
type providerState struct {
	rec       ProviderRecord
	breaker   *Breaker
	fullUntil time.Time // refused as busy: not asked again before
	inflight  int       // this node's attempts there
}

// New opens the service's queues in o.DB (recovering them after a crash),
// builds its runner if the node offers compute, and starts serving the
// task protocol on o.Host. Tasks can be submitted from then on; they are
// placed and run while Run runs. Close stops everything.
func New(ctx context.Context, cfg Config, o Options) (_ *Service, err error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	switch {
	case o.Host == nil:
		return nil, fmt.Errorf("%w: Options.Host is required", ErrConfig)
	case o.DB == nil:
		return nil, fmt.Errorf("%w: Options.DB is required", ErrConfig)
	case o.Blob == nil:
		return nil, fmt.Errorf("%w: Options.Blob is required", ErrConfig)
	case cfg.Offer && o.Executor == nil:
		return nil, fmt.Errorf("%w: Options.Executor is required to offer compute", ErrConfig)
	}
	if need := int64(cfg.MaxStdinBytes + cfg.MaxArgsBytes + int(cfg.MaxLimits.OutputBytes) + recordOverhead); need > o.DB.MaxValueSize() {
		return nil, fmt.Errorf("%w: MaxStdinBytes + MaxArgsBytes + MaxLimits.OutputBytes (+%d) = %d bytes exceed the store's largest value (%d)",
			ErrConfig, recordOverhead, need, o.DB.MaxValueSize())
	}
	key := o.Key
	if key == nil {
		key = o.Host.Peerstore().PrivKey(o.Host.ID())
	}
	if cfg.Offer && key == nil {
		return nil, fmt.Errorf("%w: no key to sign results (Options.Key, or the host's peerstore)", ErrConfig)
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	seed := o.Seed
	if seed == 0 {
		var b [8]byte
		_, _ = rand.Read(b[:])
		seed = binary.LittleEndian.Uint64(b[:])
	}
	s := &Service{
		cfg: cfg, log: log.With("subsystem", "compute"), host: o.Host, self: o.Host.ID(), key: key,
		ds: o.DB.Datastore(store.PrefixCompute), dir: o.Directory, blob: o.Blob,
		tasks: make(map[TaskID]*task), fresh: make(map[TaskID]struct{}), book: make(map[peer.ID]*providerState),
		pick:    PickState{Rand: mrand.New(mrand.NewPCG(seed, seed^0x6a09e667f3bcc909))},
		gate:    make(chan struct{}),
		pending: make(map[peer.ID]int),
	}
	defer func() {
		if err != nil {
			if s.subQ != nil {
				_ = s.subQ.Close()
			}
			if s.execQ != nil {
				_ = s.execQ.Close()
			}
		}
	}()
	qcfg := queue.DefaultConfig()
	qcfg.ResultTTL, qcfg.Logger = cfg.ResultTTL, log.With("subsystem", "compute")
	qcfg.Namespace = cfg.SubmitNamespace
	qcfg.Clock = cfg.Clock
	if s.subQ, err = queue.Open(ctx, o.DB, qcfg); err != nil {
		return nil, fmt.Errorf("compute: submission queue: %w", err)
	}
	if cfg.Offer {
		qcfg.Namespace = cfg.ExecNamespace
		if s.execQ, err = queue.Open(ctx, o.DB, qcfg); err != nil {
			return nil, fmt.Errorf("compute: execution queue: %w", err)
		}
		rcfg := runner.Config{
			Concurrency: cfg.Cores, MaxPrefetch: cfg.Prefetch,
			Memory: cfg.Memory, DefaultMemoryPages: cfg.DefaultLimits.MemoryPages,
			Modules: moduleSource{o.Blob}, Logger: log,
		}
		if s.run, err = runner.New(s.execQ, o.Executor, rcfg); err != nil {
			return nil, fmt.Errorf("compute: %w", err)
		}
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	if s.srv, err = Protocol.Handle(o.Host, p2p.Limits{
		Streams: cfg.MaxStreams, StreamsPerPeer: cfg.MaxStreamsPerPeer,
		Idle: cfg.IdleTimeout, Lifetime: cfg.StreamLifetime, Refuse: s.refuseStream, Clock: cfg.Clock,
	}, s.handleStream); err != nil {
		s.cancel()
		return nil, fmt.Errorf("compute: %w", err)
	}
	return s, nil
}

// moduleSource gives the runner the modules of accepted tasks: from the
// blob store, or from the DHT's providers if it was evicted meanwhile.
type moduleSource struct{ b *blob.Service }

// Module implements runner.ModuleSource.
func (m moduleSource) Module(ctx context.Context, id wasm.ModuleID) ([]byte, error) {
	return m.b.Fetch(ctx, id)
}

// Name returns "compute".
func (s *Service) Name() string { return "compute" }

// Run places and runs tasks until ctx ends (or Close): it runs the local
// runner (with Config.Offer) and the placement loop, which takes tasks
// from the submission queue, at most Config.MaxInFlight at once. When it
// stops, tasks in flight are given back to the submission queue (their
// attempts keep running at their providers and are re-attached by the next
// Run), and tasks running locally are requeued. It calls ready once
// started, returns nil when stopped by ctx, and an error if a queue
// fails; it may then be run again.
func (s *Service) Run(ctx context.Context, ready func()) error {
	s.mu.Lock()
	if s.closed.Load() {
		s.mu.Unlock()
		return ErrClosed
	}
	if !s.running.CompareAndSwap(false, true) {
		s.mu.Unlock()
		return ErrRunning
	}
	s.runWG.Add(1) // under mu, so that Close (which sets closed under mu) waits for it
	s.mu.Unlock()
	defer s.runWG.Done()
	defer s.running.Store(false)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(s.ctx, cancel)
	defer stop()

	var wg sync.WaitGroup
	errs := make(chan error, 2)
	if s.run != nil {
		started := make(chan struct{})
		wg.Go(func() {
			if err := s.run.Run(ctx, func() { close(started) }); err != nil {
				errs <- fmt.Errorf("compute: %w", err)
				cancel()
			}
		})
		select {
		case <-started:
		case <-ctx.Done():
		}
	}
	wg.Go(func() {
		if err := s.placeLoop(ctx); err != nil {
			errs <- err
			cancel()
		}
	})
	if ready != nil {
		ready()
	}
	<-ctx.Done()
	wg.Wait()
	close(errs)
	return <-errs
}

// Health reports whether the service runs, its runner works and its last
// write of a task's state succeeded.
func (s *Service) Health(ctx context.Context) error {
	if s.closed.Load() {
		return ErrClosed
	}
	if !s.running.Load() {
		return ErrNotRunning
	}
	if s.run != nil {
		if err := s.run.Health(ctx); err != nil {
			return fmt.Errorf("compute: %w", err)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lastErr
}

// Close stops serving the task protocol (streams being served are reset;
// their tasks keep their place in the queue), stops Run if it runs and
// waits for it, and closes the queues, which requeues tasks still
// running. It does not close the host, the store, the blob service or
// the executor. Close is idempotent.
func (s *Service) Close() error {
	s.closeOnce.Do(func() {
		// Under mu, so that no stream handler starts after wg.Wait begins.
		s.mu.Lock()
		s.closed.Store(true)
		s.mu.Unlock()
		Protocol.Unhandle(s.host)
		s.cancel()
		s.runWG.Wait()
		s.wg.Wait()
		var errs []error
		if s.execQ != nil {
			errs = append(errs, s.execQ.Close())
		}
		errs = append(errs, s.subQ.Close())
		s.closeErr = errors.Join(errs...)
	})
	return s.closeErr
}

// Load returns the local execution queue's queued and running tasks, for
// the node's capacity adverts (0, 0 without Config.Offer).
func (s *Service) Load() (queued, running uint32) {
	if s.execQ == nil {
		return 0, 0
	}
	c := s.execQ.Counts()
	return uint32(c.Queued), uint32(c.Running)
}

// Stats returns the service's counters.
func (s *Service) Stats() Stats {
	st := Stats{
		Submitted: s.submitted.Load(), Done: s.done.Load(), Failed: s.failed.Load(), Cancelled: s.cancelled.Load(),
		Attempts: s.attempts.Load(), Lost: s.lost.Load(), Refusals: s.refusals.Load(), Reattached: s.reattached.Load(),
		Accepted: s.accepted.Load(), Results: s.results.Load(),
		Streams: s.srv.Stats(), FirstMessageTimeouts: s.firstTimeouts.Load(),
	}
	st.Queued, st.Running = s.Load()
	s.refusedBy.Range(func(k, v any) bool {
		if st.Refused == nil {
			st.Refused = make(map[string]uint64)
		}
		st.Refused[k.(RefuseCode).String()] = v.(*atomic.Uint64).Load()
		return true
	})
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
	return st
}

// Providers returns what this node learnt about each provider it sent
// attempts to, sorted by peer ID.
func (s *Service) Providers() []ProviderRecord {
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

// Provider returns the record of one provider.
func (s *Service) Provider(p peer.ID) (ProviderRecord, bool) {
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

// providerLocked returns p's state, creating it (and evicting the least
// recently updated idle record beyond Config.MaxProviderRecords). s.mu
// must be held.
func (s *Service) providerLocked(p peer.ID, now time.Time) *providerState {
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
	ps := &providerState{rec: ProviderRecord{Peer: p, Updated: now}, breaker: NewBreaker(s.cfg.Breaker)}
	s.book[p] = ps
	return ps
}

// signalRoom is told that room may have appeared (an attempt or a job
// ended): it wakes the first task waiting for room. That task passes the
// wake on if it cannot use the room for reasons of its own, or if it
// could place everything it needed (there may be more room); so a
// completion costs one or two placement tries, not one per waiting task.
func (s *Service) signalRoom() {
	s.mu.Lock()
	s.roomGen++
	s.passLocked()
	s.mu.Unlock()
}

// passLocked wakes the first waiting task. s.mu must be held.
func (s *Service) passLocked() {
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
func (s *Service) waitLocked(t *task, gen uint64, woken, full bool) {
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
func (s *Service) unwait(t *task, woken bool) {
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
func (s *Service) countWaiting(d int) {
	s.mu.Lock()
	s.nWaiting += d
	if d < 0 {
		close(s.gate)
		s.gate = make(chan struct{})
	}
	s.mu.Unlock()
}

// waitGate returns once fewer than Config.MaxWaiting tasks wait for room.
func (s *Service) waitGate(ctx context.Context) bool {
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
func (s *Service) persistFailed(err error) {
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

// Submit checks spec, resolves its defaults (limits, replicas, quorum,
// strategy, crash policy, deadline), makes sure its module is stored here
// (module, if given, must hash to spec.Module unless that is zero; else
// the module is taken from the blob store or fetched from the DHT's
// providers), and queues the task durably: when Submit returns, the task
// survives a crash. It is placed while Run runs.
func (s *Service) Submit(ctx context.Context, spec Spec, module []byte) (TaskID, error) {
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
func (s *Service) resolve(spec *Spec, now time.Time) error {
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

// Status returns a task's status.
func (s *Service) Status(ctx context.Context, id TaskID) (Status, error) {
	if !validTaskID(string(id)) {
		return Status{}, fmt.Errorf("%w: %q", ErrNotFound, id)
	}
	j, err := s.subQ.Get(ctx, string(id))
	if err != nil {
		return Status{}, s.queueErr(id, err)
	}
	return s.statusOf(j)
}

func (s *Service) queueErr(id TaskID, err error) error {
	switch {
	case errors.Is(err, queue.ErrNotFound):
		return fmt.Errorf("%w: %s", ErrNotFound, id)
	case errors.Is(err, queue.ErrClosed):
		return ErrClosed
	}
	return fmt.Errorf("compute: %w", err)
}

// statusOf builds the status of a task from its job.
func (s *Service) statusOf(j queue.Job) (Status, error) {
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

// Spec returns a task's spec as Submit resolved it: the node's defaults
// filled in for the limits, replicas, quorum, strategy, crash policy and
// deadline.
func (s *Service) Spec(ctx context.Context, id TaskID) (Spec, error) {
	if !validTaskID(string(id)) {
		return Spec{}, fmt.Errorf("%w: %q", ErrNotFound, id)
	}
	j, err := s.subQ.Get(ctx, string(id))
	if err != nil {
		return Spec{}, s.queueErr(id, err)
	}
	return decodeSpec(j.Payload)
}

// Result returns a finished task's result, or ErrNotFinished.
func (s *Service) Result(ctx context.Context, id TaskID) (Result, error) {
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

// Output returns a task's output from the given offsets (bytes of stdout
// and of stderr the caller already has; a negative one is 0): while it
// runs, the preview of one of its attempts (see Output and shownLocked),
// its whole output once that attempt has answered; once the task has
// finished, its result's.
// Polling it with the offsets advanced by what it returned follows the
// output as it is written.
func (s *Service) Output(ctx context.Context, id TaskID, stdoutOff, stderrOff int) (Output, error) {
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
		res, _, err := a.rec.answer().decodeOutput()
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

// Wait waits until a task finishes, without polling, and returns its
// result. It fails with ctx's error, ErrNotFound or ErrClosed.
func (s *Service) Wait(ctx context.Context, id TaskID) (Result, error) {
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
func (s *Service) forget(id TaskID) {
	s.mu.Lock()
	delete(s.fresh, id)
	s.mu.Unlock()
}

// resultOf builds a finished task's result from its job.
func (s *Service) resultOf(j queue.Job) (Result, error) {
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

// Cancel cancels a task: at once if it is queued; otherwise its attempts
// are cancelled at their providers and the task ends cancelled (unless it
// finishes first). It returns the task's status; a finished task gives
// ErrFinished.
func (s *Service) Cancel(ctx context.Context, id TaskID) (Status, error) {
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
	return s.Status(ctx, id)
}

// List returns the tasks submitted here that match f, newest first (task
// IDs grow with their submission time), so a limit keeps the newest.
func (s *Service) List(ctx context.Context, f ListFilter) ([]Status, error) {
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
