package runner_test

import (
	"context"
	"errors"
	"fmt"
	"github.com/fog-compute/fog/internal/await"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fog-compute/fog/compute/queue"
	"github.com/fog-compute/fog/compute/runner"
	"github.com/fog-compute/fog/compute/wasm"
	"github.com/fog-compute/fog/store"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// countingExec is the real executor, watched: it records how many runs are
// in progress at once and announces each run's Args[1] (the job's name in
// these tests) on started, if set.
type countingExec struct {
	*wasm.Executor
	cur, max atomic.Int32
	started  chan string
}

func (c *countingExec) Run(ctx context.Context, spec wasm.Spec) (wasm.Result, error) {
	n := c.cur.Add(1)
	defer c.cur.Add(-1)
	for {
		m := c.max.Load()
		if n <= m || c.max.CompareAndSwap(m, n) {
			break
		}
	}
	if c.started != nil && len(spec.Args) > 1 {
		c.started <- spec.Args[1]
	}
	return c.Executor.Run(ctx, spec)
}

// rig is a store, an executor with the test modules compiled, a queue and
// a runner on them.
type rig struct {
	t    *testing.T
	db   *store.DB
	exec *countingExec
	q    *queue.Queue
	rn   *runner.Runner
	mods map[string]wasm.ModuleID
	code map[string][]byte

	cancel context.CancelFunc
	ran    chan error
}

type rigConfig struct {
	onDisk  bool
	runner  runner.Config
	log     *slog.Logger // the runner's logger; nil discards
	started bool         // announce runs on exec.started
	noStart bool         // do not start the runner
}

func newRig(t *testing.T, rc rigConfig) *rig {
	t.Helper()
	ctx := t.Context()
	scfg := store.InMemoryConfig()
	if rc.onDisk {
		scfg = store.DefaultConfig(t.TempDir())
		scfg.GCInterval = 0
	}
	scfg.Logger = nil
	db, err := store.Open(scfg)
	require.NoError(t, err)
	ex, err := wasm.New(ctx, wasm.TestConfig())
	require.NoError(t, err)
	r := &rig{t: t, db: db, exec: &countingExec{Executor: ex}, mods: map[string]wasm.ModuleID{}, code: map[string][]byte{}}
	if rc.started {
		r.exec.started = make(chan string, 100)
	}
	for _, name := range []string{"minimal", "exit", "trap", "loop", "busy", "spew", "growbomb", "badimport", "hostloop", "dirty"} {
		r.code[name] = readModule(t, name)
		r.mods[name] = wasm.IDOf(r.code[name])
	}
	for _, name := range []string{"minimal", "trap", "loop", "busy", "spew", "growbomb"} {
		_, err := ex.Compile(ctx, r.code[name])
		require.NoError(t, err)
	}
	r.q, err = queue.Open(ctx, db, queue.TestConfig())
	require.NoError(t, err)
	if rc.runner.Concurrency == 0 {
		rc.runner = runner.DefaultConfig()
		rc.runner.Concurrency = 2
	}
	rc.runner.Logger = rc.log
	r.rn, err = runner.New(r.q, r.exec, rc.runner)
	require.NoError(t, err)
	t.Cleanup(r.close)
	if !rc.noStart {
		r.start()
	}
	return r
}

func (r *rig) start() {
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan struct{})
	r.cancel, r.ran = cancel, make(chan error, 1)
	go func() { r.ran <- r.rn.Run(ctx, func() { close(ready) }) }()
	select {
	case <-ready:
	case err := <-r.ran:
		r.t.Fatalf("runner failed to start: %v", err)
	}
}

// stop stops the runner and returns what Run returned.
func (r *rig) stop() error {
	if r.cancel == nil {
		return nil
	}
	r.cancel()
	r.cancel = nil
	return <-r.ran
}

