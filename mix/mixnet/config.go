package mixnet

import (
	"errors"
	"fmt"
	"time"
)

// ErrConfig: a Config field is out of range.
var ErrConfig = errors.New("mixnet: invalid config")

// Config configures one node's mix: how it sends (routes, delays, cover
// traffic, retransmission) and how it relays. Validate names the Go fields;
// package node maps them onto config.toml's [mix] section.
type Config struct {
	// Layers is the number of relays on a route, one per lottery layer.
	// It must equal the lottery's Layers. 3, as Loopix and Katzenpost.
	Layers int

	// MeanDelay is the mean of the exponential delay each relay holds a
	// packet for (Poisson mixing, as Loopix). 50 ms: enough to reorder the
	// packets a relay sees at the default cover rates of a few hundred
	// nodes, small against a chat message's expected latency. Zero turns
	// mixing delays off (the simulator's --no-delay baseline).
	MeanDelay time.Duration

	// MaxDelay cuts each drawn delay, so that an ACK timeout computed from
	// a route stays finite. 20 × MeanDelay would be met once in 500
	// million draws; 1 s.
	MaxDelay time.Duration

	// SendRate (λ_P, packets per second) is the Poisson stream real
	// messages ride on: at each of its events the node sends the next
	// queued packet (a message, an ACK or a retransmission), or a drop
	// cover packet when nothing is queued, so an observer of the node's
	// links sees the same process whether it talks or not. 1/s.
	SendRate float64

	// LoopRate (λ_L) is the rate of loop cover packets: routes back to the
	// node itself, which also tell it which relays are alive. 0.5/s.
	LoopRate float64

	// DropRate (λ_D) is the rate of extra drop cover packets, sent to a
	// relay that discards them. 0.5/s. SendRate + LoopRate + DropRate is
	// the node's constant cost: 2 packets/s by default.
	DropRate float64

	// RelayLoopRate (λ_M, Loopix's mix loops) is the rate of the loop
	// cover a node sends while it relays: each leaves it toward the next
	// layer, as its relayed packets do, goes through the other layers and
	// comes back to it. Relays' loops thicken every relay's pool, so a
	// packet mixes with more others per hop than the users' traffic alone
	// gives, and they are the relay's cost, not its users': 1/s. Counted
	// apart from the 2 packets/s above, and only while the node serves a
	// layer.
	RelayLoopRate float64

	// Cover turns the Poisson streams on. Without it (the simulator's
	// --no-cover baseline) real packets leave as soon as they are queued
	// and no cover is sent.
	Cover bool

	// AckSlack is added to the sum of a route's delays (forward and ACK
	// routes) to make the time a sender waits, from the moment the packet
	// leaves, for an ACK before it sends the message again over a fresh
	// route. It covers the eight links of the two routes (up to 1 s at
	// the simulator's 120 ms) and the recipient's send queue: a queued
	// ACK leaves at the first event of the send or drop stream, an
	// exponential wait of rate SendRate+DropRate (1.5/s), which exceeds
	// 4.6 s once in a thousand and 7 s once in 36,000. At 5 s, 6 of 1,248
	// first attempts at 100 simulated nodes were sent again while their
	// ACK was on its way (each delivered twice), above the 1 in 1,000
	// that ≥ 99.9 % at the first attempt allows. 8 s.
	AckSlack time.Duration

	// TTL is how long a message is retried by default before it counts as
	// failed. 2 minutes.
	TTL time.Duration

	// MaxQueue bounds the packets waiting for the send stream (messages,
	// ACKs, retransmissions). A send beyond it is refused. 1,024.
	MaxQueue int

	// MaxPending bounds messages sent and not yet acknowledged or failed.
	// 4,096.
	MaxPending int

	// MaxHeld bounds the packets a relay holds for their delay. Beyond it
	// new packets are dropped (and counted). 65,536: over 10 s of traffic
	// at the rate this machine can unwrap.
	MaxHeld int

	// ReplayTags bounds the replay tags a relay keeps per mix key. A relay
	// that has seen this many packets under one key drops the rest of the
	// epoch's packets rather than forget a tag. 4 M (128 MiB of tags): a
	// 10-minute epoch at 7,000 packets/s.
	ReplayTags int

	// LoopsToDead is how many of a relay's loop packets in a row must be
	// lost before routes avoid it for the epoch. 3.
	LoopsToDead int
}

// DefaultConfig returns the defaults documented on each field.
func DefaultConfig() Config {
	return Config{
		Layers:        3,
		MeanDelay:     50 * time.Millisecond,
		MaxDelay:      time.Second,
		SendRate:      1,
		LoopRate:      0.5,
		DropRate:      0.5,
		Cover:         true,
		RelayLoopRate: 1,
		AckSlack:      8 * time.Second,
		TTL:           2 * time.Minute,
		MaxQueue:      1024,
		MaxPending:    4096,
		MaxHeld:       65536,
		ReplayTags:    4 << 20,
		LoopsToDead:   3,
	}
}

// Validate reports the first field out of range, wrapping ErrConfig.
func (c Config) Validate() error {
	bad := func(field string, v any, want string) error {
		return fmt.Errorf("%w: %s %v %s", ErrConfig, field, v, want)
	}
	switch {
	case c.Layers < 1 || c.Layers > maxLayers:
		return bad("Layers", c.Layers, fmt.Sprintf("must be in [1, %d]", maxLayers))
	case c.MeanDelay < 0:
		return bad("MeanDelay", c.MeanDelay, "must not be negative")
	case c.MaxDelay < c.MeanDelay:
		return bad("MaxDelay", c.MaxDelay, "must be at least MeanDelay")
	case c.SendRate < 0 || c.SendRate > maxRate:
		return bad("SendRate", c.SendRate, fmt.Sprintf("must be in [0, %v]", maxRate))
	case c.Cover && c.SendRate == 0:
		return bad("SendRate", c.SendRate, "must be positive when Cover is on")
	case c.LoopRate < 0 || c.LoopRate > maxRate:
		return bad("LoopRate", c.LoopRate, fmt.Sprintf("must be in [0, %v]", maxRate))
	case c.DropRate < 0 || c.DropRate > maxRate:
		return bad("DropRate", c.DropRate, fmt.Sprintf("must be in [0, %v]", maxRate))
	case c.RelayLoopRate < 0 || c.RelayLoopRate > maxRate:
		return bad("RelayLoopRate", c.RelayLoopRate, fmt.Sprintf("must be in [0, %v]", maxRate))
	case c.AckSlack <= 0:
		return bad("AckSlack", c.AckSlack, "must be positive")
	case c.TTL <= 0:
		return bad("TTL", c.TTL, "must be positive")
	case c.MaxQueue < 1:
		return bad("MaxQueue", c.MaxQueue, "must be positive")
	case c.MaxPending < 1:
		return bad("MaxPending", c.MaxPending, "must be positive")
	case c.MaxHeld < 1:
		return bad("MaxHeld", c.MaxHeld, "must be positive")
	case c.ReplayTags < 1:
		return bad("ReplayTags", c.ReplayTags, "must be positive")
	case c.LoopsToDead < 1:
		return bad("LoopsToDead", c.LoopsToDead, "must be positive")
	}
	return nil
}

const (
	// maxLayers: a route is the layers plus the recipient, and fog's
	// Sphinx geometry has room for maxLayers+1 hops.
	maxLayers = 4
	// maxRate bounds the Poisson rates (packets per second).
	maxRate = 1000
)
