package lottery

import (
	"bytes"
	"crypto/ecdh"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"math/big"

	"github.com/fog-compute/fog/mix/vrf"
)

// Message kinds: the first byte of every lottery message names its kind and
// version, so one gossip topic can carry both and a future version can be
// told apart.
const (
	kindClaim  byte = 0x01 // Claim, version 1
	kindReveal byte = 0x02 // Reveal, version 1
)

// MixKeySize is the length of an X25519 public key.
const MixKeySize = 32

// ClaimSize is the length of an encoded claim. The encoding is fixed-length:
//
//	offset size  field
//	     0    1  kind 0x01 (claim, version 1)
//	     1    8  epoch, big-endian
//	     9   32  seed of the epoch
//	    41    1  layer
//	    42    8  seats, big-endian
//	    50   32  claimant's Ed25519 public key
//	    82   80  VRF proof (ECVRF-EDWARDS25519-SHA512-TAI)
//	   162   32  X25519 mix public key
//	   194   64  Ed25519 signature
//
// The signature is over "fog/lottery/claim-signature/v1" || len(NetworkID) ||
// NetworkID || bytes 0..193 of the encoding.
const ClaimSize = 1 + 8 + SeedSize + 1 + 8 + ed25519.PublicKeySize + vrf.ProofSize + MixKeySize + ed25519.SignatureSize

const claimSignedSize = ClaimSize - ed25519.SignatureSize

// Claim is a winner's announcement that it holds Seats seats of the relay
// lottery of Epoch, serves mix layer Layer, and will accept onion packets for
// the epoch under MixKey. Anyone can check it with Verify: the VRF proof
// shows the seats and layer were drawn with the claimant's key over the
// epoch's seed, and the signature binds the mix key (and every other field)
// to the claimant's identity.
type Claim struct {
	Epoch     uint64            // epoch the seats are for
	Seed      Seed              // the claimant's seed for Epoch
	Layer     int               // mix layer in [0, Config.Layers)
	Seats     uint64            // seats won, at least 1
	Claimant  ed25519.PublicKey // identity key (a libp2p Ed25519 key's Raw bytes)
	Proof     []byte            // VRF proof over the epoch's ticket input
	MixKey    *ecdh.PublicKey   // X25519 key for the epoch's onion packets
	Signature []byte            // by Claimant over everything above
}

// NewClaim draws sk's ticket for epoch e with seed: it proves the VRF input
// (domain, network ID, epoch, seed), computes the seats that weight wins with
// probability p (Seats) and, if there is at least one, the layer (Layer),
// generates a fresh X25519 mix key from 32 bytes of rnd (crypto/rand when rnd
// is nil) and signs the claim with sk. It returns won = false, and no claim
// or key, when the ticket wins no seat.
//
// A node must keep the returned claim (and mix key) and publish that same
// claim again after a restart: a second claim for the same epoch with
// another mix key is equivocation and gets the node excluded for the epoch.
func NewClaim(sk ed25519.PrivateKey, e uint64, seed Seed, weight uint64, p float64, cfg Config, rnd io.Reader) (claim *Claim, mixKey *ecdh.PrivateKey, won bool, err error) {
	if err := cfg.Validate(); err != nil {
		return nil, nil, false, err
	}
	pi, err := vrf.Prove(sk, ticketAlpha(cfg, e, seed))
	if err != nil {
		return nil, nil, false, fmt.Errorf("lottery: proving ticket: %w", err)
	}
	beta, err := vrf.ProofToHash(pi)
	if err != nil {
		return nil, nil, false, fmt.Errorf("lottery: proving ticket: %w", err)
	}
	seats := Seats(beta, weight, p)
	if seats == 0 {
		return nil, nil, false, nil
	}
	if rnd == nil {
		rnd = rand.Reader
	}
	var scalar [32]byte
	if _, err := io.ReadFull(rnd, scalar[:]); err != nil {
		return nil, nil, false, fmt.Errorf("lottery: mix key: %w", err)
	}
	mixKey, err = ecdh.X25519().NewPrivateKey(scalar[:])
	clear(scalar[:])
	if err != nil {
		return nil, nil, false, fmt.Errorf("lottery: mix key: %w", err)
	}
	c := &Claim{
		Epoch:    e,
		Seed:     seed,
		Layer:    Layer(beta, cfg.Layers),
		Seats:    seats,
		Claimant: bytes.Clone(sk[ed25519.SeedSize:]),
		Proof:    pi,
		MixKey:   mixKey.PublicKey(),
	}
	if err := c.Sign(sk, cfg); err != nil {
		return nil, nil, false, err
	}
	return c, mixKey, true, nil
}

