package p2p

import (
	"context"
	"errors"
	"fmt"
	"github.com/fog-compute/fog/internal/await"
	"io"
	"net/netip"
	"testing"
	"testing/synctest"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	mocknet "github.com/libp2p/go-libp2p/p2p/net/mock"
	ma "github.com/multiformats/go-multiaddr"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fog-compute/fog/p2p/p2ptest"
)

func testLimits() Limits {
	return Limits{Streams: 16, StreamsPerPeer: 4, Idle: 5 * time.Second, Lifetime: time.Minute}
}

func TestLimitsValidate(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*Limits)
		want   string
	}{
		{"good", func(*Limits) {}, ""},
		{"no streams", func(l *Limits) { l.Streams = 0 }, "Streams 0"},
		{"per peer above all", func(l *Limits) { l.StreamsPerPeer = l.Streams + 1 }, "StreamsPerPeer"},
		{"no idle", func(l *Limits) { l.Idle = 0 }, "Idle"},
		{"lifetime below idle", func(l *Limits) { l.Lifetime = l.Idle / 2 }, "Lifetime"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l := testLimits()
			tc.mutate(&l)
			err := l.Validate()
			if tc.want == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, ErrLimits)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

// hostPair builds a server and two clients, connected, on real TCP hosts
// (yamux streams, which honour deadlines) or on mocknet (whose streams
// ignore them).
// bubbled runs f in a testing/synctest bubble on mocknet, whose streams
// block durably, so that the deadlines pass on the bubble's fake clock
// without the test waiting for them; on TCP, whose reads are not durably
// blocking, f runs on the real clock.
func bubbled(kind string, f func(t *testing.T)) func(t *testing.T) {
	if kind != "mocknet" {
		return f
	}
	return func(t *testing.T) { synctest.Test(t, f) }
}

func hostPair(t *testing.T, kind string) (srv host.Host, clients []host.Host) {
	t.Helper()
	switch kind {
	case "tcp":
		srv = newTestHost(t, nil).Host
		for range 2 {
			clients = append(clients, newTestHost(t, nil).Host)
		}
	case "mocknet":
		mn := mocknet.New()
		t.Cleanup(func() { mn.Close() })
		add := func(i int) host.Host {
			k, _, err := crypto.GenerateEd25519Key(nil)
			require.NoError(t, err)
			h, err := mn.AddPeer(k, ma.StringCast(fmt.Sprintf("/ip4/127.0.0.1/tcp/%d", 4001+i)))
			require.NoError(t, err)
			return h
		}
		srv = add(0)
		clients = []host.Host{add(1), add(2)}
		require.NoError(t, mn.LinkAll())
	}
	for _, c := range clients {
		require.NoError(t, c.Connect(context.Background(), peer.AddrInfo{ID: srv.ID(), Addrs: srv.Addrs()}))
	}
	return srv, clients
}

// TestHandleEnforcesLimits opens more streams than the limits allow, from
// two peers, and keeps them silent: the ones beyond the limits are refused
// at once with the protocol's busy message, and every admitted one is
// reset by the idle deadline, which ends its handler's blocked Read — on
// yamux and on mocknet alike.
func TestHandleEnforcesLimits(t *testing.T) {
	for _, kind := range []string{"tcp", "mocknet"} {
		t.Run(kind, bubbled(kind, func(t *testing.T) {
			srv, clients := hostPair(t, kind)
			p := MustProtocol("silent", Version{Major: 1})
			ended := make(chan error, 64)
			lim := Limits{
				Streams: 6, StreamsPerPeer: 4, Idle: time.Second, Lifetime: time.Minute,
				Refuse: func(st network.Stream) { _, _ = st.Write([]byte("busy")) },
			}
			server, err := p.Handle(srv, lim, func(st network.Stream) {
				_, err := io.ReadAll(st) // blocks: the peer never writes again
				ended <- err
			})
			require.NoError(t, err)
			t.Cleanup(func() { p.Unhandle(srv) })

			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			// open writes the protocol's first byte (so that the handler
			// runs) and returns what the server says before it ends the
			// stream.
			type answer struct {
				said string
				err  error
			}
			answers := make(chan answer, 16)
			open := func(c host.Host) {
				st, err := p.Open(ctx, c, srv.ID())
				require.NoError(t, err)
				_, err = st.Write([]byte{1})
				require.NoError(t, err)
				go func() {
					b, err := io.ReadAll(st)
					st.Reset()
					answers <- answer{string(b), err}
				}()
			}
			for range 6 {
				open(clients[0]) // 4 served, 2 beyond StreamsPerPeer
			}
			for range 3 {
				open(clients[1]) // 2 served, 1 beyond Streams
			}
			refused, reset := 0, 0
			for range 9 {
				select {
				case a := <-answers:
					if a.said == "busy" && a.err == nil {
						refused++
					} else {
						assert.Empty(t, a.said)
						reset++
					}
				case <-ctx.Done():
					t.Fatalf("streams still open: %d refused, %d reset; server %+v", refused, reset, server.Stats())
				}
			}
			assert.Equal(t, 3, refused, "streams beyond the limits get the busy message")
			assert.Equal(t, 6, reset, "silent streams are reset by the idle deadline")
			for range 6 {
				select {
				case err := <-ended:
					require.Error(t, err, "the handler's Read ends with the reset")
				case <-ctx.Done():
					t.Fatal("a handler is still blocked in Read")
				}
			}
			await.Until(t, 5*time.Second, server.Changed, func() bool { return server.Stats().Serving == 0 })
			st := server.Stats()
			assert.Equal(t, ServerStats{Served: 6, Refused: 3, TimedOut: 6}, st)
		}))
	}
}

// TestHandleLifetimeAndTouch: a stream that keeps moving bytes is reset at
// its lifetime, not before; Touch keeps a quiet stream from its idle
// deadline.
func TestHandleLifetimeAndTouch(t *testing.T) {
	for _, kind := range []string{"tcp", "mocknet"} {
		t.Run(kind, bubbled(kind, func(t *testing.T) {
			srv, clients := hostPair(t, kind)
			p := MustProtocol("chatty", Version{Major: 1})
			const idle = 200 * time.Millisecond
			lifetime := 5 * idle
			type result struct {
				lived time.Duration
				err   error
			}
			results := make(chan result, 2)
			_, err := p.Handle(srv, Limits{Streams: 4, StreamsPerPeer: 4, Idle: idle, Lifetime: lifetime}, func(st network.Stream) {
				start := time.Now()
				var b [1]byte
				if _, err := io.ReadFull(st, b[:]); err != nil {
					results <- result{err: err}
					return
				}
				if b[0] == 't' {
					// Quiet for three idle periods, kept by Touch, then
					// answer.
					quiet := time.NewTimer(3 * idle)
					tick := time.NewTicker(idle / 4)
					defer tick.Stop()
					for wait := true; wait; {
						select {
						case <-tick.C:
							Touch(st)
						case <-quiet.C:
							wait = false
						}
					}
					_, err := st.Write([]byte("alive"))
					_ = st.Close()
					results <- result{time.Since(start), err}
					return
				}
				// Write every idle/4 until the stream is reset.
				tick := time.NewTicker(idle / 4)
				defer tick.Stop()
				for range tick.C {
					if _, err := st.Write([]byte{'.'}); err != nil {
						results <- result{time.Since(start), err}
						return
					}
				}
			})
			require.NoError(t, err)
			t.Cleanup(func() { p.Unhandle(srv) })
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()

			chatty, err := p.Open(ctx, clients[0], srv.ID())
			require.NoError(t, err)
			_, err = chatty.Write([]byte{'c'})
			require.NoError(t, err)
			go func() { _, _ = io.Copy(io.Discard, chatty); chatty.Reset() }()
			select {
			case r := <-results:
				require.Error(t, r.err, "the chatty stream is reset")
				assert.GreaterOrEqual(t, r.lived, lifetime, "not before its lifetime")
			case <-ctx.Done():
				t.Fatal("the chatty stream outlived its lifetime")
			}

			quiet, err := p.Open(ctx, clients[1], srv.ID())
			require.NoError(t, err)
			_, err = quiet.Write([]byte{'t'})
			require.NoError(t, err)
			b, err := io.ReadAll(quiet)
			require.NoError(t, err, "Touch kept the quiet stream")
			assert.Equal(t, "alive", string(b))
			select {
			case r := <-results:
				require.NoError(t, r.err)
				assert.Greater(t, r.lived, idle)
			case <-ctx.Done():
				t.Fatal("no result")
			}
			quiet.Close()
		}))
	}
}

// TestHandleTagsPeers: a peer that opened a fog protocol, or that this
// node opened one to, is tagged, so that trimming closes the connections
// of the others first.
func TestHandleTagsPeers(t *testing.T) {
	fast := func(c *Config) { c.ConnLow, c.ConnHigh, c.ConnGrace = 2, 3, 0 }
	srv := newTestHost(t, fast)
	var others []*testNode
	for range 5 {
		others = append(others, newTestHost(t, nil))
	}
	p := MustProtocol("useful", Version{Major: 1})
	readOne := func(st network.Stream) {
		_, _ = st.Read(make([]byte, 1))
		_ = st.Close()
	}
	server, err := p.Handle(srv.Host, testLimits(), readOne)
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for _, o := range others {
		require.NoError(t, o.Connect(ctx, srv.AddrInfo()))
	}
	// others[0] uses the server; the server uses others[1].
	_, err = p.Handle(others[1].Host, testLimits(), readOne)
	require.NoError(t, err)
	st, err := p.Open(ctx, others[0].Host, srv.ID())
	require.NoError(t, err)
	_, err = st.Write([]byte{1})
	require.NoError(t, err)
	_, _ = io.ReadAll(st)
	st2, err := p.Open(ctx, srv.Host, others[1].ID())
	require.NoError(t, err)
	_, err = st2.Write([]byte{1})
	require.NoError(t, err)
	_, _ = io.ReadAll(st2)
	await.Until(t, 5*time.Second, server.Changed, func() bool { // tagged before the stream counts
		ti := srv.ConnManager().GetTagInfo(others[0].ID())
		return ti != nil && ti.Tags["fog-useful"] == TagValue
	})
	assert.Equal(t, TagValue, srv.ConnManager().GetTagInfo(others[1].ID()).Tags["fog-useful"])

	srv.ConnManager().TrimOpenConns(ctx)
	connected := func(o *testNode) bool { return srv.Network().Connectedness(o.ID()) == network.Connected }
	assert.True(t, connected(others[0]), "the peer that used a fog protocol is kept")
	assert.True(t, connected(others[1]), "the peer this node used is kept")
	for _, o := range others[2:] {
		assert.False(t, connected(o), "idle peers are trimmed first")
	}
}

// floodFrom is the source address of floods in tests: another loopback
// address than the honest hosts' 127.0.0.1, so that a per-IP limit tells
// them apart.
var floodFrom = netip.MustParseAddr("127.0.0.2")

// TestConnsPerIP floods a host with connections from one address, each
// under its own identity: with the per-IP limit applied (loopback is
// exempt by default, so the test clears the exemption) the host holds no
// more than ConnsPerIP of them, and an honest peer from another address
// still connects; with the default exemption the same flood takes every
// inbound slot.
func TestConnsPerIP(t *testing.T) {
	tests := []struct {
		name    string
		exempt  []string
		maxHeld int
		honest  bool
	}{
		{"limited", []string{}, 4, true},
		{"loopback exempt", nil, 12, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			target := newTestHost(t, func(c *Config) {
				c.MaxInboundConns, c.ConnLow, c.ConnHigh = 12, 4, 8
				c.ConnsPerIP = 4
				if tc.exempt != nil {
					c.ConnLimitExempt = tc.exempt
				}
			})
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			f, err := p2ptest.NewFlood(ctx, target.AddrInfo(), floodFrom, 40, 8)
			if err != nil && !errors.Is(err, context.DeadlineExceeded) {
				t.Skipf("cannot flood from %s here: %v", floodFrom, err)
			}
			require.NoError(t, err)
			t.Cleanup(func() { f.Close() })
			held := func() int {
				n := 0
				for _, c := range target.Network().Conns() {
					if ip, err := c.RemoteMultiaddr().ValueForProtocol(ma.P_IP4); err == nil && ip == floodFrom.String() {
						n++
					}
				}
				return n
			}
			t.Logf("flood of 40 from %s: %d held by the target (%d by the flood), %d refused", floodFrom, held(), f.Held, f.Refused)
			assert.LessOrEqual(t, f.Held, tc.maxHeld)
			// The target registers a connection just after the flooder
			// sees its handshake end.
			awaitConns(t, 5*time.Second, func() bool { return held() == f.Held }, target)
			if !tc.honest {
				assert.Equal(t, 12, f.Held, "the exempt flood fills every inbound slot")
			}
			honest := newTestHost(t, nil)
			err = honest.Connect(ctx, target.AddrInfo())
			if tc.honest {
				require.NoError(t, err, "an honest peer connects during the flood")
			} else {
				require.Error(t, err, "no inbound slot is left")
			}
		})
	}
}
