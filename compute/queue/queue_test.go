package queue_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/fog-compute/fog/compute/queue"
	"github.com/fog-compute/fog/store"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// backend is where a test's store lives.
type backend struct {
	name   string
	onDisk bool
}

var backends = []backend{{"disk", true}, {"memory", false}}

// env is a store and a queue on it, reopenable to test what survives.
type env struct {
	t   *testing.T
	dir string
	cfg queue.Config
	db  *store.DB
	q   *queue.Queue
}

func newEnv(t *testing.T, b backend, cfg queue.Config) *env {
	t.Helper()
	e := &env{t: t, cfg: cfg}
	if b.onDisk {
		e.dir = t.TempDir()
	}
	e.open()
	t.Cleanup(e.close)
	return e
}

func (e *env) open() {
	e.t.Helper()
	var scfg store.Config
	if e.dir != "" {
		scfg = store.DefaultConfig(e.dir)
		scfg.GCInterval = 0
	} else {
		scfg = store.InMemoryConfig()
	}
	scfg.Logger = nil
	db, err := store.Open(scfg)
	require.NoError(e.t, err)
	q, err := queue.Open(e.t.Context(), db, e.cfg)
	require.NoError(e.t, err)
	e.db, e.q = db, q
}

func (e *env) close() {
	if e.q == nil {
		return
	}
	assert.NoError(e.t, e.q.Close())
	assert.NoError(e.t, e.db.Close())
	e.q, e.db = nil, nil
}

// crash stops the queue as a crash would (running jobs stay running in the
// store) and reopens it on the same store. On disk the store is closed and
// reopened too.
func (e *env) crash() {
	e.t.Helper()
	queue.Crash(e.q)
	e.restart()
}

// reopen closes the queue cleanly and opens it again.
func (e *env) reopen() {
	e.t.Helper()
	require.NoError(e.t, e.q.Close())
	e.restart()
}

// restart opens the queue again after it was stopped; on disk the store is
// closed and reopened too.
func (e *env) restart() {
	e.t.Helper()
	if e.dir != "" {
		require.NoError(e.t, e.db.Close())
		e.open()
		return
	}
	q, err := queue.Open(e.t.Context(), e.db, e.cfg)
	require.NoError(e.t, err)
	e.q = q
}

func (e *env) enqueue(j queue.Job) queue.Job {
	e.t.Helper()
	got, err := e.q.Enqueue(e.t.Context(), j)
	require.NoError(e.t, err)
	return got
}

func (e *env) next() queue.Job {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(e.t.Context(), 5*time.Second)
	defer cancel()
	j, err := e.q.Next(ctx)
	require.NoError(e.t, err)
	return j
}

func (e *env) get(id string) queue.Job {
	e.t.Helper()
	j, err := e.q.Get(e.t.Context(), id)
	require.NoError(e.t, err)
	return j
}

func forBackends(t *testing.T, f func(t *testing.T, b backend)) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) { f(t, b) })
	}
}

func TestCanTransition(t *testing.T) {
	states := []queue.State{0, queue.StateQueued, queue.StateRunning, queue.StateDone, queue.StateFailed, queue.StateCancelled}
	allowed := map[[2]queue.State]bool{
		{0, queue.StateQueued}:                     true,
		{queue.StateQueued, queue.StateRunning}:    true,
		{queue.StateQueued, queue.StateCancelled}:  true,
		{queue.StateQueued, queue.StateFailed}:     true,
		{queue.StateRunning, queue.StateQueued}:    true,
		{queue.StateRunning, queue.StateDone}:      true,
		{queue.StateRunning, queue.StateFailed}:    true,
		{queue.StateRunning, queue.StateCancelled}: true,
	}
	for _, from := range states {
		for _, to := range states {
			assert.Equal(t, allowed[[2]queue.State{from, to}], queue.CanTransition(from, to), "%s -> %s", from, to)
		}
	}
	for _, s := range states[1:] {
		got, err := queue.ParseState(s.String())
		require.NoError(t, err)
		assert.Equal(t, s, got)
		assert.Equal(t, s >= queue.StateDone, s.Terminal())
	}
	_, err := queue.ParseState("lost")
	assert.Error(t, err)
	assert.Equal(t, "state(9)", queue.State(9).String())
}

