package dm

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/stretchr/testify/require"

	"github.com/fog-compute/fog/chat"
)

var t0 = time.Date(2030, time.January, 1, 0, 0, 0, 0, time.UTC)

func rnd(seed byte) *rand.ChaCha8 { return rand.NewChaCha8([32]byte{seed, 0xd}) }

// testKeys returns the identity, peer ID and chat key pair of test node seed.
func testKeys(t testing.TB, seed byte) (crypto.PrivKey, peer.ID, Keys) {
	t.Helper()
	priv, _, err := crypto.GenerateEd25519Key(rnd(seed))
	require.NoError(t, err)
	id, err := peer.IDFromPrivateKey(priv)
	require.NoError(t, err)
	rec, sk, err := chat.NewChatKey(priv, 1, t0, rnd(seed+100))
	require.NoError(t, err)
	return priv, id, Keys{Record: rec, Private: sk}
}

func testConfig() Config {
	c := DefaultConfig()
	c.RekeyMessages = 1 << 40
	c.RekeyInterval = 0
	return c
}

// pair runs a handshake between a (initiator) and b and returns both ends.
func pair(t testing.TB, cfg Config, a, b Keys) (*Session, *Session) {
	t.Helper()
	ia, ib := a.Record.Owner, b.Record.Owner
	sa, m1, err := NewInitiator(cfg, a, ib, &b.Record.Public, rnd(50))
	require.NoError(t, err)
	sb, m2, err := NewResponder(cfg, b, ia, &a.Record.Public, rnd(51), m1)
	require.NoError(t, err)
	m3, err := sa.Handshake(t0, m2)
	require.NoError(t, err)
	require.NotNil(t, m3)
	out, err := sb.Handshake(t0, m3)
	require.NoError(t, err)
	require.Nil(t, out)
	return sa, sb
}
