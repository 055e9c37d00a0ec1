package memfs

import (
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"sync"
	"time"

	"github.com/tetratelabs/wazero/experimental/sys"
	wsys "github.com/tetratelabs/wazero/sys"
)

// MaxNameLen is the longest name of one file or directory, in bytes
// (NAME_MAX on Linux).
const MaxNameLen = 255

// MaxPathLen is the longest path accepted, in bytes (PATH_MAX on Linux).
const MaxPathLen = 4096

// ErrNoSpace is the errno of an operation refused because it would exceed
// the quota of bytes or inodes. It is EIO: see the package documentation.
const ErrNoSpace = sys.EIO

// ErrConfig is returned (wrapped) by Config.Validate and New.
var ErrConfig = errors.New("memfs: invalid config")

// dev is the device number of every file (Stat_t.Dev).
const dev = 1

// Config bounds an FS.
type Config struct {
	// MaxBytes is the quota of file bytes: the sum of the sizes of all
	// files, unlinked files still open included. A file's size counts in
	// full even where it was never written (a sparse file is not sparse
	// here), since that is the memory it takes. Default 64 MiB, the
	// executor's default memory limit of a task: scratch space of the same
	// order as the memory a task works in.
	MaxBytes int64
	// MaxInodes bounds the files and directories, the root included.
	// Default 4096: ample for a task's temporary files, and it bounds the
	// memory of names and entries (a few hundred bytes each) to about a
	// megabyte.
	MaxInodes int
	// MaxOpenFiles bounds the files and directories open at once. wazero's
	// descriptor table has no bound of its own, and each open file costs
	// host memory. Default 1024, the usual per-process limit on Linux.
	MaxOpenFiles int
	// Now is the clock of time stamps, in nanoseconds since the Unix
	// epoch. Default (nil) the host's wall clock; a task with a virtual
	// clock gets its virtual time, so that what it observes stays
	// deterministic.
	Now func() int64
}

// DefaultConfig returns the bounds of a task's scratch space unless told
// otherwise; each is explained on its Config field.
func DefaultConfig() Config {
	return Config{MaxBytes: 64 << 20, MaxInodes: 4096, MaxOpenFiles: 1024}
}

// Validate reports the first invalid field of c, by name.
func (c Config) Validate() error {
	switch {
	case c.MaxBytes < 0:
		return fmt.Errorf("%w: MaxBytes must not be negative, got %d", ErrConfig, c.MaxBytes)
	case c.MaxInodes < 1:
		return fmt.Errorf("%w: MaxInodes must be at least 1 (the root), got %d", ErrConfig, c.MaxInodes)
	case c.MaxOpenFiles < 1:
		return fmt.Errorf("%w: MaxOpenFiles must be at least 1, got %d", ErrConfig, c.MaxOpenFiles)
	}
	return nil
}

// inode is a file or a directory.
type inode struct {
	ino  uint64
	dir  bool        // a directory; never changes, so read without the lock
	mode fs.FileMode // fs.ModeDir and the permission bits
	// data is a file's content; cap(data) <= 2*len(data).
	data []byte
	// entries are a directory's children by name; parent is its parent
	// (the root's is itself).
	entries map[string]*inode
	parent  *inode
	// linked: the inode has a name in the tree. opens: open files on it.
	// It is charged to the quota while either holds.
	linked           bool
	opens            int
	atim, mtim, ctim int64
}

func (n *inode) isDir() bool { return n.dir }

// FS is an in-memory filesystem. It implements sys.FS; mount it with
// wazero's experimental sysfs.FSConfig.WithSysFSMount.
type FS struct {
	sys.UnimplementedFS
	cfg Config

	mu      sync.Mutex
	root    *inode
	nextIno uint64
	bytes   int64 // charged file bytes
	inodes  int   // charged inodes
	opens   int   // open files
	full    bool  // some operation was refused for the quota
}

var _ sys.FS = (*FS)(nil)

// New returns an empty FS (a root directory, mode 0o777) bounded by cfg.
func New(cfg Config) (*FS, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Now == nil {
		cfg.Now = func() int64 { return time.Now().UnixNano() }
	}
	f := &FS{cfg: cfg}
	f.root = f.newInode(fs.ModeDir | 0o777)
	f.root.parent = f.root
	f.root.linked = true
	return f, nil
}

