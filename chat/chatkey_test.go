package chat

import (
	"crypto/ecdh"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestChatKeyRoundTrip(t *testing.T) {
	priv, id := identity(t, 1)
	k, sk, err := NewChatKey(priv, 7, t0.Add(1500*time.Microsecond), rnd(2))
	require.NoError(t, err)
	assert.Equal(t, id, k.Owner)
	assert.Equal(t, sk.PublicKey().Bytes(), k.Public[:])
	assert.Equal(t, t0.Add(time.Millisecond).UnixMilli(), k.Created.UnixMilli())
	require.NoError(t, k.Verify(id))

	enc, err := k.Encode()
	require.NoError(t, err)
	require.Len(t, enc, ChatKeySize)
	got, err := DecodeChatKey(enc)
	require.NoError(t, err)
	assert.Equal(t, k.Owner, got.Owner)
	assert.Equal(t, k.Public, got.Public)
	assert.Equal(t, k.Seq, got.Seq)
	assert.True(t, k.Created.Equal(got.Created))
	again, err := got.Encode()
	require.NoError(t, err)
	assert.Equal(t, enc, again)
}

func TestChatKeyRefused(t *testing.T) {
	priv, _ := identity(t, 1)
	_, other := identity(t, 2)
	k, _, err := NewChatKey(priv, 1, t0, rnd(3))
	require.NoError(t, err)
	enc, err := k.Encode()
	require.NoError(t, err)

	flip := func(i int) []byte {
		b := append([]byte(nil), enc...)
		b[i] ^= 1
		return b
	}
	for _, tc := range []struct {
		name string
		b    []byte
		want error
	}{
		{"empty", nil, ErrMalformed},
		{"short", enc[:ChatKeySize-1], ErrMalformed},
		{"long", append(append([]byte(nil), enc...), 0), ErrMalformed},
		{"version", flip(0), ErrMalformed},
		{"forged X25519 key", flip(40), ErrBadSignature},
		{"forged seq", flip(80), ErrBadSignature},
		{"forged time", flip(70), ErrBadSignature},
		{"forged owner", flip(5), nil}, // another key (or none): bad key or signature
		{"signature", flip(100), ErrBadSignature},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := DecodeChatKey(tc.b)
			require.Error(t, err)
			if tc.want != nil {
				assert.ErrorIs(t, err, tc.want)
			}
		})
	}

	// Signed by id, claimed for other.
	assert.ErrorIs(t, k.Verify(other), ErrBadSignature)
	// A key re-signed by other's identity but presented as id's.
	forged := *k
	forged.Owner = other
	assert.ErrorIs(t, forged.Verify(""), ErrBadSignature)
}

func TestChatKeySmallOrder(t *testing.T) {
	priv, _ := identity(t, 1)
	// Signing a small-order point succeeds (the signer is its own victim)
	// but no one accepts it.
	var zero [32]byte
	pub, err := ecdh.X25519().NewPublicKey(zero[:])
	require.NoError(t, err)
	k, err := SignChatKey(priv, pub, 1, t0)
	require.NoError(t, err)
	assert.ErrorIs(t, k.Verify(""), ErrBadKey)
}

func TestChatKeyNeedsEd25519(t *testing.T) {
	sec, _, err := crypto.GenerateSecp256k1Key(rnd(9))
	require.NoError(t, err)
	_, _, err = NewChatKey(sec, 1, t0, rnd(1))
	assert.ErrorIs(t, err, ErrBadKey)
	priv, _ := identity(t, 1)
	_, _, err = NewChatKey(priv, 1, time.Unix(0, 0), rnd(1))
	assert.ErrorIs(t, err, ErrMalformed)
}
