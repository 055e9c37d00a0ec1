package vrf

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha512"
	"encoding/hex"
	"fmt"
	"math/big"
	"math/rand/v2"
	"slices"
	"testing"

	"filippo.io/edwards25519"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// rfcVector is one example of RFC 9381, Appendix B.3
// (ECVRF-EDWARDS25519-SHA512-TAI), with the intermediate values it lists.
type rfcVector struct {
	name  string
	sk    string // 32-byte seed
	pk    string
	alpha string
	x     string // clamped secret scalar, before reduction mod L
	ctr   int    // try_and_increment counter that produced H
	h     string // encode_to_curve output
	k     string // 64-byte nonce hash, before reduction mod L
	u     string // k*B
	v     string // k*H
	pi    string
	beta  string
}

var rfcVectors = []rfcVector{
	{
		name:  "Example16",
		sk:    "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
		pk:    "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
		alpha: "",
		x:     "307c83864f2833cb427a2ef1c00a013cfdff2768d980c0a3a520f006904de94f",
		ctr:   0,
		h:     "91bbed02a99461df1ad4c6564a5f5d829d0b90cfc7903e7a5797bd658abf3318",
		k: "7100f3d9eadb6dc4743b029736ff283f5be494128df128df2817106f345b8594" +
			"b6d6da2d6fb0b4c0257eb337675d96eab49cf39e66cc2c9547c2bf8b2a6afae4",
		u: "aef27c725be964c6a9bf4c45ca8e35df258c1878b838f37d9975523f09034071",
		v: "5016572f71466c646c119443455d6cb9b952f07d060ec8286d678615d55f954f",
		pi: "8657106690b5526245a92b003bb079ccd1a92130477671f6fc01ad16f26f723f" +
			"26f8a57ccaed74ee1b190bed1f479d97" +
			"27d2d0f9b005a6e456a35d4fb0daab1268a1b0db10836d9826a528ca76567805",
		beta: "90cf1df3b703cce59e2a35b925d411164068269d7b2d29f3301c03dd757876ff" +
			"66b71dda49d2de59d03450451af026798e8f81cd2e333de5cdf4f3e140fdd8ae",
	},
	{
		name:  "Example17",
		sk:    "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
		pk:    "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
		alpha: "72",
		x:     "68bd9ed75882d52815a97585caf4790a7f6c6b3b7f821c5e259a24b02e502e51",
		ctr:   1,
		h:     "5b659fc3d4e9263fd9a4ed1d022d75eaacc20df5e09f9ea937502396598dc551",
		k: "42589bbf0c485c3c91c1621bb4bfe04aed7be76ee48f9b00793b2342acb9c167" +
			"cab856f9f9d4febc311330c20b0a8afd3743d05433e8be8d32522ecdc16cc5ce",
		u: "1dcb0a4821a2c48bf53548228b7f170962988f6d12f5439f31987ef41f034ab3",
		v: "fd03c0bf498c752161bae4719105a074630a2aa5f200ff7b3995f7bfb1513423",
		pi: "f3141cd382dc42909d19ec5110469e4feae18300e94f304590abdced48aed593" +
			"3bf0864a62558b3ed7f2fea45c92a465" +
			"301b3bbf5e3e54ddf2d935be3b67926da3ef39226bbc355bdc9850112c8f4b02",
		beta: "eb4440665d3891d668e7e0fcaf587f1b4bd7fbfe99d0eb2211ccec90496310eb" +
			"5e33821bc613efb94db5e5b54c70a848a0bef4553a41befc57663b56373a5031",
	},
	{
		name:  "Example18",
		sk:    "c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
		pk:    "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025",
		alpha: "af82",
		x:     "909a8b755ed902849023a55b15c23d11ba4d7f4ec5c2f51b1325a181991ea95c",
		ctr:   0,
		h:     "bf4339376f5542811de615e3313d2b36f6f53c0acfebb482159711201192576a",
		k: "38b868c335ccda94a088428cbf3ec8bc7955bfaffe1f3bd2aa2c59fc31a0febc" +
			"59d0e1af3715773ce11b3bbdd7aba8e3505d4b9de6f7e4a96e67e0d6bb6d6c3a",
		u: "2bae73e15a64042fcebf062abe7e432b2eca6744f3e8265bc38e009cd577ecd5",
		v: "88cba1cb0d4f9b649d9a86026b69de076724a93a65c349c988954f0961c5d506",
		pi: "9bc0f79119cc5604bf02d23b4caede71393cedfbb191434dd016d30177ccbf80" +
			"96bb474e53895c362d8628ee9f9ea3c0" +
			"e52c7a5c691b6c18c9979866568add7a2d41b00b05081ed0f58ee5e31b3a970e",
		beta: "645427e5d00c62a23fb703732fa5d892940935942101e456ecca7bb217c61c45" +
			"2118fec1219202a0edcf038bb6373241578be7217ba85a2687f7a0310b2df19f",
	},
}

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	require.NoError(t, err)
	return b
}

