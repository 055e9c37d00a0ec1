package vrf

// Cost model. Each line lists the primitives one call needs; the *Floor
// benchmarks run exactly that sequence on precomputed inputs with no glue,
// so Prove/ProveFloor and Verify/VerifyFloor are the overhead ratios, and
// the single-primitive benchmarks show where the time goes.
//
//	Prove  = SHA-512(seed)                      derive x and the nonce prefix
//	       + encode_to_curve                    ~2 x (SHA-512 + decode) + 8*P + encode H
//	       + ScalarMult(x, H)                   Gamma, constant time
//	       + SHA-512(prefix || H)               nonce k
//	       + ScalarBaseMult(k) + ScalarMult(k, H)   U = k*B, V = k*H, constant time
//	       + 3 x encode (Gamma, U, V)
//	       + SHA-512(challenge input)           163 bytes
//	       + Scalar.MultiplyAdd                 s = k + c*x
//
//	Verify = decode(Y) + 8*Y                    key validation
//	       + decode(Gamma)                      proof decoding (s < L is a compare)
//	       + encode_to_curve
//	       + VarTimeDoubleScalarBaseMult        U = s*B + c*(-Y)
//	       + VarTimeMultiScalarMult (2 points)  V = s*H + c*(-Gamma)
//	       + 2 x encode (U, V)
//	       + SHA-512(challenge input)
//	       + 8*Gamma + encode + SHA-512         beta (only for a valid proof)
//
// The public key and Gamma are never re-encoded: their input bytes, already
// checked canonical, go into the hashes as they are.

import (
	"crypto/ed25519"
	"crypto/sha512"
	"fmt"
	"testing"

	"filippo.io/edwards25519"
)

// benchAlphas are cycled through so that encode_to_curve's number of
// attempts (1 with probability 1/2, 2 with 1/4, ...) averages out the same way
// in every benchmark that uses it.
var benchAlphas = func() [][]byte {
	a := make([][]byte, 256)
	for i := range a {
		a[i] = fmt.Appendf(nil, "fog relay lottery epoch %d", i)
	}
	return a
}()

type benchFixture struct {
	sk      ed25519.PrivateKey
	pk      ed25519.PublicKey
	proofs  [][]byte
	x, k, c *edwards25519.Scalar
	s       *edwards25519.Scalar
	y, h, g *edwards25519.Point
	yBytes  []byte
	gBytes  []byte
	seed    []byte
	nonceIn [64]byte
	challIn [2 + 5*ptLen + 1]byte
}

func newBenchFixture(b *testing.B) *benchFixture {
	b.Helper()
	f := &benchFixture{}
	f.seed = make([]byte, ed25519.SeedSize)
	for i := range f.seed {
		f.seed[i] = byte(i*7 + 1)
	}
	f.sk = ed25519.NewKeyFromSeed(f.seed)
	f.pk = f.sk.Public().(ed25519.PublicKey)
	for _, alpha := range benchAlphas {
		pi, err := Prove(f.sk, alpha)
		if err != nil {
			b.Fatal(err)
		}
		f.proofs = append(f.proofs, pi)
	}
	expanded := sha512.Sum512(f.seed)
	f.x, _ = edwards25519.NewScalar().SetBytesWithClamping(expanded[:32])
	var err error
	f.h, _, err = encodeToCurve(f.pk, benchAlphas[0])
	if err != nil {
		b.Fatal(err)
	}
	kString := sha512.Sum512(expanded[32:])
	f.k, err = edwards25519.NewScalar().SetUniformBytes(kString[:])
	if err != nil {
		b.Fatal(err)
	}
	var cs [cLen]byte
	copy(cs[:], expanded[:cLen])
	f.c = challengeScalar(&cs)
	f.s = edwards25519.NewScalar().MultiplyAdd(f.c, f.x, f.k)
	f.y, _ = decodePoint(f.pk)
	f.g = new(edwards25519.Point).ScalarMult(f.x, f.h)
	f.yBytes = f.pk
	f.gBytes = f.g.Bytes()
	return f
}

func reportRate(b *testing.B, unit string) {
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), unit)
}

func BenchmarkProve(b *testing.B) {
	f := newBenchFixture(b)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := Prove(f.sk, benchAlphas[i%len(benchAlphas)]); err != nil {
			b.Fatal(err)
		}
		i++
	}
	reportRate(b, "proofs/s")
}

func BenchmarkVerify(b *testing.B) {
	f := newBenchFixture(b)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		j := i % len(benchAlphas)
		if _, err := Verify(f.pk, benchAlphas[j], f.proofs[j]); err != nil {
			b.Fatal(err)
		}
		i++
	}
	reportRate(b, "verifies/s")
}

// BenchmarkVerifyReject measures a proof that is well formed but wrong (the
// common attack): everything but beta.
func BenchmarkVerifyReject(b *testing.B) {
	f := newBenchFixture(b)
	i := 0
	for b.Loop() {
		j := i % len(benchAlphas)
		if _, err := Verify(f.pk, benchAlphas[j], f.proofs[(j+1)%len(f.proofs)]); err == nil {
			b.Fatal("accepted")
		}
		i++
	}
}

