package p2p

import (
	"errors"
	"fmt"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
)

// ErrConfig is wrapped by every error Config.Validate returns.
var ErrConfig = errors.New("p2p: invalid config")

// Config says how to build a Host. The zero value is not valid; start from
// DefaultConfig or TestConfig.
type Config struct {
	// ListenAddrs are the multiaddrs the host listens on. The default is TCP
	// and QUIC on port 4001 on every IPv4 and IPv6 interface, the port
	// other fog nodes expect; tests use port 0 on 127.0.0.1.
	ListenAddrs []string
	// Bootstrap lists peers to join the network through, as multiaddrs that
	// end in /p2p/<peer id>. The node dials them at start and keeps
	// redialling in the background; an unreachable one is logged, a
	// malformed one is an error at start. Empty by default: the first node
	// of a network has nobody to join.
	Bootstrap []string
	// ConnLow and ConnHigh are the connection manager's water marks: above
	// ConnHigh connections it trims down to ConnLow, sparing protected peers
	// (bootstrap peers) and connections younger than ConnGrace. 100/400 keep
	// a DHT routing table and gossip meshes well fed on a home machine.
	ConnLow, ConnHigh int
	// ConnGrace is how long a new connection is spared from trimming; a
	// minute lets a handshake and the first protocol exchanges finish.
	ConnGrace time.Duration
	// ResourceMemory caps the memory the libp2p resource manager lets
	// connections and streams reserve, in bytes. 0 scales the limits to the
	// machine (an eighth of its memory and half its file descriptors,
	// libp2p's own scaling).
	ResourceMemory int64
	// ResourceFDs caps the file descriptors the resource manager hands out;
	// 0 scales with the process's limit.
	ResourceFDs int
	// AutoNAT asks peers whether this node is reachable, so it knows whether
	// to advertise its addresses. On by default: a node behind a NAT should
	// find out.
	AutoNAT bool
	// HolePunching tries direct connections through NATs (DCUtR). On by
	// default; it costs nothing when not needed.
	HolePunching bool
	// RelayClient lets the node be reached through circuit relays when it is
	// not publicly reachable. On by default for the same reason.
	RelayClient bool
	// MDNS discovers other fog nodes on the local network by multicast DNS.
	// On by default so two machines on one LAN find each other with no
	// bootstrap list; tests and the devnet turn it off.
	MDNS bool
	// MDNSService is the mDNS service name; nodes only find peers announcing
	// the same name.
	MDNSService string
	// BackoffMin and BackoffMax bound the exponential backoff between dials of
	// an unreachable bootstrap peer: quick first retries (1 s), then no more
	// than one dial every 5 minutes per peer.
	BackoffMin, BackoffMax time.Duration
	// DialTimeout bounds one dial attempt. 15 s covers a slow TCP handshake
	// and a QUIC retry on a lossy link.
	DialTimeout time.Duration
	// UserAgent is announced through identify.
	UserAgent string
}

// DefaultConfig returns the configuration of a node on the Internet.
func DefaultConfig() Config {
	return Config{
		ListenAddrs: []string{
			"/ip4/0.0.0.0/tcp/4001",
			"/ip4/0.0.0.0/udp/4001/quic-v1",
			"/ip6/::/tcp/4001",
			"/ip6/::/udp/4001/quic-v1",
		},
		ConnLow:      100,
		ConnHigh:     400,
		ConnGrace:    time.Minute,
		AutoNAT:      true,
		HolePunching: true,
		RelayClient:  true,
		MDNS:         true,
		MDNSService:  "fog",
		BackoffMin:   time.Second,
		BackoffMax:   5 * time.Minute,
		DialTimeout:  15 * time.Second,
		UserAgent:    "fog",
	}
}

