package compute

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ipfs/go-datastore"
	"github.com/ipfs/go-datastore/query"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/fog-compute/fog/compute/placement"
	"github.com/fog-compute/fog/compute/queue"
	"github.com/fog-compute/fog/compute/wasm"
	"github.com/fog-compute/fog/compute/wire"
	"github.com/fog-compute/fog/gossip"
	"github.com/fog-compute/fog/internal/clock"
	"github.com/fog-compute/fog/store"
)

// placeLoop takes tasks from the submission queue and runs each on its
// own goroutine, at most Config.MaxInFlight at once, until ctx ends.
// Several takers call Next at once, so that the synced commits that move
// tasks to running are shared (group commit) rather than taken in turn.
func (s *submitter) placeLoop(ctx context.Context) error {
	sem := make(chan struct{}, s.cfg.MaxInFlight)
	var tasks, takers sync.WaitGroup
	defer tasks.Wait()
	errc := make(chan error, placeTakers)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for range min(placeTakers, s.cfg.MaxInFlight) {
		takers.Go(func() {
			for {
				select {
				case sem <- struct{}{}:
				case <-ctx.Done():
					return
				}
				if !s.waitGate(ctx) {
					<-sem
					return
				}
				j, err := s.subQ.Next(ctx)
				if err != nil {
					<-sem
					if ctx.Err() == nil {
						errc <- fmt.Errorf("compute: submission queue: %w", err)
						cancel()
					}
					return
				}
				tasks.Go(func() {
					defer func() { <-sem }()
					s.runTask(ctx, j)
				})
			}
		})
	}
	takers.Wait()
	close(errc)
	return <-errc
}

// placeTakers is the number of goroutines taking tasks from the
// submission queue at once.
const placeTakers = 16

// task is a submitted task being placed and run: the goroutine running
// loop owns it; status reads the fields under mu.
type task struct {
	s     *submitter
	id    TaskID
	job   queue.Job
	spec  Spec
	sub   *wire.SubmitMsg // the task as offered to providers, encoded once
	tally *placement.Tally

	events   chan event
	cancelCh chan struct{} // closed when its cancel is requested
	cancelMu sync.Once
	wg       sync.WaitGroup // attempt goroutines

	used     map[peer.ID]bool // providers that got an attempt
	excluded map[peer.ID]bool // providers that refused it for good
	nextN    int
	abort    error         // a write of the task's state failed: give it up
	wake     chan struct{} // a room signal (capacity 1)

	queued   bool   // in submitter.waiters; guarded by submitter.mu
	triedGen uint64 // room generation of its last failed placement; guarded by submitter.mu

	mu       sync.Mutex
	attempts []*attempt
	waiting  string
	refusals int
	live     *liveOutput // the output one remote attempt streams; nil before any
}

// liveOutput is what one attempt streamed of its output while it ran
// (Output messages): an unsigned preview, kept in memory within the
// task's output limit until the task finishes, never stored.
type liveOutput struct {
	n              int // the attempt's number
	stdout, stderr []byte
}

// errLiveOutput is a provider's Output that does not continue what it sent
// before, or that exceeds the task's output limit.
var errLiveOutput = errors.New("output beyond the task's output limit or out of order")

// addOutput records an Output of attempt a. The first attempt to stream
// output is the one shown; others are ignored. A chunk may repeat bytes
// already held (a provider starts over on a new stream) but not leave a
// gap, and the output held never exceeds the task's output limit: a
// provider that breaks either rule gets errLiveOutput.
func (t *task) addOutput(a *attempt, m *wire.OutputMsg) error {
	defer t.changed() // after the unlock below
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.live == nil {
		t.live = &liveOutput{n: a.rec.N}
	}
	l := t.live
	if l.n != a.rec.N {
		return nil
	}
	newOut, ok1 := chunkTail(len(l.stdout), m.StdoutOffset, m.Stdout)
	newErr, ok2 := chunkTail(len(l.stderr), m.StderrOffset, m.Stderr)
	total := int64(len(l.stdout)) + int64(len(l.stderr)) + int64(len(newOut)) + int64(len(newErr))
	if !ok1 || !ok2 || total > t.spec.Limits.OutputBytes {
		return fmt.Errorf("%w: %d bytes at offsets %d and %d, %d held of at most %d",
			errLiveOutput, len(m.Stdout)+len(m.Stderr), m.StdoutOffset, m.StderrOffset, len(l.stdout)+len(l.stderr), t.spec.Limits.OutputBytes)
	}
	l.stdout = append(l.stdout, newOut...)
	l.stderr = append(l.stderr, newErr...)
	return nil
}

