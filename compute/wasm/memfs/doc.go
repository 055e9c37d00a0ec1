// Package memfs is an in-memory, size-capped filesystem for the scratch
// space of a WebAssembly task. It implements wazero's experimental sys.FS,
// so that a task's /scratch is mounted without any host path: there is no
// host directory behind it, and so nothing a guest does to it can reach a
// host file.
//
// # What it owns
//
// An FS is a tree of directories and regular files held in Go memory. It
// is made empty by New and dropped with its last reference; nothing of it
// outlives the task it was made for.
//
// # Invariants (by construction)
//
//   - There are no symbolic links and no hard links: Symlink and Link fail
//     with EPERM (as POSIX says for a filesystem that does not support
//     them), Readlink with EINVAL. Every path is resolved component by
//     component inside the tree; ".." at the root stays at the root.
//   - A directory is never moved into itself or below itself, so the tree
//     stays a tree.
//   - The bytes of all files (including unlinked files still open) never
//     exceed Config.MaxBytes, files and directories (the root included)
//     never number more than Config.MaxInodes, and no more than
//     Config.MaxOpenFiles are open at once. An operation that would exceed
//     any of them fails whole (it changes nothing) with EIO, and Full
//     reports it. EIO rather than ENOSPC because wazero's errno
//     set (v1.12) has no ENOSPC and its WASI layer maps every errno it
//     does not know to EIO; a guest sees "input/output error".
//   - A file's backing array is at most twice its size, so the memory the
//     files hold is at most 2 × MaxBytes; an open directory holds only a
//     cursor (the last name it listed), not a copy of its listing.
//   - A path longer than MaxPathLen bytes, or with a component longer than
//     MaxNameLen, fails with ENAMETOOLONG.
//   - Inode numbers count up from 1 (the root), directory listings are in
//     name order, and time stamps come from Config.Now: given a
//     deterministic clock, everything a guest observes is deterministic.
//
// Permission bits are stored and reported (Chmod works) but not enforced:
// the guest owns the whole tree.
//
// # Concurrency
//
// An FS and its open files are safe for concurrent use: one mutex guards
// the tree. wazero calls them from the goroutine running the guest and,
// when it closes a module, from the one closing it.
package memfs
