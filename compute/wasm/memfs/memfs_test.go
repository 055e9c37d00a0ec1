package memfs

import (
	"fmt"
	"io"
	"io/fs"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tetratelabs/wazero/experimental/sys"
)

// newTest returns an FS with quota bytes and inodes and a clock that ticks
// 1 ns a reading; at the end of the test it checks the invariants.
func newTest(t testing.TB, bytes int64, inodes int) *FS {
	t.Helper()
	var clock int64
	f, err := New(Config{MaxBytes: bytes, MaxInodes: inodes, MaxOpenFiles: 64, Now: func() int64 { clock++; return clock }})
	require.NoError(t, err)
	t.Cleanup(func() { checkInvariants(t, f, nil) })
	return f
}

// checkInvariants checks what the package documentation promises of f's
// state: a tree (each directory's parent is the one listing it, no
// cycles), valid names, and the charged bytes and inodes equal to those of
// the inodes that are linked or open (open lists the open files: nil when
// none is), within
// the quota, with backing arrays at most twice the size.
func checkInvariants(t testing.TB, f *FS, open []sys.File) {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	seen := map[*inode]bool{}
	var bytes int64
	var walk func(d *inode)
	walk = func(d *inode) {
		if seen[d] {
			t.Fatalf("inode %d reached twice: not a tree", d.ino)
		}
		seen[d] = true
		if !d.linked {
			t.Fatalf("inode %d in the tree but not linked", d.ino)
		}
		bytes += int64(len(d.data))
		if int64(cap(d.data)) > 2*int64(len(d.data)) {
			t.Fatalf("inode %d: cap %d > 2 × len %d", d.ino, cap(d.data), len(d.data))
		}
		for name, c := range d.entries {
			if name == "" || name == "." || name == ".." || strings.Contains(name, "/") || len(name) > MaxNameLen {
				t.Fatalf("bad name %q", name)
			}
			if c.isDir() {
				if c.parent != d {
					t.Fatalf("directory %q: parent is not the directory listing it", name)
				}
				walk(c)
			} else {
				if seen[c] {
					t.Fatalf("file %q linked twice", name)
				}
				seen[c] = true
				bytes += int64(len(c.data))
				if int64(cap(c.data)) > 2*int64(len(c.data)) {
					t.Fatalf("file %q: cap %d > 2 × len %d", name, cap(c.data), len(c.data))
				}
			}
		}
	}
	if f.root.parent != f.root {
		t.Fatal("the root's parent is not itself")
	}
	walk(f.root)
	inodes := len(seen)
	opens := 0
	for _, o := range open {
		fl := o.(*file)
		if fl.closed {
			continue
		}
		opens++
		if seen[fl.n] {
			continue
		}
		seen[fl.n] = true
		inodes++
		bytes += int64(len(fl.n.data))
	}
	assert.Equal(t, opens, f.opens, "open files")
	assert.LessOrEqual(t, f.opens, f.cfg.MaxOpenFiles)
	assert.Equal(t, bytes, f.bytes, "charged bytes")
	assert.Equal(t, inodes, f.inodes, "charged inodes")
	assert.LessOrEqual(t, f.bytes, f.cfg.MaxBytes)
	assert.LessOrEqual(t, f.inodes, f.cfg.MaxInodes)
}

func open(t *testing.T, f *FS, p string, flag sys.Oflag) sys.File {
	t.Helper()
	fl, errno := f.OpenFile(p, flag, 0o600)
	require.Zero(t, errno, "open %q: %v", p, errno)
	t.Cleanup(func() { fl.Close() })
	return fl
}

func write(t *testing.T, f *FS, p, content string) {
	t.Helper()
	fl := open(t, f, p, sys.O_CREAT|sys.O_TRUNC|sys.O_WRONLY)
	n, errno := fl.Write([]byte(content))
	require.Zero(t, errno)
	require.Equal(t, len(content), n)
	require.Zero(t, fl.Close())
}

func read(t *testing.T, f *FS, p string) (string, sys.Errno) {
	t.Helper()
	fl, errno := f.OpenFile(p, sys.O_RDONLY, 0)
	if errno != 0 {
		return "", errno
	}
	defer fl.Close()
	var out []byte
	buf := make([]byte, 7)
	for {
		n, errno := fl.Read(buf)
		if errno != 0 {
			return "", errno
		}
		if n == 0 {
			return string(out), 0
		}
		out = append(out, buf[:n]...)
	}
}

