package wasm

import (
	"context"
	"encoding/binary"
	"errors"
	"github.com/fog-compute/fog/internal/await"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// newTestExecutor returns an Executor on TestConfig, adjusted by mutate,
// closed at the end of the test.
func newTestExecutor(t *testing.T, mutate func(*Config)) *Executor {
	t.Helper()
	cfg := TestConfig()
	if mutate != nil {
		mutate(&cfg)
	}
	e, err := New(context.Background(), cfg)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, e.Close()) })
	return e
}

func readTestdata(tb testing.TB, name string) []byte {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name+".wasm"))
	require.NoError(tb, err)
	return b
}

// compileTestdata compiles testdata/NAME.wasm into e.
func compileTestdata(t *testing.T, e *Executor, name string) ModuleID {
	t.Helper()
	id, err := e.Compile(context.Background(), readTestdata(t, name))
	require.NoError(t, err)
	return id
}

func TestRunMinimal(t *testing.T) {
	e := newTestExecutor(t, nil)
	id := compileTestdata(t, e, "minimal")
	require.True(t, e.Loaded(id))

	res, err := e.Run(context.Background(), Spec{Module: id})
	require.NoError(t, err)
	assert.True(t, res.OK())
	assert.Equal(t, "hello, fog\n", string(res.Stdout))
	assert.Empty(t, res.Stderr)
	assert.False(t, res.Truncated)
	assert.False(t, res.NonDeterministic)
	assert.Empty(t, res.Err)
	assert.Equal(t, uint64(PageSize), res.Usage.PeakMemoryBytes, "one declared page, never grown")
	assert.Positive(t, res.Usage.Wall)
}

func TestRunExitCodeAndTrap(t *testing.T) {
	e := newTestExecutor(t, nil)

	res, err := e.Run(context.Background(), Spec{Module: compileTestdata(t, e, "exit")})
	require.NoError(t, err, "a non-zero exit is a result, not an executor error")
	assert.Equal(t, uint32(7), res.ExitCode)
	assert.Empty(t, res.Err)
	assert.False(t, res.OK())

	res, err = e.Run(context.Background(), Spec{Module: compileTestdata(t, e, "trap")})
	require.NoError(t, err, "a trap is a result, not an executor error")
	assert.Contains(t, res.Err, "unreachable")
	assert.Equal(t, "before trap\n", string(res.Stdout), "output before the trap is kept")
	assert.False(t, res.OK())
}

func TestWallTimeLimitStopsRunawayLoop(t *testing.T) {
	for _, name := range []string{"loop", "hostloop"} {
		t.Run(name, func(t *testing.T) {
			e := newTestExecutor(t, nil)
			id := compileTestdata(t, e, name)
			const limit = 100 * time.Millisecond
			res, err := e.Run(context.Background(), Spec{Module: id, Limits: Limits{WallTime: limit}})
			require.ErrorIs(t, err, ErrTimeout)
			assert.Contains(t, res.Err, "wall-time limit")
			assert.GreaterOrEqual(t, res.Usage.Wall, limit)
			t.Logf("%s: limit %v, stopped after %v (%.2f ms late)", name, limit, res.Usage.Wall,
				float64(res.Usage.Wall-limit)/float64(time.Millisecond))
		})
	}
}

func TestMemoryGrowBombStoppedAtLimit(t *testing.T) {
	e := newTestExecutor(t, nil)
	id := compileTestdata(t, e, "growbomb")
	for _, pages := range []uint32{1, 2, 37, 512} {
		res, err := e.Run(context.Background(), Spec{Module: id, Limits: Limits{MemoryPages: pages}})
		require.ErrorIs(t, err, ErrMemoryLimit, "pages=%d", pages)
		assert.Contains(t, res.Err, "memory limit")
		assert.Contains(t, res.Err, "unreachable", "the guest trapped after memory.grow failed")
		assert.Equal(t, uint64(pages)*PageSize, res.Usage.PeakMemoryBytes, "grows one page at a time up to the limit")
	}
}

