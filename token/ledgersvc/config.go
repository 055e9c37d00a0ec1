package ledgersvc

import (
	"errors"
	"fmt"
	"time"

	"github.com/fog-compute/fog/internal/clock"
	"github.com/fog-compute/fog/token"
)

// ErrConfig reports an invalid Config.
var ErrConfig = errors.New("ledgersvc: invalid config")

// Config is the configuration of a Service. Every node of a network must
// use the same EpochZero, EpochLength and topic limits.
type Config struct {
	// Node configures the elections.
	Node token.Config
	// EpochZero and EpochLength define the ledger's epochs (the epoch
	// field of the blocks this node makes, unbonding, escrow deadlines,
	// DAO windows). One minute: unbonding and deadlines count in minutes.
	EpochZero   time.Time
	EpochLength time.Duration
	// MaxBackdate is how many epochs before the current one a block heard
	// on gossip may be dated: a block the ledger does not hold yet whose
	// epoch is older is ignored (not relayed, not voted for), so it can be
	// confirmed only by representatives that break this rule. That bounds
	// when a past epoch's figures (the lottery's stake snapshot, a DAO
	// window's ballots) stop changing: Settled. Blocks pulled by the
	// catch-up were confirmed elsewhere and are not judged by it. One
	// epoch (a minute) leaves an honest block far more than gossip needs.
	// A constant of the network.
	MaxBackdate uint64
	// TickInterval is how often the elections are ticked: the online
	// weight sampled and the candidates and votes of the elections open
	// for Node.ResendAfter re-sent (with doubling waits). A
	// tenth of the default OnlineWindow, so a representative in an open
	// election stays online.
	TickInterval time.Duration
	// MaxSkew and MaxAge bound the gossip timestamps (TopicParams): 30 s
	// of skew, and messages older than 40 s are dropped (the elections
	// re-send what is still needed); MaxAge must exceed MaxSkew. Gossip's
	// SeenTTL must cover the topics' reject age, 2·MaxAge + MaxSkew + 5
	// heartbeats: 115 s within the default 2 minutes.
	MaxSkew, MaxAge time.Duration
	// Rate and Burst are each topic's per-publisher budget. A node may
	// re-send the candidates and votes of every open election in a tick; 500
	// messages per second and a burst of 5,000 cover a thousand open
	// elections.
	Rate  float64
	Burst int
	// AutoReceive makes the node receive every confirmed send to its
	// account at once. On by default: a node's credits should not wait.
	AutoReceive bool
	// Clock is the time source.
	Clock clock.Clock
}

// DefaultConfig returns the configuration a node runs with.
func DefaultConfig() Config {
	return Config{
		Node:         token.DefaultConfig(),
		EpochZero:    time.Unix(0, 0),
		EpochLength:  time.Minute,
		MaxBackdate:  1,
		TickInterval: 30 * time.Second,
		MaxSkew:      30 * time.Second,
		MaxAge:       40 * time.Second,
		Rate:         500,
		Burst:        5000,
		AutoReceive:  true,
		Clock:        clock.Real(),
	}
}

// TestConfig returns DefaultConfig with short timers for tests and the
// simulator: ticks every 200 ms, representatives online for 5 s.
func TestConfig() Config {
	c := DefaultConfig()
	c.TickInterval = 200 * time.Millisecond
	c.Node.OnlineWindow = 5 * time.Second
	c.Node.TrendPeriod = time.Hour
	c.Node.AnswerInterval = time.Second
	c.Node.ResendAfter, c.Node.ResendMax = time.Second, 2*time.Second
	c.EpochLength = time.Second
	c.MaxBackdate = 5                                  // epochs of a second: a loaded test machine delays gossip by more than one
	c.MaxSkew, c.MaxAge = 2*time.Second, 8*time.Second // within gossip.TestConfig's SeenTTL of 30 s
	return c
}