// chunkTail returns the part of chunk, which starts at off, beyond the
// have bytes held; ok is false if it starts beyond them (a gap).
func chunkTail(have int, off uint64, chunk []byte) (tail []byte, ok bool) {
	switch {
	case off > uint64(have):
		return nil, len(chunk) == 0
	case off+uint64(len(chunk)) <= uint64(have):
		return nil, true
	}
	return chunk[uint64(have)-off:], true
}

// attempt is one run of a task on one provider, run by its own goroutine,
// which sends exactly one event when it ends.
type attempt struct {
	rec  attemptRecord // guarded by task.mu once the attempt is running
	hash [32]byte

	ctx    context.Context // ends when the attempt is abandoned (shutdown)
	cancel context.CancelFunc
	stop   context.Context // ends when the provider is to cancel it
	halt   context.CancelFunc
}

type evKind int

const (
	evAnswer    evKind = iota // a result with a kind
	evFail                    // ended without an answer
	evRefuse                  // the provider refused the task
	evCancelled               // stopped at our request
	evAbandoned               // dropped because this node stops
)

type event struct {
	a      *attempt
	kind   evKind
	msg    *wire.ResultMsg
	hash   [32]byte
	err    error
	lost   bool // the provider may have run the task
	fault  bool // the provider's fault (for its breaker)
	refuse *wire.RefuseMsg
}

// runTask places and runs one task taken from the submission queue, and
// records its outcome there.
func (s *submitter) runTask(ctx context.Context, j queue.Job) {
	id := TaskID(j.ID)
	s.mu.Lock()
	_, fresh := s.fresh[id]
	delete(s.fresh, id)
	s.mu.Unlock()
	spec, err := decodeSpec(j.Payload)
	if err != nil {
		if _, err := s.subQ.Fail(context.WithoutCancel(ctx), j.ID, err.Error(), nil); err != nil {
			s.persistFailed(err)
		}
		s.failed.Add(1)
		return
	}
	t := &task{
		s: s, id: id, job: j, spec: spec,
		sub: &wire.SubmitMsg{
			TaskID: string(id), Priority: spec.Priority, CrashFail: spec.CrashPolicy == CrashFail,
			MaxPrice: spec.MaxPrice, Deadline: spec.Deadline, Spec: spec.wasm(),
		},
		tally:    placement.NewTally(spec.Replicas, spec.Quorum, spec.Replicas+s.cfg.MaxRetries),
		events:   make(chan event, 4),
		cancelCh: make(chan struct{}),
		wake:     make(chan struct{}, 1),
		used:     make(map[peer.ID]bool),
		excluded: make(map[peer.ID]bool),
	}
	if _, err := t.sub.Task(); err != nil {
		t.finish(ctx, StateFailed, err.Error(), nil)
		return
	}
	s.mu.Lock()
	s.tasks[id] = t
	s.mu.Unlock()
	defer func() {
		s.unwait(t, false)
		t.setWaiting("")
		s.mu.Lock()
		delete(s.tasks, id)
		s.mu.Unlock()
	}()
	if err := s.subQ.NotifyCancel(j.ID, t.requestCancel); err != nil {
		return // no longer running: cancelled or finished meanwhile
	}
	unpin := s.blob.Store().Pin(spec.Module)
	defer unpin()
	if !fresh {
		if err := t.recover(ctx); err != nil {
			s.persistFailed(err)
			t.abandon()
			return
		}
	}
	if !s.blob.Store().Has(spec.Module) && !t.fetchModule(ctx) {
		return
	}
	t.loop(ctx)
}

// fetchModule fetches the task's module, which this node no longer stores:
// it was evicted from the cache while the task waited, or lost with a store
// kept in memory. It asks the providers of earlier attempts first, then the
// nodes that announced it in the DHT. The fetch ends
// early at the task's deadline or on a cancel request, which the loop then
// handles, as it handles a failed fetch while re-attached attempts are in
// flight (their providers hold the module). Otherwise a failed fetch fails
// the task, and fetchModule returns false.
func (t *task) fetchModule(ctx context.Context) bool {
	s := t.s
	end := t.s.cfg.Clock.Now().Add(s.cfg.FetchTimeout)
	if t.spec.Deadline.Before(end) {
		end = t.spec.Deadline
	}
	fctx, cancel := context.WithDeadline(ctx, end)
	defer cancel()
	go func() {
		select {
		case <-t.cancelCh:
			cancel()
		case <-fctx.Done():
		}
	}()
	// The providers of re-attached attempts received the module from us.
	var hint []peer.AddrInfo
	for p := range t.used {
		hint = append(hint, peer.AddrInfo{ID: p})
	}
	_, err := s.blob.Fetch(fctx, t.spec.Module, hint...)
	select {
	case <-t.cancelCh:
		return true // the loop cancels the task
	default:
	}
	switch {
	case err == nil:
		return true
	case ctx.Err() != nil, !t.s.cfg.Clock.Now().Before(t.spec.Deadline):
		return true // the loop stops for the shutdown, or expires the task
	case t.tally.InFlight() > 0:
		s.log.Warn("module lost and not fetchable; waiting for the attempts in flight", "task", t.id, "module", t.spec.Module, "err", err)
		return true
	}
	t.finish(ctx, StateFailed, fmt.Sprintf("module %s is no longer stored on this node and could not be fetched: %v", t.spec.Module, err), nil)
	return false
}