func TestDeclaredMemoryOverLimitIsRefused(t *testing.T) {
	e := newTestExecutor(t, nil)
	id := compileTestdata(t, e, "bigmin") // declares 300 pages

	res, err := e.Run(context.Background(), Spec{Module: id, Limits: Limits{MemoryPages: 299}})
	require.ErrorIs(t, err, ErrMemoryLimit)
	assert.Contains(t, err.Error(), "300 pages")
	assert.Empty(t, res.Stdout, "refused without running")
	assert.Zero(t, res.Usage.PeakMemoryBytes)

	res, err = e.Run(context.Background(), Spec{Module: id, Limits: Limits{MemoryPages: 300}})
	require.NoError(t, err)
	assert.Equal(t, "ran\n", string(res.Stdout))
	assert.Equal(t, uint64(300)*PageSize, res.Usage.PeakMemoryBytes)

	// A module that could never run under the executor's maximum is refused
	// at compile time.
	small := newTestExecutor(t, func(c *Config) {
		c.MaxLimits.MemoryPages = 200
		c.DefaultLimits.MemoryPages = 100
	})
	_, err = small.Compile(context.Background(), readTestdata(t, "bigmin"))
	require.ErrorIs(t, err, ErrMemoryLimit)
	assert.False(t, small.Loaded(id))
}

func TestOutputLimit(t *testing.T) {
	e := newTestExecutor(t, nil)
	spew := compileTestdata(t, e, "spew")
	for _, limit := range []int64{1, 999, 1000, 1001, 12345, 64 << 10} {
		res, err := e.Run(context.Background(), Spec{Module: spew, Limits: Limits{OutputBytes: limit}})
		require.ErrorIs(t, err, ErrOutputLimit, "limit=%d", limit)
		assert.True(t, res.Truncated)
		assert.Contains(t, res.Err, "output limit")
		assert.Equal(t, limit, int64(len(res.Stdout)+len(res.Stderr)), "output is cut exactly at the cap")
		// spew alternates 1000-byte writes: stdout, stderr, stdout, ...
		assert.Equal(t, min(limit, 1000)+max(0, limit-2000)/2000*1000+min(max(0, (limit-2000)%2000), 1000), int64(len(res.Stdout)), "limit=%d", limit)
		assert.Equal(t, strings.Repeat("x", len(res.Stdout)), string(res.Stdout))
	}

	// Output exactly at the cap is not truncated.
	minimal := compileTestdata(t, e, "minimal")
	res, err := e.Run(context.Background(), Spec{Module: minimal, Limits: Limits{OutputBytes: int64(len("hello, fog\n"))}})
	require.NoError(t, err)
	assert.False(t, res.Truncated)
	assert.Equal(t, "hello, fog\n", string(res.Stdout))
}

func TestLoadRejectsHashMismatch(t *testing.T) {
	e := newTestExecutor(t, nil)
	code := readTestdata(t, "minimal")
	id := IDOf(code)
	wrong := id
	wrong[0] ^= 1

	err := e.Load(context.Background(), wrong, code)
	require.ErrorIs(t, err, ErrHashMismatch)
	assert.False(t, e.Loaded(wrong))
	assert.False(t, e.Loaded(id))

	tampered := append([]byte(nil), code...)
	tampered[len(tampered)-2] ^= 0xff
	require.ErrorIs(t, e.Load(context.Background(), id, tampered), ErrHashMismatch)
	assert.False(t, e.Loaded(id))

	require.NoError(t, e.Load(context.Background(), id, code))
	assert.True(t, e.Loaded(id))
}

