package ledgersvc

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fog-compute/fog/token"
)

func TestTicketRoundTrip(t *testing.T) {
	tk := ClaimTicket{Lock: token.Hash{1, 2}, Amount: 2500, Sig: [64]byte{9}}
	b := tk.Encode()
	require.Len(t, b, TicketSize)
	got, err := DecodeTicket(b)
	require.NoError(t, err)
	assert.Equal(t, tk, got)

	for _, tc := range []struct {
		name string
		p    []byte
	}{
		{"short", b[:TicketSize-1]},
		{"long", append(append([]byte{}, b...), 0)},
		{"version", append([]byte{2}, b[1:]...)},
		{"zero amount", (&ClaimTicket{Lock: token.Hash{1}}).Encode()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := DecodeTicket(tc.p)
			assert.ErrorIs(t, err, ErrTicket)
		})
	}
}

func FuzzDecodeTicket(f *testing.F) {
	f.Add((&ClaimTicket{Lock: token.Hash{1}, Amount: 7, Sig: [64]byte{3}}).Encode())
	f.Add([]byte{1})
	f.Fuzz(func(t *testing.T, p []byte) {
		tk, err := DecodeTicket(p)
		if err != nil {
			return
		}
		assert.Equal(t, p, tk.Encode(), "the encoding is canonical")
	})
}
