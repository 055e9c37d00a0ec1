package files

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	blocks "github.com/ipfs/go-block-format"
	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	mocknet "github.com/libp2p/go-libp2p/p2p/net/mock"
	ma "github.com/multiformats/go-multiaddr"
	"github.com/stretchr/testify/require"

	"github.com/fog-compute/fog/store"
)

// testNet is a mocknet whose hosts are all linked (not connected: gets
// connect to the providers they are given or find).
type testNet struct {
	mn    mocknet.Mocknet
	hosts int
	// memory keeps the nodes' blocks in memory rather than in block files
	// on disk.
	memory bool
}

func newTestNet(t testing.TB) *testNet {
	return newCappedNet(t, 0)
}

// newCappedNet is a testNet whose links carry at most bps bytes a second
// each way (0: no cap).
func newCappedNet(t testing.TB, bps float64) *testNet {
	tn := &testNet{mn: mocknet.New()}
	tn.mn.SetLinkDefaults(mocknet.LinkOptions{Bandwidth: bps})
	t.Cleanup(func() {
		// Closing the connections first resets their streams, which ends
		// the DHT's and Bitswap's handlers still reading them (mocknet's
		// Close alone left one now and then for goleak to find).
		for _, n := range tn.mn.Nets() {
			for _, c := range n.Conns() {
				_ = c.Close()
			}
		}
		tn.mn.Close()
	})
	return tn
}

// drainLinks empties the burst of every capped link: mocknet lets a link
// idle for a while send up to a second's worth of bytes at once, so a
// timed get that follows a pause (the Remove between two runs, a source
// that finished early) would start above the cap.
func (tn *testNet) drainLinks() {
	for _, byPeer := range tn.mn.Links() {
		for _, ls := range byPeer {
			for l := range ls {
				l.SetOptions(l.Options()) // resets the allowance to 0
			}
		}
	}
}

func (tn *testNet) host(t testing.TB) host.Host {
	t.Helper()
	k, _, err := crypto.GenerateEd25519Key(nil)
	require.NoError(t, err)
	tn.hosts++
	h, err := tn.mn.AddPeer(k, ma.StringCast(fmt.Sprintf("/ip4/127.2.%d.%d/tcp/4001", tn.hosts/250, tn.hosts%250+1)))
	require.NoError(t, err)
	require.NoError(t, tn.mn.LinkAll())
	t.Cleanup(func() { h.Close() })
	return h
}

// openDB opens a real Badger store: on disk in dir, or in memory if dir is
// "".
func openDB(t testing.TB, dir string) *store.DB {
	t.Helper()
	cfg := store.InMemoryConfig()
	if dir != "" {
		cfg = store.DefaultConfig(dir)
	}
	db, err := store.Open(cfg)
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	return db
}

// node is a Service on a host of tn over its own Badger store.
func (tn *testNet) node(t testing.TB, cfg Config, o Options) *Service {
	t.Helper()
	if o.Host == nil {
		o.Host = tn.host(t)
	}
	if o.Datastore == nil {
		o.Datastore = openDB(t, "").Datastore(store.PrefixFiles)
	}
	if o.Dir == "" && !tn.memory {
		o.Dir = t.TempDir() // block files on disk, as a node keeps them
	}
	s, err := New(cfg, o)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, s.Close()) })
	return s
}

func info(s *Service) peer.AddrInfo { return peer.AddrInfo{ID: s.h.ID(), Addrs: s.h.Addrs()} }

// content returns n pseudo-random bytes drawn from seed.
func content(seed uint64, n int) []byte {
	r := rand.New(rand.NewChaCha8([32]byte{byte(seed), byte(seed >> 8), 7}))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// writeFile writes data to a file in a temporary directory.
func writeFile(t testing.TB, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	require.NoError(t, os.WriteFile(p, data, 0o600))
	return p
}

func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func readAll(t testing.TB, s *Service, ctx context.Context, p Pin) []byte {
	t.Helper()
	var buf bytes.Buffer
	require.NoError(t, s.Export(ctx, p.Root, &buf))
	return buf.Bytes()
}

func readFileBytes(p string) ([]byte, error) { return os.ReadFile(p) }

// mustBlock makes a dag-pb block of b under its own CIDv1.
func mustBlock(t testing.TB, b []byte) blocks.Block {
	t.Helper()
	c, err := cidBuilder.Sum(b)
	if err != nil {
		t.Fatal(err)
	}
	blk, err := blocks.NewBlockWithCid(b, c)
	if err != nil {
		t.Fatal(err)
	}
	return blk
}

func sharedOnT(t testing.TB, data []byte, s *Service) cid.Cid {
	p, err := s.ShareReader(context.Background(), bytes.NewReader(data), "f", int64(len(data)), nil)
	require.NoError(t, err)
	return p.Root
}