// TestStateMachineRejects drives every operation from every state it must
// refuse: the queue checks each change against CanTransition.
func TestStateMachineRejects(t *testing.T) {
	e := newEnv(t, backends[1], queue.TestConfig())
	ctx := t.Context()
	queued := e.enqueue(queue.Job{ID: "queued", Priority: -1})
	e.enqueue(queue.Job{ID: "running", Priority: 1})
	running := e.next()
	require.Equal(t, "running", running.ID)
	e.enqueue(queue.Job{ID: "done", Priority: 1})
	_, err := e.q.Complete(ctx, e.next().ID, []byte("r"))
	require.NoError(t, err)

	type op struct {
		name string
		do   func(id string) error
	}
	ops := []op{
		{"complete", func(id string) error { _, err := e.q.Complete(ctx, id, nil); return err }},
		{"fail", func(id string) error { _, err := e.q.Fail(ctx, id, "x", nil); return err }},
		{"confirm cancel", func(id string) error { _, err := e.q.ConfirmCancel(ctx, id, nil); return err }},
		{"requeue", func(id string) error { _, err := e.q.Requeue(ctx, id); return err }},
		{"cancel", func(id string) error { _, err := e.q.Cancel(ctx, id); return err }},
		{"notify cancel", func(id string) error { return e.q.NotifyCancel(id, func() {}) }},
	}
	for _, tc := range []struct {
		id      string
		refused map[string]error
	}{
		{queued.ID, map[string]error{"complete": queue.ErrBadTransition, "fail": queue.ErrBadTransition,
			"confirm cancel": queue.ErrBadTransition, "requeue": queue.ErrBadTransition, "notify cancel": queue.ErrBadTransition}},
		{running.ID, map[string]error{"confirm cancel": queue.ErrBadTransition}}, // no cancel requested
		{"done", map[string]error{"complete": queue.ErrBadTransition, "fail": queue.ErrBadTransition,
			"confirm cancel": queue.ErrBadTransition, "requeue": queue.ErrBadTransition, "cancel": queue.ErrBadTransition,
			"notify cancel": queue.ErrNotFound}},
		{"nobody", map[string]error{"complete": queue.ErrNotFound, "fail": queue.ErrNotFound, "confirm cancel": queue.ErrNotFound,
			"requeue": queue.ErrNotFound, "cancel": queue.ErrNotFound, "notify cancel": queue.ErrNotFound}},
	} {
		for _, o := range ops {
			want, refused := tc.refused[o.name]
			if !refused {
				continue
			}
			t.Run(tc.id+"/"+o.name, func(t *testing.T) {
				before, _ := e.q.Get(ctx, tc.id)
				require.ErrorIs(t, o.do(tc.id), want)
				after, _ := e.q.Get(ctx, tc.id)
				assert.Equal(t, before.State, after.State, "a refused change must not change the job")
			})
		}
	}
}

func TestEnqueueGet(t *testing.T) {
	forBackends(t, func(t *testing.T, b backend) {
		e := newEnv(t, b, queue.TestConfig())
		ctx := t.Context()
		deadline := time.Now().Add(time.Hour)
		j := e.enqueue(queue.Job{ID: "a/../b c", Owner: "peer", Priority: 5, CrashPolicy: queue.CrashFail,
			Deadline: deadline, Payload: []byte("task"), Result: []byte("ignored"), Attempts: 9, State: queue.StateDone})
		assert.Equal(t, queue.StateQueued, j.State)
		assert.Equal(t, uint32(0), j.Attempts)
		assert.Equal(t, uint32(3), j.MaxAttempts, "DefaultMaxAttempts")
		assert.Nil(t, j.Result)
		assert.False(t, j.Created.IsZero())

		got := e.get(j.ID)
		assert.Equal(t, j.ID, got.ID)
		assert.Equal(t, "peer", got.Owner)
		assert.Equal(t, int32(5), got.Priority)
		assert.Equal(t, queue.CrashFail, got.CrashPolicy)
		assert.Equal(t, []byte("task"), got.Payload)
		assert.True(t, deadline.Equal(got.Deadline))
		assert.Equal(t, j.Seq, got.Seq)

		gen := e.enqueue(queue.Job{})
		assert.Len(t, gen.ID, 26)
		later := e.enqueue(queue.Job{})
		assert.Less(t, gen.ID, later.ID, "generated IDs sort by creation")

		_, err := e.q.Enqueue(ctx, queue.Job{ID: j.ID})
		assert.ErrorIs(t, err, queue.ErrExists)
		_, err = e.q.Get(ctx, "missing")
		assert.ErrorIs(t, err, queue.ErrNotFound)

		for name, bad := range map[string]queue.Job{
			"long ID":    {ID: string(make([]byte, queue.MaxIDLen+1))},
			"long owner": {Owner: string(make([]byte, queue.MaxOwnerLen+1))},
			"policy":     {CrashPolicy: 7},
			"deadline":   {Deadline: time.Now().Add(-time.Second)},
		} {
			_, err := e.q.Enqueue(ctx, bad)
			assert.ErrorIs(t, err, queue.ErrInvalidJob, name)
		}
		_, err = e.q.Enqueue(ctx, queue.Job{Payload: make([]byte, e.db.MaxValueSize())})
		assert.ErrorIs(t, err, queue.ErrTooLarge)

		// A finished job keeps its ID until its record expires.
		e.enqueue(queue.Job{ID: "first", Priority: 100})
		require.Equal(t, "first", e.next().ID)
		_, err = e.q.Complete(ctx, "first", nil)
		require.NoError(t, err)
		_, err = e.q.Enqueue(ctx, queue.Job{ID: "first"})
		assert.ErrorIs(t, err, queue.ErrExists)
	})
}