// vectorKey returns the Ed25519 private key of a vector, checking that its
// public half is the vector's PK.
func vectorKey(t testing.TB, tv rfcVector) ed25519.PrivateKey {
	t.Helper()
	sk := ed25519.NewKeyFromSeed(unhex(t, tv.sk))
	require.Equal(t, tv.pk, hex.EncodeToString(sk.Public().(ed25519.PublicKey)))
	return sk
}

func TestRFC9381Vectors(t *testing.T) {
	for _, tv := range rfcVectors {
		t.Run(tv.name, func(t *testing.T) {
			sk := vectorKey(t, tv)
			pk := unhex(t, tv.pk)
			alpha := unhex(t, tv.alpha)

			pi, err := Prove(sk, alpha)
			require.NoError(t, err)
			assert.Equal(t, tv.pi, hex.EncodeToString(pi), "pi")

			beta, err := Verify(pk, alpha, unhex(t, tv.pi))
			require.NoError(t, err)
			assert.Equal(t, tv.beta, hex.EncodeToString(beta), "beta from Verify")

			beta, err = ProofToHash(unhex(t, tv.pi))
			require.NoError(t, err)
			assert.Equal(t, tv.beta, hex.EncodeToString(beta), "beta from ProofToHash")
		})
	}
}

// TestRFC9381Intermediates checks the intermediate values the RFC lists
// (x, ctr, H, k, U = k*B, V = k*H), so that a regression says which stage
// diverged.
func TestRFC9381Intermediates(t *testing.T) {
	for _, tv := range rfcVectors {
		t.Run(tv.name, func(t *testing.T) {
			pk := unhex(t, tv.pk)
			alpha := unhex(t, tv.alpha)

			// x: clamped first half of SHA-512(SK).
			expanded := sha512.Sum512(unhex(t, tv.sk))
			clamped := expanded[:32]
			clamped[0] &= 248
			clamped[31] &= 127
			clamped[31] |= 64
			assert.Equal(t, tv.x, hex.EncodeToString(clamped), "x")

			// H and the counter that found it.
			h, hString, err := encodeToCurve(pk, alpha)
			require.NoError(t, err)
			assert.Equal(t, tv.h, hex.EncodeToString(hString[:]), "H")
			assert.Equal(t, tv.h, hex.EncodeToString(h.Bytes()), "H re-encoded")
			assert.Equal(t, tv.ctr, firstValidCounter(t, pk, alpha), "ctr")

			// k_string = SHA-512(prefix || h_string).
			kString := sha512.Sum512(append(expanded[32:64:64], hString[:]...))
			assert.Equal(t, tv.k, hex.EncodeToString(kString[:]), "k")

			k, err := edwards25519.NewScalar().SetUniformBytes(kString[:])
			require.NoError(t, err)
			u := new(edwards25519.Point).ScalarBaseMult(k)
			v := new(edwards25519.Point).ScalarMult(k, h)
			assert.Equal(t, tv.u, hex.EncodeToString(u.Bytes()), "U")
			assert.Equal(t, tv.v, hex.EncodeToString(v.Bytes()), "V")

			// Gamma = x*H is the first part of pi.
			x, err := edwards25519.NewScalar().SetBytesWithClamping(expanded[:32])
			require.NoError(t, err)
			gamma := new(edwards25519.Point).ScalarMult(x, h)
			assert.Equal(t, tv.pi[:2*ptLen], hex.EncodeToString(gamma.Bytes()), "Gamma")
		})
	}
}