// Validate checks the configuration; its errors wrap ErrConfig (or
// token.ErrConfig for Node) and name the field.
func (c Config) Validate() error {
	if err := c.Node.Validate(); err != nil {
		return fmt.Errorf("%w: Node: %w", ErrConfig, err)
	}
	switch {
	case c.EpochLength <= 0:
		return fmt.Errorf("%w: EpochLength must be positive", ErrConfig)
	case c.TickInterval <= 0:
		return fmt.Errorf("%w: TickInterval must be positive", ErrConfig)
	case c.MaxSkew <= 0:
		return fmt.Errorf("%w: MaxSkew must be positive", ErrConfig)
	case c.MaxAge <= 0:
		return fmt.Errorf("%w: MaxAge must be positive", ErrConfig)
	case c.MaxAge <= c.MaxSkew:
		return fmt.Errorf("%w: MaxAge %s must exceed MaxSkew %s", ErrConfig, c.MaxAge, c.MaxSkew)
	case c.Rate <= 0:
		return fmt.Errorf("%w: Rate must be positive", ErrConfig)
	case c.Burst <= 0:
		return fmt.Errorf("%w: Burst must be positive", ErrConfig)
	case c.Clock == nil:
		return fmt.Errorf("%w: Clock must be set", ErrConfig)
	}
	return nil
}

// AgeBackdate returns the least MaxBackdate under which no block is
// ignored as back-dated while gossip still takes its first publication:
// the epochs MaxAge spans, rounded up. A block is dated with its author's
// epoch when it publishes it, and gossip takes the message until it is
// MaxAge old by the receiver's clock (skew included), so by then the
// receiver's epoch is at most that many epochs past the block's. With
// DefaultConfig it is 1 (40 s of a one-minute epoch), MaxBackdate's
// value; TestConfig's 1-second epochs and 8 s keep 5 (its tests hold
// gossip well within 5 s), and a configuration that raises MaxAge for
// loaded nodes raises MaxBackdate with it (the simulator does): else a
// block that takes more than MaxBackdate epochs to reach a node is
// ignored there and not relayed, and dies out.
func (c Config) AgeBackdate() uint64 {
	if c.EpochLength <= 0 || c.MaxAge <= 0 {
		return 0
	}
	return uint64((c.MaxAge + c.EpochLength - 1) / c.EpochLength)
}

// Settled returns the first epoch from whose start on no honest node takes
// a new block dated e or earlier from gossip, on any clock within MaxSkew
// of this one: e + MaxBackdate + 1, plus the epochs MaxSkew spans. From
// then on the confirmed blocks of epochs up to e change only through
// blocks that were already taken (their elections ending) or through
// representatives that break the rule. It saturates instead of
// overflowing.
func (c Config) Settled(e uint64) uint64 {
	skew := uint64((c.MaxSkew + c.EpochLength - 1) / c.EpochLength)
	s := e + c.MaxBackdate + 1 + skew
	if s < e {
		return ^uint64(0)
	}
	return s
}

// SettledBefore returns the last epoch all of whose blocks are settled
// (Settled) by time t, and false if there is none yet.
func (c Config) SettledBefore(t time.Time) (uint64, bool) {
	cur := c.Epoch(t.Add(-c.MaxSkew))
	if t.Add(-c.MaxSkew).Before(c.EpochZero) {
		return 0, false
	}
	back := c.MaxBackdate + 1
	if cur < back {
		return 0, false
	}
	return cur - back, true
}

// EpochStart returns when epoch e starts: EpochZero + e*EpochLength,
// saturating at the largest offset a Duration can express.
func (c Config) EpochStart(e uint64) time.Time {
	if c.EpochLength <= 0 {
		return c.EpochZero
	}
	if n := uint64(time.Duration(1<<63-1) / c.EpochLength); e > n {
		e = n
	}
	return c.EpochZero.Add(time.Duration(e) * c.EpochLength)
}

// Epoch returns the epoch of time t.
func (c Config) Epoch(t time.Time) uint64 {
	if t.Before(c.EpochZero) {
		return 0
	}
	return uint64(t.Sub(c.EpochZero) / c.EpochLength)
}
