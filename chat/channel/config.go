package channel

import (
	"fmt"
	"time"

	"github.com/fog-compute/fog/gossip"
	"github.com/fog-compute/fog/p2p"
)

// Config tunes channels, their history and history sync. Every node of a
// network must use the same Topic parameters (a stricter node would
// penalise honest relays).
type Config struct {
	// Topic holds the validator parameters of every channel's topic: size,
	// clock skew, age, and the per-author rate, as the capacity topic's.
	Topic gossip.TopicParams
	// MaxBody bounds a post's text. 4 KiB: chat lines, not files (files go
	// over streams); a sealed private post adds 40 bytes.
	MaxBody int
	// MaxMembers bounds a private channel's roster. 64 (MaxMembers): a
	// roster of 64 is about 7.6 KiB, within one message.
	MaxMembers int
	// HistoryCount and HistoryAge bound each channel's history: the oldest
	// messages beyond HistoryCount, and those older than HistoryAge, are
	// pruned. 10,000 messages and 7 days keep a busy channel's last week in
	// a few tens of MB at most.
	HistoryCount int
	HistoryAge   time.Duration
	// PruneInterval is how often histories are pruned. 1 minute: a history
	// overshoots its bounds by at most a minute of messages.
	PruneInterval time.Duration
	// SyncInterval is how often each joined channel is reconciled with one
	// of its gossip neighbours (in turn), so that histories converge after
	// losses and partitions even without an external trigger. 30 s; 0
	// turns periodic sync off.
	SyncInterval time.Duration
	// NeighbourCheck is how often each joined channel's gossip neighbours
	// are listed: one not seen at the last check (it joined, came back, or
	// a partition healed) is synced with at once. 1 s: listing is cheap,
	// and a heal should not wait for SyncInterval. 0 turns it off.
	NeighbourCheck time.Duration
	// SyncFanout spreads what a sync brought: after a sync that stored new
	// messages, the node syncs with every other neighbour, at most this
	// many (in turn), and a responder shown IDs it lacks syncs back, so
	// new history floods the channel instead of waiting for each node's
	// periodic round. 64: every neighbour of a node with a usual number of
	// connections, so that no neighbour is left for its periodic round
	// (with gossipsub's mesh degree, 6, a node with more neighbours left
	// some); a sync with a neighbour that has the same history is one
	// round trip of a fingerprint. 0 turns it off.
	SyncFanout int
	// MaxBackgroundSyncs bounds the neighbour-check and fan-out syncs run
	// at once (the pulls back for IDs a neighbour showed run apart, one at
	// a time per channel). 8.
	MaxBackgroundSyncs int
	// SyncTimeout bounds one sync conversation as the initiator. 30 s.
	SyncTimeout time.Duration
	// SyncMaxRounds bounds the reconciliation round trips of one sync, on
	// both sides. 16: log₁₆ of a 10,000-message history is 4 levels, and
	// each round trip descends two.
	SyncMaxRounds int
	// SyncMaxFetch bounds the messages fetched in one sync; the rest come
	// with the next. 10,000, one full history.
	SyncMaxFetch int
	// FetchBatch is the number of messages asked for per request. 64
	// maximal messages are about 800 KiB, within MaxFrame.
	FetchBatch int
	// MaxFrame bounds one frame of the sync protocol, either way. 1 MiB:
	// a batch of FetchBatch messages, or MaxIDs IDs per range of a
	// reconciliation message.
	MaxFrame int
	// RBSR tunes range-based set reconciliation.
	RBSR RBSRConfig
	// Server bounds the sync streams served: 32 at once, 2 per peer, 10 s
	// idle, 1 minute in all. Its Clock is set from Options.Clock.
	Server p2p.Limits
	// SubscriptionBuffer is how many posts a slow subscriber may fall
	// behind before further ones are dropped for it. 256.
	SubscriptionBuffer int
}

// DefaultConfig returns the parameters of a node on the Internet.
func DefaultConfig() Config {
	return Config{
		Topic: gossip.TopicParams{
			MaxSize:    MaxMessageSize,   // one message of at most MaxBodyLen
			MaxSkew:    2 * time.Second,  // as the capacity topic
			MaxAge:     30 * time.Second, // as the capacity topic; older messages come by sync
			Rate:       1,                // a person typing; bots stay under it
			Burst:      10,               // a pasted paragraph of lines
			MaxAuthors: 10_000,           // authors remembered per channel
			Weight:     0.5,              // a chat topic counts half the capacity topic
		},
		MaxBody:            4 << 10,
		MaxMembers:         MaxMembers,
		HistoryCount:       10_000,
		HistoryAge:         7 * 24 * time.Hour,
		PruneInterval:      time.Minute,
		SyncInterval:       30 * time.Second,
		NeighbourCheck:     time.Second,
		SyncFanout:         64,
		MaxBackgroundSyncs: 8,
		SyncTimeout:        30 * time.Second,
		SyncMaxRounds:      16,
		SyncMaxFetch:       10_000,
		FetchBatch:         64,
		MaxFrame:           1 << 20,
		RBSR:               DefaultRBSRConfig(),
		Server:             p2p.Limits{Streams: 32, StreamsPerPeer: 2, Idle: 10 * time.Second, Lifetime: time.Minute},
		SubscriptionBuffer: 256,
	}
}