func TestMaxQueued(t *testing.T) {
	cfg := queue.TestConfig()
	cfg.MaxQueued = 2
	e := newEnv(t, backends[1], cfg)
	e.enqueue(queue.Job{})
	e.enqueue(queue.Job{})
	_, err := e.q.Enqueue(t.Context(), queue.Job{})
	require.ErrorIs(t, err, queue.ErrFull)
	e.next() // running jobs do not count
	e.enqueue(queue.Job{})
}

// TestPriorityFIFO checks the serving order: higher priority first, first
// in first out within a priority, the same after a restart (the heap is
// rebuilt from the live index) and as List reports it.
func TestPriorityFIFO(t *testing.T) {
	forBackends(t, func(t *testing.T, b backend) {
		for _, cache := range []int{64 << 20, 0} {
			t.Run(fmt.Sprintf("cache=%d", cache), func(t *testing.T) {
				cfg := queue.TestConfig()
				cfg.CacheBytes = cache
				e := newEnv(t, b, cfg)
				prios := []int32{0, 5, -3, 5, 0, 2147483647, -2147483648, 5, 0, 2}
				for i, p := range prios {
					e.enqueue(queue.Job{ID: fmt.Sprintf("j%02d", i), Priority: p, Payload: []byte{byte(i)}})
				}
				want := []string{"j05", "j01", "j03", "j07", "j09", "j00", "j04", "j08", "j02", "j06"}

				listed, err := e.q.List(t.Context(), queue.Filter{State: queue.StateQueued})
				require.NoError(t, err)
				assert.Equal(t, want, ids(listed))

				e.reopen()
				for range 4 {
					j := e.next()
					assert.Equal(t, j.ID[1:], fmt.Sprintf("%02d", j.Payload[0]), "payload served with its job")
				}
				e.reopen() // the four running jobs are requeued at their places
				var got []string
				for range prios {
					got = append(got, e.next().ID)
				}
				assert.Equal(t, want, got)
				assert.Equal(t, queue.Counts{Running: len(prios)}, e.q.Counts())
			})
		}
	})
}

func ids(jobs []queue.Job) []string {
	out := make([]string, len(jobs))
	for i, j := range jobs {
		out[i] = j.ID
	}
	return out
}

