package node

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/creachadair/jrpc2"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/fog-compute/fog/dht"
	"github.com/fog-compute/fog/internal/clock"
	"github.com/fog-compute/fog/p2p"
)

// Status is the result of node.status.
type Status struct {
	PeerID        string    `json:"peer_id"`
	Version       string    `json:"version"`
	StartedAt     time.Time `json:"started_at"`
	UptimeSeconds float64   `json:"uptime_seconds"`
	ListenAddrs   []string  `json:"listen_addrs"`
	ObservedAddrs []string  `json:"observed_addrs"`
	// Addrs are the addresses the node advertises to its peers: the
	// public ones among those above and, while it is behind a NAT with
	// relay reservations, its relayed (/p2p-circuit) addresses.
	Addrs []string `json:"addrs"`
	// Reachability is AutoNAT's verdict: public, private or unknown
	// (always unknown with p2p.autonat off).
	Reachability string              `json:"reachability"`
	Peers        int                 `json:"peers"`
	Services     []ServiceStatus     `json:"services"`
	Bootstrap    []p2p.BootstrapPeer `json:"bootstrap"`
	// DHT says which of the WAN and LAN DHTs serve and how many peers
	// their routing tables hold.
	DHT dht.Status `json:"dht"`
}

// PeerInfo is one connected peer in node.peers.
type PeerInfo struct {
	ID        string   `json:"id"`
	Addrs     []string `json:"addrs"`
	Direction string   `json:"direction"`
	Agent     string   `json:"agent,omitempty"`
	LatencyMS float64  `json:"latency_ms,omitempty"`
	// ConnectedSeconds is the age of the oldest connection to the peer.
	ConnectedSeconds float64 `json:"connected_seconds"`
}

// ConnectParams are node.connect's parameters.
type ConnectParams struct {
	// Addr is a multiaddr ending in /p2p/<peer id>.
	Addr string `json:"addr"`
}

// DisconnectParams are the parameters of node.disconnect and node.unban.
type DisconnectParams struct {
	// Peer is the peer ID to disconnect from.
	Peer string `json:"peer"`
}

// DisconnectResult is node.disconnect's result.
type DisconnectResult struct {
	// Closed reports whether there was a connection to close.
	Closed bool `json:"closed"`
}

// Status returns the node's status.
func (n *Node) Status() Status {
	h := n.host
	s := Status{
		PeerID:        h.ID().String(),
		Version:       Version,
		StartedAt:     n.started.UTC(),
		UptimeSeconds: clock.Since(n.clk, n.started).Seconds(),
		ListenAddrs:   addrStrings(h.Network().ListenAddresses()),
		Addrs:         addrStrings(h.Addrs()),
		Reachability:  "unknown",
		Peers:         len(h.Network().Peers()),
		Services:      n.Services(),
		Bootstrap:     h.Bootstrap.Peers(),
		DHT:           n.dht.Status(),
	}
	// Addresses peers told us they see us at, which we do not listen on.
	if all, ok := h.Host.(interface{ AllAddrs() []ma.Multiaddr }); ok {
		local := h.Network().ListenAddresses()
		if ifaces, err := h.Network().InterfaceListenAddresses(); err == nil {
			local = append(local, ifaces...)
		}
		for _, a := range all.AllAddrs() {
			if !slices.ContainsFunc(local, a.Equal) {
				s.ObservedAddrs = append(s.ObservedAddrs, a.String())
			}
		}
	}
	if r, ok := h.Host.(interface{ Reachability() network.Reachability }); ok {
		switch r.Reachability() {
		case network.ReachabilityPublic:
			s.Reachability = "public"
		case network.ReachabilityPrivate:
			s.Reachability = "private"
		}
	}
	if s.ObservedAddrs == nil {
		s.ObservedAddrs = []string{}
	}
	return s
}

