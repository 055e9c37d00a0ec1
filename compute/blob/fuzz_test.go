package blob

import (
	"bytes"
	"errors"
	"runtime"
	"testing"

	"github.com/fog-compute/fog/compute/wasm"
)

// FuzzDecodeRequest feeds arbitrary bytes to the request decoder (what a
// client sends a server): it must never panic, and what it accepts must
// re-encode to its input.
func FuzzDecodeRequest(f *testing.F) {
	f.Add(Request{ID: wasm.IDOf([]byte("m"))}.Marshal())
	f.Add([]byte{})
	f.Add(make([]byte, RequestLen))
	f.Add(append([]byte{opGet}, make([]byte, RequestLen)...))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := DecodeRequest(b)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("rejection does not wrap ErrMalformed: %v", err)
			}
			return
		}
		if !bytes.Equal(r.Marshal(), b) {
			t.Fatalf("accepted request does not re-encode to its input")
		}
	})
}

// FuzzDecodeHeader feeds arbitrary bytes to the response header decoder
// (what a server sends a client): it must never panic, what it accepts
// must re-encode to its input, and no accepted length exceeds the limit.
func FuzzDecodeHeader(f *testing.F) {
	f.Add(Header{StatusFound, 1234}.Marshal())
	f.Add(Header{StatusNotFound, 0}.Marshal())
	f.Add(Header{StatusBusy, 0}.Marshal())
	f.Add(Header{StatusFound, 1<<64 - 1}.Marshal())
	f.Add([]byte{2, 0, 0, 0, 0, 0, 0, 0, 1})
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := DecodeHeader(b)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("rejection does not wrap ErrMalformed: %v", err)
			}
			return
		}
		if !bytes.Equal(h.Marshal(), b) {
			t.Fatalf("accepted header does not re-encode to its input")
		}
		if h.Length > MaxModuleLimit || (h.Status != StatusFound && h.Length != 0) {
			t.Fatalf("accepted bad header %+v", h)
		}
	})
}

// FuzzReadResponse feeds an arbitrary server byte stream to the client's
// response reader, asking for the module whose bytes are mod: it must never
// panic, and it may return bytes only if they are mod and the stream was
// exactly a found header and mod.
func FuzzReadResponse(f *testing.F) {
	mod := []byte("\x00asm\x01\x00\x00\x00 a module")
	f.Add(response(Header{StatusFound, uint64(len(mod))}, mod), mod)
	f.Add(response(Header{StatusFound, uint64(len(mod))}, mod[:5]), mod)
	f.Add(response(Header{StatusFound, uint64(len(mod))}, mod, []byte("!")), mod)
	f.Add(response(Header{StatusFound, 3}, []byte("abc")), mod)
	f.Add(response(Header{StatusNotFound, 0}), mod)
	f.Add(response(Header{StatusBusy, 0}), []byte{})
	f.Add(response(Header{StatusFound, 0}), []byte{})
	f.Add(response(Header{StatusFound, 1 << 20}), mod)
	f.Fuzz(func(t *testing.T, stream, mod []byte) {
		got, err := readResponse(bytes.NewReader(stream), wasm.IDOf(mod), 1<<20)
		if err != nil {
			if got != nil {
				t.Fatalf("bytes returned with an error")
			}
			return
		}
		if !bytes.Equal(got, mod) {
			t.Fatalf("accepted bytes that are not the module")
		}
		if !bytes.Equal(stream, response(Header{StatusFound, uint64(len(mod))}, mod)) {
			t.Fatalf("accepted a stream that is not exactly header and module")
		}
	})
}

// runtimeMem reads the bytes allocated so far.
type runtimeMem struct{ total uint64 }

func (m *runtimeMem) read() {
	var s runtime.MemStats
	runtime.ReadMemStats(&s)
	m.total = s.TotalAlloc
}