// Sign sets c.Signature to sk's signature over c. NewClaim calls it; it is
// exported for tools and tests that build claims field by field.
func (c *Claim) Sign(sk ed25519.PrivateKey, cfg Config) error {
	if len(sk) != ed25519.PrivateKeySize {
		return fmt.Errorf("lottery: signing claim: %w: length %d", vrf.ErrInvalidPrivateKey, len(sk))
	}
	c.Signature = make([]byte, ed25519.SignatureSize)
	enc, err := c.Encode()
	if err != nil {
		return err
	}
	c.Signature = ed25519.Sign(sk, claimSigMessage(cfg, enc))
	return nil
}

// claimSigMessage is what a claim's signature covers.
func claimSigMessage(cfg Config, enc []byte) []byte {
	m := make([]byte, 0, len(claimSigDomain)+1+len(cfg.NetworkID)+claimSignedSize)
	m = append(m, claimSigDomain...)
	m = appendNetwork(m, cfg)
	return append(m, enc[:claimSignedSize]...)
}

// Encode returns the ClaimSize-byte encoding of c. It fails with ErrMalformed
// if a field has the wrong size or the layer does not fit a byte.
func (c *Claim) Encode() ([]byte, error) {
	switch {
	case c.Layer < 0 || c.Layer > MaxLayers:
		return nil, fmt.Errorf("%w: claim layer %d", ErrMalformed, c.Layer)
	case len(c.Claimant) != ed25519.PublicKeySize:
		return nil, fmt.Errorf("%w: claimant key has %d bytes", ErrMalformed, len(c.Claimant))
	case len(c.Proof) != vrf.ProofSize:
		return nil, fmt.Errorf("%w: proof has %d bytes", ErrMalformed, len(c.Proof))
	case c.MixKey == nil || c.MixKey.Curve() != ecdh.X25519():
		return nil, fmt.Errorf("%w: mix key is not an X25519 key", ErrMalformed)
	case len(c.Signature) != ed25519.SignatureSize:
		return nil, fmt.Errorf("%w: signature has %d bytes", ErrMalformed, len(c.Signature))
	}
	b := make([]byte, 0, ClaimSize)
	b = append(b, kindClaim)
	b = binary.BigEndian.AppendUint64(b, c.Epoch)
	b = append(b, c.Seed[:]...)
	b = append(b, byte(c.Layer))
	b = binary.BigEndian.AppendUint64(b, c.Seats)
	b = append(b, c.Claimant...)
	b = append(b, c.Proof...)
	b = append(b, c.MixKey.Bytes()...)
	b = append(b, c.Signature...)
	return b, nil
}

// DecodeClaim parses a claim encoded by Encode. It checks the structure only
// (exact length, kind byte) and rejects anything else with an error wrapping
// ErrMalformed; it never panics. Use Verify to check the content. The claim
// does not alias b.
func DecodeClaim(b []byte) (*Claim, error) {
	if len(b) != ClaimSize {
		return nil, fmt.Errorf("%w: claim has %d bytes, want %d", ErrMalformed, len(b), ClaimSize)
	}
	if b[0] != kindClaim {
		return nil, fmt.Errorf("%w: kind 0x%02x is not a claim", ErrMalformed, b[0])
	}
	c := &Claim{}
	off := 1
	next := func(n int) []byte {
		f := b[off : off+n]
		off += n
		return f
	}
	c.Epoch = binary.BigEndian.Uint64(next(8))
	copy(c.Seed[:], next(SeedSize))
	c.Layer = int(next(1)[0])
	c.Seats = binary.BigEndian.Uint64(next(8))
	c.Claimant = bytes.Clone(next(ed25519.PublicKeySize))
	c.Proof = bytes.Clone(next(vrf.ProofSize))
	mk, err := ecdh.X25519().NewPublicKey(next(MixKeySize))
	if err != nil {
		return nil, fmt.Errorf("%w: mix key: %v", ErrMalformed, err)
	}
	c.MixKey = mk
	c.Signature = bytes.Clone(next(ed25519.SignatureSize))
	return c, nil
}

