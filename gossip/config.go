package gossip

import (
	"fmt"
	"math"
	"net"
	"time"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
)

// CapacityTopic is the gossipsub topic capacity adverts travel on.
const CapacityTopic = "/fog/capacity/1"

// Config tunes gossipsub, peer scoring, the capacity topic, the advertiser
// and the directory. The zero value is not valid: start from DefaultConfig
// or TestConfig. docs/gossip.md explains every scoring value.
type Config struct {
	// Heartbeat is gossipsub's heartbeat: mesh maintenance and IHAVE
	// gossip run once per beat, and the message cache keeps 5 beats. 1 s is
	// gossipsub's own default, the value its other timers (IWANT follow-up
	// 3 s, prune backoff 1 min) are tuned around. Tests use 100 ms.
	Heartbeat time.Duration
	// D, Dlo and Dhi are the mesh degree: the target, and the bounds below
	// which the heartbeat grafts and above which it prunes. gossipsub's
	// 6/5/12 gives every message D independent next hops (so a few
	// attackers in a mesh cannot cut a node off) at D-fold duplicate cost.
	D, Dlo, Dhi int
	// SeenTTL is how long a message ID is remembered, so a copy arriving
	// later is dropped as a duplicate without validation. It must cover
	// every topic's RejectAge (Join checks), so that a replay is either a
	// duplicate or old enough to be rejected outright. 2 minutes is
	// gossipsub's default and covers the capacity topic's 67 s.
	SeenTTL time.Duration
	// MaxRPCSize bounds one gossipsub RPC on the wire (all messages and
	// control in it); a larger frame resets the stream before anything is
	// decoded. 256 KiB holds a hundred maximal adverts; no fog topic
	// carries bulk data (files go over streams).
	MaxRPCSize int
	// ValidateQueue is how many received messages may wait for validation;
	// beyond it pubsub drops messages (without penalising anyone) rather
	// than queue without bound under a flood. 256 absorbs a burst of a full
	// RPC's worth while graylisting shuts the flooder out.
	ValidateQueue int
	// ValidateWorkers is the number of goroutines that verify envelope
	// signatures and run the validator chains; 0 means one per CPU
	// (pubsub's default).
	ValidateWorkers int
	// SubscriptionBuffer is how many delivered messages a subscription
	// holds for a slow handler before pubsub drops the excess for that
	// subscription. 256 covers a directory being updated by every peer of a
	// small network at once.
	SubscriptionBuffer int
	// PeerExchange sends peers a list of other peers when pruning them from
	// a mesh (and accepts such lists from peers scoring at least
	// Score.AcceptPXThreshold), so a node with few connections finds more
	// without a registry. On by default.
	PeerExchange bool
	// FloodPublish sends a node's own messages to every connected topic
	// peer above the publish threshold, not only to its mesh: the first hop
	// cannot be eclipsed by a few mesh peers, at the cost of one copy per
	// peer for each of the node's own adverts (rare). On, as in gossipsub.
	FloodPublish bool

	// Score is peer scoring (gossipsub v1.1).
	Score ScoreConfig
	// Capacity holds the capacity topic's validator parameters.
	Capacity TopicParams
	// Advert tunes the advertiser and the advert-specific checks.
	Advert AdvertConfig
	// Directory tunes the capacity directory.
	Directory DirectoryConfig
}

