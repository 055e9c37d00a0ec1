package vrf

import (
	"crypto/ed25519"
	"crypto/sha512"
	"crypto/subtle"
	"errors"
	"fmt"

	"filippo.io/edwards25519"
)

const (
	// ProofSize is the length in bytes of a proof pi: the encoded point Gamma
	// (32 bytes), the challenge c (16 bytes) and the scalar s (32 bytes).
	ProofSize = ptLen + cLen + qLen

	// OutputSize is the length in bytes of a VRF output beta (one SHA-512
	// digest).
	OutputSize = sha512.Size
)

// Parameters of ECVRF-EDWARDS25519-SHA512-TAI (RFC 9381, Section 5.5).
const (
	suiteString = 0x03 // suite_string of ECVRF-EDWARDS25519-SHA512-TAI
	ptLen       = 32   // length of an encoded point
	cLen        = 16   // length of the challenge c
	qLen        = 32   // length of an encoded scalar

	// Domain separators (RFC 9381, Sections 5.2, 5.4.1.1 and 5.4.3).
	dsEncodeFront    = 0x01
	dsChallengeFront = 0x02
	dsHashFront      = 0x03
	dsBack           = 0x00

	// maxTries bounds try-and-increment: ctr is a single octet.
	maxTries = 256
)

var (
	// ErrInvalidPrivateKey is returned by Prove for a private key that is not
	// an ed25519.PrivateKey of ed25519.PrivateKeySize bytes.
	ErrInvalidPrivateKey = errors.New("vrf: invalid private key")

	// ErrInvalidPublicKey is returned by Verify for a public key that is not
	// ed25519.PublicKeySize bytes, is not the canonical encoding of a curve
	// point, or is a point of small order.
	ErrInvalidPublicKey = errors.New("vrf: invalid public key")

	// ErrInvalidProof is returned by Verify and ProofToHash for a proof that
	// is malformed (wrong length, Gamma not a canonical point encoding,
	// s not below the group order) and by Verify for a well-formed proof that
	// does not verify for the given public key and alpha.
	ErrInvalidProof = errors.New("vrf: invalid proof")

	// errEncodeToCurve is the failure of try-and-increment after 256 attempts,
	// which happens with probability about 2^-256.
	errEncodeToCurve = errors.New("vrf: encode_to_curve found no point in 256 attempts")
)

// Prove computes the RFC 9381 proof pi (ProofSize bytes) that beta =
// ProofToHash(pi) is the VRF output of sk on input alpha. It is
// deterministic: the same key and alpha always give the same proof.
//
// The secret scalar and nonce prefix come from the seed (sk.Seed()); the
// public key is the one cached in sk, as with ed25519.Sign. Only
// constant-time curve and scalar operations touch secret values.
func Prove(sk ed25519.PrivateKey, alpha []byte) (pi []byte, err error) {
	if len(sk) != ed25519.PrivateKeySize {
		return nil, fmt.Errorf("%w: length %d, want %d", ErrInvalidPrivateKey, len(sk), ed25519.PrivateKeySize)
	}
	seed, pk := sk[:ed25519.SeedSize], sk[ed25519.SeedSize:]

	// RFC 8032, Section 5.1.5: x is the clamped first half of SHA-512(seed);
	// the second half is the nonce prefix (RFC 9381, Section 5.4.2.2).
	expanded := sha512.Sum512(seed)
	defer clear(expanded[:])
	x, err := new(edwards25519.Scalar).SetBytesWithClamping(expanded[:32])
	if err != nil {
		return nil, fmt.Errorf("vrf: deriving secret scalar: %w", err)
	}
	defer x.Set(edwards25519.NewScalar())

	h, hString, err := encodeToCurve(pk, alpha)
	if err != nil {
		return nil, err
	}

	// Gamma = x*H.
	gamma := new(edwards25519.Point).ScalarMult(x, h)

	// k = SHA-512(prefix || h_string) mod L.
	var nonceInput [64]byte
	copy(nonceInput[:32], expanded[32:])
	copy(nonceInput[32:], hString[:])
	kString := sha512.Sum512(nonceInput[:])
	defer clear(kString[:])
	defer clear(nonceInput[:])
	k, err := new(edwards25519.Scalar).SetUniformBytes(kString[:])
	if err != nil {
		return nil, fmt.Errorf("vrf: deriving nonce: %w", err)
	}
	defer k.Set(edwards25519.NewScalar())

	// c = challenge(Y, H, Gamma, k*B, k*H).
	u := new(edwards25519.Point).ScalarBaseMult(k)
	v := new(edwards25519.Point).ScalarMult(k, h)
	pi = make([]byte, ProofSize)
	gammaString := gamma.Bytes()
	copy(pi[:ptLen], gammaString)
	var uString, vString [ptLen]byte
	copy(uString[:], u.Bytes())
	copy(vString[:], v.Bytes())
	cString := challenge(pk, hString[:], gammaString, uString[:], vString[:])
	c := challengeScalar(&cString)

	// s = (k + c*x) mod L.
	s := new(edwards25519.Scalar).MultiplyAdd(c, x, k)
	copy(pi[ptLen:ptLen+cLen], cString[:])
	copy(pi[ptLen+cLen:], s.Bytes())
	return pi, nil
}

