package wasm

import (
	"bytes"
	"context"
	"math"
	"runtime"
	"testing"
	"time"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tetratelabs/wazero"
)

func TestOutputBudgetIsShared(t *testing.T) {
	r := newRun(wazero.NewModuleConfig())
	killed := 0
	r.reset(context.Background(), nil, &Limits{MemoryPages: 1, OutputBytes: 10}, ModuleID{}, func() { killed++ })

	n, err := r.stdout.Write([]byte("1234"))
	require.NoError(t, err)
	assert.Equal(t, 4, n)
	n, err = r.stderr.Write([]byte("567890"))
	require.NoError(t, err)
	assert.Equal(t, 6, n)
	assert.False(t, r.out.truncated)
	assert.Zero(t, killed)

	n, err = r.stdout.Write([]byte("x"))
	require.ErrorIs(t, err, errOutputFull)
	assert.Zero(t, n)
	n, err = r.stderr.Write([]byte("yz"))
	require.ErrorIs(t, err, errOutputFull)
	assert.Zero(t, n)
	assert.True(t, r.out.truncated)
	assert.Equal(t, 1, killed, "the task is stopped once")
	assert.Equal(t, "1234", string(r.out.stdout))
	assert.Equal(t, "567890", string(r.out.stderr))
}

func TestMemoryLimitAndReuse(t *testing.T) {
	r := newRun(wazero.NewModuleConfig())
	lim := Limits{MemoryPages: 4, OutputBytes: 1}
	r.reset(context.Background(), nil, &lim, ModuleID{}, func() {})

	lm := r.mem.Allocate(PageSize, maxPages*PageSize)
	buf := lm.Reallocate(PageSize)
	require.Len(t, buf, PageSize)
	for i := range buf {
		buf[i] = 0xab
	}
	buf = lm.Reallocate(3 * PageSize)
	require.Len(t, buf, 3*PageSize)
	assert.Equal(t, bytes.Repeat([]byte{0xab}, PageSize), buf[:PageSize], "growing keeps the contents")
	assert.Equal(t, make([]byte, 2*PageSize), buf[PageSize:], "new pages are zero")
	for i := range buf {
		buf[i] = 0xcd
	}
	assert.Nil(t, lm.Reallocate(5*PageSize), "past the limit")
	assert.True(t, r.mem.refused)
	buf = lm.Reallocate(4 * PageSize)
	require.Len(t, buf, 4*PageSize, "up to the limit is fine")
	assert.Equal(t, uint64(4*PageSize), r.mem.size())

	// The next task on this run reuses the memory, zeroed.
	r.clear()
	require.Equal(t, 4*PageSize, cap(r.mem.spare))
	r.reset(context.Background(), nil, &lim, ModuleID{}, func() {})
	assert.False(t, r.mem.refused)
	lm = r.mem.Allocate(2*PageSize, maxPages*PageSize)
	buf = lm.Reallocate(4 * PageSize)
	assert.Equal(t, make([]byte, 4*PageSize), buf, "reused memory is zeroed")

	// Large memories are not kept.
	big := Limits{MemoryPages: 4 * maxSpareMemory / PageSize, OutputBytes: 1}
	r.reset(context.Background(), nil, &big, ModuleID{}, func() {})
	lm = r.mem.Allocate(0, maxPages*PageSize)
	require.NotNil(t, lm.Reallocate(2*maxSpareMemory))
	r.clear()
	assert.LessOrEqual(t, cap(r.mem.spare), maxSpareMemory)
	assert.Nil(t, r.mem.mapped)
}

