//go:build wasip1

package main

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unsafe"
)

// escape tries every way out of /scratch that the tests know of, and
// prints one line for each: "escape NAME: error: ..." when the attempt was
// refused, "escape NAME: ok ..." when it was not (with what it read, if
// anything), and "works NAME: ok" for what must work inside /scratch.
// hostDir is a host directory holding a file "canary"; quota and files
// are the executor's ScratchBytes and ScratchFiles. It ends with "done".
func escape(hostDir, quota, files string) {
	maxBytes, _ := strconv.Atoi(quota)
	maxFiles, _ := strconv.Atoi(files)
	canary := hostDir + "/canary"
	up := strings.Repeat("../", 20)

	// The reproduction: a relative symlink to the host's root.
	try("symlink relative to the root", os.Symlink(up, "/scratch/root"))
	read("read through the relative symlink", "/scratch/root"+canary)
	read("read /etc/passwd through the relative symlink", "/scratch/root/etc/passwd")
	try("write through the relative symlink", os.WriteFile("/scratch/root"+hostDir+"/pwned", []byte("pwned"), 0o644))

	try("symlink absolute to /", os.Symlink("/", "/scratch/abs"))
	try("symlink absolute to the host dir", os.Symlink(hostDir, "/scratch/hostdir"))
	read("read through the absolute symlink", "/scratch/abs"+canary)
	read("read through the host dir symlink", "/scratch/hostdir/canary")

	works("mkdir", os.Mkdir("/scratch/a", 0o755))
	try("symlink chain of ..", os.Symlink("..", "/scratch/a/up"))
	read("read through the symlink chain", "/scratch/a/up/up/up/up/up"+canary)
	try("symlink loop", os.Symlink("loop", "/scratch/loop"))
	read("read the symlink loop", "/scratch/loop")
	try("symlink pair loop", errors.Join(os.Symlink("/scratch/p2", "/scratch/p1"), os.Symlink("/scratch/p1", "/scratch/p2")))
	read("read the symlink pair loop", "/scratch/p1/x")

	works("write a file", os.WriteFile("/scratch/f", []byte("inside"), 0o644))
	b, err := os.ReadFile("/scratch/f")
	works("read it back", errors.Join(err, mismatch(string(b), "inside")))
	try("hard link inside", os.Link("/scratch/f", "/scratch/g"))
	try("hard link of a host file", os.Link(canary, "/scratch/h"))
	read("read the hard link of a host file", "/scratch/h")

	read("read .. of /scratch", "/scratch/.."+canary)
	read("read a .. chain", "/scratch/a/../../../.."+canary)
	read("read a relative .. chain", up+canary)
	read("read the host path", canary)
	read("read /etc/passwd", "/etc/passwd")

	// Raw WASI calls, which Go's os package would otherwise clean up.
	rawOpen("raw open of .. at the preopen", 3, "..")
	rawOpen("raw open of a .. chain at the preopen", 3, up+"etc/passwd")
	rawOpen("raw open of the host path at the preopen", 3, canary)
	rawOpen("raw open of a .. chain below the preopen", 3, "a/../../.."+canary)
	if fd, errno := rawOpenFD(3, "a", 2 /* O_DIRECTORY */); errno == 0 {
		rawOpen("raw open of a .. chain at a directory fd", fd, up+canary)
		fdClose(fd)
	}
	try("raw symlink relative to the root", rawErr(pathSymlink(ptr(up), uint32(len(up)), 3, ptr("rawroot"), 7)))
	rawOpen("raw open through the raw symlink", 3, "rawroot"+canary)
	try("raw rename out of the preopen", rawErr(pathRename(3, ptr("f"), 1, 3, ptr("../f"), 4)))

	try("rename out of /scratch", os.Rename("/scratch/f", "/f"))
	try("rename into the host dir", os.Rename("/scratch/f", hostDir+"/moved"))
	try("rename a host file in", os.Rename(canary, "/scratch/stolen"))
	try("rename through ..", os.Rename("/scratch/f", "/scratch/../f"))
	try("rename a directory into itself", os.Rename("/scratch/a", "/scratch/a/b"))
	works("rename inside", os.Rename("/scratch/f", "/scratch/a/f2"))

	try("a name too long", os.WriteFile("/scratch/"+strings.Repeat("n", 300), nil, 0o644))
	try("a deep path", os.MkdirAll("/scratch/deep/"+strings.Repeat("d/", 3000), 0o755))
	works("remove the deep path", os.RemoveAll("/scratch/deep"))
	rawOpen("raw open of a path too long", 3, strings.Repeat("a/", 2100)+"f2")
	read("read a long .. chain", "/scratch/"+strings.Repeat("../", 2000)+canary)

	// The quota: one write past it, writes that add up past it, and files.
	try("write past the quota", os.WriteFile("/scratch/big", make([]byte, maxBytes+1), 0o644))
	if fi, err := os.Stat("/scratch/big"); err == nil { // created, then the write failed
		works("nothing of it written", mismatch(strconv.FormatInt(fi.Size(), 10), "0"))
	} else {
		works("nothing of it written", ignore(err, os.ErrNotExist))
	}
	works("remove the empty file", os.Remove("/scratch/big"))
	fill := func() error {
		f, err := os.Create("/scratch/fill")
		if err != nil {
			return err
		}
		defer f.Close()
		chunk := make([]byte, 64<<10)
		for written := 0; written <= 2*maxBytes; written += len(chunk) {
			if _, err := f.Write(chunk); err != nil {
				if written > maxBytes {
					return fmt.Errorf("the quota held only after %d bytes: %w", written, errEscaped)
				}
				if !errors.Is(err, syscall.EIO) {
					return fmt.Errorf("want EIO, got %w: %w", err, errEscaped)
				}
				return err
			}
		}
		return nil
	}
	try("writes past the quota", ignore(fill(), errEscaped))
	try("truncate past the quota", os.Truncate("/scratch/a/f2", int64(maxBytes)+1))
	works("remove the filler", os.Remove("/scratch/fill"))
	works("write after freeing", os.WriteFile("/scratch/again", make([]byte, maxBytes/2), 0o644))
	works("mkdir for files", os.Mkdir("/scratch/many", 0o755))
	made := 0
	var ferr error
	for ; made <= maxFiles; made++ {
		if ferr = os.WriteFile(fmt.Sprintf("/scratch/many/%d", made), nil, 0o644); ferr != nil {
			break
		}
	}
	try("files past the quota", ferr)
	works("remove them all", os.RemoveAll("/scratch/many"))
	var opened []*os.File
	var oerr error
	for range 5000 {
		f, err := os.Open("/scratch/again")
		if err != nil {
			oerr = err
			break
		}
		opened = append(opened, f)
	}
	for _, f := range opened {
		f.Close()
	}
	try("open files past the limit", oerr)
	_, err = os.ReadFile("/scratch/again")
	works("open after closing them", err)
	ents, err := os.ReadDir("/scratch")
	names := make([]string, 0, len(ents))
	for _, e := range ents {
		names = append(names, e.Name())
	}
	works("list /scratch", errors.Join(err, mismatch(strings.Join(names, ","), "a,again")))
	if fi, err := os.Stat("/scratch/again"); err == nil {
		fmt.Println("info mtime:", fi.ModTime().UTC().Format(time.RFC3339Nano))
	}
	fmt.Println("done")
}