func names(t *testing.T, f *FS, p string) []string {
	t.Helper()
	fl := open(t, f, p, sys.O_RDONLY|sys.O_DIRECTORY)
	ds, errno := fl.Readdir(-1)
	require.Zero(t, errno)
	out := []string{}
	for _, d := range ds {
		out = append(out, d.Name)
	}
	return out
}

func TestConfigValidate(t *testing.T) {
	require.NoError(t, DefaultConfig().Validate())
	for _, tc := range []struct {
		field string
		edit  func(*Config)
	}{
		{"MaxBytes", func(c *Config) { c.MaxBytes = -1 }},
		{"MaxInodes", func(c *Config) { c.MaxInodes = 0 }},
		{"MaxOpenFiles", func(c *Config) { c.MaxOpenFiles = 0 }},
	} {
		c := DefaultConfig()
		tc.edit(&c)
		err := c.Validate()
		require.ErrorIs(t, err, ErrConfig)
		assert.Contains(t, err.Error(), tc.field)
		_, err = New(c)
		assert.ErrorIs(t, err, ErrConfig)
	}
}

func TestFileIO(t *testing.T) {
	f := newTest(t, 1<<20, 16)
	fl := open(t, f, "a", sys.O_CREAT|sys.O_RDWR)
	n, errno := fl.Write([]byte("hello world"))
	require.Zero(t, errno)
	require.Equal(t, 11, n)

	off, errno := fl.Seek(-5, io.SeekEnd)
	require.Zero(t, errno)
	assert.Equal(t, int64(6), off)
	buf := make([]byte, 10)
	n, _ = fl.Read(buf)
	assert.Equal(t, "world", string(buf[:n]))
	n, errno = fl.Read(buf)
	assert.Zero(t, errno)
	assert.Zero(t, n, "EOF reads 0 bytes without an error")

	n, _ = fl.Pread(buf[:5], 0)
	assert.Equal(t, "hello", string(buf[:n]))
	_, errno = fl.Pread(buf, -1)
	assert.Equal(t, sys.EINVAL, errno)

	_, errno = fl.Pwrite([]byte("J"), 0)
	require.Zero(t, errno)
	_, errno = fl.Pwrite([]byte("!"), 13) // a hole of one zero byte
	require.Zero(t, errno)
	got, _ := read(t, f, "a")
	assert.Equal(t, "Jello world\x00\x00!", got)

	require.Zero(t, fl.Truncate(5))
	require.Zero(t, fl.Truncate(7)) // re-extended bytes read as zero
	got, _ = read(t, f, "a")
	assert.Equal(t, "Jello\x00\x00", got)
	assert.Equal(t, sys.EINVAL, fl.Truncate(-1))

	_, errno = fl.Seek(-1, io.SeekStart)
	assert.Equal(t, sys.EINVAL, errno)
	_, errno = fl.Seek(0, 7)
	assert.Equal(t, sys.EINVAL, errno)

	st, errno := fl.Stat()
	require.Zero(t, errno)
	assert.Equal(t, int64(7), st.Size)
	assert.Equal(t, fs.FileMode(0o600), st.Mode)
	assert.Equal(t, uint64(1), st.Nlink)

	// Append mode writes at the end whatever the offset.
	ap := open(t, f, "a", sys.O_WRONLY|sys.O_APPEND)
	assert.True(t, ap.IsAppend())
	_, _ = ap.Write([]byte("+"))
	require.Zero(t, ap.SetAppend(false))
	_, _ = ap.Write([]byte("-"))
	got, _ = read(t, f, "a")
	assert.Equal(t, "Jello\x00\x00+-", got, "SetAppend(false) leaves the offset at the end")

	// Access modes are enforced.
	ro := open(t, f, "a", sys.O_RDONLY)
	_, errno = ro.Write([]byte("x"))
	assert.Equal(t, sys.EBADF, errno)
	assert.Equal(t, sys.EBADF, ro.Truncate(0))
	wo := open(t, f, "a", sys.O_WRONLY)
	_, errno = wo.Read(buf)
	assert.Equal(t, sys.EBADF, errno)

	// A closed file refuses everything; closing again is fine.
	require.Zero(t, ro.Close())
	require.Zero(t, ro.Close())
	_, errno = ro.Read(buf)
	assert.Equal(t, sys.EBADF, errno)
	_, errno = ro.Stat()
	assert.Equal(t, sys.EBADF, errno)
	assert.Equal(t, sys.EBADF, ro.Sync())

	// O_TRUNC empties, O_EXCL refuses an existing file.
	open(t, f, "a", sys.O_WRONLY|sys.O_TRUNC)
	got, _ = read(t, f, "a")
	assert.Empty(t, got)
	_, errno = f.OpenFile("a", sys.O_CREAT|sys.O_EXCL|sys.O_RDWR, 0o600)
	assert.Equal(t, sys.EEXIST, errno)
}

