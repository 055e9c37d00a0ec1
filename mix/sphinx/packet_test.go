package sphinx

import (
	"bytes"
	"crypto/ecdh"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestGeometry(t *testing.T) {
	k := KatzenpostVectorGeometry()
	require.NoError(t, k.Validate())
	require.Equal(t, 82, PerHopLength)
	require.Equal(t, 410, k.RoutingInfoLength())
	require.Equal(t, 476, k.HeaderLength())
	require.Equal(t, 611, k.PacketLength())
	d := DefaultGeometry()
	require.NoError(t, d.Validate())
	require.Equal(t, 476, d.HeaderLength())
	require.Equal(t, 2556, d.PacketLength())
	require.Equal(t, 636, d.SURBLength())
	for _, bad := range []Geometry{{}, {Hops: 0, PayloadLength: 1}, {Hops: MaxHops + 1, PayloadLength: 1}, {Hops: 1, PayloadLength: 0}, {Hops: 1, PayloadLength: MaxPayloadLength + 1}} {
		require.ErrorIs(t, bad.Validate(), ErrConfig, "%+v", bad)
	}
}

// TestRoundTrip sends packets along every path length of a few geometries
// and checks every hop's commands, next hop and the recipient's payload.
func TestRoundTrip(t *testing.T) {
	for _, geo := range []Geometry{KatzenpostVectorGeometry(), DefaultGeometry(), {Hops: 1, PayloadLength: 1}, {Hops: 8, PayloadLength: 300}} {
		for n := 1; n <= geo.Hops; n++ {
			rnd := detRand(uint64(100*geo.Hops + n))
			nodes, path := newPath(t, rnd, n, false)
			payload := testPayload(geo, byte(n))
			pkt, err := NewPacket(rnd, geo, path, payload)
			require.NoError(t, err)
			require.Len(t, pkt, geo.PacketLength())
			tags := map[[32]byte]bool{}
			for i := range n {
				got, tag, cmds, err := Unwrap(geo, nodes[i].priv, pkt)
				require.NoError(t, err, "geo %+v n %d hop %d", geo, n, i)
				require.False(t, tags[tag], "replay tags differ per hop")
				tags[tag] = true
				if i < n-1 {
					require.Nil(t, got)
					require.Equal(t, []Command{path[i].Commands[0], NextNodeHop{ID: nodes[i+1].id, MAC: cmds[1].(NextNodeHop).MAC}}, cmds)
					require.Len(t, pkt, geo.PacketLength())
				} else {
					require.Equal(t, path[i].Commands, cmds)
					require.Equal(t, payload, got)
				}
			}
		}
	}
}

// TestReplayTag: the same packet gives the same tag at a hop; another
// packet along the same path a different one.
func TestReplayTag(t *testing.T) {
	geo := KatzenpostVectorGeometry()
	rnd := detRand(7)
	nodes, path := newPath(t, rnd, 3, false)
	pkt, err := NewPacket(rnd, geo, path, testPayload(geo, 0))
	require.NoError(t, err)
	other, err := NewPacket(rnd, geo, path, testPayload(geo, 0))
	require.NoError(t, err)
	_, t1, _, err := Unwrap(geo, nodes[0].priv, bytes.Clone(pkt))
	require.NoError(t, err)
	_, t2, _, err := Unwrap(geo, nodes[0].priv, bytes.Clone(pkt))
	require.NoError(t, err)
	_, t3, _, err := Unwrap(geo, nodes[0].priv, other)
	require.NoError(t, err)
	require.Equal(t, t1, t2)
	require.NotEqual(t, t1, t3)
}

func TestSURB(t *testing.T) {
	for _, geo := range []Geometry{KatzenpostVectorGeometry(), DefaultGeometry()} {
		for n := 1; n <= geo.Hops; n++ {
			rnd := detRand(uint64(1000 + n))
			nodes, path := newPath(t, rnd, n, true)
			surb, keys, err := NewSURB(rnd, geo, path)
			require.NoError(t, err)
			require.Len(t, surb, geo.SURBLength())
			require.Len(t, keys, (n+1)*lionessKeyLength)
			payload := testPayload(geo, 9)
			pkt, first, err := NewPacketFromSURB(geo, surb, payload)
			require.NoError(t, err)
			require.Equal(t, nodes[0].id, first)
			var body []byte
			for i := range n {
				body, _, _, err = Unwrap(geo, nodes[i].priv, pkt)
				require.NoError(t, err)
			}
			require.Len(t, body, TagLength+geo.PayloadLength)
			got, err := DecryptSURBPayload(geo, keys, body)
			require.NoError(t, err)
			require.Equal(t, payload, got)

			// Another SURB's keys do not decrypt it.
			_, keys2, err := NewSURB(rnd, geo, path)
			require.NoError(t, err)
			_, err = DecryptSURBPayload(geo, keys2, body)
			require.ErrorIs(t, err, ErrPayloadAuth)
		}
	}
}

func TestNewPacketErrors(t *testing.T) {
	geo := KatzenpostVectorGeometry()
	rnd := detRand(3)
	_, path := newPath(t, rnd, 3, false)
	ok := testPayload(geo, 0)
	lowOrder, err := ecdh.X25519().NewPublicKey(make([]byte, 32))
	require.NoError(t, err)
	_, six := newPath(t, rnd, 6, false)
	tooMany := func() []PathHop {
		p := append([]PathHop(nil), path...)
		p[0].Commands = []Command{NodeDelay{1}, Recipient{}, SURBReply{}}
		return p
	}
	withNext := func() []PathHop {
		p := append([]PathHop(nil), path...)
		p[0].Commands = []Command{NextNodeHop{}}
		return p
	}
	repeated := func() []PathHop {
		p := append([]PathHop(nil), path...)
		p[2].Commands = []Command{Recipient{}, Recipient{}}
		return p
	}
	noKey := func() []PathHop {
		p := append([]PathHop(nil), path...)
		p[1].PublicKey = nil
		return p
	}
	badKey := func() []PathHop {
		p := append([]PathHop(nil), path...)
		p[1].PublicKey = lowOrder
		return p
	}
	for name, tc := range map[string]struct {
		geo     Geometry
		path    []PathHop
		payload []byte
		want    error
	}{
		"bad geometry":         {Geometry{}, path, ok, ErrConfig},
		"short payload":        {geo, path, ok[1:], ErrPath},
		"no hops":              {geo, nil, ok, ErrPath},
		"too many hops":        {geo, six, ok, ErrPath},
		"commands do not fit":  {geo, tooMany(), ok, ErrPath},
		"NextNodeHop given":    {geo, withNext(), ok, ErrPath},
		"repeated command":     {geo, repeated(), ok, ErrPath},
		"no public key":        {geo, noKey(), ok, ErrPath},
		"low-order public key": {geo, badKey(), ok, ErrPath},
	} {
		_, err := NewPacket(rnd, tc.geo, tc.path, tc.payload)
		require.ErrorIs(t, err, tc.want, name)
	}
	_, _, err = NewSURB(rnd, geo, path) // no SURBReply on the last hop
	require.ErrorIs(t, err, ErrPath)
}

func TestUnwrapErrors(t *testing.T) {
	geo := KatzenpostVectorGeometry()
	rnd := detRand(4)
	nodes, path := newPath(t, rnd, 2, false)
	pkt, err := NewPacket(rnd, geo, path, testPayload(geo, 0))
	require.NoError(t, err)
	p256, err := ecdh.P256().GenerateKey(rnd)
	require.NoError(t, err)
	mutate := func(f func([]byte) []byte) []byte { return f(bytes.Clone(pkt)) }
	for name, tc := range map[string]struct {
		priv *ecdh.PrivateKey
		pkt  []byte
		want error
	}{
		"wrong key":     {nodes[1].priv, bytes.Clone(pkt), ErrMAC},
		"not X25519":    {p256, bytes.Clone(pkt), ErrPath},
		"nil key":       {nil, bytes.Clone(pkt), ErrPath},
		"short":         {nodes[0].priv, pkt[:len(pkt)-1], ErrMalformed},
		"long":          {nodes[0].priv, append(bytes.Clone(pkt), 0), ErrMalformed},
		"empty":         {nodes[0].priv, nil, ErrMalformed},
		"version":       {nodes[0].priv, mutate(func(b []byte) []byte { b[1] = 1; return b }), ErrMalformed},
		"zero alpha":    {nodes[0].priv, mutate(func(b []byte) []byte { clear(b[2:34]); return b }), ErrMalformed},
		"flipped alpha": {nodes[0].priv, mutate(func(b []byte) []byte { b[33] ^= 0x80; return b }), ErrMAC},
	} {
		_, _, _, err := Unwrap(geo, tc.priv, tc.pkt)
		require.ErrorIs(t, err, tc.want, name)
	}
}

func TestParseCommands(t *testing.T) {
	nh := appendCommand(nil, NextNodeHop{ID: [32]byte{1}, MAC: [32]byte{2}})
	for name, tc := range map[string]struct {
		in   []byte
		want []Command
		err  bool
	}{
		"empty":             {nil, nil, false},
		"null":              {[]byte{0, 0, 0}, nil, false},
		"null padding":      {[]byte{0, 0, 1}, nil, true},
		"unknown":           {[]byte{0x04}, nil, true},
		"truncated next":    {nh[:64], nil, true},
		"truncated delay":   {[]byte{0x80, 0, 0, 1}, nil, true},
		"lone tag":          {[]byte{0x02}, nil, true},
		"delay then next":   {append([]byte{0x80, 0, 0, 0, 5}, nh...), []Command{NodeDelay{5}, NextNodeHop{ID: [32]byte{1}, MAC: [32]byte{2}}}, false},
		"repeated delay":    {[]byte{0x80, 0, 0, 0, 5, 0x80, 0, 0, 0, 6}, nil, true},
		"recipient, padded": {append(appendCommand(nil, Recipient{ID: [32]byte{3}}), 0, 0), []Command{Recipient{ID: [32]byte{3}}}, false},
	} {
		got, err := ParseCommands(tc.in)
		if tc.err {
			require.ErrorIs(t, err, ErrMalformed, name)
			continue
		}
		require.NoError(t, err, name)
		require.Equal(t, tc.want, got, name)
	}
}
