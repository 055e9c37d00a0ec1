package store

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"syscall"
	"testing"

	"github.com/ipfs/go-datastore"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// requireNoRoom checks that every kind of write is refused with
// ErrNoSpace wrapping cause, and changes nothing.
func requireNoRoom(t *testing.T, db *DB, cause error) {
	t.Helper()
	ctx := context.Background()
	ds := db.Datastore("/space")
	k := Key("refused", "1")
	err := ds.Put(ctx, k, []byte("x"))
	require.ErrorIs(t, err, ErrNoSpace)
	require.ErrorIs(t, err, cause)
	assert.ErrorIs(t, ds.Delete(ctx, Key("w", "0")), ErrNoSpace)

	b, err := ds.Batch(ctx)
	require.NoError(t, err)
	require.NoError(t, b.Put(ctx, k, []byte("x")))
	assert.ErrorIs(t, b.Commit(ctx), ErrNoSpace)

	txn, err := ds.NewTransaction(ctx, false)
	require.NoError(t, err)
	require.NoError(t, txn.Put(ctx, k, []byte("x")))
	assert.ErrorIs(t, txn.Commit(ctx), ErrNoSpace)
	txn.Discard(ctx)

	_, err = ds.Get(ctx, k)
	assert.ErrorIs(t, err, datastore.ErrNotFound, "a refused write left nothing")
	v, err := ds.Get(ctx, Key("w", "0"))
	require.NoError(t, err, "reads go on")
	assert.Equal(t, "0", string(v))
}

// TestCheckSpaceRefuses sets MinFreeBytes above any disk's free space:
// every write is refused, naming the cause, and reads go on.
func TestCheckSpaceRefuses(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("free space is measured on Linux only")
	}
	cfg := DefaultConfig(t.TempDir())
	db := openTest(t, cfg)
	require.NoError(t, db.Datastore("/space").Put(t.Context(), Key("w", "0"), []byte("0")))
	db.cfg.MinFreeBytes = 1 << 62
	requireNoRoom(t, db, syscall.ENOSPC)
	assert.Contains(t, db.CheckSpace().Error(), "MiB free on the filesystem of "+cfg.Path+", writes need")
}

// mountTmpfs mounts a tmpfs of size MiB at a new directory and unmounts it
// at the end; it skips the test where mounting is not permitted.
func mountTmpfs(t *testing.T, size int) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "fs")
	require.NoError(t, os.Mkdir(dir, 0o700))
	out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+strconv.Itoa(size)+"m", "tmpfs", dir).CombinedOutput()
	if err != nil {
		t.Skipf("mounting a tmpfs is not permitted here (%v: %s): the full-disk test needs root", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", dir, err, out)
		}
	})
	return dir
}

// fill writes a file on dir's filesystem until it is full.
func fill(t *testing.T, dir string) string {
	t.Helper()
	name := filepath.Join(dir, "filler")
	f, err := os.Create(name)
	require.NoError(t, err)
	buf := make([]byte, 1<<20)
	for {
		if _, err := f.Write(buf); err != nil {
			require.ErrorIs(t, err, syscall.ENOSPC)
			break
		}
	}
	require.NoError(t, f.Close())
	return name
}

// TestDiskTrouble runs a DB on a 256 MiB tmpfs: filled by another file,
// every write is refused with ErrNoSpace (ENOSPC) instead of Badger
// faulting on its memory-mapped log; once the file is gone, writes succeed
// again without reopening. Remounted read-only, the DB does not open
// (EROFS); remounted read-write, it opens with every acknowledged write.
func TestDiskTrouble(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("free space is measured on Linux only")
	}
	fs := mountTmpfs(t, 256)
	path := filepath.Join(fs, "db")
	cfg := DefaultConfig(path)
	cfg.Logger = nil
	db, err := Open(cfg)
	require.NoError(t, err)
	closed := false
	t.Cleanup(func() { // before the unmount
		if !closed {
			_ = db.Close()
		}
	})
	ds := db.Datastore("/space")
	ctx := t.Context()
	acked := 0
	put := func() error {
		err := ds.Put(ctx, Key("w", strconv.Itoa(acked)), []byte(strconv.Itoa(acked)))
		if err == nil {
			acked++
		}
		return err
	}
	require.NoError(t, put())

	filler := fill(t, fs)
	requireNoRoom(t, db, syscall.ENOSPC)
	require.NoError(t, os.Remove(filler))
	require.NoError(t, put(), "room again: writes succeed without a reopen")

	for range 100 {
		require.NoError(t, put())
	}
	require.NoError(t, db.Close())
	closed = true

	// A read-only data directory (a mount with open files cannot be
	// remounted read-only, so the DB is closed first): Open refuses,
	// naming the cause.
	out, err := exec.Command("mount", "-o", "remount,ro", fs).CombinedOutput()
	require.NoError(t, err, "%s", out)
	_, err = Open(cfg)
	require.ErrorIs(t, err, syscall.EROFS)
	t.Logf("read-only: %v", err)
	out, err = exec.Command("mount", "-o", "remount,rw", fs).CombinedOutput()
	require.NoError(t, err, "%s", out)

	db, err = Open(cfg)
	require.NoError(t, err)
	defer func() { require.NoError(t, db.Close()) }()
	ds = db.Datastore("/space")
	for i := range acked {
		v, err := ds.Get(ctx, Key("w", strconv.Itoa(i)))
		require.NoError(t, err, "acknowledged write %d", i)
		assert.Equal(t, strconv.Itoa(i), string(v))
	}
}

// BenchmarkCheckSpace measures the check every write now pays first: one
// statfs(2) of the data directory.
func BenchmarkCheckSpace(b *testing.B) {
	cfg := DefaultConfig(b.TempDir())
	cfg.Logger = nil
	db, err := Open(cfg)
	require.NoError(b, err)
	defer func() { require.NoError(b, db.Close()) }()
	for b.Loop() {
		if err := db.CheckSpace(); err != nil {
			b.Fatal(err)
		}
	}
}
