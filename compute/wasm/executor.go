package wasm

import (
	"container/list"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"github.com/fog-compute/fog/internal/notify"
	"io/fs"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"
	"github.com/tetratelabs/wazero/experimental/sysfs"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
	"github.com/tetratelabs/wazero/sys"

	"github.com/fog-compute/fog/compute/wasm/memfs"
)

// wazeroInit serializes the creation of compilation caches and runtimes:
// wazero v1.12 stores its version string in an unsynchronized package
// variable every time it is asked for it before that succeeded once, and
// both NewCompilationCacheWithDir and the runtime's engine ask. Two
// executors starting at once in one process (a devnet, parallel tests)
// raced on it.
var wazeroInit sync.Mutex

// newRuntime makes the compilation cache (on disk in dir, or in memory if
// dir is empty) and the runtime that uses it, under wazeroInit.
func newRuntime(ctx context.Context, dir string) (wazero.CompilationCache, wazero.Runtime, error) {
	wazeroInit.Lock()
	defer wazeroInit.Unlock()
	var cache wazero.CompilationCache
	if dir == "" {
		cache = wazero.NewCompilationCache()
	} else {
		var err error
		if cache, err = wazero.NewCompilationCacheWithDir(dir); err != nil {
			return nil, nil, fmt.Errorf("wasm: compilation cache: %w", err)
		}
	}
	// The runtime's own memory limit stays at the WebAssembly maximum: it is
	// baked into compiled modules, which all tasks share, so per-task limits
	// are enforced by the memory allocator of each run instead.
	rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfig().
		WithCloseOnContextDone(true).
		WithCompilationCache(cache))
	return cache, rt, nil
}

// errWallTime is the cancellation cause of a run that reached its
// wall-time limit.
var errWallTime = errors.New("wasm: task wall-time limit reached")

// Executor compiles and runs tasks. It is safe for concurrent use: any
// number of Runs, Compiles and Loads may proceed in parallel.
type Executor struct {
	cfg   Config
	cache wazero.CompilationCache
	rt    wazero.Runtime
	// wasi is the signature of each WASI function, to check imports.
	wasi map[string]api.FunctionDefinition
	// base is the ModuleConfig shared by every run; runs derive theirs
	// from it.
	base wazero.ModuleConfig
	// runs pools per-task state (*run) with its ModuleConfig.
	runs sync.Pool

	refsChanged notify.Signal // a run took or released a module (tests wait on it)
	mu          sync.Mutex
	modules     map[ModuleID]*list.Element // of *entry
	lru         list.List                  // front: most recently used
	inflight    map[ModuleID]*compileCall
	closed      atomic.Bool // set under mu
	// active counts Runs and compilations in progress, so that Close
	// releases compiled code only when nobody uses it.
	active sync.WaitGroup
}

// entry is a compiled module in the in-memory cache.
type entry struct {
	id       ModuleID
	compiled wazero.CompiledModule
	minPages uint32
	refs     int  // runs using compiled; under Executor.mu
	evicted  bool // out of the cache: close compiled when refs drops to 0
	released bool // compiled was closed (for tests)
}

// compileCall is a compilation in progress, which concurrent Loads of the
// same module wait for instead of compiling it again.
type compileCall struct {
	done chan struct{}
	err  error
}

// New returns an Executor configured by cfg. The caller must Close it.
func New(ctx context.Context, cfg Config) (*Executor, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cache, rt, err := newRuntime(ctx, cfg.CacheDir)
	if err != nil {
		return nil, err
	}
	if _, err := wasi_snapshot_preview1.NewBuilder(rt).Instantiate(ctx); err != nil {
		_ = rt.Close(ctx)
		_ = cache.Close(ctx)
		return nil, fmt.Errorf("wasm: instantiate WASI: %w", err)
	}
	e := &Executor{
		cfg:   cfg,
		cache: cache,
		rt:    rt,
		wasi:  rt.Module(wasi_snapshot_preview1.ModuleName).ExportedFunctionDefinitions(),
		// An empty name lets one compiled module be instantiated any number
		// of times at once; _start is the WASI command entry point.
		base:     wazero.NewModuleConfig().WithName("").WithStartFunctions("_start"),
		modules:  make(map[ModuleID]*list.Element),
		inflight: make(map[ModuleID]*compileCall),
	}
	return e, nil
}

// Compile validates and compiles a module binary, caches the result, and
// returns the module's ID. Compiling a module already loaded is cheap.
func (e *Executor) Compile(ctx context.Context, code []byte) (ModuleID, error) {
	id := IDOf(code)
	return id, e.load(ctx, id, code)
}

