package files

import (
	"errors"
	"testing"
	"time"

	"github.com/ipfs/go-cid"
)

var fuzzRoot = func() cid.Cid {
	c, _ := cid.Decode("bafybeiggzq4ryi7hscq5hzvzcnk4urnxt3asp37dhgvnjilf7exskximla")
	return c
}()

// FuzzDecodePin feeds arbitrary bytes to the pin record decoder: it must
// never panic, rejections wrap ErrBadPin, and what it accepts re-encodes to
// a record that decodes to the same pin.
func FuzzDecodePin(f *testing.F) {
	f.Add(Pin{Root: fuzzRoot, Name: "a.bin", Size: 12, Complete: true, Added: time.Unix(1, 0).UTC()}.Marshal())
	f.Add(Pin{Root: fuzzRoot}.Marshal())
	f.Add([]byte(`{"root":{"/":"bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku"},"size":1}`))
	f.Add([]byte(`{"root":{"/":"x"},"size":-1}`))
	f.Add([]byte(`{}`))
	f.Add([]byte(``))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := DecodePin(fuzzRoot, b)
		if err != nil {
			if !errors.Is(err, ErrBadPin) {
				t.Fatalf("rejection does not wrap ErrBadPin: %v", err)
			}
			return
		}
		q, err := DecodePin(fuzzRoot, p.Marshal())
		if err != nil {
			t.Fatalf("accepted pin does not decode again: %v", err)
		}
		if !q.Root.Equals(p.Root) || q.Name != p.Name || q.Size != p.Size || q.Complete != p.Complete || !q.Added.Equal(p.Added) {
			t.Fatalf("round trip changed the pin: %+v, %+v", p, q)
		}
	})
}

// FuzzLinks feeds arbitrary bytes, as a dag-pb block from a peer, to what a
// get decodes of it (links, the declared size): it must not panic.
func FuzzLinks(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{0x0a, 0x02, 0x08, 0x02})
	f.Add([]byte{0x12, 0x00})
	f.Fuzz(func(t *testing.T, b []byte) {
		blk := mustBlock(t, b)
		_, _ = links(blk)
		if n, err := declaredSize(blk); err == nil && n < 0 {
			t.Fatalf("negative size %d", n)
		}
	})
}
