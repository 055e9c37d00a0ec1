package queue

import (
	"container/heap"
	"context"
	"crypto/rand"
	"encoding/base32"
	"encoding/binary"
	"errors"
	"fmt"
	"github.com/fog-compute/fog/internal/notify"
	"log/slog"
	"sync"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/fog-compute/fog/store"
)

// Queue is a persistent priority queue of jobs in a store.DB. It is safe
// for concurrent use.
type Queue struct {
	cfg       Config
	bdb       *badger.DB
	log       *slog.Logger
	maxRecord int
	// Key prefixes: <PrefixCompute>/<ns>.job/ and <PrefixCompute>/<ns>.live/.
	jobPrefix, livePrefix string
	com                   *committer

	mu        sync.Mutex
	closed    bool
	live      map[string]*entry // queued and running jobs, and enqueues in flight
	ready     readyHeap
	deadlines deadlineHeap
	seq       uint64          // last Seq assigned
	sleepers  []chan struct{} // Next calls waiting for a job, longest first
	counts    Counts
	enqueuing int // enqueues in flight, counted against MaxQueued
	cached    int // bytes of queued jobs' records held in memory
	changed   notify.Signal

	done       chan struct{} // closed by Close
	ops        sync.WaitGroup
	expiryKick chan struct{}
	wg         sync.WaitGroup // the expiry goroutine
	closeOnce  sync.Once
	closeErr   error
}

// entry is the in-memory state of a live (queued or running) job. Its
// fields are guarded by Queue.mu.
//
// A state change takes the entry (busy), commits, then applies the new
// state to the entry and releases it: the changes of one job are
// serialized, and the state of an entry that is not busy is its durable
// state. Entries in the heaps are queued and not busy.
type entry struct {
	id      string
	jobKey  []byte
	liveKey []byte
	prio    int32
	seq     uint64
	live    live // its live index value; state 0 while its Enqueue commits
	rec     *Job // its record as enqueued, if in memory (always while running)
	cached  int  // bytes of rec charged to Config.CacheBytes

	readyIdx, deadlineIdx int // positions in the heaps; -1 when out

	busy     bool
	idle     chan struct{} // closed when busy clears, if someone waits
	onCancel []func()      // called when a cancel is requested while running
	waiters  []chan Job    // Wait calls; closed without a value if the enqueue fails
}

// job returns the entry's job as stored: its record and its live state.
func (e *entry) job() Job {
	j := *e.rec
	e.live.overlay(&j)
	return j
}

// Open opens the queue kept in db under Config.Namespace and recovers it:
// every job the store holds as running (the node stopped without a clean
// shutdown while it ran) is requeued or failed according to its
// CrashPolicy, or cancelled if a cancel had been requested, and the ready
// heap is rebuilt from the live index. The queue's changes are durable
// before they are acknowledged if db syncs its writes
// (store.Config.SyncWrites). The Queue does not close db.
func Open(ctx context.Context, db *store.DB, cfg Config) (*Queue, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	q := &Queue{
		cfg:        cfg,
		bdb:        db.Badger(),
		log:        log.With("component", "queue", "namespace", cfg.Namespace),
		maxRecord:  int(db.MaxValueSize()),
		jobPrefix:  kindPrefix(cfg.Namespace + ".job"),
		livePrefix: kindPrefix(cfg.Namespace + ".live"),
		live:       make(map[string]*entry),
		done:       make(chan struct{}),
		expiryKick: make(chan struct{}, 1),
	}
	q.com = newCommitter(q.bdb, db.CheckSpace, q.maxRecord)
	if err := q.recover(ctx); err != nil {
		q.com.close()
		return nil, err
	}
	q.wg.Add(1)
	go q.expiryLoop()
	return q, nil
}

// kindPrefix is the common start of the keys store.PrefixCompute.Key(kind, id).
func kindPrefix(kind string) string {
	k := store.PrefixCompute.Key(kind, "x").String()
	return k[:len(k)-1]
}

// jobKey is store.PrefixCompute.Key(<ns>.job, id), built without
// cleaning the (already clean) prefix again.
func (q *Queue) jobKey(id string) []byte {
	return []byte(string(store.PrefixCompute) + store.Key(q.cfg.Namespace+".job", id).String())
}

// liveKey is <livePrefix><hex of order>; hex digits need no escaping, so
// it is what store.PrefixCompute.Key would make.
func (q *Queue) liveKey(prio int32, seq uint64) []byte {
	const digits = "0123456789abcdef"
	o := order(prio, seq)
	k := make([]byte, 0, len(q.livePrefix)+2*orderLen)
	k = append(k, q.livePrefix...)
	for _, b := range o {
		k = append(k, digits[b>>4], digits[b&15])
	}
	return k
}