// Usage returns the bytes and inodes in use.
func (f *FS) Usage() (bytes int64, inodes int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.bytes, f.inodes
}

// Full reports whether an operation was refused because it would have
// exceeded the quota.
func (f *FS) Full() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.full
}

// newInode makes an inode and charges it; the caller checked the quota
// (chargeInode), except for the root.
func (f *FS) newInode(mode fs.FileMode) *inode {
	f.nextIno++
	f.inodes++
	now := f.cfg.Now()
	n := &inode{ino: f.nextIno, dir: mode.IsDir(), mode: mode, atim: now, mtim: now, ctim: now}
	if mode.IsDir() {
		n.entries = make(map[string]*inode)
	}
	return n
}

// roomForInode reports whether one more inode fits, noting if not.
func (f *FS) roomForInode() bool {
	if f.inodes >= f.cfg.MaxInodes {
		f.full = true
		return false
	}
	return true
}

// release uncharges n once it has no name and no open file.
func (f *FS) release(n *inode) {
	if n.linked || n.opens > 0 {
		return
	}
	f.bytes -= int64(len(n.data))
	f.inodes--
	n.data = nil
}

// unlink removes name from dir (whose entry is n).
func (f *FS) unlink(dir *inode, name string, n *inode) {
	delete(dir.entries, name)
	n.linked = false
	now := f.cfg.Now()
	dir.mtim, dir.ctim, n.ctim = now, now, now
	f.release(n)
}

// resize sets the size of file n, charging or refunding the quota.
func (f *FS) resize(n *inode, size int64) sys.Errno {
	old := int64(len(n.data))
	switch {
	case size == old:
		return 0
	case size > old:
		if size-old > f.cfg.MaxBytes-f.bytes {
			f.full = true
			return ErrNoSpace
		}
		if size <= int64(cap(n.data)) {
			n.data = n.data[:size]
			clear(n.data[old:]) // bytes once truncated away read as zero
		} else {
			c := min(max(size, 2*old), max(size, f.cfg.MaxBytes))
			b := make([]byte, size, c)
			copy(b, n.data)
			n.data = b
		}
	default:
		if size == 0 {
			n.data = nil
		} else if int64(cap(n.data)) > 2*size {
			b := make([]byte, size) // exactly: cap(data) <= 2*len(data)
			copy(b, n.data)
			n.data = b
		} else {
			n.data = n.data[:size]
		}
	}
	f.bytes += size - old
	return 0
}

// walk resolves p inside the tree. It returns the directory holding the
// last component and that component's name, or dir itself and an empty
// name when p names a directory through ".", ".." or the root. Every
// component before the last must be an existing directory. trailing is set
// when p ends with '/'.
func (f *FS) walk(p string) (dir *inode, name string, trailing bool, errno sys.Errno) {
	if len(p) > MaxPathLen {
		return nil, "", false, sys.ENAMETOOLONG
	}
	trailing = strings.HasSuffix(p, "/")
	dir = f.root
	for p != "" {
		var c string
		c, p, _ = strings.Cut(p, "/")
		if name != "" { // descend into the previous component
			next := dir.entries[name]
			switch {
			case next == nil:
				return nil, "", false, sys.ENOENT
			case !next.isDir():
				return nil, "", false, sys.ENOTDIR
			}
			dir, name = next, ""
		}
		switch {
		case c == "" || c == ".":
		case c == "..":
			dir = dir.parent
		case len(c) > MaxNameLen:
			return nil, "", false, sys.ENAMETOOLONG
		default:
			name = c
		}
	}
	return dir, name, trailing, 0
}

// lookup resolves p to an existing inode.
func (f *FS) lookup(p string) (*inode, sys.Errno) {
	dir, name, trailing, errno := f.walk(p)
	if errno != 0 {
		return nil, errno
	}
	if name == "" {
		return dir, 0
	}
	n := dir.entries[name]
	switch {
	case n == nil:
		return nil, sys.ENOENT
	case trailing && !n.isDir():
		return nil, sys.ENOTDIR
	}
	return n, 0
}

