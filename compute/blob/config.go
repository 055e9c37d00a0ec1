package blob

import (
	"errors"
	"fmt"
	"time"

	"github.com/fog-compute/fog/compute/wasm"
	"github.com/fog-compute/fog/internal/clock"
)

// Sentinel errors callers branch on (returned wrapped: use errors.Is).
var (
	// ErrNotFound: the module is not in the store, or Fetch obtained no
	// valid copy of it from any peer.
	ErrNotFound = errors.New("blob: module not found")
	// ErrHashMismatch: bytes do not hash to the module ID they were given
	// or served for. It is wasm.ErrHashMismatch itself, so callers may test
	// for either.
	ErrHashMismatch = wasm.ErrHashMismatch
	// ErrTooLarge: the module is larger than Config.MaxModuleBytes (a Put,
	// or a length a peer announced).
	ErrTooLarge = errors.New("blob: module too large")
	// ErrFull: the module does not fit under Config.MaxBytes even after
	// evicting every module that is neither pinned nor being read.
	ErrFull = errors.New("blob: store full of modules in use")
	// ErrPinned: Delete was asked to remove a module that is pinned, being
	// read or being written.
	ErrPinned = errors.New("blob: module in use")
	// ErrBusy: the peer refused the request because it is serving as many
	// streams as its limits allow.
	ErrBusy = errors.New("blob: peer busy")
	// ErrMalformed: a peer broke the wire format (a bad request or response
	// header, bytes after the module).
	ErrMalformed = errors.New("blob: malformed message")
	// ErrTimeout: a stream made no progress within Config.IdleTimeout or
	// outlasted Config.StreamTimeout.
	ErrTimeout = errors.New("blob: stream timed out")
	// ErrClosed: the Service is closed.
	ErrClosed = errors.New("blob: closed")
	// ErrConfig is wrapped by every error Config.Validate returns.
	ErrConfig = errors.New("blob: invalid config")
)

// MaxModuleLimit is the largest value Config.MaxModuleBytes may take: far
// above any real task module, and small enough that a length always fits
// an int.
const MaxModuleLimit = 1 << 30

// Config configures a Store and a Service. A Store uses Dir, MaxBytes and
// MaxModuleBytes; a Service uses every field.
type Config struct {
	// Dir is the directory of the module cache, one file per module named
	// by its hex ID; a node sets it to a directory in its data dir. Empty
	// (the default) keeps modules in memory, under the same caps: the
	// simulator and tests. One Store per directory.
	Dir string
	// MaxBytes caps the total size of the cached modules; least recently
	// used modules that are not pinned are evicted to stay under it.
	// Default 1 GiB: room for hundreds of typical (1-10 MiB) modules
	// without a node noticing the disk it uses.
	MaxBytes int64
	// MaxModuleBytes caps one module: larger ones are refused by Put and
	// never downloaded. Default 64 MiB, well above what a WASI task
	// compiles to, small enough that a transfer is bounded in memory and
	// time. At most MaxBytes and MaxModuleLimit.
	MaxModuleBytes int64

	// StreamTimeout bounds one blob stream from open to close, on both
	// sides; a peer slower than that is given up on (the client then tries
	// the next one). Default 2 minutes: 64 MiB at about 0.5 MB/s.
	StreamTimeout time.Duration
	// IdleTimeout bounds how long a stream may go without progress (the
	// request, the header, each chunk). Default 15 s: a stalled peer is
	// dropped long before StreamTimeout.
	IdleTimeout time.Duration
	// MaxServeStreams caps the streams this node serves at once, so that
	// peers cannot exhaust its memory, file handles or bandwidth; a stream
	// beyond it is answered "busy". Each costs at most one 64 KiB buffer.
	// Default 64.
	MaxServeStreams int
	// MaxServeStreamsPerPeer caps the streams one peer is served at once,
	// so one peer cannot take all MaxServeStreams. Default 4: a fetcher
	// asks one peer for a module on one stream, so 4 allows a few modules
	// in parallel.
	MaxServeStreamsPerPeer int

	// MaxFetches caps the modules downloaded at once (each may hold up to
	// MaxModuleBytes in memory until it is verified). Default 8.
	MaxFetches int
	// MaxProviders is how many providers Fetch asks the DHT for and tries
	// in turn after the hinted peers. Default 8: a module is usually held
	// by its submitter and the few nodes that ran it.
	MaxProviders int
	// LookupTimeout bounds the DHT provider lookup of one Fetch. Default
	// 30 s.
	LookupTimeout time.Duration

	// ReprovideInterval is how often every cached module is announced
	// again. Default 12 h: kad-dht drops provider records after 48 h, so a
	// node that misses a round or two is still found.
	ReprovideInterval time.Duration
	// ProvideTimeout bounds one announcement (a DHT lookup and stores at
	// the closest peers). Default 1 minute.
	ProvideTimeout time.Duration
	// ProvideConcurrency is how many announcements run at once. Default 4:
	// each is a DHT lookup of about ten queries in flight.
	ProvideConcurrency int

	// Clock times streams (the watchdog), reprovides and module use.
	// Default clock.Real(); tests run the service in a testing/synctest
	// bubble instead of replacing it.
	Clock clock.Clock
}