// ScoreConfig holds the peer-scoring parameters. Positive contributions
// (P1, P2) are capped by TopicScoreCap; invalid messages (P4) are what
// drive attackers below the thresholds. See docs/gossip.md for the
// arithmetic behind each value.
type ScoreConfig struct {
	// GossipThreshold: below it a peer gets no IHAVE gossip from us and its
	// own gossip is ignored. -10: one invalid message already costs this
	// much (InvalidWeight), so a peer that just forwarded something bad
	// stops shaping our view through gossip until it decays.
	GossipThreshold float64
	// PublishThreshold: below it our own messages are not flood-published
	// to the peer. -50: between two and three invalid messages.
	PublishThreshold float64
	// GraylistThreshold: below it every RPC from the peer is dropped
	// unread. -80: three invalid messages put a peer here even if it had
	// earned the whole TopicScoreCap before (10 - 3²·12 = -98).
	GraylistThreshold float64
	// AcceptPXThreshold: peer exchange from a pruning peer is only
	// followed if the peer scores at least this. 5 requires it to have
	// been useful (mesh time and first deliveries), which a fresh Sybil
	// identity is not.
	AcceptPXThreshold float64
	// OpportunisticGraftThreshold: when the median score of a mesh is below
	// it, the heartbeat grafts better-scoring peers. 1, a small positive
	// value as the gossipsub spec advises.
	OpportunisticGraftThreshold float64
	// TopicScoreCap caps the total positive topic score. 10: enough for
	// honest peers to sit above the thresholds and earn PX, too little to
	// bank credit that would absorb more than two invalid messages.
	TopicScoreCap float64
	// DecayInterval is how often counters decay; 1 s is pubsub's minimum.
	DecayInterval time.Duration
	// DecayToZero: a decaying counter below it is reset to 0. 0.01, the
	// spec's suggestion.
	DecayToZero float64
	// RetainScore is how long the score of a disconnected peer is kept,
	// so that reconnecting does not wash away penalties. 30 minutes; it
	// should exceed a few InvalidHalfLife.
	RetainScore time.Duration
	// InspectPeriod is how often the scores are snapshotted for Scores and
	// Graylisted. 1 s; the simulator uses 100 ms to time graylisting.
	InspectPeriod time.Duration

	// TimeInMeshWeight, TimeInMeshQuantum and TimeInMeshCap make P1: a
	// small reward for staying in our mesh. 0.01 per second up to 300 s
	// gives at most 3.
	TimeInMeshWeight  float64
	TimeInMeshQuantum time.Duration
	TimeInMeshCap     float64
	// FirstDeliveryWeight, FirstDeliveryCap and FirstDeliveryHalfLife make
	// P2: a reward for delivering messages first. Weight 1 up to 5
	// (adverts are infrequent, so a small cap is reached by any useful
	// peer), decaying with a one-minute half-life.
	FirstDeliveryWeight   float64
	FirstDeliveryCap      float64
	FirstDeliveryHalfLife time.Duration
	// InvalidWeight and InvalidHalfLife make P4, the penalty for
	// forwarding messages our validators reject: InvalidWeight times the
	// square of the decaying count. -12 graylists at three; the count
	// halves every 5 minutes so an honest peer that once relayed something
	// odd recovers, while an attacker stays out for a long time.
	InvalidWeight   float64
	InvalidHalfLife time.Duration
	// BehaviourWeight, BehaviourThreshold and BehaviourHalfLife make P7,
	// the router's penalty for gossip misbehaviour (IHAVE promises not
	// kept, GRAFT during backoff): weight times the square of the count
	// above the threshold. 6 tolerates the occasional slow answer; nine
	// offences graylist (-10·3² = -90). One-minute half-life.
	BehaviourWeight    float64
	BehaviourThreshold float64
	BehaviourHalfLife  time.Duration
	// IPColocationWeight and IPColocationThreshold make P6, the Sybil
	// penalty: weight times the square of the number of peers sharing one
	// IP above the threshold. 8 leaves room for a household or office
	// behind one NAT; the 11th peer on one address is graylisted.
	IPColocationWeight    float64
	IPColocationThreshold int
	// IPColocationWhitelist lists networks (CIDR) exempt from P6. Loopback
	// by default, so a devnet of many nodes on one machine works.
	IPColocationWhitelist []string
	// AppSpecificWeight multiplies Options.AppScore (P5). 1; the hook is
	// unused (score 0) until another subsystem supplies one.
	AppSpecificWeight float64
}