func (t *task) requestCancel() { t.cancelMu.Do(func() { close(t.cancelCh) }) }

// nudge wakes the task's loop to try placing again.
func (t *task) nudge() {
	select {
	case t.wake <- struct{}{}:
	default:
	}
}

// loop is the task's event loop: it launches attempts as the tally asks,
// waits for room without polling, and finishes the task.
func (t *task) loop(ctx context.Context) {
	s := t.s
	deadline := s.cfg.Clock.NewTimer(clock.Until(t.s.cfg.Clock, t.spec.Deadline))
	defer deadline.Stop()
	var (
		cancelling, expired bool
		cancelCh            = t.cancelCh
		grace               clock.Timer
		graceC              <-chan time.Time
		wake                clock.Timer
		woken               bool // by a room signal, since the last placement
		// While too few distinct providers are known for the task's
		// replicas (short says why), starve runs; when it fires, the
		// task fails with starved as its reason.
		short, starved string
		starve         clock.Timer
	)
	defer func() {
		for _, tm := range []clock.Timer{grace, wake, starve} {
			if tm != nil {
				tm.Stop()
			}
		}
	}()
	for {
		if t.abort != nil {
			t.abandon()
			return
		}
		if t.tally.InFlight() == 0 {
			switch {
			case t.tallyDecided():
				t.finishDecided(ctx)
				return
			case cancelling:
				t.finish(ctx, StateCancelled, queue.ReasonStopped, nil)
				return
			case expired:
				t.finish(ctx, StateFailed, fmt.Sprintf("deadline: not finished by %s", t.spec.Deadline.Format(time.RFC3339Nano)), nil)
				return
			case starved != "":
				t.finishStarved(ctx, starved)
				return
			case t.tally.Stuck():
				t.finishStuck(ctx)
				return
			}
		}
		if t.tallyDecided() && grace == nil {
			grace = s.cfg.Clock.NewTimer(s.cfg.StragglerGrace)
			graceC = grace.C()
		}
		var dirCh <-chan struct{}
		var wakeC, starveC <-chan time.Time
		if !cancelling && !expired && starved == "" {
			short = ""
			if n := t.tally.Need(); n > 0 {
				w := t.place(ctx, n, woken)
				woken = false
				if w != nil {
					short = w.short
					dirCh = w.dir
					if !w.at.IsZero() {
						if wake == nil {
							wake = s.cfg.Clock.NewTimer(clock.Until(t.s.cfg.Clock, w.at))
						} else {
							wake.Reset(clock.Until(t.s.cfg.Clock, w.at))
						}
						wakeC = wake.C()
					}
				}
				if t.abort != nil {
					continue
				}
			}
			switch {
			case short == "":
				if starve != nil {
					starve.Stop()
					starve = nil
				}
			case starve == nil:
				starve = s.cfg.Clock.NewTimer(s.cfg.ProviderWait)
			}
			if starve != nil {
				starveC = starve.C()
			}
		}
		select {
		case ev := <-t.events:
			t.handle(ev)
		case <-dirCh:
		case <-t.wake:
			woken = true
		case <-wakeC:
		case <-deadline.C():
			expired = true
			t.stopAll()
		case <-cancelCh:
			cancelling, cancelCh = true, nil
			t.stopAll()
		case <-graceC:
			graceC = nil
			t.stopAll()
		case <-starveC:
			starved = short
			t.stopAll()
		case <-ctx.Done():
			t.abandon()
			if _, err := s.subQ.Requeue(context.WithoutCancel(ctx), string(t.id)); err != nil && !errors.Is(err, queue.ErrClosed) {
				s.persistFailed(err)
			}
			return
		}
	}
}