// TestLargeMemoryIsMapped: a memory that outgrows maxSpareMemory moves,
// once, into a mapping that reserves the task's limit, keeping its
// contents; it then grows in place, and release unmaps it. Without
// mapping (not Linux) it stays a Go slice and behaves the same.
func TestLargeMemoryIsMapped(t *testing.T) {
	canMap := runtime.GOOS == "linux"
	r := newRun(wazero.NewModuleConfig())
	lim := Limits{MemoryPages: 8 * maxSpareMemory / PageSize, OutputBytes: 1}
	limit := int(lim.MemoryPages) * PageSize
	r.reset(context.Background(), nil, &lim, ModuleID{}, func() {})

	lm := r.mem.Allocate(PageSize, maxPages*PageSize)
	buf := lm.Reallocate(PageSize)
	require.Len(t, buf, PageSize)
	for i := range buf {
		buf[i] = 0xab
	}
	buf = lm.Reallocate(maxSpareMemory + PageSize)
	require.Len(t, buf, maxSpareMemory+PageSize)
	assert.Equal(t, bytes.Repeat([]byte{0xab}, PageSize), buf[:PageSize], "moving keeps the contents")
	assert.Equal(t, make([]byte, maxSpareMemory), buf[PageSize:], "new pages are zero")
	if canMap {
		require.NotNil(t, r.mem.mapped)
		assert.Equal(t, limit, cap(buf), "the whole limit is reserved")
		assert.Equal(t, PageSize, cap(r.mem.spare), "the Go memory left is kept, zeroed")
		assert.Equal(t, make([]byte, PageSize), r.mem.spare[:PageSize])
	}
	base := unsafe.SliceData(buf)
	buf[len(buf)-1] = 0xcd
	buf = lm.Reallocate(uint64(limit))
	require.Len(t, buf, limit)
	assert.Equal(t, byte(0xcd), buf[maxSpareMemory+PageSize-1])
	assert.Equal(t, make([]byte, limit-maxSpareMemory-PageSize), buf[maxSpareMemory+PageSize:])
	if canMap {
		assert.Equal(t, base, unsafe.SliceData(buf), "a mapped memory grows in place")
	}
	assert.Nil(t, lm.Reallocate(uint64(limit)+PageSize), "past the limit")
	assert.True(t, r.mem.refused)
	r.clear()
	assert.Nil(t, r.mem.mapped)
	assert.Nil(t, r.mem.buf)

	// A module whose initial memory is large is mapped from the start,
	// and reserves no more than its own maximum.
	r.reset(context.Background(), nil, &lim, ModuleID{}, func() {})
	lm = r.mem.Allocate(2*maxSpareMemory, 3*maxSpareMemory)
	buf = lm.Reallocate(2 * maxSpareMemory)
	require.Len(t, buf, 2*maxSpareMemory)
	assert.Equal(t, make([]byte, 2*maxSpareMemory), buf)
	if canMap {
		require.NotNil(t, r.mem.mapped)
		assert.Equal(t, 3*maxSpareMemory, cap(buf))
	}
	r.clear()
	assert.Nil(t, r.mem.mapped)
}

func TestTasksNeverSeeEachOthersMemory(t *testing.T) {
	e := newTestExecutor(t, nil)
	id := compileTestdata(t, e, "dirty")
	for i := range 50 {
		res, err := e.Run(context.Background(), Spec{Module: id})
		require.NoError(t, err)
		require.True(t, res.OK(), "run %d saw a dirty memory (exit %d)", i, res.ExitCode)
		assert.Equal(t, uint64(2*PageSize), res.Usage.PeakMemoryBytes)
	}
}

func TestDeterministicRandomIsKeyedByModule(t *testing.T) {
	read := func(id ModuleID) []byte {
		d := detRand{seed: id}
		b := make([]byte, 32)
		_, err := d.Read(b)
		require.NoError(t, err)
		return b
	}
	a, b := ModuleID{1}, ModuleID{2}
	assert.Equal(t, read(a), read(a))
	assert.NotEqual(t, read(a), read(b))
}

func TestVirtualClock(t *testing.T) {
	r := newRun(wazero.NewModuleConfig())
	r.reset(context.Background(), nil, &Limits{MemoryPages: 1, OutputBytes: 1}, ModuleID{}, func() {})
	ms := int64(time.Millisecond)

	assert.Equal(t, int64(0), r.fakeNanotime())
	sec, nsec := r.fakeWalltime()
	assert.Equal(t, time.Date(2022, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Millisecond), time.Unix(sec, int64(nsec)).UTC())
	assert.Equal(t, 2*ms, r.fakeNanotime())
	r.fakeNanosleep(int64(time.Hour))
	assert.Equal(t, 3*ms+int64(time.Hour), r.fakeNanotime())
	r.fakeNanosleep(-5)
	assert.Equal(t, 4*ms+int64(time.Hour), r.fakeNanotime(), "negative sleeps do nothing")

	r.fakeNanosleep(math.MaxInt64)
	r.fakeNanosleep(math.MaxInt64)
	assert.Equal(t, int64(maxVirt), r.fakeNanotime(), "virtual time saturates")
	sec, _ = r.fakeWalltime()
	assert.Positive(t, sec)

	r.reset(context.Background(), nil, &Limits{MemoryPages: 1, OutputBytes: 1}, ModuleID{}, func() {})
	assert.Equal(t, int64(0), r.fakeNanotime(), "each task starts at 0")
}