func (r *rig) close() {
	assert.NoError(r.t, r.stop())
	assert.NoError(r.t, r.q.Close())
	assert.NoError(r.t, r.exec.Close())
	assert.NoError(r.t, r.db.Close())
}

// submit enqueues a task named name (Args[1]) running module mod.
func (r *rig) submit(name, mod string, spec wasm.Spec, code []byte) queue.Job {
	r.t.Helper()
	spec.Module = r.mods[mod]
	spec.Args = append([]string{mod, name}, spec.Args...)
	payload, err := runner.EncodeTask(runner.Task{Spec: spec, Code: code})
	require.NoError(r.t, err)
	j, err := r.q.Enqueue(r.t.Context(), queue.Job{ID: name, Payload: payload})
	require.NoError(r.t, err)
	return j
}

func (r *rig) wait(id string) (queue.Job, wasm.Result) {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(r.t.Context(), 20*time.Second)
	defer cancel()
	j, err := r.q.Wait(ctx, id)
	require.NoError(r.t, err)
	var res wasm.Result
	if j.Result != nil {
		res, err = runner.DecodeResult(j.Result)
		require.NoError(r.t, err)
	}
	return j, res
}

// TestOutcomes checks the rule that maps a run to a job's state: a task
// that ran to its end is done whatever its exit code, even if it trapped; a
// task stopped by a limit, or that could not run, failed.
func TestOutcomes(t *testing.T) {
	for _, onDisk := range []bool{true, false} {
		t.Run(fmt.Sprintf("disk=%t", onDisk), func(t *testing.T) {
			r := newRig(t, rigConfig{onDisk: onDisk})
			ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
			type want struct {
				state  queue.State
				reason string // substring of Job.Error
				check  func(t *testing.T, res wasm.Result)
			}
			cases := []struct {
				name, mod string
				spec      wasm.Spec
				code      []byte
				payload   []byte // replaces the encoded task
				want      want
			}{
				{name: "minimal", mod: "minimal", want: want{queue.StateDone, "", func(t *testing.T, res wasm.Result) {
					assert.Equal(t, "hello, fog\n", string(res.Stdout))
					assert.True(t, res.OK())
					assert.NotZero(t, res.Usage.PeakMemoryBytes)
				}}},
				{name: "exit7", mod: "exit", code: r.code["exit"], want: want{queue.StateDone, "", func(t *testing.T, res wasm.Result) {
					assert.Equal(t, uint32(7), res.ExitCode, "a non-zero exit is a completed run")
					assert.Empty(t, res.Err)
				}}},
				{name: "trap", mod: "trap", want: want{queue.StateDone, "", func(t *testing.T, res wasm.Result) {
					assert.Contains(t, res.Err, "unreachable", "a trap is a completed run")
					assert.Equal(t, "before trap\n", string(res.Stdout))
				}}},
				{name: "timeout", mod: "loop", spec: wasm.Spec{Limits: wasm.Limits{WallTime: ms(50)}},
					want: want{queue.StateFailed, wasm.ErrTimeout.Error(), func(t *testing.T, res wasm.Result) {
						// Wall counts from instantiation, the limit from just before.
						assert.Greater(t, res.Usage.Wall, ms(25))
					}}},
				{name: "output", mod: "spew", spec: wasm.Spec{Limits: wasm.Limits{OutputBytes: 4096}},
					want: want{queue.StateFailed, wasm.ErrOutputLimit.Error(), func(t *testing.T, res wasm.Result) {
						assert.True(t, res.Truncated)
						assert.Equal(t, 4096, len(res.Stdout)+len(res.Stderr))
					}}},
				{name: "memory", mod: "growbomb", spec: wasm.Spec{Limits: wasm.Limits{MemoryPages: 4}},
					want: want{queue.StateFailed, wasm.ErrMemoryLimit.Error(), func(t *testing.T, res wasm.Result) {
						assert.Equal(t, uint64(4*wasm.PageSize), res.Usage.PeakMemoryBytes)
					}}},
				{name: "invalid-spec", mod: "minimal", spec: wasm.Spec{Args: []string{"nul\x00"}},
					want: want{queue.StateFailed, wasm.ErrInvalidSpec.Error(), nil}},
				{name: "unknown-module", mod: "hostloop",
					want: want{queue.StateFailed, wasm.ErrUnknownModule.Error(), nil}},
				{name: "invalid-module", mod: "badimport", code: r.code["badimport"],
					want: want{queue.StateFailed, wasm.ErrInvalidModule.Error(), nil}},
				{name: "hash-mismatch", mod: "dirty", code: r.code["trap"],
					want: want{queue.StateFailed, wasm.ErrHashMismatch.Error(), nil}},
				{name: "bad-payload", payload: []byte{9, 9, 9},
					want: want{queue.StateFailed, "invalid payload", nil}},
			}
			for _, tc := range cases {
				if tc.payload != nil {
					_, err := r.q.Enqueue(t.Context(), queue.Job{ID: tc.name, Payload: tc.payload})
					require.NoError(t, err)
				} else {
					r.submit(tc.name, tc.mod, tc.spec, tc.code)
				}
			}
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					j, res := r.wait(tc.name)
					assert.Equal(t, tc.want.state, j.State, j.Error)
					if tc.want.reason == "" {
						assert.Empty(t, j.Error)
					} else {
						assert.Contains(t, j.Error, tc.want.reason)
					}
					if tc.want.check != nil {
						require.NotNil(t, j.Result)
						tc.want.check(t, res)
					}
				})
			}
		})
	}
}

