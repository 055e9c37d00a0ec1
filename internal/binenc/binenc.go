package binenc

import (
	"encoding/binary"
	"fmt"
	"math"
)

// AppendString appends s with its uvarint length.
func AppendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// AppendBytes appends s with its uvarint length.
func AppendBytes(b, s []byte) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// Reader decodes canonical primitives from a byte slice. The zero value
// is not usable; use NewReader.
type Reader struct {
	b      []byte
	off    int
	err    error
	errSen error
}

// NewReader reads b; its errors wrap sentinel (the caller's "malformed"
// error) and say what was wrong at which byte.
func NewReader(b []byte, sentinel error) *Reader {
	return &Reader{b: b, errSen: sentinel}
}

// Err returns the first error, or nil.
func (d *Reader) Err() error { return d.err }

// Len returns the number of bytes not read yet.
func (d *Reader) Len() int { return len(d.b) - d.off }

// Fail records an error about what is wrong at the current byte, unless
// an error was recorded already.
func (d *Reader) Fail(what string) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: %s at byte %d", d.errSen, what, d.off)
	}
}

// FailErr records err, found decoding the part named what, as the error
// (wrapping both the sentinel and err), unless an error was recorded
// already.
func (d *Reader) FailErr(what string, err error) {
	if d.err == nil && err != nil {
		d.err = fmt.Errorf("%w: %s: %w", d.errSen, what, err)
	}
}

// Skip skips n bytes, failing if fewer are left.
func (d *Reader) Skip(n int) {
	if d.err != nil {
		return
	}
	if n < 0 || n > len(d.b)-d.off {
		d.Fail("truncated")
		return
	}
	d.off += n
}

// Rest returns the bytes not read yet (aliasing the input) and consumes
// them; after an error it returns nil.
func (d *Reader) Rest() []byte {
	if d.err != nil {
		return nil
	}
	s := d.b[d.off:]
	d.off = len(d.b)
	return s
}

// End fails unless every byte has been read.
func (d *Reader) End() {
	if d.err == nil && d.off != len(d.b) {
		d.Fail(fmt.Sprintf("%d trailing bytes", len(d.b)-d.off))
	}
}

// Byte reads one byte.
func (d *Reader) Byte() byte {
	if d.err != nil {
		return 0
	}
	if d.off >= len(d.b) {
		d.Fail("truncated")
		return 0
	}
	c := d.b[d.off]
	d.off++
	return c
}

// Uvarint reads a minimal unsigned varint.
func (d *Reader) Uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b[d.off:])
	if n <= 0 {
		d.Fail("bad uvarint")
		return 0
	}
	if n > 1 && d.b[d.off+n-1] == 0 {
		d.Fail("uvarint not minimal")
		return 0
	}
	d.off += n
	return v
}

// Varint reads a minimal zigzag-encoded signed varint.
func (d *Reader) Varint() int64 {
	u := d.Uvarint()
	x := int64(u >> 1)
	if u&1 != 0 {
		x = ^x
	}
	return x
}

// Uint32 reads a uvarint that must fit in 32 bits; what names it in the
// error.
func (d *Reader) Uint32(what string) uint32 {
	v := d.Uvarint()
	if v > math.MaxUint32 {
		d.Fail(what + " exceeds 32 bits")
		return 0
	}
	return uint32(v)
}

// Int32 reads a zigzag varint that must fit in an int32; what names it in
// the error.
func (d *Reader) Int32(what string) int32 {
	v := d.Varint()
	if v < math.MinInt32 || v > math.MaxInt32 {
		d.Fail(what + " exceeds 32 bits")
		return 0
	}
	return int32(v)
}

// Int63 reads a uvarint that must fit in an int64; what names it in the
// error.
func (d *Reader) Int63(what string) int64 {
	v := d.Uvarint()
	if v > math.MaxInt64 {
		d.Fail(what + " exceeds 63 bits")
		return 0
	}
	return int64(v)
}

// Count reads a number of elements each of which takes at least one more
// byte, so that a count cannot make the caller allocate more than the input
// justifies.
func (d *Reader) Count() int {
	n := d.Uvarint()
	if d.err == nil && n > uint64(len(d.b)-d.off) {
		d.Fail("count exceeds the remaining bytes")
		return 0
	}
	return int(n)
}

// Bytes reads a length-prefixed byte string, aliasing the input (capped, so
// appending to it cannot overwrite what follows); an empty one is nil.
func (d *Reader) Bytes() []byte {
	n := d.Uvarint()
	if d.err != nil {
		return nil
	}
	if n > uint64(len(d.b)-d.off) {
		d.Fail("length overruns the input")
		return nil
	}
	if n == 0 {
		return nil
	}
	s := d.b[d.off : d.off+int(n) : d.off+int(n)]
	d.off += int(n)
	return s
}

// String reads a length-prefixed string of at most limit bytes.
func (d *Reader) String(limit int) string {
	s := d.Bytes()
	if len(s) > limit {
		d.Fail("string too long")
		return ""
	}
	return string(s)
}
