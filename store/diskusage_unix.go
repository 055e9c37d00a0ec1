//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package store

import (
	"io/fs"
	"syscall"
)

// allocatedBytes is the space a file occupies on disk. Badger's log files
// are sparse (created at twice their capacity and filled as written), so
// their apparent size overstates usage; the allocated blocks do not.
func allocatedBytes(info fs.FileInfo) uint64 {
	if st, ok := info.Sys().(*syscall.Stat_t); ok && st.Blocks >= 0 {
		return uint64(st.Blocks) * 512
	}
	return uint64(max(info.Size(), 0))
}
