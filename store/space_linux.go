package store

import "syscall"

// stRdOnly is ST_RDONLY, the statfs flag of a read-only mount.
const stRdOnly = 1

// freeSpace returns the bytes an unprivileged writer may still use on the
// filesystem of path, and whether it is mounted read-only.
func freeSpace(path string) (free uint64, readOnly bool, err error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(path, &st); err != nil {
		return 0, false, err
	}
	return st.Bavail * uint64(st.Bsize), st.Flags&stRdOnly != 0, nil
}