func TestLifecycle(t *testing.T) {
	forBackends(t, func(t *testing.T, b backend) {
		e := newEnv(t, b, queue.TestConfig())
		ctx := t.Context()
		j := e.enqueue(queue.Job{ID: "x", Payload: []byte("p")})
		r := e.next()
		assert.Equal(t, queue.StateRunning, r.State)
		assert.Equal(t, uint32(1), r.Attempts)
		assert.False(t, r.Started.IsZero())
		assert.Equal(t, []byte("p"), r.Payload)
		assert.Equal(t, queue.StateRunning, e.get("x").State)

		rq, err := e.q.Requeue(ctx, "x")
		require.NoError(t, err)
		assert.Equal(t, queue.StateQueued, rq.State)
		assert.Equal(t, uint32(0), rq.Attempts, "a requeue gives the attempt back")
		assert.True(t, rq.Started.IsZero())
		assert.Equal(t, j.Seq, rq.Seq)

		r = e.next()
		done, err := e.q.Complete(ctx, "x", []byte("result"))
		require.NoError(t, err)
		assert.Equal(t, queue.StateDone, done.State)
		got := e.get("x")
		assert.Equal(t, queue.StateDone, got.State)
		assert.Equal(t, []byte("result"), got.Result)
		assert.Equal(t, uint32(1), got.Attempts)
		assert.True(t, got.Started.Equal(r.Started))
		assert.False(t, got.Finished.IsZero())

		e.enqueue(queue.Job{ID: "y"})
		e.next()
		failed, err := e.q.Fail(ctx, "y", "boom", []byte("partial"))
		require.NoError(t, err)
		assert.Equal(t, "boom", failed.Error)
		assert.Equal(t, []byte("partial"), e.get("y").Result)

		e.enqueue(queue.Job{ID: "z"})
		z := e.next()
		_, err = e.q.Complete(ctx, "z", make([]byte, e.q.MaxResultSize(z)+2048))
		require.ErrorIs(t, err, queue.ErrTooLarge)
		assert.Equal(t, queue.StateRunning, e.get("z").State)
		_, err = e.q.Complete(ctx, "z", make([]byte, e.q.MaxResultSize(z)))
		require.NoError(t, err)

		assert.Equal(t, queue.Counts{Done: 2, Failed: 1}, e.q.Counts())
		e.reopen()
		assert.Equal(t, queue.StateDone, e.get("x").State, "finished jobs survive a restart")
		assert.Equal(t, queue.Counts{}, e.q.Counts(), "terminal counts start at Open")
	})
}

func TestList(t *testing.T) {
	e := newEnv(t, backends[0], queue.TestConfig())
	ctx := t.Context()
	for i := range 6 {
		e.enqueue(queue.Job{ID: fmt.Sprintf("j%d", i), Owner: []string{"alice", "bob"}[i%2], Priority: int32(i)})
	}
	e.next() // j5, bob
	e.next() // j4, alice
	_, err := e.q.Complete(ctx, "j4", nil)
	require.NoError(t, err)
	_, err = e.q.Cancel(ctx, "j0")
	require.NoError(t, err)

	for _, tc := range []struct {
		f    queue.Filter
		want []string
	}{
		{queue.Filter{}, []string{"j0", "j1", "j2", "j3", "j4", "j5"}},
		{queue.Filter{Limit: 2}, []string{"j0", "j1"}},
		{queue.Filter{State: queue.StateQueued}, []string{"j3", "j2", "j1"}},
		{queue.Filter{State: queue.StateQueued, Owner: "bob"}, []string{"j3", "j1"}},
		{queue.Filter{State: queue.StateQueued, Limit: 1}, []string{"j3"}},
		{queue.Filter{State: queue.StateRunning}, []string{"j5"}},
		{queue.Filter{State: queue.StateDone}, []string{"j4"}},
		{queue.Filter{State: queue.StateCancelled}, []string{"j0"}},
		{queue.Filter{Owner: "alice"}, []string{"j0", "j2", "j4"}},
		{queue.Filter{Newest: true}, []string{"j5", "j4", "j3", "j2", "j1", "j0"}},
		{queue.Filter{Newest: true, Limit: 2}, []string{"j5", "j4"}},
		{queue.Filter{Newest: true, State: queue.StateQueued}, []string{"j3", "j2", "j1"}},
		{queue.Filter{Newest: true, State: queue.StateQueued, Owner: "alice", Limit: 1}, []string{"j2"}},
		{queue.Filter{Newest: true, Owner: "bob"}, []string{"j5", "j3", "j1"}},
	} {
		got, err := e.q.List(ctx, tc.f)
		require.NoError(t, err)
		assert.Equal(t, tc.want, ids(got), "%+v", tc.f)
		for _, j := range got {
			assert.Equal(t, j.State, e.get(j.ID).State, "List and Get agree")
		}
	}
	_, err = e.q.List(ctx, queue.Filter{State: 42})
	assert.Error(t, err)
}

func TestCancelQueued(t *testing.T) {
	forBackends(t, func(t *testing.T, b backend) {
		e := newEnv(t, b, queue.TestConfig())
		ctx := t.Context()
		e.enqueue(queue.Job{ID: "a", Priority: 9})
		e.enqueue(queue.Job{ID: "b"})
		c, err := e.q.Cancel(ctx, "a")
		require.NoError(t, err)
		assert.Equal(t, queue.StateCancelled, c.State)
		assert.Equal(t, queue.ReasonCancelled, c.Error)
		assert.Equal(t, "b", e.next().ID, "a cancelled job is not served")
		w, err := e.q.Wait(ctx, "a")
		require.NoError(t, err)
		assert.Equal(t, queue.StateCancelled, w.State)
		e.reopen()
		assert.Equal(t, queue.StateCancelled, e.get("a").State)
	})
}