func TestPaths(t *testing.T) {
	f := newTest(t, 1<<20, 64)
	require.Zero(t, f.Mkdir("d", 0o700))
	require.Zero(t, f.Mkdir("d/e", 0o700))
	write(t, f, "d/e/file", "x")
	write(t, f, "top", "root file")

	for _, tc := range []struct {
		path  string
		want  string
		errno sys.Errno
	}{
		{"d/e/file", "x", 0},
		{"/d/e/file", "x", 0},
		{"./d/./e//file", "x", 0},
		{"d/e/../e/file", "x", 0},
		{"d/e/../../top", "root file", 0},
		// ".." at the root stays at the root: nothing is above it.
		{"../top", "root file", 0},
		{"../../../../../../../../top", "root file", 0},
		{"d/../../../../etc/passwd", "", sys.ENOENT},
		{"/etc/passwd", "", sys.ENOENT},
		{"top/", "", sys.ENOTDIR},
		{"top/..", "", sys.ENOTDIR},
		{"top/x", "", sys.ENOTDIR},
		{"missing/x", "", sys.ENOENT},
		{"d", "", sys.EISDIR},
		{strings.Repeat("n", MaxNameLen+1), "", sys.ENAMETOOLONG},
		{"d/" + strings.Repeat("./", MaxPathLen/2), "", sys.ENAMETOOLONG},
	} {
		t.Run(tc.path[:min(len(tc.path), 40)], func(t *testing.T) {
			got, errno := read(t, f, tc.path)
			if errno == 0 && tc.errno == sys.EISDIR {
				// Opening a directory read-only works; reading it does not.
				fl := open(t, f, tc.path, sys.O_RDONLY)
				_, errno = fl.Read(make([]byte, 1))
			}
			assert.Equal(t, tc.errno, errno)
			assert.Equal(t, tc.want, got)
		})
	}

	st, errno := f.Stat("d/e/..")
	require.Zero(t, errno)
	dst, _ := f.Stat("d")
	assert.Equal(t, dst.Ino, st.Ino)
	root, _ := f.Stat("..")
	assert.Equal(t, uint64(1), root.Ino, "the root is inode 1, and .. of the root is the root")
	_, errno = f.Stat(strings.Repeat("a", MaxPathLen+1))
	assert.Equal(t, sys.ENAMETOOLONG, errno)

	// A directory opened for writing, or a file as a directory.
	_, errno = f.OpenFile("d", sys.O_RDWR, 0)
	assert.Equal(t, sys.EISDIR, errno)
	_, errno = f.OpenFile("top", sys.O_RDONLY|sys.O_DIRECTORY, 0)
	assert.Equal(t, sys.ENOTDIR, errno)
	_, errno = f.OpenFile("new/", sys.O_CREAT|sys.O_RDWR, 0)
	assert.Equal(t, sys.EISDIR, errno)
	_, errno = f.OpenFile("top", 3, 0) // O_RDWR|O_WRONLY
	assert.Equal(t, sys.EINVAL, errno)
}

func TestNoLinks(t *testing.T) {
	f := newTest(t, 1<<20, 16)
	write(t, f, "a", "x")
	for _, tc := range []struct{ old, new string }{
		{"../../../../../../../../../../../../../../../../../../../../", "root"},
		{"/", "abs"},
		{"/etc/passwd", "passwd"},
		{"a", "b"},
		{"loop", "loop"},
	} {
		assert.Equal(t, sys.EPERM, f.Symlink(tc.old, tc.new), "symlink %q", tc.old)
		assert.Equal(t, sys.EPERM, f.Link(tc.old, tc.new), "link %q", tc.old)
	}
	assert.Equal(t, []string{"a"}, names(t, f, "."), "nothing was created")
	_, errno := f.Readlink("a")
	assert.Equal(t, sys.EINVAL, errno)
	_, errno = f.Readlink("root")
	assert.Equal(t, sys.ENOENT, errno)
}

