package p2p

import (
	"context"
	"io"
	"testing"
	"testing/synctest"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/protocol"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestNewServerWrap serves two IDs of another stack through one Server:
// they share its counts, streams beyond them are reset, and silent ones are
// reset at the idle deadline.
func TestNewServerWrap(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv, clients := hostPair(t, "mocknet")
		_, err := NewServer(srv, "other", Limits{})
		require.ErrorIs(t, err, ErrLimits)
		server, err := NewServer(srv, "other", Limits{Streams: 3, StreamsPerPeer: 2, Idle: time.Second, Lifetime: time.Minute})
		require.NoError(t, err)
		ended := make(chan struct{}, 8)
		handler := server.Wrap(func(st network.Stream) {
			_, _ = io.ReadAll(st)
			ended <- struct{}{}
		})
		ids := []protocol.ID{"/other/1.0.0", "/other/1.1.0"}
		for _, id := range ids {
			srv.SetStreamHandler(id, handler)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		done := make(chan error, 8)
		open := func(i int) {
			st, err := clients[i%2].NewStream(ctx, srv.ID(), ids[i%2])
			require.NoError(t, err)
			_, err = st.Write([]byte{1})
			require.NoError(t, err)
			go func() {
				_, err := io.ReadAll(st)
				done <- err
			}()
		}
		for i := range 5 { // clients 0,1,0,1,0: one beyond StreamsPerPeer, one beyond Streams
			open(i)
		}
		for range 5 {
			<-done
		}
		for range 3 {
			<-ended
		}
		st := server.Stats()
		assert.Equal(t, ServerStats{Served: 3, Refused: 2, TimedOut: 3}, st)
	})
}
