package compute

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"github.com/fog-compute/fog/internal/notify"
	"log/slog"
	mrand "math/rand/v2"
	"sync"
	"sync/atomic"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/fog-compute/fog/compute/blob"
	"github.com/fog-compute/fog/compute/placement"
	"github.com/fog-compute/fog/compute/queue"
	"github.com/fog-compute/fog/compute/runner"
	"github.com/fog-compute/fog/compute/wasm"
	"github.com/fog-compute/fog/compute/wire"
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
	// Payments pays for tasks with a MaxPrice, and checks that those
	// submitted here are paid for (Config.RequirePayment). Nil: tasks are
	// unpaid.
	Payments Payments
	// Seed seeds power-of-two's random draws; 0 draws a seed from
	// crypto/rand. Tests and the simulator set it to be reproducible.
	Seed uint64
}

// Service is fog compute on one node: it submits tasks to the network
// (placement, attempts, quorum) and, with Config.Offer, runs tasks for its
// peers and itself. It is a node service (Name, Run, Health) and is safe
// for concurrent use.
//
// It is made of two halves with a lock each: the submitter (tasks
// submitted here and their attempts) and the provider (the task
// protocol's streams from peers). Both share base: the node's parts, the
// execution queue and runner, and the service's lifetime.
type Service struct {
	*base
	sub  *submitter
	prov *provider

	cancel  context.CancelFunc // ends base.ctx
	mu      sync.Mutex         // orders Run's start against Close
	runWG   sync.WaitGroup     // Run
	running atomic.Bool

	closeOnce sync.Once
	closeErr  error
}

// base is what both halves of a Service share. Its fields are set by New
// and not changed after (closed excepted).
type base struct {
	cfg  Config
	log  *slog.Logger
	host host.Host
	self peer.ID
	blob *blob.Service
	// payments pays for paid tasks; nil: none are paid.
	payments Payments
	execQ    *queue.Queue   // nil unless Offer
	run      *runner.Runner // nil unless Offer

	ctx     context.Context // ends with Close
	closed  atomic.Bool
	changes notify.Signal // a task's state, attempts, refusals, waiting reason or live output, or this node's load changed
}

