package mailbox

import (
	"bytes"
	"crypto/ecdh"
	"crypto/rand"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSealOpen(t *testing.T) {
	bob := newIdentity(t)
	key, id := MailboxKey(bob.id, 20000), randomID(t)
	for _, n := range []int{0, 1, 100, 8<<10 - SealOverhead} {
		payload := bytes.Repeat([]byte{byte(n)}, n)
		sealed, err := seal(nil, bob.chat.PublicKey(), key, id, payload)
		require.NoError(t, err)
		assert.Len(t, sealed, n+SealOverhead)
		got, err := open(bob.chat, key, id, sealed)
		require.NoError(t, err)
		assert.True(t, bytes.Equal(payload, got), "payload of %d bytes comes back", n)
	}
	// two seals of one payload differ (a fresh ephemeral key each)
	a, err := seal(nil, bob.chat.PublicKey(), key, id, []byte("hi"))
	require.NoError(t, err)
	b, err := seal(nil, bob.chat.PublicKey(), key, id, []byte("hi"))
	require.NoError(t, err)
	assert.NotEqual(t, a, b)
}

func TestOpenRejects(t *testing.T) {
	bob, eve := newIdentity(t), newIdentity(t)
	key, id := MailboxKey(bob.id, 20000), randomID(t)
	sealed, err := seal(nil, bob.chat.PublicKey(), key, id, []byte("meet at noon"))
	require.NoError(t, err)
	flip := func(i int) []byte {
		b := bytes.Clone(sealed)
		b[i] ^= 1
		return b
	}
	otherID := id
	otherID[0] ^= 1
	for _, tc := range []struct {
		name   string
		priv   *ecdh.PrivateKey
		key    Key
		id     ItemID
		sealed []byte
	}{
		{"ephemeral key tampered", bob.chat, key, id, flip(0)},
		{"ciphertext tampered", bob.chat, key, id, flip(33)},
		{"tag tampered", bob.chat, key, id, flip(len(sealed) - 1)},
		{"truncated", bob.chat, key, id, sealed[:len(sealed)-1]},
		{"too short", bob.chat, key, id, sealed[:SealOverhead-1]},
		{"extended", bob.chat, key, id, append(bytes.Clone(sealed), 0)},
		{"someone else's key", eve.chat, key, id, sealed},
		{"moved to another mailbox", bob.chat, MailboxKey(bob.id, 20001), id, sealed},
		{"renamed", bob.chat, key, otherID, sealed},
		{"all zero", bob.chat, key, id, make([]byte, len(sealed))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := open(tc.priv, tc.key, tc.id, tc.sealed)
			require.ErrorIs(t, err, ErrBadSeal)
			assert.Nil(t, got)
		})
	}
}

func TestSealRefusesBadKey(t *testing.T) {
	p256, err := ecdh.P256().GenerateKey(rand.Reader)
	require.NoError(t, err)
	_, err = seal(nil, p256.PublicKey(), Key{}, ItemID{}, []byte("x"))
	require.Error(t, err)
	_, err = seal(nil, nil, Key{}, ItemID{}, []byte("x"))
	require.Error(t, err)
	assert.False(t, errors.Is(err, ErrBadSeal))
}