// TopicParams are the validator and score parameters of one topic. Every
// node of a network must use the same values for a topic: a node with a
// smaller MaxSize would punish honest relays.
type TopicParams struct {
	// MaxSize is the largest message (its data) accepted, in bytes.
	MaxSize int
	// MaxSkew is the largest difference assumed between any two honest
	// clocks. A message stamped more than MaxSkew ahead of our clock is
	// dropped, and rejected beyond 2·MaxSkew (no honest relay would have
	// accepted it).
	MaxSkew time.Duration
	// MaxAge is how old (by our clock) a message may be when it reaches
	// us: propagation time plus MaxSkew. Older messages are dropped, and
	// rejected beyond RejectAge.
	MaxAge time.Duration
	// Rate and Burst are the per-author token bucket: Rate messages per
	// second on average, Burst at once.
	Rate  float64
	Burst int
	// MaxAuthors bounds the per-author state (last sequence, rate bucket)
	// kept for the topic; beyond it the least recently heard author is
	// forgotten.
	MaxAuthors int
	// Weight is the topic's weight in the peer score (P1, P2, P4 of this
	// topic are multiplied by it).
	Weight float64
	// Unordered skips the seq rule: for a topic whose messages each stand
	// on their own (the ledger's blocks and votes), not one that only
	// wants an author's latest (adverts). On such a topic a message
	// overtaken on a faster path by a later one of its author is still
	// taken; pubsub's seen cache (SeenTTL covers RejectAge) and the time
	// rule still stop replays.
	Unordered bool
}

// RejectAge is the age beyond which a message is rejected (penalised)
// rather than ignored: an honest relay accepts a message at most MaxAge
// after it was stamped, serves it from its message cache for at most
// historyLength heartbeats, the hop to us takes at most another MaxAge, and
// the clocks differ by at most MaxSkew.
func (p TopicParams) RejectAge(heartbeat time.Duration) time.Duration {
	return 2*p.MaxAge + p.MaxSkew + time.Duration(historyLength)*heartbeat
}

// historyLength is gossipsub's message cache length in heartbeats, pubsub's
// default (GossipSubHistoryLength); New configures it explicitly.
const historyLength = 5

// AdvertConfig tunes the advertiser and the checks specific to adverts.
type AdvertConfig struct {
	// Interval is how often a node re-publishes its advert even when
	// nothing changed. 30 s: a directory learns of a new node within one
	// interval, and the steady load is N/30 adverts per second. Each
	// period is drawn within ±10 % of it, and the first after start within
	// [MinGap, Interval], so that nodes started together drift out of step.
	Interval time.Duration
	// MinGap is the least time between two adverts of one node, so a
	// fluctuating load does not flood the topic; it must exceed
	// 1/Capacity.Rate. 5 s.
	MinGap time.Duration
	// Poll is how often the capacity source is read to notice changes. 1 s.
	Poll time.Duration
	// ChangeThreshold triggers an advert before Interval (see Changed):
	// free memory or disk moving by more than this fraction (0.1 = 10 %),
	// or the load moving by more than this many tasks per core (one task
	// on a 4-core node). Any change of cores, price or runtimes always
	// does.
	ChangeThreshold float64
	// TTL is how long an advert stays valid after it is issued: three
	// intervals, so two lost adverts in a row do not drop a node from
	// directories.
	TTL time.Duration
	// MaxTTL is the longest lifetime an advert may claim; adverts
	// claiming more are rejected. 10 minutes.
	MaxTTL time.Duration
}

// shortestPeriod and longestPeriod bound the period between two adverts:
// Interval jittered by ±10 % (Advertiser.jittered draws within them).
func (a AdvertConfig) shortestPeriod() time.Duration { return a.Interval - a.Interval/10 }

func (a AdvertConfig) longestPeriod() time.Duration { return a.shortestPeriod() + a.Interval/5 }

// DirectoryConfig tunes the capacity directory.
type DirectoryConfig struct {
	// MaxEntries bounds the directory. 50,000 entries are about 25 MB;
	// beyond it the entry closest to expiry is evicted.
	MaxEntries int
	// PruneInterval is how often expired adverts are removed. Queries skip
	// expired entries anyway; pruning only frees memory. 5 s.
	PruneInterval time.Duration
	// LatencyRefresh is how often the measured latency of every entry is
	// re-read from Options.Latency, so that queries sorted by latency do
	// not call it per entry. 5 s, the pace at which the peerstore's
	// latency EWMA moves.
	LatencyRefresh time.Duration
}

