package sphinx

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestLIONESS: decryption inverts encryption for every length from the
// smallest block up, and one flipped ciphertext bit, wherever it is,
// changes about half of the plaintext's first 32 bytes (the tag).
func TestLIONESS(t *testing.T) {
	key := make([]byte, lionessKeyLength)
	_, _ = detRand(1).Read(key)
	for n := lionessLeft + 1; n < 300; n++ {
		msg := make([]byte, n)
		_, _ = detRand(uint64(n)).Read(msg)
		b := bytes.Clone(msg)
		lionessEncrypt(key, b)
		require.NotEqual(t, msg, b)
		lionessDecrypt(key, b)
		require.Equal(t, msg, b)
	}
	msg := make([]byte, 200)
	ct := bytes.Clone(msg)
	lionessEncrypt(key, ct)
	for bit := range 8 * len(ct) {
		c := bytes.Clone(ct)
		c[bit/8] ^= 1 << (bit % 8)
		lionessDecrypt(key, c)
		changed := 0
		for _, v := range c[:TagLength] {
			for ; v != 0; v &= v - 1 {
				changed++
			}
		}
		require.Greater(t, changed, 64, "bit %d changed only %d tag bits", bit, changed)
		require.Less(t, changed, 192, "bit %d changed %d tag bits", bit, changed)
	}
}
