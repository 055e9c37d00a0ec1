package store

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"strconv"

	"github.com/dgraph-io/badger/v4/y"
)

// This file reads Badger v4.9.6's log files: the write-ahead log of each
// memtable (NNNNN.mem) and the value log (NNNNNN.vlog). Both are
//
//	key id (8) | IV (12) | entry | entry | ... | zeros to the end of the file
//
// and an entry is a header (meta, user meta, then the key length, value
// length and expiry as uvarints), the key (with its version), the value and
// a big-endian CRC-32C of all that. Entries of one transaction carry the
// transaction bit and are followed by a marker entry (the finish bit, the
// commit version in decimal as its value); the value log holds values only,
// without transaction bits.
//
// Badger replays a memtable's log at Open up to the last whole transaction
// and truncates the file there, silently, whatever follows: the end of the
// log, the torn write of a process that was killed while writing (which was
// never acknowledged), or damage followed by acknowledged transactions it
// then drops. scanLog tells these apart: a torn write is a prefix of one
// entry followed by zeros, because Badger writes the log through a memory
// map entry by entry; anything else after the last whole transaction
// (another whole entry, or data beyond the one entry) is damage.

const (
	logHeaderSize = 20 // key id and IV
	maxKeySize    = 1 << 16
	// Badger's entry meta bits.
	bitDelete       = 1 << 0
	bitValuePointer = 1 << 1
	bitTxn          = 1 << 6
	bitFinTxn       = 1 << 7
	// knownMetaBits are the bits Badger v4.9.6 sets in an entry's meta.
	knownMetaBits = 0xcf
	// resyncBudget bounds the bytes scanLog hashes looking for whole entries
	// after a bad one (telling damage from a torn write): past it, it calls
	// the log damaged.
	resyncBudget = 64 << 20
)

// badgerPrefix starts Badger's internal keys (transaction markers and
// its own records), which are not data.
var badgerPrefix = []byte("!badger!")

// logEntry is one entry of a log.
type logEntry struct {
	offset    int
	size      int    // bytes in the log
	key       []byte // with the version suffix
	value     []byte // the value, or a value pointer (meta&bitValuePointer)
	meta      byte
	userMeta  byte
	expiresAt uint64
}

// readLogEntry reads the entry at off. It returns the entry, or why there
// is none: errLogEnd (nothing but zeros could start here, or the header
// is cut by the end of the file), errLogPastEOF (the entry runs past the
// end of the file), errLogBad (its key length or checksum is wrong).
func readLogEntry(data []byte, off int) (logEntry, error) {
	if off+2 > len(data) {
		return logEntry{}, errLogEnd
	}
	p := off + 2
	klen, n := binary.Uvarint(data[p:])
	if n <= 0 {
		return logEntry{}, errLogHeader
	}
	p += n
	vlen, n := binary.Uvarint(data[p:])
	if n <= 0 {
		return logEntry{}, errLogHeader
	}
	p += n
	exp, n := binary.Uvarint(data[p:])
	if n <= 0 {
		return logEntry{}, errLogHeader
	}
	p += n
	if klen > maxKeySize || vlen > uint64(len(data)) {
		return logEntry{}, errLogBad
	}
	end := uint64(p) + klen + vlen + 4
	if end > uint64(len(data)) {
		return logEntry{}, errLogPastEOF
	}
	body := data[off : int(end)-4]
	if crc32.Checksum(body, y.CastagnoliCrcTable) != binary.BigEndian.Uint32(data[int(end)-4:]) {
		return logEntry{}, errLogBad
	}
	e := logEntry{
		offset: off, size: int(end) - off,
		key:   data[p : p+int(klen)],
		value: data[p+int(klen) : int(end)-4],
		meta:  data[off], userMeta: data[off+1], expiresAt: exp,
	}
	return e, nil
}

type logErr string

func (e logErr) Error() string { return string(e) }

const (
	errLogEnd     = logErr("end of log")
	errLogHeader  = logErr("entry header cut short")
	errLogPastEOF = logErr("entry runs past the end of the file")
	errLogBad     = logErr("checksum mismatch")
)