// TestResultTooLarge: a result that does not fit in a store value fails
// the job with the reason and the result without its output.
func TestResultTooLarge(t *testing.T) {
	r := newRig(t, rigConfig{}) // in memory: values up to about 300 KiB
	r.submit("big", "spew", wasm.Spec{Limits: wasm.Limits{OutputBytes: 400 << 10}}, nil)
	j, res := r.wait("big")
	assert.Equal(t, queue.StateFailed, j.State)
	assert.Contains(t, j.Error, wasm.ErrOutputLimit.Error())
	assert.Nil(t, j.Result, "the output did not fit")
	assert.Empty(t, res.Stdout)
}

type mapSource map[wasm.ModuleID][]byte

func (m mapSource) Module(_ context.Context, id wasm.ModuleID) ([]byte, error) {
	if code, ok := m[id]; ok {
		return code, nil
	}
	return nil, errors.New("no such module")
}

func TestModuleSource(t *testing.T) {
	cfg := runner.DefaultConfig()
	cfg.Concurrency = 1
	code := readModule(t, "exit")
	cfg.Modules = mapSource{wasm.IDOf(code): code}
	r := newRig(t, rigConfig{runner: cfg})
	r.submit("fetched", "exit", wasm.Spec{}, nil)
	j, res := r.wait("fetched")
	assert.Equal(t, queue.StateDone, j.State, j.Error)
	assert.Equal(t, uint32(7), res.ExitCode)
	r.submit("missing", "badimport", wasm.Spec{}, nil)
	j, _ = r.wait("missing")
	assert.Equal(t, queue.StateFailed, j.State)
	assert.Contains(t, j.Error, "no such module")
}

// TestConcurrencyLimit: however many jobs are claimed, no more than
// Concurrency tasks execute at once, and the limit is used.
func TestConcurrencyLimit(t *testing.T) {
	cfg := runner.DefaultConfig()
	cfg.Concurrency, cfg.MaxPrefetch = 2, 4
	r := newRig(t, rigConfig{runner: cfg})
	const n = 12
	for i := range n {
		r.submit(fmt.Sprint("loop", i), "loop", wasm.Spec{Limits: wasm.Limits{WallTime: 30 * time.Millisecond}}, nil)
	}
	for i := range n {
		j, _ := r.wait(fmt.Sprint("loop", i))
		assert.Equal(t, queue.StateFailed, j.State)
	}
	assert.Equal(t, int32(2), r.exec.max.Load(), "at most Concurrency tasks at once, and the limit reached")
}