// DefaultConfig returns the parameters of a node on the Internet.
func DefaultConfig() Config {
	return Config{
		Heartbeat:          time.Second,
		D:                  pubsub.GossipSubD,
		Dlo:                pubsub.GossipSubDlo,
		Dhi:                pubsub.GossipSubDhi,
		SeenTTL:            2 * time.Minute,
		MaxRPCSize:         256 << 10,
		ValidateQueue:      256,
		SubscriptionBuffer: 256,
		PeerExchange:       true,
		FloodPublish:       true,
		Score: ScoreConfig{
			GossipThreshold:             -10,
			PublishThreshold:            -50,
			GraylistThreshold:           -80,
			AcceptPXThreshold:           5,
			OpportunisticGraftThreshold: 1,
			TopicScoreCap:               10,
			DecayInterval:               time.Second,
			DecayToZero:                 0.01,
			RetainScore:                 30 * time.Minute,
			InspectPeriod:               time.Second,
			TimeInMeshWeight:            0.01,
			TimeInMeshQuantum:           time.Second,
			TimeInMeshCap:               300,
			FirstDeliveryWeight:         1,
			FirstDeliveryCap:            5,
			FirstDeliveryHalfLife:       time.Minute,
			InvalidWeight:               -12,
			InvalidHalfLife:             5 * time.Minute,
			BehaviourWeight:             -10,
			BehaviourThreshold:          6,
			BehaviourHalfLife:           time.Minute,
			IPColocationWeight:          -10,
			IPColocationThreshold:       8,
			IPColocationWhitelist:       []string{"127.0.0.0/8", "::1/128"},
			AppSpecificWeight:           1,
		},
		Capacity: TopicParams{
			MaxSize:    2048,             // the largest valid advert is MaxAdvertSize (1497 B)
			MaxSkew:    2 * time.Second,  // generous for NTP-synchronised clocks
			MaxAge:     30 * time.Second, // propagation takes ~1 s; room for slow links and loaded CPUs
			Rate:       0.5,              // 2.5× the honest maximum of one advert per MinGap (5 s)
			Burst:      3,                // a restart right after a change-triggered advert
			MaxAuthors: 50_000,           // as many as the directory holds
			Weight:     1,                // as the lottery topic: both matter alike
		},
		Advert: AdvertConfig{
			Interval:        30 * time.Second,
			MinGap:          5 * time.Second,
			Poll:            time.Second,
			ChangeThreshold: 0.1,
			TTL:             90 * time.Second,
			MaxTTL:          10 * time.Minute,
		},
		Directory: DirectoryConfig{
			MaxEntries:     50_000,
			PruneInterval:  5 * time.Second,
			LatencyRefresh: 5 * time.Second,
		},
	}
}

// TestConfig returns short timers for tests and the simulator: a 100 ms
// heartbeat, adverts every second (at most every 200 ms) living 3 s, score
// snapshots every 100 ms and a 10 s half-life for invalid-message
// penalties. Skew and age limits stay generous (250 ms, 5 s) because test
// machines run many nodes on few cores, and an overloaded honest node must
// not look like a replayer. The score decay interval stays at pubsub's
// 1 s minimum.
func TestConfig() Config {
	c := DefaultConfig()
	c.Heartbeat = 100 * time.Millisecond
	c.SeenTTL = 30 * time.Second
	c.Score.RetainScore = time.Minute
	c.Score.InspectPeriod = 100 * time.Millisecond
	c.Score.FirstDeliveryHalfLife = 10 * time.Second
	c.Score.InvalidHalfLife = 10 * time.Second
	c.Score.BehaviourHalfLife = 10 * time.Second
	c.Capacity.MaxSkew = 250 * time.Millisecond
	c.Capacity.MaxAge = 5 * time.Second
	c.Capacity.Rate = 10
	c.Capacity.Burst = 5
	c.Advert.Interval = time.Second
	c.Advert.MinGap = 200 * time.Millisecond
	c.Advert.Poll = 50 * time.Millisecond
	c.Advert.TTL = 3 * time.Second
	c.Advert.MaxTTL = time.Minute
	c.Directory.PruneInterval = 100 * time.Millisecond
	c.Directory.LatencyRefresh = 200 * time.Millisecond
	return c
}

