package sphinx

import (
	"crypto/ecdh"
	"encoding/binary"
	"encoding/hex"
	"io"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/chacha20"
)

// detRand is a deterministic random source for tests: the ChaCha20
// keystream under a key made from seed.
func detRand(seed uint64) io.Reader {
	var key [32]byte
	binary.BigEndian.PutUint64(key[:], seed)
	var nonce [chacha20.NonceSize]byte
	c, err := chacha20.NewUnauthenticatedCipher(key[:], nonce[:])
	if err != nil {
		panic(err)
	}
	return &streamReader{c}
}

type streamReader struct{ c *chacha20.Cipher }

func (r *streamReader) Read(p []byte) (int, error) {
	clear(p)
	r.c.XORKeyStream(p, p)
	return len(p), nil
}

type testNode struct {
	id   [NodeIDLength]byte
	priv *ecdh.PrivateKey
}

// newPath makes n nodes and a path through them: NodeDelay on every hop
// but the last, a Recipient (and, for a SURB, a SURBReply) on the last.
func newPath(t testing.TB, rand io.Reader, n int, surb bool) ([]testNode, []PathHop) {
	t.Helper()
	nodes := make([]testNode, n)
	path := make([]PathHop, n)
	for i := range n {
		var seed [32]byte
		_, err := io.ReadFull(rand, seed[:])
		require.NoError(t, err)
		priv, err := ecdh.X25519().NewPrivateKey(seed[:])
		require.NoError(t, err)
		_, err = io.ReadFull(rand, nodes[i].id[:])
		require.NoError(t, err)
		nodes[i].priv = priv
		path[i] = PathHop{ID: nodes[i].id, PublicKey: priv.PublicKey()}
		if i < n-1 {
			path[i].Commands = []Command{NodeDelay{Delay: uint32(100 * (i + 1))}}
			continue
		}
		var r Recipient
		_, err = io.ReadFull(rand, r.ID[:])
		require.NoError(t, err)
		path[i].Commands = []Command{r}
		if surb {
			var s SURBReply
			_, err = io.ReadFull(rand, s.ID[:])
			require.NoError(t, err)
			path[i].Commands = append(path[i].Commands, s)
		}
	}
	return nodes, path
}

func testPayload(geo Geometry, fill byte) []byte {
	p := make([]byte, geo.PayloadLength)
	for i := range p {
		p[i] = fill + byte(i)
	}
	return p
}

func hexs(b []byte) string { return hex.EncodeToString(b) }
