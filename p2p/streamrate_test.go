package p2p

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestStreamBuckets drives the buckets on explicit times: a peer's burst,
// the refill at the rate, strikes and their window, the refund of exempt
// protocols, the bound on buckets and their eviction on disconnection.
func TestStreamBuckets(t *testing.T) {
	t0 := time.Unix(1_700_000_000, 0)
	a, b, c := peer.ID("a"), peer.ID("b"), peer.ID("c")
	type step struct {
		at   time.Duration // after t0
		p    peer.ID
		do   string // "admit", "exempt" (admit, then negotiate an exempt protocol), "negotiate", "forget"
		want verdict
	}
	tests := []struct {
		name    string
		rate    float64
		burst   int
		max     int
		strikes int // 0: 100
		steps   []step
		peers   int
	}{
		{"burst then refusal", 10, 3, 8, 0, []step{
			{0, a, "admit", admitted}, {0, a, "admit", admitted}, {0, a, "admit", admitted},
			{0, a, "admit", refused},
			{0, b, "admit", admitted}, // buckets are per peer
		}, 2},
		{"refill at the rate", 10, 2, 8, 0, []step{
			{0, a, "admit", admitted}, {0, a, "admit", admitted}, {0, a, "admit", refused},
			{99 * time.Millisecond, a, "admit", refused},
			{100 * time.Millisecond, a, "admit", admitted}, // one token in 1/rate
			{100 * time.Millisecond, a, "admit", refused},
			{10 * time.Second, a, "admit", admitted}, // refilled to the burst, no further
			{10 * time.Second, a, "admit", admitted},
			{10 * time.Second, a, "admit", refused},
		}, 1},
		{"strikes suspend once per window", 1, 1, 8, 3, []step{
			{0, a, "admit", admitted},
			{0, a, "admit", refused}, {0, a, "admit", refused}, {0, a, "admit", suspend},
			{0, a, "admit", refused}, // suspended already in this window
			{61 * time.Second, a, "admit", admitted},
			{61 * time.Second, a, "admit", refused}, {61 * time.Second, a, "admit", refused},
			{61 * time.Second, a, "admit", suspend},
		}, 1},
		{"exempt protocols give their token back", 1, 1, 8, 0, []step{
			{0, a, "exempt", admitted}, {0, a, "exempt", admitted}, {0, a, "exempt", admitted},
			{0, a, "admit", admitted}, {0, a, "negotiate", admitted},
			{0, a, "admit", refused},
		}, 1},
		{"least recently used forgotten", 1, 1, 2, 0, []step{
			{0, a, "admit", admitted}, {0, b, "admit", admitted},
			{0, a, "admit", refused},  // a used last
			{0, c, "admit", admitted}, // evicts b
			{0, a, "admit", refused},  // a kept
			{0, b, "admit", admitted}, // b afresh
		}, 2},
		{"forgotten on disconnection unless refused", 1, 1, 8, 0, []step{
			{0, a, "admit", admitted}, {0, a, "forget", admitted}, {0, a, "admit", admitted},
			{0, b, "admit", admitted}, {0, b, "admit", refused}, {0, b, "forget", admitted},
			{0, b, "admit", refused}, // refused within the minute: kept
		}, 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			strikes := tc.strikes
			if strikes == 0 {
				strikes = 100
			}
			bk := newStreamBuckets(tc.rate, tc.burst, tc.max, strikes)
			for i, s := range tc.steps {
				now := t0.Add(s.at)
				switch s.do {
				case "forget":
					bk.forget(s.p, now)
					continue
				case "negotiate":
					bk.negotiated(s.p, false, now)
					continue
				}
				got := bk.admit(s.p, now)
				require.Equal(t, s.want, got, "step %d: %s at %v", i, s.p, s.at)
				if s.do == "exempt" && got == admitted {
					bk.negotiated(s.p, true, now)
				}
			}
			assert.Equal(t, tc.peers, bk.stats().Peers)
		})
	}
}

// TestStreamBucketsDeepest: the deepest drain counts only streams of
// protocols that are not exempt.
func TestStreamBucketsDeepest(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	bk := newStreamBuckets(1, 10, 8, 3)
	for range 4 {
		require.Equal(t, admitted, bk.admit("a", now))
		bk.negotiated("a", true, now)
	}
	for range 3 {
		require.Equal(t, admitted, bk.admit("a", now))
		bk.negotiated("a", false, now)
	}
	st := bk.stats()
	assert.InDelta(t, 3, st.Deepest, 1e-9)
	assert.Equal(t, StreamRateStats{Allowed: 7, Refunded: 4, Peers: 1, Deepest: st.Deepest}, st)
}

