package mixsvc

import (
	"fmt"
	"time"

	"github.com/fog-compute/fog/mix/mixnet"
)

// Config configures a node's mix service: the core's Config and what the
// shell bounds.
type Config struct {
	mixnet.Config

	// Inbox is how many received messages the service keeps for Inbox
	// (the oldest go first). 1,000.
	Inbox int
	// LinkQueue bounds the frames waiting to go to one neighbour; beyond
	// it frames are dropped (and counted), as a congested link would.
	// 1,024: several seconds of a relay's traffic to one next hop.
	LinkQueue int
	// LinkIdle closes an outbound link that carried nothing for this long.
	// 5 minutes: a relay of the directory in use carries packets every few
	// seconds, and reopening a link costs a dial.
	LinkIdle time.Duration
	// FrameRate bounds the frames per second the service unwraps for one
	// peer (burst: one second's worth), so that one peer cannot take the
	// node's CPU with key agreements. 2,000/s: a relay of the previous
	// layer at the rate this machine can unwrap, with room to spare.
	FrameRate int
	// SyncEvery is the longest time the service lets relayed packets wait
	// for their replay tags to be synced: it is also how often the timer
	// wakes when there is nothing else to do. 1 s.
	SyncEvery time.Duration
}

// DefaultConfig returns the defaults.
func DefaultConfig() Config {
	return Config{
		Config:    mixnet.DefaultConfig(),
		Inbox:     1000,
		LinkQueue: 1024,
		LinkIdle:  5 * time.Minute,
		FrameRate: 2000,
		SyncEvery: time.Second,
	}
}

// Validate reports the first field out of range, wrapping ErrConfig.
func (c Config) Validate() error {
	if err := c.Config.Validate(); err != nil {
		return fmt.Errorf("%w: %w", ErrConfig, err)
	}
	switch {
	case c.Inbox < 1:
		return fmt.Errorf("%w: Inbox %d must be positive", ErrConfig, c.Inbox)
	case c.LinkQueue < 1:
		return fmt.Errorf("%w: LinkQueue %d must be positive", ErrConfig, c.LinkQueue)
	case c.LinkIdle <= 0:
		return fmt.Errorf("%w: LinkIdle %v must be positive", ErrConfig, c.LinkIdle)
	case c.FrameRate < 1:
		return fmt.Errorf("%w: FrameRate %d must be positive", ErrConfig, c.FrameRate)
	case c.SyncEvery <= 0:
		return fmt.Errorf("%w: SyncEvery %v must be positive", ErrConfig, c.SyncEvery)
	}
	return nil
}
