package mixsvc

import (
	"context"
	"io"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/protocol"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fog-compute/fog/mix/mixnet"
	"github.com/fog-compute/fog/p2p"
)

// peerOnly is a raw host that speaks one version of the mix protocol and
// counts the streams and frames it is sent.
type peerOnly struct {
	h       host.Host
	mu      sync.Mutex
	streams int
	frames  int
}

func newPeerOnly(t *testing.T, m *testMix, v p2p.Version, size int) *peerOnly {
	t.Helper()
	h, _, err := m.net.AddHost()
	require.NoError(t, err)
	p := &peerOnly{h: h}
	h.SetStreamHandler(Protocol.ID(v), func(st network.Stream) {
		defer st.Close()
		p.mu.Lock()
		p.streams++
		p.mu.Unlock()
		for {
			f := make([]byte, size)
			if _, err := io.ReadFull(st, f); err != nil {
				return
			}
			p.mu.Lock()
			p.frames++
			p.mu.Unlock()
		}
	})
	require.NoError(t, m.net.Connect(context.Background(), h, m.net.Hosts[0]))
	return p
}

func (p *peerOnly) counts() (streams, frames int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.streams, p.frames
}

// A node sends to a peer over the highest version both speak (1.1.0: one
// stream for many frames; 1.0.0: a stream per frame) and serves both.
func TestVersionNegotiation(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		mc := DefaultConfig()
		mc.Cover = false
		m := newMixnet(t, 3, mc)
		s := m.mixes[0]
		size := s.frameSize()
		old := newPeerOnly(t, m, p2p.Version{Major: 1}, size)
		cur := newPeerOnly(t, m, p2p.Version{Major: 1, Minor: 1}, size)
		for _, p := range []*peerOnly{old, cur} {
			id, err := NodeIDOf(p.h.ID())
			require.NoError(t, err)
			for range 3 {
				s.transmit(mixnet.Transmit{To: id, Frame: make([]byte, size)})
			}
		}
		time.Sleep(time.Second)
		synctest.Wait()
		st, fr := old.counts()
		assert.Equal(t, 3, st, "1.0.0: a stream per frame")
		assert.Equal(t, 3, fr)
		st, fr = cur.counts()
		assert.Equal(t, 1, st, "1.1.0: one stream")
		assert.Equal(t, 3, fr)

		// Inbound: a 1.0.0 stream is read for one frame, a 1.1.0 one for
		// all. The frames are garbage, so each is read, counted and
		// dropped.
		for _, tc := range []struct {
			v      p2p.Version
			frames int
			read   uint64
		}{{p2p.Version{Major: 1}, 2, 1}, {p2p.Version{Major: 1, Minor: 1}, 3, 3}} {
			before := s.Status().PacketsIn
			st, err := old.h.NewStream(context.Background(), m.net.Hosts[0].ID(), protocol.ID(Protocol.ID(tc.v)))
			require.NoError(t, err)
			for range tc.frames {
				_, _ = st.Write(make([]byte, size))
			}
			_ = st.CloseWrite()
			time.Sleep(100 * time.Millisecond)
			synctest.Wait()
			_ = st.Close()
			assert.Equal(t, tc.read, s.Status().PacketsIn-before, "version %v", tc.v)
		}
		require.NoError(t, old.h.Close())
		require.NoError(t, cur.h.Close())
	})
}
