package store

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/dgraph-io/badger/v4/options"
	"github.com/stretchr/testify/require"
)

// The table and log readers take files from disk, which may hold anything:
// they must reject, never panic. The seed corpora under testdata/fuzz are a
// real table and a real memtable log (written by TestWriteFuzzSeeds with
// FOG_WRITE_FUZZ_SEEDS=1) and damaged copies of them.

// FuzzSSTable reads arbitrary bytes as a table, with the compression known
// (Snappy) and unknown.
func FuzzSSTable(f *testing.F) {
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, known := range []bool{true, false} {
			tb, err := openSSTable(data, options.Snappy, known)
			if err != nil {
				var d *tableDamage
				require.ErrorAs(t, err, &d)
				continue
			}
			var buf []byte
			for i := range tb.blocks {
				b, nbuf, err := tb.readBlock(i, buf)
				buf = nbuf
				if err != nil {
					var d *tableDamage
					require.ErrorAs(t, err, &d)
					continue
				}
				_ = b.entries(func(e tableEntry) error {
					require.GreaterOrEqual(t, len(e.key), 8)
					return nil
				})
			}
			_ = tb.verify()
		}
	})
}

// FuzzScanLog reads arbitrary bytes as a log, with and without salvage.
func FuzzScanLog(f *testing.F) {
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, salvage := range []bool{false, true} {
			prev := -1
			s, err := scanLog(data, salvage, func(e logEntry) error {
				require.Greater(t, e.offset, prev, "entries in order")
				require.LessOrEqual(t, e.offset+e.size, len(data))
				prev = e.offset
				return nil
			})
			require.NoError(t, err)
			require.LessOrEqual(t, s.validEnd, max(len(data), logHeaderSize))
			for _, d := range s.damage {
				require.LessOrEqual(t, d.offset, d.end)
				require.LessOrEqual(t, d.end, len(data))
			}
			if !salvage {
				require.LessOrEqual(t, len(s.damage), 1)
			}
		}
	})
}

// TestWriteFuzzSeeds writes the seed corpora of FuzzSSTable and FuzzScanLog
// from a real store, when FOG_WRITE_FUZZ_SEEDS=1.
func TestWriteFuzzSeeds(t *testing.T) {
	if os.Getenv("FOG_WRITE_FUZZ_SEEDS") != "1" {
		t.Skip("set FOG_WRITE_FUZZ_SEEDS=1 to rewrite testdata/fuzz/FuzzSSTable and FuzzScanLog")
	}
	recs := map[string][]byte{}
	for k, v := range testRecords(40) {
		recs[k] = v[:20]
	}
	dir := t.TempDir()
	writeSession(t, dir, recs)
	ssts := glob(t, dir, "*.sst")
	require.Len(t, ssts, 1)
	table, err := os.ReadFile(ssts[0])
	require.NoError(t, err)

	crashed := crashedStore(t, recs)
	mems := glob(t, crashed, "*.mem")
	require.Len(t, mems, 1)
	wal, err := os.ReadFile(mems[0])
	require.NoError(t, err)
	wal = wal[:written(t, mems[0])+64]

	damaged := func(b []byte, off int) []byte {
		c := bytes.Clone(b)
		for i := off; i < off+16 && i < len(c); i++ {
			c[i] ^= 0x5a
		}
		return c
	}
	writeSeeds(t, "FuzzSSTable", map[string][]byte{
		"table":           table,
		"table-garbled":   damaged(table, len(table)/3),
		"table-footer":    damaged(table, len(table)-12),
		"table-truncated": table[:len(table)/2],
	})
	writeSeeds(t, "FuzzScanLog", map[string][]byte{
		"wal":           wal,
		"wal-garbled":   damaged(wal, len(wal)/2),
		"wal-torn":      append(bytes.Clone(wal[:len(wal)-64-7]), make([]byte, 64)...),
		"wal-truncated": wal[:len(wal)/2],
	})
}

func writeSeeds(t *testing.T, fuzz string, seeds map[string][]byte) {
	t.Helper()
	dir := filepath.Join("testdata", "fuzz", fuzz)
	require.NoError(t, os.MkdirAll(dir, 0o755))
	for name, b := range seeds {
		body := fmt.Sprintf("go test fuzz v1\n[]byte(%s)\n", strconv.Quote(string(b)))
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644))
	}
}