func BenchmarkProofToHash(b *testing.B) {
	f := newBenchFixture(b)
	for b.Loop() {
		if _, err := ProofToHash(f.proofs[0]); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkProveFloor runs the primitives of the Prove cost model back to
// back, without Prove's glue (allocation of the proof, copies, scalar
// conversion of c).
func BenchmarkProveFloor(b *testing.B) {
	f := newBenchFixture(b)
	var sink byte
	i := 0
	for b.Loop() {
		alpha := benchAlphas[i%len(benchAlphas)]
		i++
		expanded := sha512.Sum512(f.seed)
		sink ^= expanded[0]
		h, hs, _ := encodeToCurve(f.pk, alpha)
		g := new(edwards25519.Point).ScalarMult(f.x, h)
		sink ^= sha512.Sum512(f.nonceIn[:])[0] ^ hs[0]
		u := new(edwards25519.Point).ScalarBaseMult(f.k)
		v := new(edwards25519.Point).ScalarMult(f.k, h)
		sink ^= g.Bytes()[0] ^ u.Bytes()[0] ^ v.Bytes()[0]
		sink ^= sha512.Sum512(f.challIn[:])[0]
		sink ^= edwards25519.NewScalar().MultiplyAdd(f.c, f.x, f.k).Bytes()[0]
	}
	_ = sink
	reportRate(b, "proofs/s")
}

// BenchmarkVerifyFloor runs the primitives of the Verify cost model back to
// back, without Verify's glue.
func BenchmarkVerifyFloor(b *testing.B) {
	f := newBenchFixture(b)
	var sink byte
	i := 0
	for b.Loop() {
		alpha := benchAlphas[i%len(benchAlphas)]
		i++
		y, _ := new(edwards25519.Point).SetBytes(f.yBytes)
		sink ^= byte(new(edwards25519.Point).MultByCofactor(y).Equal(edwards25519.NewIdentityPoint()))
		g, _ := new(edwards25519.Point).SetBytes(f.gBytes)
		h, hs, _ := encodeToCurve(f.pk, alpha)
		sink ^= hs[0]
		u := new(edwards25519.Point).VarTimeDoubleScalarBaseMult(f.c, y, f.s)
		v := new(edwards25519.Point).VarTimeMultiScalarMult(
			[]*edwards25519.Scalar{f.s, f.c}, []*edwards25519.Point{h, g})
		sink ^= u.Bytes()[0] ^ v.Bytes()[0]
		sink ^= sha512.Sum512(f.challIn[:])[0]
		in := [35]byte{}
		copy(in[2:], new(edwards25519.Point).MultByCofactor(g).Bytes())
		sink ^= sha512.Sum512(in[:])[0]
	}
	_ = sink
	reportRate(b, "verifies/s")
}

// Single primitives.

func BenchmarkScalarBaseMult(b *testing.B) {
	f := newBenchFixture(b)
	p := new(edwards25519.Point)
	for b.Loop() {
		p.ScalarBaseMult(f.k)
	}
}

func BenchmarkScalarMult(b *testing.B) {
	f := newBenchFixture(b)
	p := new(edwards25519.Point)
	for b.Loop() {
		p.ScalarMult(f.k, f.h)
	}
}

func BenchmarkVarTimeDoubleScalarBaseMult(b *testing.B) {
	f := newBenchFixture(b)
	p := new(edwards25519.Point)
	for b.Loop() {
		p.VarTimeDoubleScalarBaseMult(f.c, f.y, f.s)
	}
}

func BenchmarkVarTimeMultiScalarMult2(b *testing.B) {
	f := newBenchFixture(b)
	p := new(edwards25519.Point)
	scalars := []*edwards25519.Scalar{f.s, f.c}
	points := []*edwards25519.Point{f.h, f.g}
	for b.Loop() {
		p.VarTimeMultiScalarMult(scalars, points)
	}
}

func BenchmarkEncodeToCurve(b *testing.B) {
	f := newBenchFixture(b)
	i := 0
	for b.Loop() {
		if _, _, err := encodeToCurve(f.pk, benchAlphas[i%len(benchAlphas)]); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkPointDecode is string_to_point: the canonicity check plus
// SetBytes (a square root).
func BenchmarkPointDecode(b *testing.B) {
	f := newBenchFixture(b)
	for b.Loop() {
		if _, ok := decodePoint(f.gBytes); !ok {
			b.Fatal("decode")
		}
	}
}

// BenchmarkPointEncode is point_to_string: one field inversion.
func BenchmarkPointEncode(b *testing.B) {
	f := newBenchFixture(b)
	var sink byte
	for b.Loop() {
		sink ^= f.g.Bytes()[0]
	}
	_ = sink
}

func BenchmarkMultByCofactor(b *testing.B) {
	f := newBenchFixture(b)
	p := new(edwards25519.Point)
	for b.Loop() {
		p.MultByCofactor(f.g)
	}
}

// BenchmarkSHA512 hashes the 163-byte challenge input (two blocks); the
// seed, nonce, beta and encode_to_curve inputs are one block each.
func BenchmarkSHA512(b *testing.B) {
	f := newBenchFixture(b)
	var sink byte
	for b.Loop() {
		sink ^= sha512.Sum512(f.challIn[:])[0]
	}
	_ = sink
}

func BenchmarkSHA512OneBlock(b *testing.B) {
	f := newBenchFixture(b)
	var sink byte
	for b.Loop() {
		sink ^= sha512.Sum512(f.nonceIn[:])[0]
	}
	_ = sink
}