func TestDirectories(t *testing.T) {
	f := newTest(t, 1<<20, 64)
	require.Zero(t, f.Mkdir("d", 0o750))
	assert.Equal(t, sys.EEXIST, f.Mkdir("d", 0o700))
	assert.Equal(t, sys.EEXIST, f.Mkdir(".", 0o700))
	assert.Equal(t, sys.ENOENT, f.Mkdir("x/y", 0o700))
	st, _ := f.Stat("d")
	assert.Equal(t, fs.ModeDir|0o750, st.Mode)
	require.Zero(t, f.Chmod("d", 0o700))
	st, _ = f.Stat("d")
	assert.Equal(t, fs.ModeDir|0o700, st.Mode)

	for _, n := range []string{"c", "a", "b"} {
		write(t, f, "d/"+n, n)
	}
	assert.Equal(t, []string{"a", "b", "c"}, names(t, f, "d"), "listed in name order")

	// Readdir hands the listing out in pieces, and a rewind lists anew.
	dir := open(t, f, "d", sys.O_RDONLY)
	ds, errno := dir.Readdir(2)
	require.Zero(t, errno)
	assert.Len(t, ds, 2)
	ds, _ = dir.Readdir(2)
	assert.Len(t, ds, 1)
	ds, _ = dir.Readdir(2)
	assert.Empty(t, ds)
	// Names added after the last one listed are listed; others not.
	write(t, f, "d/0", "")
	write(t, f, "d/e", "")
	ds, _ = dir.Readdir(-1)
	require.Len(t, ds, 1)
	assert.Equal(t, "e", ds[0].Name)
	require.Zero(t, f.Unlink("d/0"))
	require.Zero(t, f.Unlink("d/e"))
	write(t, f, "d/d2", "")
	_, errno = dir.Seek(0, io.SeekStart)
	require.Zero(t, errno)
	ds, _ = dir.Readdir(-1)
	assert.Len(t, ds, 4)
	_, errno = dir.Seek(1, io.SeekStart)
	assert.Equal(t, sys.EINVAL, errno)
	_, errno = dir.Write([]byte("x"))
	assert.Equal(t, sys.EISDIR, errno)

	assert.Equal(t, sys.ENOTEMPTY, f.Rmdir("d"))
	assert.Equal(t, sys.ENOTDIR, f.Rmdir("d/a"))
	assert.Equal(t, sys.EISDIR, f.Unlink("d"))
	assert.Equal(t, sys.EINVAL, f.Rmdir("."))
	assert.Equal(t, sys.EINVAL, f.Rmdir("d/.."))
	assert.Equal(t, sys.ENOENT, f.Unlink("d/zz"))
	for _, n := range []string{"a", "b", "c", "d2"} {
		require.Zero(t, f.Unlink("d/"+n))
	}
	require.Zero(t, f.Rmdir("d"))
	ds, errno = dir.Readdir(-1) // the open handle of a removed directory
	assert.Zero(t, errno)
	assert.Empty(t, ds)
	_, errno = f.Stat("d")
	assert.Equal(t, sys.ENOENT, errno)
}