// Validate checks every field and returns an error wrapping ErrConfig that
// names the first bad one.
func (c Config) Validate() error {
	switch {
	case c.Heartbeat <= 0:
		return fmt.Errorf("%w: Heartbeat %s must be positive", ErrConfig, c.Heartbeat)
	case c.D < 2:
		return fmt.Errorf("%w: D %d must be at least 2", ErrConfig, c.D)
	case c.Dlo < 1 || c.Dlo > c.D:
		return fmt.Errorf("%w: Dlo %d must be in [1, D=%d]", ErrConfig, c.Dlo, c.D)
	case c.Dhi < c.D:
		return fmt.Errorf("%w: Dhi %d must be at least D=%d", ErrConfig, c.Dhi, c.D)
	case c.SeenTTL <= 0:
		return fmt.Errorf("%w: SeenTTL %s must be positive", ErrConfig, c.SeenTTL)
	case c.MaxRPCSize < 4096:
		return fmt.Errorf("%w: MaxRPCSize %d must be at least 4096", ErrConfig, c.MaxRPCSize)
	case c.ValidateQueue < 1:
		return fmt.Errorf("%w: ValidateQueue %d must be at least 1", ErrConfig, c.ValidateQueue)
	case c.ValidateWorkers < 0:
		return fmt.Errorf("%w: ValidateWorkers %d is negative", ErrConfig, c.ValidateWorkers)
	case c.SubscriptionBuffer < 1:
		return fmt.Errorf("%w: SubscriptionBuffer %d must be at least 1", ErrConfig, c.SubscriptionBuffer)
	}
	if err := c.Score.validate(); err != nil {
		return err
	}
	if err := c.Capacity.validate("Capacity", c); err != nil {
		return err
	}
	if c.Capacity.MaxSize < MaxAdvertSize {
		return fmt.Errorf("%w: Capacity.MaxSize %d is below the largest valid advert (%d bytes)", ErrConfig, c.Capacity.MaxSize, MaxAdvertSize)
	}
	a := c.Advert
	switch {
	case a.Interval <= 0:
		return fmt.Errorf("%w: Advert.Interval %s must be positive", ErrConfig, a.Interval)
	case a.MinGap <= 0 || a.MinGap > a.Interval:
		return fmt.Errorf("%w: Advert.MinGap %s must be in (0, Advert.Interval=%s]", ErrConfig, a.MinGap, a.Interval)
	case a.MinGap.Seconds()*c.Capacity.Rate < 1:
		return fmt.Errorf("%w: Advert.MinGap %s must be at least 1/Capacity.Rate (%.3gs), or honest adverts hit the rate limit",
			ErrConfig, a.MinGap, 1/c.Capacity.Rate)
	case a.Poll <= 0:
		return fmt.Errorf("%w: Advert.Poll %s must be positive", ErrConfig, a.Poll)
	case !(a.ChangeThreshold > 0 && a.ChangeThreshold <= 1):
		return fmt.Errorf("%w: Advert.ChangeThreshold %g must be in (0, 1]", ErrConfig, a.ChangeThreshold)
	case a.TTL <= a.longestPeriod():
		// An advert must outlive the period to the next one, or the node
		// drops out of directories between them.
		return fmt.Errorf("%w: Advert.TTL %s must exceed the longest period between adverts, 1.1 × Advert.Interval (%s)",
			ErrConfig, a.TTL, a.longestPeriod())
	case a.MaxTTL < a.TTL:
		return fmt.Errorf("%w: Advert.MaxTTL %s must be at least Advert.TTL %s", ErrConfig, a.MaxTTL, a.TTL)
	}
	d := c.Directory
	switch {
	case d.MaxEntries < 1:
		return fmt.Errorf("%w: Directory.MaxEntries %d must be at least 1", ErrConfig, d.MaxEntries)
	case d.PruneInterval <= 0:
		return fmt.Errorf("%w: Directory.PruneInterval %s must be positive", ErrConfig, d.PruneInterval)
	case d.LatencyRefresh <= 0:
		return fmt.Errorf("%w: Directory.LatencyRefresh %s must be positive", ErrConfig, d.LatencyRefresh)
	}
	return nil
}

