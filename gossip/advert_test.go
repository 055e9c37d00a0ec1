package gossip

import (
	"bytes"
	"encoding/binary"
	"strings"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestAdvertRoundTrip(t *testing.T) {
	now := time.Now()
	p := newPeerID(t)
	for _, a := range []Advert{
		testAdvert(p, 1, now),
		{Peer: p, Seq: 7, Issued: time.UnixMilli(1), Expires: time.UnixMilli(2)}, // minimal: no addrs, runtimes, version
	} {
		b, err := EncodeAdvert(a)
		require.NoError(t, err)
		require.LessOrEqual(t, len(b), MaxAdvertSize)
		got, err := DecodeAdvert(b)
		require.NoError(t, err)
		assert.Equal(t, a.Peer, got.Peer)
		require.Len(t, got.Addrs, len(a.Addrs))
		for i := range a.Addrs {
			assert.True(t, a.Addrs[i].Equal(got.Addrs[i]))
		}
		assert.Equal(t, a.Runtimes, got.Runtimes)
		assert.True(t, a.Issued.Equal(got.Issued))
		assert.True(t, a.Expires.Equal(got.Expires))
		a.Addrs, got.Addrs = nil, nil
		a.Issued, got.Issued, a.Expires, got.Expires = time.Time{}, time.Time{}, time.Time{}, time.Time{}
		assert.Equal(t, a, got)
		b2, err := EncodeAdvert(got2(t, b))
		require.NoError(t, err)
		assert.Equal(t, b, b2, "encoding is canonical")
	}
}

func got2(t *testing.T, b []byte) Advert {
	a, err := DecodeAdvert(b)
	require.NoError(t, err)
	return a
}

func TestMaxAdvertFits(t *testing.T) {
	_, id := newKey(t)
	a := testAdvert(id, 1, time.Now())
	a.Addrs = nil
	for i := range MaxAddrs {
		// /dns4/<long name>/tcp/<port>: fill each address to its limit.
		name := strings.Repeat("a", MaxAddrLen-12) + string(rune('a'+i))
		addr, err := ma.NewMultiaddr("/dns4/" + name + "/tcp/4001")
		require.NoError(t, err)
		a.Addrs = append(a.Addrs, addr)
	}
	a.Runtimes = nil
	for i := range MaxRuntimes {
		a.Runtimes = append(a.Runtimes, string(rune('a'+i))+strings.Repeat("x", MaxRuntimeLen-1))
	}
	a.Version = strings.Repeat("v", MaxVersionLen)
	b, err := EncodeAdvert(a)
	require.NoError(t, err)
	assert.LessOrEqual(t, len(b), MaxAdvertSize)
	assert.LessOrEqual(t, MaxAdvertSize, DefaultConfig().Capacity.MaxSize)
}

func TestAdvertValidateRejects(t *testing.T) {
	now := time.Now()
	p := newPeerID(t)
	tests := []struct {
		name string
		mod  func(*Advert)
	}{
		{"no peer", func(a *Advert) { a.Peer = "" }},
		{"bad peer", func(a *Advert) { a.Peer = peer.ID("not a multihash") }},
		{"too many addrs", func(a *Advert) {
			for len(a.Addrs) <= MaxAddrs {
				a.Addrs = append(a.Addrs, a.Addrs[0])
			}
		}},
		{"too many runtimes", func(a *Advert) {
			a.Runtimes = nil
			for i := range MaxRuntimes + 1 {
				a.Runtimes = append(a.Runtimes, string(rune('a'+i)))
			}
		}},
		{"unsorted runtimes", func(a *Advert) { a.Runtimes = []string{"wasm", "js"} }},
		{"duplicate runtimes", func(a *Advert) { a.Runtimes = []string{"wasm", "wasm"} }},
		{"bad runtime name", func(a *Advert) { a.Runtimes = []string{"Wasm"} }},
		{"runtime starts with dot", func(a *Advert) { a.Runtimes = []string{".wasm"} }},
		{"empty runtime", func(a *Advert) { a.Runtimes = []string{""} }},
		{"long runtime", func(a *Advert) { a.Runtimes = []string{strings.Repeat("w", MaxRuntimeLen+1)} }},
		{"long version", func(a *Advert) { a.Version = strings.Repeat("v", MaxVersionLen+1) }},
		{"control char in version", func(a *Advert) { a.Version = "fog\n" }},
		{"issued at epoch", func(a *Advert) { a.Issued = time.UnixMilli(0) }},
		{"expires before issued", func(a *Advert) { a.Expires = a.Issued }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := testAdvert(p, 1, now)
			tt.mod(&a)
			_, err := EncodeAdvert(a)
			require.ErrorIs(t, err, ErrMalformed)
		})
	}
}