// TestConfig returns a configuration for tests and local devnets: loopback
// only, ports chosen by the OS, no NAT helpers, no mDNS, short timers.
func TestConfig() Config {
	c := DefaultConfig()
	c.ListenAddrs = []string{"/ip4/127.0.0.1/tcp/0", "/ip4/127.0.0.1/udp/0/quic-v1"}
	c.AutoNAT, c.HolePunching, c.RelayClient, c.MDNS = false, false, false, false
	c.BackoffMin = 50 * time.Millisecond
	c.BackoffMax = 2 * time.Second
	c.DialTimeout = 5 * time.Second
	return c
}

// Validate checks every field and returns an error wrapping ErrConfig that
// names the first bad one.
func (c Config) Validate() error {
	if len(c.ListenAddrs) == 0 {
		return fmt.Errorf("%w: listen: no address", ErrConfig)
	}
	if _, err := ParseListenAddrs(c.ListenAddrs); err != nil {
		return err
	}
	if _, err := ParseBootstrap(c.Bootstrap); err != nil {
		return err
	}
	switch {
	case c.ConnLow < 0:
		return fmt.Errorf("%w: conn_low %d is negative", ErrConfig, c.ConnLow)
	case c.ConnHigh <= c.ConnLow:
		return fmt.Errorf("%w: conn_high %d must exceed conn_low %d", ErrConfig, c.ConnHigh, c.ConnLow)
	case c.ConnGrace < 0:
		return fmt.Errorf("%w: conn_grace %s is negative", ErrConfig, c.ConnGrace)
	case c.ResourceMemory < 0:
		return fmt.Errorf("%w: resource_memory %d is negative", ErrConfig, c.ResourceMemory)
	case c.ResourceFDs < 0:
		return fmt.Errorf("%w: resource_fds %d is negative", ErrConfig, c.ResourceFDs)
	case c.MDNS && c.MDNSService == "":
		return fmt.Errorf("%w: mdns_service is empty", ErrConfig)
	case c.BackoffMin <= 0:
		return fmt.Errorf("%w: backoff_min %s must be positive", ErrConfig, c.BackoffMin)
	case c.BackoffMax < c.BackoffMin:
		return fmt.Errorf("%w: backoff_max %s is below backoff_min %s", ErrConfig, c.BackoffMax, c.BackoffMin)
	case c.DialTimeout <= 0:
		return fmt.Errorf("%w: dial_timeout %s must be positive", ErrConfig, c.DialTimeout)
	}
	return nil
}

// ParseListenAddrs parses listen multiaddrs; the error names the bad entry.
func ParseListenAddrs(addrs []string) ([]ma.Multiaddr, error) {
	out := make([]ma.Multiaddr, 0, len(addrs))
	for i, s := range addrs {
		a, err := ma.NewMultiaddr(s)
		if err != nil {
			return nil, fmt.Errorf("%w: listen[%d] %q: %v", ErrConfig, i, s, err)
		}
		out = append(out, a)
	}
	return out, nil
}

// ParseBootstrap parses bootstrap multiaddrs, each ending in /p2p/<peer id>,
// and merges entries of the same peer. The error names the bad entry.
func ParseBootstrap(addrs []string) ([]peer.AddrInfo, error) {
	var out []peer.AddrInfo
	index := make(map[peer.ID]int)
	for i, s := range addrs {
		a, err := ma.NewMultiaddr(s)
		if err != nil {
			return nil, fmt.Errorf("%w: bootstrap[%d] %q: %v", ErrConfig, i, s, err)
		}
		ai, err := peer.AddrInfoFromP2pAddr(a)
		if err != nil {
			return nil, fmt.Errorf("%w: bootstrap[%d] %q: want a multiaddr ending in /p2p/<peer id>: %v", ErrConfig, i, s, err)
		}
		if len(ai.Addrs) == 0 {
			return nil, fmt.Errorf("%w: bootstrap[%d] %q: no transport address before /p2p", ErrConfig, i, s)
		}
		if j, ok := index[ai.ID]; ok {
			out[j].Addrs = append(out[j].Addrs, ai.Addrs...)
			continue
		}
		index[ai.ID] = len(out)
		out = append(out, *ai)
	}
	return out, nil
}