func TestCancelRunning(t *testing.T) {
	forBackends(t, func(t *testing.T, b backend) {
		e := newEnv(t, b, queue.TestConfig())
		ctx := t.Context()
		e.enqueue(queue.Job{ID: "a"})
		e.next()
		notified := make(chan struct{})
		require.NoError(t, e.q.NotifyCancel("a", func() { close(notified) }))
		select {
		case <-notified:
			t.Fatal("notified before any cancel")
		default:
		}
		c, err := e.q.Cancel(ctx, "a")
		require.NoError(t, err)
		assert.Equal(t, queue.StateRunning, c.State)
		assert.True(t, c.CancelRequested)
		<-notified
		assert.True(t, e.get("a").CancelRequested, "the request is stored")
		again := make(chan struct{})
		require.NoError(t, e.q.NotifyCancel("a", func() { close(again) }))
		<-again // already requested: called at once
		_, err = e.q.Cancel(ctx, "a")
		require.NoError(t, err, "cancelling twice is not an error")

		done, err := e.q.ConfirmCancel(ctx, "a", []byte("partial"))
		require.NoError(t, err)
		assert.Equal(t, queue.StateCancelled, done.State)
		assert.Equal(t, queue.ReasonStopped, done.Error)
		assert.Equal(t, []byte("partial"), e.get("a").Result)

		// A requeue of a job whose cancel was requested cancels it.
		e.enqueue(queue.Job{ID: "b"})
		e.next()
		_, err = e.q.Cancel(ctx, "b")
		require.NoError(t, err)
		r, err := e.q.Requeue(ctx, "b")
		require.NoError(t, err)
		assert.Equal(t, queue.StateCancelled, r.State)

		// Complete wins if the run finished anyway.
		e.enqueue(queue.Job{ID: "c"})
		e.next()
		_, err = e.q.Cancel(ctx, "c")
		require.NoError(t, err)
		d, err := e.q.Complete(ctx, "c", nil)
		require.NoError(t, err)
		assert.Equal(t, queue.StateDone, d.State)
	})
}

// TestDeadline runs in a synctest bubble: the queue's clock is the bubble's,
// so the deadline passes when every goroutine waits, not after real time.
// The bubble's tests keep to minutes of fake time: Badger's periodic
// goroutines tick through it too, costing real time per tick.
func TestDeadline(t *testing.T) {
	forBackends(t, func(t *testing.T, b backend) {
		synctest.Test(t, func(t *testing.T) {
			e := newEnv(t, b, queue.TestConfig())
			ctx := t.Context()
			soon := time.Now().Add(time.Minute)
			e.enqueue(queue.Job{ID: "started", Deadline: soon, Priority: 1})
			e.enqueue(queue.Job{ID: "late", Deadline: soon})
			e.enqueue(queue.Job{ID: "later", Deadline: soon.Add(time.Hour)})
			require.Equal(t, "started", e.next().ID)
			j, err := e.q.Wait(ctx, "late")
			require.NoError(t, err)
			assert.Equal(t, queue.StateFailed, j.State)
			assert.Equal(t, queue.ReasonDeadline, j.Error)
			assert.Equal(t, soon, j.Finished, "failed at its deadline, not before or after")
			assert.Equal(t, queue.StateQueued, e.get("later").State)
			assert.Equal(t, queue.StateRunning, e.get("started").State, "a deadline does not bound a running job")
			assert.Equal(t, queue.Counts{Queued: 1, Running: 1, Failed: 1}, e.q.Counts())
			e.reopen()
			assert.Equal(t, queue.StateFailed, e.get("late").State)
			assert.Equal(t, "later", e.next().ID, "expired jobs are not served")
		})
	})
}

