package dm

import (
	"testing"

	"github.com/flynn/noise"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSealOpen(t *testing.T) {
	_, ida, a := testKeys(t, 1)
	_, _, b := testKeys(t, 2)
	_, _, c := testKeys(t, 3)
	env, err := Seal(a, b.Record, []byte("for b"), rnd(4))
	require.NoError(t, err)
	from, got, err := Open(b, env)
	require.NoError(t, err)
	assert.Equal(t, ida, from.Owner)
	assert.Equal(t, "for b", string(got))

	_, _, err = Open(c, env)
	assert.ErrorIs(t, err, ErrDecrypt, "only the recipient opens it")
	for i := range env {
		g := append([]byte(nil), env...)
		g[i] ^= 0x10
		_, _, err := Open(b, g)
		assert.Error(t, err, "byte %d flipped", i)
	}
	_, _, err = Open(b, env[:sealedOverhead-1])
	assert.ErrorIs(t, err, ErrMalformed)
	_, err = Seal(a, b.Record, make([]byte, MaxSealedPayload+1), rnd(4))
	assert.ErrorIs(t, err, ErrTooLarge)
}

// A sender that encloses someone else's ChatKey is refused: the static key
// Noise authenticated is not the one the enclosed record binds.
func TestSealForgedSender(t *testing.T) {
	_, _, a := testKeys(t, 1)
	_, _, b := testKeys(t, 2)
	_, _, c := testKeys(t, 3)
	hs, err := noise.NewHandshakeState(noise.Config{
		CipherSuite: suite, Random: rnd(5), Pattern: noise.HandshakeX, Initiator: true,
		Prologue: sealedPrologueFor(b.Record), StaticKeypair: c.dh(), PeerStatic: b.Record.Public[:],
	})
	require.NoError(t, err)
	enc, err := a.Record.Encode()
	require.NoError(t, err)
	env, _, _, err := hs.WriteMessage([]byte{frameSealed}, append(enc, "from a, honest"...))
	require.NoError(t, err)
	_, _, err = Open(b, env)
	assert.ErrorIs(t, err, ErrHandshake)
}