// firstValidCounter recomputes try-and-increment independently of
// encodeToCurve, using the library's decoder plus a re-encoding check.
func firstValidCounter(t *testing.T, pk, alpha []byte) int {
	t.Helper()
	for ctr := range 256 {
		in := append([]byte{suiteString, 0x01}, pk...)
		in = append(in, alpha...)
		in = append(in, byte(ctr), 0x00)
		d := sha512.Sum512(in)
		p, err := new(edwards25519.Point).SetBytes(d[:32])
		if err == nil && bytes.Equal(p.Bytes(), d[:32]) {
			return ctr
		}
	}
	t.Fatal("no valid counter")
	return -1
}

func TestProveVerifyRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 40 {
		seed := make([]byte, ed25519.SeedSize)
		fillRandom(rng, seed)
		sk := ed25519.NewKeyFromSeed(seed)
		pk := sk.Public().(ed25519.PublicKey)
		alpha := make([]byte, rng.IntN(200))
		fillRandom(rng, alpha)

		pi, err := Prove(sk, alpha)
		require.NoError(t, err, "case %d", i)
		require.Len(t, pi, ProofSize)

		again, err := Prove(sk, alpha)
		require.NoError(t, err)
		require.Equal(t, pi, again, "Prove must be deterministic")

		beta, err := Verify(pk, alpha, pi)
		require.NoError(t, err, "case %d", i)
		require.Len(t, beta, OutputSize)

		fromProof, err := ProofToHash(pi)
		require.NoError(t, err)
		require.Equal(t, beta, fromProof, "ProofToHash(Prove(...)) must equal Verify(...)")
	}
}

func fillRandom(rng *rand.Rand, b []byte) {
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
}

func TestVerifyDoesNotModifyInputs(t *testing.T) {
	tv := rfcVectors[1]
	pk, alpha, pi := unhex(t, tv.pk), unhex(t, tv.alpha), unhex(t, tv.pi)
	_, err := Verify(pk, alpha, pi)
	require.NoError(t, err)
	assert.Equal(t, tv.pk, hex.EncodeToString(pk))
	assert.Equal(t, tv.alpha, hex.EncodeToString(alpha))
	assert.Equal(t, tv.pi, hex.EncodeToString(pi))
}

// TestTamperedProofRejected flips every bit of every published proof.
// Because an ECVRF proof is unique for (pk, alpha), no flip may verify.
func TestTamperedProofRejected(t *testing.T) {
	for _, tv := range rfcVectors {
		t.Run(tv.name, func(t *testing.T) {
			pk, alpha := unhex(t, tv.pk), unhex(t, tv.alpha)
			for i := range ProofSize {
				for bit := range 8 {
					pi := unhex(t, tv.pi)
					pi[i] ^= 1 << bit
					beta, err := Verify(pk, alpha, pi)
					require.ErrorIs(t, err, ErrInvalidProof, "byte %d bit %d", i, bit)
					require.Nil(t, beta)
				}
				pi := unhex(t, tv.pi)
				pi[i] ^= 0xff
				_, err := Verify(pk, alpha, pi)
				require.ErrorIs(t, err, ErrInvalidProof, "byte %d inverted", i)
			}
		})
	}
}

func TestWrongKeyOrAlphaRejected(t *testing.T) {
	for i, tv := range rfcVectors {
		t.Run(tv.name, func(t *testing.T) {
			pk, alpha, pi := unhex(t, tv.pk), unhex(t, tv.alpha), unhex(t, tv.pi)
			other := rfcVectors[(i+1)%len(rfcVectors)]

			_, err := Verify(unhex(t, other.pk), alpha, pi)
			require.ErrorIs(t, err, ErrInvalidProof, "other vector's key")

			fresh := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{byte(i + 1)}, ed25519.SeedSize))
			_, err = Verify(fresh.Public().(ed25519.PublicKey), alpha, pi)
			require.ErrorIs(t, err, ErrInvalidProof, "fresh key")

			for _, wrong := range [][]byte{unhex(t, other.alpha), []byte("fog"), append(alpha, 0), nil} {
				if bytes.Equal(wrong, alpha) {
					continue
				}
				_, err = Verify(pk, wrong, pi)
				require.ErrorIs(t, err, ErrInvalidProof, "alpha %x", wrong)
			}

			// A valid proof for another alpha under the same key.
			sk := vectorKey(t, tv)
			piOther, err := Prove(sk, []byte("another alpha"))
			require.NoError(t, err)
			_, err = Verify(pk, alpha, piOther)
			require.ErrorIs(t, err, ErrInvalidProof)
		})
	}
}

