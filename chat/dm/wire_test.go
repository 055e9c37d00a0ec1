package dm

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestPayloadRoundTrip(t *testing.T) {
	for _, p := range []payload{
		{kind: kindText, id: MsgID{1}, seq: 7, sent: t0, expiry: t0.Add(time.Hour), body: []byte("hello")},
		{kind: kindText, id: MsgID{2}, sent: t0, expiry: t0.Add(time.Millisecond)},
		{kind: kindDelivered, id: MsgID{3}},
		{kind: kindRead, id: MsgID{4}},
	} {
		b, err := p.encode()
		require.NoError(t, err)
		got, err := decodePayload(b)
		require.NoError(t, err)
		again, err := got.encode()
		require.NoError(t, err)
		assert.Equal(t, b, again)
		assert.Equal(t, p.id, got.id)
		assert.Equal(t, p.seq, got.seq)
		assert.Equal(t, string(p.body), string(got.body))
	}
}

func TestPayloadRefused(t *testing.T) {
	good, err := (&payload{kind: kindText, id: MsgID{1}, sent: t0, expiry: t0.Add(time.Hour), body: []byte("x")}).encode()
	require.NoError(t, err)
	for _, tc := range []struct {
		name string
		b    []byte
		want error
	}{
		{"empty", nil, ErrMalformed},
		{"kind", append([]byte{9}, good[1:]...), ErrMalformed},
		{"short ID", good[:10], ErrMalformed},
		{"truncated", good[:len(good)-1], ErrMalformed},
		{"trailing", append(append([]byte(nil), good...), 0), ErrMalformed},
		{"receipt trailing", append([]byte{kindRead}, make([]byte, 17)...), ErrMalformed},
		{"oversized", make([]byte, MaxBodySize+100), ErrTooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := decodePayload(tc.b)
			assert.ErrorIs(t, err, tc.want)
		})
	}
	_, err = (&payload{kind: kindText, sent: t0, expiry: t0}).encode()
	assert.ErrorIs(t, err, ErrMalformed, "expiry not after sent")
	_, err = (&payload{kind: kindText, sent: t0, expiry: t0.Add(1), body: make([]byte, MaxBodySize+1)}).encode()
	assert.ErrorIs(t, err, ErrTooLarge)
}

func TestConfigValidate(t *testing.T) {
	require.NoError(t, DefaultConfig().Validate())
	for _, tc := range []struct {
		field string
		mod   func(*Config)
	}{
		{"MaxBody", func(c *Config) { c.MaxBody = MaxBodySize + 1 }},
		{"TTL", func(c *Config) { c.TTL = 0 }},
		{"RetryMin", func(c *Config) { c.RetryMin = 0 }},
		{"RetryMax", func(c *Config) { c.RetryMax = c.RetryMin - 1 }},
		{"HandshakeTimeout", func(c *Config) { c.HandshakeTimeout = 0 }},
		{"RekeyMessages", func(c *Config) { c.RekeyMessages = 0 }},
		{"RekeyInterval", func(c *Config) { c.RekeyInterval = -1 }},
		{"SessionIdle", func(c *Config) { c.SessionIdle = 0 }},
		{"MaxPending", func(c *Config) { c.MaxPending = 0 }},
		{"MaxSeen", func(c *Config) { c.MaxSeen = 0 }},
	} {
		c := DefaultConfig()
		tc.mod(&c)
		err := c.Validate()
		assert.ErrorIs(t, err, ErrConfig, tc.field)
		assert.ErrorContains(t, err, tc.field)
	}
}
