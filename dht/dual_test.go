package dht

import (
	"context"
	"encoding/json"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	datastore "github.com/ipfs/go-datastore"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	mocknet "github.com/libp2p/go-libp2p/p2p/net/mock"
	ma "github.com/multiformats/go-multiaddr"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fog-compute/fog/store"
)

// startDHT starts a DHT in mode on a new mocknet peer and runs it until the
// test ends.
func startDHT(t *testing.T, mn mocknet.Mocknet, mode string, i int) *DHT {
	t.Helper()
	k := newKey(t)
	h, err := mn.AddPeer(k, mockAddr(i))
	require.NoError(t, err)
	db, err := store.Open(store.InMemoryConfig())
	require.NoError(t, err)
	cfg := TestConfig()
	cfg.Mode = mode
	d, err := New(context.Background(), cfg, Options{Host: h, Identity: k, Datastore: db.Datastore(store.PrefixDHT)})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = d.Run(ctx, func() {})
	}()
	t.Cleanup(func() {
		cancel()
		<-done
		d.Close()
		h.Close()
		db.Close()
	})
	return d
}

func serves(d *DHT, p protocol.ID) bool { return slices.Contains(d.h.Mux().Protocols(), p) }

// The tests on mocknet run in testing/synctest bubbles: the hosts, the DHTs
// and their stores live on the bubble's virtual clock, so that a wait for a
// routing table to fill cannot time out on a loaded machine.

// TestModeMatrix checks what each dht.mode makes of the two DHTs, on
// mocknet's loopback addresses (as on a LAN or one machine): which serve,
// under which protocol, and whether a peer in auto mode meets this node in
// the LAN DHT (the WAN one holds only publicly reachable peers).
func TestModeMatrix(t *testing.T) {
	tests := []struct {
		mode     string
		wan, lan string // Serving.Mode
	}{
		// no AutoNAT on mocknet: the WAN DHT stays a client
		{ModeAuto, ModeClient, ModeServer},
		{ModeServer, ModeServer, ModeServer},
		{ModeClient, ModeClient, ModeClient},
	}
	for _, tc := range tests {
		t.Run(tc.mode, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				mn := mocknet.New()
				t.Cleanup(func() { mn.Close() })
				d := startDHT(t, mn, tc.mode, 0)
				other := startDHT(t, mn, ModeAuto, 1)
				require.NoError(t, mn.LinkAll())
				_, err := mn.ConnectPeers(d.h.ID(), other.h.ID())
				require.NoError(t, err)

				st := d.Status()
				assert.Equal(t, Status{Mode: tc.mode, WAN: Serving{Mode: tc.wan}, LAN: Serving{Mode: tc.lan}},
					Status{Mode: st.Mode, WAN: Serving{Mode: st.WAN.Mode}, LAN: Serving{Mode: st.LAN.Mode}})
				assert.Equal(t, tc.wan == ModeServer, serves(d, "/fog/kad/1.0.0"), "WAN protocol handler")
				assert.Equal(t, tc.lan == ModeServer, serves(d, "/fog/lan/kad/1.0.0"), "LAN protocol handler")
				info := d.Table()
				assert.Equal(t, "/fog/kad/1.0.0", info.WAN.Protocol)
				assert.Equal(t, "/fog/lan/kad/1.0.0", info.LAN.Protocol)

				// the peer serves the LAN DHT: it enters our LAN table, never
				// the WAN one (its address is not public)
				require.Eventually(t, func() bool { return d.Status().LAN.Peers == 1 }, 10*time.Second, 10*time.Millisecond)
				assert.Zero(t, d.Status().WAN.Peers)
				// we enter its LAN table only if we serve
				if tc.lan == ModeServer {
					require.Eventually(t, func() bool { return other.Status().LAN.Peers == 1 }, 10*time.Second, 10*time.Millisecond)
				} else {
					assert.Zero(t, other.Status().LAN.Peers)
				}
				require.NoError(t, d.Health(context.Background()))
				require.NoError(t, other.Health(context.Background()))

				// records and provider records go through the LAN DHT
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				defer cancel()
				_, err = d.PutRecord(ctx, "motd", []byte("hi"))
				require.NoError(t, err)
				got, err := other.GetRecord(ctx, d.h.ID(), "motd")
				require.NoError(t, err)
				assert.Equal(t, "hi", string(got.Value))
				require.NoError(t, d.Provide(ctx, "k"))
				// ADD_PROVIDER has no answer: the record lands a moment later
				var ps []peer.AddrInfo
				require.Eventually(t, func() bool {
					ps, err = other.FindProviders(ctx, "k", 5)
					return err == nil && len(ps) == 1
				}, 10*time.Second, 10*time.Millisecond)
				assert.Equal(t, d.h.ID(), ps[0].ID)
				assert.NotEmpty(t, ps[0].Addrs, "a loopback-only provider keeps its loopback address")
			})
		})
	}
}

// TestHealth: an empty routing table is a fault only while a connected peer
// serves a DHT it belongs to; peers that serve neither are no sign of one.
func TestHealth(t *testing.T) { synctest.Test(t, testHealth) }

