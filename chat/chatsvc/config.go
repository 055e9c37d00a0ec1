package chatsvc

import (
	"errors"
	"fmt"
	"time"

	"github.com/fog-compute/fog/chat/channel"
	"github.com/fog-compute/fog/chat/dm"
)

// ErrConfig: a Config field is out of range.
var ErrConfig = errors.New("chatsvc: invalid config")

// Config configures the chat service.
type Config struct {
	// DM configures direct messages (package dm).
	DM dm.Config
	// Channel configures channels (package channel).
	Channel channel.Config
	// Inbox is how many received direct messages are kept in memory for
	// Inbox (all are in the store). 1,000.
	Inbox int
	// KeyRepublish is how often the chat key's DHT record is put again.
	// 30 minutes: well inside the DHT's record lifetime.
	KeyRepublish time.Duration
	// NameAnnounce is how often this node's nickname claim is announced on
	// the names topic, so that nodes that join later learn it. 5 minutes.
	NameAnnounce time.Duration
	// MaxNames bounds the nickname claims kept. 10,000.
	MaxNames int
	// SendTimeout bounds one attempt to open a stream to a peer and write a
	// frame, or to look up a key. 10 s.
	SendTimeout time.Duration
	// KeyLookupWait is how long Wait waits for a message that cannot leave
	// for want of the recipient's chat key (not in the DHT, and the peer
	// not online to handshake with) before it gives up with ErrNoChatKey.
	// The message itself is still retried until it expires. 30 s: a
	// lookup and two retries.
	KeyLookupWait time.Duration
	// MaxInFlight bounds the effects carried at once (streams opened,
	// lookups, mailbox deposits); beyond it they wait. 64.
	MaxInFlight int
}

// DefaultConfig returns the defaults.
func DefaultConfig() Config {
	return Config{
		DM: dm.DefaultConfig(), Channel: channel.DefaultConfig(),
		Inbox: 1000, KeyRepublish: 30 * time.Minute, NameAnnounce: 5 * time.Minute,
		MaxNames: 10_000, SendTimeout: 10 * time.Second, KeyLookupWait: 30 * time.Second, MaxInFlight: 64,
	}
}

// Validate reports the first field out of range, wrapping ErrConfig.
func (c Config) Validate() error {
	if err := c.DM.Validate(); err != nil {
		return fmt.Errorf("%w: DM: %w", ErrConfig, err)
	}
	if err := c.Channel.Validate(); err != nil {
		return fmt.Errorf("%w: Channel: %w", ErrConfig, err)
	}
	switch {
	case c.Inbox < 1:
		return fmt.Errorf("%w: Inbox %d must be positive", ErrConfig, c.Inbox)
	case c.KeyRepublish <= 0:
		return fmt.Errorf("%w: KeyRepublish %v must be positive", ErrConfig, c.KeyRepublish)
	case c.NameAnnounce <= 0:
		return fmt.Errorf("%w: NameAnnounce %v must be positive", ErrConfig, c.NameAnnounce)
	case c.MaxNames < 1:
		return fmt.Errorf("%w: MaxNames %d must be positive", ErrConfig, c.MaxNames)
	case c.SendTimeout <= 0:
		return fmt.Errorf("%w: SendTimeout %v must be positive", ErrConfig, c.SendTimeout)
	case c.KeyLookupWait <= 0:
		return fmt.Errorf("%w: KeyLookupWait %v must be positive", ErrConfig, c.KeyLookupWait)
	case c.MaxInFlight < 1:
		return fmt.Errorf("%w: MaxInFlight %d must be positive", ErrConfig, c.MaxInFlight)
	}
	return nil
}
