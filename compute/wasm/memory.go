package wasm

import "github.com/tetratelabs/wazero/experimental"

// maxSpareMemory is the largest linear memory a pooled run keeps for the
// next task (zeroed), and the largest that lives in the Go heap when the
// platform can map memory (see memory). Small tasks then cost no
// allocation, no page faults and no system call for their memory, and the
// pool holds at most this much per idle run.
const maxSpareMemory = 1 << 20

// memory is the guest's linear memory. It implements wazero's experimental
// MemoryAllocator and LinearMemory so that a per-task page limit can be
// enforced with compiled modules shared by all tasks: growing past limit
// fails, which the guest sees as memory.grow returning -1.
//
// A memory of up to maxSpareMemory bytes is a Go slice, taken from the
// run's spare and given back to it zeroed after the task. A larger one
// lives in an anonymous mapping of its own (mapMemory) that reserves, up
// front, the address space of all the memory the guest may ever have (its
// module's maximum, at most limit) without committing any of it: the
// kernel gives the guest a page when it first touches it. Growing is then
// re-slicing, never copying (a copying grow holds the old and the new
// memory at once, and leaves the old one to the garbage collector, which
// returns it to the OS minutes later if at all), and release unmaps it all
// the moment the task ends. Where mapping is not available (not Linux) or
// fails, the memory stays a Go slice grown by allocate-and-copy.
//
// A module has at most one memory (multi-memory is not enabled), so one
// allocator serves one run.
//
// Invariant: the bytes of buf past its length, and all of spare, are zero.
type memory struct {
	buf     []byte
	limit   uint64 // bytes
	reserve uint64 // the most buf may grow to: the module's maximum, within limit
	refused bool   // a grow past limit was refused
	spare   []byte // zeroed Go memory left by an earlier task, reused if large enough
	mapped  []byte // the mapping buf lives in, or nil if buf is Go memory
}

// Allocate implements experimental.MemoryAllocator.
func (m *memory) Allocate(capacity, maxBytes uint64) experimental.LinearMemory {
	m.reserve = min(maxBytes, m.limit)
	switch {
	case capacity > maxSpareMemory && m.mapReserve():
		m.buf = m.mapped[:0]
	case capacity <= uint64(cap(m.spare)):
		m.buf, m.spare = m.spare[:0], nil
	default:
		m.buf = make([]byte, 0, min(capacity, m.reserve))
	}
	return m
}

// Reallocate implements experimental.LinearMemory. Memory only grows; bytes
// past the old length are zero (fresh from the kernel or from make, or
// zeroed before reuse, and never written).
func (m *memory) Reallocate(size uint64) []byte {
	if size > m.limit {
		m.refused = true
		return nil
	}
	if size <= uint64(cap(m.buf)) {
		m.buf = m.buf[:size]
		return m.buf
	}
	if m.mapped == nil && size > maxSpareMemory && m.mapReserve() {
		// Outgrown the Go heap: move to a mapping, once.
		old := m.buf
		copy(m.mapped, old)
		m.buf = m.mapped[:size]
		if cap(old) <= maxSpareMemory && cap(old) > cap(m.spare) {
			clear(old) // [len, cap) is zero already
			m.spare = old[:0]
		}
		return m.buf
	}
	// Grow by at least half so that a guest growing page by page does not
	// copy quadratically, but never reserve past the limit.
	c := max(size, uint64(cap(m.buf))+uint64(cap(m.buf))/2)
	c = max(min(c, m.reserve), size)
	buf := make([]byte, size, c)
	copy(buf, m.buf)
	m.buf = buf
	return buf
}

// mapReserve maps m.reserve bytes into m.mapped, reporting whether it
// could.
func (m *memory) mapReserve() bool {
	if m.reserve <= maxSpareMemory {
		return false
	}
	b, err := mapMemory(m.reserve)
	if err != nil {
		return false
	}
	m.mapped = b
	return true
}

// Free implements experimental.LinearMemory. wazero calls it when the module
// closes, which for a stopped guest happens on another goroutine while the
// guest may still be unwinding: so it leaves the memory alone, and the run
// releases it once the guest has returned (release).
func (m *memory) Free() {}

// release gives back the memory of a finished task: a mapping to the OS,
// at once; a small Go memory to spare, zeroed, for the next task (a larger
// one to the garbage collector). The guest must have returned.
func (m *memory) release() {
	spare := m.spare
	switch b := m.buf; {
	case m.mapped != nil:
		// Nothing can fail here but a bug (a range that is not a
		// mapping), and then there is nothing better to do than to leak it.
		_ = unmapMemory(m.mapped)
	case b != nil && cap(b) <= maxSpareMemory && cap(b) > cap(spare):
		clear(b) // [len, cap) is zero already: the guest never saw it
		spare = b[:0]
	}
	*m = memory{spare: spare}
}

// size is the memory's current (and so peak) size in bytes.
func (m *memory) size() uint64 { return uint64(len(m.buf)) }
