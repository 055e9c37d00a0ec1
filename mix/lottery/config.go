package lottery

import (
	"fmt"
	"time"
)

// Limits that Config.Validate enforces.
const (
	// MaxNetworkIDLen bounds Config.NetworkID, which goes into every VRF
	// input and signature with a one-byte length prefix.
	MaxNetworkIDLen = 64
	// MaxTargetRelays bounds Config.TargetRelays. It keeps the expected
	// number of seats of any one candidate (at most TargetRelays) far inside
	// the range where Seats walks the binomial distribution exactly.
	MaxTargetRelays = 100_000
	// MaxLayers bounds Config.Layers: a layer travels in one byte.
	MaxLayers = 255
	// MaxEpochLength bounds the lengths CheckEpochLength accepts: a day
	// between relay rotations is already far longer than a mix key should
	// live.
	MaxEpochLength = 24 * time.Hour
)

// Config fixes the parameters of one network's lottery. Every node of a
// network must use the same NetworkID, Genesis, EpochLength, TargetRelays and
// Layers, or their claims will not verify for each other; the other fields
// are local tolerances. The zero value is not valid: start from DefaultConfig
// or SimConfig.
type Config struct {
	// NetworkID separates networks: it is hashed into every VRF input, seed
	// and signature, so a claim for one network is worthless on another.
	// "fog" names the public network; test networks and the simulator use
	// their own.
	NetworkID string
	// Genesis is the start of epoch 0. Epoch e runs from
	// Genesis + e*EpochLength for EpochLength. The default is a fixed
	// instant (2026-01-01 00:00 UTC) that every node of the public network
	// agrees on; the simulator sets its own start time.
	Genesis time.Time
	// EpochLength is how long one relay directory lives. Ten minutes (the
	// issue's default) rotates relays and mix keys often enough to limit
	// what one compromised epoch key reveals, while the few seconds of claim
	// traffic per epoch stay negligible. The simulator uses seconds.
	EpochLength time.Duration
	// TargetRelays (R) is the expected number of seats won per epoch: the
	// per-unit-of-weight success probability is p = R / total weight. 30
	// gives 10 relays per layer on average, enough for route diversity in a
	// small network; large networks raise it.
	TargetRelays int
	// Layers is the number of mix layers (3, the stratified
	// topology: entry, middle, exit). Each winner serves one layer.
	Layers int
	// ClaimWindow is how long after its epoch starts a claim for it is
	// accepted; then the directory of the epoch is final. Winners publish at
	// the start plus twice MaxClockSkew, so the window must cover that, the
	// skew of the receivers and gossip propagation; 30 s is many times the
	// few seconds gossipsub needs to reach every peer.
	ClaimWindow time.Duration
	// RevealWindow is how long before its epoch ends a relay publishes its
	// seed reveal; reveals arriving after the epoch ends no longer count.
	// 30 s, for the same propagation reasons as ClaimWindow. A shorter window
	// keeps the next seed unknown for longer (see docs/lottery.md).
	RevealWindow time.Duration
	// MaxClockSkew is the largest difference this node assumes between any
	// two honest clocks. Winners wait 2*MaxClockSkew after the epoch start
	// before they publish, and messages up to 2*MaxClockSkew early are
	// buffered rather than dropped. 2 s is generous for NTP-synchronised
	// machines; the simulator shares one clock.
	MaxClockSkew time.Duration
	// MaxMessageSize is the largest lottery message (claim or reveal) a node
	// accepts from the wire; larger input is rejected before decoding. 512
	// bytes leaves room above the 258-byte claim for a future version; the
	// gossip topic should enforce the same limit.
	MaxMessageSize int
	// KeepEpochs is how many past epochs' directories and seeds a node keeps
	// after a new epoch starts. The mix layer needs the previous epoch's
	// keys for packets in flight across the boundary; 4 leaves slack for a
	// slow peer and for inspection through the API.
	KeepEpochs int
	// MaxPending bounds the early messages a node buffers (ErrEarly) until
	// their phase begins. 1024 claims are about 260 kB, and the honest load
	// is about TargetRelays claims per epoch.
	MaxPending int
	// Epochs, if set, maps epochs to time instead of Genesis and
	// EpochLength alone: a network whose epoch length changes (the token
	// DAO's lottery.epoch_length) gives every component the same
	// schedule, whose epoch 0 starts at Genesis and whose first length is
	// EpochLength. Every length it uses must pass CheckEpochLength. nil:
	// epochs of EpochLength from Genesis for ever.
	Epochs Epochs
}

