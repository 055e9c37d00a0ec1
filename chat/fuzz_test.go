package chat

import (
	"bytes"
	"testing"
)

// FuzzDecodeChatKey: DecodeChatKey never panics, and what it accepts
// encodes back to the same bytes (one encoding per key).
func FuzzDecodeChatKey(f *testing.F) {
	priv, _ := identity(f, 1)
	k, _, err := NewChatKey(priv, 1, t0, rnd(2))
	if err != nil {
		f.Fatal(err)
	}
	enc, _ := k.Encode()
	f.Add(enc)
	f.Add(enc[:10])
	f.Fuzz(func(t *testing.T, b []byte) {
		k, err := DecodeChatKey(b)
		if err != nil {
			return
		}
		out, err := k.Encode()
		if err != nil {
			t.Fatalf("a decoded key does not encode: %v", err)
		}
		if !bytes.Equal(out, b) {
			t.Fatalf("not canonical:\n%x\n%x", b, out)
		}
		if err := k.Verify(k.Owner); err != nil {
			t.Fatalf("a decoded key does not verify: %v", err)
		}
	})
}

// FuzzDecodeNick: DecodeNick never panics, and what it accepts encodes
// back to the same bytes and verifies.
func FuzzDecodeNick(f *testing.F) {
	priv, _ := identity(f, 1)
	for _, name := range []string{"alice", "Zoë", "日本語"} {
		n, err := NewNick(priv, name, 1, t0)
		if err != nil {
			f.Fatal(err)
		}
		enc, _ := n.Encode()
		f.Add(enc)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		n, err := DecodeNick(b)
		if err != nil {
			return
		}
		out, err := n.Encode()
		if err != nil {
			t.Fatalf("a decoded claim does not encode: %v", err)
		}
		if !bytes.Equal(out, b) {
			t.Fatalf("not canonical:\n%x\n%x", b, out)
		}
		if err := n.Verify(); err != nil {
			t.Fatalf("a decoded claim does not verify: %v", err)
		}
	})
}