func (p TopicParams) validate(name string, c Config) error {
	switch {
	case p.MaxSize < 1 || p.MaxSize > c.MaxRPCSize-1024:
		return fmt.Errorf("%w: %s.MaxSize %d must be in [1, MaxRPCSize-1024=%d]", ErrConfig, name, p.MaxSize, c.MaxRPCSize-1024)
	case p.MaxSkew <= 0:
		return fmt.Errorf("%w: %s.MaxSkew %s must be positive", ErrConfig, name, p.MaxSkew)
	case p.MaxAge <= p.MaxSkew:
		return fmt.Errorf("%w: %s.MaxAge %s must exceed MaxSkew %s", ErrConfig, name, p.MaxAge, p.MaxSkew)
	case !(p.Rate > 0) || math.IsInf(p.Rate, 0):
		return fmt.Errorf("%w: %s.Rate %g must be positive", ErrConfig, name, p.Rate)
	case p.Burst < 1:
		return fmt.Errorf("%w: %s.Burst %d must be at least 1", ErrConfig, name, p.Burst)
	case p.MaxAuthors < 1:
		return fmt.Errorf("%w: %s.MaxAuthors %d must be at least 1", ErrConfig, name, p.MaxAuthors)
	case !(p.Weight > 0) || math.IsInf(p.Weight, 0):
		return fmt.Errorf("%w: %s.Weight %g must be positive", ErrConfig, name, p.Weight)
	case p.RejectAge(c.Heartbeat) > c.SeenTTL:
		return fmt.Errorf("%w: SeenTTL %s must cover %s's reject age %s (2·MaxAge + MaxSkew + %d heartbeats)",
			ErrConfig, c.SeenTTL, name, p.RejectAge(c.Heartbeat), historyLength)
	}
	return nil
}