// DefaultConfig returns the parameters of the public network.
func DefaultConfig() Config {
	return Config{
		NetworkID:      "fog",
		Genesis:        time.Date(2026, time.January, 1, 0, 0, 0, 0, time.UTC),
		EpochLength:    10 * time.Minute,
		TargetRelays:   30,
		Layers:         3,
		ClaimWindow:    30 * time.Second,
		RevealWindow:   30 * time.Second,
		MaxClockSkew:   2 * time.Second,
		MaxMessageSize: 512,
		KeepEpochs:     4,
		MaxPending:     1024,
	}
}

// SimConfig returns parameters for tests and the simulator: 10-second epochs
// whose directory closes 4 s after the start (inside the 5-second agreement
// target), reveals in the last 2 s, and 50 ms of tolerated skew. The
// simulator usually overrides Genesis with its own start time.
func SimConfig() Config {
	c := DefaultConfig()
	c.NetworkID = "fog-sim"
	c.EpochLength = 10 * time.Second
	c.ClaimWindow = 4 * time.Second
	c.RevealWindow = 2 * time.Second
	c.MaxClockSkew = 50 * time.Millisecond
	return c
}

// ScaledSimConfig is SimConfig with epochs of length l and the claim
// window, reveal window and clock skew scaled in proportion (devnets and
// simulations with other short epochs).
func ScaledSimConfig(l time.Duration) Config {
	c := SimConfig()
	// in ms, so that a window times l cannot overflow
	scale := func(d time.Duration) time.Duration {
		return time.Duration(d.Milliseconds()) * l / time.Duration(c.EpochLength.Milliseconds())
	}
	c.ClaimWindow, c.RevealWindow, c.MaxClockSkew = scale(c.ClaimWindow), scale(c.RevealWindow), scale(c.MaxClockSkew)
	c.EpochLength = l
	return c
}

// Validate checks every field and returns an error wrapping ErrConfig that
// names the first bad one.
func (c Config) Validate() error { return c.validate("") }

// validate is Validate with prefix put before every field name, so that a
// config file section can name its fields the way it spells them
// (ServiceConfig passes "relay.").
func (c Config) validate(prefix string) error {
	skew4 := 4 * c.MaxClockSkew
	f := func(name string) string { return prefix + name }
	switch {
	case c.NetworkID == "":
		return fmt.Errorf("%w: %s is empty", ErrConfig, f("network_id"))
	case len(c.NetworkID) > MaxNetworkIDLen:
		return fmt.Errorf("%w: %s has %d bytes, at most %d", ErrConfig, f("network_id"), len(c.NetworkID), MaxNetworkIDLen)
	case c.Genesis.IsZero():
		return fmt.Errorf("%w: %s is not set", ErrConfig, f("genesis"))
	case c.EpochLength <= 0:
		return fmt.Errorf("%w: %s %s must be positive", ErrConfig, f("epoch_length"), c.EpochLength)
	case c.TargetRelays < 1 || c.TargetRelays > MaxTargetRelays:
		return fmt.Errorf("%w: %s %d must be in [1, %d]", ErrConfig, f("target_relays"), c.TargetRelays, MaxTargetRelays)
	case c.Layers < 1 || c.Layers > MaxLayers:
		return fmt.Errorf("%w: %s %d must be in [1, %d]", ErrConfig, f("layers"), c.Layers, MaxLayers)
	case c.MaxClockSkew < 0:
		return fmt.Errorf("%w: %s %s is negative", ErrConfig, f("max_clock_skew"), c.MaxClockSkew)
	case c.ClaimWindow <= skew4:
		return fmt.Errorf("%w: %s %s must exceed 4*max_clock_skew (%s)", ErrConfig, f("claim_window"), c.ClaimWindow, skew4)
	case c.RevealWindow <= 2*c.MaxClockSkew:
		return fmt.Errorf("%w: %s %s must exceed 2*max_clock_skew (%s)", ErrConfig, f("reveal_window"), c.RevealWindow, 2*c.MaxClockSkew)
	case c.ClaimWindow+c.RevealWindow+skew4 > c.EpochLength:
		return fmt.Errorf("%w: %s %s must be at least claim_window + reveal_window + 4*max_clock_skew (%s)",
			ErrConfig, f("epoch_length"), c.EpochLength, c.ClaimWindow+c.RevealWindow+skew4)
	case c.MaxMessageSize < ClaimSize:
		return fmt.Errorf("%w: %s %d is below the claim size %d", ErrConfig, f("max_message_size"), c.MaxMessageSize, ClaimSize)
	case c.KeepEpochs < 1:
		return fmt.Errorf("%w: %s %d must be at least 1", ErrConfig, f("keep_epochs"), c.KeepEpochs)
	case c.MaxPending < 0:
		return fmt.Errorf("%w: %s %d is negative", ErrConfig, f("max_pending"), c.MaxPending)
	case c.Epochs != nil && !c.Epochs.EpochStart(0).Equal(c.Genesis):
		return fmt.Errorf("%w: Epochs starts epoch 0 at %s, not at %s %s", ErrConfig, c.Epochs.EpochStart(0), f("genesis"), c.Genesis)
	case c.Epochs != nil && c.epochLength(0) != c.EpochLength:
		return fmt.Errorf("%w: Epochs' epoch 0 lasts %s, not %s %s", ErrConfig, c.epochLength(0), f("epoch_length"), c.EpochLength)
	}
	return nil
}

