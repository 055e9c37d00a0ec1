package p2p

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	ds "github.com/ipfs/go-datastore"
	dssync "github.com/ipfs/go-datastore/sync"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/event"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	ma "github.com/multiformats/go-multiaddr"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/fog-compute/fog/internal/clock"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// Process-wide workers started once by libp2p's dependencies.
		goleak.IgnoreTopFunction("github.com/ipfs/go-log/v2/writer.(*MirrorWriter).logRoutine"),
		goleak.IgnoreTopFunction("github.com/libp2p/go-libp2p/p2p/transport/tcpreuse.(*ConnMgr).useReuseport"),
		goleak.IgnoreAnyFunction("github.com/libp2p/go-flow-metrics.(*sweeper).run"),
	)
}

type testNode struct {
	*Host
	store ds.Batching
}

func newTestHost(t *testing.T, mutate func(*Config)) *testNode {
	t.Helper()
	cfg := TestConfig()
	if mutate != nil {
		mutate(&cfg)
	}
	priv, _, err := crypto.GenerateEd25519Key(nil)
	require.NoError(t, err)
	store := dssync.MutexWrap(ds.NewMapDatastore())
	bans, err := NewBanList(context.Background(), store, nil)
	require.NoError(t, err)
	h, err := New(context.Background(), cfg, Options{Identity: priv, Bans: bans})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, h.Close()) })
	return &testNode{Host: h, store: store}
}

func p2pAddr(h *Host) string {
	return fmt.Sprintf("%s/p2p/%s", h.Addrs()[0], h.ID())
}

func TestIdentity(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "identity.key")

	_, err := LoadIdentity(path)
	require.ErrorIs(t, err, ErrKeyMissing)
	assert.Contains(t, err.Error(), path)

	priv, err := CreateIdentity(path)
	require.NoError(t, err)
	st, err := os.Stat(path)
	require.NoError(t, err)
	assert.Equal(t, KeyFileMode, st.Mode().Perm())

	_, err = CreateIdentity(path)
	require.ErrorIs(t, err, ErrKeyExists)

	got, err := LoadIdentity(path)
	require.NoError(t, err)
	assert.True(t, priv.Equals(got))

	tests := []struct {
		name  string
		setup func(t *testing.T, p string)
		want  error
	}{
		{"group readable", func(t *testing.T, p string) { require.NoError(t, os.Chmod(p, 0o640)) }, ErrKeyPermissions},
		{"world readable", func(t *testing.T, p string) { require.NoError(t, os.Chmod(p, 0o604)) }, ErrKeyPermissions},
		{"garbage", func(t *testing.T, p string) { require.NoError(t, os.WriteFile(p, []byte("not a key"), 0o600)) }, ErrKeyCorrupt},
		{"empty", func(t *testing.T, p string) { require.NoError(t, os.WriteFile(p, nil, 0o600)) }, ErrKeyCorrupt},
		{"truncated", func(t *testing.T, p string) {
			raw, err := crypto.MarshalPrivateKey(priv)
			require.NoError(t, err)
			require.NoError(t, os.WriteFile(p, raw[:len(raw)/2], 0o600))
		}, ErrKeyCorrupt},
		{"secp256k1", func(t *testing.T, p string) {
			k, _, err := crypto.GenerateSecp256k1Key(nil)
			require.NoError(t, err)
			raw, err := crypto.MarshalPrivateKey(k)
			require.NoError(t, err)
			require.NoError(t, os.WriteFile(p, raw, 0o600))
		}, ErrKeyCorrupt},
		{"directory", func(t *testing.T, p string) { require.NoError(t, os.Mkdir(p, 0o700)) }, ErrKeyCorrupt},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "identity.key")
			raw, err := crypto.MarshalPrivateKey(priv)
			require.NoError(t, err)
			if tc.name != "directory" {
				require.NoError(t, os.WriteFile(p, raw, 0o600))
			}
			tc.setup(t, p)
			_, err = LoadIdentity(p)
			require.ErrorIs(t, err, tc.want)
			assert.Contains(t, err.Error(), p)
		})
	}
}