// Peers lists the connected peers, sorted by ID.
func (n *Node) Peers() []PeerInfo {
	h := n.host
	var out []PeerInfo
	for _, id := range h.Network().Peers() {
		conns := h.Network().ConnsToPeer(id)
		if len(conns) == 0 {
			continue
		}
		pi := PeerInfo{ID: id.String(), Direction: conns[0].Stat().Direction.String()}
		// libp2p stamps a connection's opening on the time package's
		// clock, so its age is measured on that clock too.
		oldest := time.Now()
		for _, c := range conns {
			pi.Addrs = append(pi.Addrs, c.RemoteMultiaddr().String())
			if o := c.Stat().Opened; !o.IsZero() && o.Before(oldest) {
				oldest = o
			}
		}
		pi.ConnectedSeconds = time.Since(oldest).Seconds()
		if v, err := h.Peerstore().Get(id, "AgentVersion"); err == nil {
			pi.Agent, _ = v.(string)
		}
		if l := h.Peerstore().LatencyEWMA(id); l > 0 {
			pi.LatencyMS = float64(l) / float64(time.Millisecond)
		}
		out = append(out, pi)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	if out == nil {
		out = []PeerInfo{}
	}
	return out
}

// Connect dials the peer at addr (a multiaddr ending in /p2p/<id>).
func (n *Node) Connect(ctx context.Context, addr string) (PeerInfo, error) {
	a, err := ma.NewMultiaddr(addr)
	if err != nil {
		return PeerInfo{}, invalidParams("addr %q is not a multiaddr: %v", addr, err)
	}
	ai, err := peer.AddrInfoFromP2pAddr(a)
	if err != nil {
		return PeerInfo{}, invalidParams("addr %q: want a multiaddr ending in /p2p/<peer id>", addr)
	}
	if ai.ID == n.host.ID() {
		return PeerInfo{}, invalidParams("addr %q is this node", addr)
	}
	if err := n.host.Connect(ctx, *ai); err != nil {
		return PeerInfo{}, fmt.Errorf("connect to %s: %w", ai.ID, err)
	}
	for _, p := range n.Peers() {
		if p.ID == ai.ID.String() {
			return p, nil
		}
	}
	return PeerInfo{ID: ai.ID.String(), Addrs: []string{}}, nil
}

// Disconnect closes every connection to the peer.
func (n *Node) Disconnect(id string) (DisconnectResult, error) {
	p, err := parsePeer(id)
	if err != nil {
		return DisconnectResult{}, err
	}
	was := n.host.Network().Connectedness(p) == network.Connected
	if err := n.host.Network().ClosePeer(p); err != nil {
		return DisconnectResult{}, fmt.Errorf("disconnect %s: %w", p, err)
	}
	return DisconnectResult{Closed: was}, nil
}

func invalidParams(format string, args ...any) error {
	return &jrpc2.Error{Code: jrpc2.InvalidParams, Message: fmt.Sprintf(format, args...)}
}

func addrStrings(as []ma.Multiaddr) []string {
	out := make([]string, len(as))
	for i, a := range as {
		out[i] = a.String()
	}
	return out
}

// registerNodeMethods adds the node.* RPC methods.
func (n *Node) registerNodeMethods() error {
	methods := map[string]any{
		"node.status": func(context.Context) (Status, error) { return n.Status(), nil },
		"node.peers":  func(context.Context) ([]PeerInfo, error) { return n.Peers(), nil },
		"node.connect": func(ctx context.Context, p ConnectParams) (PeerInfo, error) {
			return n.Connect(ctx, p.Addr)
		},
		"node.disconnect": func(_ context.Context, p DisconnectParams) (DisconnectResult, error) {
			return n.Disconnect(p.Peer)
		},
		"node.version": func(context.Context) (VersionInfo, error) { return BuildVersion(), nil },
		"node.ban":     n.Ban,
		"node.unban": func(ctx context.Context, p DisconnectParams) (struct{}, error) {
			return struct{}{}, n.Unban(ctx, p.Peer)
		},
		"node.bans": func(context.Context) ([]p2p.Ban, error) {
			bans := n.host.Bans.List()
			sort.Slice(bans, func(i, j int) bool { return bans[i].Peer < bans[j].Peer })
			return bans, nil
		},
	}
	return n.api.registerAll(methods)
}

// BanParams are node.ban's parameters.
type BanParams struct {
	// Peer is the peer ID to ban.
	Peer string `json:"peer"`
	// Reason is kept with the ban for the operator.
	Reason string `json:"reason,omitempty"`
	// Seconds is how long the ban lasts; 0 bans forever.
	Seconds float64 `json:"seconds,omitempty"`
}

// Ban bans a peer, persists the ban and drops its connections.
func (n *Node) Ban(ctx context.Context, p BanParams) (p2p.Ban, error) {
	id, err := parsePeer(p.Peer)
	if err != nil {
		return p2p.Ban{}, err
	}
	if p.Seconds < 0 {
		return p2p.Ban{}, invalidParams("seconds %v is negative", p.Seconds)
	}
	if id == n.host.ID() {
		return p2p.Ban{}, invalidParams("peer %s is this node", id)
	}
	b, err := n.host.Bans.Ban(ctx, id, p.Reason, time.Duration(p.Seconds*float64(time.Second)))
	if err != nil {
		return p2p.Ban{}, err
	}
	_ = n.host.Network().ClosePeer(id)
	return b, nil
}

// Unban lifts a ban.
func (n *Node) Unban(ctx context.Context, id string) error {
	p, err := parsePeer(id)
	if err != nil {
		return err
	}
	return n.host.Bans.Unban(ctx, p)
}