// Verify checks that pi is a valid proof for public key pk and input alpha
// and, if it is, returns the VRF output beta (OutputSize bytes), equal to
// ProofToHash(pi). It validates the key as RFC 9381 does with validate_key =
// TRUE.
//
// Errors wrap ErrInvalidPublicKey when pk is rejected and ErrInvalidProof
// when pi is malformed or does not verify.
func Verify(pk ed25519.PublicKey, alpha, pi []byte) (beta []byte, err error) {
	// Key validation (RFC 9381, Section 5.4.5).
	if len(pk) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("%w: length %d, want %d", ErrInvalidPublicKey, len(pk), ed25519.PublicKeySize)
	}
	y, ok := decodePoint(pk)
	if !ok {
		return nil, fmt.Errorf("%w: not the canonical encoding of a curve point", ErrInvalidPublicKey)
	}
	if isSmallOrder(y) {
		return nil, fmt.Errorf("%w: point of small order", ErrInvalidPublicKey)
	}

	gamma, c, s, err := decodeProof(pi)
	if err != nil {
		return nil, err
	}

	h, hString, err := encodeToCurve(pk, alpha)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidProof, err)
	}

	// U = s*B - c*Y and V = s*H - c*Gamma, computed as s*B + c*(-Y) and
	// s*H + c*(-Gamma) with the variable-time double-scalar multiplications
	// (each one pass of shared doublings instead of two scalar
	// multiplications and a subtraction). All inputs here are public.
	negY := new(edwards25519.Point).Negate(y)
	negGamma := new(edwards25519.Point).Negate(gamma)
	u := new(edwards25519.Point).VarTimeDoubleScalarBaseMult(c, negY, s)
	v := new(edwards25519.Point).VarTimeMultiScalarMult(
		[]*edwards25519.Scalar{s, c}, []*edwards25519.Point{h, negGamma})
	var uString, vString [ptLen]byte
	copy(uString[:], u.Bytes())
	copy(vString[:], v.Bytes())
	cPrime := challenge(pk, hString[:], pi[:ptLen], uString[:], vString[:])
	if subtle.ConstantTimeCompare(cPrime[:], pi[ptLen:ptLen+cLen]) != 1 {
		return nil, fmt.Errorf("%w: challenge mismatch", ErrInvalidProof)
	}
	return gammaToHash(gamma), nil
}

// ProofToHash returns the VRF output beta (OutputSize bytes) of proof pi
// (RFC 9381, Section 5.2). It rejects malformed proofs but does not check pi
// against any key or input: use it only on proofs already verified with
// Verify, or produced by Prove. Errors wrap ErrInvalidProof.
func ProofToHash(pi []byte) (beta []byte, err error) {
	gamma, _, _, err := decodeProof(pi)
	if err != nil {
		return nil, err
	}
	return gammaToHash(gamma), nil
}

// decodeProof splits pi into (Gamma, c, s) as RFC 9381, Section 5.4.4 says,
// rejecting a wrong length, a non-canonical or invalid Gamma, and s >= L.
func decodeProof(pi []byte) (gamma *edwards25519.Point, c, s *edwards25519.Scalar, err error) {
	if len(pi) != ProofSize {
		return nil, nil, nil, fmt.Errorf("%w: length %d, want %d", ErrInvalidProof, len(pi), ProofSize)
	}
	gamma, ok := decodePoint(pi[:ptLen])
	if !ok {
		return nil, nil, nil, fmt.Errorf("%w: Gamma is not the canonical encoding of a curve point", ErrInvalidProof)
	}
	var cString [cLen]byte
	copy(cString[:], pi[ptLen:ptLen+cLen])
	c = challengeScalar(&cString)
	s, err = new(edwards25519.Scalar).SetCanonicalBytes(pi[ptLen+cLen:])
	if err != nil {
		return nil, nil, nil, fmt.Errorf("%w: s is not below the group order", ErrInvalidProof)
	}
	return gamma, c, s, nil
}

// gammaToHash computes beta = SHA-512(suite || 0x03 || 8*Gamma || 0x00).
func gammaToHash(gamma *edwards25519.Point) []byte {
	var in [2 + ptLen + 1]byte
	in[0], in[1] = suiteString, dsHashFront
	copy(in[2:2+ptLen], new(edwards25519.Point).MultByCofactor(gamma).Bytes())
	in[2+ptLen] = dsBack
	sum := sha512.Sum512(in[:])
	return sum[:]
}