func TestConfigValidate(t *testing.T) {
	goodPeer := "/ip4/127.0.0.1/tcp/4001/p2p/12D3KooWGzBtjB3ccXGGzQ1nXwhQxxnYMrGnX2Lqws2hSYUjPTnp"
	tests := []struct {
		name   string
		mutate func(*Config)
		want   string // substring of the error, "" for valid
	}{
		{"default", func(*Config) {}, ""},
		{"good bootstrap", func(c *Config) { c.Bootstrap = []string{goodPeer} }, ""},
		{"bootstrap not a multiaddr", func(c *Config) { c.Bootstrap = []string{goodPeer, "nonsense"} }, `Bootstrap[1] "nonsense"`},
		{"bootstrap without peer id", func(c *Config) { c.Bootstrap = []string{"/ip4/1.2.3.4/tcp/4001"} }, `Bootstrap[0] "/ip4/1.2.3.4/tcp/4001"`},
		{"bootstrap only peer id", func(c *Config) {
			c.Bootstrap = []string{"/p2p/12D3KooWGzBtjB3ccXGGzQ1nXwhQxxnYMrGnX2Lqws2hSYUjPTnp"}
		}, "no transport address"},
		{"bad listen", func(c *Config) { c.ListenAddrs = []string{"/ip4/127.0.0.1/tcp/0", "/ip4/999.1.1.1/tcp/1"} }, `ListenAddrs[1] "/ip4/999.1.1.1/tcp/1"`},
		{"no listen", func(c *Config) { c.ListenAddrs = nil }, "ListenAddrs: no address"},
		{"conn marks", func(c *Config) { c.ConnHigh = c.ConnLow }, "ConnHigh"},
		{"conn high at the inbound limit", func(c *Config) { c.ConnHigh = c.MaxInboundConns }, "ConnHigh 256 must be below MaxInboundConns 256"},
		{"no inbound", func(c *Config) { c.MaxInboundConns = 0 }, "MaxInboundConns 0"},
		{"no conns per peer", func(c *Config) { c.ConnsPerPeer = 0 }, "ConnsPerPeer 0"},
		{"no conns per ip", func(c *Config) { c.ConnsPerIP = 0 }, "ConnsPerIP 0"},
		{"bad exempt", func(c *Config) { c.ConnLimitExempt = []string{"127.0.0.0/8", "localhost"} }, `ConnLimitExempt[1] "localhost"`},
		{"no exempt", func(c *Config) { c.ConnLimitExempt = nil }, ""},
		{"bad protocol", func(c *Config) { c.Protocols = []ProtocolLimit{{ID: "/x", Streams: 1, StreamsPerPeer: 2}} }, `Protocols[0] "/x"`},
		{"backoff", func(c *Config) { c.BackoffMax = c.BackoffMin / 2 }, "BackoffMax"},
		{"dial timeout", func(c *Config) { c.DialTimeout = 0 }, "DialTimeout"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := TestConfig()
			tc.mutate(&c)
			err := c.Validate()
			if tc.want == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, ErrConfig)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

func TestParseBootstrapMergesPeer(t *testing.T) {
	id := "12D3KooWGzBtjB3ccXGGzQ1nXwhQxxnYMrGnX2Lqws2hSYUjPTnp"
	got, err := ParseBootstrap([]string{
		"/ip4/127.0.0.1/tcp/1/p2p/" + id,
		"/ip4/127.0.0.1/udp/1/quic-v1/p2p/" + id,
	})
	require.NoError(t, err)
	require.Len(t, got, 1)
	assert.Len(t, got[0].Addrs, 2)
}

func TestBootstrapConnectsAndRedials(t *testing.T) {
	a := newTestHost(t, nil)
	b := newTestHost(t, func(c *Config) { c.Bootstrap = []string{p2pAddr(a.Host)} })
	connected := func() bool { return b.Network().Connectedness(a.ID()) == network.Connected }
	// Both ends: the listener registers the connection after the dialer.
	awaitConns(t, 10*time.Second, func() bool {
		return connected() && a.Network().Connectedness(b.ID()) == network.Connected
	}, a, b)

	// A drops B; B's bootstrapper notices and dials again. B's own
	// events say when it saw the drop and the new connection (polling
	// could see the old connection before B notices that it closed).
	sub, err := b.EventBus().Subscribe(new(event.EvtPeerConnectednessChanged))
	require.NoError(t, err)
	defer sub.Close()
	require.NoError(t, a.Network().ClosePeer(b.ID()))
	dropped := false
	deadline := time.After(10 * time.Second)
	for reconnected := false; !reconnected; {
		select {
		case e := <-sub.Out():
			ev := e.(event.EvtPeerConnectednessChanged)
			if ev.Peer != a.ID() {
				continue
			}
			if ev.Connectedness != network.Connected {
				dropped = true
			} else if dropped {
				reconnected = true
			}
		case <-deadline:
			t.Fatalf("B did not reconnect to A (saw the drop: %v)", dropped)
		}
	}
	require.True(t, connected())
	peers := b.Bootstrap.Peers()
	require.Len(t, peers, 1)
	assert.True(t, peers[0].Connected)
}

func TestBootstrapUnreachableIsNotFatal(t *testing.T) {
	// A peer that exists but does not listen where we say it does.
	gone := newTestHost(t, nil)
	addr := p2pAddr(gone.Host)
	require.NoError(t, gone.Close())

	// The bootstrapper makes a backoff timer on its clock after each
	// failed dial, once it has recorded the failure.
	clk := timerClock{Clock: clock.Real(), made: make(chan time.Duration, 1)}
	b := newTestHost(t, func(c *Config) { c.Bootstrap, c.Clock = []string{addr}, clk })
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	var waits []time.Duration
	for len(waits) < 2 {
		select {
		case d := <-clk.made:
			waits = append(waits, d)
		case <-ctx.Done():
			t.Fatalf("the bootstrapper backed off %d times, want 2", len(waits))
		}
	}
	ps := b.Bootstrap.Peers()
	require.Len(t, ps, 1)
	assert.GreaterOrEqual(t, ps[0].Attempts, 2, "the bootstrapper keeps retrying")
	assert.NotEmpty(t, ps[0].LastError)
	assert.False(t, ps[0].NextDial.IsZero(), "with a backoff")
}

func TestFiveNodesThroughBootstrap(t *testing.T) {
	first := newTestHost(t, nil)
	var others []*testNode
	for range 4 {
		others = append(others, newTestHost(t, func(c *Config) { c.Bootstrap = []string{p2pAddr(first.Host)} }))
	}
	hosts := []host.Host{first}
	for _, o := range others {
		hosts = append(hosts, o)
	}
	awaitConns(t, 15*time.Second, func() bool {
		if len(first.Network().Peers()) != 4 {
			return false
		}
		for _, o := range others {
			if o.Network().Connectedness(first.ID()) != network.Connected {
				return false
			}
		}
		return true
	}, hosts...)
}

func TestBanListGatesAndPersists(t *testing.T) {
	ctx := context.Background()
	a := newTestHost(t, nil)
	b := newTestHost(t, nil)

	_, err := a.Bans.Ban(ctx, b.ID(), "test", 0)
	require.NoError(t, err)
	assert.True(t, a.Bans.IsBanned(b.ID()))

	// Outbound dials to a banned peer are refused by the gater.
	err = a.Connect(ctx, peer.AddrInfo{ID: b.ID(), Addrs: b.Addrs()})
	require.Error(t, err)
	// Inbound connections from a banned peer are refused once secured.
	err = b.Connect(ctx, peer.AddrInfo{ID: a.ID(), Addrs: a.Addrs()})
	if err == nil {
		awaitConns(t, 5*time.Second, func() bool {
			return a.Network().Connectedness(b.ID()) != network.Connected
		}, a)
	}

	// The ban survives a reload from the same datastore.
	reloaded, err := NewBanList(ctx, a.store, nil)
	require.NoError(t, err)
	assert.True(t, reloaded.IsBanned(b.ID()))
	require.Len(t, reloaded.List(), 1)
	assert.Equal(t, "test", reloaded.List()[0].Reason)

	require.NoError(t, reloaded.Unban(ctx, b.ID()))
	again, err := NewBanList(ctx, a.store, nil)
	require.NoError(t, err)
	assert.False(t, again.IsBanned(b.ID()))
}

func TestBanExpires(t *testing.T) {
	bl, err := NewBanList(context.Background(), dssync.MutexWrap(ds.NewMapDatastore()), nil)
	require.NoError(t, err)
	now := time.Unix(1000, 0)
	bl.now = func() time.Time { return now }
	id := peer.ID("x")
	_, err = bl.Ban(context.Background(), "", "bad", time.Minute)
	require.Error(t, err, "empty peer id is refused")
	id, err = peer.Decode("12D3KooWGzBtjB3ccXGGzQ1nXwhQxxnYMrGnX2Lqws2hSYUjPTnp")
	require.NoError(t, err)
	_, err = bl.Ban(context.Background(), id, "bad", time.Minute)
	require.NoError(t, err)
	assert.True(t, bl.IsBanned(id))
	now = now.Add(time.Minute)
	assert.False(t, bl.IsBanned(id))
	assert.Empty(t, bl.List())
}

func TestProtocolNegotiatesHighestCommon(t *testing.T) {
	v := func(s string) Version {
		v, err := ParseVersion(s)
		require.NoError(t, err)
		return v
	}
	tests := []struct {
		name           string
		server, client []Version
		want           string
	}{
		{"same", []Version{v("1.0.0"), v("1.1.0")}, []Version{v("1.1.0"), v("1.0.0")}, "/fog/echo/1.1.0"},
		{"old client", []Version{v("1.0.0"), v("1.1.0")}, []Version{v("1.0.0")}, "/fog/echo/1.0.0"},
		{"old server", []Version{v("1.0.0")}, []Version{v("1.0.0"), v("2.0.0")}, "/fog/echo/1.0.0"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := newTestHost(t, nil)
			cli := newTestHost(t, nil)
			sp := MustProtocol("echo", tc.server...)
			cp := MustProtocol("echo", tc.client...)
			served := make(chan string, 1)
			_, err := sp.Handle(srv.Host, testLimits(), func(s network.Stream) {
				// the handler learns the negotiated version
				ver, ok := sp.VersionOf(s.Protocol())
				served <- fmt.Sprint(ver, ok)
				s.Close()
			})
			require.NoError(t, err)
			require.NoError(t, cli.Connect(context.Background(), srv.AddrInfo()))
			s, err := cp.Open(context.Background(), cli.Host, srv.ID())
			require.NoError(t, err)
			assert.Equal(t, tc.want, string(s.Protocol()))
			_, err = s.Write([]byte{0}) // the handler runs once the stream carries data
			require.NoError(t, err)
			select {
			case got := <-served:
				assert.Equal(t, strings.TrimPrefix(tc.want, "/fog/echo/")+" true", got)
			case <-time.After(10 * time.Second):
				t.Fatal("the handler did not run")
			}
			s.Close()
		})
	}
	_, ok := MustProtocol("echo", v("1.0.0")).VersionOf("/fog/echo/2.0.0")
	assert.False(t, ok)
	_, err := NewProtocol("Bad Name", v("1.0.0"))
	require.Error(t, err)
	_, err = NewProtocol("ok")
	require.Error(t, err)
	for _, bad := range []string{"chat/", "/chat", "chat//sync", "chat/Sync", "chat/1"} {
		_, err := NewProtocol(bad, v("1.0.0"))
		assert.Error(t, err, bad)
	}
	assert.Equal(t, "/fog/chat/sync/1.0.0", string(MustProtocol("chat/sync", v("1.0.0")).ID(v("1.0.0"))))
	for _, bad := range []string{"1.0", "1.0.x", "01.0.0", "-1.0.0", ""} {
		_, err := ParseVersion(bad)
		assert.Error(t, err, bad)
	}
}

// TestOpenAccepted: OpenAccepted returns once the peer took the stream —
// its handler runs before anything is written (Open's stream, once the
// peer is known to speak the protocol, reaches the handler only with the
// first write) — on the highest common version, and fails on a peer that
// speaks none.
func TestOpenAccepted(t *testing.T) {
	v1, v2 := Version{Major: 1}, Version{Major: 1, Minor: 1}
	srv := newTestHost(t, nil)
	cli := newTestHost(t, nil)
	served := make(chan protocol.ID, 1)
	_, err := MustProtocol("echo", v1, v2).Handle(srv.Host, testLimits(), func(s network.Stream) {
		served <- s.Protocol()
		_, _ = io.Copy(io.Discard, s)
		s.Close()
	})
	require.NoError(t, err)
	require.NoError(t, cli.Connect(context.Background(), srv.AddrInfo()))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// Identify has run: Open would now send the header with the first write.
	s, err := MustProtocol("echo", v1).Open(ctx, cli.Host, srv.ID())
	require.NoError(t, err)
	require.NoError(t, s.Reset())

	s, err = MustProtocol("echo", v2, v1).OpenAccepted(ctx, cli.Host, srv.ID())
	require.NoError(t, err)
	assert.Equal(t, "/fog/echo/1.1.0", string(s.Protocol()))
	select {
	case got := <-served:
		assert.Equal(t, s.Protocol(), got)
	case <-ctx.Done():
		t.Fatal("the handler did not run before the first write")
	}
	_, err = s.Write([]byte{1})
	require.NoError(t, err)
	require.NoError(t, s.Close())

	_, err = MustProtocol("other", v1).OpenAccepted(ctx, cli.Host, srv.ID())
	require.Error(t, err)
	_, err = MustProtocol("echo", Version{Major: 2}).OpenAccepted(ctx, cli.Host, srv.ID())
	require.Error(t, err)
}

// A second host told to listen on a TCP or UDP port another host holds
// fails with ErrAddrInUse: libp2p binds TCP with SO_REUSEPORT, so without
// the check the second one would start and share the first one's port.
func TestListenAddrInUse(t *testing.T) {
	first := newTestHost(t, nil)
	for _, proto := range []int{ma.P_TCP, ma.P_UDP} {
		var taken string
		for _, a := range first.Addrs() {
			if _, err := a.ValueForProtocol(proto); err == nil {
				taken = a.String()
				break
			}
		}
		require.NotEmpty(t, taken, "the test host listens on TCP and QUIC")
		t.Run(taken, func(t *testing.T) {
			cfg := TestConfig()
			cfg.ListenAddrs = []string{taken}
			priv, _, err := crypto.GenerateEd25519Key(nil)
			require.NoError(t, err)
			bans, err := NewBanList(context.Background(), dssync.MutexWrap(ds.NewMapDatastore()), nil)
			require.NoError(t, err)
			h, err := New(context.Background(), cfg, Options{Identity: priv, Bans: bans})
			if err == nil {
				h.Close()
			}
			require.ErrorIs(t, err, ErrAddrInUse)
			assert.Contains(t, err.Error(), taken)
		})
	}
}
