package chat

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestValidateNick(t *testing.T) {
	for _, tc := range []struct {
		name string
		ok   bool
	}{
		{"alice", true},
		{"Bob_2-x.y", true},
		{"Zoë", true},
		{"日本語", true},
		{"é", true},           // precomposed
		{"e\u0301", false},    // decomposed: not NFC
		{"\u0301e", false},    // starts with a mark
		{"", false},           // empty
		{"al ice", false},     // space
		{"alice#1234", false}, // '#' separates the fingerprint
		{"a\x00", false},      // control
		{"\xff", false},       // not UTF-8
		{"bob\u202e", false},  // bidi override
		{strings.Repeat("a", 32), true},
		{strings.Repeat("a", 33), false},
		{strings.Repeat("日", 32), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := ValidateNick(tc.name)
			if tc.ok {
				assert.NoError(t, err)
			} else {
				assert.ErrorIs(t, err, ErrInvalidNick)
			}
		})
	}
}

func TestNormalizeNick(t *testing.T) {
	for _, tc := range []struct{ a, b string }{
		{"alice", "ALICE"},
		{"alice", "Ａｌｉｃｅ"}, // fullwidth
		{"strasse", "Straße"},
		{"ﬁle", "file"}, // ligature
	} {
		assert.Equal(t, NormalizeNick(tc.a), NormalizeNick(tc.b), "%q vs %q", tc.a, tc.b)
	}
	assert.NotEqual(t, NormalizeNick("alice"), NormalizeNick("аlice")) // Cyrillic а
}

func TestNickRoundTripAndForgery(t *testing.T) {
	priv, id := identity(t, 1)
	_, other := identity(t, 2)
	n, err := NewNick(priv, "alice", 3, t0)
	require.NoError(t, err)
	require.NoError(t, n.Verify())
	enc, err := n.Encode()
	require.NoError(t, err)
	got, err := DecodeNick(enc)
	require.NoError(t, err)
	assert.Equal(t, id, got.Owner)
	assert.Equal(t, "alice", got.Name)
	assert.Equal(t, uint64(3), got.Seq)
	assert.Equal(t, "alice#"+Fingerprint(id), got.Display())

	// Forged: the same claim presented as another identity's.
	f := *n
	f.Owner = other
	assert.ErrorIs(t, f.Verify(), ErrBadSignature)
	// Forged: the name changed after signing.
	f = *n
	f.Name = "alicf"
	assert.ErrorIs(t, f.Verify(), ErrBadSignature)
	// Forged: the sequence raised after signing.
	f = *n
	f.Seq++
	assert.ErrorIs(t, f.Verify(), ErrBadSignature)

	for i := range enc {
		b := append([]byte(nil), enc...)
		b[i] ^= 0x40
		_, err := DecodeNick(b)
		assert.Error(t, err, "byte %d flipped", i)
	}
	_, err = DecodeNick(enc[:len(enc)-1])
	assert.ErrorIs(t, err, ErrMalformed)
	_, err = NewNick(priv, "bad name", 1, t0)
	assert.ErrorIs(t, err, ErrInvalidNick)
}

func TestFingerprint(t *testing.T) {
	_, a := identity(t, 1)
	_, b := identity(t, 2)
	assert.Len(t, Fingerprint(a), FingerprintLen)
	assert.Equal(t, Fingerprint(a), Fingerprint(a))
	assert.NotEqual(t, Fingerprint(a), Fingerprint(b))
}
