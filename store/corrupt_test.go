package store

import (
	"context"
	"crypto/sha256"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/y"
	"github.com/ipfs/go-datastore"
	"github.com/ipfs/go-datastore/query"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// These tests write records through the real store (synced), close it or
// copy its files while it is open (what a crash leaves), damage one file,
// and check that Open refuses the store naming that file, without panicking
// and without changing any file, and that Repair keeps every record that
// verifies and counts what it lost.

// smallConfig is an on-disk store with 1 MiB memtables (values from about
// 150 KiB go to the value log) and 4 MiB value-log files (Badger maps
// twice that), so that the tests' files are small.
func smallConfig(dir string) Config {
	cfg := DefaultConfig(dir)
	cfg.MemTableSize = 1 << 20
	cfg.ValueLogFileSize = 4 << 20
	cfg.GCInterval = 0
	cfg.Logger = nil
	return cfg
}

// testRecords returns n records, three in four under /compute and the rest
// under /dht, with values of 150 to 249 bytes that do not compress.
func testRecords(n int) map[string][]byte {
	recs := make(map[string][]byte, n)
	for i := range n {
		key := fmt.Sprintf("/compute/task/%05d", i)
		if i >= 3*n/4 {
			key = fmt.Sprintf("/dht/rec/%05d", i)
		}
		rng := rand.New(rand.NewPCG(uint64(i), 7))
		v := make([]byte, 150+i%100)
		for j := range v {
			v[j] = byte(rng.Uint32())
		}
		recs[key] = v
	}
	return recs
}

// putAll writes recs in batches of 10 (one transaction and one sync each).
func putAll(t *testing.T, db *DB, recs map[string][]byte) {
	t.Helper()
	ctx := t.Context()
	ds := db.Datastore("/")
	keys := sortedKeys(recs)
	for len(keys) > 0 {
		n := min(10, len(keys))
		b, err := ds.Batch(ctx)
		require.NoError(t, err)
		for _, k := range keys[:n] {
			require.NoError(t, b.Put(ctx, datastore.NewKey(k), recs[k]))
		}
		require.NoError(t, b.Commit(ctx))
		keys = keys[n:]
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// writeSession opens the store in dir, writes recs and closes it (Badger
// flushes its memtable into a table).
func writeSession(t *testing.T, dir string, recs map[string][]byte) {
	t.Helper()
	db, err := Open(smallConfig(dir))
	require.NoError(t, err)
	putAll(t, db, recs)
	require.NoError(t, db.Close())
}

// readAll opens the store in dir and returns every key and value.
func readAll(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	db := openTest(t, smallConfig(dir))
	res, err := db.Datastore("/").Query(t.Context(), query.Query{})
	require.NoError(t, err)
	all, err := res.Rest()
	require.NoError(t, err)
	got := make(map[string][]byte, len(all))
	for _, e := range all {
		got[e.Key] = e.Value
	}
	require.NoError(t, db.Close())
	return got
}

// files lists the files in dir with a hash of each.
func files(t *testing.T, dir string) map[string][32]byte {
	t.Helper()
	ents, err := os.ReadDir(dir)
	require.NoError(t, err)
	out := map[string][32]byte{}
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		require.NoError(t, err)
		out[e.Name()] = sha256.Sum256(b)
	}
	return out
}

func glob(t *testing.T, dir, pattern string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, pattern))
	require.NoError(t, err)
	slices.Sort(m)
	return m
}

// garble overwrites n bytes of path at off with a fixed pattern.
func garble(t *testing.T, path string, off int64, n int) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	require.NoError(t, err)
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*37 + 11)
	}
	_, err = f.WriteAt(b, off)
	require.NoError(t, err)
	require.NoError(t, f.Close())
}

// crashImage copies the files of an open store in src to dst: what a crash
// (kill -9) at this point would leave on disk.
func crashImage(t *testing.T, src, dst string) {
	t.Helper()
	require.NoError(t, os.MkdirAll(dst, 0o700))
	ents, err := os.ReadDir(src)
	require.NoError(t, err)
	for _, e := range ents {
		if e.Name() == "LOCK" {
			continue
		}
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(dst, e.Name()), b, 0o600))
	}
}

// written is the length of the log at path up to its zeros.
func written(t *testing.T, path string) int64 {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	n := len(b)
	for n > 0 && b[n-1] == 0 {
		n--
	}
	return int64(n)
}