// waitLog is a slog handler that reports the job of every "task waits for
// memory" record on a channel.
type waitLog struct{ jobs chan string }

func (waitLog) Enabled(context.Context, slog.Level) bool { return true }
func (w waitLog) WithAttrs([]slog.Attr) slog.Handler     { return w }
func (w waitLog) WithGroup(string) slog.Handler          { return w }
func (w waitLog) Handle(_ context.Context, rec slog.Record) error {
	if rec.Message == "task waits for memory" {
		rec.Attrs(func(a slog.Attr) bool {
			if a.Key == "job" {
				select {
				case w.jobs <- a.Value.String():
				default: // more waits than the test expects: it fails on its own
				}
			}
			return true
		})
	}
	return nil
}

// TestMemoryAdmission: the memory limits of the tasks executing at once
// add up to at most Config.Memory. A task that fits beside the running ones
// runs; one that does not waits (with a free slot) until it fits; one whose
// limit alone exceeds Memory fails without running.
func TestMemoryAdmission(t *testing.T) {
	const mib = 1 << 20
	cfg := runner.DefaultConfig()
	cfg.Concurrency, cfg.MaxPrefetch = 2, 2
	cfg.Memory = 48 * mib
	cfg.DefaultMemoryPages = 16 * mib / wasm.PageSize
	waits := waitLog{jobs: make(chan string, 10)}
	r := newRig(t, rigConfig{runner: cfg, started: true, log: slog.New(waits)})
	ctx := t.Context()
	pages := func(m uint32) wasm.Limits {
		return wasm.Limits{MemoryPages: m * mib / wasm.PageSize, WallTime: 20 * time.Second}
	}
	expect := func(what string, ch <-chan string, want string) {
		t.Helper()
		select {
		case got := <-ch:
			require.Equal(t, want, got, what)
		case name := <-r.exec.started:
			t.Fatalf("%s: %s started instead", what, name)
		case <-time.After(10 * time.Second):
			t.Fatalf("%s: nothing happened", what)
		}
	}

	r.submit("a", "loop", wasm.Spec{Limits: pages(32)}, nil)
	require.Equal(t, "a", <-r.exec.started)
	// 32 + 16 MiB fit in 48: runs beside a.
	r.submit("small", "minimal", wasm.Spec{Limits: pages(16)}, nil)
	require.Equal(t, "small", <-r.exec.started)
	j, _ := r.wait("small")
	require.Equal(t, queue.StateDone, j.State)
	// 32 + 32 do not: b takes the free slot and waits for a to end.
	r.submit("b", "loop", wasm.Spec{Limits: pages(32)}, nil)
	expect("b waits for memory", waits.jobs, "b")
	// More than the whole budget: refused outright, even while b waits.
	r.submit("huge", "minimal", wasm.Spec{Limits: pages(64)}, nil)
	j, _ = r.wait("huge")
	assert.Equal(t, queue.StateFailed, j.State)
	assert.Contains(t, j.Error, runner.ErrMemoryBudget.Error())
	assert.Contains(t, j.Error, "asks for 64 MiB, this node runs tasks within 48 MiB")

	_, err := r.q.Cancel(ctx, "a")
	require.NoError(t, err)
	j, _ = r.wait("a")
	assert.Equal(t, queue.StateCancelled, j.State)
	require.Equal(t, "b", <-r.exec.started, "b starts once a has ended")
	_, err = r.q.Cancel(ctx, "b")
	require.NoError(t, err)
	j, _ = r.wait("b")
	assert.Equal(t, queue.StateCancelled, j.State)
	select {
	case name := <-r.exec.started:
		t.Fatalf("%s ran", name)
	default:
	}

	// A task without a memory limit is counted, and run, with
	// DefaultMemoryPages (16 MiB here, half the executor's default).
	r.submit("default", "growbomb", wasm.Spec{}, nil)
	require.Equal(t, "default", <-r.exec.started)
	j, res := r.wait("default")
	assert.Equal(t, queue.StateFailed, j.State)
	assert.Contains(t, j.Error, wasm.ErrMemoryLimit.Error())
	assert.Equal(t, uint64(16*mib), res.Usage.PeakMemoryBytes)
}