// plausible reports whether e could be an entry Badger wrote: known meta
// bits, a key with a version suffix whose version is below 2^40 (the top
// three bytes of the stored MaxUint64-version are 0xff).
func plausible(e logEntry) bool {
	if e.meta&^knownMetaBits != 0 || len(e.key) < 8 {
		return false
	}
	v := e.key[len(e.key)-8:]
	return v[0] == 0xff && v[1] == 0xff && v[2] == 0xff
}

// findEntry returns the offset of the first whole, plausible entry that
// starts in [from, to), or -1; it hashes at most *budget bytes (and
// returns -2 when that ran out).
func findEntry(data []byte, from, to int, budget *int) int {
	for off := from; off < to && off+2 < len(data); off++ {
		if data[off]&^knownMetaBits != 0 {
			continue
		}
		// Parse the header first, to test the version before hashing.
		p := off + 2
		klen, n := binary.Uvarint(data[p:])
		if n <= 0 || klen < 8 || klen > maxKeySize {
			continue
		}
		p += n
		vlen, n := binary.Uvarint(data[p:])
		if n <= 0 || vlen > uint64(len(data)) {
			continue
		}
		p += n
		_, n = binary.Uvarint(data[p:])
		if n <= 0 {
			continue
		}
		p += n
		end := uint64(p) + klen + vlen + 4
		if end > uint64(len(data)) {
			continue
		}
		ts := data[p+int(klen)-8:]
		if ts[0] != 0xff || ts[1] != 0xff || ts[2] != 0xff {
			continue
		}
		*budget -= int(end) - off
		if *budget < 0 {
			return -2
		}
		if _, err := readLogEntry(data, off); err == nil {
			return off
		}
	}
	return -1
}

// logDamage is a damaged stretch of a log.
type logDamage struct {
	offset int    // where the damage starts
	end    int    // where whole entries start again (salvage), or the end of the data
	what   string // e.g. "checksum mismatch"
}

// logScan is what scanLog found in a log.
type logScan struct {
	// validEnd is where Badger's replay stops and truncates the file: the
	// end of the last whole transaction before any damage.
	validEnd int
	// torn counts the entries after validEnd that belong to a transaction
	// the log does not finish (a process stopped while writing it, before
	// it was acknowledged), plus one for a torn entry; Badger drops them.
	torn int
	// damage lists the damaged stretches; empty when the log only ends, or
	// ends in a torn write. Without salvage, at most one (the first).
	damage []logDamage
	// partial counts the entries salvage kept from transactions that a
	// damaged stretch cut in two.
	partial int
}

