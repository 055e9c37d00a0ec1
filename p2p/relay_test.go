package p2p

import (
	"testing"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	mocknet "github.com/libp2p/go-libp2p/p2p/net/mock"
	"github.com/stretchr/testify/require"
)

// AutoRelay's peer source offers the directly connected peers, those that
// serve circuit relay v2 first, at most as many as asked for.
func TestRelayCandidates(t *testing.T) {
	mn := mocknet.New()
	t.Cleanup(func() { _ = mn.Close() })
	hosts := make([]peer.ID, 4)
	for i := range hosts {
		h, err := mn.GenPeer()
		require.NoError(t, err)
		hosts[i] = h.ID()
	}
	require.NoError(t, mn.LinkAll())
	self := mn.Host(hosts[0])
	// hosts[2] serves the hop protocol, so that identify, whenever it
	// finishes, tells self so too (it replaces the peer's protocols in
	// self's peerstore, which would undo AddProtocols alone).
	mn.Host(hosts[2]).SetStreamHandler(relayHopProto, func(s network.Stream) { _ = s.Reset() })
	// hosts[3] is linked but not connected: not a candidate.
	for _, p := range hosts[1:3] {
		_, err := mn.ConnectPeers(hosts[0], p)
		require.NoError(t, err)
	}
	require.NoError(t, self.Peerstore().AddProtocols(hosts[2], relayHopProto))

	drain := func(r *relayHostRef, num int) []peer.ID {
		var out []peer.ID
		for ai := range r.candidates(t.Context(), num) {
			out = append(out, ai.ID)
		}
		return out
	}
	tests := []struct {
		name string
		set  bool
		num  int
		want []peer.ID
	}{
		{"host not built yet", false, 10, nil},
		{"relays first", true, 10, []peer.ID{hosts[2], hosts[1]}},
		{"at most num", true, 1, []peer.ID{hosts[2]}},
		{"none asked", true, 0, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var r relayHostRef
			if tc.set {
				r.set(self)
			}
			require.Equal(t, tc.want, drain(&r, tc.num))
		})
	}
}
