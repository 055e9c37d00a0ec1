package store

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/dgraph-io/badger/v4/fb"
	"github.com/dgraph-io/badger/v4/options"
	"github.com/dgraph-io/badger/v4/pb"
	"github.com/dgraph-io/badger/v4/y"
	"github.com/klauspost/compress/snappy"
	"google.golang.org/protobuf/proto"
)

// This file reads Badger v4.9.6's table files (NNNNNN.sst) itself, with
// every length checked, so that a damaged table is reported as an error
// instead of panicking: Badger opens tables in goroutines of its own, where
// a truncated table panics beyond any recover (table.initBiggestAndSmallest
// slices with lengths read from the damaged footer).
//
// A table is:
//
//	block 0 | block 1 | ... | index | index length (4) | checksum | checksum length (4)
//
// The index is a flatbuffer (fb.TableIndex) with each block's offset, length
// and first key, the table's key count and its highest version; the
// checksum (pb.Checksum) covers the index. Each block, once decompressed, is
//
//	entry 0 | entry 1 | ... | entry offsets (4 each) | count (4) | checksum | checksum length (4)
//
// with its checksum over everything before it. An entry is a 4-byte header
// (how many bytes of the block's first key it shares, how many follow),
// those bytes, and the value (y.ValueStruct encoding). Lengths are
// big-endian except the entry offsets and entry headers, which Badger
// writes in the machine's byte order.

const (
	// maxBlockSize bounds a decompressed block. Badger closes a block once
	// it exceeds 4 KiB, so a block is at most one entry (a key of up to
	// 64 KiB and a value of up to the 1 MiB value threshold) larger; a
	// block that claims more is damaged, and is not allocated.
	maxBlockSize = 4 << 20
	// maxIndexSize bounds a table's index (about 1% of a table of at most
	// a few hundred MiB).
	maxIndexSize = 64 << 20
)

// tableDamage describes what is wrong with a table file.
type tableDamage struct {
	what   string
	offset int64 // where in the file, or -1
	block  int   // the damaged block, or -1 for the table's footer and index
}

func (d *tableDamage) Error() string {
	if d.block >= 0 {
		return fmt.Sprintf("block %d (offset %d): %s", d.block, d.offset, d.what)
	}
	if d.offset >= 0 {
		return fmt.Sprintf("offset %d: %s", d.offset, d.what)
	}
	return d.what
}

// blockRef is one block as the index lists it.
type blockRef struct {
	offset, length uint32
	first          []byte // the block's first key, with its version
}

// sstable is a table file whose footer and index verified.
type sstable struct {
	data       []byte // the whole file
	comp       options.CompressionType
	compKnown  bool // comp comes from the MANIFEST; otherwise it is found per block
	blocks     []blockRef
	keyCount   uint32
	maxVersion uint64
}