// Load is Compile for a module known by its ID, as received from a peer: it
// fails with ErrHashMismatch unless code hashes to id.
func (e *Executor) Load(ctx context.Context, id ModuleID, code []byte) error {
	if IDOf(code) != id {
		return fmt.Errorf("%w: claimed %s", ErrHashMismatch, id)
	}
	return e.load(ctx, id, code)
}

// Loaded reports whether a module is in the in-memory cache, so that Run
// with its ID would not fail with ErrUnknownModule (unless it is evicted in
// between).
func (e *Executor) Loaded(id ModuleID) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	_, ok := e.modules[id]
	return ok
}

func (e *Executor) load(ctx context.Context, id ModuleID, code []byte) error {
	e.mu.Lock()
	if e.closed.Load() {
		e.mu.Unlock()
		return ErrClosed
	}
	if el, ok := e.modules[id]; ok {
		e.lru.MoveToFront(el)
		e.mu.Unlock()
		return nil
	}
	if call, ok := e.inflight[id]; ok {
		e.mu.Unlock()
		select {
		case <-call.done:
			return call.err
		case <-ctx.Done():
			return fmt.Errorf("wasm: compile: %w", ctx.Err())
		}
	}
	call := &compileCall{done: make(chan struct{})}
	e.inflight[id] = call
	e.active.Add(1)
	e.mu.Unlock()
	defer e.active.Done()

	ent, err := e.compile(ctx, id, code)

	e.mu.Lock()
	delete(e.inflight, id)
	var drop []*entry
	switch {
	case err != nil:
	case e.closed.Load():
		drop = append(drop, ent)
		err = ErrClosed
	default:
		e.modules[id] = e.lru.PushFront(ent)
		for e.lru.Len() > e.cfg.MaxCompiledModules {
			old := e.lru.Remove(e.lru.Back()).(*entry)
			delete(e.modules, old.id)
			old.evicted = true
			if old.refs == 0 {
				old.released = true
				drop = append(drop, old)
			}
		}
	}
	call.err = err
	e.mu.Unlock()
	close(call.done)
	for _, d := range drop {
		_ = d.compiled.Close(context.Background())
	}
	return err
}

// compile compiles code and checks that it is a WASI command this executor
// can run.
func (e *Executor) compile(ctx context.Context, id ModuleID, code []byte) (*entry, error) {
	info, err := inspectModule(code)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidModule, err)
	}
	compiled, err := e.rt.CompileModule(ctx, code)
	if err != nil {
		if e.closed.Load() {
			return nil, ErrClosed
		}
		// A file error is the compilation cache's (a full or read-only
		// disk), not the module's fault.
		if pe := (*fs.PathError)(nil); errors.As(err, &pe) {
			return nil, fmt.Errorf("wasm: compile: the compilation cache: %w", err)
		}
		return nil, fmt.Errorf("%w: %v", ErrInvalidModule, err)
	}
	if err := e.checkCommand(compiled, &info); err != nil {
		_ = compiled.Close(ctx)
		return nil, err
	}
	if info.minPages > e.cfg.MaxLimits.MemoryPages {
		_ = compiled.Close(ctx)
		return nil, fmt.Errorf("%w: module declares %d pages of memory, the executor allows at most %d",
			ErrMemoryLimit, info.minPages, e.cfg.MaxLimits.MemoryPages)
	}
	return &entry{id: id, compiled: compiled, minPages: info.minPages}, nil
}

// checkCommand accepts only WASI preview 1 commands: modules that export
// _start and import nothing but WASI functions with their WASI signatures.
func (e *Executor) checkCommand(m wazero.CompiledModule, info *moduleInfo) error {
	if info.nonFuncImports > 0 {
		return fmt.Errorf("%w: imports %d tables, memories, globals or tags; only WASI functions may be imported",
			ErrInvalidModule, info.nonFuncImports)
	}
	for _, f := range m.ImportedFunctions() {
		mod, name, _ := f.Import()
		want, ok := e.wasi[name]
		if mod != wasi_snapshot_preview1.ModuleName || !ok {
			return fmt.Errorf("%w: imports %s.%s, which is not a WASI preview 1 function", ErrInvalidModule, mod, name)
		}
		if !slices.Equal(f.ParamTypes(), want.ParamTypes()) || !slices.Equal(f.ResultTypes(), want.ResultTypes()) {
			return fmt.Errorf("%w: imports %s.%s with the wrong signature", ErrInvalidModule, mod, name)
		}
	}
	start, ok := m.ExportedFunctions()["_start"]
	if !ok {
		return fmt.Errorf("%w: no _start export (not a WASI command)", ErrInvalidModule)
	}
	if len(start.ParamTypes()) != 0 || len(start.ResultTypes()) != 0 {
		return fmt.Errorf("%w: _start must take and return nothing", ErrInvalidModule)
	}
	return nil
}