// requireRefused checks that Open fails on dir with a *CorruptError naming
// file, and changes no file.
func requireRefused(t *testing.T, dir, file string) *CorruptError {
	t.Helper()
	before := files(t, dir)
	db, err := Open(smallConfig(dir))
	if err == nil {
		db.Close()
	}
	require.ErrorIs(t, err, ErrCorrupt)
	var ce *CorruptError
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, file, ce.File, "the error names the damaged file: %v", err)
	assert.Contains(t, err.Error(), file)
	assert.Equal(t, before, files(t, dir), "Open changed files of a damaged store")
	return ce
}

// repair runs a dry run and then Repair on dir, checks that the dry run
// changed nothing and reported the same, that the originals are in the
// backup directory and that the repaired store opens; it returns the report
// and the repaired store's contents.
func repair(t *testing.T, dir string) (*RepairReport, map[string][]byte) {
	t.Helper()
	before := files(t, dir)
	dry, err := Repair(t.Context(), smallConfig(dir), RepairOptions{DryRun: true})
	require.NoError(t, err)
	assert.Equal(t, before, files(t, dir), "a dry run changed files")
	assert.Empty(t, dry.Backup)

	backup := dir + ".backup"
	rep, err := Repair(t.Context(), smallConfig(dir), RepairOptions{Backup: backup})
	require.NoError(t, err)
	assert.Equal(t, backup, rep.Backup)
	kept := files(t, backup)
	delete(kept, "LOCK")
	delete(before, "LOCK")
	assert.Equal(t, before, kept, "the backup holds the original files")
	dry.Backup, dry.DryRun, dry.Seconds, rep.Seconds = rep.Backup, false, 0, 0
	assert.Equal(t, dry, rep, "the dry run reports what the repair did")
	t.Logf("repair: kept %v, lost %v, unknown %v", rep.Kept, rep.Lost, rep.Unknown)
	return rep, readAll(t, dir)
}

// requireKept checks that every key in got has its value in want, and
// returns the keys of want that got lacks.
func requireKept(t *testing.T, want, got map[string][]byte) map[string]bool {
	t.Helper()
	missing := map[string]bool{}
	for k, v := range want {
		g, ok := got[k]
		if !ok {
			missing[k] = true
			continue
		}
		require.Equal(t, v, g, "key %s", k)
	}
	for k := range got {
		require.Contains(t, want, k, "repair made up a key")
	}
	return missing
}

func lostBySubsystem(missing map[string]bool) map[string]int {
	m := map[string]int{}
	for k := range missing {
		m[subsystem([]byte(k))]++
	}
	return m
}

func fileReport(t *testing.T, rep *RepairReport, name string) FileReport {
	t.Helper()
	for _, f := range rep.Files {
		if f.File == name {
			return f
		}
	}
	t.Fatalf("no report for %s in %+v", name, rep.Files)
	return FileReport{}
}

// TestDamagedTable garbles 256 bytes in the middle of a table: Badger
// v4.9.6 without checksums served the table up to the damaged block as if
// it ended there.
func TestDamagedTable(t *testing.T) {
	dir := t.TempDir()
	recs := testRecords(400)
	writeSession(t, dir, recs)
	ssts := glob(t, dir, "*.sst")
	require.Len(t, ssts, 1)
	info, err := os.Stat(ssts[0])
	require.NoError(t, err)
	garble(t, ssts[0], info.Size()/3, 256)

	ce := requireRefused(t, dir, ssts[0])
	assert.Contains(t, ce.Damage, "block")

	rep, got := repair(t, dir)
	missing := requireKept(t, recs, got)
	require.NotEmpty(t, missing, "256 garbled bytes lost no record?")
	assert.Equal(t, len(got), rep.KeptTotal())
	assert.Equal(t, lostBySubsystem(missing), rep.Lost, "lost per subsystem")
	f := fileReport(t, rep, filepath.Base(ssts[0]))
	assert.Equal(t, "damaged", f.Status)
	assert.Equal(t, len(missing), f.Lost)
	assert.Equal(t, 1, rep.Damaged)
}

