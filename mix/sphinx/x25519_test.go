package sphinx

import (
	"crypto/ecdh"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestX25519RFC7748 checks the ladder against RFC 7748's test vectors
// (Section 5.2's two single ones and the iterated one to 1,000; Section
// 6.1's key and shared secret).
func TestX25519RFC7748(t *testing.T) {
	for _, tc := range []struct{ k, u, out string }{
		{"a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4", "e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c", "c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552"},
		{"4b66e9d4d1b4673c5ad22691957d6af5c11b6421e0ea01d42ca4169e7918ba0d", "e5210f12786811d3f4b7959d0538ae2c31dbe7106fc03c3efc4cd549c715a493", "95cbde9476e8907d7aade45cb4b873f88b595a68799fa152e6f8f7647aac7957"},
		// Section 6.1: Alice's public key, and the shared secret.
		{"77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a", "0900000000000000000000000000000000000000000000000000000000000000", "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a"},
		{"77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a", "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f", "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742"},
	} {
		got, err := x25519(unhex(t, tc.k), unhex(t, tc.u))
		require.NoError(t, err)
		require.Equal(t, tc.out, hexs(got))
	}
	k := make([]byte, 32)
	k[0] = 9
	u := append([]byte(nil), k...)
	for i := 1; i <= 1000; i++ {
		out, err := x25519(k, u)
		require.NoError(t, err)
		u, k = k, out
		if i == 1 {
			require.Equal(t, "422c8e7a6227d7bca1350b3e2bb7279f7897b87bb6854b783c60e80311ae3079", hexs(k))
		}
	}
	require.Equal(t, "684cf59ba83309552800ef566f2f4d3c1c3887c49360e3875f2eb94d99532c51", hexs(k))
}

// TestX25519MatchesECDH compares the ladder with crypto/ecdh on random
// scalars and points, and on the low-order points both must refuse.
func TestX25519MatchesECDH(t *testing.T) {
	rnd := detRand(11)
	for range 200 {
		k, u := make([]byte, 32), make([]byte, 32)
		_, _ = rnd.Read(k)
		_, _ = rnd.Read(u)
		priv, err := ecdh.X25519().NewPrivateKey(k)
		require.NoError(t, err)
		pub, err := ecdh.X25519().NewPublicKey(u)
		require.NoError(t, err)
		want, wantErr := priv.ECDH(pub)
		got, err := x25519(k, u)
		require.Equal(t, wantErr == nil, err == nil)
		require.Equal(t, want, got)
	}
	for _, low := range []string{
		"0000000000000000000000000000000000000000000000000000000000000000",
		"0100000000000000000000000000000000000000000000000000000000000000",
		"e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",
		"ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
	} {
		_, err := x25519(unhex(t, "a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4"), unhex(t, low))
		require.Error(t, err, low)
	}
}