// openSSTable verifies the footer and index of the table in data (the
// whole file). comp is the table's compression from the MANIFEST, if known.
// A damaged footer or index is a *tableDamage.
func openSSTable(data []byte, comp options.CompressionType, compKnown bool) (t *sstable, err error) {
	defer func() {
		if p := recover(); p != nil { // only a checksum collision gets past the checks below
			t, err = nil, &tableDamage{what: fmt.Sprintf("index unreadable: %v", p), offset: -1, block: -1}
		}
	}()
	bad := func(off int64, format string, args ...any) error {
		return &tableDamage{what: fmt.Sprintf(format, args...), offset: off, block: -1}
	}
	size := int64(len(data))
	if size < 8 {
		return nil, bad(-1, "truncated: %d bytes, too short for a table", size)
	}
	pos := size - 4
	chkLen := int64(binary.BigEndian.Uint32(data[pos:]))
	if chkLen > pos-4 || chkLen > 64 {
		return nil, bad(pos, "truncated or damaged footer: checksum length %d", chkLen)
	}
	pos -= chkLen
	chk := data[pos : pos+chkLen]
	pos -= 4
	idxLen := int64(binary.BigEndian.Uint32(data[pos:]))
	if idxLen > pos || idxLen > maxIndexSize || idxLen == 0 {
		return nil, bad(pos, "truncated or damaged footer: index length %d in a file of %d bytes", idxLen, size)
	}
	pos -= idxLen
	idx := data[pos : pos+idxLen]
	if err := verifyChecksum(idx, chk); err != nil {
		return nil, bad(pos, "index %v", err)
	}
	index := fb.GetRootAsTableIndex(idx, 0)
	t = &sstable{data: data, comp: comp, compKnown: compKnown,
		keyCount: index.KeyCount(), maxVersion: index.MaxVersion()}
	n := index.OffsetsLength()
	if n == 0 || int64(n) > pos/8 {
		return nil, bad(pos, "index lists %d blocks", n)
	}
	t.blocks = make([]blockRef, n)
	var bo fb.BlockOffset
	end := uint64(0)
	for i := range n {
		if !index.Offsets(&bo, i) {
			return nil, bad(pos, "index entry %d unreadable", i)
		}
		b := blockRef{offset: bo.Offset(), length: bo.Len(), first: append([]byte(nil), bo.KeyBytes()...)}
		if uint64(b.offset) != end || uint64(b.offset)+uint64(b.length) > uint64(pos) || len(b.first) < 8 {
			return nil, bad(pos, "index entry %d (offset %d, length %d) does not fit the table", i, b.offset, b.length)
		}
		end += uint64(b.length)
		t.blocks[i] = b
	}
	return t, nil
}

// verifyChecksum checks data against the serialized pb.Checksum chk.
func verifyChecksum(data, chk []byte) error {
	var cs pb.Checksum
	if err := proto.Unmarshal(chk, &cs); err != nil {
		return fmt.Errorf("checksum unreadable: %v", err)
	}
	switch cs.Algo {
	case pb.Checksum_CRC32C, pb.Checksum_XXHash64:
	default:
		return fmt.Errorf("checksum of unknown algorithm %d", cs.Algo)
	}
	if y.CalculateChecksum(data, cs.Algo) != cs.Sum {
		return errors.New("checksum mismatch")
	}
	return nil
}

// block is one decompressed block whose checksum verified.
type block struct {
	data    []byte   // the entries
	offsets []uint32 // where each entry starts in data
}

// readBlock decompresses block i, using buf if it is large enough, and
// verifies its checksum. A damaged block is a *tableDamage. The block
// points into the table's data or into its returned buffer, which the next
// call may reuse.
func (t *sstable) readBlock(i int, buf []byte) (*block, []byte, error) {
	ref := t.blocks[i]
	raw := t.data[ref.offset : ref.offset+ref.length]
	comps := []options.CompressionType{t.comp}
	if !t.compKnown { // no MANIFEST: the checksum tells which one it was
		comps = []options.CompressionType{options.Snappy, options.None}
	}
	var firstErr error
	for _, c := range comps {
		b, nbuf, err := decodeBlock(raw, c, buf)
		buf = nbuf
		if err == nil {
			return b, buf, nil
		}
		if firstErr == nil {
			firstErr = err
		}
	}
	return nil, buf, &tableDamage{what: firstErr.Error(), offset: int64(ref.offset), block: i}
}

// decodeBlock decompresses raw with c and checks the block's checksum and
// layout.
func decodeBlock(raw []byte, c options.CompressionType, buf []byte) (b *block, _ []byte, err error) {
	defer func() {
		if p := recover(); p != nil {
			b, err = nil, fmt.Errorf("undecodable: %v", p)
		}
	}()
	data := raw
	switch c {
	case options.None:
	case options.Snappy:
		n, err := snappy.DecodedLen(raw)
		if err != nil {
			return nil, buf, fmt.Errorf("does not decompress: %v", err)
		}
		if n > maxBlockSize {
			return nil, buf, fmt.Errorf("claims %d bytes decompressed", n)
		}
		if cap(buf) < n {
			buf = make([]byte, n)
		}
		if data, err = snappy.Decode(buf[:n], raw); err != nil {
			return nil, buf, fmt.Errorf("does not decompress: %v", err)
		}
	default:
		return nil, buf, fmt.Errorf("compression %d is not one fog uses", c)
	}
	b, err = parseBlock(data)
	return b, buf, err
}

