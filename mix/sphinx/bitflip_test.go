package sphinx

import (
	"bytes"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestEveryBitFlipIsRejected flips, one at a time, every bit of the packet
// as each hop receives it (a 3-hop geometry with a 64-byte payload, so
// 3 × 3264 flips): a flip in the header is rejected by the hop that reads
// it (ErrMAC, or ErrMalformed for the version bytes); a flip in the payload
// passes the relays and is rejected by the recipient (ErrPayloadAuth).
func TestEveryBitFlipIsRejected(t *testing.T) {
	geo := Geometry{Hops: 3, PayloadLength: 64}
	rnd := detRand(42)
	nodes, path := newPath(t, rnd, 3, false)
	pkt, err := NewPacket(rnd, geo, path, testPayload(geo, 1))
	require.NoError(t, err)

	// inputs[h] is the honest packet as hop h receives it.
	inputs := [][]byte{bytes.Clone(pkt)}
	for h := range 2 {
		_, _, _, err := Unwrap(geo, nodes[h].priv, pkt)
		require.NoError(t, err)
		inputs = append(inputs, bytes.Clone(pkt))
	}

	hdrLen := geo.HeaderLength()
	for h, in := range inputs {
		for bit := range 8 * len(in) {
			p := bytes.Clone(in)
			p[bit/8] ^= 1 << (bit % 8)
			var err error
			rejectedAt := -1
			for i := h; i < len(nodes); i++ {
				if _, _, _, err = Unwrap(geo, nodes[i].priv, p); err != nil {
					rejectedAt = i
					break
				}
			}
			if bit/8 < hdrLen {
				require.Equal(t, h, rejectedAt, "hop %d, header bit %d", h, bit)
				require.True(t, errors.Is(err, ErrMAC) || errors.Is(err, ErrMalformed), "hop %d, header bit %d: %v", h, bit, err)
			} else {
				require.Equal(t, len(nodes)-1, rejectedAt, "hop %d, payload bit %d", h, bit)
				require.ErrorIs(t, err, ErrPayloadAuth, "hop %d, payload bit %d", h, bit)
			}
		}
	}
}

// TestEveryReplyBitFlipIsRejected does the same for a reply made from a
// SURB: flips in the header are rejected by the hop, flips in the payload
// by the SURB's creator (DecryptSURBPayload).
func TestEveryReplyBitFlipIsRejected(t *testing.T) {
	geo := Geometry{Hops: 2, PayloadLength: 48}
	rnd := detRand(43)
	nodes, path := newPath(t, rnd, 2, true)
	surb, keys, err := NewSURB(rnd, geo, path)
	require.NoError(t, err)
	pkt, _, err := NewPacketFromSURB(geo, surb, testPayload(geo, 2))
	require.NoError(t, err)
	hdrLen := geo.HeaderLength()
	for bit := range 8 * len(pkt) {
		p := bytes.Clone(pkt)
		p[bit/8] ^= 1 << (bit % 8)
		_, _, _, err := Unwrap(geo, nodes[0].priv, p)
		if bit/8 < hdrLen {
			require.True(t, errors.Is(err, ErrMAC) || errors.Is(err, ErrMalformed), "header bit %d: %v", bit, err)
			continue
		}
		require.NoError(t, err)
		body, _, _, err := Unwrap(geo, nodes[1].priv, p)
		require.NoError(t, err)
		_, err = DecryptSURBPayload(geo, keys, body)
		require.ErrorIs(t, err, ErrPayloadAuth, "payload bit %d", bit)
	}
}