func TestProofLengthRejected(t *testing.T) {
	tv := rfcVectors[0]
	pk, alpha, pi := unhex(t, tv.pk), unhex(t, tv.alpha), unhex(t, tv.pi)
	cases := map[string][]byte{
		"nil":         nil,
		"empty":       {},
		"one byte":    pi[:1],
		"Gamma only":  pi[:ptLen],
		"truncated 1": pi[:ProofSize-1],
		"extended 1":  append(bytes.Clone(pi), 0),
		"extended 32": append(bytes.Clone(pi), make([]byte, 32)...),
		"doubled":     append(bytes.Clone(pi), pi...),
	}
	for name, bad := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := Verify(pk, alpha, bad)
			require.ErrorIs(t, err, ErrInvalidProof)
			_, err = ProofToHash(bad)
			require.ErrorIs(t, err, ErrInvalidProof)
		})
	}
}

// groupOrder is L = 2^252 + 27742317777372353535851937790883648493.
var groupOrder, _ = new(big.Int).SetString("7237005577332262213973186563042994240857116359379907606001950938285454250989", 10)

func leBytes(n *big.Int, size int) []byte {
	be := n.FillBytes(make([]byte, size))
	for i, j := 0, len(be)-1; i < j; i, j = i+1, j-1 {
		be[i], be[j] = be[j], be[i]
	}
	return be
}

func leInt(b []byte) *big.Int {
	be := bytes.Clone(b)
	for i, j := 0, len(be)-1; i < j; i, j = i+1, j-1 {
		be[i], be[j] = be[j], be[i]
	}
	return new(big.Int).SetBytes(be)
}

func TestNonCanonicalScalarRejected(t *testing.T) {
	for _, tv := range rfcVectors {
		t.Run(tv.name, func(t *testing.T) {
			pk, alpha, pi := unhex(t, tv.pk), unhex(t, tv.alpha), unhex(t, tv.pi)
			s := leInt(pi[ptLen+cLen:])
			require.Equal(t, -1, s.Cmp(groupOrder))
			// s + L is the same scalar mod L, so a verifier that reduced s
			// would accept it; RFC 9381 requires s < L.
			for name, bad := range map[string]*big.Int{
				"s+L":     new(big.Int).Add(s, groupOrder),
				"s+2L":    new(big.Int).Add(s, new(big.Int).Lsh(groupOrder, 1)),
				"L":       groupOrder,
				"2^256-1": new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 256), big.NewInt(1)),
			} {
				forged := bytes.Clone(pi)
				copy(forged[ptLen+cLen:], leBytes(bad, qLen))
				_, err := Verify(pk, alpha, forged)
				require.ErrorIs(t, err, ErrInvalidProof, name)
				_, err = ProofToHash(forged)
				require.ErrorIs(t, err, ErrInvalidProof, name)
			}
		})
	}
}

// smallOrderEncodings are the canonical encodings of the eight points of
// order dividing 8 (identity, order 2, two of order 4, four of order 8).
var smallOrderEncodings = []string{
	"0100000000000000000000000000000000000000000000000000000000000000",
	"ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
	"0000000000000000000000000000000000000000000000000000000000000000",
	"0000000000000000000000000000000000000000000000000000000000000080",
	"26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",
	"26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85",
	"c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",
	"c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa",
}

// nonCanonicalSmallOrderEncodings are the other strings that a lenient
// decoder maps to small-order points: y + p for y in {0, 1}, and the sign
// bit set on x = 0 (y = 1, y = p-1), alone or combined.
var nonCanonicalSmallOrderEncodings = []string{
	"0100000000000000000000000000000000000000000000000000000000000080",
	"ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
	"edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
	"edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
	"eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
	"eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
}

