package p2p

import (
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/fog-compute/fog/internal/clock"
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
	// (bootstrap peers) and connections younger than ConnGrace, and closing
	// first those of peers that never spoke a fog protocol with this node
	// (see TagValue). ConnHigh must stay below MaxInboundConns, so that
	// trimming frees room before the resource manager turns peers away.
	// 128/192 keep a DHT routing table and gossip meshes well fed on a
	// home machine.
	ConnLow, ConnHigh int
	// MaxInboundConns caps the connections other peers open to this node
	// (the resource manager's system limit); beyond it new inbound
	// connections are refused. 256 is what libp2p's own scaling gives a
	// machine with 24 GiB of memory, fixed here so that ConnHigh can be
	// checked against it.
	MaxInboundConns int
	// ConnsPerPeer caps the connections with one peer, either way. 8 is
	// libp2p's default: the addresses a peer may dial at once.
	ConnsPerPeer int
	// ConnsPerIP caps the connections with one IPv4 address or IPv6 /56
	// (an IPv6 /48 gets 8 times as many), and lets 2 × ConnsPerIP new ones
	// through at once, then one every 5 s. It keeps one machine (many
	// identities from one address) from taking every inbound slot. 8 is
	// libp2p's default.
	ConnsPerIP int
	// ConnLimitExempt lists the networks (CIDR prefixes) to which
	// ConnsPerIP does not apply. By default loopback, as in libp2p, so that
	// several nodes on one machine (a devnet) reach each other; tests of
	// the limit clear it.
	ConnLimitExempt []string
	// Protocols bound the inbound streams of protocols in the resource
	// manager: libp2p's own handlers (DHT, gossipsub) have no limits of
	// their own, and fog's handlers are backed by these beyond their own
	// (Limits). The node fills it from each subsystem's configuration;
	// protocols not listed get libp2p's scaled defaults.
	Protocols []ProtocolLimit
	// StreamRate bounds the new inbound streams one peer may open a
	// second, on every protocol at once: a token bucket per peer, StreamBurst
	// deep, refilled at this rate. The resource manager refuses a stream
	// beyond it before its protocol is negotiated (the peer sees a reset),
	// which is the cheapest refusal a node can make: a peer opening
	// thousands of streams a second otherwise costs a node a fraction of a
	// core however quickly each is refused. Honest peers open a few a
	// second, and bursts of dozens when they join or submit tasks: 200 tasks
	// of two replicas submitted at once to three providers drained a
	// provider's bucket for the submitter by 74 streams (docs/bench.md,
	// "Attacks"), so 100 a second and a burst of 500 leave honest traffic
	// well clear of the limit. 0 turns the limit off.
	// It holds on hosts built by New; a mocknet host (Attach) has no
	// resource manager to put it in.
	StreamRate float64
	// StreamBurst is the depth of each peer's bucket: the streams it may
	// open at once after a quiet time.
	StreamBurst int
	// StreamRateStrikes is how many refusals for its rate a peer may earn
	// within a minute: at this many it is disconnected and suspended for
	// StreamRateSuspend (its connections refused as if banned, in memory
	// only). A peer earns none unless it opens streams faster than
	// StreamRate for longer than StreamBurst allows; 100 refusals mean a
	// peer went on after a hundred resets.
	StreamRateStrikes int
	// StreamRateSuspend is how long a peer that reached StreamRateStrikes
	// stays disconnected: 5 minutes, long enough that reconnecting to flood
	// again costs the attacker more than it costs the node.
	StreamRateSuspend time.Duration
	// StreamRatePeers bounds the buckets kept, so that a flood of
	// identities cannot grow memory: beyond it the least recently used is
	// forgotten (a peer's bucket is also forgotten when its last connection
	// closes, unless it was refused within the minute). 4096 is sixteen
	// times MaxInboundConns.
	StreamRatePeers int
	// StreamRateExempt lists prefixes of protocol IDs whose streams give
	// their token back once negotiated. Bitswap's server sends every
	// message (a block of up to 1 MiB) on a new stream, so a download runs
	// at several inbound streams per MiB from the peers asked; those
	// streams are bounded by their protocol's limits in Protocols instead.
	StreamRateExempt []string
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
	// not publicly reachable: it dials relayed addresses, and while AutoNAT
	// says it is private it reserves slots on relays (AutoRelay) chosen
	// among the peers it is connected to, and advertises the relayed
	// addresses. With HolePunching, a peer that reaches it through a relay
	// is then moved to a direct connection (DCUtR). On by default for the
	// same reason.
	RelayClient bool
	// RelayService serves circuit relay v2 to NATed peers while AutoNAT
	// says this node is publicly reachable (libp2p's limited relay: each
	// circuit carries at most 128 KiB over 2 minutes, enough for the hole
	// punch that replaces it, and reservations are bounded per peer and
	// per IP). On by default: NATed nodes need public ones to relay for
	// them, and a private node never starts it.
	RelayService bool
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
	// Clock times the bootstrap backoff. libp2p's own timers (dials,
	// identify, the connection manager) stay on the time package. Default
	// clock.Real(); the node gives its own.
	Clock clock.Clock
}