// load returns the local execution queue's queued and running tasks (0,
// 0 without Config.Offer).
func (b *base) load() (queued, running uint32) {
	if b.execQ == nil {
		return 0, 0
	}
	c := b.execQ.Counts()
	return uint32(c.Queued), uint32(c.Running)
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
	b := &base{cfg: cfg, log: log.With("subsystem", "compute"), host: o.Host, self: o.Host.ID(), blob: o.Blob, payments: o.Payments}
	prov := &provider{base: b, key: key, pending: make(map[peer.ID]int)}
	sub := &submitter{
		base: b, ds: o.DB.Datastore(store.PrefixCompute), dir: o.Directory, prov: prov,
		tasks: make(map[TaskID]*task), fresh: make(map[TaskID]struct{}), book: make(map[peer.ID]*providerState),
		pick: placement.PickState{Rand: mrand.New(mrand.NewPCG(seed, seed^0x6a09e667f3bcc909))},
		gate: make(chan struct{}),
	}
	prov.roomFreed = sub.signalRoom
	s := &Service{base: b, sub: sub, prov: prov}
	defer func() {
		if err != nil {
			if sub.subQ != nil {
				_ = sub.subQ.Close()
			}
			if b.execQ != nil {
				_ = b.execQ.Close()
			}
		}
	}()
	qcfg := queue.DefaultConfig()
	qcfg.ResultTTL, qcfg.Logger = cfg.ResultTTL, log.With("subsystem", "compute")
	qcfg.Namespace = cfg.SubmitNamespace
	qcfg.Clock = cfg.Clock
	if sub.subQ, err = queue.Open(ctx, o.DB, qcfg); err != nil {
		return nil, fmt.Errorf("compute: submission queue: %w", err)
	}
	if cfg.Offer {
		qcfg.Namespace = cfg.ExecNamespace
		if b.execQ, err = queue.Open(ctx, o.DB, qcfg); err != nil {
			return nil, fmt.Errorf("compute: execution queue: %w", err)
		}
		rcfg := runner.Config{
			Concurrency: cfg.Cores, MaxPrefetch: cfg.Prefetch,
			Memory: cfg.Memory, DefaultMemoryPages: cfg.DefaultLimits.MemoryPages,
			Modules: moduleSource{o.Blob}, Logger: log, Clock: cfg.Clock,
			Started: func(string) { b.changes.Notify() },
			Wrote:   func(string) { b.changes.Notify() },
		}
		if b.run, err = runner.New(b.execQ, o.Executor, rcfg); err != nil {
			return nil, fmt.Errorf("compute: %w", err)
		}
	}
	b.ctx, s.cancel = context.WithCancel(context.Background())
	if prov.srv, err = wire.Protocol.Handle(o.Host, p2p.Limits{
		Streams: cfg.MaxStreams, StreamsPerPeer: cfg.MaxStreamsPerPeer,
		Idle: cfg.IdleTimeout, Lifetime: cfg.StreamLifetime, Refuse: prov.refuseStream, Clock: cfg.Clock,
	}, prov.handleStream); err != nil {
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
		if err := s.sub.placeLoop(ctx); err != nil {
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
	return s.sub.health()
}

// Close stops serving the task protocol (streams being served are reset;
// their tasks keep their place in the queue), stops Run if it runs and
// waits for it, and closes the queues, which requeues tasks still
// running. It does not close the host, the store, the blob service or
// the executor. Close is idempotent.
func (s *Service) Close() error {
	s.closeOnce.Do(func() {
		// Under both locks: Run takes s.mu to start, a stream handler the
		// provider's to be counted, so that none starts after the waits
		// below begin.
		s.mu.Lock()
		s.prov.mu.Lock()
		s.closed.Store(true)
		s.prov.mu.Unlock()
		s.mu.Unlock()
		wire.Protocol.Unhandle(s.host)
		s.cancel()
		s.runWG.Wait()
		s.prov.wg.Wait()
		var errs []error
		if s.execQ != nil {
			errs = append(errs, s.execQ.Close())
		}
		errs = append(errs, s.sub.subQ.Close())
		s.closeErr = errors.Join(errs...)
	})
	return s.closeErr
}

// Load returns the local execution queue's queued and running tasks, for
// the node's capacity adverts (0, 0 without Config.Offer).
func (s *Service) Load() (queued, running uint32) { return s.load() }

// Changed returns a channel closed at the next change of what Status,
// Output, Load and Stats report (a task's state, attempts, refusals,
// waiting reason or live output; a job of this node's queue starting or
// ending), so that a caller can wait for a condition without polling.
func (s *Service) Changed() <-chan struct{} { return s.changes.Wait() }

// Stats returns the service's counters.
func (s *Service) Stats() Stats {
	var st Stats
	s.sub.stats(&st)
	s.prov.stats(&st)
	st.Queued, st.Running = s.load()
	return st
}

// Providers returns what this node learnt about each provider it sent
// attempts to, sorted by peer ID.
func (s *Service) Providers() []ProviderRecord { return s.sub.providerRecords() }

// Provider returns the record of one provider.
func (s *Service) Provider(p peer.ID) (ProviderRecord, bool) { return s.sub.providerRecord(p) }

// Submit checks spec, resolves its defaults (limits, replicas, quorum,
// strategy, crash policy, deadline), makes sure its module is stored here
// (module, if given, must hash to spec.Module unless that is zero; else
// the module is taken from the blob store or fetched from the DHT's
// providers), and queues the task durably: when Submit returns, the task
// survives a crash. It is placed while Run runs.
func (s *Service) Submit(ctx context.Context, spec Spec, module []byte) (TaskID, error) {
	return s.sub.submit(ctx, spec, module)
}

// Status returns a task's status.
func (s *Service) Status(ctx context.Context, id TaskID) (Status, error) {
	return s.sub.status(ctx, id)
}

// Spec returns a task's spec as Submit resolved it: the node's defaults
// filled in for the limits, replicas, quorum, strategy, crash policy and
// deadline.
func (s *Service) Spec(ctx context.Context, id TaskID) (Spec, error) {
	return s.sub.spec(ctx, id)
}

// Result returns a finished task's result, or ErrNotFinished.
func (s *Service) Result(ctx context.Context, id TaskID) (Result, error) {
	return s.sub.result(ctx, id)
}

// Output returns a task's output from the given offsets (bytes of stdout
// and of stderr the caller already has; a negative one is 0): while it
// runs, the preview of one of its attempts (see Output and shownLocked),
// its whole output once that attempt has answered; once the task has
// finished, its result's.
// Polling it with the offsets advanced by what it returned follows the
// output as it is written.
func (s *Service) Output(ctx context.Context, id TaskID, stdoutOff, stderrOff int) (Output, error) {
	return s.sub.output(ctx, id, stdoutOff, stderrOff)
}

// Wait waits until a task finishes, without polling, and returns its
// result. It fails with ctx's error, ErrNotFound or ErrClosed.
func (s *Service) Wait(ctx context.Context, id TaskID) (Result, error) {
	return s.sub.wait(ctx, id)
}

// Cancel cancels a task: at once if it is queued; otherwise its attempts
// are cancelled at their providers and the task ends cancelled (unless it
// finishes first). It returns the task's status; a finished task gives
// ErrFinished.
func (s *Service) Cancel(ctx context.Context, id TaskID) (Status, error) {
	return s.sub.cancel(ctx, id)
}

// List returns the tasks submitted here that match f, newest first (task
// IDs grow with their submission time), so a limit keeps the newest.
func (s *Service) List(ctx context.Context, f ListFilter) ([]Status, error) {
	return s.sub.list(ctx, f)
}
