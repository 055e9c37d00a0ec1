package dm

import (
	"testing"
	"time"

	"github.com/flynn/noise"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fog-compute/fog/chat"
)

func TestSessionHandshakeAndTransport(t *testing.T) {
	_, ida, a := testKeys(t, 1)
	_, idb, b := testKeys(t, 2)
	sa, sb := pair(t, testConfig(), a, b)
	require.True(t, sa.Established())
	require.True(t, sb.Established())
	assert.Equal(t, idb, sa.Remote().Owner)
	assert.Equal(t, ida, sb.Remote().Owner)

	for i, msg := range []string{"hi", "", "a longer message"} {
		f, err := sa.Encrypt(t0, nil, []byte(msg))
		require.NoError(t, err)
		got, err := sb.Decrypt(nil, f)
		require.NoError(t, err, "message %d", i)
		assert.Equal(t, msg, string(got))
		f, err = sb.Encrypt(t0, nil, []byte(msg))
		require.NoError(t, err)
		got, err = sa.Decrypt(nil, f)
		require.NoError(t, err)
		assert.Equal(t, msg, string(got))
	}
}

func TestSessionRefusesWrongKeys(t *testing.T) {
	cfg := testConfig()
	_, _, a := testKeys(t, 1)
	privB, pb, b := testKeys(t, 2)
	_, _, c := testKeys(t, 3)

	// handshake: init expects peer want (and key expect, if not nil);
	// resp answers.
	handshake := func(init, resp Keys, wantPeer Keys, expect *[32]byte) error {
		sa, m1, err := NewInitiator(cfg, init, wantPeer.Record.Owner, expect, rnd(1))
		require.NoError(t, err)
		sb, m2, err := NewResponder(cfg, resp, init.Record.Owner, nil, rnd(2), m1)
		require.NoError(t, err)
		m3, err := sa.Handshake(t0, m2)
		if err != nil {
			assert.True(t, sa.Failed())
			return err
		}
		_, err = sb.Handshake(t0, m3)
		return err
	}
	require.NoError(t, handshake(a, b, b, &b.Record.Public))
	// c answers in b's place.
	assert.ErrorIs(t, handshake(a, c, b, nil), ErrHandshake)
	// b answers with a key it signed but not the one a looked up.
	rec, sk, err := chat.NewChatKey(privB, 2, t0, rnd(77))
	require.NoError(t, err)
	b2 := Keys{Record: rec, Private: sk}
	assert.ErrorIs(t, handshake(a, b2, b, &b.Record.Public), ErrHandshake)
	require.NoError(t, handshake(a, b2, b, nil), "without an expected key, any key b signed")

	// A forged ChatKey: c presents b's signed record with its own static
	// key (which a Keys check refuses locally, so drive Noise by hand).
	sa, m1, err := NewInitiator(cfg, a, pb, nil, rnd(1))
	require.NoError(t, err)
	hs, err := noise.NewHandshakeState(noise.Config{
		CipherSuite: suite, Random: rnd(9), Pattern: noise.HandshakeXX,
		Prologue: []byte(sessionPrologue), StaticKeypair: c.dh(),
	})
	require.NoError(t, err)
	_, _, _, err = hs.ReadMessage(nil, m1[1:])
	require.NoError(t, err)
	enc, err := b.Record.Encode()
	require.NoError(t, err)
	m2, _, _, err := hs.WriteMessage([]byte{frameHS2}, enc)
	require.NoError(t, err)
	_, err = sa.Handshake(t0, m2)
	assert.ErrorIs(t, err, ErrHandshake)
	assert.False(t, sa.Established())

	// The same with a record whose signature is broken.
	sa, m1, err = NewInitiator(cfg, a, pb, nil, rnd(1))
	require.NoError(t, err)
	hs, err = noise.NewHandshakeState(noise.Config{
		CipherSuite: suite, Random: rnd(9), Pattern: noise.HandshakeXX,
		Prologue: []byte(sessionPrologue), StaticKeypair: c.dh(),
	})
	require.NoError(t, err)
	_, _, _, err = hs.ReadMessage(nil, m1[1:])
	require.NoError(t, err)
	bad := *b.Record
	bad.Public = c.Record.Public
	enc, err = bad.Encode()
	require.NoError(t, err)
	m2, _, _, err = hs.WriteMessage([]byte{frameHS2}, enc)
	require.NoError(t, err)
	_, err = sa.Handshake(t0, m2)
	assert.ErrorIs(t, err, chat.ErrBadSignature)

	// Out-of-order frames.
	sa, m1, err = NewInitiator(cfg, a, pb, nil, rnd(1))
	require.NoError(t, err)
	_, err = sa.Handshake(t0, m1)
	assert.ErrorIs(t, err, ErrHandshake)
	_, _, err = NewResponder(cfg, b, a.Record.Owner, nil, rnd(2), []byte{frameHS2})
	assert.ErrorIs(t, err, ErrMalformed)
}