// ProtocolLimit bounds one protocol's inbound streams in the resource
// manager.
type ProtocolLimit struct {
	// ID is the protocol ID (one version).
	ID protocol.ID
	// Streams bounds its inbound streams from every peer, StreamsPerPeer
	// from one peer.
	Streams, StreamsPerPeer int
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
		ConnLow:         128,
		ConnHigh:        192,
		ConnGrace:       time.Minute,
		MaxInboundConns: 256,
		ConnsPerPeer:    8,
		ConnsPerIP:      8,
		ConnLimitExempt: []string{"127.0.0.0/8", "::1/128"},

		StreamRate:        100,
		StreamBurst:       500,
		StreamRateStrikes: 100,
		StreamRateSuspend: 5 * time.Minute,
		StreamRatePeers:   4096,
		StreamRateExempt:  []string{"/ipfs/bitswap"},

		AutoNAT:      true,
		HolePunching: true,
		RelayClient:  true,
		RelayService: true,
		MDNS:         true,
		MDNSService:  "fog",
		BackoffMin:   time.Second,
		BackoffMax:   5 * time.Minute,
		DialTimeout:  15 * time.Second,
		UserAgent:    "fog",
		Clock:        clock.Real(),
	}
}

// TestConfig returns a configuration for tests and local devnets: loopback
// only, ports chosen by the OS, no NAT helpers, no mDNS, short timers.
func TestConfig() Config {
	c := DefaultConfig()
	c.ListenAddrs = []string{"/ip4/127.0.0.1/tcp/0", "/ip4/127.0.0.1/udp/0/quic-v1"}
	c.AutoNAT, c.HolePunching, c.RelayClient, c.MDNS = false, false, false, false
	c.RelayService = false
	c.BackoffMin = 50 * time.Millisecond
	c.BackoffMax = 2 * time.Second
	c.DialTimeout = 5 * time.Second
	return c
}