// TestTruncatedTable cuts a table in half: Badger v4.9.6 panicked on a
// goroutine of its own (table.initBiggestAndSmallest), killing the process.
func TestTruncatedTable(t *testing.T) {
	dir := t.TempDir()
	first, second := testRecords(200), map[string][]byte{}
	for k, v := range testRecords(400) {
		if _, ok := first[k]; !ok {
			second[k] = v
		}
	}
	writeSession(t, dir, first)
	writeSession(t, dir, second)
	ssts := glob(t, dir, "*.sst")
	require.Len(t, ssts, 2, "one table per session")
	info, err := os.Stat(ssts[0])
	require.NoError(t, err)
	require.NoError(t, os.Truncate(ssts[0], info.Size()/2))

	ce := requireRefused(t, dir, ssts[0])
	assert.Contains(t, ce.Damage, "truncated")

	rep, got := repair(t, dir)
	all := maps.Clone(first)
	maps.Copy(all, second)
	missing := requireKept(t, all, got)
	assert.Equal(t, second, got, "the other table is kept whole")
	assert.Len(t, missing, len(first))
	f := fileReport(t, rep, filepath.Base(ssts[0]))
	assert.Equal(t, "damaged", f.Status)
	assert.Equal(t, -1, f.Lost, "a table without its index cannot be counted")
	require.Len(t, rep.Unknown, 1)
	assert.Contains(t, rep.Unknown[0], filepath.Base(ssts[0]))
}

// TestMissingManifest deletes the MANIFEST: Badger v4.9.6 started an empty
// database and deleted every table.
func TestMissingManifest(t *testing.T) {
	dir := t.TempDir()
	recs := testRecords(300)
	writeSession(t, dir, recs)
	require.NoError(t, os.Remove(filepath.Join(dir, manifestFile)))
	ssts := glob(t, dir, "*.sst")
	require.NotEmpty(t, ssts)

	requireRefused(t, dir, filepath.Join(dir, manifestFile))
	requireRefused(t, dir, filepath.Join(dir, manifestFile)) // and again: nothing was deleted
	assert.Equal(t, ssts, glob(t, dir, "*.sst"))

	rep, got := repair(t, dir)
	assert.Equal(t, recs, got, "every table is read without the MANIFEST")
	assert.Zero(t, rep.LostTotal())
	assert.Equal(t, "missing", fileReport(t, rep, manifestFile).Status)
}

// crashedStore writes recs into a store in src and returns a copy of its
// files taken while it was open, in dst, with the records in its memtable
// log.
func crashedStore(t *testing.T, recs map[string][]byte) string {
	t.Helper()
	src, dst := t.TempDir(), filepath.Join(t.TempDir(), "crashed")
	db := openTest(t, smallConfig(src))
	putAll(t, db, recs)
	crashImage(t, src, dst)
	require.Empty(t, glob(t, dst, "*.sst"), "the records fit one memtable")
	return dst
}

// walEntry is an entry of a memtable log: where it is, and its key.
type walEntry struct {
	from, to int64
	key      string // without the version
	fin      bool   // a transaction's end marker
}

// logEntries returns the entries of the log at path up to its first bad
// one.
func logEntries(t *testing.T, path string) []walEntry {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	var out []walEntry
	for off := logHeaderSize; ; {
		e, err := readLogEntry(data, off)
		if err != nil || len(e.key) == 0 {
			return out
		}
		out = append(out, walEntry{from: int64(off), to: int64(off + e.size),
			key: string(y.ParseKey(e.key)), fin: e.meta&bitFinTxn != 0})
		off += e.size
	}
}

// logTxns returns, for each whole transaction of the log at path, the byte
// range it takes and the keys it writes.
func logTxns(t *testing.T, path string) (ranges [][2]int64, keys [][]string) {
	t.Helper()
	var cur []string
	start := int64(-1)
	for _, e := range logEntries(t, path) {
		if start < 0 {
			start = e.from
		}
		if e.fin {
			ranges, keys = append(ranges, [2]int64{start, e.to}), append(keys, cur)
			cur, start = nil, -1
			continue
		}
		cur = append(cur, e.key)
	}
	return ranges, keys
}