func (q *Queue) newEntry(id string, prio int32, seq uint64, l live) *entry {
	return &entry{id: id, jobKey: q.jobKey(id), liveKey: q.liveKey(prio, seq), prio: prio, seq: seq,
		live: l, readyIdx: -1, deadlineIdx: -1}
}

// idEncoding is the alphabet of generated IDs: base32 with digits first,
// so that IDs sort as their bytes.
var idEncoding = base32.NewEncoding("0123456789abcdefghijklmnopqrstuv").WithPadding(base32.NoPadding)

// newID returns a generated job ID: 26 characters encoding the time in
// nanoseconds and 64 random bits. IDs made later sort later (as long as the
// clock does not go back), which keeps the store's inserts local.
func newID(now time.Time) string {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], uint64(now.UnixNano()))
	_, _ = rand.Read(b[8:]) // never fails (crypto/rand)
	return idEncoding.EncodeToString(b[:])
}

// recover applies the crash policies to the jobs left running and loads
// the live index.
func (q *Queue) recover(ctx context.Context) error {
	now := q.cfg.Clock.Now()
	var (
		reqs     [][]op
		terminal []State
		entries  []*entry
	)
	err := q.bdb.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte(q.livePrefix), PrefetchValues: true, PrefetchSize: 100})
		defer it.Close()
		seen := make(map[string]bool)
		for it.Rewind(); it.Valid(); it.Next() {
			if err := ctx.Err(); err != nil {
				return err
			}
			item := it.Item()
			key := item.KeyCopy(nil)
			prio, seq, err := parseOrder(string(key[len(q.livePrefix):]))
			if err != nil {
				return err
			}
			v, err := item.ValueCopy(nil)
			if err != nil {
				return err
			}
			l, err := decodeLive(v)
			if err != nil {
				return fmt.Errorf("key %q: %w", key, err)
			}
			q.seq = max(q.seq, seq)
			if seen[l.id] {
				q.log.Warn("dropping a duplicate live index entry", "job", l.id)
				reqs = append(reqs, []op{{key: key, delete: true}})
				continue
			}
			seen[l.id] = true
			if l.state == StateRunning {
				j, err := q.recordTxn(txn, l.id)
				if errors.Is(err, ErrNotFound) {
					q.log.Warn("dropping a live index entry without a record", "job", l.id)
					reqs = append(reqs, []op{{key: key, delete: true}})
					continue
				}
				if err != nil {
					return err
				}
				l.overlay(&j)
				switch {
				case j.CancelRequested:
					terminate(&j, StateCancelled, ReasonStopped, now)
				case j.CrashPolicy == CrashFail:
					terminate(&j, StateFailed, ReasonCrashed, now)
				case j.Attempts >= j.MaxAttempts:
					terminate(&j, StateFailed, ReasonAttempts, now)
				default:
					l.state, l.started = StateQueued, 0
				}
				q.log.Warn("recovered a job that was running when the node stopped",
					"job", j.ID, "policy", j.CrashPolicy, "attempts", j.Attempts, "now", j.State)
				if j.State.Terminal() {
					reqs = append(reqs, q.finishOps(&j, q.jobKey(j.ID), key))
					terminal = append(terminal, j.State)
					continue
				}
				reqs = append(reqs, []op{{key: key, value: l.encode()}})
			}
			entries = append(entries, q.newEntry(l.id, prio, seq, l))
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("queue: recover: %w", err)
	}
	if err := q.commitAll(reqs); err != nil {
		return fmt.Errorf("queue: recover: %w", err)
	}
	for _, s := range terminal {
		q.countTerminal(s)
	}
	// The index is in serving order, which is a valid heap.
	q.ready = make(readyHeap, 0, len(entries))
	for _, e := range entries {
		q.live[e.id] = e
		e.readyIdx = len(q.ready)
		q.ready = append(q.ready, e)
		if e.live.deadline != 0 {
			q.deadlines.Push(e)
		}
	}
	heap.Init(&q.deadlines)
	q.counts.Queued = len(q.ready)
	return nil
}

// commitAll commits each request atomically (in as few transactions as
// the group limit allows) and waits for all.
func (q *Queue) commitAll(reqs [][]op) error {
	if len(reqs) == 0 {
		return nil
	}
	errs := make([]error, len(reqs))
	var wg sync.WaitGroup
	for i, ops := range reqs {
		wg.Go(func() { errs[i] = q.com.commit(ops) })
	}
	wg.Wait()
	return errors.Join(errs...)
}

// finishOps returns the writes that store j, which reached a terminal
// state, under jobKey and remove it from the live index.
func (q *Queue) finishOps(j *Job, jobKey, liveKey []byte) []op {
	rec := appendJob(make([]byte, 0, recordSize(j)), j)
	return []op{
		{key: jobKey, value: rec, expires: expiresAt(j.Finished, q.cfg.ResultTTL)},
		{key: liveKey, delete: true},
	}
}