func (f *FS) stat(n *inode) wsys.Stat_t {
	st := wsys.Stat_t{
		Dev: dev, Ino: n.ino, Mode: n.mode, Size: int64(len(n.data)),
		Atim: n.atim, Mtim: n.mtim, Ctim: n.ctim,
	}
	switch {
	case n.isDir():
		st.Nlink = 2
	case n.linked:
		st.Nlink = 1
	}
	return st
}

// OpenFile implements sys.FS.OpenFile.
func (f *FS) OpenFile(p string, flag sys.Oflag, perm fs.FileMode) (sys.File, sys.Errno) {
	f.mu.Lock()
	defer f.mu.Unlock()
	dir, name, trailing, errno := f.walk(p)
	if errno != 0 {
		return nil, errno
	}
	n := dir
	if name != "" {
		n = dir.entries[name]
	}
	access := flag & (sys.O_RDONLY | sys.O_RDWR | sys.O_WRONLY)
	if access == sys.O_RDWR|sys.O_WRONLY {
		return nil, sys.EINVAL
	}
	if f.opens >= f.cfg.MaxOpenFiles {
		f.full = true
		return nil, ErrNoSpace
	}
	writable := access != sys.O_RDONLY
	switch {
	case n == nil && flag&sys.O_CREAT == 0:
		return nil, sys.ENOENT
	case n == nil && trailing:
		return nil, sys.EISDIR
	case n == nil:
		if !f.roomForInode() {
			return nil, ErrNoSpace
		}
		n = f.newInode(perm & fs.ModePerm)
		n.linked = true
		dir.entries[name] = n
		dir.mtim, dir.ctim = n.mtim, n.mtim
	case flag&(sys.O_CREAT|sys.O_EXCL) == sys.O_CREAT|sys.O_EXCL:
		return nil, sys.EEXIST
	case n.isDir() && (writable || flag&sys.O_TRUNC != 0):
		return nil, sys.EISDIR
	case !n.isDir() && (trailing || flag&sys.O_DIRECTORY != 0):
		return nil, sys.ENOTDIR
	case flag&sys.O_TRUNC != 0 && len(n.data) > 0:
		_ = f.resize(n, 0) // shrinking cannot fail
		n.mtim = f.cfg.Now()
		n.ctim = n.mtim
	}
	n.opens++
	f.opens++
	return &file{fs: f, n: n, read: access != sys.O_WRONLY, write: writable, append: flag&sys.O_APPEND != 0}, 0
}

// Lstat implements sys.FS.Lstat; there are no symbolic links, so it is
// Stat.
func (f *FS) Lstat(p string) (wsys.Stat_t, sys.Errno) { return f.Stat(p) }

// Stat implements sys.FS.Stat.
func (f *FS) Stat(p string) (wsys.Stat_t, sys.Errno) {
	f.mu.Lock()
	defer f.mu.Unlock()
	n, errno := f.lookup(p)
	if errno != 0 {
		return wsys.Stat_t{}, errno
	}
	return f.stat(n), 0
}

// Mkdir implements sys.FS.Mkdir.
func (f *FS) Mkdir(p string, perm fs.FileMode) sys.Errno {
	f.mu.Lock()
	defer f.mu.Unlock()
	dir, name, _, errno := f.walk(p)
	switch {
	case errno != 0:
		return errno
	case name == "" || dir.entries[name] != nil:
		return sys.EEXIST
	case !f.roomForInode():
		return ErrNoSpace
	}
	n := f.newInode(fs.ModeDir | perm&fs.ModePerm)
	n.parent, n.linked = dir, true
	dir.entries[name] = n
	dir.mtim, dir.ctim = n.mtim, n.mtim
	return 0
}

// Chmod implements sys.FS.Chmod: it sets the permission bits.
func (f *FS) Chmod(p string, perm fs.FileMode) sys.Errno {
	f.mu.Lock()
	defer f.mu.Unlock()
	n, errno := f.lookup(p)
	if errno != 0 {
		return errno
	}
	n.mode = n.mode&fs.ModeDir | perm&fs.ModePerm
	n.ctim = f.cfg.Now()
	return 0
}

