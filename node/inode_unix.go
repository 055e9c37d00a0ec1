//go:build unix

package node

import (
	"io/fs"
	"syscall"
)

// inode returns fi's inode number, which changes when a file is replaced.
func inode(fi fs.FileInfo) uint64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return uint64(st.Ino) //nolint:unconvert // Ino is not uint64 everywhere
	}
	return 0
}