func testHealth(t *testing.T) {
	mn := mocknet.New()
	t.Cleanup(func() { mn.Close() })
	a := startDHT(t, mn, ModeClient, 0)
	b := startDHT(t, mn, ModeClient, 1)
	require.NoError(t, mn.LinkAll())
	_, err := mn.ConnectPeers(a.h.ID(), b.h.ID())
	require.NoError(t, err)
	// two clients: nobody serves, both tables stay empty, and that is fine
	// once a knows what b serves (identify is done)
	synctest.Wait()
	ps, err := a.h.Peerstore().GetProtocols(b.h.ID())
	require.NoError(t, err)
	require.NotEmpty(t, ps, "identify is done")
	assert.Zero(t, a.Table().Size)
	require.NoError(t, a.Health(context.Background()))

	s := startDHT(t, mn, ModeAuto, 2)
	require.NoError(t, mn.LinkAll())
	_, err = mn.ConnectPeers(a.h.ID(), s.h.ID())
	require.NoError(t, err)
	require.Eventually(t, func() bool { return a.Status().LAN.Peers == 1 }, 10*time.Second, 10*time.Millisecond)
	require.NoError(t, a.Health(context.Background()))
	// the server drops out of the table while still connected: unhealthy
	a.lan.kad.RoutingTable().RemovePeer(s.h.ID())
	err = a.Health(context.Background())
	require.Error(t, err)
	assert.Contains(t, err.Error(), "serves the lan DHT")
}

func TestLANAddrs(t *testing.T) {
	tests := []struct {
		name     string
		in, want []string
	}{
		{"loopback only: kept", []string{"/ip4/127.0.0.1/tcp/1", "/ip6/::1/udp/1/quic-v1"}, []string{"/ip4/127.0.0.1/tcp/1", "/ip6/::1/udp/1/quic-v1"}},
		{"loopback beside a LAN address: dropped", []string{"/ip4/127.0.0.1/tcp/1", "/ip4/192.168.1.5/tcp/1"}, []string{"/ip4/192.168.1.5/tcp/1"}},
		{"public kept", []string{"/ip4/127.0.0.1/tcp/1", "/ip4/203.0.113.9/tcp/1"}, []string{"/ip4/203.0.113.9/tcp/1"}},
		{"none", nil, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var in []ma.Multiaddr
			for _, s := range tc.in {
				in = append(in, ma.StringCast(s))
			}
			var got []string
			for _, a := range lanAddrs(in) {
				got = append(got, a.String())
			}
			assert.Equal(t, tc.want, got)
		})
	}
}

// TestLegacySnapshotSharedOut: the one-table snapshot of fog before the LAN
// DHT is shared out: peers with public addresses become the WAN DHT's first
// bootstrap peers (its diversity filter admits connected peers only), the
// others go back into the LAN table; on save, the two new snapshots replace
// it.
func TestLegacySnapshotSharedOut(t *testing.T) {
	pub, lan := mustID(t, newKey(t)), mustID(t, newKey(t))
	// a public address is needed for the WAN table (documentation ranges
	// count as unroutable); it is data only: the DHT is on mocknet, which
	// has no way out of the process
	legacy, err := json.Marshal([]savedPeer{
		{ID: pub.String(), Addrs: []string{"/ip4/1.2.3.4/tcp/4001"}},
		{ID: lan.String(), Addrs: []string{"/ip4/127.0.0.1/tcp/4001"}},
		{ID: "junk", Addrs: []string{"/ip4/127.0.0.1/tcp/4001"}},
	})
	require.NoError(t, err)
	db, err := store.Open(store.InMemoryConfig())
	require.NoError(t, err)
	defer db.Close()
	dstore := db.Datastore(store.PrefixDHT)
	ctx := context.Background()
	require.NoError(t, dstore.Put(ctx, legacySnapshotKey, legacy))

	mn := mocknet.New()
	defer mn.Close()
	k := newKey(t)
	h, err := mn.AddPeer(k, mockAddr(0))
	require.NoError(t, err)
	defer h.Close()
	d, err := New(ctx, TestConfig(), Options{Host: h, Identity: k, Datastore: dstore})
	require.NoError(t, err)
	defer d.Close()
	info := d.Table()
	assert.Equal(t, 1, info.WAN.Restored)
	assert.Equal(t, 1, info.LAN.Restored)
	assert.Equal(t, []peer.ID{lan}, d.lan.kad.RoutingTable().ListPeers())
	assert.Equal(t, "/ip4/1.2.3.4/tcp/4001", h.Peerstore().Addrs(pub)[0].String())

	require.NoError(t, d.SaveSnapshot(ctx))
	_, err = dstore.Get(ctx, legacySnapshotKey)
	require.ErrorIs(t, err, datastore.ErrNotFound, "the legacy snapshot is replaced")
	_, err = dstore.Get(ctx, lanSnapshotKey)
	require.NoError(t, err)
	_, err = dstore.Get(ctx, wanSnapshotKey)
	require.ErrorIs(t, err, datastore.ErrNotFound, "an empty table saves nothing")
}