func TestCompileRejectsInvalidModules(t *testing.T) {
	minimal := readTestdata(t, "minimal")
	tests := []struct {
		name string
		code []byte
		want string
	}{
		{"empty", nil, "header"},
		{"garbage", []byte("this is not webassembly"), "header"},
		{"truncated", minimal[:len(minimal)-5], ""},
		{"bad version", append([]byte("\x00asm\x02\x00\x00\x00"), minimal[8:]...), ""},
		{"no _start", readTestdata(t, "noentry"), "_start"},
		{"non-WASI import", readTestdata(t, "badimport"), "env.open_socket"},
		{"imported memory", readTestdata(t, "importmem"), "imports 1"},
		{"WASI import with wrong signature", readTestdata(t, "badsig"), "signature"},
	}
	e := newTestExecutor(t, nil)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id, err := e.Compile(context.Background(), tt.code)
			require.ErrorIs(t, err, ErrInvalidModule)
			assert.Contains(t, err.Error(), tt.want)
			assert.False(t, e.Loaded(id))
			_, err = e.Run(context.Background(), Spec{Module: id})
			require.ErrorIs(t, err, ErrUnknownModule)
		})
	}
}

// clockRand runs testdata/clockrand and decodes its output.
func clockRand(t *testing.T, e *Executor, spec Spec) (realtime, monotonic int64, random []byte, res Result) {
	t.Helper()
	res, err := e.Run(context.Background(), spec)
	require.NoError(t, err)
	require.True(t, res.OK(), res.Err)
	require.Len(t, res.Stdout, 32)
	return int64(binary.LittleEndian.Uint64(res.Stdout[0:])), int64(binary.LittleEndian.Uint64(res.Stdout[8:])), res.Stdout[16:], res
}

func TestClockAndRandomDeterministicByDefault(t *testing.T) {
	e := newTestExecutor(t, nil)
	id := compileTestdata(t, e, "clockrand")

	rt1, mono1, rnd1, res1 := clockRand(t, e, Spec{Module: id})
	rt2, mono2, rnd2, res2 := clockRand(t, e, Spec{Module: id})
	assert.Equal(t, res1.Stdout, res2.Stdout, "two default runs see the same clock and random bytes")
	assert.False(t, res1.NonDeterministic)
	assert.False(t, res2.NonDeterministic)
	assert.Equal(t, rt1, rt2)
	assert.Equal(t, mono1, mono2)
	assert.Equal(t, rnd1, rnd2)
	assert.NotEqual(t, make([]byte, 16), rnd1, "the deterministic stream is not all zeros")
	assert.Greater(t, time.Since(time.Unix(0, rt1)), 24*time.Hour, "the default clock is not the host's")

	// Another executor (another node) gives the same bytes.
	other := newTestExecutor(t, nil)
	_, _, _, res3 := clockRand(t, other, Spec{Module: compileTestdata(t, other, "clockrand")})
	assert.Equal(t, res1.Stdout, res3.Stdout)
}

func TestClockAndRandomRealWhenAsked(t *testing.T) {
	e := newTestExecutor(t, nil)
	id := compileTestdata(t, e, "clockrand")
	_, _, defRnd, defRes := clockRand(t, e, Spec{Module: id})

	before := time.Now()
	rt, _, _, res := clockRand(t, e, Spec{Module: id, Clock: true})
	after := time.Now()
	assert.True(t, res.NonDeterministic)
	got := time.Unix(0, rt)
	assert.False(t, got.Before(before.Add(-time.Second)) || got.After(after.Add(time.Second)),
		"realtime %v should be the host's, between %v and %v", got, before, after)
	assert.Equal(t, defRes.Stdout[16:], res.Stdout[16:], "Clock alone leaves randomness deterministic")

	_, _, rnd1, res1 := clockRand(t, e, Spec{Module: id, Random: true})
	_, _, rnd2, _ := clockRand(t, e, Spec{Module: id, Random: true})
	assert.True(t, res1.NonDeterministic)
	assert.NotEqual(t, rnd1, rnd2, "real random bytes differ between runs")
	assert.NotEqual(t, defRnd, rnd1)
	assert.Equal(t, defRes.Stdout[:16], res1.Stdout[:16], "Random alone leaves the clock fake")
}