func (s ScoreConfig) validate() error {
	bad := func(f float64) bool { return math.IsNaN(f) || math.IsInf(f, 0) }
	switch {
	case bad(s.GossipThreshold) || s.GossipThreshold >= 0:
		return fmt.Errorf("%w: Score.GossipThreshold %g must be negative", ErrConfig, s.GossipThreshold)
	case bad(s.PublishThreshold) || s.PublishThreshold > s.GossipThreshold:
		return fmt.Errorf("%w: Score.PublishThreshold %g must be at most GossipThreshold %g", ErrConfig, s.PublishThreshold, s.GossipThreshold)
	case bad(s.GraylistThreshold) || s.GraylistThreshold > s.PublishThreshold:
		return fmt.Errorf("%w: Score.GraylistThreshold %g must be at most PublishThreshold %g", ErrConfig, s.GraylistThreshold, s.PublishThreshold)
	case bad(s.AcceptPXThreshold) || s.AcceptPXThreshold < 0:
		return fmt.Errorf("%w: Score.AcceptPXThreshold %g must be non-negative", ErrConfig, s.AcceptPXThreshold)
	case bad(s.OpportunisticGraftThreshold) || s.OpportunisticGraftThreshold < 0:
		return fmt.Errorf("%w: Score.OpportunisticGraftThreshold %g must be non-negative", ErrConfig, s.OpportunisticGraftThreshold)
	case bad(s.TopicScoreCap) || s.TopicScoreCap <= 0:
		return fmt.Errorf("%w: Score.TopicScoreCap %g must be positive", ErrConfig, s.TopicScoreCap)
	case s.DecayInterval < time.Second:
		return fmt.Errorf("%w: Score.DecayInterval %s must be at least 1s (pubsub's minimum)", ErrConfig, s.DecayInterval)
	case !(s.DecayToZero > 0 && s.DecayToZero < 1):
		return fmt.Errorf("%w: Score.DecayToZero %g must be in (0, 1)", ErrConfig, s.DecayToZero)
	case s.RetainScore < 0:
		return fmt.Errorf("%w: Score.RetainScore %s is negative", ErrConfig, s.RetainScore)
	case s.InspectPeriod <= 0:
		return fmt.Errorf("%w: Score.InspectPeriod %s must be positive", ErrConfig, s.InspectPeriod)
	case bad(s.TimeInMeshWeight) || s.TimeInMeshWeight < 0:
		return fmt.Errorf("%w: Score.TimeInMeshWeight %g must be non-negative", ErrConfig, s.TimeInMeshWeight)
	case s.TimeInMeshQuantum <= 0:
		return fmt.Errorf("%w: Score.TimeInMeshQuantum %s must be positive", ErrConfig, s.TimeInMeshQuantum)
	case bad(s.TimeInMeshCap) || s.TimeInMeshCap <= 0:
		return fmt.Errorf("%w: Score.TimeInMeshCap %g must be positive", ErrConfig, s.TimeInMeshCap)
	case bad(s.FirstDeliveryWeight) || s.FirstDeliveryWeight < 0:
		return fmt.Errorf("%w: Score.FirstDeliveryWeight %g must be non-negative", ErrConfig, s.FirstDeliveryWeight)
	case bad(s.FirstDeliveryCap) || s.FirstDeliveryCap <= 0:
		return fmt.Errorf("%w: Score.FirstDeliveryCap %g must be positive", ErrConfig, s.FirstDeliveryCap)
	case s.FirstDeliveryHalfLife < s.DecayInterval:
		return fmt.Errorf("%w: Score.FirstDeliveryHalfLife %s must be at least DecayInterval", ErrConfig, s.FirstDeliveryHalfLife)
	case bad(s.InvalidWeight) || s.InvalidWeight >= 0:
		return fmt.Errorf("%w: Score.InvalidWeight %g must be negative", ErrConfig, s.InvalidWeight)
	case s.InvalidHalfLife < s.DecayInterval:
		return fmt.Errorf("%w: Score.InvalidHalfLife %s must be at least DecayInterval", ErrConfig, s.InvalidHalfLife)
	case bad(s.BehaviourWeight) || s.BehaviourWeight > 0:
		return fmt.Errorf("%w: Score.BehaviourWeight %g must not be positive", ErrConfig, s.BehaviourWeight)
	case bad(s.BehaviourThreshold) || s.BehaviourThreshold < 0:
		return fmt.Errorf("%w: Score.BehaviourThreshold %g must be non-negative", ErrConfig, s.BehaviourThreshold)
	case s.BehaviourHalfLife < s.DecayInterval:
		return fmt.Errorf("%w: Score.BehaviourHalfLife %s must be at least DecayInterval", ErrConfig, s.BehaviourHalfLife)
	case bad(s.IPColocationWeight) || s.IPColocationWeight > 0:
		return fmt.Errorf("%w: Score.IPColocationWeight %g must not be positive", ErrConfig, s.IPColocationWeight)
	case s.IPColocationWeight != 0 && s.IPColocationThreshold < 1:
		return fmt.Errorf("%w: Score.IPColocationThreshold %d must be at least 1", ErrConfig, s.IPColocationThreshold)
	case bad(s.AppSpecificWeight):
		return fmt.Errorf("%w: Score.AppSpecificWeight is not a number", ErrConfig)
	}
	for _, cidr := range s.IPColocationWhitelist {
		if _, _, err := net.ParseCIDR(cidr); err != nil {
			return fmt.Errorf("%w: Score.IPColocationWhitelist %q: %v", ErrConfig, cidr, err)
		}
	}
	// A peer with the whole positive cap must still be graylisted after a
	// handful of invalid messages; otherwise the cap buys immunity.
	if s.TopicScoreCap+9*s.InvalidWeight >= s.GraylistThreshold {
		return fmt.Errorf("%w: Score.InvalidWeight %g too weak: three invalid messages must take a peer at TopicScoreCap %g below GraylistThreshold %g",
			ErrConfig, s.InvalidWeight, s.TopicScoreCap, s.GraylistThreshold)
	}
	return nil
}