// Validate checks every field and returns an error wrapping ErrConfig that
// names the first bad one.
func (c Config) Validate() error {
	if len(c.ListenAddrs) == 0 {
		return fmt.Errorf("%w: ListenAddrs: no address", ErrConfig)
	}
	if _, err := ParseListenAddrs(c.ListenAddrs); err != nil {
		return err
	}
	if _, err := ParseBootstrap(c.Bootstrap); err != nil {
		return err
	}
	switch {
	case c.ConnLow < 0:
		return fmt.Errorf("%w: ConnLow %d is negative", ErrConfig, c.ConnLow)
	case c.ConnHigh <= c.ConnLow:
		return fmt.Errorf("%w: ConnHigh %d must exceed ConnLow %d", ErrConfig, c.ConnHigh, c.ConnLow)
	case c.MaxInboundConns < 1:
		return fmt.Errorf("%w: MaxInboundConns %d, need at least 1", ErrConfig, c.MaxInboundConns)
	case c.ConnHigh >= c.MaxInboundConns:
		return fmt.Errorf("%w: ConnHigh %d must be below MaxInboundConns %d, so that connections are trimmed before peers are refused",
			ErrConfig, c.ConnHigh, c.MaxInboundConns)
	case c.ConnsPerPeer < 1:
		return fmt.Errorf("%w: ConnsPerPeer %d, need at least 1", ErrConfig, c.ConnsPerPeer)
	case c.ConnsPerIP < 1:
		return fmt.Errorf("%w: ConnsPerIP %d, need at least 1", ErrConfig, c.ConnsPerIP)
	case c.StreamRate < 0:
		return fmt.Errorf("%w: StreamRate %g is negative", ErrConfig, c.StreamRate)
	case c.StreamRate > 0 && c.StreamBurst < 1:
		return fmt.Errorf("%w: StreamBurst %d, need at least 1", ErrConfig, c.StreamBurst)
	case c.StreamRate > 0 && c.StreamRateStrikes < 1:
		return fmt.Errorf("%w: StreamRateStrikes %d, need at least 1", ErrConfig, c.StreamRateStrikes)
	case c.StreamRate > 0 && c.StreamRateSuspend < 0:
		return fmt.Errorf("%w: StreamRateSuspend %s is negative", ErrConfig, c.StreamRateSuspend)
	case c.StreamRate > 0 && c.StreamRatePeers < 1:
		return fmt.Errorf("%w: StreamRatePeers %d, need at least 1", ErrConfig, c.StreamRatePeers)
	case c.ConnGrace < 0:
		return fmt.Errorf("%w: ConnGrace %s is negative", ErrConfig, c.ConnGrace)
	case c.ResourceMemory < 0:
		return fmt.Errorf("%w: ResourceMemory %d is negative", ErrConfig, c.ResourceMemory)
	case c.ResourceFDs < 0:
		return fmt.Errorf("%w: ResourceFDs %d is negative", ErrConfig, c.ResourceFDs)
	case c.MDNS && c.MDNSService == "":
		return fmt.Errorf("%w: MDNSService is empty", ErrConfig)
	case c.BackoffMin <= 0:
		return fmt.Errorf("%w: BackoffMin %s must be positive", ErrConfig, c.BackoffMin)
	case c.BackoffMax < c.BackoffMin:
		return fmt.Errorf("%w: BackoffMax %s is below BackoffMin %s", ErrConfig, c.BackoffMax, c.BackoffMin)
	case c.DialTimeout <= 0:
		return fmt.Errorf("%w: DialTimeout %s must be positive", ErrConfig, c.DialTimeout)
	case c.Clock == nil:
		return fmt.Errorf("%w: Clock is nil", ErrConfig)
	}
	if _, err := parsePrefixes(c.ConnLimitExempt); err != nil {
		return err
	}
	for i, p := range c.Protocols {
		if p.ID == "" || p.Streams < 1 || p.StreamsPerPeer < 1 || p.StreamsPerPeer > p.Streams {
			return fmt.Errorf("%w: Protocols[%d] %q: want an ID and 1 <= StreamsPerPeer (%d) <= Streams (%d)",
				ErrConfig, i, p.ID, p.StreamsPerPeer, p.Streams)
		}
	}
	return nil
}

// parsePrefixes parses ConnLimitExempt; the error names the bad entry.
func parsePrefixes(ss []string) ([]netip.Prefix, error) {
	out := make([]netip.Prefix, 0, len(ss))
	for i, s := range ss {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return nil, fmt.Errorf("%w: ConnLimitExempt[%d] %q: want a CIDR prefix such as 127.0.0.0/8", ErrConfig, i, s)
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// ParseListenAddrs parses listen multiaddrs; the error names the bad entry.
func ParseListenAddrs(addrs []string) ([]ma.Multiaddr, error) {
	out := make([]ma.Multiaddr, 0, len(addrs))
	for i, s := range addrs {
		a, err := ma.NewMultiaddr(s)
		if err != nil {
			return nil, fmt.Errorf("%w: ListenAddrs[%d] %q: %v", ErrConfig, i, s, err)
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
			return nil, fmt.Errorf("%w: Bootstrap[%d] %q: %v", ErrConfig, i, s, err)
		}
		ai, err := peer.AddrInfoFromP2pAddr(a)
		if err != nil {
			return nil, fmt.Errorf("%w: Bootstrap[%d] %q: want a multiaddr ending in /p2p/<peer id>: %v", ErrConfig, i, s, err)
		}
		if len(ai.Addrs) == 0 {
			return nil, fmt.Errorf("%w: Bootstrap[%d] %q: no transport address before /p2p", ErrConfig, i, s)
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
