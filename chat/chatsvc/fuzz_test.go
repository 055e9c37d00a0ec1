package chatsvc

import (
	"bytes"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"

	"github.com/fog-compute/fog/chat"
)

// FuzzDecodeAnnouncement: a names-topic message from the network decodes
// or is refused, never panics, and what decodes encodes back to itself.
func FuzzDecodeAnnouncement(f *testing.F) {
	k, _, err := crypto.GenerateEd25519Key(bytes.NewReader(make([]byte, 64)))
	if err != nil {
		f.Fatal(err)
	}
	n, err := chat.NewNick(k, "alice", 1, time.UnixMilli(1_700_000_000_000))
	if err != nil {
		f.Fatal(err)
	}
	b, err := encodeAnnouncement(announcement{seq: 7, at: time.UnixMilli(1_700_000_000_001), nick: n})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Add(b[:16])
	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := decodeAnnouncement(b)
		if err != nil {
			return
		}
		out, err := encodeAnnouncement(a)
		if err != nil {
			t.Fatalf("a decoded announcement does not encode: %v", err)
		}
		if !bytes.Equal(out, b) {
			t.Fatalf("not canonical:\n%x\n%x", b, out)
		}
	})
}