// TestSmallOrderEncodingsAreTheTorsion checks the hard-coded list against
// the multiples of an order-8 point, so the key tests cover the whole set.
func TestSmallOrderEncodingsAreTheTorsion(t *testing.T) {
	gen, err := new(edwards25519.Point).SetBytes(unhex(t, smallOrderEncodings[6]))
	require.NoError(t, err)
	got := map[string]bool{}
	p := edwards25519.NewIdentityPoint()
	for range 8 {
		got[hex.EncodeToString(p.Bytes())] = true
		p.Add(p, gen)
	}
	want := map[string]bool{}
	for _, e := range smallOrderEncodings {
		want[e] = true
	}
	require.Equal(t, want, got)

	for _, e := range nonCanonicalSmallOrderEncodings {
		p, err := new(edwards25519.Point).SetBytes(unhex(t, e))
		require.NoError(t, err, "the lenient decoder accepts %s", e)
		require.True(t, isSmallOrder(p), e)
	}
}

func TestSmallOrderPublicKeyRejected(t *testing.T) {
	tv := rfcVectors[0]
	alpha, pi := unhex(t, tv.alpha), unhex(t, tv.pi)
	for _, e := range smallOrderEncodings {
		_, err := Verify(unhex(t, e), alpha, pi)
		require.ErrorIs(t, err, ErrInvalidPublicKey, e)
		require.NotErrorIs(t, err, ErrInvalidProof)
	}
}

// TestSmallOrderKeyForgeryRejected builds the proof that would verify under
// the identity public key without key validation (Gamma and U, V chosen so
// the challenge matches) and checks that validation stops it.
func TestSmallOrderKeyForgeryRejected(t *testing.T) {
	identity := unhex(t, smallOrderEncodings[0])
	alpha := []byte("forgery")
	h, hString, err := encodeToCurve(identity, alpha)
	require.NoError(t, err)
	// Y = identity, Gamma = identity: pick s, set U = s*B, V = s*H.
	s := edwards25519.NewScalar()
	_, err = s.SetCanonicalBytes(leBytes(big.NewInt(12345), qLen))
	require.NoError(t, err)
	u := new(edwards25519.Point).ScalarBaseMult(s)
	v := new(edwards25519.Point).ScalarMult(s, h)
	c := challenge(identity, hString[:], identity, u.Bytes(), v.Bytes())
	pi := append(append(bytes.Clone(identity), c[:]...), s.Bytes()...)

	_, err = Verify(identity, alpha, pi)
	require.ErrorIs(t, err, ErrInvalidPublicKey)
}

func TestNonCanonicalPublicKeyRejected(t *testing.T) {
	tv := rfcVectors[0]
	alpha, pi := unhex(t, tv.alpha), unhex(t, tv.pi)

	for _, e := range nonCanonicalSmallOrderEncodings {
		_, err := Verify(unhex(t, e), alpha, pi)
		require.ErrorIs(t, err, ErrInvalidPublicKey, e)
	}

	// Points of large order whose y is below 19 have a second encoding
	// y + p that SetBytes accepts; RFC 8032 decoding does not.
	found := 0
	for y := byte(2); y < 19; y++ {
		canonical := make([]byte, 32)
		canonical[0] = y
		p, err := new(edwards25519.Point).SetBytes(canonical)
		if err != nil || isSmallOrder(p) {
			continue
		}
		alias := leBytes(new(big.Int).Add(big.NewInt(int64(y)), fieldPrime), 32)
		q, err := new(edwards25519.Point).SetBytes(alias)
		require.NoError(t, err)
		require.Equal(t, 1, p.Equal(q), "y+p must decode to the same point")
		for _, sign := range []byte{0, 0x80} {
			enc := bytes.Clone(alias)
			enc[31] |= sign
			_, err = Verify(enc, alpha, pi)
			require.ErrorIs(t, err, ErrInvalidPublicKey, "%x", enc)
		}
		// The canonical encoding of the same point is a valid key, so the
		// proof fails only for being someone else's.
		_, err = Verify(canonical, alpha, pi)
		require.ErrorIs(t, err, ErrInvalidProof)
		found++
	}
	require.Positive(t, found)

	for _, n := range []int{0, 1, 31, 33, 64} {
		_, err := Verify(make([]byte, n), alpha, pi)
		require.ErrorIs(t, err, ErrInvalidPublicKey, "length %d", n)
	}

	// Strings that are not a curve point at all.
	notOnCurve := 0
	for y := byte(2); y < 40; y++ {
		enc := make([]byte, 32)
		enc[0] = y
		if _, err := new(edwards25519.Point).SetBytes(enc); err == nil {
			continue
		}
		_, err := Verify(enc, alpha, pi)
		require.ErrorIs(t, err, ErrInvalidPublicKey, "%x", enc)
		notOnCurve++
	}
	require.Positive(t, notOnCurve)
}