// TestDeadlineRecovered: a job whose deadline passed while the node was
// down fails when the queue opens, before Next can serve it.
func TestDeadlineRecovered(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, backends[0], queue.TestConfig())
		deadline := time.Now().Add(time.Minute)
		e.enqueue(queue.Job{ID: "a", Deadline: deadline})
		e.enqueue(queue.Job{ID: "b", Priority: -1})
		queue.Crash(e.q)
		require.NoError(t, e.db.Close())
		time.Sleep(time.Until(deadline)) // the node is down past the deadline (fake time)
		e.open()
		assert.Equal(t, "b", e.next().ID)
		j, err := e.q.Wait(t.Context(), "a")
		require.NoError(t, err)
		assert.Equal(t, queue.ReasonDeadline, j.Error)
		assert.Equal(t, deadline, j.Finished, "failed as the queue opened, without waiting")
	})
}

// TestResultTTL runs in a synctest bubble, whose fake clock the store's
// expiry reads too: the record is kept for exactly ResultTTL (rounded up to
// the store's whole seconds) without the test waiting for it.
func TestResultTTL(t *testing.T) {
	forBackends(t, func(t *testing.T, b backend) {
		synctest.Test(t, func(t *testing.T) {
			cfg := queue.TestConfig()
			cfg.ResultTTL = time.Minute
			e := newEnv(t, b, cfg)
			ctx := t.Context()
			e.enqueue(queue.Job{ID: "done"})
			e.enqueue(queue.Job{ID: "queued", Priority: -1})
			e.next()
			_, err := e.q.Complete(ctx, "done", []byte("r"))
			require.NoError(t, err)
			time.Sleep(cfg.ResultTTL - time.Second)
			assert.Equal(t, []byte("r"), e.get("done").Result, "kept until ResultTTL")
			time.Sleep(2 * time.Second)
			_, err = e.q.Get(ctx, "done")
			assert.ErrorIs(t, err, queue.ErrNotFound, "the finished job's record expires")
			_, err = e.q.Wait(ctx, "done")
			assert.ErrorIs(t, err, queue.ErrNotFound)
			assert.Equal(t, queue.StateQueued, e.get("queued").State, "live jobs do not expire")
			// Its ID is free again.
			e.enqueue(queue.Job{ID: "done"})
		})
	})
}

// TestWait and TestNextBlocks run in synctest bubbles: synctest.Wait
// returns once the waiting goroutines block, instead of polling for them.
func TestWait(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, backends[0], queue.TestConfig())
		ctx := t.Context()
		e.enqueue(queue.Job{ID: "a"})
		got := make(chan queue.Job)
		go func() {
			j, err := e.q.Wait(ctx, "a")
			assert.NoError(t, err)
			got <- j
		}()
		e.next()
		_, err := e.q.Complete(ctx, "a", []byte("ok"))
		require.NoError(t, err)
		j := <-got
		assert.Equal(t, queue.StateDone, j.State)
		assert.Equal(t, []byte("ok"), j.Result)

		j, err = e.q.Wait(ctx, "a") // finished: at once
		require.NoError(t, err)
		assert.Equal(t, queue.StateDone, j.State)
		_, err = e.q.Wait(ctx, "nobody")
		assert.ErrorIs(t, err, queue.ErrNotFound)

		e.enqueue(queue.Job{ID: "b"})
		short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
		defer cancel()
		_, err = e.q.Wait(short, "b")
		assert.ErrorIs(t, err, context.DeadlineExceeded)

		closed := make(chan error)
		go func() {
			_, err := e.q.Wait(ctx, "b")
			closed <- err
		}()
		synctest.Wait()
		require.True(t, waiting(e.q, "b"))
		require.NoError(t, e.q.Close())
		assert.ErrorIs(t, <-closed, queue.ErrClosed)
	})
}

// waiting reports whether a Wait on id is registered.
func waiting(q *queue.Queue, id string) bool {
	return queue.Waiters(q, id) > 0
}

func TestNextBlocks(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, backends[1], queue.TestConfig())
		ctx := t.Context()
		got := make(chan queue.Job, 2)
		for range 2 {
			go func() {
				j, err := e.q.Next(ctx)
				assert.NoError(t, err)
				got <- j
			}()
		}
		synctest.Wait()
		require.Equal(t, 2, queue.Sleepers(e.q))
		e.enqueue(queue.Job{ID: "a"})
		e.enqueue(queue.Job{ID: "b"})
		a, b := <-got, <-got
		assert.ElementsMatch(t, []string{"a", "b"}, []string{a.ID, b.ID})

		short, cancel := context.WithCancel(ctx)
		errc := make(chan error)
		go func() {
			_, err := e.q.Next(short)
			errc <- err
		}()
		synctest.Wait()
		require.Equal(t, 1, queue.Sleepers(e.q))
		cancel()
		assert.ErrorIs(t, <-errc, context.Canceled)
		go func() {
			_, err := e.q.Next(ctx)
			errc <- err
		}()
		synctest.Wait()
		require.Equal(t, 1, queue.Sleepers(e.q))
		require.NoError(t, e.q.Close())
		assert.ErrorIs(t, <-errc, queue.ErrClosed)
		_, err := e.q.Enqueue(ctx, queue.Job{})
		assert.ErrorIs(t, err, queue.ErrClosed)
	})
}

