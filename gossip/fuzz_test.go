package gossip

import (
	"bytes"
	"testing"
	"time"
)

// FuzzDecodeAdvert checks that the advert decoder never panics and accepts
// only canonical encodings: whatever it accepts re-encodes to the same
// bytes.
func FuzzDecodeAdvert(f *testing.F) {
	_, id := newKey(f)
	good, err := EncodeAdvert(testAdvert(id, 1, time.UnixMilli(1_800_000_000_000)))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add(good[:len(good)/2])
	scratch := testAdvert(id, 2, time.UnixMilli(1_800_000_000_000))
	scratch.Runtimes = []string{RuntimeWasm, RuntimeWasmScratch}
	if b, err := EncodeAdvert(scratch); err == nil {
		f.Add(b)
	} else {
		f.Fatal(err)
	}
	f.Add([]byte{})
	f.Add([]byte{AdvertFormat})
	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := DecodeAdvert(b)
		if err != nil {
			return
		}
		if err := a.Validate(); err != nil {
			t.Fatalf("decoded advert does not validate: %v", err)
		}
		out, err := EncodeAdvert(a)
		if err != nil {
			t.Fatalf("decoded advert does not encode: %v", err)
		}
		if !bytes.Equal(out, b) {
			t.Fatalf("non-canonical input accepted:\n in %x\nout %x", b, out)
		}
	})
}
