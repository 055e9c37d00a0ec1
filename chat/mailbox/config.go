package mailbox

import (
	"errors"
	"fmt"
	"time"

	"github.com/fog-compute/fog/internal/clock"
)

// Sentinel errors callers branch on (returned wrapped: use errors.Is).
var (
	// ErrConfig is wrapped by every error Config.Validate and New return
	// for a bad configuration or missing collaborator.
	ErrConfig = errors.New("mailbox: invalid config")
	// ErrMalformed: a message broke the wire format, or a stored item
	// could not be decoded.
	ErrMalformed = errors.New("mailbox: malformed message")
	// ErrBadSeal: a sealed item did not open with the recipient's key for
	// its mailbox and ID (tampered, or not for us).
	ErrBadSeal = errors.New("mailbox: seal does not open")
	// ErrTooLarge: a payload or item is above Config.MaxItemBytes.
	ErrTooLarge = errors.New("mailbox: item too large")
	// ErrQuota: the host holds as much from this sender as its quota
	// allows.
	ErrQuota = errors.New("mailbox: sender over quota")
	// ErrFull: the host holds as much mail in all as it allows.
	ErrFull = errors.New("mailbox: host full")
	// ErrDenied: the host refused to give out or delete mail, because the
	// request did not prove that its sender owns the mailbox.
	ErrDenied = errors.New("mailbox: not the mailbox's owner")
	// ErrBusy: the host serves as many streams as its limits allow.
	ErrBusy = errors.New("mailbox: host busy")
	// ErrExists: the host holds a different item under the same ID.
	ErrExists = errors.New("mailbox: item ID taken")
	// ErrExpired: the item's expiry had passed when the host got it.
	ErrExpired = errors.New("mailbox: item expired")
	// ErrNoHost: a deposit was stored by no host.
	ErrNoHost = errors.New("mailbox: no host took the item")
	// ErrClosed: the Service is closed.
	ErrClosed = errors.New("mailbox: closed")
)

// Limits of the protocol, which bound the Config.
const (
	// MaxItemLimit is the largest sealed item the protocol carries, and
	// the most Config.MaxItemBytes may be.
	MaxItemLimit = 32 << 10
	// MaxAckIDs is the most item IDs one acknowledgement carries.
	MaxAckIDs = 1024
	// MaxRequestLen bounds an encoded request (a deposit of MaxItemLimit
	// bytes is the largest; an ack of MaxAckIDs IDs is about 16.5 KiB).
	MaxRequestLen = MaxItemLimit + 1024
	// MaxResponseLen bounds an encoded response.
	MaxResponseLen = 1 << 20
	// maxTTL bounds Config.TTL, so that a Fetch asks about a bounded
	// number of days.
	maxTTL = 31 * 24 * time.Hour
)

// Config configures a Service: the client half (Deposit, Fetch) and the
// host half (the store and the protocol it serves).
type Config struct {
	// K is how many hosts keep a copy of an item: the K peers closest in
	// the DHT to the mailbox key. Default 3, as issue 19 asks: one host
	// may leave and one may lie, and the item still arrives.
	K int
	// FetchHosts is how many of the peers closest to a daily mailbox key
	// Fetch asks: the K that were closest at the deposit, and more for
	// peers that have joined closer since. Default 6 (2K). At least K.
	FetchHosts int
	// TTL is how long an item is kept after its first deposit; every host
	// drops it then, delivered or not (a copy handed on keeps the expiry
	// of the copy it came from). Default 7 days: a node off for a week still
	// gets its mail. A Fetch asks about every day within the TTL.
	TTL time.Duration
	// MaxItemBytes caps one sealed item (payload plus SealOverhead).
	// Default 8 KiB: room for a chat message or a small task result, and
	// small enough that quotas count in items rather than megabytes. At
	// most MaxItemLimit.
	MaxItemBytes int
	// SenderItems and SenderBytes cap what one sender (the peer that
	// deposits) may have stored at this host at once. Defaults 64 items
	// and 256 KiB: a conversation's worth of messages to absent peers,
	// while one peer cannot take a host's whole store.
	SenderItems int
	SenderBytes int64
	// HostItems and HostBytes cap what this host stores for everyone.
	// Defaults 16384 items and 64 MiB: a small share of a node's disk,
	// which many senders (or many identities of one) cannot exceed.
	HostItems int
	HostBytes int64
	// MaxFetchBytes caps the items of one fetch response; the requester
	// asks again for the rest. Default 256 KiB. At least MaxItemBytes plus
	// a little, at most MaxResponseLen less a little.
	MaxFetchBytes int
	// MaxClockSkew is how far from the host's clock the time in a fetch or
	// ack may be: outside it the request is refused, so that a captured
	// request is useless later. Default 10 minutes.
	MaxClockSkew time.Duration
	// SweepInterval is how often Run deletes expired items (reads skip
	// them in between). Default 1 hour.
	SweepInterval time.Duration
	// HandoffInterval is how often Run hands the items this node holds to
	// the K peers now closest to their mailbox keys that lack them (peers
	// that joined closer since the deposit), and drops those it is no
	// longer among the K closest for once they all took them. Default 10
	// minutes: the DHT's tables change over minutes, and a pass costs a
	// lookup per mailbox held. 0 turns it off.
	HandoffInterval time.Duration

	// LookupTimeout bounds one DHT lookup of a mailbox's hosts. Default
	// 30 s.
	LookupTimeout time.Duration
	// RequestTimeout bounds one request to a host, on the client side.
	// Default 20 s.
	RequestTimeout time.Duration
	// IdleTimeout and StreamTimeout bound an inbound stream: idle, and in
	// all. Defaults 10 s and 30 s: a request and its answer are at most
	// about a megabyte.
	IdleTimeout   time.Duration
	StreamTimeout time.Duration
	// MaxServeStreams and MaxServeStreamsPerPeer cap the inbound streams
	// served at once, from all and from one peer. Defaults 64 and 8 (a
	// Fetch asks one host about up to 8 days at once).
	MaxServeStreams        int
	MaxServeStreamsPerPeer int

	// Clock gives the time of deposits, expiries, days and requests.
	// Default clock.Real(); tests use testing/synctest.
	Clock clock.Clock
}