func TestCancel(t *testing.T) {
	cfg := runner.DefaultConfig()
	cfg.Concurrency, cfg.MaxPrefetch = 1, 1
	r := newRig(t, rigConfig{runner: cfg, started: true})
	ctx := t.Context()
	long := wasm.Spec{Limits: wasm.Limits{WallTime: 20 * time.Second}}
	r.submit("running", "busy", long, nil)
	require.Equal(t, "running", <-r.exec.started)
	// The guest runs once its first byte is out (not merely once the
	// executor was called, which a cancel could still beat).
	l := r.rn.Output("running") // registered before the executor is called
	require.NotNil(t, l)
	await.Until(t, 10*time.Second, l.Written, func() bool {
		n, _ := l.Len()
		return n > 0
	})
	// The runner claims a second job (MaxPrefetch 1), which waits for the slot.
	r.submit("claimed", "loop", long, nil)
	await.Until(t, 10*time.Second, r.q.Changed, func() bool {
		j, err := r.q.Get(ctx, "claimed")
		return err == nil && j.State == queue.StateRunning
	})

	start := time.Now()
	_, err := r.q.Cancel(ctx, "claimed")
	require.NoError(t, err)
	j, res := r.wait("claimed")
	assert.Equal(t, queue.StateCancelled, j.State)
	assert.Equal(t, queue.ReasonStopped, j.Error)
	assert.Empty(t, res.Usage.Wall, "it never ran")

	_, err = r.q.Cancel(ctx, "running")
	require.NoError(t, err)
	j, res = r.wait("running")
	assert.Equal(t, queue.StateCancelled, j.State)
	assert.Less(t, time.Since(start), 10*time.Second, "the guest was stopped, not run to its limit")
	assert.NotZero(t, res.Usage.Wall, "what the stopped run consumed is kept")
	assert.Equal(t, int32(1), r.exec.max.Load())
	select {
	case name := <-r.exec.started:
		t.Fatalf("%s ran", name)
	default:
	}
}

// TestShutdownRequeues: a runner that stops requeues the jobs it was
// running and those it had claimed, without counting their attempt.
func TestShutdownRequeues(t *testing.T) {
	cfg := runner.DefaultConfig()
	cfg.Concurrency, cfg.MaxPrefetch = 2, 1
	r := newRig(t, rigConfig{onDisk: true, runner: cfg, started: true})
	ctx := t.Context()
	long := wasm.Spec{Limits: wasm.Limits{WallTime: 20 * time.Second}}
	for i := range 4 {
		r.submit(fmt.Sprint("j", i), "loop", long, nil)
	}
	<-r.exec.started
	<-r.exec.started
	await.Until(t, 10*time.Second, r.q.Changed, func() bool { return r.q.Counts().Running == 3 })
	require.NoError(t, r.rn.Health(ctx))
	start := time.Now()
	require.NoError(t, r.stop())
	assert.Less(t, time.Since(start), 10*time.Second)
	assert.ErrorIs(t, r.rn.Health(ctx), runner.ErrNotRunning)
	for i := range 4 {
		j, err := r.q.Get(ctx, fmt.Sprint("j", i))
		require.NoError(t, err)
		assert.Equal(t, queue.StateQueued, j.State, j.ID)
		assert.Zero(t, j.Attempts, j.ID)
	}
	assert.Equal(t, queue.Counts{Queued: 4}, r.q.Counts())
}

