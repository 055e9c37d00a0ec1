package mailbox

import (
	"crypto/ecdh"
	"crypto/rand"
	"testing"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/stretchr/testify/require"
)

// identity is a node's Ed25519 identity and X25519 chat key.
type identity struct {
	priv crypto.PrivKey
	id   peer.ID
	chat *ecdh.PrivateKey
}

func newIdentity(t testing.TB) identity {
	t.Helper()
	priv, _, err := crypto.GenerateEd25519Key(rand.Reader)
	require.NoError(t, err)
	id, err := peer.IDFromPrivateKey(priv)
	require.NoError(t, err)
	chat, err := ecdh.X25519().GenerateKey(rand.Reader)
	require.NoError(t, err)
	return identity{priv: priv, id: id, chat: chat}
}

func randomID(t testing.TB) ItemID {
	var id ItemID
	_, err := rand.Read(id[:])
	require.NoError(t, err)
	return id
}

func peerIDOf(k crypto.PrivKey) (peer.ID, error) { return peer.IDFromPrivateKey(k) }
