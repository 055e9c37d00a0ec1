package store

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"strconv"
	"testing"

	"github.com/dgraph-io/badger/v4/y"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// encodeEntry encodes a log entry as Badger v4.9.6 does (logFile.encodeEntry).
func encodeEntry(meta byte, key, value []byte) []byte {
	var h [maxKeySize]byte
	h[0], h[1] = meta, 0
	n := 2
	n += binary.PutUvarint(h[n:], uint64(len(key)))
	n += binary.PutUvarint(h[n:], uint64(len(value)))
	n += binary.PutUvarint(h[n:], 0)
	b := append(append(append([]byte(nil), h[:n]...), key...), value...)
	return binary.BigEndian.AppendUint32(b, crc32.Checksum(b, y.CastagnoliCrcTable))
}

// txnBytes is a whole transaction at version ts: n entries and the marker.
func txnBytes(ts uint64, n int) []byte {
	var b []byte
	for i := range n {
		b = append(b, encodeEntry(bitTxn, y.KeyWithTs([]byte(fmt.Sprintf("/compute/k%d-%d", ts, i)), ts), []byte("value"))...)
	}
	return append(b, encodeEntry(bitFinTxn, y.KeyWithTs([]byte("!badger!txn"), ts), []byte(strconv.FormatUint(ts, 10)))...)
}

// testLog is a log of txns transactions of three entries, and the offsets
// where each transaction starts (and, last, where the data ends), followed
// by zeros up to 4 KiB, like a preallocated file.
func testLog(txns int) ([]byte, []int) {
	b := make([]byte, logHeaderSize)
	var starts []int
	for i := range txns {
		starts = append(starts, len(b))
		b = append(b, txnBytes(uint64(i+1), 3)...)
	}
	starts = append(starts, len(b))
	return append(b, make([]byte, 4096-len(b))...), starts
}

func TestScanLog(t *testing.T) {
	for _, tc := range []struct {
		name   string
		log    func() []byte
		commit int    // entries committed without salvage
		torn   int    // entries of a torn write
		damage string // the damage found, "" for none
		salvag int    // entries committed with salvage (those of a transaction the damage cuts too)
	}{
		{"whole", func() []byte { b, _ := testLog(4); return b }, 12, 0, "", 12},
		{"empty", func() []byte { return make([]byte, 4096) }, 0, 0, "", 0},
		{"unfinished transaction", func() []byte {
			b, s := testLog(4)
			clear(b[s[4]-len(txnBytes(4, 0)) : s[4]]) // the last marker, never written
			return b
		}, 9, 3, "", 9},
		{"torn entry", func() []byte {
			b, s := testLog(4)
			clear(b[s[3]+10 : s[4]]) // all but the first 10 bytes of the last transaction
			return b
		}, 9, 1, "", 9},
		{"torn header", func() []byte {
			b, s := testLog(4)
			clear(b[s[3]+1 : s[4]])
			return b
		}, 9, 1, "", 9},
		{"garbled in the middle", func() []byte {
			b, s := testLog(4)
			for i := s[1] + 5; i < s[1]+25; i++ {
				b[i] ^= 0xa5
			}
			return b
		}, 3, 0, "checksum mismatch", 11},
		{"garbled at the end", func() []byte {
			b, s := testLog(4)
			for i := s[4] - 20; i < s[4]; i++ {
				b[i] ^= 0xa5
			}
			return b
		}, 9, 0, "checksum mismatch", 12},
		{"cut short", func() []byte {
			b, s := testLog(4)
			return b[:s[3]+40]
		}, 9, 0, "truncated", 10},
		{"cut short after a zero byte", func() []byte {
			b, s := testLog(4)
			b = b[:s[3]+40]
			b[len(b)-1] = 0
			return b
		}, 9, 0, "truncated", 10},
		{"interleaved transactions", func() []byte {
			b := make([]byte, logHeaderSize)
			b = append(b, txnBytes(1, 2)...)
			t2 := txnBytes(2, 2)
			b = append(b, t2[:len(t2)-len(txnBytes(2, 0))]...) // version 2 without its marker
			b = append(b, txnBytes(3, 2)...)
			return append(b, make([]byte, 512)...)
		}, 2, 0, "transaction interleaved", 6},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data := tc.log()
			n := 0
			s, err := scanLog(data, false, func(logEntry) error { n++; return nil })
			require.NoError(t, err)
			assert.Equal(t, tc.commit, n, "committed")
			assert.Equal(t, tc.torn, s.torn, "torn")
			if tc.damage == "" {
				assert.Empty(t, s.damage)
			} else {
				require.Len(t, s.damage, 1)
				assert.Contains(t, s.damage[0].what, tc.damage)
			}
			n = 0
			_, err = scanLog(data, true, func(logEntry) error { n++; return nil })
			require.NoError(t, err)
			assert.Equal(t, tc.salvag, n, "committed with salvage")
		})
	}
}
