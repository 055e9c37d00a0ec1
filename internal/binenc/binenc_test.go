package binenc

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var errBad = errors.New("bad")

func TestRoundTrip(t *testing.T) {
	var b []byte
	b = append(b, 7)
	b = binary.AppendUvarint(b, 300)
	b = binary.AppendVarint(b, -5)
	b = binary.AppendUvarint(b, math.MaxUint32)
	b = binary.AppendVarint(b, math.MinInt32)
	b = AppendString(b, "fog")
	b = AppendBytes(b, nil)
	b = binary.AppendUvarint(b, 2) // a count of two one-byte items
	b = append(b, 1, 2)
	d := NewReader(b, errBad)
	assert.Equal(t, byte(7), d.Byte())
	assert.Equal(t, uint64(300), d.Uvarint())
	assert.Equal(t, int64(-5), d.Varint())
	assert.Equal(t, uint32(math.MaxUint32), d.Uint32("x"))
	assert.Equal(t, int32(math.MinInt32), d.Int32("x"))
	assert.Equal(t, "fog", d.String(3))
	assert.Nil(t, d.Bytes())
	assert.Equal(t, 2, d.Count())
	assert.Equal(t, byte(1), d.Byte())
	assert.Equal(t, 1, d.Len())
	assert.Equal(t, byte(2), d.Byte())
	d.End()
	require.NoError(t, d.Err())
}

func TestSkipRest(t *testing.T) {
	d := NewReader([]byte{1, 2, 3, 4}, errBad)
	d.Skip(1)
	assert.Equal(t, byte(2), d.Byte())
	assert.Equal(t, []byte{3, 4}, d.Rest())
	assert.Zero(t, d.Len())
	d.End()
	require.NoError(t, d.Err())

	inner := errors.New("inner")
	d = NewReader(nil, errBad)
	d.FailErr("part", nil) // no error, nothing recorded
	require.NoError(t, d.Err())
	d.FailErr("part", inner)
	require.ErrorIs(t, d.Err(), errBad)
	require.ErrorIs(t, d.Err(), inner)
	assert.Nil(t, d.Rest())
}

func TestRejects(t *testing.T) {
	tests := []struct {
		name string
		b    []byte
		read func(d *Reader)
	}{
		{"truncated byte", nil, func(d *Reader) { d.Byte() }},
		{"truncated uvarint", []byte{0x80}, func(d *Reader) { d.Uvarint() }},
		{"non-minimal uvarint", []byte{0x81, 0x00}, func(d *Reader) { d.Uvarint() }},
		{"non-minimal varint", []byte{0x82, 0x00}, func(d *Reader) { d.Varint() }},
		{"overlong uvarint", []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, func(d *Reader) { d.Uvarint() }},
		{"above 32 bits", binary.AppendUvarint(nil, 1<<32), func(d *Reader) { d.Uint32("exit code") }},
		{"int32 above", binary.AppendVarint(nil, math.MaxInt32+1), func(d *Reader) { d.Int32("priority") }},
		{"int32 below", binary.AppendVarint(nil, math.MinInt32-1), func(d *Reader) { d.Int32("priority") }},
		{"above 63 bits", binary.AppendUvarint(nil, 1<<63), func(d *Reader) { d.Int63("wall time") }},
		{"length overruns", []byte{5, 'a'}, func(d *Reader) { d.Bytes() }},
		{"count overruns", []byte{9, 1}, func(d *Reader) { d.Count() }},
		{"string too long", AppendString(nil, "abcd"), func(d *Reader) { d.String(3) }},
		{"trailing", []byte{1, 2}, func(d *Reader) { d.Byte(); d.End() }},
		{"skip past the end", []byte{1, 2}, func(d *Reader) { d.Skip(3) }},
		{"negative skip", []byte{1, 2}, func(d *Reader) { d.Skip(-1) }},
		{"inner error", []byte{1}, func(d *Reader) { d.FailErr("inner", errors.New("x")) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := NewReader(tc.b, errBad)
			tc.read(d)
			require.ErrorIs(t, d.Err(), errBad)
			if strings.Contains(tc.name, "bits") || strings.HasPrefix(tc.name, "int32") {
				assert.Regexp(t, `(exit code|priority|wall time) exceeds (32|63) bits`, d.Err().Error(), "names the field")
			}
			// the first error sticks and later reads return zero values
			assert.Zero(t, d.Uvarint())
			assert.Nil(t, d.Bytes())
		})
	}
}

// FuzzReader: a Reader never panics, and whatever it accepts is canonical:
// the bytes each read consumed are exactly the encoding of what it returned.
func FuzzReader(f *testing.F) {
	f.Add([]byte{1, 0x81, 0x00, 3, 'f', 'o', 'g'})
	f.Fuzz(func(t *testing.T, b []byte) {
		d := NewReader(b, errBad)
		for d.Err() == nil && d.Len() > 0 {
			op := d.Byte()
			start := len(b) - d.Len()
			var enc []byte
			switch op % 7 {
			case 0:
				enc = binary.AppendUvarint(nil, d.Uvarint())
			case 1:
				enc = binary.AppendVarint(nil, d.Varint())
			case 2:
				enc = AppendBytes(nil, d.Bytes())
			case 3:
				n := d.Count()
				if d.Err() == nil && n > d.Len() {
					t.Fatalf("count %d exceeds the %d bytes left", n, d.Len())
				}
				enc = binary.AppendUvarint(nil, uint64(n))
			case 4:
				enc = AppendString(nil, d.String(8))
			case 5:
				enc = binary.AppendUvarint(nil, uint64(d.Uint32("x")))
			case 6:
				enc = binary.AppendVarint(nil, int64(d.Int32("x")))
			}
			if got := b[start : len(b)-d.Len()]; d.Err() == nil && !bytes.Equal(got, enc) {
				t.Fatalf("read %x, which encodes as %x", got, enc)
			}
		}
	})
}
