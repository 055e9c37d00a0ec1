//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package store

import "io/fs"

// allocatedBytes is the space a file occupies on disk; where the block count
// is not available, its apparent size.
func allocatedBytes(info fs.FileInfo) uint64 {
	return uint64(max(info.Size(), 0))
}