// acquire pins a loaded module for a run.
func (e *Executor) acquire(id ModuleID) (*entry, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed.Load() {
		return nil, ErrClosed
	}
	el, ok := e.modules[id]
	if !ok {
		return nil, fmt.Errorf("%w: %s", ErrUnknownModule, id)
	}
	e.lru.MoveToFront(el)
	ent := el.Value.(*entry)
	ent.refs++
	e.active.Add(1)
	e.refsChanged.Notify()
	return ent, nil
}

// release unpins a module, closing it if it was evicted meanwhile.
func (e *Executor) release(ent *entry) {
	e.mu.Lock()
	ent.refs--
	e.refsChanged.Notify()
	drop := ent.evicted && ent.refs == 0 && !ent.released
	if drop {
		ent.released = true
	}
	e.mu.Unlock()
	if drop {
		_ = ent.compiled.Close(context.Background())
	}
	e.active.Done()
}

// Run runs one task to completion and returns its Result.
//
// A task that runs to completion returns a nil error, whatever its exit
// code; so does a task that traps (Result.Err says why). A task stopped by a
// limit returns its Result (output so far, usage) with an error wrapping
// ErrTimeout, ErrMemoryLimit or ErrOutputLimit. A task refused before
// running returns ErrUnknownModule, ErrInvalidSpec or ErrMemoryLimit (its
// declared minimum memory exceeds the limit). If ctx ends first, the task is
// stopped and the error wraps ctx's error; if the Executor is closed, it
// wraps ErrClosed.
func (e *Executor) Run(ctx context.Context, spec Spec) (Result, error) {
	if err := ctx.Err(); err != nil {
		return Result{}, fmt.Errorf("wasm: run: %w", err)
	}
	lim, err := spec.Limits.resolve(e.cfg.DefaultLimits, e.cfg.MaxLimits)
	if err != nil {
		return Result{}, err
	}
	if err := spec.check(); err != nil {
		return Result{}, err
	}
	if spec.Scratch && e.cfg.ScratchBytes == 0 {
		return Result{}, fmt.Errorf("%w: Scratch: this executor gives tasks no scratch space (Config.ScratchBytes is 0)", ErrInvalidSpec)
	}
	ent, err := e.acquire(spec.Module)
	if err != nil {
		return Result{}, err
	}
	defer e.release(ent)
	if ent.minPages > lim.MemoryPages {
		return Result{}, fmt.Errorf("%w: module declares %d pages of memory, the task's limit is %d",
			ErrMemoryLimit, ent.minPages, lim.MemoryPages)
	}

	// Usage.Wall is measured from the moment the limit's clock starts, so a
	// task stopped by its limit always reports at least the limit.
	start := time.Now()
	runCtx, cancel := context.WithTimeoutCause(ctx, lim.WallTime, errWallTime)
	defer cancel()
	r, _ := e.runs.Get().(*run)
	if r == nil {
		r = newRun(e.base)
	}
	defer e.putRun(r)
	r.reset(runCtx, spec.Stdin, &lim, spec.Module, cancel)

	cfg := r.cfg
	if len(spec.Args) > 0 {
		cfg = cfg.WithArgs(spec.Args...)
	}
	if len(spec.Env) > 0 {
		keys := make([]string, 0, len(spec.Env))
		for k := range spec.Env {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			cfg = cfg.WithEnv(k, spec.Env[k])
		}
	}
	if spec.Clock {
		cfg = cfg.WithSysWalltime().WithSysNanotime().WithNanosleep(r.sleep)
	}
	if spec.Random {
		cfg = cfg.WithRandSource(rand.Reader)
	}
	if spec.Scratch {
		// An in-memory filesystem: no host path is ever involved, so there
		// is nothing outside it for a guest to reach (see package memfs).
		// Its time stamps are the task's clock, virtual unless Clock.
		now := func() int64 { return time.Now().UnixNano() }
		if !spec.Clock {
			now = func() int64 { return fakeEpoch + r.virt }
		}
		scratch, err := memfs.New(memfs.Config{
			MaxBytes: e.cfg.ScratchBytes, MaxInodes: e.cfg.ScratchFiles,
			MaxOpenFiles: memfs.DefaultConfig().MaxOpenFiles, Now: now,
		})
		if err != nil {
			return Result{}, fmt.Errorf("wasm: scratch: %w", err)
		}
		cfg = cfg.WithFSConfig(wazero.NewFSConfig().(sysfs.FSConfig).WithSysFSMount(scratch, "/scratch"))
	}

	mod, err := e.rt.InstantiateModule(experimental.WithMemoryAllocator(runCtx, &r.mem), ent.compiled, cfg)
	if mod != nil {
		_ = mod.Close(ctx)
	}
	res := Result{
		Stdout:           r.out.stdout,
		Stderr:           r.out.stderr,
		Truncated:        r.out.truncated,
		NonDeterministic: spec.Clock || spec.Random,
		Usage:            Usage{Wall: time.Since(start), PeakMemoryBytes: r.mem.size()},
	}
	return e.outcome(ctx, runCtx, r, &lim, err, res)
}

