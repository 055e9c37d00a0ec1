package chat

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/stretchr/testify/require"
)

var t0 = time.Date(2030, time.January, 1, 0, 0, 0, 0, time.UTC)

// rnd returns a deterministic randomness source.
func rnd(seed byte) *rand.ChaCha8 { return rand.NewChaCha8([32]byte{seed}) }

// identity returns a deterministic Ed25519 identity and its peer ID.
func identity(t testing.TB, seed byte) (crypto.PrivKey, peer.ID) {
	t.Helper()
	priv, _, err := crypto.GenerateEd25519Key(rnd(seed))
	require.NoError(t, err)
	id, err := peer.IDFromPrivateKey(priv)
	require.NoError(t, err)
	return priv, id
}