func TestScratchOnlyWhenAsked(t *testing.T) {
	e := newTestExecutor(t, nil)
	id := compileTestdata(t, e, "scratch")

	res, err := e.Run(context.Background(), Spec{Module: id})
	require.NoError(t, err)
	assert.Equal(t, uint32(10), res.ExitCode, "no preopened directory without Scratch")
	assert.False(t, res.NonDeterministic)

	res, err = e.Run(context.Background(), Spec{Module: id, Scratch: true})
	require.NoError(t, err)
	require.True(t, res.OK(), "exit %d: %s", res.ExitCode, res.Err)
	assert.Equal(t, "/scratch\n", string(res.Stdout))
	assert.False(t, res.NonDeterministic, "the in-memory scratch space shows nothing of the host")

	// An executor without scratch space refuses such a task.
	none := newTestExecutor(t, func(c *Config) { c.ScratchBytes = 0 })
	id = compileTestdata(t, none, "scratch")
	_, err = none.Run(context.Background(), Spec{Module: id, Scratch: true})
	require.ErrorIs(t, err, ErrInvalidSpec)
	assert.Contains(t, err.Error(), "ScratchBytes")
}

func TestRunErrors(t *testing.T) {
	e := newTestExecutor(t, nil)
	id := compileTestdata(t, e, "minimal")
	max := e.cfg.MaxLimits
	tests := []struct {
		name string
		spec Spec
		want error
	}{
		{"unknown module", Spec{Module: ModuleID{1}}, ErrUnknownModule},
		{"memory over max", Spec{Module: id, Limits: Limits{MemoryPages: max.MemoryPages + 1}}, ErrInvalidSpec},
		{"wall time over max", Spec{Module: id, Limits: Limits{WallTime: max.WallTime + 1}}, ErrInvalidSpec},
		{"negative wall time", Spec{Module: id, Limits: Limits{WallTime: -1}}, ErrInvalidSpec},
		{"output over max", Spec{Module: id, Limits: Limits{OutputBytes: max.OutputBytes + 1}}, ErrInvalidSpec},
		{"negative output", Spec{Module: id, Limits: Limits{OutputBytes: -1}}, ErrInvalidSpec},
		{"NUL in arg", Spec{Module: id, Args: []string{"a\x00b"}}, ErrInvalidSpec},
		{"= in env key", Spec{Module: id, Env: map[string]string{"A=B": "c"}}, ErrInvalidSpec},
		{"empty env key", Spec{Module: id, Env: map[string]string{"": "c"}}, ErrInvalidSpec},
		{"NUL in env value", Spec{Module: id, Env: map[string]string{"A": "\x00"}}, ErrInvalidSpec},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := e.Run(context.Background(), tt.spec)
			require.ErrorIs(t, err, tt.want)
		})
	}
}

func TestRunStoppedByCallerContext(t *testing.T) {
	e := newTestExecutor(t, nil)
	id := compileTestdata(t, e, "loop")

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := e.Run(ctx, Spec{Module: id})
	require.ErrorIs(t, err, context.Canceled)

	ctx, cancel = context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	res, err := e.Run(ctx, Spec{Module: id, Limits: Limits{WallTime: 10 * time.Second}})
	require.ErrorIs(t, err, context.DeadlineExceeded)
	assert.NotErrorIs(t, err, ErrTimeout, "the caller's deadline is not the task's limit")
	assert.Contains(t, res.Err, "cancelled")
}