// TestRecovery checks the crash policies: the queue is stopped as by a
// crash (jobs stay running in the store) and reopened. TestCrashRecovery in
// package runner does the same with a real SIGKILL.
func TestRecovery(t *testing.T) {
	forBackends(t, func(t *testing.T, b backend) {
		e := newEnv(t, b, queue.TestConfig())
		ctx := t.Context()
		e.enqueue(queue.Job{ID: "rerun", Priority: 9, Payload: []byte("r")})
		e.enqueue(queue.Job{ID: "fail", Priority: 8, CrashPolicy: queue.CrashFail})
		e.enqueue(queue.Job{ID: "last", Priority: 7, MaxAttempts: 2})
		e.enqueue(queue.Job{ID: "cancel", Priority: 6})
		e.enqueue(queue.Job{ID: "queued", Priority: 5})
		for range 4 {
			e.next()
		}
		_, err := e.q.Cancel(ctx, "cancel")
		require.NoError(t, err)
		// "last" gets its second (last) attempt before the crash.
		_, err = e.q.Requeue(ctx, "last")
		require.NoError(t, err)
		require.Equal(t, "last", e.next().ID)
		_, err = e.q.Fail(ctx, "last", "retry", nil)
		require.NoError(t, err)
		// Failed is terminal: enqueue a fresh one at its last attempt instead.
		e.enqueue(queue.Job{ID: "last2", Priority: 7, MaxAttempts: 1})
		require.Equal(t, "last2", e.next().ID)

		e.crash()
		for id, want := range map[string]struct {
			state    queue.State
			attempts uint32
			reason   string
		}{
			"rerun":  {queue.StateQueued, 1, ""},
			"fail":   {queue.StateFailed, 1, queue.ReasonCrashed},
			"last2":  {queue.StateFailed, 1, queue.ReasonAttempts},
			"cancel": {queue.StateCancelled, 1, queue.ReasonStopped},
			"queued": {queue.StateQueued, 0, ""},
		} {
			j := e.get(id)
			assert.Equal(t, want.state, j.State, id)
			assert.Equal(t, want.attempts, j.Attempts, id)
			assert.Equal(t, want.reason, j.Error, id)
		}
		assert.Equal(t, queue.Counts{Queued: 2, Failed: 2, Cancelled: 1}, e.q.Counts())
		r := e.next()
		assert.Equal(t, "rerun", r.ID, "requeued at its old place")
		assert.Equal(t, uint32(2), r.Attempts)
		assert.Equal(t, []byte("r"), r.Payload)
		e.crash()
		e.crash() // recovery is idempotent
		assert.Equal(t, uint32(2), e.get("rerun").Attempts)
		e.next()
		e.crash() // third crash: attempts exhausted
		j := e.get("rerun")
		assert.Equal(t, queue.StateFailed, j.State)
		assert.Equal(t, queue.ReasonAttempts, j.Error)
	})
}

func TestCloseRequeuesRunning(t *testing.T) {
	e := newEnv(t, backends[0], queue.TestConfig())
	e.enqueue(queue.Job{ID: "a"})
	e.enqueue(queue.Job{ID: "b"})
	e.next()
	e.next()
	_, err := e.q.Cancel(t.Context(), "b")
	require.NoError(t, err)
	e.reopen()
	a := e.get("a")
	assert.Equal(t, queue.StateQueued, a.State)
	assert.Equal(t, uint32(0), a.Attempts, "a clean shutdown does not count the attempt")
	assert.Equal(t, queue.StateCancelled, e.get("b").State)
	require.NoError(t, e.q.Close())
	require.NoError(t, e.q.Close(), "Close is idempotent")
}