func TestRename(t *testing.T) {
	for _, tc := range []struct {
		name     string
		from, to string
		errno    sys.Errno
		after    []string // the tree after, as path=content or path/
	}{
		{"file", "f", "g", 0, []string{"d/", "d/in=in", "e/", "g=f"}},
		{"file over file", "f", "d/in", 0, []string{"d/", "d/in=f", "e/"}},
		{"file over itself", "f", "f", 0, []string{"d/", "d/in=in", "e/", "f=f"}},
		{"dir into dir", "d", "e/d", 0, []string{"e/", "e/d/", "e/d/in=in", "f=f"}},
		{"dir over empty dir", "d", "e", 0, []string{"e/", "e/in=in", "f=f"}},
		{"dir over non-empty dir", "e", "d", sys.ENOTEMPTY, nil},
		{"dir into itself", "d", "d/x", sys.EINVAL, nil},
		{"dir below itself", "d", "d/../d/x", sys.EINVAL, nil},
		{"the root", ".", "x", sys.EINVAL, nil},
		{"the root by ..", "d/..", "x", sys.EINVAL, nil},
		{"onto the root", "f", "..", sys.EINVAL, nil},
		{"above the root is the root", "f", "../../../../f2", 0, []string{"d/", "d/in=in", "e/", "f2=f"}},
		{"file over dir", "f", "e", sys.EISDIR, nil},
		{"dir over file", "e", "f", sys.ENOTDIR, nil},
		{"file with a slash", "f/", "g", sys.ENOTDIR, nil},
		{"missing", "zz", "g", sys.ENOENT, nil},
		{"into a missing dir", "f", "zz/g", sys.ENOENT, nil},
		{"name too long", "f", strings.Repeat("n", MaxNameLen+1), sys.ENAMETOOLONG, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newTest(t, 1<<20, 16)
			require.Zero(t, f.Mkdir("d", 0o700))
			require.Zero(t, f.Mkdir("e", 0o700))
			write(t, f, "d/in", "in")
			write(t, f, "f", "f")
			before := tree(t, f)
			assert.Equal(t, tc.errno, f.Rename(tc.from, tc.to))
			if tc.errno != 0 {
				assert.Equal(t, before, tree(t, f), "a failed rename changes nothing")
				return
			}
			assert.Equal(t, tc.after, tree(t, f))
		})
	}
}

// tree lists f's paths in order: directories with a trailing slash, files
// as path=content.
func tree(t *testing.T, f *FS) []string {
	t.Helper()
	var out []string
	var walk func(dir string)
	walk = func(dir string) {
		for _, n := range names(t, f, dir) {
			p := strings.TrimPrefix(dir+"/"+n, "./")
			st, errno := f.Stat(p)
			require.Zero(t, errno)
			if st.Mode.IsDir() {
				out = append(out, p+"/")
				walk(p)
			} else {
				c, _ := read(t, f, p)
				out = append(out, p+"="+c)
			}
		}
	}
	walk(".")
	return out
}

func TestQuota(t *testing.T) {
	f := newTest(t, 100, 4)
	fl := open(t, f, "a", sys.O_CREAT|sys.O_RDWR)
	_, errno := fl.Write(make([]byte, 60))
	require.Zero(t, errno)
	assert.False(t, f.Full())

	// A write past the quota writes nothing.
	n, errno := fl.Write(make([]byte, 41))
	assert.Equal(t, ErrNoSpace, errno)
	assert.Equal(t, sys.EIO, errno)
	assert.Zero(t, n)
	assert.True(t, f.Full())
	st, _ := fl.Stat()
	assert.Equal(t, int64(60), st.Size)
	// So does one at an offset far away, or a truncate that grows.
	_, errno = fl.Pwrite([]byte("x"), 1<<40)
	assert.Equal(t, ErrNoSpace, errno)
	assert.Equal(t, ErrNoSpace, fl.Truncate(1<<40))
	_, errno = fl.Pwrite([]byte("x"), 1<<62)
	assert.Equal(t, ErrNoSpace, errno)
	_, errno = fl.Pwrite(make([]byte, 2), 1<<63-1)
	assert.Equal(t, sys.EINVAL, errno, "an end past the largest offset")
	// Up to the quota is fine.
	_, errno = fl.Write(make([]byte, 40))
	require.Zero(t, errno)
	b, _ := f.Usage()
	assert.Equal(t, int64(100), b)

	// Another file does not fit; removing the first makes room.
	g := open(t, f, "b", sys.O_CREAT|sys.O_RDWR)
	_, errno = g.Write([]byte("x"))
	assert.Equal(t, ErrNoSpace, errno)
	require.Zero(t, f.Unlink("a"))
	// An unlinked file still open keeps its bytes until closed.
	_, errno = g.Write([]byte("x"))
	assert.Equal(t, ErrNoSpace, errno)
	buf := make([]byte, 100)
	n, _ = fl.Pread(buf, 0)
	assert.Equal(t, 100, n, "an unlinked open file stays readable")
	checkInvariants(t, f, []sys.File{fl, g})
	require.Zero(t, fl.Close())
	_, errno = g.Write(make([]byte, 100))
	require.Zero(t, errno)
	b, inodes := f.Usage()
	assert.Equal(t, int64(100), b)
	assert.Equal(t, 2, inodes)

	// The inode quota counts files and directories, the root included.
	require.Zero(t, f.Mkdir("d", 0o700))
	write(t, f, "d/c", "")
	assert.Equal(t, ErrNoSpace, f.Mkdir("d/e", 0o700))
	_, errno = f.OpenFile("e", sys.O_CREAT|sys.O_RDWR, 0o600)
	assert.Equal(t, ErrNoSpace, errno)
	require.Zero(t, f.Unlink("d/c"))
	require.Zero(t, f.Mkdir("d/e", 0o700))
	_, inodes = f.Usage()
	assert.Equal(t, 4, inodes)
}

