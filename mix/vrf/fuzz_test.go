package vrf

import (
	"bytes"
	"encoding/hex"
	"errors"
	"testing"
)

// FuzzVerify feeds arbitrary (pk, alpha, pi) to Verify. It must never panic,
// must reject with one of the package's sentinels, and any proof it accepts
// must have the output ProofToHash gives for it.
func FuzzVerify(f *testing.F) {
	for _, tv := range rfcVectors {
		pk, alpha, pi := unhex(f, tv.pk), unhex(f, tv.alpha), unhex(f, tv.pi)
		f.Add(pk, alpha, pi)
	}
	f.Fuzz(func(t *testing.T, pk, alpha, pi []byte) {
		pkIn, alphaIn, piIn := bytes.Clone(pk), bytes.Clone(alpha), bytes.Clone(pi)

		beta, err := Verify(pk, alpha, pi)

		if !bytes.Equal(pk, pkIn) || !bytes.Equal(alpha, alphaIn) || !bytes.Equal(pi, piIn) {
			t.Fatal("Verify modified its input")
		}
		if err != nil {
			if beta != nil {
				t.Fatalf("non-nil beta %x with error %v", beta, err)
			}
			if !errors.Is(err, ErrInvalidPublicKey) && !errors.Is(err, ErrInvalidProof) {
				t.Fatalf("error %v wraps no sentinel", err)
			}
			return
		}
		if len(beta) != OutputSize {
			t.Fatalf("beta has %d bytes, want %d", len(beta), OutputSize)
		}
		fromProof, err := ProofToHash(pi)
		if err != nil {
			t.Fatalf("ProofToHash rejects a proof Verify accepted: %v", err)
		}
		if !bytes.Equal(beta, fromProof) {
			t.Fatalf("Verify beta %s != ProofToHash beta %s", hex.EncodeToString(beta), hex.EncodeToString(fromProof))
		}
	})
}

// FuzzProofToHash feeds arbitrary strings to ProofToHash: it must never
// panic, must reject with ErrInvalidProof, and must accept exactly the
// well-formed proofs (ProofSize bytes, canonical Gamma, s below L).
func FuzzProofToHash(f *testing.F) {
	for _, tv := range rfcVectors {
		f.Add(unhex(f, tv.pi))
	}
	f.Fuzz(func(t *testing.T, pi []byte) {
		beta, err := ProofToHash(pi)
		_, _, _, decodeErr := decodeProof(pi)
		if (err == nil) != (decodeErr == nil) {
			t.Fatalf("ProofToHash error %v, decodeProof error %v", err, decodeErr)
		}
		if err != nil {
			if beta != nil || !errors.Is(err, ErrInvalidProof) {
				t.Fatalf("beta %x, error %v", beta, err)
			}
			return
		}
		if len(beta) != OutputSize {
			t.Fatalf("beta has %d bytes, want %d", len(beta), OutputSize)
		}
	})
}