// waitSet is what a task without room waits for, besides a room signal
// (task.wake).
type waitSet struct {
	dir <-chan struct{} // the directory changes
	at  time.Time       // a provider's retry-after or breaker cooldown ends
	// short, if not empty, says that fewer distinct providers are known
	// than the task still needs: room alone will not place it.
	short string
}

// place launches up to n attempts on providers chosen by the task's
// strategy. If it cannot launch them all, the task joins the tasks
// waiting for room, and place returns what else to wait for. woken says a
// room signal woke the task (see Service.signalRoom).
func (t *task) place(ctx context.Context, n int, woken bool) *waitSet {
	s := t.s
	for ; n > 0; n-- {
		var dirCh <-chan struct{}
		if s.dir != nil {
			dirCh = s.dir.Updated()
		}
		s.mu.Lock()
		gen := s.roomGen
		s.mu.Unlock()
		p, local, why, at, ok := s.choose(t, t.s.cfg.Clock.Now(), gen, woken)
		if !ok {
			t.setWaiting(why.String())
			return &waitSet{dir: dirCh, at: at, short: why.short(n)}
		}
		if !t.launch(ctx, p, local, nil) {
			return nil
		}
	}
	s.unwait(t, woken)
	t.setWaiting("")
	return nil
}

// setWaiting records why the task waits for room ("" when it does not).
func (t *task) setWaiting(why string) {
	t.mu.Lock()
	was := t.waiting != ""
	t.waiting = why
	t.mu.Unlock()
	defer t.changed()
	switch {
	case !was && why != "":
		t.s.countWaiting(1)
	case was && why == "":
		t.s.countWaiting(-1)
	}
}