// TestConfig returns DefaultConfig with the short timers and generous skew
// of gossip.TestConfig's capacity topic, a rate of 5 posts a second, and
// sync every 2 s.
func TestConfig() Config {
	c := DefaultConfig()
	c.Topic.MaxSkew = 250 * time.Millisecond
	c.Topic.MaxAge = 5 * time.Second
	c.Topic.Rate = 5
	c.Topic.Burst = 5
	c.PruneInterval = time.Second
	c.SyncInterval = 2 * time.Second
	c.SyncTimeout = 10 * time.Second
	return c
}

// Validate checks every field and returns an error wrapping ErrConfig that
// names the first bad one. The topic parameters are checked against
// gossip's configuration when a channel is joined.
func (c Config) Validate() error {
	switch {
	case c.Topic.MaxSize < 1 || c.Topic.MaxSize > MaxMessageSize:
		return fmt.Errorf("%w: Topic.MaxSize %d must be in [1, %d]", ErrConfig, c.Topic.MaxSize, MaxMessageSize)
	case c.MaxBody < 1 || c.MaxBody+postOverhead > MaxBodyLen:
		return fmt.Errorf("%w: MaxBody %d must be in [1, %d]", ErrConfig, c.MaxBody, MaxBodyLen-postOverhead)
	case c.MaxMembers < 1 || c.MaxMembers > MaxMembers:
		return fmt.Errorf("%w: MaxMembers %d must be in [1, %d]", ErrConfig, c.MaxMembers, MaxMembers)
	case c.HistoryCount < 1:
		return fmt.Errorf("%w: HistoryCount %d must be positive", ErrConfig, c.HistoryCount)
	case c.HistoryAge <= c.Topic.MaxAge:
		return fmt.Errorf("%w: HistoryAge %s must exceed Topic.MaxAge %s", ErrConfig, c.HistoryAge, c.Topic.MaxAge)
	case c.PruneInterval <= 0:
		return fmt.Errorf("%w: PruneInterval %s must be positive", ErrConfig, c.PruneInterval)
	case c.SyncInterval < 0:
		return fmt.Errorf("%w: SyncInterval %s is negative", ErrConfig, c.SyncInterval)
	case c.NeighbourCheck < 0:
		return fmt.Errorf("%w: NeighbourCheck %s is negative", ErrConfig, c.NeighbourCheck)
	case c.SyncFanout < 0:
		return fmt.Errorf("%w: SyncFanout %d is negative", ErrConfig, c.SyncFanout)
	case c.MaxBackgroundSyncs < 1:
		return fmt.Errorf("%w: MaxBackgroundSyncs %d must be positive", ErrConfig, c.MaxBackgroundSyncs)
	case c.SyncTimeout <= 0:
		return fmt.Errorf("%w: SyncTimeout %s must be positive", ErrConfig, c.SyncTimeout)
	case c.SyncMaxRounds < 1:
		return fmt.Errorf("%w: SyncMaxRounds %d must be positive", ErrConfig, c.SyncMaxRounds)
	case c.SyncMaxFetch < 0:
		return fmt.Errorf("%w: SyncMaxFetch %d is negative", ErrConfig, c.SyncMaxFetch)
	case c.FetchBatch < 1:
		return fmt.Errorf("%w: FetchBatch %d must be positive", ErrConfig, c.FetchBatch)
	case c.MaxFrame < c.FetchBatch*(MaxMessageSize+4)+16:
		return fmt.Errorf("%w: MaxFrame %d must hold FetchBatch (%d) maximal messages", ErrConfig, c.MaxFrame, c.FetchBatch)
	case c.MaxFrame < c.RBSR.MaxIDs*len(ID{})+1024:
		return fmt.Errorf("%w: MaxFrame %d must hold RBSR.MaxIDs (%d) IDs", ErrConfig, c.MaxFrame, c.RBSR.MaxIDs)
	case c.SubscriptionBuffer < 1:
		return fmt.Errorf("%w: SubscriptionBuffer %d must be positive", ErrConfig, c.SubscriptionBuffer)
	}
	if err := c.RBSR.validate(); err != nil {
		return err
	}
	if err := c.Server.Validate(); err != nil {
		return fmt.Errorf("%w: Server: %w", ErrConfig, err)
	}
	return nil
}