// scanLog reads a log (the whole file in data), calling commit with each
// entry of each whole transaction (in the value log, each entry), in
// order. Without salvage it stops at the first damage. With salvage it
// also commits the entries that verify of a transaction a damaged stretch
// cuts, finds the next whole entry after each damaged stretch and goes on.
// The entries passed to commit point into data.
func scanLog(data []byte, salvage bool, commit func(logEntry) error) (logScan, error) {
	var s logScan
	if len(data) < logHeaderSize {
		if !allZero(data) {
			s.damage = append(s.damage, logDamage{offset: 0, end: len(data), what: fmt.Sprintf("truncated to %d bytes", len(data))})
		}
		return s, nil
	}
	if binary.BigEndian.Uint64(data[:8]) != 0 {
		// fog never encrypts; Badger would look for a data key.
		s.damage = append(s.damage, logDamage{offset: 0, end: len(data), what: "header damaged (names an encryption key)"})
		return s, nil
	}
	zeroFrom := zeroTail(data) // data[zeroFrom:] is all zeros
	off := logHeaderSize
	s.validEnd = off
	var txn []logEntry // entries of the transaction being read
	var txnTs uint64
	budget := resyncBudget
	for {
		e, err := readLogEntry(data, off)
		stop := ""
		switch {
		case err != nil:
			stop = err.Error()
		case len(e.key) == 0:
			stop = "empty key"
		case e.meta&bitTxn != 0:
			ts := y.ParseTs(e.key)
			if txnTs == 0 {
				txnTs = ts
			}
			if ts != txnTs {
				stop = "transaction interleaved with another"
				break
			}
			txn = append(txn, e)
		case e.meta&bitFinTxn != 0:
			ts, perr := strconv.ParseUint(string(e.value), 10, 64)
			if perr != nil || ts != txnTs {
				stop = "transaction marker does not match its entries"
				break
			}
			for _, t := range txn {
				if err := commit(t); err != nil {
					return s, err
				}
			}
			txn, txnTs = txn[:0], 0
			s.validEnd = e.offset + e.size
		default:
			if txnTs != 0 {
				stop = "entry inside a transaction without the transaction bit"
				break
			}
			if err := commit(e); err != nil {
				return s, err
			}
			s.validEnd = e.offset + e.size
		}
		if stop == "" {
			off = e.offset + e.size
			continue
		}

		// The log stops being whole at off. It ends cleanly when nothing
		// but zeros follows, and in a torn write when what follows is the
		// start of one entry that fits in the file, then zeros from before
		// the entry's end on (the file is preallocated, and Badger copies
		// each entry into it in one go), with nothing whole after it. An
		// entry that runs past the end of the file means the file was cut
		// short.
		if off >= zeroFrom {
			s.torn = len(txn)
			return s, nil
		}
		size, fits := declaredSize(data, off)
		if err != nil && fits && zeroFrom < off+size {
			switch findEntry(data, off+1, zeroFrom, &budget) {
			case -1:
				s.torn = len(txn) + 1
				return s, nil
			case -2:
				stop += " (and too much data follows to tell a torn write from damage)"
			}
		}
		d := logDamage{offset: off, end: len(data), what: stop}
		if err != nil && !fits {
			d.what = "truncated: " + stop
		}
		if !salvage {
			s.damage = append(s.damage, d)
			return s, nil
		}
		// Salvage: the damage cut the transaction in progress, which was
		// written to its end if anything whole follows: keep its entries
		// that verify, and go on at the next whole entry (where a marker
		// of a cut transaction is skipped).
		for _, t := range txn {
			if err := commit(t); err != nil {
				return s, err
			}
		}
		s.partial += len(txn)
		txn, txnTs = txn[:0], 0
		next := off // a whole entry that does not fit its transaction starts a new one
		if err != nil || len(e.key) == 0 {
			unlimited := len(data) * 4
			next = findEntry(data, off+1, len(data), &unlimited)
		}
		if next < 0 {
			s.damage = append(s.damage, d)
			return s, nil
		}
		d.end = next
		s.damage = append(s.damage, d)
		off = next
		if e, err := readLogEntry(data, off); err == nil && e.meta&bitFinTxn != 0 {
			off = e.offset + e.size
		}
		s.validEnd = off
	}
}

// declaredSize is the size of the entry whose header starts at off, if
// the header decodes and the entry fits in data.
func declaredSize(data []byte, off int) (int, bool) {
	if off+2 > len(data) {
		return 0, false
	}
	p := off + 2
	var l [3]uint64
	for i := range l {
		v, n := binary.Uvarint(data[p:])
		if n <= 0 {
			return 0, false
		}
		l[i], p = v, p+n
	}
	end := uint64(p) + l[0] + l[1] + 4
	if end > uint64(len(data)) {
		return 0, false
	}
	return int(end) - off, true
}

// zeroTail returns where the zeros that end data begin (len(data) if it
// does not end in a zero), reading eight bytes at a time: logs are
// preallocated, and after a crash mostly zeros.
func zeroTail(data []byte) int {
	n := len(data)
	for n >= 8 && binary.LittleEndian.Uint64(data[n-8:]) == 0 {
		n -= 8
	}
	for n > 0 && data[n-1] == 0 {
		n--
	}
	return n
}

func allZero(b []byte) bool {
	for len(b) >= 8 {
		if binary.LittleEndian.Uint64(b) != 0 {
			return false
		}
		b = b[8:]
	}
	return len(bytes.TrimLeft(b, "\x00")) == 0
}