// putRun returns r to the pool once its task is over: the guest has
// returned and its module is closed, so wazero holds none of r.
func (e *Executor) putRun(r *run) {
	r.clear()
	e.runs.Put(r)
}

// exitCode returns the exit code carried by err, if it is a sys.ExitError.
func exitCode(err error) (uint32, bool) {
	var exit *sys.ExitError
	if errors.As(err, &exit) {
		return exit.ExitCode(), true
	}
	return 0, false
}

// outcome classifies how a run ended.
func (e *Executor) outcome(ctx, runCtx context.Context, r *run, lim *Limits, err error, res Result) (Result, error) {
	interrupted := false
	if err != nil {
		if code, ok := exitCode(err); ok {
			res.ExitCode = code
			// wazero closes a guest whose context ends with one of these codes.
			interrupted = runCtx.Err() != nil &&
				(code == sys.ExitCodeDeadlineExceeded || code == sys.ExitCodeContextCanceled)
		} else {
			res.Err = err.Error()
		}
	}
	// A guest whose real sleep was cut short by the end of its context may
	// still return normally; it was stopped all the same.
	interrupted = interrupted || (r.sleepCut && runCtx.Err() != nil)
	switch {
	case r.out.truncated:
		// Checked first: the cap is exact, so this outcome does not depend
		// on how fast the guest was stopped.
		res.Err = fmt.Sprintf("output limit of %d bytes exceeded", lim.OutputBytes)
		return res, fmt.Errorf("%w: more than %d bytes", ErrOutputLimit, lim.OutputBytes)
	case err != nil && e.closed.Load():
		res.Err = "executor closed"
		return res, ErrClosed
	case interrupted && errors.Is(context.Cause(runCtx), errWallTime):
		res.Err = fmt.Sprintf("wall-time limit of %v exceeded", lim.WallTime)
		return res, fmt.Errorf("%w: limit %v, ran %v", ErrTimeout, lim.WallTime, res.Usage.Wall)
	case interrupted:
		res.Err = "cancelled: " + context.Cause(runCtx).Error()
		return res, fmt.Errorf("wasm: run stopped: %w", ctx.Err())
	case r.mem.refused && (res.Err != "" || res.ExitCode != 0):
		res.Err = fmt.Sprintf("memory limit of %d pages reached: %s", lim.MemoryPages, res.Err)
		return res, fmt.Errorf("%w: limit %d pages (%d bytes)", ErrMemoryLimit, lim.MemoryPages, uint64(lim.MemoryPages)*PageSize)
	}
	return res, nil
}

// Close stops the tasks still running (their Runs return ErrClosed), waits
// for them and for compilations in progress, and releases all compiled code.
// It is idempotent; the Executor cannot be used afterwards.
func (e *Executor) Close() error {
	e.mu.Lock()
	if e.closed.Load() {
		e.mu.Unlock()
		return nil
	}
	e.closed.Store(true)
	e.mu.Unlock()

	ctx := context.Background()
	// Closing the runtime closes every module instance, which stops running
	// guests at their next check (WithCloseOnContextDone inserts them).
	err := e.rt.CloseWithExitCode(ctx, sys.ExitCodeContextCanceled)
	e.active.Wait()
	e.mu.Lock()
	for el := e.lru.Front(); el != nil; el = el.Next() {
		ent := el.Value.(*entry)
		ent.released = true
		if cerr := ent.compiled.Close(ctx); err == nil {
			err = cerr
		}
	}
	e.lru.Init()
	clear(e.modules)
	e.mu.Unlock()
	if cerr := e.cache.Close(ctx); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("wasm: close: %w", err)
	}
	return nil
}