// encodeToCurve is ECVRF_encode_to_curve_try_and_increment (RFC 9381,
// Section 5.4.1.1) with encode_to_curve_salt = PK_string: it hashes
// suite || 0x01 || salt || alpha || ctr || 0x00 for ctr = 0, 1, ... until the
// first 32 bytes of the digest decode to a point whose cofactor multiple is
// not the identity, and returns that multiple and its encoding. It runs in
// time that depends on salt and alpha, which are public.
func encodeToCurve(salt, alpha []byte) (*edwards25519.Point, [ptLen]byte, error) {
	var hString [ptLen]byte
	hasher := sha512.New()
	var digest [sha512.Size]byte
	prefix := [2]byte{suiteString, dsEncodeFront}
	for ctr := range maxTries {
		hasher.Reset()
		hasher.Write(prefix[:])
		hasher.Write(salt)
		hasher.Write(alpha)
		suffix := [2]byte{byte(ctr), dsBack}
		hasher.Write(suffix[:])
		hasher.Sum(digest[:0])
		p, ok := decodePoint(digest[:ptLen])
		if !ok {
			continue
		}
		p.MultByCofactor(p)
		if p.Equal(edwards25519.NewIdentityPoint()) == 1 {
			continue
		}
		copy(hString[:], p.Bytes())
		return p, hString, nil
	}
	return nil, hString, errEncodeToCurve
}

// challenge is ECVRF_challenge_generation (RFC 9381, Section 5.4.3) over five
// encoded points: the first cLen bytes of
// SHA-512(suite || 0x02 || P1 || ... || P5 || 0x00).
func challenge(p1, p2, p3, p4, p5 []byte) [cLen]byte {
	var in [2 + 5*ptLen + 1]byte
	in[0], in[1] = suiteString, dsChallengeFront
	off := 2
	for _, p := range [...][]byte{p1, p2, p3, p4, p5} {
		off += copy(in[off:off+ptLen], p)
	}
	in[off] = dsBack
	sum := sha512.Sum512(in[:])
	var c [cLen]byte
	copy(c[:], sum[:cLen])
	return c
}

// challengeScalar interprets a 16-byte little-endian challenge as a scalar.
// It is always below the group order, so no reduction happens.
func challengeScalar(cString *[cLen]byte) *edwards25519.Scalar {
	var wide [qLen]byte
	copy(wide[:], cString[:])
	c, err := new(edwards25519.Scalar).SetCanonicalBytes(wide[:])
	if err != nil {
		// Unreachable: any value below 2^128 is a canonical scalar.
		return edwards25519.NewScalar()
	}
	return c
}

// decodePoint is string_to_point for this suite: the decoding of RFC 8032,
// Section 5.1.3, which (unlike edwards25519.Point.SetBytes) rejects a
// y-coordinate that is not reduced modulo p and a set sign bit on x = 0.
func decodePoint(b []byte) (*edwards25519.Point, bool) {
	if len(b) != ptLen || !isCanonicalPointEncoding(b) {
		return nil, false
	}
	p, err := new(edwards25519.Point).SetBytes(b)
	if err != nil {
		return nil, false
	}
	return p, true
}

// isCanonicalPointEncoding reports whether a 32-byte string passes the
// canonicity checks of RFC 8032, Section 5.1.3, that SetBytes skips: the
// 255-bit y must be below p = 2^255 - 19, and the sign bit must be clear when
// x = 0, which happens exactly for y = 1 and y = p - 1. It inspects public
// data only.
func isCanonicalPointEncoding(b []byte) bool {
	// p - 1 in little-endian order is ec ff ff ... ff 7f. y >= p exactly
	// when the top byte (sign bit cleared) is 0x7f, the middle bytes are
	// all 0xff and the low byte is at least 0xed.
	top := b[31] & 0x7f
	middleAllOnes, middleAllZero := true, true
	for _, x := range b[1:31] {
		middleAllOnes = middleAllOnes && x == 0xff
		middleAllZero = middleAllZero && x == 0x00
	}
	if top == 0x7f && middleAllOnes && b[0] >= 0xed {
		return false // y >= p
	}
	if b[31]&0x80 == 0 {
		return true
	}
	isOne := top == 0x00 && middleAllZero && b[0] == 0x01
	isMinusOne := top == 0x7f && middleAllOnes && b[0] == 0xec
	return !isOne && !isMinusOne // sign bit set on x = 0
}

// isSmallOrder reports whether 8*p is the identity, that is, whether p is one
// of the eight points of order dividing 8.
func isSmallOrder(p *edwards25519.Point) bool {
	return new(edwards25519.Point).MultByCofactor(p).Equal(edwards25519.NewIdentityPoint()) == 1
}