func TestDecodeAdvertRejects(t *testing.T) {
	good, err := EncodeAdvert(testAdvert(newPeerID(t), 1, time.Now()))
	require.NoError(t, err)
	pidLen := int(good[1])
	addrCountAt := 2 + pidLen
	firstAddrLenAt := addrCountAt + 1
	tests := []struct {
		name string
		mod  func([]byte) []byte
	}{
		{"empty", func([]byte) []byte { return nil }},
		{"wrong format", func(b []byte) []byte { b[0] = 2; return b }},
		{"truncated", func(b []byte) []byte { return b[:len(b)-1] }},
		{"trailing byte", func(b []byte) []byte { return append(b, 0) }},
		{"peer ID length zero", func(b []byte) []byte { b[1] = 0; return b }},
		{"peer ID garbage", func(b []byte) []byte { b[2] ^= 0xff; return b }},
		{"too many addrs", func(b []byte) []byte { b[addrCountAt] = MaxAddrs + 1; return b }},
		{"addr length zero", func(b []byte) []byte {
			binary.BigEndian.PutUint16(b[firstAddrLenAt:], 0)
			return b
		}},
		{"addr garbage", func(b []byte) []byte { b[firstAddrLenAt+2] = 0xff; return b }},
		{"expiry before issue", func(b []byte) []byte {
			copy(b[len(b)-8:], b[len(b)-16:len(b)-8])
			return b
		}},
		{"negative time", func(b []byte) []byte { b[len(b)-16] = 0x80; return b }},
		{"oversized", func(b []byte) []byte { return append(b, make([]byte, MaxAdvertSize)...) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := DecodeAdvert(tt.mod(bytes.Clone(good)))
			require.ErrorIs(t, err, ErrMalformed)
		})
	}
}

func TestAdvertLoad(t *testing.T) {
	a := Advert{Cores: 4, Queue: 3, Running: 3}
	assert.EqualValues(t, 1500, a.Load())
	a.Cores = 0
	assert.EqualValues(t, 6000, a.Load(), "zero cores count as one")
}

func TestChanged(t *testing.T) {
	base := Capacity{Cores: 4, Memory: 1000, Disk: 1000, Queue: 0, Running: 0, Price: 10, Runtimes: []string{"wasm"}}
	tests := []struct {
		name string
		mod  func(*Capacity)
		want bool
	}{
		{"same", func(*Capacity) {}, false},
		{"runtimes reordered", func(c *Capacity) { c.Runtimes = []string{"wasm", "wasm"} }, false},
		{"memory +5%", func(c *Capacity) { c.Memory = 1050 }, false},
		{"memory -20%", func(c *Capacity) { c.Memory = 800 }, true},
		{"disk +20%", func(c *Capacity) { c.Disk = 1200 }, true},
		{"cores", func(c *Capacity) { c.Cores = 8 }, true},
		{"price", func(c *Capacity) { c.Price = 11 }, true},
		{"runtime added", func(c *Capacity) { c.Runtimes = []string{"js", "wasm"} }, true},
		{"one task on four cores", func(c *Capacity) { c.Running = 1 }, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := base
			c.Runtimes = append([]string(nil), base.Runtimes...)
			tt.mod(&c)
			assert.Equal(t, tt.want, Changed(base, c, 0.1))
		})
	}
	big := Capacity{Cores: 64}
	moved := big
	moved.Queue = 3
	assert.False(t, Changed(big, moved, 0.1), "3 tasks on 64 cores is under 0.1 per core")
}