// TestDamagedMemtableLog garbles 256 bytes in the middle of the
// write-ahead log a crash left: Badger v4.9.6 replayed the log up to the
// damage and silently dropped every acknowledged transaction after it.
func TestDamagedMemtableLog(t *testing.T) {
	recs := testRecords(400)
	dir := crashedStore(t, recs)
	mems := glob(t, dir, "*.mem")
	require.Len(t, mems, 1)
	ranges, _ := logTxns(t, mems[0])
	require.Len(t, ranges, 40, "40 batches of 10")
	entries := logEntries(t, mems[0])
	for _, at := range []int64{ // within a transaction; over the end of one and the start of the next
		written(t, mems[0]) / 2, ranges[29][1] - 100,
	} {
		t.Run(fmt.Sprint(at), func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "damaged")
			crashImage(t, filepath.Dir(mems[0]), dir)
			mem := filepath.Join(dir, filepath.Base(mems[0]))
			garble(t, mem, at, 256)

			ce := requireRefused(t, dir, mem)
			assert.Contains(t, ce.Damage, "checksum mismatch")

			rep, got := repair(t, dir)
			missing := requireKept(t, recs, got)
			// Only the entries the damage touches are lost; the others of
			// their transactions verify and are kept.
			touched := map[string]bool{}
			for _, e := range entries {
				if e.from < at+256 && at < e.to {
					touched[e.key] = true
				}
			}
			require.NotEmpty(t, missing)
			for k := range missing {
				assert.True(t, touched[k], "lost %s, which the damage did not touch", k)
			}
			assert.Equal(t, len(got), rep.KeptTotal())
			f := fileReport(t, rep, filepath.Base(mem))
			assert.Equal(t, "damaged", f.Status)
			assert.Equal(t, -1, f.Lost, "entries in damaged bytes cannot be counted")
			require.NotEmpty(t, rep.Unknown)
			assert.Contains(t, rep.Unknown[0], filepath.Base(mem))
		})
	}
}

// TestTornWriteIsNotDamage cuts the last transaction of a crashed store's
// log the way a kill during a write does (a prefix of its bytes, then
// zeros): that is the end of the log, not damage, and Open goes on without
// the unfinished transaction, which was never acknowledged.
func TestTornWriteIsNotDamage(t *testing.T) {
	recs := testRecords(100)
	dir := crashedStore(t, recs)
	mems := glob(t, dir, "*.mem")
	require.Len(t, mems, 1)
	ranges, txnKeys := logTxns(t, mems[0])
	last := ranges[len(ranges)-1]
	for _, cut := range []int64{ // within the last transaction: entries, a header, a key
		last[1] - 3, last[0] + (last[1]-last[0])/2, last[0] + 5,
	} {
		t.Run(fmt.Sprint(cut-last[0]), func(t *testing.T) {
			torn := filepath.Join(t.TempDir(), "torn")
			crashImage(t, dir, torn)
			mem := filepath.Join(torn, filepath.Base(mems[0]))
			f, err := os.OpenFile(mem, os.O_RDWR, 0)
			require.NoError(t, err)
			_, err = f.WriteAt(make([]byte, last[1]-cut), cut)
			require.NoError(t, err)
			require.NoError(t, f.Close())

			got := readAll(t, torn)
			missing := requireKept(t, recs, got)
			assert.ElementsMatch(t, txnKeys[len(txnKeys)-1], sortedKeys(missing))
		})
	}
}

// bigValues writes n values of 200 KiB under /node/big/<i> through
// DB.Badger (beyond the value threshold: they go to the value log).
func bigValues(t *testing.T, db *DB, n int) map[string][]byte {
	t.Helper()
	recs := map[string][]byte{}
	for i := range n {
		v := make([]byte, 200<<10)
		rng := rand.New(rand.NewPCG(uint64(i), 9))
		for j := range v {
			v[j] = byte(rng.Uint32())
		}
		k := fmt.Sprintf("/node/big/%d", i)
		require.NoError(t, db.Badger().Update(func(txn *badger.Txn) error { return txn.Set([]byte(k), v) }))
		recs[k] = v
	}
	return recs
}