// DefaultConfig returns the configuration of a node, except for Dir,
// which the node sets (left empty, modules are kept in memory).
func DefaultConfig() Config {
	return Config{
		MaxBytes:               1 << 30,
		MaxModuleBytes:         64 << 20,
		StreamTimeout:          2 * time.Minute,
		IdleTimeout:            15 * time.Second,
		MaxServeStreams:        64,
		MaxServeStreamsPerPeer: 4,
		MaxFetches:             8,
		MaxProviders:           8,
		LookupTimeout:          30 * time.Second,
		ReprovideInterval:      12 * time.Hour,
		ProvideTimeout:         time.Minute,
		ProvideConcurrency:     4,
		Clock:                  clock.Real(),
	}
}

// TestConfig returns a configuration for tests and the simulator: modules
// in memory, 256 MiB in all and 16 MiB each, and short timers.
func TestConfig() Config {
	c := DefaultConfig()
	c.MaxBytes = 256 << 20
	c.MaxModuleBytes = 16 << 20
	c.StreamTimeout = 10 * time.Second
	c.IdleTimeout = 3 * time.Second
	c.LookupTimeout = 5 * time.Second
	c.ProvideTimeout = 10 * time.Second
	c.ReprovideInterval = time.Minute
	return c
}

// Validate reports the first field that has a bad value, naming it.
func (c Config) Validate() error {
	bad := func(field, format string, args ...any) error {
		return fmt.Errorf("%w: %s: %s", ErrConfig, field, fmt.Sprintf(format, args...))
	}
	switch {
	case c.MaxModuleBytes < 1 || c.MaxModuleBytes > MaxModuleLimit:
		return bad("MaxModuleBytes", "%d is not in [1, %d]", c.MaxModuleBytes, MaxModuleLimit)
	case c.MaxBytes < c.MaxModuleBytes:
		return bad("MaxBytes", "%d is below MaxModuleBytes (%d)", c.MaxBytes, c.MaxModuleBytes)
	case c.StreamTimeout <= 0:
		return bad("StreamTimeout", "%v must be positive", c.StreamTimeout)
	case c.IdleTimeout <= 0 || c.IdleTimeout > c.StreamTimeout:
		return bad("IdleTimeout", "%v must be positive and at most StreamTimeout (%v)", c.IdleTimeout, c.StreamTimeout)
	case c.MaxServeStreams < 1:
		return bad("MaxServeStreams", "%d, need at least 1", c.MaxServeStreams)
	case c.MaxServeStreamsPerPeer < 1 || c.MaxServeStreamsPerPeer > c.MaxServeStreams:
		return bad("MaxServeStreamsPerPeer", "%d is not in [1, MaxServeStreams (%d)]", c.MaxServeStreamsPerPeer, c.MaxServeStreams)
	case c.MaxFetches < 1:
		return bad("MaxFetches", "%d, need at least 1", c.MaxFetches)
	case c.MaxProviders < 0:
		return bad("MaxProviders", "%d is negative", c.MaxProviders)
	case c.LookupTimeout <= 0:
		return bad("LookupTimeout", "%v must be positive", c.LookupTimeout)
	case c.ReprovideInterval <= 0:
		return bad("ReprovideInterval", "%v must be positive", c.ReprovideInterval)
	case c.ProvideTimeout <= 0:
		return bad("ProvideTimeout", "%v must be positive", c.ProvideTimeout)
	case c.ProvideConcurrency < 1:
		return bad("ProvideConcurrency", "%d, need at least 1", c.ProvideConcurrency)
	case c.Clock == nil:
		return bad("Clock", "is nil")
	}
	return nil
}