func TestSessionTamperedReplayedOversized(t *testing.T) {
	_, _, a := testKeys(t, 1)
	_, _, b := testKeys(t, 2)
	sa, sb := pair(t, testConfig(), a, b)
	f, err := sa.Encrypt(t0, nil, []byte("pay alice 10"))
	require.NoError(t, err)

	for i := range f {
		g := append([]byte(nil), f...)
		g[i] ^= 0x01
		_, err := sb.Decrypt(nil, g)
		assert.Error(t, err, "byte %d flipped", i)
	}
	_, err = sb.Decrypt(nil, f[:len(f)-1])
	assert.ErrorIs(t, err, ErrDecrypt)
	got, err := sb.Decrypt(nil, f)
	require.NoError(t, err, "the untampered frame still decrypts after failed attempts")
	assert.Equal(t, "pay alice 10", string(got))
	_, err = sb.Decrypt(nil, f)
	assert.ErrorIs(t, err, ErrReplay)

	_, err = sa.Encrypt(t0, nil, make([]byte, MaxPlaintext+1))
	assert.ErrorIs(t, err, ErrTooLarge)
	_, err = sb.Decrypt(nil, make([]byte, maxFrameBytes+1))
	assert.ErrorIs(t, err, ErrMalformed)
}

func TestSessionReplayWindow(t *testing.T) {
	_, _, a := testKeys(t, 1)
	_, _, b := testKeys(t, 2)
	sa, sb := pair(t, testConfig(), a, b)
	var frames [][]byte
	for range 100 {
		f, err := sa.Encrypt(t0, nil, []byte("x"))
		require.NoError(t, err)
		frames = append(frames, f)
	}
	// Out of order within the window: accepted once each.
	for _, i := range []int{50, 40, 45, 99, 60} {
		_, err := sb.Decrypt(nil, frames[i])
		require.NoError(t, err, "frame %d", i)
	}
	for _, i := range []int{50, 40, 99} {
		_, err := sb.Decrypt(nil, frames[i])
		assert.ErrorIs(t, err, ErrReplay, "frame %d again", i)
	}
	// Behind the window (99 - 64 = 35): refused even if never seen.
	_, err := sb.Decrypt(nil, frames[30])
	assert.ErrorIs(t, err, ErrReplay)
	_, err = sb.Decrypt(nil, frames[36])
	assert.NoError(t, err)
}

func TestSessionRekey(t *testing.T) {
	cfg := testConfig()
	cfg.RekeyMessages = 3
	cfg.RekeyInterval = time.Minute
	_, _, a := testKeys(t, 1)
	_, _, b := testKeys(t, 2)
	sa, sb := pair(t, cfg, a, b)

	now := t0
	var old []byte
	for i := range 10 {
		f, err := sa.Encrypt(now, nil, []byte{byte(i)})
		require.NoError(t, err)
		if i == 1 {
			old = f // never delivered in time
			continue
		}
		got, err := sb.Decrypt(nil, f)
		require.NoError(t, err, "message %d", i)
		assert.Equal(t, []byte{byte(i)}, got)
	}
	se, _ := sa.Epochs()
	_, re := sb.Epochs()
	assert.Equal(t, uint32(3), se, "10 messages, 3 per key: epochs 0..3")
	assert.Equal(t, se, re, "the receiver followed")
	_, err := sb.Decrypt(nil, old)
	assert.ErrorIs(t, err, ErrReplay, "epoch 0's key is erased")

	// Time: the next message after RekeyInterval uses a fresh key.
	now = now.Add(time.Minute)
	f, err := sa.Encrypt(now, nil, []byte("later"))
	require.NoError(t, err)
	_, err = sb.Decrypt(nil, f)
	require.NoError(t, err)
	se, _ = sa.Epochs()
	_, re = sb.Epochs()
	assert.Equal(t, uint32(4), se)
	assert.Equal(t, se, re)

	// Skipped epochs (messages lost) are derived forward.
	for range 7 {
		_, err = sa.Encrypt(now, nil, []byte("lost"))
		require.NoError(t, err)
	}
	f, err = sa.Encrypt(now, nil, []byte("found"))
	require.NoError(t, err)
	got, err := sb.Decrypt(nil, f)
	require.NoError(t, err)
	assert.Equal(t, "found", string(got))

	// A forged far-future epoch is refused without moving the receiver.
	g := append([]byte(nil), f...)
	g[9] = 0x7f
	_, err = sb.Decrypt(nil, g)
	assert.ErrorIs(t, err, ErrDecrypt)
	_, re2 := sb.Epochs()
	_, re = sb.Epochs()
	assert.Equal(t, re, re2)

	sb.Erase()
	_, err = sb.Decrypt(nil, f)
	assert.ErrorIs(t, err, ErrNoSession)
}
