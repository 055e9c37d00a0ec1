//go:build linux

package wasm

import (
	"errors"
	"math"

	"golang.org/x/sys/unix"
)

// mapMemory maps n bytes of zeroed, private, anonymous memory, readable and
// writable. MAP_NORESERVE reserves address space only: no swap or commit
// charge is taken up front, and a page costs memory only once touched.
func mapMemory(n uint64) ([]byte, error) {
	if n == 0 || n > math.MaxInt {
		return nil, errors.New("wasm: map memory: size out of range")
	}
	return unix.Mmap(-1, 0, int(n), unix.PROT_READ|unix.PROT_WRITE,
		unix.MAP_PRIVATE|unix.MAP_ANONYMOUS|unix.MAP_NORESERVE)
}

// unmapMemory returns a mapping made by mapMemory to the OS.
func unmapMemory(b []byte) error { return unix.Munmap(b) }