// terminate moves j to a terminal state.
func terminate(j *Job, s State, reason string, now time.Time) {
	j.State = s
	j.Error = reason
	j.Finished = now
}

func (q *Queue) countTerminal(s State) {
	switch s {
	case StateDone:
		q.counts.Done++
	case StateFailed:
		q.counts.Failed++
	case StateCancelled:
		q.counts.Cancelled++
	}
}

// begin registers an in-flight call; q.ops.Done must follow a nil error.
func (q *Queue) begin(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("queue: %w", err)
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return ErrClosed
	}
	q.ops.Add(1)
	return nil
}

// recordTxn reads a job's record as stored (for a live job: as enqueued).
func (q *Queue) recordTxn(txn *badger.Txn, id string) (Job, error) {
	item, err := txn.Get(q.jobKey(id))
	if errors.Is(err, badger.ErrKeyNotFound) {
		return Job{}, fmt.Errorf("%w: %q", ErrNotFound, id)
	}
	if err != nil {
		return Job{}, fmt.Errorf("queue: read %q: %w", id, err)
	}
	v, err := item.ValueCopy(nil)
	if err != nil {
		return Job{}, fmt.Errorf("queue: read %q: %w", id, err)
	}
	j, err := decodeJob(v)
	if err != nil {
		return Job{}, fmt.Errorf("job %q: %w", id, err)
	}
	return j, nil
}

// jobTxn reads a job as stored: its record, with its live state if it is
// live.
func (q *Queue) jobTxn(txn *badger.Txn, id string) (Job, error) {
	j, err := q.recordTxn(txn, id)
	if err != nil || j.State.Terminal() {
		return j, err
	}
	if err := q.overlayTxn(txn, &j); err != nil {
		return Job{}, err
	}
	return j, nil
}

// overlayTxn applies the live state of a live job's record.
func (q *Queue) overlayTxn(txn *badger.Txn, j *Job) error {
	item, err := txn.Get(q.liveKey(j.Priority, j.Seq))
	if errors.Is(err, badger.ErrKeyNotFound) {
		return fmt.Errorf("%w: job %q is %s but not in the live index", ErrCorrupt, j.ID, j.State)
	}
	if err != nil {
		return fmt.Errorf("queue: read %q: %w", j.ID, err)
	}
	return item.Value(func(v []byte) error {
		l, err := decodeLive(v)
		if err != nil {
			return err
		}
		if l.id != j.ID {
			return fmt.Errorf("%w: live index entry of job %q names %q", ErrCorrupt, j.ID, l.id)
		}
		l.overlay(j)
		return nil
	})
}

func (q *Queue) getJob(id string) (j Job, err error) {
	err = q.bdb.View(func(txn *badger.Txn) (err error) {
		j, err = q.jobTxn(txn, id)
		return err
	})
	return j, err
}

// loadRecord makes sure a taken entry has its record in memory.
func (q *Queue) loadRecord(e *entry) error {
	if e.rec != nil {
		return nil
	}
	var j Job
	err := q.bdb.View(func(txn *badger.Txn) (err error) {
		j, err = q.recordTxn(txn, e.id)
		return err
	})
	if err != nil {
		return err
	}
	q.mu.Lock()
	e.rec = &j
	q.mu.Unlock()
	return nil
}

// uncache stops charging e's record to the cache (it leaves the queued
// state); the record stays with the entry.
func (q *Queue) uncache(e *entry) {
	q.cached -= e.cached
	e.cached = 0
}

// cacheCost is what a queued job's record costs in memory.
func cacheCost(j *Job) int { return 256 + len(j.ID) + len(j.Owner) + len(j.Payload) }

// Close stops the queue: blocked calls return ErrClosed, calls in flight
// finish, and jobs still running are requeued (or cancelled, if a cancel
// was requested) as by Requeue, durably, so that a clean shutdown neither
// loses them nor counts their attempt. It does not close the store. Close
// is idempotent and returns the first call's error.
func (q *Queue) Close() error {
	q.closeOnce.Do(func() { q.closeErr = q.close() })
	return q.closeErr
}

func (q *Queue) close() error {
	q.mu.Lock()
	q.closed = true
	close(q.done)
	q.mu.Unlock()
	q.ops.Wait()
	q.wg.Wait()

	now := q.cfg.Clock.Now()
	var reqs [][]op
	for _, e := range q.live {
		if e.live.state != StateRunning {
			continue
		}
		reqs = append(reqs, q.requeueOps(e, now))
	}
	err := q.commitAll(reqs)
	q.com.close()
	if err != nil {
		return fmt.Errorf("queue: close: requeue running jobs: %w", err)
	}
	if len(reqs) > 0 {
		q.log.Info("requeued running jobs on close", "jobs", len(reqs))
	}
	return nil
}