// choose picks a provider for an attempt of t and reserves it (its
// breaker's probe, an attempt in flight). Without one it says why, and
// when a provider's refusal or open breaker expires.
//
// A failed choice makes t wait for room (waitLocked) under the same lock
// as the candidates' state it read, so that no room signal is lost
// between the two; gen is the room generation before the directory and
// this node's load were read.
func (s *submitter) choose(t *task, now time.Time, gen uint64, woken bool) (p peer.ID, local bool, why noRoom, wake time.Time, ok bool) {
	var entries []gossip.Entry
	runtime := gossip.RuntimeWasm
	if t.spec.Scratch {
		// Only providers that say they run scratch tasks: the others
		// refuse them, or (before the advert said so) ran them in a host
		// directory.
		runtime = gossip.RuntimeWasmScratch
	}
	if s.dir != nil {
		entries = s.dir.Query(gossip.Query{
			Runtime:   runtime,
			MinMemory: uint64(t.spec.Limits.MemoryPages) * wasm.PageSize,
		})
	}
	var selfQ, selfR uint32
	var selfAccepting int
	if s.cfg.Offer {
		selfQ, selfR = s.load()
		selfAccepting = s.prov.reserved()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	cands := make([]placement.Candidate, 0, len(entries)+1)
	var seen, nUsed, nPrice, nFull, nOpen int
	later := func(at time.Time) {
		if at.After(now) && (wake.IsZero() || at.Before(wake)) {
			wake = at
		}
	}
	consider := func(c placement.Candidate) {
		seen++
		switch {
		case t.used[c.Peer] || t.excluded[c.Peer]:
			nUsed++
			return
		case t.spec.MaxPrice != 0 && c.Price > t.spec.MaxPrice:
			nPrice++
			return
		}
		if ps := s.book[c.Peer]; ps != nil {
			c.InFlight = uint32(ps.inflight)
			if ps.fullUntil.After(now) {
				nFull++
				later(ps.fullUntil)
				return
			}
			if !ps.breaker.Available(now) {
				nOpen++
				later(ps.breaker.Reopens())
				return
			}
		}
		if int(c.InFlight) >= int(c.Cores)*(1+s.cfg.MaxQueuedPerCore) {
			nFull++
			return
		}
		cands = append(cands, c)
	}
	for _, e := range entries {
		if e.Advert.Peer == s.self || e.Advert.Cores == 0 {
			continue
		}
		consider(placement.CandidateOf(e, s.self))
	}
	if s.cfg.Offer && (s.cfg.Scratch || !t.spec.Scratch) && t.spec.Limits.above(s.cfg.MaxLimits) == nil && s.cfg.fitsMemory(t.spec.Limits) {
		if int(selfQ)+int(selfR)+selfAccepting >= s.cfg.capacity() && !t.used[s.self] {
			seen++
			nFull++
		} else {
			consider(placement.Candidate{Peer: s.self, Self: true, Cores: uint32(s.cfg.Cores), Queued: selfQ, Running: selfR, Price: s.cfg.Price})
		}
	}
	placement.SortCandidates(cands)
	for len(cands) > 0 {
		i := placement.Pick(t.spec.Strategy, cands, &s.pick)
		c := cands[i]
		ps := s.providerLocked(c.Peer, now)
		if ps.breaker.Allow(now) {
			ps.inflight++
			ps.rec.Attempts++
			ps.rec.Updated = now
			return c.Peer, c.Self, noRoom{}, time.Time{}, true
		}
		nOpen++
		cands = slices.Delete(cands, i, i+1)
	}
	s.waitLocked(t, gen, woken, nFull+nOpen > 0)
	return "", false, noRoom{seen: seen, used: nUsed, full: nFull, open: nOpen, price: nPrice, replicas: t.spec.Replicas, scratch: t.spec.Scratch}, wake, false
}

// noRoom counts the providers a task could not be placed on, by reason.
type noRoom struct {
	seen, used, full, open, price int
	replicas                      int
	scratch                       bool // the task asks for /scratch
}

// String says why no provider has room.
func (r noRoom) String() string {
	if r.seen == 0 {
		if r.scratch {
			return "no provider has room: none is known that offers compute with enough memory and runs scratch tasks"
		}
		return "no provider has room: none is known that offers compute with enough memory"
	}
	return fmt.Sprintf("no provider has room: of %d known, %d already ran or refused this task, %d are full, %d have an open circuit breaker, %d ask more than the task's price",
		r.seen, r.used, r.full, r.open, r.price)
}

// short says why the task cannot get the need attempts it still needs from
// the providers known, however long it waits for room: too few of them
// are distinct from those that ran or refused it, or are within its price.
// It is empty when enough exist.
func (r noRoom) short(need int) string {
	if left := r.seen - r.used - r.price; left < need {
		return fmt.Sprintf("too few providers: %d %s compute for this task with %d %s; %d already ran or refused it and %d ask more than its price, so %d can take the %d more %s it needs",
			r.seen, plural(r.seen, "offers", "offer"), r.replicas, plural(r.replicas, "replica", "replicas"), r.used, r.price, max(left, 0), need, plural(need, "run", "runs"))
	}
	return ""
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// launch starts an attempt on provider p (rec is nil for a new attempt,
// else the stored attempt to re-attach). A new attempt is stored before it
// is sent. It reports false if that write failed (t.abort is set).
func (t *task) launch(ctx context.Context, p peer.ID, local bool, rec *attemptRecord) bool {
	s := t.s
	reattach := rec != nil
	if rec == nil {
		rec = &attemptRecord{N: t.nextN, Provider: p, Local: local, State: AttemptSent, Started: t.s.cfg.Clock.Now()}
		t.nextN++
		if err := t.store(rec); err != nil {
			t.abort = err
			s.mu.Lock()
			ps := s.providerLocked(p, t.s.cfg.Clock.Now())
			ps.inflight--
			ps.breaker.Release()
			s.mu.Unlock()
			return false
		}
	}
	a := &attempt{rec: *rec}
	a.ctx, a.cancel = context.WithCancel(ctx)
	a.stop, a.halt = context.WithCancel(context.Background())
	t.mu.Lock()
	t.attempts = append(t.attempts, a)
	t.mu.Unlock()
	t.used[p] = true
	t.tally.Launch()
	s.attempts.Add(1)
	t.wg.Go(func() {
		var ev event
		if local {
			ev = t.runLocal(a)
		} else {
			ev = t.runRemote(a, reattach)
		}
		ev.a = a
		t.events <- ev
	})
	return true
}

// stopAll asks the providers of every attempt in flight to cancel it.
func (t *task) stopAll() {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, a := range t.attempts {
		a.halt()
	}
}

// abandon drops every attempt in flight without a word to its provider
// (this node stops; the next Run re-attaches them) and waits for their
// goroutines.
func (t *task) abandon() {
	t.mu.Lock()
	for _, a := range t.attempts {
		a.cancel()
	}
	t.mu.Unlock()
	for t.tally.InFlight() > 0 {
		t.handle(<-t.events)
	}
	t.wg.Wait()
	t.mu.Lock()
	for _, a := range t.attempts {
		a.halt()
	}
	t.mu.Unlock()
}

// handle applies an attempt's end to the tally, the attempt's record,
// the provider's record and breaker.
func (t *task) handle(ev event) {
	s := t.s
	a := ev.a
	now := t.s.cfg.Clock.Now()
	defer a.halt()
	defer a.cancel()
	t.mu.Lock()
	rec := &a.rec
	rec.Ended = now
	switch ev.kind {
	case evAnswer:
		t.tally.Answer(ev.hash)
		a.hash = ev.hash
		rec.State, rec.Hash = AttemptAnswered, hexHash(ev.hash)
		rec.ResultState, rec.Kind, rec.Reason, rec.Signature, rec.Output = ev.msg.State, ev.msg.Kind, ev.msg.Reason, ev.msg.Signature, ev.msg.Output
	case evFail:
		t.tally.Fail(ev.lost, t.spec.CrashPolicy == CrashFail)
		rec.State, rec.Error, rec.Lost = AttemptFailed, clip(errString(ev.err), wire.MaxReasonLen), ev.lost
		s.lost.Add(1)
	case evCancelled:
		t.tally.Stopped()
		rec.State = AttemptCancelled
	case evRefuse:
		t.tally.Refused()
		t.refusals++
		defer t.changed()
		t.attempts = slices.DeleteFunc(t.attempts, func(x *attempt) bool { return x == a })
		delete(t.used, rec.Provider)
		if !ev.refuse.Code.Transient() {
			t.excluded[rec.Provider] = true
		}
		s.refusals.Add(1)
	case evAbandoned:
		t.tally.Stopped()
	}
	snapshot := *rec
	t.mu.Unlock()

	s.mu.Lock()
	ps := s.providerLocked(rec.Provider, now)
	ps.inflight--
	ps.rec.Updated = now
	switch ev.kind {
	case evAnswer:
		ps.rec.Answers++
		ps.breaker.Success(now)
	case evFail:
		ps.rec.Failures++
		ps.rec.LastError = snapshot.Error
		if ev.fault {
			ps.breaker.Failure(now)
		} else {
			ps.breaker.Release()
		}
	case evRefuse:
		ps.rec.Refusals++
		ps.breaker.Release()
		if ev.refuse.Code.Transient() {
			ps.fullUntil = now.Add(max(ev.refuse.RetryAfter, s.cfg.RetryAfter/4, time.Millisecond))
		}
	default:
		ps.breaker.Release()
	}
	s.mu.Unlock()
	s.signalRoom()

	switch ev.kind {
	case evRefuse:
		t.unstore(snapshot.N)
	case evAbandoned:
	default:
		if err := t.store(&snapshot); err != nil {
			t.abort = err
		}
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// attemptKind is the store kind of a task's attempts.
func (s *submitter) attemptKind(id TaskID) string {
	return s.cfg.SubmitNamespace + ".attempt." + string(id)
}

func (t *task) key(n int) datastore.Key { return store.Key(t.s.attemptKind(t.id), strconv.Itoa(n)) }

// store writes an attempt's record, durably, to live until the task's
// deadline and then as long as results do.
func (t *task) store(rec *attemptRecord) error {
	b, err := encodeAttempt(rec)
	if err != nil {
		return err
	}
	ttl := clock.Until(t.s.cfg.Clock, t.spec.Deadline) + t.s.cfg.ResultTTL
	if err := t.s.ds.PutWithTTL(context.Background(), t.key(rec.N), b, max(ttl, time.Second)); err != nil {
		t.s.persistFailed(err)
		return fmt.Errorf("compute: store attempt: %w", err)
	}
	return nil
}

func (t *task) unstore(n int) {
	if err := t.s.ds.Delete(context.Background(), t.key(n)); err != nil {
		t.s.persistFailed(err)
	}
}

// recover loads the attempts stored for a task taken up again after this
// node stopped: answers and failures count as they did, and attempts that
// were in flight are re-attached.
func (t *task) recover(ctx context.Context) error {
	s := t.s
	res, err := s.ds.Query(ctx, query.Query{Prefix: "/" + s.attemptKind(t.id)})
	if err != nil {
		return fmt.Errorf("compute: load attempts: %w", err)
	}
	all, err := res.Rest()
	if err != nil {
		return fmt.Errorf("compute: load attempts: %w", err)
	}
	recs := make([]*attemptRecord, 0, len(all))
	for _, e := range all {
		r, err := decodeAttempt(e.Value)
		if err != nil {
			s.log.Warn("dropping an undecodable attempt", "task", t.id, "key", e.Key, "err", err)
			continue
		}
		recs = append(recs, r)
	}
	slices.SortFunc(recs, func(a, b *attemptRecord) int { return a.N - b.N })
	now := t.s.cfg.Clock.Now()
	for _, r := range recs {
		t.nextN = max(t.nextN, r.N+1)
		switch r.State {
		case AttemptAnswered, AttemptFailed, AttemptCancelled:
			a := &attempt{rec: *r}
			a.ctx, a.cancel = context.WithCancel(ctx)
			a.stop, a.halt = context.WithCancel(context.Background())
			a.cancel()
			a.halt()
			t.mu.Lock()
			t.attempts = append(t.attempts, a)
			t.mu.Unlock()
			t.used[r.Provider] = true
			t.tally.Launch()
			switch r.State {
			case AttemptAnswered:
				_, h, err := r.answer().DecodeOutput()
				if err != nil {
					t.tally.Fail(false, false)
					t.mu.Lock()
					a.rec.State, a.rec.Error = AttemptFailed, err.Error()
					t.mu.Unlock()
					continue
				}
				a.hash = h
				t.tally.Answer(h)
			case AttemptFailed:
				t.tally.Fail(r.Lost, t.spec.CrashPolicy == CrashFail)
			default:
				t.tally.Stopped()
			}
		default:
			s.mu.Lock()
			ps := s.providerLocked(r.Provider, now)
			ps.inflight++
			ps.rec.Attempts++
			s.mu.Unlock()
			s.reattached.Add(1)
			r.State = AttemptSent
			if !t.launch(ctx, r.Provider, r.Local, r) {
				return t.abort
			}
		}
	}
	return nil
}

// status returns the task's status as its goroutine sees it.
func (t *task) status() Status {
	st := baseStatus(t.id, &t.spec, t.job)
	st.State = StateRunning
	t.mu.Lock()
	defer t.mu.Unlock()
	st.Waiting, st.Refusals = t.waiting, t.refusals
	st.Attempts = make([]Attempt, len(t.attempts))
	for i, a := range t.attempts {
		st.Attempts[i] = a.rec.view()
	}
	return st
}

func (r *attemptRecord) view() Attempt {
	return Attempt{
		N: r.N, Provider: r.Provider, Local: r.Local, State: r.State, Error: r.Error,
		Kind: r.Kind, ResultHash: r.Hash, Started: r.Started, Ended: r.Ended,
	}
}

func (t *task) setAttemptState(a *attempt, st AttemptState) {
	t.mu.Lock()
	a.rec.State = st
	t.mu.Unlock()
	t.changed()
}

// changed tells the Service's waiters that the task changed (a task made
// by a test without a service tells no one).
func (t *task) changed() {
	if t.s != nil && t.s.base != nil {
		t.s.changes.Notify()
	}
}

// finishDecided ends a task whose quorum agreed.
func (t *task) finishDecided(ctx context.Context) {
	winner, _ := t.tally.Decided()
	o := t.outcome(winner, true)
	state, reason := StateDone, ""
	if o.Kind != KindCompleted {
		state, reason = StateFailed, o.Error
	}
	t.finish(ctx, state, reason, o)
	t.pay(ctx, o)
}

// finishStuck ends a task that cannot reach its quorum.
func (t *task) finishStuck(ctx context.Context) {
	h, votes := t.tally.Best()
	o := t.outcome(h, false)
	var reason string
	switch {
	case t.tally.Answered() > 0:
		reason = fmt.Sprintf("no quorum: %d answers in %d groups, the largest of %d where %d are needed", t.tally.Answered(), t.tally.Groups(), votes, t.spec.Quorum)
	case t.tally.NoMore():
		reason = "lost: a provider lost the task, and its crash policy forbids running it again"
	default:
		reason = fmt.Sprintf("all %d attempts failed", t.tally.Launched())
	}
	t.mu.Lock()
	for i := len(t.attempts) - 1; i >= 0; i-- {
		if e := t.attempts[i].rec.Error; e != "" {
			reason += "; last: " + e
			break
		}
	}
	t.mu.Unlock()
	o.Error = reason
	t.finish(ctx, StateFailed, reason, o)
}

// finishStarved ends a task that too few providers are known for, with the
// answers it got.
func (t *task) finishStarved(ctx context.Context, reason string) {
	h, _ := t.tally.Best()
	o := t.outcome(h, false)
	o.Error = reason
	t.finish(ctx, StateFailed, reason, o)
}

// outcome assembles a task's answers around hash h (agreed says a quorum
// returned it).
func (t *task) outcome(h [32]byte, agreed bool) *outcomeRecord {
	s := t.s
	o := &outcomeRecord{Agreed: agreed, Providers: []peer.ID{}}
	t.mu.Lock()
	defer t.mu.Unlock()
	o.Refusals = t.refusals
	var chosen *attempt
	for _, a := range t.attempts {
		o.Attempts = append(o.Attempts, a.rec.view())
		if a.rec.State != AttemptAnswered {
			continue
		}
		m := a.rec.answer()
		res, _, _ := m.DecodeOutput()
		ok := a.hash == h
		ans := Answer{
			Provider: a.rec.Provider, Local: a.rec.Local, Agreed: ok && agreed, Kind: m.Kind, ResultHash: a.rec.Hash,
			ExitCode: res.ExitCode, GuestError: clip(firstNonEmpty(res.Err, m.Reason), wire.MaxReasonLen),
			Stdout: preview(res.Stdout), Stderr: preview(res.Stderr), StdoutBytes: len(res.Stdout), StderrBytes: len(res.Stderr),
		}
		o.Answers = append(o.Answers, ans)
		if ok && agreed {
			o.Providers = append(o.Providers, a.rec.Provider)
			if chosen == nil {
				chosen = a
			}
		} else if agreed {
			o.Disagreeing = append(o.Disagreeing, a.rec.Provider)
		}
	}
	if chosen != nil {
		o.Kind, o.Hash, o.Output = chosen.rec.Kind, chosen.rec.Hash, chosen.rec.Output
		if o.Kind != KindCompleted {
			o.Error = firstNonEmpty(chosen.rec.Reason, string(o.Kind))
		}
	}
	if agreed {
		now := t.s.cfg.Clock.Now()
		s.mu.Lock()
		for _, p := range o.Providers {
			ps := s.providerLocked(p, now)
			ps.rec.Agreed++
		}
		for _, p := range o.Disagreeing {
			ps := s.providerLocked(p, now)
			ps.rec.Disagreed++
			ps.rec.Updated = now
		}
		s.mu.Unlock()
	}
	return o
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func preview(b []byte) []byte {
	if len(b) > answerPreviewBytes {
		return b[:answerPreviewBytes]
	}
	return b
}

// finish records a task's outcome in the submission queue, durably, and
// drops its attempts' records.
func (t *task) finish(ctx context.Context, state State, reason string, o *outcomeRecord) {
	s := t.s
	defer t.changed()
	ctx = context.WithoutCancel(ctx)
	if o == nil {
		o = t.outcome([32]byte{}, false)
	}
	if o.Error == "" {
		o.Error = reason
	}
	record := func(o *outcomeRecord) error {
		b, err := encodeOutcome(o)
		if err != nil {
			return err
		}
		switch state {
		case StateDone:
			_, err = s.subQ.Complete(ctx, string(t.id), b)
		case StateCancelled:
			_, err = s.subQ.ConfirmCancel(ctx, string(t.id), b)
		default:
			_, err = s.subQ.Fail(ctx, string(t.id), clip(reason, 4*wire.MaxReasonLen), b)
		}
		return err
	}
	err := record(o)
	if errors.Is(err, queue.ErrTooLarge) {
		state, reason = StateFailed, "the outcome is too large to store: "+reason
		o.Output, o.Error = nil, reason
		for i := range o.Answers {
			o.Answers[i].Stdout, o.Answers[i].Stderr = nil, nil
		}
		err = record(o)
	}
	if err != nil {
		if !errors.Is(err, queue.ErrBadTransition) {
			s.persistFailed(fmt.Errorf("compute: record the outcome of %s: %w", t.id, err))
		}
		return
	}
	switch state {
	case StateDone:
		s.done.Add(1)
	case StateCancelled:
		s.cancelled.Add(1)
	default:
		s.failed.Add(1)
	}
	t.setWaiting("")
	t.mu.Lock()
	ns := make([]int, 0, len(t.attempts))
	for _, a := range t.attempts {
		ns = append(ns, a.rec.N)
	}
	t.mu.Unlock()
	if len(ns) > 0 {
		b, err := s.ds.Batch(ctx)
		if err == nil {
			for _, n := range ns {
				_ = b.Delete(ctx, t.key(n))
			}
			err = b.Commit(ctx)
		}
		if err != nil {
			s.log.Warn("dropping a finished task's attempts", "task", t.id, "err", err)
		}
	}
}

// refusedError is a provider's refusal, as an attempt's error.
type refusedError struct {
	Provider peer.ID
	wire.RefuseMsg
}

// Error names the provider, the code and the reason.
func (e *refusedError) Error() string {
	return fmt.Sprintf("compute: %s refused the task (%s): %s", e.Provider, e.Code, strings.TrimPrefix(e.Reason, "compute: "))
}

// tallyDecided reports whether the task's quorum has agreed.
func (t *task) tallyDecided() bool {
	_, ok := t.tally.Decided()
	return ok
}