// parseBlock checks a decompressed block's checksum and layout.
func parseBlock(data []byte) (*block, error) {
	if len(data) < 8 {
		return nil, errors.New("too short")
	}
	pos := len(data) - 4
	chkLen := int(binary.BigEndian.Uint32(data[pos:]))
	if chkLen > pos-4 || chkLen > 64 {
		return nil, fmt.Errorf("checksum length %d does not fit", chkLen)
	}
	pos -= chkLen
	if err := verifyChecksum(data[:pos], data[pos:pos+chkLen]); err != nil {
		return nil, err
	}
	pos -= 4
	n := int(binary.BigEndian.Uint32(data[pos:]))
	if n == 0 || n > pos/4 {
		return nil, fmt.Errorf("entry count %d does not fit", n)
	}
	start := pos - 4*n
	b := &block{data: data[:start], offsets: make([]uint32, n)}
	for j := range n {
		b.offsets[j] = binary.NativeEndian.Uint32(data[start+4*j:])
		if int(b.offsets[j]) >= start || (j > 0 && b.offsets[j] <= b.offsets[j-1]) {
			return nil, fmt.Errorf("entry %d offset %d does not fit", j, b.offsets[j])
		}
	}
	if b.offsets[0] != 0 {
		return nil, errors.New("first entry does not start the block")
	}
	return b, nil
}

// tableEntry is one entry of a table: a key with its version, and its
// value as Badger stores it (inline, or a pointer into the value log).
type tableEntry struct {
	key []byte // with the version suffix
	vs  y.ValueStruct
}

// entries decodes every entry of b, calling fn with each; key and value
// are only valid during the call.
func (b *block) entries(fn func(tableEntry) error) error {
	var base, key []byte
	for j, off := range b.offsets {
		end := len(b.data)
		if j+1 < len(b.offsets) {
			end = int(b.offsets[j+1])
		}
		e := b.data[off:end]
		if len(e) < 4 {
			return fmt.Errorf("entry %d is too short", j)
		}
		overlap := int(binary.NativeEndian.Uint16(e[0:]))
		diff := int(binary.NativeEndian.Uint16(e[2:]))
		if j == 0 {
			if overlap != 0 || 4+diff > len(e) {
				return fmt.Errorf("entry %d: bad first key", j)
			}
			base = e[4 : 4+diff]
		}
		if overlap > len(base) || 4+diff > len(e) {
			return fmt.Errorf("entry %d: key lengths %d+%d do not fit", j, overlap, diff)
		}
		key = append(append(key[:0], base[:overlap]...), e[4:4+diff]...)
		v := e[4+diff:]
		if len(key) < 8 || len(v) < 3 {
			return fmt.Errorf("entry %d is too short", j)
		}
		var vs y.ValueStruct
		vs.Meta, vs.UserMeta = v[0], v[1]
		exp, n := binary.Uvarint(v[2:])
		if n <= 0 {
			return fmt.Errorf("entry %d: bad expiry", j)
		}
		vs.ExpiresAt, vs.Value = exp, v[2+n:]
		if err := fn(tableEntry{key: key, vs: vs}); err != nil {
			return err
		}
	}
	return nil
}

// verify reads every block of t and checks its checksum and layout. It
// returns the first damage.
func (t *sstable) verify() error {
	var buf []byte
	for i := range t.blocks {
		b, nbuf, err := t.readBlock(i, buf)
		buf = nbuf
		if err != nil {
			return err
		}
		if err := b.entries(func(tableEntry) error { return nil }); err != nil {
			return &tableDamage{what: err.Error(), offset: int64(t.blocks[i].offset), block: i}
		}
	}
	return nil
}