// TestConcurrent runs producers, workers, cancellers and waiters at once
// (under -race in CI) and checks that every job ends exactly once.
func TestConcurrent(t *testing.T) {
	forBackends(t, func(t *testing.T, b backend) {
		e := newEnv(t, b, queue.TestConfig())
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		const producers, perProducer, workers = 4, 150, 6
		var finished atomic.Int64
		var requeued sync.Map
		var wg sync.WaitGroup
		for w := range workers {
			wg.Go(func() {
				for {
					j, err := e.q.Next(ctx)
					if err != nil {
						return
					}
					_, again := requeued.LoadOrStore(j.ID, true)
					switch {
					case j.Seq%3 == 0 && !again:
						_, err = e.q.Requeue(ctx, j.ID)
					case j.Seq%3 == 1:
						_, err = e.q.Fail(ctx, j.ID, "w"+fmt.Sprint(w), nil)
					default:
						_, err = e.q.Complete(ctx, j.ID, []byte(j.ID))
					}
					assert.NoError(t, err)
				}
			})
		}
		var jobs sync.WaitGroup
		for p := range producers {
			jobs.Go(func() {
				for i := range perProducer {
					j, err := e.q.Enqueue(ctx, queue.Job{Priority: int32(i % 3), Owner: fmt.Sprint(p)})
					if !assert.NoError(t, err) {
						return
					}
					if i%7 == 0 {
						_, err := e.q.Cancel(ctx, j.ID)
						if err != nil {
							assert.ErrorIs(t, err, queue.ErrBadTransition)
						}
					}
					j, err = e.q.Wait(ctx, j.ID)
					if assert.NoError(t, err) && assert.True(t, j.State.Terminal()) {
						finished.Add(1)
					}
				}
			})
		}
		jobs.Wait()
		// Jobs cancelled while running are completed or failed by their
		// worker, which wins over the request; so every job finishes.
		assert.Equal(t, int64(producers*perProducer), finished.Load())
		c := e.q.Counts()
		assert.Equal(t, uint64(producers*perProducer), c.Done+c.Failed+c.Cancelled)
		assert.Zero(t, c.Queued)
		cancel()
		wg.Wait()
		assert.Zero(t, e.q.Counts().Running)
	})
}

func TestConfigValidate(t *testing.T) {
	require.NoError(t, queue.DefaultConfig().Validate())
	for field, mutate := range map[string]func(*queue.Config){
		"Namespace":          func(c *queue.Config) { c.Namespace = "Has.Dots" },
		"ResultTTL":          func(c *queue.Config) { c.ResultTTL = time.Millisecond },
		"DefaultMaxAttempts": func(c *queue.Config) { c.DefaultMaxAttempts = 0 },
		"MaxQueued":          func(c *queue.Config) { c.MaxQueued = 0 },
		"CacheBytes":         func(c *queue.Config) { c.CacheBytes = -1 },
		"Clock":              func(c *queue.Config) { c.Clock = nil },
	} {
		c := queue.DefaultConfig()
		mutate(&c)
		err := c.Validate()
		require.ErrorIs(t, err, queue.ErrConfig, field)
		assert.Contains(t, err.Error(), field)
	}
}

// TestNamespaces: two queues in one store do not see each other's jobs.
func TestNamespaces(t *testing.T) {
	e := newEnv(t, backends[1], queue.TestConfig())
	cfg := queue.TestConfig()
	cfg.Namespace = "remote"
	other, err := queue.Open(t.Context(), e.db, cfg)
	require.NoError(t, err)
	defer other.Close()
	e.enqueue(queue.Job{ID: "a"})
	_, err = other.Get(t.Context(), "a")
	assert.ErrorIs(t, err, queue.ErrNotFound)
	_, err = other.Enqueue(t.Context(), queue.Job{ID: "a"})
	assert.NoError(t, err)
}

// TestLargeRecords: concurrent changes with records near the store's
// value limit are committed in as many transactions as Badger needs.
func TestLargeRecords(t *testing.T) {
	forBackends(t, func(t *testing.T, b backend) {
		e := newEnv(t, b, queue.TestConfig())
		size := int(e.db.MaxValueSize()) - 1024
		var wg sync.WaitGroup
		for i := range 8 {
			wg.Go(func() {
				payload := make([]byte, size)
				payload[0] = byte(i)
				_, err := e.q.Enqueue(t.Context(), queue.Job{ID: fmt.Sprint(i), Payload: payload})
				assert.NoError(t, err)
			})
		}
		wg.Wait()
		e.reopen()
		for i := range 8 {
			j := e.get(fmt.Sprint(i))
			assert.Len(t, j.Payload, size)
			assert.Equal(t, byte(i), j.Payload[0])
		}
	})
}