func TestConcurrentRuns(t *testing.T) {
	e := newTestExecutor(t, func(c *Config) { c.MaxCompiledModules = 3 })
	names := []string{"minimal", "exit", "trap", "growbomb", "clockrand"}
	codes := make(map[string][]byte)
	for _, n := range names {
		codes[n] = readTestdata(t, n)
	}
	const workers, rounds = 8, 25
	var wg sync.WaitGroup
	errs := make(chan error, workers*rounds)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range rounds {
				name := names[(w+i)%len(names)]
				id := IDOf(codes[name])
				res, err := e.Run(context.Background(), Spec{Module: id, Limits: Limits{MemoryPages: 8}})
				if errors.Is(err, ErrUnknownModule) { // never loaded, or evicted by another worker
					if err = e.Load(context.Background(), id, codes[name]); err != nil {
						errs <- err
						return
					}
					res, err = e.Run(context.Background(), Spec{Module: id, Limits: Limits{MemoryPages: 8}})
					if errors.Is(err, ErrUnknownModule) {
						continue // evicted again in between: allowed
					}
				}
				switch name {
				case "minimal":
					if err != nil || string(res.Stdout) != "hello, fog\n" {
						errs <- errors.Join(errors.New("minimal: wrong result "+string(res.Stdout)), err)
					}
				case "exit":
					if err != nil || res.ExitCode != 7 {
						errs <- errors.Join(errors.New("exit: wrong result"), err)
					}
				case "trap":
					if err != nil || !strings.Contains(res.Err, "unreachable") {
						errs <- errors.Join(errors.New("trap: wrong result"), err)
					}
				case "growbomb":
					if !errors.Is(err, ErrMemoryLimit) || res.Usage.PeakMemoryBytes != 8*PageSize {
						errs <- errors.Join(errors.New("growbomb: wrong result"), err)
					}
				case "clockrand":
					if err != nil || len(res.Stdout) != 32 {
						errs <- errors.Join(errors.New("clockrand: wrong result"), err)
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestCompileIsSharedAndCached(t *testing.T) {
	e := newTestExecutor(t, nil)
	code := readTestdata(t, "minimal")
	var wg sync.WaitGroup
	ids := make([]ModuleID, 8)
	errs := make([]error, 8)
	for i := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ids[i], errs[i] = e.Compile(context.Background(), code)
		}()
	}
	wg.Wait()
	for i := range ids {
		require.NoError(t, errs[i])
		assert.Equal(t, IDOf(code), ids[i])
	}
	e.mu.Lock()
	assert.Equal(t, 1, e.lru.Len())
	assert.Empty(t, e.inflight)
	e.mu.Unlock()
}

func TestEvictionClosesOnlyUnusedModules(t *testing.T) {
	e := newTestExecutor(t, func(c *Config) { c.MaxCompiledModules = 2 })
	loop := compileTestdata(t, e, "loop")
	minimal := compileTestdata(t, e, "minimal")

	// Run loop until its limit, and meanwhile evict it.
	type outcome struct {
		res Result
		err error
	}
	done := make(chan outcome, 1)
	go func() {
		res, err := e.Run(context.Background(), Spec{Module: loop, Limits: Limits{WallTime: 300 * time.Millisecond}})
		done <- outcome{res, err}
	}()
	e.mu.Lock()
	loopEnt := e.modules[loop].Value.(*entry)
	e.mu.Unlock()
	await.Until(t, 5*time.Second, e.refsChanged.Wait, func() bool {
		e.mu.Lock()
		defer e.mu.Unlock()
		return loopEnt.refs == 1
	})

	// minimal becomes most recent, then two new modules push loop and
	// minimal out.
	_, err := e.Run(context.Background(), Spec{Module: minimal})
	require.NoError(t, err)
	exit := compileTestdata(t, e, "exit")
	trap := compileTestdata(t, e, "trap")
	assert.False(t, e.Loaded(loop))
	assert.False(t, e.Loaded(minimal))
	assert.True(t, e.Loaded(exit))
	assert.True(t, e.Loaded(trap))

	e.mu.Lock()
	assert.True(t, loopEnt.evicted)
	assert.False(t, loopEnt.released, "still running: not closed yet")
	e.mu.Unlock()

	out := <-done
	require.ErrorIs(t, out.err, ErrTimeout, "the evicted module's run was not disturbed")
	e.mu.Lock()
	assert.True(t, loopEnt.released, "closed once its last run ended")
	e.mu.Unlock()

	_, err = e.Run(context.Background(), Spec{Module: loop})
	require.ErrorIs(t, err, ErrUnknownModule)
	require.NoError(t, e.Load(context.Background(), minimal, readTestdata(t, "minimal")))
	res, err := e.Run(context.Background(), Spec{Module: minimal})
	require.NoError(t, err)
	assert.Equal(t, "hello, fog\n", string(res.Stdout))
}

func TestCloseStopsRunningTasks(t *testing.T) {
	e, err := New(context.Background(), TestConfig())
	require.NoError(t, err)
	id := compileTestdata(t, e, "loop")

	errs := make(chan error, 2)
	for range 2 {
		go func() {
			_, err := e.Run(context.Background(), Spec{Module: id, Limits: Limits{WallTime: 30 * time.Second}})
			errs <- err
		}()
	}
	await.Until(t, 5*time.Second, e.refsChanged.Wait, func() bool {
		e.mu.Lock()
		defer e.mu.Unlock()
		return e.modules[id].Value.(*entry).refs == 2
	})

	require.NoError(t, e.Close())
	for range 2 {
		select {
		case err := <-errs:
			require.ErrorIs(t, err, ErrClosed)
		case <-time.After(10 * time.Second):
			t.Fatal("Close did not stop the running tasks")
		}
	}
	require.NoError(t, e.Close(), "Close is idempotent")
	_, err = e.Run(context.Background(), Spec{Module: id})
	require.ErrorIs(t, err, ErrClosed)
	_, err = e.Compile(context.Background(), readTestdata(t, "minimal"))
	require.ErrorIs(t, err, ErrClosed)
	assert.False(t, e.Loaded(id))
}

func TestCompilationCacheOnDisk(t *testing.T) {
	dir := t.TempDir()
	code := readTestdata(t, "minimal")
	for i := range 2 {
		e := newTestExecutor(t, func(c *Config) { c.CacheDir = dir })
		id, err := e.Compile(context.Background(), code)
		require.NoError(t, err)
		res, err := e.Run(context.Background(), Spec{Module: id})
		require.NoError(t, err, "round %d", i)
		assert.Equal(t, "hello, fog\n", string(res.Stdout))
		require.NoError(t, e.Close())
	}
	var files int
	require.NoError(t, filepath.WalkDir(dir, func(_ string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			files++
		}
		return err
	}))
	assert.Positive(t, files, "compiled code was written to CacheDir")
}

func TestModuleIDString(t *testing.T) {
	id := IDOf([]byte("abc"))
	assert.Equal(t, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", id.String())
	back, err := ParseModuleID(id.String())
	require.NoError(t, err)
	assert.Equal(t, id, back)
	_, err = ParseModuleID("abc")
	require.Error(t, err)
	_, err = ParseModuleID(strings.Repeat("zz", 32))
	require.Error(t, err)
}

func TestInterruptedRealSleepIsNotSuccess(t *testing.T) {
	tests := []struct {
		name string
		run  func(e *Executor, id ModuleID) (Result, error)
		want error
	}{
		{"time limit", func(e *Executor, id ModuleID) (Result, error) {
			return e.Run(context.Background(), Spec{Module: id, Clock: true, Limits: Limits{WallTime: 100 * time.Millisecond}})
		}, ErrTimeout},
		{"cancelled", func(e *Executor, id ModuleID) (Result, error) {
			ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
			defer cancel()
			return e.Run(ctx, Spec{Module: id, Clock: true})
		}, context.DeadlineExceeded},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newTestExecutor(t, nil)
			id := compileTestdata(t, e, "sleepwrite")
			res, err := tc.run(e, id)
			require.ErrorIs(t, err, tc.want, "a guest woken by the end of its run returns normally, but was stopped")
			assert.NotEmpty(t, res.Err)
		})
	}
	// without Clock the sleep is virtual and the task completes at once
	e := newTestExecutor(t, nil)
	id := compileTestdata(t, e, "sleepwrite")
	res, err := e.Run(context.Background(), Spec{Module: id})
	require.NoError(t, err)
	assert.Equal(t, "awake\n", string(res.Stdout))
}
