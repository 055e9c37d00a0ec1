package dht

import (
	"errors"
	"fmt"
	"time"
)

// ErrConfig is wrapped by every error Config.Validate returns.
var ErrConfig = errors.New("dht: invalid config")

// Modes a node's DHTs can run in. A mode says what the WAN DHT does; the
// LAN DHT serves in auto and server modes and is a client in client mode.
const (
	// ModeAuto serves the WAN DHT only while the node is publicly
	// reachable (AutoNAT says so), and always serves the LAN DHT: peers on
	// the same network or machine can reach this node.
	ModeAuto = "auto"
	// ModeServer always answers queries of both DHTs.
	ModeServer = "server"
	// ModeClient only asks, in both DHTs.
	ModeClient = "client"
)

// Config tunes the DHT. Start from DefaultConfig or TestConfig.
type Config struct {
	// Mode is auto, server or client. auto is right for a node on the
	// Internet or a LAN: one behind a NAT cannot be reached to answer WAN
	// queries, but its LAN neighbours can reach it.
	Mode string
	// BucketSize is Kademlia's k: peers per bucket and replicas of a record.
	// 20 is the value of the Kademlia paper and of the IPFS DHT.
	BucketSize int
	// Concurrency is Kademlia's alpha, the queries in flight per lookup;
	// 10 is go-libp2p-kad-dht's default and trades messages for latency.
	Concurrency int
	// Resiliency is how many of the closest peers must answer before a
	// lookup ends; 3 is go-libp2p-kad-dht's default.
	Resiliency int
	// RefreshInterval is how often every bucket is refreshed by a lookup;
	// 10 minutes (go-libp2p-kad-dht's default) keeps tables fresh under
	// ordinary churn at a few lookups per minute.
	RefreshInterval time.Duration
	// RefreshQueryTimeout bounds each refresh lookup.
	RefreshQueryTimeout time.Duration
	// LowPeers: while the routing table holds fewer peers, it is refreshed
	// as soon as it changes (at most every LowPeersBackoff), to fill it fast
	// after start or a partition.
	LowPeers int
	// LowPeersBackoff is the least time between two low-peers refreshes.
	LowPeersBackoff time.Duration
	// SnapshotInterval is how often the routing table is saved to the
	// store, so that a node restarted after a crash starts with the peers
	// it knew a minute ago.
	SnapshotInterval time.Duration
	// MaxRecordAge is how long a stored value record is kept; 36 hours is
	// go-libp2p-kad-dht's default: publishers republish well before.
	MaxRecordAge time.Duration
}

// DefaultConfig returns the configuration of a node on the Internet.
func DefaultConfig() Config {
	return Config{
		Mode:                ModeAuto,
		BucketSize:          20,
		Concurrency:         10,
		Resiliency:          3,
		RefreshInterval:     10 * time.Minute,
		RefreshQueryTimeout: 10 * time.Second,
		LowPeers:            10,
		LowPeersBackoff:     5 * time.Second,
		SnapshotInterval:    time.Minute,
		MaxRecordAge:        36 * time.Hour,
	}
}

// TestConfig returns a configuration for tests, devnets and the simulator:
// the default mode (loopback and simulated nodes meet in the LAN DHT), fast
// refreshes and snapshots.
func TestConfig() Config {
	c := DefaultConfig()
	c.RefreshInterval = time.Minute
	c.LowPeersBackoff = time.Second
	c.SnapshotInterval = time.Second
	return c
}

// Validate names the first bad field.
func (c Config) Validate() error {
	switch {
	case c.Mode != ModeAuto && c.Mode != ModeServer && c.Mode != ModeClient:
		return fmt.Errorf("%w: Mode %q: want auto, server or client", ErrConfig, c.Mode)
	case c.BucketSize < 2:
		return fmt.Errorf("%w: BucketSize %d: want at least 2", ErrConfig, c.BucketSize)
	case c.Concurrency < 1:
		return fmt.Errorf("%w: Concurrency %d: want at least 1", ErrConfig, c.Concurrency)
	case c.Resiliency < 1:
		return fmt.Errorf("%w: Resiliency %d: want at least 1", ErrConfig, c.Resiliency)
	case c.RefreshInterval <= 0:
		return fmt.Errorf("%w: RefreshInterval must be positive", ErrConfig)
	case c.RefreshQueryTimeout <= 0:
		return fmt.Errorf("%w: RefreshQueryTimeout must be positive", ErrConfig)
	case c.LowPeers < 0:
		return fmt.Errorf("%w: LowPeers is negative", ErrConfig)
	case c.LowPeersBackoff <= 0:
		return fmt.Errorf("%w: LowPeersBackoff must be positive", ErrConfig)
	case c.SnapshotInterval <= 0:
		return fmt.Errorf("%w: SnapshotInterval must be positive", ErrConfig)
	case c.MaxRecordAge <= 0:
		return fmt.Errorf("%w: MaxRecordAge must be positive", ErrConfig)
	}
	return nil
}