// TestStreamRateHost floods a real host on loopback with streams: beyond
// the burst they are refused before negotiation (the handler never sees
// them), streams of an exempt protocol are not counted, and at its strikes
// the peer is disconnected and cannot reconnect while suspended, while
// another peer still opens streams.
func TestStreamRateHost(t *testing.T) {
	const burst, strikes = 20, 10
	target := newTestHost(t, func(c *Config) {
		c.StreamRate = 0.001 // no refill within the test
		c.StreamBurst, c.StreamRateStrikes = burst, strikes
		c.StreamRateSuspend = time.Hour
		// identify's streams are exempt here so that the counts below are
		// the test's own.
		c.StreamRateExempt = []string{"/test/exempt", "/ipfs/id"}
	})
	handled := make(chan struct{}, 1000)
	for _, id := range []protocol.ID{"/test/limited", "/test/exempt/1"} {
		target.SetStreamHandler(id, func(s network.Stream) {
			handled <- struct{}{}
			_ = s.Close()
		})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	attacker := newTestHost(t, nil)
	require.NoError(t, attacker.Connect(ctx, target.AddrInfo()))

	// open opens a stream and waits for the target's answer: the close
	// of a handled stream (EOF) or the reset of a refused one.
	open := func(h *testNode, id protocol.ID) error {
		s, err := h.NewStream(ctx, target.ID(), id)
		if err != nil {
			return err
		}
		defer s.Close()
		_, err = s.Read(make([]byte, 1))
		if errors.Is(err, io.EOF) {
			return nil
		}
		return fmt.Errorf("stream: %w", err)
	}
	for i := range 3 * burst {
		require.NoError(t, open(attacker, "/test/exempt/1"), "exempt stream %d", i)
	}
	for i := range burst {
		require.NoError(t, open(attacker, "/test/limited"), "stream %d within the burst", i)
	}
	assert.Len(t, handled, 4*burst)
	for range strikes - 1 {
		require.Error(t, open(attacker, "/test/limited"), "a stream beyond the burst is refused")
	}
	st := target.StreamRateStats()
	assert.Equal(t, uint64(burst), st.Allowed-st.Refunded, "streams counted: the limited ones")
	assert.Equal(t, uint64(strikes-1), st.Refused)
	assert.Equal(t, 1, st.Peers)
	assert.InDelta(t, burst, st.Deepest, 0.1)
	assert.Len(t, handled, 4*burst, "refused streams never reach the handler")

	// The last strike: the target suspends the attacker and disconnects it.
	disconnected := awaitDisconnect(t, target.Host, attacker.ID())
	seen := awaitDisconnect(t, attacker.Host, target.ID())
	require.Error(t, open(attacker, "/test/limited"))
	<-disconnected
	<-seen
	assert.Equal(t, uint64(1), target.StreamRateStats().Suspended)
	assert.True(t, target.Bans.IsBanned(attacker.ID()))
	assert.Empty(t, target.Bans.List(), "a suspension is not a listed ban")
	// A QUIC dialer may finish its handshake before the target's gater
	// refuses the connection, so the refusal shows on the first stream.
	_ = attacker.Connect(ctx, target.AddrInfo())
	require.Error(t, open(attacker, "/test/exempt/1"), "a suspended peer cannot reconnect")
	assert.Len(t, handled, 4*burst)

	honest := newTestHost(t, nil)
	require.NoError(t, honest.Connect(ctx, target.AddrInfo()))
	require.NoError(t, open(honest, "/test/limited"), "another peer is not affected")
}

// awaitDisconnect returns a channel closed once h has no connection to p.
func awaitDisconnect(t *testing.T, h *Host, p peer.ID) <-chan struct{} {
	t.Helper()
	done := make(chan struct{})
	var once sync.Once
	nb := &network.NotifyBundle{DisconnectedF: func(n network.Network, c network.Conn) {
		if c.RemotePeer() == p && n.Connectedness(p) != network.Connected {
			once.Do(func() { close(done) })
		}
	}}
	h.Network().Notify(nb)
	t.Cleanup(func() { h.Network().StopNotify(nb) })
	return done
}

// TestStreamRateConfig: the limit's fields are validated only when it is
// on.
func TestStreamRateConfig(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*Config)
		field  string
	}{
		{"negative rate", func(c *Config) { c.StreamRate = -1 }, "StreamRate"},
		{"no burst", func(c *Config) { c.StreamBurst = 0 }, "StreamBurst"},
		{"no strikes", func(c *Config) { c.StreamRateStrikes = 0 }, "StreamRateStrikes"},
		{"negative suspension", func(c *Config) { c.StreamRateSuspend = -time.Second }, "StreamRateSuspend"},
		{"no buckets", func(c *Config) { c.StreamRatePeers = 0 }, "StreamRatePeers"},
		{"off", func(c *Config) { c.StreamRate, c.StreamBurst, c.StreamRatePeers = 0, 0, 0 }, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := TestConfig()
			tc.mutate(&c)
			err := c.Validate()
			if tc.field == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, ErrConfig)
			assert.Contains(t, err.Error(), tc.field)
		})
	}
}
