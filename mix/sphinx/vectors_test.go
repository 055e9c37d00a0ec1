package sphinx

import (
	"bytes"
	"crypto/ecdh"
	"encoding/hex"
	"encoding/json"
	"os"
	"testing"

	"github.com/stretchr/testify/require"
)

// katzenpostCase is one case of Katzenpost's core/sphinx/testdata/
// sphinx_vectors.json (committed unmodified): Packets[0] is the packet the
// sender built, Packets[i+1] the packet after hop i unwrapped it (the last
// entry is empty), Path[i].Commands hop i's commands as Katzenpost encodes
// them, Surb and SurbKeys the SURB the reply was made from, if any.
type katzenpostCase struct {
	Nodes []struct {
		ID         string
		PrivateKey string
	}
	Path []struct {
		ID        string
		PublicKey string
		Commands  []string
	}
	Packets  []string
	Payload  string
	Surb     string
	SurbKeys string
}

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	require.NoError(t, err)
	return b
}

func loadKatzenpostVectors(t *testing.T) []katzenpostCase {
	raw, err := os.ReadFile("testdata/sphinx_vectors.json")
	require.NoError(t, err)
	var cases []katzenpostCase
	require.NoError(t, json.Unmarshal(raw, &cases))
	return cases
}

// TestKatzenpostVectors unwraps every case of Katzenpost's X25519 vectors
// hop by hop and checks that each hop gets the same commands and produces
// the same next-hop header, byte for byte. Payloads are not compared:
// Katzenpost encrypts them with AEZ, fog with LIONESS (docs/sphinx.md).
func TestKatzenpostVectors(t *testing.T) {
	geo := KatzenpostVectorGeometry()
	hdrLen := geo.HeaderLength()
	cases := loadKatzenpostVectors(t)
	require.Len(t, cases, 10)
	hopsChecked := 0
	for ci, tc := range cases {
		withSURB := tc.Surb != ""
		n := len(tc.Path)
		require.Len(t, tc.Nodes, n, "case %d", ci)
		require.Len(t, tc.Packets, n+1, "case %d", ci)
		packet := unhex(t, tc.Packets[0])
		require.Len(t, packet, geo.PacketLength(), "case %d", ci)
		if withSURB {
			surb := unhex(t, tc.Surb)
			// Katzenpost's SURB: header, first hop, AEZ key and IV (64 bytes).
			require.Len(t, surb, hdrLen+NodeIDLength+64, "case %d", ci)
			require.Equal(t, surb[:hdrLen], packet[:hdrLen], "case %d: the reply's header is the SURB's", ci)
			require.Equal(t, unhex(t, tc.Path[0].ID), surb[hdrLen:hdrLen+NodeIDLength], "case %d: SURB first hop", ci)
			require.Len(t, unhex(t, tc.SurbKeys), (n+1)*64, "case %d", ci)
		}
		for i := range n {
			require.Equal(t, tc.Nodes[i].ID, tc.Path[i].ID)
			priv, err := ecdh.X25519().NewPrivateKey(unhex(t, tc.Nodes[i].PrivateKey))
			require.NoError(t, err)
			require.Equal(t, unhex(t, tc.Path[i].PublicKey), priv.PublicKey().Bytes(), "case %d hop %d: public key", ci, i)

			// The header alone (what interoperates).
			newHdr, next, _, cmds, err := unwrapHeader(geo, priv, packet)
			require.NoError(t, err, "case %d hop %d", ci, i)
			var got []string
			for _, c := range cmds {
				got = append(got, hex.EncodeToString(appendCommand(nil, c)))
			}
			require.Equal(t, tc.Path[i].Commands[:len(tc.Path[i].Commands)], got[:len(tc.Path[i].Commands)], "case %d hop %d: commands", ci, i)

			last := i == n-1
			if !last {
				require.Len(t, cmds, 2, "case %d hop %d", ci, i) // NodeDelay, NextNodeHop
				require.NotNil(t, next)
				require.Equal(t, unhex(t, tc.Path[i+1].ID), next.ID[:], "case %d hop %d: next hop", ci, i)
				want := unhex(t, tc.Packets[i+1])
				require.Equal(t, want[:hdrLen], newHdr, "case %d hop %d: next-hop header", ci, i)
			} else {
				require.Nil(t, next)
				require.Equal(t, tc.Path[i].Commands, got, "case %d hop %d: commands", ci, i)
			}

			// The whole Unwrap: the same header and commands; at the
			// last hop the AEZ payload does not authenticate under LIONESS.
			buf := bytes.Clone(packet)
			payload, _, cmds2, err := Unwrap(geo, priv, buf)
			switch {
			case !last:
				require.NoError(t, err)
				require.Equal(t, cmds, cmds2)
				require.Nil(t, payload)
				require.Equal(t, newHdr, buf[:hdrLen])
			case withSURB:
				require.NoError(t, err) // SURB replies are checked by DecryptSURBPayload
				require.Equal(t, cmds, cmds2)
				require.Len(t, payload, TagLength+geo.PayloadLength)
			default:
				require.ErrorIs(t, err, ErrPayloadAuth)
			}
			hopsChecked++
			if !last {
				packet = unhex(t, tc.Packets[i+1])
			}
		}
	}
	require.Equal(t, 30, hopsChecked)
}

// TestKatzenpostCommandVectors checks the command encodings against
// Katzenpost's core/sphinx/commands/testdata/sphinx_commands_vectors.json.
func TestKatzenpostCommandVectors(t *testing.T) {
	raw, err := os.ReadFile("testdata/sphinx_commands_vectors.json")
	require.NoError(t, err)
	var tc struct {
		NextHopID, NextHopMAC, NextHopCmdWant string
		RecipientID, RecipientCmdWant         string
		SURBReplyID, SURBReplyCmdWant         string
		NodeDelay                             uint32
		NodeDelayCmdWant                      string
	}
	require.NoError(t, json.Unmarshal(raw, &tc))
	{
		var nh NextNodeHop
		copy(nh.ID[:], unhex(t, tc.NextHopID))
		copy(nh.MAC[:], unhex(t, tc.NextHopMAC))
		var r Recipient
		copy(r.ID[:], unhex(t, tc.RecipientID))
		var s SURBReply
		copy(s.ID[:], unhex(t, tc.SURBReplyID))
		d := NodeDelay{Delay: tc.NodeDelay}
		for _, c := range []struct {
			cmd  Command
			want string
		}{{nh, tc.NextHopCmdWant}, {r, tc.RecipientCmdWant}, {s, tc.SURBReplyCmdWant}, {d, tc.NodeDelayCmdWant}} {
			enc, err := c.cmd.AppendBinary(nil)
			require.NoError(t, err)
			require.Equal(t, c.want, hex.EncodeToString(enc))
			parsed, err := ParseCommands(enc)
			require.NoError(t, err)
			require.Equal(t, []Command{c.cmd}, parsed)
		}
	}
}
