package memfs

import (
	"strings"
	"testing"

	"github.com/tetratelabs/wazero/experimental/sys"
)

// FuzzOps drives an FS with a random sequence of operations, decoded from
// the input three bytes at a time (operation, then two arguments), on a
// small namespace so that paths collide, and checks the invariants after
// each: a tree, exact accounting within the quota, bounded memory, and no
// link of any kind ever made.
func FuzzOps(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{0, 1, 0, 4, 0, 200, 2, 0, 0})                 // create, write, read
	f.Add([]byte{9, 2, 0, 0, 9, 0, 0, 2, 12, 2, 10, 13, 2, 7}) // open, mkdir, rename into itself
	f.Add([]byte{0, 1, 0, 4, 0, 255, 4, 0, 255, 11, 1, 0, 6, 0, 0, 4, 0, 255})
	f.Add([]byte{14, 5, 1, 15, 1, 3, 0, 7, 3, 5, 0, 9, 16, 0, 0, 1, 0, 0})
	f.Fuzz(func(t *testing.T, prog []byte) {
		var clock int64
		fsys, err := New(Config{MaxBytes: 300, MaxInodes: 8, MaxOpenFiles: 6, Now: func() int64 { clock++; return clock }})
		if err != nil {
			t.Fatal(err)
		}
		var open []sys.File
		handle := func(b byte) sys.File {
			if len(open) == 0 {
				return nil
			}
			return open[int(b)%len(open)]
		}
		buf := make([]byte, 512)
		for i := 0; i+2 < len(prog) && i < 3*200; i += 3 {
			op, a, b := prog[i], prog[i+1], prog[i+2]
			p, q := fuzzPath(a), fuzzPath(b)
			h := handle(a)
			switch op % 20 {
			case 0:
				flags := []sys.Oflag{sys.O_RDONLY, sys.O_RDWR, sys.O_WRONLY}[b%3] |
					sys.Oflag(b>>2)&(sys.O_APPEND|sys.O_CREAT|sys.O_DIRECTORY|sys.O_EXCL|sys.O_TRUNC)
				if fl, errno := fsys.OpenFile(p, flags, 0o600); errno == 0 {
					open = append(open, fl)
				}
			case 1:
				if h != nil {
					h.Close()
				}
			case 2:
				if h != nil {
					h.Read(buf[:b])
				}
			case 3:
				if h != nil {
					h.Pread(buf[:b], int64(a))
				}
			case 4:
				if h != nil {
					h.Write(buf[:b])
				}
			case 5:
				if h != nil {
					h.Pwrite(buf[:b%64], int64(b)<<(a%64))
				}
			case 6:
				if h != nil {
					h.Truncate(int64(b) << (a % 8))
				}
			case 7:
				if h != nil {
					h.Seek(int64(int8(b)), int(a%4))
				}
			case 8:
				if h != nil {
					h.Readdir(int(b%4) - 1)
				}
			case 9:
				fsys.Mkdir(p, 0o700)
			case 10:
				fsys.Rmdir(p)
			case 11:
				fsys.Unlink(p)
			case 12:
				fsys.Rename(p, q)
			case 13:
				fsys.Stat(p)
			case 14:
				if fsys.Symlink(q, p) != sys.EPERM || fsys.Link(q, p) != sys.EPERM {
					t.Fatal("a link was not refused")
				}
			case 15:
				if _, errno := fsys.Readlink(p); errno == 0 {
					t.Fatal("readlink found a link")
				}
			case 16:
				fsys.Chmod(p, 0o755)
			case 17:
				fsys.Utimens(p, int64(a), sys.UTIME_OMIT)
			case 18:
				if h != nil {
					h.SetAppend(b%2 == 0)
					h.Stat()
				}
			case 19:
				fsys.Lstat(p)
			}
			checkInvariants(t, fsys, open)
		}
		// Closing everything and removing the tree gives every byte and
		// inode but the root's back.
		for _, h := range open {
			h.Close()
		}
		removeAll(t, fsys, ".")
		if bytes, inodes := fsys.Usage(); bytes != 0 || inodes != 1 {
			t.Fatalf("after removing everything: %d bytes and %d inodes charged", bytes, inodes)
		}
	})
}

// fuzzPath makes a path of up to three components from b: names that
// collide, ".", ".." and empty components.
func fuzzPath(b byte) string {
	parts := []string{"a", "b", "..", ".", "", "c", strings.Repeat("x", MaxNameLen), "a/"}
	var p []string
	for range b%3 + 1 {
		p = append(p, parts[b%8])
		b /= 8
	}
	return strings.Join(p, "/")
}

func removeAll(t *testing.T, f *FS, dir string) {
	d, errno := f.OpenFile(dir, sys.O_RDONLY|sys.O_DIRECTORY, 0)
	if errno != 0 {
		t.Fatalf("open %s: %v", dir, errno)
	}
	ents, errno := d.Readdir(-1)
	d.Close()
	if errno != 0 {
		t.Fatalf("readdir %s: %v", dir, errno)
	}
	for _, e := range ents {
		p := dir + "/" + e.Name
		if e.IsDir() {
			removeAll(t, f, p)
			if errno := f.Rmdir(p); errno != 0 {
				t.Fatalf("rmdir %s: %v", p, errno)
			}
		} else if errno := f.Unlink(p); errno != 0 {
			t.Fatalf("unlink %s: %v", p, errno)
		}
	}
}
