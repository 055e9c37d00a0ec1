package sim

import (
	"context"
	"io"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/protocol"
	mocknet "github.com/libp2p/go-libp2p/p2p/net/mock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fog-compute/fog/internal/clock"
)

const lagProto = protocol.ID("/sim-test/lag")

// arrival is one message and when the reader got it.
type arrival struct {
	b  []byte
	at time.Time
}

// linkedHosts returns two mocknet hosts with a link between them and no
// connection yet; the network closes when the test ends.
func linkedHosts(t *testing.T) (a, b host.Host) {
	t.Helper()
	mn := mocknet.New()
	t.Cleanup(func() { _ = mn.Close() })
	a, err := mn.GenPeer()
	require.NoError(t, err)
	b, err = mn.GenPeer()
	require.NoError(t, err)
	require.NoError(t, mn.LinkAll())
	return a, b
}

// lagPair returns a lagged stream from one mocknet host to another, with
// no latency on the mocknet link itself, and the messages the other end
// reads (msgLen bytes each) until the stream ends.
func lagPair(t *testing.T, lat time.Duration, msgLen int) (network.Stream, <-chan arrival) {
	t.Helper()
	a, b := linkedHosts(t)
	got := make(chan arrival, 1024)
	b.SetStreamHandler(lagProto, func(s network.Stream) {
		defer close(got)
		defer s.Close()
		for {
			buf := make([]byte, msgLen)
			if _, err := io.ReadFull(s, buf); err != nil {
				return
			}
			got <- arrival{b: buf, at: time.Now()}
		}
	})
	s, err := a.NewStream(context.Background(), b.ID(), lagProto)
	require.NoError(t, err)
	return lag(s, lat, clock.Real()), got
}

func TestLaggedStreamDelaysInOrder(t *testing.T) {
	const lat, n = 100 * time.Millisecond, 20
	s, got := lagPair(t, lat, 1024)
	sent := make([]time.Time, n)
	for i := range n {
		msg := make([]byte, 1024)
		msg[0] = byte(i)
		sent[i] = time.Now()
		_, err := s.Write(msg)
		require.NoError(t, err)
	}
	require.NoError(t, s.CloseWrite())
	i := 0
	for a := range got {
		require.Less(t, i, n)
		assert.Equal(t, byte(i), a.b[0], "in order")
		assert.GreaterOrEqual(t, a.at.Sub(sent[i]), lat, "message %d arrived before the latency", i)
		i++
	}
	require.Equal(t, n, i, "CloseWrite delivered everything written")
}

func TestLaggedStreamPipelinesMessages(t *testing.T) {
	// With one write in flight at a time, as mocknet's own latency delivers
	// writes of 256 bytes or more, the second write would wait out the
	// first one's latency (an hour here). Pipelined, every write returns at
	// once and all of them are in flight together.
	const n = 10
	s, got := lagPair(t, time.Hour, 512)
	for range n {
		_, err := s.Write(make([]byte, 512))
		require.NoError(t, err)
	}
	l := s.(*laggedStream)
	l.mu.Lock()
	assert.Equal(t, n*512, l.bytes)
	assert.Len(t, l.queue, n)
	l.mu.Unlock()
	assert.Empty(t, got)
	require.NoError(t, s.Reset())
}

func TestLaggedStreamResetDropsWhatIsInFlight(t *testing.T) {
	s, got := lagPair(t, time.Hour, 8)
	_, err := s.Write(make([]byte, 8))
	require.NoError(t, err)
	require.NoError(t, s.Reset())
	_, err = s.Write([]byte{1})
	require.ErrorIs(t, err, network.ErrReset)
	l := s.(*laggedStream)
	l.mu.Lock()
	for l.running { // the deliverer stops at once instead of waiting an hour
		l.cond.Wait()
	}
	assert.Zero(t, l.bytes)
	l.mu.Unlock()
	assert.Empty(t, got, "nothing delivered")
}

func TestLaggedStreamWriteAfterClose(t *testing.T) {
	s, _ := lagPair(t, time.Millisecond, 8)
	require.NoError(t, s.CloseWrite())
	_, err := s.Write([]byte{1})
	require.ErrorIs(t, err, errStreamClosed)
	assert.Same(t, s.(*laggedStream).Stream, lag(s.(*laggedStream).Stream, 0, clock.Real()), "no latency, no wrapper")
}

func TestOrphanedStreamIsReset(t *testing.T) {
	// mocknet hands out a stream on a connection that is already closed;
	// no teardown will ever reset it, so orphaned must.
	a, b := linkedHosts(t)
	c, err := a.Network().DialPeer(context.Background(), b.ID())
	require.NoError(t, err)

	open, err := c.NewStream(context.Background())
	require.NoError(t, err)
	assert.False(t, orphaned(open), "a stream of an open connection")
	_, err = open.Write([]byte("x"))
	require.NoError(t, err)

	require.NoError(t, c.Close())
	late, err := c.NewStream(context.Background())
	require.NoError(t, err, "mocknet opens streams on closed connections")
	assert.True(t, orphaned(late))
	_, err = late.Write([]byte("x"))
	assert.ErrorIs(t, err, network.ErrReset, "orphaned reset the stream")
}