// Rename implements sys.FS.Rename. A directory cannot be moved into
// itself or below itself (EINVAL), and the root cannot be moved.
func (f *FS) Rename(from, to string) sys.Errno {
	f.mu.Lock()
	defer f.mu.Unlock()
	fromDir, fromName, fromSlash, errno := f.walk(from)
	if errno != 0 {
		return errno
	}
	toDir, toName, toSlash, errno := f.walk(to)
	if errno != 0 {
		return errno
	}
	if fromName == "" || toName == "" {
		return sys.EINVAL // ".", ".." or the root
	}
	src := fromDir.entries[fromName]
	if src == nil {
		return sys.ENOENT
	}
	if !src.isDir() && (fromSlash || toSlash) {
		return sys.ENOTDIR
	}
	dst := toDir.entries[toName]
	if dst == src {
		return 0
	}
	if src.isDir() {
		for d := toDir; ; d = d.parent {
			if d == src {
				return sys.EINVAL
			}
			if d == f.root {
				break
			}
		}
	}
	if dst != nil {
		switch {
		case src.isDir() && !dst.isDir():
			return sys.ENOTDIR
		case !src.isDir() && dst.isDir():
			return sys.EISDIR
		case dst.isDir() && len(dst.entries) > 0:
			return sys.ENOTEMPTY
		}
		f.unlink(toDir, toName, dst)
	}
	delete(fromDir.entries, fromName)
	toDir.entries[toName] = src
	if src.isDir() {
		src.parent = toDir
	}
	now := f.cfg.Now()
	fromDir.mtim, fromDir.ctim, toDir.mtim, toDir.ctim, src.ctim = now, now, now, now, now
	return 0
}

// Rmdir implements sys.FS.Rmdir.
func (f *FS) Rmdir(p string) sys.Errno {
	f.mu.Lock()
	defer f.mu.Unlock()
	dir, name, _, errno := f.walk(p)
	switch {
	case errno != 0:
		return errno
	case name == "":
		return sys.EINVAL // ".", ".." or the root
	}
	n := dir.entries[name]
	switch {
	case n == nil:
		return sys.ENOENT
	case !n.isDir():
		return sys.ENOTDIR
	case len(n.entries) > 0:
		return sys.ENOTEMPTY
	}
	f.unlink(dir, name, n)
	return 0
}

// Unlink implements sys.FS.Unlink. An unlinked file still open keeps its
// bytes, charged to the quota, until its last open file is closed.
func (f *FS) Unlink(p string) sys.Errno {
	f.mu.Lock()
	defer f.mu.Unlock()
	dir, name, trailing, errno := f.walk(p)
	switch {
	case errno != 0:
		return errno
	case name == "":
		return sys.EISDIR
	}
	n := dir.entries[name]
	switch {
	case n == nil:
		return sys.ENOENT
	case n.isDir():
		return sys.EISDIR
	case trailing:
		return sys.ENOTDIR
	}
	f.unlink(dir, name, n)
	return 0
}

// Link implements sys.FS.Link: hard links are not supported (EPERM).
func (f *FS) Link(_, _ string) sys.Errno { return sys.EPERM }

// Symlink implements sys.FS.Symlink: symbolic links are not supported
// (EPERM).
func (f *FS) Symlink(_, _ string) sys.Errno { return sys.EPERM }

// Readlink implements sys.FS.Readlink: nothing is a symbolic link, so an
// existing path gives EINVAL.
func (f *FS) Readlink(p string) (string, sys.Errno) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, errno := f.lookup(p); errno != 0 {
		return "", errno
	}
	return "", sys.EINVAL
}

// Utimens implements sys.FS.Utimens.
func (f *FS) Utimens(p string, atim, mtim int64) sys.Errno {
	f.mu.Lock()
	defer f.mu.Unlock()
	n, errno := f.lookup(p)
	if errno != 0 {
		return errno
	}
	f.utimens(n, atim, mtim)
	return 0
}

func (f *FS) utimens(n *inode, atim, mtim int64) {
	if atim != sys.UTIME_OMIT {
		n.atim = atim
	}
	if mtim != sys.UTIME_OMIT {
		n.mtim = mtim
	}
	n.ctim = f.cfg.Now()
}