var fieldPrime = new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 255), big.NewInt(19))

func TestNonCanonicalGammaRejected(t *testing.T) {
	tv := rfcVectors[0]
	pk, alpha, pi := unhex(t, tv.pk), unhex(t, tv.alpha), unhex(t, tv.pi)
	for _, e := range nonCanonicalSmallOrderEncodings {
		forged := bytes.Clone(pi)
		copy(forged, unhex(t, e))
		_, err := Verify(pk, alpha, forged)
		require.ErrorIs(t, err, ErrInvalidProof, e)
		_, err = ProofToHash(forged)
		require.ErrorIs(t, err, ErrInvalidProof, e)
	}
	// A canonical Gamma, even of small order, decodes: ProofToHash accepts
	// it, and Verify rejects the proof on the challenge.
	forged := bytes.Clone(pi)
	copy(forged, unhex(t, smallOrderEncodings[0]))
	_, err := ProofToHash(forged)
	require.NoError(t, err)
	_, err = Verify(pk, alpha, forged)
	require.ErrorIs(t, err, ErrInvalidProof)
}

func TestInvalidPrivateKey(t *testing.T) {
	for _, n := range []int{0, 31, 32, 63, 65} {
		pi, err := Prove(make(ed25519.PrivateKey, n), []byte("x"))
		require.ErrorIs(t, err, ErrInvalidPrivateKey, "length %d", n)
		require.Nil(t, pi)
	}
}

// TestDecodePointMatchesReencoding checks the byte-level canonicity test
// against the definition: a string is a canonical encoding exactly when the
// lenient decoder accepts it and re-encoding gives it back.
func TestDecodePointMatchesReencoding(t *testing.T) {
	var inputs [][]byte
	for _, e := range slices.Concat(smallOrderEncodings, nonCanonicalSmallOrderEncodings) {
		inputs = append(inputs, unhex(t, e))
	}
	// Every y within 40 of 0 and of p, both signs.
	for d := range 40 {
		lo := leBytes(big.NewInt(int64(d)), 32)
		hi := leBytes(new(big.Int).Sub(fieldPrime, big.NewInt(int64(d-20))), 32)
		for _, b := range [][]byte{lo, hi} {
			neg := bytes.Clone(b)
			neg[31] |= 0x80
			inputs = append(inputs, b, neg)
		}
	}
	rng := rand.New(rand.NewPCG(3, 4))
	for range 2000 {
		b := make([]byte, 32)
		fillRandom(rng, b)
		inputs = append(inputs, b)
	}
	for _, b := range inputs {
		p, err := new(edwards25519.Point).SetBytes(b)
		want := err == nil && bytes.Equal(p.Bytes(), b)
		_, got := decodePoint(b)
		require.Equal(t, want, got, "%x", b)
	}
}

func TestErrorMessagesHavePrefix(t *testing.T) {
	_, err := Verify(nil, nil, nil)
	require.Error(t, err)
	assert.Regexp(t, "^vrf: ", err.Error())
	_, err = ProofToHash(nil)
	assert.Regexp(t, "^vrf: ", err.Error())
	_, err = Prove(nil, nil)
	assert.Regexp(t, "^vrf: ", err.Error())
	_, err = Verify(unhex(t, rfcVectors[0].pk), []byte("no"), unhex(t, rfcVectors[0].pi))
	assert.Regexp(t, "^vrf: invalid proof: ", err.Error())
	assert.Equal(t, "vrf: invalid proof: challenge mismatch", fmt.Sprint(err))
}