// CheckEpochLength reports whether epochs of length l keep this
// configuration's windows valid (Validate's rule for EpochLength: at
// least ClaimWindow + RevealWindow + 4*MaxClockSkew) and l is at most
// MaxEpochLength. Its errors wrap ErrConfig.
func (c Config) CheckEpochLength(l time.Duration) error {
	if l > MaxEpochLength {
		return fmt.Errorf("%w: epoch length %s exceeds %s", ErrConfig, l, MaxEpochLength)
	}
	c.EpochLength, c.Epochs = l, nil
	return c.Validate()
}

// EpochStart returns when epoch e starts: Epochs' answer if set, else
// Genesis + e*EpochLength. The result saturates at the largest time.Time
// offset a Duration can express instead of overflowing.
func (c Config) EpochStart(e uint64) time.Time {
	if c.Epochs != nil {
		return c.Epochs.EpochStart(e)
	}
	if c.EpochLength <= 0 {
		return c.Genesis
	}
	maxEpochs := uint64(maxDuration / c.EpochLength)
	if e > maxEpochs {
		e = maxEpochs
	}
	return c.Genesis.Add(time.Duration(e) * c.EpochLength)
}

// EpochAt returns the epoch running at time t, and false before Genesis
// (Epochs' answer if set).
func (c Config) EpochAt(t time.Time) (uint64, bool) {
	if c.Epochs != nil {
		return c.Epochs.EpochAt(t)
	}
	if t.Before(c.Genesis) || c.EpochLength <= 0 {
		return 0, false
	}
	return uint64(t.Sub(c.Genesis) / c.EpochLength), true
}

// epochLength returns how long epoch e lasts.
func (c Config) epochLength(e uint64) time.Duration {
	return c.EpochStart(e + 1).Sub(c.EpochStart(e))
}

// ClaimClose returns the end of epoch e's claim window: EpochStart(e) +
// ClaimWindow. Claims for e received at or after it are late, and the
// directory of e is final.
func (c Config) ClaimClose(e uint64) time.Time { return c.EpochStart(e).Add(c.ClaimWindow) }

// publishDelay is how long after an epoch starts a winner publishes its
// claim: long enough that every receiver's clock, up to 2*MaxClockSkew
// behind the sender's, has reached the epoch start too.
func (c Config) publishDelay() time.Duration { return 2 * c.MaxClockSkew }

// revealAt returns when relays of epoch e publish their reveal.
func (c Config) revealAt(e uint64) time.Time { return c.EpochStart(e + 1).Add(-c.RevealWindow) }

const maxDuration = time.Duration(1<<63 - 1)