var errEscaped = errors.New("escaped")

// try reports an escape attempt: err nil means it was not refused.
func try(name string, err error) {
	if err == nil || errors.Is(err, errEscaped) {
		fmt.Printf("escape %s: ok %s\n", name, clip(err))
		return
	}
	fmt.Printf("escape %s: error: %s\n", name, clip(err))
}

// clip makes err one line of at most 200 bytes.
func clip(err error) string {
	if err == nil {
		return ""
	}
	s := strings.ReplaceAll(err.Error(), "\n", "; ")
	if len(s) > 200 {
		s = s[:100] + "..." + s[len(s)-97:]
	}
	return s
}

// works reports what must work: err nil means it did.
func works(name string, err error) {
	if err != nil {
		fmt.Printf("works %s: error: %s\n", name, clip(err))
		return
	}
	fmt.Printf("works %s: ok\n", name)
}

// read tries to read a file that must be out of reach, and prints what it
// read if it could.
func read(name, path string) {
	b, err := os.ReadFile(path)
	if err == nil {
		fmt.Printf("escape %s: ok %q\n", name, b)
		return
	}
	fmt.Printf("escape %s: error: %s\n", name, clip(err))
}

func mismatch(got, want string) error {
	if got != want {
		return fmt.Errorf("got %q, want %q", got, want)
	}
	return nil
}

func ignore(err, target error) error {
	if errors.Is(err, target) {
		return nil
	}
	return err
}

func ptr(s string) unsafe.Pointer { return unsafe.Pointer(unsafe.StringData(s)) }

func rawErr(errno uint32) error {
	if errno == 0 {
		return nil
	}
	return syscall.Errno(errno)
}

func rawOpenFD(dirFD int32, path string, oflags uint32) (int32, uint32) {
	var fd int32
	const rights = 1<<1 | 1<<6 // fd_read, fd_write
	errno := pathOpen(dirFD, 1 /* follow symlinks */, ptr(path), uint32(len(path)), oflags, rights, rights, 0, unsafe.Pointer(&fd))
	return fd, errno
}

func rawOpen(name string, dirFD int32, path string) {
	fd, errno := rawOpenFD(dirFD, path, 0)
	if errno == 0 {
		fdClose(fd)
	}
	try(name, rawErr(errno))
}

//go:wasmimport wasi_snapshot_preview1 path_open
func pathOpen(fd int32, dirflags uint32, path unsafe.Pointer, pathLen uint32, oflags uint32, rightsBase, rightsInheriting uint64, fdflags uint32, newFD unsafe.Pointer) uint32

//go:wasmimport wasi_snapshot_preview1 path_symlink
func pathSymlink(oldPath unsafe.Pointer, oldLen uint32, fd int32, newPath unsafe.Pointer, newLen uint32) uint32

//go:wasmimport wasi_snapshot_preview1 path_rename
func pathRename(fd int32, oldPath unsafe.Pointer, oldLen uint32, newFD int32, newPath unsafe.Pointer, newLen uint32) uint32

//go:wasmimport wasi_snapshot_preview1 fd_close
func fdClose(fd int32) uint32
