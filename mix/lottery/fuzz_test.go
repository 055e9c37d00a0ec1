package lottery

import (
	"bytes"
	"errors"
	"testing"
)

// FuzzDecodeClaim feeds arbitrary bytes to DecodeClaim: it must never panic,
// must reject with ErrMalformed exactly the inputs that are not ClaimSize
// bytes starting with the claim kind, and must re-encode what it accepts to
// the same bytes (one encoding per claim).
func FuzzDecodeClaim(f *testing.F) {
	f.Add([]byte{})
	f.Add(make([]byte, ClaimSize))
	f.Fuzz(func(t *testing.T, b []byte) {
		in := bytes.Clone(b)
		c, err := DecodeClaim(b)
		if !bytes.Equal(b, in) {
			t.Fatal("DecodeClaim modified its input")
		}
		wellFormed := len(b) == ClaimSize && b[0] == kindClaim
		if err != nil {
			if wellFormed || c != nil || !errors.Is(err, ErrMalformed) {
				t.Fatalf("claim %v, error %v for well-formed=%v input", c, err, wellFormed)
			}
			return
		}
		if !wellFormed {
			t.Fatalf("accepted %d bytes of kind 0x%02x", len(b), b[0])
		}
		enc, err := c.Encode()
		if err != nil {
			t.Fatalf("decoded claim does not encode: %v", err)
		}
		if !bytes.Equal(enc, b) {
			t.Fatalf("re-encoding differs:\n got %x\nwant %x", enc, b)
		}
		b[1] ^= 0xff // the claim must not alias its input
		if c2, _ := DecodeClaim(enc); c2.Epoch != c.Epoch {
			t.Fatal("claim aliases its input")
		}
	})
}

// FuzzDecodeReveal does the same for reveals.
func FuzzDecodeReveal(f *testing.F) {
	f.Add([]byte{})
	f.Add(make([]byte, RevealSize))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := DecodeReveal(b)
		wellFormed := len(b) == RevealSize && b[0] == kindReveal
		if err != nil {
			if wellFormed || r != nil || !errors.Is(err, ErrMalformed) {
				t.Fatalf("reveal %v, error %v for well-formed=%v input", r, err, wellFormed)
			}
			return
		}
		if !wellFormed {
			t.Fatalf("accepted %d bytes of kind 0x%02x", len(b), b[0])
		}
		enc, err := r.Encode()
		if err != nil || !bytes.Equal(enc, b) {
			t.Fatalf("re-encoding %x, %v; want %x", enc, err, b)
		}
	})
}

// FuzzReceive feeds arbitrary messages to a State in the middle of an
// epoch's claim window, with a valid claim already in its directory: it must
// never panic, every verdict must come with a sentinel error (or none for a
// plain Accept), and whatever it accepts must verify on its own. The
// gossip path (DecodeMessage, then receiveMsg with the decoded message)
// must judge every message DecodeMessage accepts as Receive does.
func FuzzReceive(f *testing.F) {
	f.Add([]byte{kindClaim})
	f.Add([]byte{kindReveal})
	f.Fuzz(func(t *testing.T, b []byte) {
		fx := newClaimFixture(t)
		now := fx.cfg.EpochStart(0).Add(fx.cfg.ClaimWindow / 2)
		newState := func() *State {
			s, err := New(fx.cfg, fx.stake, nil, GenesisCheckpoint(fx.cfg), nil)
			if err != nil {
				t.Fatal(err)
			}
			if v, err := s.Receive(now, mustEncode(t, fx.claim)); v != Accept || err != nil {
				t.Fatalf("fixture claim: %v %v", v, err)
			}
			return s
		}
		v, err := newState().Receive(now, b)
		if m, derr := DecodeMessage(b); derr == nil {
			v2, err2 := newState().receiveMsg(now, m)
			if v2 != v || (err2 == nil) != (err == nil) || (err != nil && err.Error() != err2.Error()) {
				t.Fatalf("Receive: %v %v; receiveMsg of the decoded message: %v %v", v, err, v2, err2)
			}
		}
		switch v {
		case Accept:
			if err != nil && !errors.Is(err, ErrEquivocation) {
				t.Fatalf("accept with error %v", err)
			}
			c, derr := DecodeClaim(b)
			if derr != nil {
				t.Fatalf("accepted a non-claim in the claim window: %v", derr)
			}
			if verr := c.Verify(fx.cfg, 0, fx.seed, fx.stake); verr != nil {
				t.Fatalf("accepted a claim that does not verify: %v", verr)
			}
		case Ignore, Reject:
			if err == nil {
				t.Fatalf("%v without an error", v)
			}
			known := false
			for _, s := range []error{ErrMalformed, ErrWrongEpoch, ErrWrongSeed, ErrEarly, ErrLate, ErrBadSignature,
				ErrBadProof, ErrBadMixKey, ErrNotCandidate, ErrNotRelay, ErrSeats, ErrLayer, ErrDuplicate, ErrExcluded} {
				known = known || errors.Is(err, s)
			}
			if !known {
				t.Fatalf("error %v wraps no sentinel", err)
			}
		default:
			t.Fatalf("verdict %v", v)
		}
	})
}
