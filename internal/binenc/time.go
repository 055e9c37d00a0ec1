package binenc

import (
	"encoding/binary"
	"math"
	"time"
)

// AppendTime appends t as a uvarint of unix milliseconds, 0 standing for
// the zero time (and for any time not after the epoch).
func AppendTime(b []byte, t time.Time) []byte {
	var ms uint64
	if !t.IsZero() && t.UnixMilli() > 0 {
		ms = uint64(t.UnixMilli())
	}
	return binary.AppendUvarint(b, ms)
}

// Time reads a time as AppendTime writes it (0 is the zero time), failing
// on one too far in the future to be a time.
func (d *Reader) Time() time.Time {
	ms := d.Uvarint()
	if d.Err() != nil || ms == 0 {
		return time.Time{}
	}
	if ms > math.MaxInt64/2 {
		d.Fail("time out of range")
		return time.Time{}
	}
	return time.UnixMilli(int64(ms))
}
