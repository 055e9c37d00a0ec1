package dm

import (
	"fmt"
	"time"
)

// Config is the DM core's configuration.
type Config struct {
	// MaxBody bounds a message's body. 4 KiB: a chat message, not a file;
	// it fits a mix payload and keeps mailboxes small. At most MaxBodySize.
	MaxBody int
	// TTL is how long a message is retried (and remembered for
	// de-duplication) when the sender gives no expiry; and the longest
	// expiry a receiver honours. A day: a peer offline longer reads it from
	// its mailbox or not at all.
	TTL time.Duration
	// RetryMin is the wait before the first retry; it doubles per attempt.
	// 10 s: long enough for a receipt's round trip over the mix.
	RetryMin time.Duration
	// RetryMax caps the wait between retries. 10 min: an offline peer's
	// mailbox copy is refreshed a few times an hour, not more.
	RetryMax time.Duration
	// HandshakeTimeout abandons a handshake that did not complete. 30 s.
	HandshakeTimeout time.Duration
	// RekeyMessages moves a direction of a session to a fresh key after
	// this many messages. 1000: forward secrecy within a long
	// conversation at negligible cost (a rekey is one ChaCha20 block).
	RekeyMessages uint64
	// RekeyInterval moves a direction to a fresh key when its key is this
	// old at the next message. 10 min, so that a key stolen later reads at
	// most ten minutes of a conversation.
	RekeyInterval time.Duration
	// SessionIdle erases a session unused for this long; the next message
	// starts a fresh handshake. 1 h.
	SessionIdle time.Duration
	// ReadReceipts is the user's setting: send read receipts when a
	// message is marked read. Off by default (privacy first, as BitChat).
	ReadReceipts bool
	// MaxPending bounds the sent messages not yet delivered or expired.
	// 10,000.
	MaxPending int
	// MaxSeen bounds the received message IDs remembered for
	// de-duplication (each until its expiry). 100,000: ~5 MB.
	MaxSeen int
}

// DefaultConfig returns the configuration a node runs with.
func DefaultConfig() Config {
	return Config{
		MaxBody:          4 << 10,
		TTL:              24 * time.Hour,
		RetryMin:         10 * time.Second,
		RetryMax:         10 * time.Minute,
		HandshakeTimeout: 30 * time.Second,
		RekeyMessages:    1000,
		RekeyInterval:    10 * time.Minute,
		SessionIdle:      time.Hour,
		MaxPending:       10000,
		MaxSeen:          100000,
	}
}

// Validate checks c; its errors wrap ErrConfig and name the field.
func (c Config) Validate() error {
	switch {
	case c.MaxBody <= 0 || c.MaxBody > MaxBodySize:
		return fmt.Errorf("%w: MaxBody %d not in 1..%d", ErrConfig, c.MaxBody, MaxBodySize)
	case c.TTL <= 0:
		return fmt.Errorf("%w: TTL %v must be positive", ErrConfig, c.TTL)
	case c.RetryMin <= 0:
		return fmt.Errorf("%w: RetryMin %v must be positive", ErrConfig, c.RetryMin)
	case c.RetryMax < c.RetryMin:
		return fmt.Errorf("%w: RetryMax %v below RetryMin %v", ErrConfig, c.RetryMax, c.RetryMin)
	case c.HandshakeTimeout <= 0:
		return fmt.Errorf("%w: HandshakeTimeout %v must be positive", ErrConfig, c.HandshakeTimeout)
	case c.RekeyMessages == 0:
		return fmt.Errorf("%w: RekeyMessages must be positive", ErrConfig)
	case c.RekeyInterval < 0:
		return fmt.Errorf("%w: RekeyInterval %v is negative", ErrConfig, c.RekeyInterval)
	case c.SessionIdle <= 0:
		return fmt.Errorf("%w: SessionIdle %v must be positive", ErrConfig, c.SessionIdle)
	case c.MaxPending <= 0:
		return fmt.Errorf("%w: MaxPending %d must be positive", ErrConfig, c.MaxPending)
	case c.MaxSeen <= 0:
		return fmt.Errorf("%w: MaxSeen %d must be positive", ErrConfig, c.MaxSeen)
	}
	return nil
}
