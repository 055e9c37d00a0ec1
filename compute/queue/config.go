package queue

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/fog-compute/fog/internal/clock"
)

// Sentinel errors callers branch on (wrapped: use errors.Is).
var (
	// ErrNotFound: no job has that ID (or its record expired).
	ErrNotFound = errors.New("queue: job not found")
	// ErrExists: Enqueue was given the ID of a job that exists.
	ErrExists = errors.New("queue: job already exists")
	// ErrBadTransition: the job is not in a state the call can move it
	// from (see CanTransition), for example Complete on a queued job.
	ErrBadTransition = errors.New("queue: illegal state transition")
	// ErrClosed: the Queue is closed.
	ErrClosed = errors.New("queue: closed")
	// ErrInvalidJob: Enqueue was given a job it cannot accept (an ID or
	// owner too long, an unknown crash policy, a deadline already past).
	ErrInvalidJob = errors.New("queue: invalid job")
	// ErrTooLarge: the job's record (payload and result included) would be
	// larger than the store accepts in one value (store.DB.MaxValueSize).
	ErrTooLarge = errors.New("queue: job record too large")
	// ErrFull: Config.MaxQueued jobs are queued already.
	ErrFull = errors.New("queue: full")
	// ErrCorrupt: a stored record cannot be decoded, or the store's keys
	// contradict each other.
	ErrCorrupt = errors.New("queue: corrupt record")
	// ErrConfig is wrapped by every error Config.Validate returns.
	ErrConfig = errors.New("queue: invalid config")
)

// Config configures a Queue.
type Config struct {
	// Namespace separates queues sharing one store: the queue's keys are
	// /compute/<Namespace>.job/<id> and /compute/<Namespace>.live/<order>.
	// Lowercase letters, digits and '-', at most 32 characters. Default
	// "queue".
	Namespace string
	// ResultTTL is how long a finished (done, failed or cancelled) job's
	// record, and so its result, is kept: long enough for its submitter to
	// fetch it after a disconnection or a restart, short enough that a
	// node running thousands of tasks a second does not fill its disk.
	// Default 24 h.
	ResultTTL time.Duration
	// DefaultMaxAttempts is the MaxAttempts of a job enqueued with 0: how
	// many starts a CrashRerun job gets before a crash fails it. Default 3,
	// so that a task that crashes the node is not retried forever.
	DefaultMaxAttempts uint32
	// MaxQueued bounds the queued jobs; Enqueue beyond it fails with
	// ErrFull. The queue holds about 200 bytes of memory per queued job,
	// plus its record if it fits in CacheBytes. Default 1,000,000.
	MaxQueued int
	// CacheBytes bounds the memory holding the records (payload included)
	// of queued jobs, so that Next need not read them back from the store;
	// records beyond it are read when their job starts. 0 disables the
	// cache. Default 64 MiB.
	CacheBytes int
	// Logger receives recovery and expiry messages; nil discards them.
	Logger *slog.Logger
	// Clock gives the queue its time: job timestamps, deadlines and the
	// start of ResultTTL. Default clock.Real(); tests run the queue in a
	// testing/synctest bubble instead of replacing it. The store expires
	// records on the system clock, so a Clock other than Real delays or
	// hastens ResultTTL by its offset from it.
	Clock clock.Clock
}

// DefaultConfig returns the configuration of a node's queue.
func DefaultConfig() Config {
	return Config{
		Namespace:          "queue",
		ResultTTL:          24 * time.Hour,
		DefaultMaxAttempts: 3,
		MaxQueued:          1_000_000,
		CacheBytes:         64 << 20,
		Logger:             slog.Default(),
		Clock:              clock.Real(),
	}
}

// TestConfig returns DefaultConfig without logging: tests and the simulator
// change ResultTTL or MaxQueued as they need.
func TestConfig() Config {
	c := DefaultConfig()
	c.Logger = nil
	return c
}

// Validate reports the first field that has a bad value, naming it.
func (c Config) Validate() error {
	bad := func(field, format string, args ...any) error {
		return fmt.Errorf("%w: %s: %s", ErrConfig, field, fmt.Sprintf(format, args...))
	}
	if c.Namespace == "" || len(c.Namespace) > 32 {
		return bad("Namespace", "%q must have 1 to 32 characters", c.Namespace)
	}
	for _, r := range c.Namespace {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') {
			return bad("Namespace", "%q may hold only a-z, 0-9 and '-'", c.Namespace)
		}
	}
	switch {
	case c.ResultTTL < time.Second:
		return bad("ResultTTL", "%v is below 1s (the store keeps expiry times in seconds)", c.ResultTTL)
	case c.DefaultMaxAttempts < 1:
		return bad("DefaultMaxAttempts", "must be at least 1")
	case c.MaxQueued < 1:
		return bad("MaxQueued", "%d, need at least 1", c.MaxQueued)
	case c.CacheBytes < 0:
		return bad("CacheBytes", "%d is negative", c.CacheBytes)
	case c.Clock == nil:
		return bad("Clock", "is nil")
	}
	return nil
}
