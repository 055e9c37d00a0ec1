package gossip

import (
	"crypto/rand"
	"sync"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
	"github.com/stretchr/testify/require"
)

// settableClock is a settable clock for rules that depend on time.
type settableClock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *settableClock { return &settableClock{t: time.UnixMilli(1_800_000_000_000)} }

func (c *settableClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *settableClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newKey(t testing.TB) (crypto.PrivKey, peer.ID) {
	t.Helper()
	k, _, err := crypto.GenerateEd25519Key(rand.Reader)
	require.NoError(t, err)
	id, err := peer.IDFromPrivateKey(k)
	require.NoError(t, err)
	return k, id
}

func newPeerID(t testing.TB) peer.ID {
	_, id := newKey(t)
	return id
}

// testAdvert returns a valid advert of p issued at now.
func testAdvert(p peer.ID, seq uint64, now time.Time) Advert {
	issued := time.UnixMilli(now.UnixMilli())
	return Advert{
		Peer: p,
		Addrs: []ma.Multiaddr{
			ma.StringCast("/ip4/192.0.2.7/tcp/4001"),
			ma.StringCast("/ip6/2001:db8::7/udp/4001/quic-v1"),
		},
		Cores:    4,
		Memory:   8 << 30,
		Disk:     100 << 30,
		Queue:    1,
		Running:  2,
		Price:    1500,
		Runtimes: []string{RuntimeWasm},
		Version:  "fog/0.1.0",
		Seq:      seq,
		Issued:   issued,
		Expires:  issued.Add(90 * time.Second),
	}
}
