package mixsvc

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	coreconnmgr "github.com/libp2p/go-libp2p/core/connmgr"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/p2p/net/connmgr"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fog-compute/fog/mix/mixnet"
)

// cmHost is a host with libp2p's connection manager (mocknet's hosts have
// none).
type cmHost struct {
	host.Host
	cm *connmgr.BasicConnMgr
}

func (h cmHost) ConnManager() coreconnmgr.ConnManager { return h.cm }

// TestLinksProtectTheirConnections checks that every open link keeps its
// connection out of the connection manager's trimming, the last hop's link
// to a recipient (which is no relay) included, and that a link that ends
// lifts its protection.
func TestLinksProtectTheirConnections(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var cms []*connmgr.BasicConnMgr
		defer func() {
			for _, cm := range cms {
				require.NoError(t, cm.Close())
			}
		}()
		mc := DefaultConfig()
		mc.Cover = false
		mc.LinkIdle = 20 * time.Second
		m := newMixnetWith(t, 10, mc, netOptions{epoch: 10 * time.Second, host: func(_ int, h host.Host) host.Host {
			cm, err := connmgr.NewConnManager(4, 8)
			require.NoError(t, err)
			cms = append(cms, cm)
			return cmHost{Host: h, cm: cm}
		}})
		m.waitRoutable(0)
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		to := m.net.Hosts[9].ID()
		id, err := m.mixes[8].Send(ctx, to, []byte("protected"), mixnet.SendOptions{})
		require.NoError(t, err)
		r, err := m.mixes[8].Wait(ctx, id)
		require.NoError(t, err)
		require.NoError(t, r.Err)

		type held struct {
			cm  *connmgr.BasicConnMgr
			p   peer.ID
			tag string
		}
		var links []held
		toRecipient := false
		for i, s := range m.mixes {
			s.mu.Lock()
			for p, l := range s.links {
				links = append(links, held{cms[i], p, l.tag})
				toRecipient = toRecipient || (p == to && i != 9)
			}
			s.mu.Unlock()
		}
		require.NotEmpty(t, links)
		assert.True(t, toRecipient, "the last hop has a link to the recipient")
		for _, h := range links {
			assert.True(t, h.cm.IsProtected(h.p, h.tag), "link to %s", h.p)
		}
		// Idle links end and lift their protection.
		time.Sleep(3 * mc.LinkIdle)
		for _, h := range links {
			assert.False(t, h.cm.IsProtected(h.p, h.tag), "link to %s still protected", h.p)
		}
		// Node 0's links of the epochs since (opened to each directory's
		// relays before packets need them) are read, and their readers
		// protect their side; once node 0's mix stops, its links end and
		// no reader protects a connection from it any more.
		a := m.net.Hosts[0]
		read := 0
		for j := 1; j < len(cms); j++ {
			if cms[j].IsProtected(a.ID(), readTag) {
				read++
			}
		}
		assert.NotZero(t, read, "node 0's open links are read")
		m.stop(1)
		time.Sleep(time.Second)
		synctest.Wait()
		for j := 1; j < len(cms); j++ {
			assert.False(t, cms[j].IsProtected(a.ID(), readTag), "link from node 0 still protected by node %d", j)
		}

		// A reader protects its side of the connection while it reads a
		// stream: its connection manager would otherwise close it with
		// frames on their way.
		b := m.net.Hosts[1]
		octx, ocancel := context.WithTimeout(context.Background(), time.Minute)
		defer ocancel()
		st, err := Protocol.Open(octx, a, b.ID())
		require.NoError(t, err)
		_, err = st.Write(make([]byte, m.mixes[0].frameSize()))
		require.NoError(t, err)
		time.Sleep(time.Second) // the links' latency
		synctest.Wait()
		assert.True(t, cms[1].IsProtected(a.ID(), readTag), "a stream being read")
		require.NoError(t, st.Close())
		time.Sleep(time.Second)
		synctest.Wait()
		assert.False(t, cms[1].IsProtected(a.ID(), readTag), "the stream ended")
	})
}
