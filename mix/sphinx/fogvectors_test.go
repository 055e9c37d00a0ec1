package sphinx

import (
	"bytes"
	"crypto/ecdh"
	"encoding/hex"
	"encoding/json"
	"flag"
	"os"
	"testing"

	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite testdata/fog_vectors.json from the code")

const fogVectorsFile = "testdata/fog_vectors.json"

// fogVectors are fog's own vectors (docs/sphinx.md): the KDF, LIONESS,
// and packets of a 3-hop geometry, forward and SURB reply, with each
// hop's input. Everything is generated from detRand seeds.
type fogVectors struct {
	KDF     struct{ Secret, OKM string }
	LIONESS struct {
		Key, Plaintext, Ciphertext string
	}
	Geometry Geometry
	Cases    []fogCase
}

type fogCase struct {
	Nodes []struct{ ID, PrivateKey string }
	// Commands[i] is hop i's commands as they come out of its Unwrap.
	Commands [][]string
	// Packets[i] is the packet hop i receives.
	Packets  []string
	Payload  string
	SURB     string `json:",omitempty"`
	SURBKeys string `json:",omitempty"`
}

func makeFogVectors(t *testing.T) fogVectors {
	var v fogVectors
	secret := make([]byte, 32)
	_, _ = detRand(1).Read(secret)
	k, err := deriveKeys(secret)
	require.NoError(t, err)
	v.KDF.Secret, v.KDF.OKM = hexs(secret), hexs(k.okm[:])

	key, pt := make([]byte, lionessKeyLength), make([]byte, 64)
	_, _ = detRand(2).Read(key)
	_, _ = detRand(3).Read(pt)
	ct := bytes.Clone(pt)
	lionessEncrypt(key, ct)
	v.LIONESS.Key, v.LIONESS.Plaintext, v.LIONESS.Ciphertext = hexs(key), hexs(pt), hexs(ct)

	v.Geometry = Geometry{Hops: 3, PayloadLength: 64}
	for _, withSURB := range []bool{false, true} {
		rnd := detRand(4)
		nodes, path := newPath(t, rnd, 3, withSURB)
		payload := testPayload(v.Geometry, 7)
		var c fogCase
		var pkt []byte
		if withSURB {
			surb, keys, err := NewSURB(rnd, v.Geometry, path)
			require.NoError(t, err)
			pkt, _, err = NewPacketFromSURB(v.Geometry, surb, payload)
			require.NoError(t, err)
			c.SURB, c.SURBKeys = hexs(surb), hexs(keys)
		} else {
			pkt, err = NewPacket(rnd, v.Geometry, path, payload)
			require.NoError(t, err)
		}
		c.Payload = hexs(payload)
		for _, n := range nodes {
			c.Nodes = append(c.Nodes, struct{ ID, PrivateKey string }{hexs(n.id[:]), hexs(n.priv.Bytes())})
			c.Packets = append(c.Packets, hexs(pkt))
			_, _, cmds, err := Unwrap(v.Geometry, n.priv, pkt)
			require.NoError(t, err)
			var enc []string
			for _, cmd := range cmds {
				enc = append(enc, hexs(appendCommand(nil, cmd)))
			}
			c.Commands = append(c.Commands, enc)
		}
		v.Cases = append(v.Cases, c)
	}
	return v
}

// TestFogVectors checks that the code still produces fog's committed
// vectors, and unwraps the committed packets with the committed keys to
// the committed commands and payload.
func TestFogVectors(t *testing.T) {
	got := makeFogVectors(t)
	if *update {
		raw, err := json.MarshalIndent(got, "", "  ")
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(fogVectorsFile, append(raw, '\n'), 0o644))
	}
	raw, err := os.ReadFile(fogVectorsFile)
	require.NoError(t, err)
	var want fogVectors
	require.NoError(t, json.Unmarshal(raw, &want))
	require.Equal(t, want, got)

	for ci, c := range want.Cases {
		pkt := unhex(t, c.Packets[0])
		var body []byte
		for i, n := range c.Nodes {
			require.Equal(t, c.Packets[i], hex.EncodeToString(pkt), "case %d hop %d", ci, i)
			priv, err := ecdh.X25519().NewPrivateKey(unhex(t, n.PrivateKey))
			require.NoError(t, err)
			body, _, _, err = Unwrap(want.Geometry, priv, pkt)
			require.NoError(t, err)
		}
		if c.SURB != "" {
			body, err = DecryptSURBPayload(want.Geometry, unhex(t, c.SURBKeys), body)
			require.NoError(t, err)
		}
		require.Equal(t, c.Payload, hex.EncodeToString(body), "case %d", ci)
	}
}