// TestService checks the node.Service contract: Name, Run with ready,
// Health, one Run at a time, and an error when the queue goes away.
func TestService(t *testing.T) {
	var _ interface {
		Name() string
		Run(ctx context.Context, ready func()) error
		Health(ctx context.Context) error
	} = (*runner.Runner)(nil)

	r := newRig(t, rigConfig{noStart: true})
	assert.Equal(t, "runner", r.rn.Name())
	assert.ErrorIs(t, r.rn.Health(t.Context()), runner.ErrNotRunning)
	r.start()
	require.NoError(t, r.rn.Health(t.Context()))
	assert.ErrorIs(t, r.rn.Run(t.Context(), nil), runner.ErrRunning)
	r.submit("one", "minimal", wasm.Spec{}, nil)
	j, _ := r.wait("one")
	assert.Equal(t, queue.StateDone, j.State)

	require.NoError(t, r.q.Close())
	err := <-r.ran
	r.cancel()
	r.cancel = nil
	assert.ErrorIs(t, err, queue.ErrClosed)
}

func TestConfigValidate(t *testing.T) {
	require.NoError(t, runner.DefaultConfig().Validate())
	for field, mutate := range map[string]func(*runner.Config){
		"Concurrency":        func(c *runner.Config) { c.Concurrency = 0 },
		"MaxPrefetch":        func(c *runner.Config) { c.MaxPrefetch = -1 },
		"DefaultMemoryPages": func(c *runner.Config) { c.DefaultMemoryPages = 0 },
		"Memory":             func(c *runner.Config) { c.Memory = uint64(c.DefaultMemoryPages)*wasm.PageSize - 1 },
	} {
		c := runner.DefaultConfig()
		mutate(&c)
		err := c.Validate()
		require.ErrorIs(t, err, runner.ErrConfig)
		assert.True(t, strings.Contains(err.Error(), field), err.Error())
	}
	_, err := runner.New(nil, nil, runner.Config{})
	assert.ErrorIs(t, err, runner.ErrConfig)
}

// TestManyTasks pushes a few thousand minimal tasks through, from several
// submitters, on disk: all complete, each once.
func TestManyTasks(t *testing.T) {
	cfg := runner.DefaultConfig()
	cfg.Concurrency, cfg.MaxPrefetch = 2, 8
	r := newRig(t, rigConfig{onDisk: true, runner: cfg})
	payload, err := runner.EncodeTask(runner.Task{Spec: wasm.Spec{Module: r.mods["minimal"]}})
	require.NoError(t, err)
	var wg sync.WaitGroup
	const submitters, each = 16, 60
	for range submitters {
		wg.Go(func() {
			for range each {
				j, err := r.q.Enqueue(t.Context(), queue.Job{Payload: payload})
				if !assert.NoError(t, err) {
					return
				}
				j, err = r.q.Wait(t.Context(), j.ID)
				if assert.NoError(t, err) {
					assert.Equal(t, queue.StateDone, j.State)
					assert.Equal(t, uint32(1), j.Attempts)
				}
			}
		})
	}
	wg.Wait()
	assert.Equal(t, queue.Counts{Done: submitters * each}, r.q.Counts())
	assert.LessOrEqual(t, r.exec.max.Load(), int32(2))
}

// TestStarted: the runner tells Started of each job it starts executing,
// once.
func TestStarted(t *testing.T) {
	cfg := runner.DefaultConfig()
	cfg.Concurrency = 1
	var mu sync.Mutex
	started := map[string]int{}
	cfg.Started = func(id string) {
		mu.Lock()
		started[id]++
		mu.Unlock()
	}
	r := newRig(t, rigConfig{runner: cfg})
	r.submit("a", "exit", wasm.Spec{}, nil)
	r.submit("b", "exit", wasm.Spec{}, nil)
	r.wait("a")
	r.wait("b")
	mu.Lock()
	defer mu.Unlock()
	assert.Equal(t, map[string]int{"a": 1, "b": 1}, started)
}
