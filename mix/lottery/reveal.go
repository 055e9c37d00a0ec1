package lottery

import (
	"bytes"
	"crypto/ed25519"
	"encoding/binary"
	"fmt"

	"github.com/fog-compute/fog/mix/vrf"
)

// RevealSize is the length of an encoded reveal:
//
//	offset size  field
//	     0    1  kind 0x02 (reveal, version 1)
//	     1    8  epoch, big-endian
//	     9   32  relay's Ed25519 public key
//	    41   80  VRF proof over the epoch's reveal input
//
// A reveal needs no signature: only the holder of the relay's key can make a
// proof that verifies, and the proof's output is unique.
const RevealSize = 1 + 8 + ed25519.PublicKeySize + vrf.ProofSize

// Reveal is a relay's contribution to the next epoch's seed. Near the end of
// epoch Epoch, every relay of that epoch publishes the VRF proof of its key
// over the reveal input (domain, network ID, epoch, seed); the smallest
// output among the reveals received in time goes into the next seed
// (NextSeed). Because a VRF output is unique, a relay can only choose whether
// to reveal, not what.
type Reveal struct {
	Epoch uint64            // the epoch whose relays reveal
	Relay ed25519.PublicKey // a claimant in the epoch's directory
	Proof []byte            // VRF proof over the epoch's reveal input
}

// NewReveal returns sk's reveal for epoch e with seed.
func NewReveal(sk ed25519.PrivateKey, e uint64, seed Seed, cfg Config) (*Reveal, error) {
	pi, err := vrf.Prove(sk, revealAlpha(cfg, e, seed))
	if err != nil {
		return nil, fmt.Errorf("lottery: proving reveal: %w", err)
	}
	return &Reveal{Epoch: e, Relay: bytes.Clone(sk[ed25519.SeedSize:]), Proof: pi}, nil
}

// Encode returns the RevealSize-byte encoding of r, or an error wrapping
// ErrMalformed if a field has the wrong size.
func (r *Reveal) Encode() ([]byte, error) {
	if len(r.Relay) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("%w: relay key has %d bytes", ErrMalformed, len(r.Relay))
	}
	if len(r.Proof) != vrf.ProofSize {
		return nil, fmt.Errorf("%w: proof has %d bytes", ErrMalformed, len(r.Proof))
	}
	b := make([]byte, 0, RevealSize)
	b = append(b, kindReveal)
	b = binary.BigEndian.AppendUint64(b, r.Epoch)
	b = append(b, r.Relay...)
	return append(b, r.Proof...), nil
}

// DecodeReveal parses a reveal encoded by Encode, checking structure only
// (exact length, kind byte). Errors wrap ErrMalformed; it never panics. The
// reveal does not alias b.
func DecodeReveal(b []byte) (*Reveal, error) {
	if len(b) != RevealSize {
		return nil, fmt.Errorf("%w: reveal has %d bytes, want %d", ErrMalformed, len(b), RevealSize)
	}
	if b[0] != kindReveal {
		return nil, fmt.Errorf("%w: kind 0x%02x is not a reveal", ErrMalformed, b[0])
	}
	return &Reveal{
		Epoch: binary.BigEndian.Uint64(b[1:9]),
		Relay: bytes.Clone(b[9 : 9+ed25519.PublicKeySize]),
		Proof: bytes.Clone(b[9+ed25519.PublicKeySize:]),
	}, nil
}

// Verify checks r as a reveal for epoch e with seed and returns its output,
// the value NextSeed takes. It does not check that the relay holds a seat in
// e (State does, against its directory). Errors wrap ErrWrongEpoch,
// ErrMalformed or ErrBadProof.
func (r *Reveal) Verify(cfg Config, e uint64, seed Seed) ([]byte, error) {
	if r.Epoch != e {
		return nil, fmt.Errorf("%w: reveal for epoch %d, checking epoch %d", ErrWrongEpoch, r.Epoch, e)
	}
	if len(r.Relay) != ed25519.PublicKeySize || len(r.Proof) != vrf.ProofSize {
		return nil, fmt.Errorf("%w: reveal field sizes", ErrMalformed)
	}
	out, err := vrf.Verify(r.Relay, revealAlpha(cfg, e, seed), r.Proof)
	if err != nil {
		return nil, fmt.Errorf("%w: reveal: %w", ErrBadProof, err)
	}
	return out, nil
}
