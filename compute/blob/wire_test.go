package blob

import (
	"bytes"
	"errors"
	"io"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fog-compute/fog/compute/wasm"
)

func TestRequestRoundTrip(t *testing.T) {
	r := Request{ID: wasm.IDOf([]byte("module"))}
	b := r.Marshal()
	require.Len(t, b, RequestLen)
	got, err := DecodeRequest(b)
	require.NoError(t, err)
	assert.Equal(t, r, got)
	for name, bad := range map[string][]byte{
		"empty":     nil,
		"short":     b[:RequestLen-1],
		"long":      append(bytes.Clone(b), 0),
		"operation": append([]byte{0x02}, b[1:]...),
		"zero op":   make([]byte, RequestLen),
	} {
		_, err := DecodeRequest(bad)
		assert.ErrorIs(t, err, ErrMalformed, name)
	}
}

func TestHeaderRoundTrip(t *testing.T) {
	for _, h := range []Header{{StatusFound, 0}, {StatusFound, 12345}, {StatusFound, MaxModuleLimit}, {StatusNotFound, 0}, {StatusBusy, 0}} {
		got, err := DecodeHeader(h.Marshal())
		require.NoError(t, err)
		assert.Equal(t, h, got)
	}
	for name, h := range map[string][]byte{
		"empty":            nil,
		"short":            Header{StatusFound, 1}.Marshal()[:HeaderLen-1],
		"long":             append(Header{StatusFound, 1}.Marshal(), 0),
		"zero status":      make([]byte, HeaderLen),
		"unknown status":   Header{Status(9), 0}.Marshal(),
		"not found with n": Header{StatusNotFound, 1}.Marshal(),
		"busy with n":      Header{StatusBusy, 7}.Marshal(),
		"above limit":      Header{StatusFound, MaxModuleLimit + 1}.Marshal(),
		"huge":             Header{StatusFound, 1<<64 - 1}.Marshal(),
	} {
		_, err := DecodeHeader(h)
		assert.ErrorIs(t, err, ErrMalformed, name)
	}
}

// response builds a server's byte stream.
func response(h Header, body ...[]byte) []byte {
	return append(h.Marshal(), bytes.Join(body, nil)...)
}

func TestReadResponse(t *testing.T) {
	mod := module(1, 200_000) // several chunks
	id := wasm.IDOf(mod)
	other := bytes.Clone(mod)
	other[150_000] ^= 1
	n := uint64(len(mod))
	tests := []struct {
		name   string
		stream []byte
		max    int64
		want   error
	}{
		{"ok", response(Header{StatusFound, n}, mod), 1 << 20, nil},
		{"wrong bytes", response(Header{StatusFound, n}, other), 1 << 20, ErrHashMismatch},
		{"prefix", response(Header{StatusFound, n - 1}, mod[:n-1]), 1 << 20, ErrHashMismatch},
		{"cut short", response(Header{StatusFound, n}, mod[:n-1]), 1 << 20, io.ErrUnexpectedEOF},
		{"no body", response(Header{StatusFound, n}), 1 << 20, io.ErrUnexpectedEOF},
		{"trailing", response(Header{StatusFound, n}, mod, []byte{0}), 1 << 20, ErrMalformed},
		{"too large", response(Header{StatusFound, n}, mod), int64(n) - 1, ErrTooLarge},
		{"not found", response(Header{StatusNotFound, 0}), 1 << 20, ErrNotFound},
		{"busy", response(Header{StatusBusy, 0}), 1 << 20, ErrBusy},
		{"bad header", []byte{0xff, 0, 0, 0, 0, 0, 0, 0, 0}, 1 << 20, ErrMalformed},
		{"short header", []byte{1, 0}, 1 << 20, io.ErrUnexpectedEOF},
		{"nothing", nil, 1 << 20, io.EOF},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := readResponse(bytes.NewReader(tc.stream), id, tc.max)
			if tc.want == nil {
				require.NoError(t, err)
				assert.Equal(t, mod, got)
				return
			}
			require.ErrorIs(t, err, tc.want)
			assert.Nil(t, got)
		})
	}
}

// A server claiming a huge length but sending little does not make the
// client allocate the claimed size.
func TestReadResponseAllocatesAsBytesArrive(t *testing.T) {
	id := wasm.IDOf([]byte("x"))
	stream := response(Header{StatusFound, 1 << 29}, []byte("tiny"))
	allocs := testing.AllocsPerRun(10, func() {
		_, err := readResponse(bytes.NewReader(stream), id, 1<<30)
		if !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Fatal(err)
		}
	})
	// header + one 1 MiB buffer + hash state + error: a handful of allocations,
	// and (checked below) no 512 MiB one.
	assert.Less(t, allocs, 20.0)
	var before, after runtimeMem
	before.read()
	_, _ = readResponse(bytes.NewReader(stream), id, 1<<30)
	after.read()
	assert.Less(t, after.total-before.total, uint64(4<<20))
}