// TestMemoryBounded checks that shrinking a file gives its memory back:
// otherwise writing the quota, truncating and writing again elsewhere
// would hold any amount of memory.
func TestMemoryBounded(t *testing.T) {
	f := newTest(t, 2<<20, 16)
	for i := range 8 {
		fl := open(t, f, fmt.Sprint(i), sys.O_CREAT|sys.O_RDWR)
		for range 64 {
			_, errno := fl.Write(make([]byte, 16<<10))
			require.Zero(t, errno)
		}
		require.Zero(t, fl.Truncate(1))
		assert.LessOrEqual(t, cap(fl.(*file).n.data), 2)
	}
}

func TestTimes(t *testing.T) {
	f := newTest(t, 1<<20, 16)
	write(t, f, "a", "x")
	require.Zero(t, f.Utimens("a", 5, sys.UTIME_OMIT))
	st, _ := f.Stat("a")
	assert.Equal(t, int64(5), st.Atim)
	assert.NotEqual(t, int64(5), st.Mtim)
	fl := open(t, f, "a", sys.O_RDONLY)
	require.Zero(t, fl.Utimens(sys.UTIME_OMIT, 7))
	st, _ = fl.Stat()
	assert.Equal(t, int64(5), st.Atim)
	assert.Equal(t, int64(7), st.Mtim)
	assert.NotEqual(t, int64(7), st.Ctim, "ctime is the clock's")
	assert.Equal(t, sys.ENOENT, f.Utimens("b", 1, 1))
}

// TestConcurrentUse runs operations on one FS and its open files from
// several goroutines at once (run with -race), then checks the invariants.
func TestConcurrentUse(t *testing.T) {
	f := newTest(t, 1<<16, 64)
	require.Zero(t, f.Mkdir("d", 0o700))
	shared := open(t, f, "d/shared", sys.O_CREAT|sys.O_RDWR)
	done := make(chan struct{})
	for g := range 4 {
		go func() {
			defer func() { done <- struct{}{} }()
			name := fmt.Sprintf("d/%d", g)
			for i := range 200 {
				if fl, errno := f.OpenFile(name, sys.O_CREAT|sys.O_RDWR|sys.O_APPEND, 0o600); errno == 0 {
					fl.Write([]byte("data"))
					fl.IsDir()
					fl.Stat()
					fl.Close()
				}
				shared.Pwrite([]byte{byte(i)}, int64(g))
				shared.IsDir()
				shared.Ino()
				f.Chmod("d/shared", fs.FileMode(0o600|i%2))
				f.Rename(name, name+"x")
				f.Rename(name+"x", name)
				f.Stat("d")
				if i%50 == 49 {
					f.Unlink(name)
				}
			}
		}()
	}
	for range 4 {
		<-done
	}
	checkInvariants(t, f, []sys.File{shared})
}

// TestOpenFilesBounded checks the bound on open files: wazero's descriptor
// table has none, so a guest opening files in a loop would otherwise hold
// any amount of host memory.
func TestOpenFilesBounded(t *testing.T) {
	f := newTest(t, 1<<10, 4)
	write(t, f, "a", "x")
	var open []sys.File
	for {
		fl, errno := f.OpenFile("a", sys.O_RDONLY, 0)
		if errno != 0 {
			assert.Equal(t, ErrNoSpace, errno)
			break
		}
		open = append(open, fl)
		require.LessOrEqual(t, len(open), 64, "no bound on open files")
	}
	assert.Len(t, open, 64)
	assert.True(t, f.Full())
	require.Zero(t, open[0].Close())
	fl, errno := f.OpenFile("a", sys.O_RDONLY, 0)
	require.Zero(t, errno, "closing one makes room")
	open[0] = fl
	checkInvariants(t, f, open)
	for _, fl := range open {
		require.Zero(t, fl.Close())
	}
}