// DefaultConfig returns the configuration of a node.
func DefaultConfig() Config {
	return Config{
		K:                      3,
		FetchHosts:             6,
		TTL:                    7 * 24 * time.Hour,
		MaxItemBytes:           8 << 10,
		SenderItems:            64,
		SenderBytes:            256 << 10,
		HostItems:              16384,
		HostBytes:              64 << 20,
		MaxFetchBytes:          256 << 10,
		MaxClockSkew:           10 * time.Minute,
		SweepInterval:          time.Hour,
		HandoffInterval:        10 * time.Minute,
		LookupTimeout:          30 * time.Second,
		RequestTimeout:         20 * time.Second,
		IdleTimeout:            10 * time.Second,
		StreamTimeout:          30 * time.Second,
		MaxServeStreams:        64,
		MaxServeStreamsPerPeer: 8,
		Clock:                  clock.Real(),
	}
}

// TestConfig returns a configuration for tests and the simulator: the
// default one with short network timers.
func TestConfig() Config {
	c := DefaultConfig()
	c.LookupTimeout = 10 * time.Second
	c.RequestTimeout = 5 * time.Second
	c.IdleTimeout = 3 * time.Second
	c.StreamTimeout = 10 * time.Second
	return c
}

// responseSlack is room in a response for everything but the items.
const responseSlack = 64

// Validate reports the first field that has a bad value, naming it.
func (c Config) Validate() error {
	bad := func(field, format string, args ...any) error {
		return fmt.Errorf("%w: %s: %s", ErrConfig, field, fmt.Sprintf(format, args...))
	}
	switch {
	case c.K < 1:
		return bad("K", "%d, need at least 1", c.K)
	case c.FetchHosts < c.K:
		return bad("FetchHosts", "%d is below K (%d)", c.FetchHosts, c.K)
	case c.TTL <= 0 || c.TTL > maxTTL:
		return bad("TTL", "%v is not in (0, %v]", c.TTL, maxTTL)
	case c.MaxItemBytes <= SealOverhead || c.MaxItemBytes > MaxItemLimit:
		return bad("MaxItemBytes", "%d is not in (%d, %d]", c.MaxItemBytes, SealOverhead, MaxItemLimit)
	case c.SenderItems < 1:
		return bad("SenderItems", "%d, need at least 1", c.SenderItems)
	case c.SenderBytes < int64(c.MaxItemBytes):
		return bad("SenderBytes", "%d is below MaxItemBytes (%d)", c.SenderBytes, c.MaxItemBytes)
	case c.HostItems < c.SenderItems:
		return bad("HostItems", "%d is below SenderItems (%d)", c.HostItems, c.SenderItems)
	case c.HostBytes < c.SenderBytes:
		return bad("HostBytes", "%d is below SenderBytes (%d)", c.HostBytes, c.SenderBytes)
	case c.MaxFetchBytes < c.MaxItemBytes+responseSlack || c.MaxFetchBytes > MaxResponseLen-responseSlack:
		return bad("MaxFetchBytes", "%d is not in [MaxItemBytes+%d (%d), %d]", c.MaxFetchBytes,
			responseSlack, c.MaxItemBytes+responseSlack, MaxResponseLen-responseSlack)
	case c.MaxClockSkew <= 0:
		return bad("MaxClockSkew", "%v must be positive", c.MaxClockSkew)
	case c.SweepInterval <= 0:
		return bad("SweepInterval", "%v must be positive", c.SweepInterval)
	case c.HandoffInterval < 0:
		return bad("HandoffInterval", "%v is negative", c.HandoffInterval)
	case c.LookupTimeout <= 0:
		return bad("LookupTimeout", "%v must be positive", c.LookupTimeout)
	case c.RequestTimeout <= 0:
		return bad("RequestTimeout", "%v must be positive", c.RequestTimeout)
	case c.IdleTimeout <= 0 || c.IdleTimeout > c.StreamTimeout:
		return bad("IdleTimeout", "%v must be positive and at most StreamTimeout (%v)", c.IdleTimeout, c.StreamTimeout)
	case c.MaxServeStreams < 1:
		return bad("MaxServeStreams", "%d, need at least 1", c.MaxServeStreams)
	case c.MaxServeStreamsPerPeer < 1 || c.MaxServeStreamsPerPeer > c.MaxServeStreams:
		return bad("MaxServeStreamsPerPeer", "%d is not in [1, MaxServeStreams (%d)]", c.MaxServeStreamsPerPeer, c.MaxServeStreams)
	case c.Clock == nil:
		return bad("Clock", "is nil")
	}
	return nil
}
