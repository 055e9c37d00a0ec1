package lottery

import (
	"bytes"
	"errors"
	"testing"
)

// FuzzDecodeCandidacy feeds arbitrary bytes to DecodeCandidacy: it must
// never panic, must accept exactly the CandidacySize-byte inputs of the
// candidacy kind for an epoch of at least 1, and must re-encode what it
// accepts to the same bytes.
func FuzzDecodeCandidacy(f *testing.F) {
	f.Add([]byte{})
	f.Add(make([]byte, CandidacySize))
	f.Fuzz(func(t *testing.T, b []byte) {
		in := bytes.Clone(b)
		c, err := DecodeCandidacy(b)
		if !bytes.Equal(b, in) {
			t.Fatal("DecodeCandidacy modified its input")
		}
		wellFormed := len(b) == CandidacySize && b[0] == kindCandidacy && !bytes.Equal(b[1:9], make([]byte, 8))
		if err != nil {
			if wellFormed || !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v for well-formed=%v input", err, wellFormed)
			}
			return
		}
		if !wellFormed {
			t.Fatalf("accepted %d bytes of kind 0x%02x", len(b), b[0])
		}
		enc, err := c.Encode()
		if err != nil || !bytes.Equal(enc, b) {
			t.Fatalf("re-encoding: %x, %v; want %x", enc, err, b)
		}
	})
}

// FuzzDecodeMessage feeds arbitrary bytes to DecodeMessage (what the
// gossip topic's validator chain calls on every message): it must never
// panic, must reject with ErrMalformed whatever is not a claim, reveal or
// candidacy, and must name as author the peer of the key inside.
func FuzzDecodeMessage(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{kindCandidacy})
	f.Add(make([]byte, ClaimSize))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := DecodeMessage(b)
		if err != nil {
			if m != nil || !errors.Is(err, ErrMalformed) {
				t.Fatalf("message %v, error %v", m, err)
			}
			return
		}
		var size int
		switch m.kind {
		case kindClaim:
			size = ClaimSize
		case kindReveal:
			size = RevealSize
		case kindCandidacy:
			size = CandidacySize
		default:
			t.Fatalf("accepted kind 0x%02x", m.kind)
		}
		if len(b) != size || !bytes.Equal(m.data, b) {
			t.Fatalf("accepted %d bytes of kind 0x%02x", len(b), m.kind)
		}
		id, err := keyPeerID(m.key)
		if err != nil || id != m.author {
			t.Fatalf("author %s, key's peer %s (%v)", m.author, id, err)
		}
		_ = m.NominalTime(testConfig()) // any epoch, no overflow
	})
}