// Verify checks c as a claim for epoch e with seed: the epoch and seed
// match, the claimant has weight in e according to stake, the mix key is not
// of small order, the signature by the claimant covers the claim, the VRF
// proof verifies for the claimant's key over e's ticket input, and the seats
// and layer are the ones the VRF output draws with probability
// Probability(TargetRelays(cfg, stake, e), stake.TotalWeight(e)). Cheap checks run
// first. The error wraps ErrWrongEpoch, ErrWrongSeed, ErrMalformed,
// ErrLayer, ErrSeats, ErrNotCandidate, ErrBadMixKey, ErrBadSignature or
// ErrBadProof.
func (c *Claim) Verify(cfg Config, e uint64, seed Seed, stake StakeOracle) error {
	if c.Epoch != e {
		return fmt.Errorf("%w: claim for epoch %d, checking epoch %d", ErrWrongEpoch, c.Epoch, e)
	}
	if c.Seed != seed {
		return fmt.Errorf("%w: claim seed %s, epoch %d has %s", ErrWrongSeed, c.Seed, e, seed)
	}
	enc, err := c.Encode()
	if err != nil {
		return err
	}
	if c.Layer >= cfg.Layers {
		return fmt.Errorf("%w: layer %d of %d", ErrLayer, c.Layer, cfg.Layers)
	}
	if c.Seats == 0 {
		return fmt.Errorf("%w: claim of zero seats", ErrSeats)
	}
	weight := stake.Weight(e, c.Claimant)
	if weight == 0 {
		return fmt.Errorf("%w: %x has no weight in epoch %d", ErrNotCandidate, []byte(c.Claimant), e)
	}
	if isLowOrderX25519(c.MixKey.Bytes()) {
		return fmt.Errorf("%w: %x is of small order", ErrBadMixKey, c.MixKey.Bytes())
	}
	if !ed25519.Verify(c.Claimant, claimSigMessage(cfg, enc), c.Signature) {
		return fmt.Errorf("%w: claim by %x", ErrBadSignature, []byte(c.Claimant))
	}
	beta, err := vrf.Verify(c.Claimant, ticketAlpha(cfg, e, seed), c.Proof)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrBadProof, err)
	}
	p := Probability(TargetRelays(cfg, stake, e), stake.TotalWeight(e))
	if want := Seats(beta, weight, p); c.Seats != want {
		return fmt.Errorf("%w: claims %d, ticket wins %d", ErrSeats, c.Seats, want)
	}
	if want := Layer(beta, cfg.Layers); c.Layer != want {
		return fmt.Errorf("%w: claims layer %d, ticket draws %d", ErrLayer, c.Layer, want)
	}
	return nil
}

// lowOrderU lists the u-coordinates, reduced modulo p = 2^255-19, of the
// points of order dividing 8 on Curve25519 and its twist that X25519 maps to
// zero for every scalar: 0, 1, p-1 and the two points of order 8 (RFC 7748
// Section 6.1 asks implementations to be able to reject them).
var lowOrderU = func() []*big.Int {
	order8 := []string{
		// Little-endian encodings, as on the wire.
		"e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",
		"5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157",
	}
	out := []*big.Int{big.NewInt(0), big.NewInt(1), new(big.Int).Sub(p25519, big.NewInt(1))}
	for _, h := range order8 {
		out = append(out, leInt(mustHex(h)))
	}
	return out
}()

// isLowOrderX25519 reports whether the 32-byte X25519 public key u is one of
// the small-order points, in any encoding: X25519 ignores the top bit and
// reduces u modulo p, and so does this check.
func isLowOrderX25519(u []byte) bool {
	var b [32]byte
	copy(b[:], u)
	b[31] &= 0x7f
	n := leInt(b[:])
	if n.Cmp(p25519) >= 0 {
		n.Sub(n, p25519)
	}
	for _, lo := range lowOrderU {
		if n.Cmp(lo) == 0 {
			return true
		}
	}
	return false
}

// p25519 is the field prime 2^255-19; read-only.
var p25519 = new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 255), big.NewInt(19))

// leInt reads b as a little-endian unsigned integer.
func leInt(b []byte) *big.Int {
	be := make([]byte, len(b))
	for i, x := range b {
		be[len(b)-1-i] = x
	}
	return new(big.Int).SetBytes(be)
}

func mustHex(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic("lottery: bad hex constant: " + err.Error()) // constants only
	}
	return b
}
