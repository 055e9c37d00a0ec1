package p2p

import (
	"fmt"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
)

// NewServer returns a Server for the protocols of another stack that a fog
// subsystem speaks on their own IDs (Bitswap's /ipfs/bitswap/…, which an
// IPFS peer must find there), so that their inbound streams are bounded as
// Protocol.Handle bounds fog's: the subsystem registers Wrap(handler) for
// each ID itself. name tags the peers in the connection manager ("fog-" +
// name), as a fog protocol's name does.
func NewServer(h host.Host, name string, lim Limits) (*Server, error) {
	if err := lim.Validate(); err != nil {
		return nil, fmt.Errorf("p2p: server %s: %w", name, err)
	}
	return &Server{h: h, tag: "fog-" + name, lim: lim, perPeer: make(map[peer.ID]int)}, nil
}

// Wrap returns handler served within the server's limits: streams beyond
// them are refused, and idle or old ones reset, as by Protocol.Handle. All
// handlers wrapped by one Server share its counts.
func (s *Server) Wrap(handler network.StreamHandler) network.StreamHandler {
	return func(st network.Stream) { s.serve(st, handler) }
}
