package wasm

import (
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/sys"
)

// errOutputFull is what the guest's fd_write sees (as EIO) once the output
// limit is reached.
var errOutputFull = errors.New("wasm: output limit reached")

// run is the per-task state handed to wazero: stdin, the capped output
// writers, the memory allocator that enforces the page limit, and the
// deterministic clocks and random source. Runs are pooled by the Executor,
// each with a ModuleConfig bound to its fields, so that a task costs wazero
// no configuration clones beyond its args and env. All of its methods are
// called on the goroutine running the guest, except Free (see there).
type run struct {
	stdin  bytes.Reader
	stdout stream
	stderr stream
	out    output
	mem    memory
	rand   detRand
	// virt is the virtual time of a task without Clock, in nanoseconds
	// since its start (see fakeNanotime).
	virt int64
	ctx  context.Context // the run's context, for real sleeps
	// sleepCut is set when a real sleep ended because the run's context
	// did: the guest may then finish normally, but it was interrupted.
	sleepCut bool
	// cfg is the Executor's base ModuleConfig with this run's stdin,
	// stdout, stderr, fake clocks and deterministic random source.
	cfg wazero.ModuleConfig
}

// newRun returns a run whose cfg derives from base.
func newRun(base wazero.ModuleConfig) *run {
	r := &run{}
	r.stdout = stream{out: &r.out}
	r.stderr = stream{out: &r.out, stderr: true}
	r.cfg = base.WithStdin(&r.stdin).WithStdout(&r.stdout).WithStderr(&r.stderr).
		WithRandSource(&r.rand).
		WithWalltime(r.fakeWalltime, sys.ClockResolution(time.Microsecond)).
		WithNanotime(r.fakeNanotime, sys.ClockResolution(1)).
		WithNanosleep(r.fakeNanosleep)
	return r
}

// reset prepares r for a task.
func (r *run) reset(ctx context.Context, stdin []byte, lim *Limits, seed ModuleID, kill context.CancelFunc) {
	r.stdin.Reset(stdin)
	r.out = output{left: lim.OutputBytes, kill: kill, live: liveOf(ctx)}
	r.mem = memory{limit: uint64(lim.MemoryPages) * PageSize, spare: r.mem.spare}
	r.rand.seed = seed
	r.rand.seeded = false
	r.virt = 0
	r.ctx = ctx
	r.sleepCut = false
}

// clear drops what r holds of a finished task, before it is pooled: the
// guest's memory is returned to the OS if it was mapped, or zeroed and kept
// as the next task's if it is small (see memory.release). It must be called
// only once the guest has returned.
func (r *run) clear() {
	r.stdin.Reset(nil)
	r.out = output{}
	r.mem.release()
	r.ctx = nil
}

// fakeEpoch is the fake wall clock's reading at virtual time 0:
// 2022-01-01T00:00:00Z, as wazero's own fake clock.
const fakeEpoch = 1640995200 * int64(time.Second)

// maxVirt bounds virtual time so that sleeps cannot overflow it (about
// 146 years).
const maxVirt = 1 << 62

// fakeWalltime is the wall clock of a task without Clock: fakeEpoch plus
// the virtual time, which each reading advances by 1 ms.
func (r *run) fakeWalltime() (sec int64, nsec int32) {
	t := fakeEpoch + r.virt
	r.advance(int64(time.Millisecond))
	return t / int64(time.Second), int32(t % int64(time.Second))
}

// fakeNanotime is the monotonic clock of a task without Clock: the virtual
// time, starting at 0, which each reading advances by 1 ms. The virtual time
// depends only on what the guest did (its clock readings and sleeps), so it
// is the same on every run.
func (r *run) fakeNanotime() int64 {
	t := r.virt
	r.advance(int64(time.Millisecond))
	return t
}

// fakeNanosleep is the sleep of a task without Clock: it returns at once,
// having advanced the virtual time by ns, so that the guest sees the time
// it asked to sleep pass (a Go program's time.Sleep returns after one call).
func (r *run) fakeNanosleep(ns int64) { r.advance(ns) }

func (r *run) advance(ns int64) {
	switch {
	case ns <= 0:
	case ns >= maxVirt-r.virt:
		r.virt = maxVirt
	default:
		r.virt += ns
	}
}

// output is the shared budget of stdout and stderr.
type output struct {
	stdout, stderr []byte
	left           int64 // bytes the guest may still write
	truncated      bool
	kill           context.CancelFunc // stops the guest when the budget is exceeded
	live           *Live              // publishes the output as it is written; nil if none
}

// stream is one of the guest's output files.
type stream struct {
	out    *output
	stderr bool
}

// Write accepts p up to the remaining budget. Past it, the rest of p is
// dropped, the run is cancelled (the guest stops at its next check) and the
// guest's write fails.
func (s *stream) Write(p []byte) (int, error) {
	o := s.out
	n := len(p)
	if int64(n) > o.left {
		n = int(o.left)
	}
	if o.live != nil {
		// Under the Live's lock: a reader may be copying from the buffer
		// this appends to.
		o.live.mu.Lock()
	}
	if s.stderr {
		o.stderr = append(o.stderr, p[:n]...)
	} else {
		o.stdout = append(o.stdout, p[:n]...)
	}
	if o.live != nil {
		o.live.stdout, o.live.stderr = o.stdout, o.stderr
		o.live.mu.Unlock()
		o.live.written.Notify()
		if o.live.onWrite != nil {
			o.live.onWrite()
		}
	}
	o.left -= int64(n)
	if n < len(p) {
		if !o.truncated {
			o.truncated = true
			o.kill()
		}
		return n, errOutputFull
	}
	return n, nil
}

// detRand is the deterministic random source of a task without Random: a
// ChaCha8 stream keyed by the module ID, created on first use so that tasks
// that never ask for randomness do not pay for it.
type detRand struct {
	seed   ModuleID
	rng    rand.ChaCha8
	seeded bool
}

// Read implements io.Reader.
func (d *detRand) Read(p []byte) (int, error) {
	if !d.seeded {
		d.rng.Seed(d.seed)
		d.seeded = true
	}
	return d.rng.Read(p)
}

// sleep is the guest's nanosleep when it has the real clock: it sleeps for
// real, but no longer than the run lasts.
func (r *run) sleep(ns int64) {
	t := time.NewTimer(time.Duration(ns))
	defer t.Stop()
	select {
	case <-t.C:
	case <-r.ctx.Done():
		r.sleepCut = true
	}
}
