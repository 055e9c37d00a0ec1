package binenc

import (
	"encoding/binary"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestTime(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   time.Time
		want time.Time
	}{
		{"zero", time.Time{}, time.Time{}},
		{"before the epoch", time.UnixMilli(-5), time.Time{}},
		{"milliseconds kept", time.UnixMilli(1_900_000_000_123).Add(999), time.UnixMilli(1_900_000_000_123)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := NewReader(AppendTime(nil, tc.in), errBad)
			got := d.Time()
			d.End()
			require.NoError(t, d.Err())
			assert.True(t, tc.want.Equal(got), "%v, want %v", got, tc.want)
		})
	}
	d := NewReader(binary.AppendUvarint(nil, math.MaxInt64), errBad)
	d.Time()
	assert.ErrorIs(t, d.Err(), errBad)
}