// TestDamagedValueLog truncates and garbles the value log: Badger v4.9.6
// truncated the log silently at its first bad entry when it was the last
// one, and read the values of the others unchecked.
func TestDamagedValueLog(t *testing.T) {
	for _, tc := range []struct {
		name   string
		damage func(t *testing.T, path string, offs []int64)
		lost   int
		what   string
	}{
		{"truncated", func(t *testing.T, path string, offs []int64) {
			require.NoError(t, os.Truncate(path, offs[3]+1000))
		}, 3, "truncated"},
		{"garbled", func(t *testing.T, path string, offs []int64) {
			garble(t, path, offs[1]+5000, 256)
		}, 1, "checksum mismatch"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			db, err := Open(smallConfig(dir))
			require.NoError(t, err)
			small := testRecords(50)
			putAll(t, db, small)
			big := bigValues(t, db, 6)
			require.NoError(t, db.Close())
			vlogs := glob(t, dir, "*.vlog")
			require.Len(t, vlogs, 1)
			data, err := os.ReadFile(vlogs[0])
			require.NoError(t, err)
			var offs []int64
			for off := logHeaderSize; ; {
				e, err := readLogEntry(data, off)
				if err != nil {
					break
				}
				offs = append(offs, int64(off))
				off += e.size
			}
			require.Len(t, offs, 6)
			tc.damage(t, vlogs[0], offs)

			ce := requireRefused(t, dir, vlogs[0])
			assert.Contains(t, ce.Damage, tc.what)

			rep, got := repair(t, dir)
			want := maps.Clone(small)
			maps.Copy(want, big)
			missing := requireKept(t, want, got)
			assert.Len(t, missing, tc.lost)
			assert.Equal(t, map[string]int{"/node": tc.lost}, rep.Lost)
			assert.Equal(t, tc.lost, fileReport(t, rep, filepath.Base(vlogs[0])).Lost)
		})
	}
}

// TestRepairUndamagedIsLossless repairs a store that is not damaged, with
// tables, a crash's memtable log, the value log, overwritten, deleted and
// expiring keys: the repaired store holds exactly what it held.
func TestRepairUndamagedIsLossless(t *testing.T) {
	src := t.TempDir()
	writeSession(t, src, testRecords(300))
	db := openTest(t, smallConfig(src))
	ctx := t.Context()
	ds := db.Datastore("/")
	changed := map[string][]byte{}
	for k, v := range testRecords(300) {
		if len(changed) < 20 {
			changed[k] = append([]byte("new "), v...)
		}
	}
	putAll(t, db, changed)
	require.NoError(t, ds.Delete(ctx, datastore.NewKey("/compute/task/00021")))
	require.NoError(t, ds.PutWithTTL(ctx, datastore.NewKey("/dht/ttl"), []byte("soon"), time.Hour))
	bigValues(t, db, 2)
	dir := filepath.Join(t.TempDir(), "crashed")
	crashImage(t, src, dir)
	require.NotEmpty(t, glob(t, dir, "*.sst"))
	require.NotEmpty(t, glob(t, dir, "*.mem"))

	reference := filepath.Join(t.TempDir(), "reference")
	crashImage(t, dir, reference)
	want := readAll(t, reference)
	require.Equal(t, 300-1+1+2, len(want))

	rep, got := repair(t, dir)
	assert.Equal(t, want, got)
	assert.Zero(t, rep.Damaged)
	assert.Zero(t, rep.LostTotal())
	assert.Empty(t, rep.Unknown)
	assert.Equal(t, len(want), rep.KeptTotal())

	db2 := openTest(t, smallConfig(dir))
	exp, err := db2.Datastore("/").GetExpiration(ctx, datastore.NewKey("/dht/ttl"))
	require.NoError(t, err)
	assert.WithinDuration(t, time.Now().Add(time.Hour), exp, time.Minute, "the TTL survives")
}

// TestRepairNeedsTheStoreClosed: Repair takes the lock Open takes.
func TestRepairNeedsTheStoreClosed(t *testing.T) {
	dir := t.TempDir()
	openTest(t, smallConfig(dir))
	_, err := Repair(t.Context(), smallConfig(dir), RepairOptions{})
	require.ErrorIs(t, err, ErrLocked)
	assert.Contains(t, err.Error(), "stop the node")
}

// TestRepairCancelled leaves the store as it was.
func TestRepairCancelled(t *testing.T) {
	dir := t.TempDir()
	writeSession(t, dir, testRecords(50))
	before := files(t, dir)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := Repair(ctx, smallConfig(dir), RepairOptions{})
	require.ErrorIs(t, err, context.Canceled)
	assert.Equal(t, before, files(t, dir))
	left := glob(t, filepath.Dir(dir), filepath.Base(dir)+".*")
	assert.Empty(t, left, "no copy or backup is left behind")
}

func TestSubsystem(t *testing.T) {
	for in, want := range map[string]string{
		"/compute/queue.job/x": "/compute", "/dht": "/dht", "x": "(other)", "": "(other)",
	} {
		assert.Equal(t, want, subsystem([]byte(in)), in)
	}
}
