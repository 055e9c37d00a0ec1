package store

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/fog-compute/fog/internal/clock"
)

// ErrConfig is wrapped by every error Config.Validate returns.
var ErrConfig = errors.New("store: invalid config")

const (
	mib = 1 << 20
	gib = 1 << 30

	minMemTableSize = 1 * mib
	maxMemTableSize = 1 * gib
	// Badger maps value-log files with 32-bit offsets: a file must be
	// smaller than 2 GiB, and Badger refuses anything below 1 MiB.
	minValueLogFileSize = 1 * mib
	maxValueLogFileSize = 2*gib - 1
)

// Config says where and how a node's Badger database is opened.
//
// Start from DefaultConfig (on disk) or InMemoryConfig (simulator, tests) and
// change what you need; Open calls Validate.
//
// Checksums are always verified, and are not configured here: on disk, Open
// verifies every table, block by block, and every log before Badger opens
// them (0.7–1.1 ms of CPU per MiB of tables, see BenchmarkOpen; Badger's own
// OnTableRead would read as much, but panics on a truncated table and skips
// a table that fails), and Badger runs with OnBlockRead, which checks each
// block it reads from disk afterwards (about 0.4 µs per 4 KiB block read,
// only on block-cache misses, see BenchmarkBlockChecksum), and
// VerifyValueChecksum. OnTableAndBlockRead would verify every table twice at
// Open; NoVerification (Badger's default) served damaged data silently.
type Config struct {
	// Path is the data directory Badger owns (it is created, mode 0700, if
	// missing). Required on disk, must be empty when InMemory is set.
	Path string

	// InMemory keeps everything in the process's memory: nothing is written
	// to disk and nothing survives Close. Meant for the simulator, which runs
	// hundreds of nodes in one process, and for tests.
	InMemory bool

	// SyncWrites makes every commit durable before it is acknowledged:
	// Badger syncs its write-ahead log (msync) and value log after writing a
	// transaction and before the commit returns. Badger v4.9.6 does that once
	// per transaction, even for transactions it writes together, so the
	// Datastore gathers concurrent Puts and Deletes into one transaction and
	// one sync (group commit: about 6x the throughput of one transaction per
	// Put with 32 writers, see BenchmarkPut). Default true, because DESIGN
	// requires that nothing acknowledged is lost on a crash. Ignored when
	// InMemory (there is nothing to sync).
	SyncWrites bool

	// MemTableSize is the size of one memtable, Badger's in-memory write
	// buffer, in bytes (1 MiB to 1 GiB). Each memtable is an arena allocated
	// up front of about 1.3 × MemTableSize, so this is the main term of the
	// memory a DB costs. A single transaction may hold at most about 15% of
	// it (Badger's limit), which also bounds the largest value (see
	// DB.MaxValueSize): 1 MiB needs at least 7 MiB. Default 16 MiB: fog's
	// records are small, and Badger's own 64 MiB is sized for servers.
	MemTableSize int64

	// MinFreeBytes is the free space the data directory's filesystem must
	// keep: below it every write fails with ErrNoSpace (see CheckSpace).
	// It must cover what Badger writes after the last write was admitted:
	// a memtable flushed to a table, compactions. Default 2 ×
	// MemTableSize (32 MiB). 0 turns the check off (and a full disk then
	// kills the process with SIGBUS inside Badger). Unused when InMemory
	// and on systems other than Linux.
	MinFreeBytes int64

	// NumMemtables is how many memtables may exist at once (the active one
	// plus those waiting to be flushed); writes stall when all are full.
	// Default 3 on disk, 2 in memory.
	NumMemtables int

	// BlockCacheSize is the size in bytes of the cache of decompressed table
	// blocks. 0 disables both the cache and block compression (Badger needs
	// the cache to hold decompressed blocks). Default 32 MiB on disk with
	// Snappy compression; 0 in memory, where tables already live in memory.
	BlockCacheSize int64

	// IndexCacheSize bounds, in bytes, the memory used by table indexes and
	// bloom filters. 0 keeps every index in memory (Badger's default), which
	// is right when the data set is small. Default 16 MiB on disk so that a
	// node's memory does not grow with its data; 0 in memory.
	IndexCacheSize int64

	// ValueLogFileSize is the size of one value-log file in bytes (1 MiB to
	// 2 GiB). The Datastore keeps every value in the LSM tree (see
	// DB.MaxValueSize), so only values written through DB.Badger above the
	// value threshold reach the value log. Smaller files let value-log GC
	// reclaim space in smaller steps. Default 64 MiB.
	ValueLogFileSize int64

	// NumCompactors is the number of goroutines compacting the LSM tree. At
	// least 2 (Badger's own minimum for compaction to run). Default 2: a
	// node shares its cores with libp2p and wazero.
	NumCompactors int

	// GCInterval is how often the value-log GC runs in the background; 0
	// disables it. Value-log GC reclaims the space of overwritten, deleted
	// and expired values in the value log, which only writes through
	// DB.Badger reach. Default 5 minutes; unused when InMemory.
	GCInterval time.Duration

	// GCDiscardRatio is the fraction of a value-log file that must be garbage
	// before GC rewrites it, strictly between 0 and 1. Default 0.5 (Badger's
	// recommendation: a lifetime write amplification of about 2).
	GCDiscardRatio float64

	// Logger receives Badger's log lines (with component=badger). Badger's
	// errors and warnings keep their level; its info lines, which are routine
	// (tables opened, compactions), are logged at Debug, and its debug lines
	// below Debug. nil discards them.
	Logger *slog.Logger

	// Clock times value-log GC and Repair (its report's duration and the
	// expiry it judges entries by). Badger judges TTLs against the time
	// package itself, so the expiry times PutWithTTL and SetTTL write are
	// counted on the time package too (clock.Real(), virtual inside a
	// testing/synctest bubble). Default clock.Real().
	Clock clock.Clock
}

// DefaultConfig returns the configuration of a node's on-disk database at
// path.
func DefaultConfig(path string) Config {
	return Config{
		Path:             path,
		SyncWrites:       true,
		MemTableSize:     16 * mib,
		MinFreeBytes:     32 * mib,
		NumMemtables:     3,
		BlockCacheSize:   32 * mib,
		IndexCacheSize:   16 * mib,
		ValueLogFileSize: 64 * mib,
		NumCompactors:    2,
		GCInterval:       5 * time.Minute,
		GCDiscardRatio:   0.5,
		Logger:           slog.Default(),
		Clock:            clock.Real(),
	}
}

// InMemoryConfig returns the preset for the simulator and tests: nothing on
// disk, and a small per-instance footprint (about 3 MiB of heap for an empty
// DB, see BenchmarkInMemoryFootprint) so hundreds of instances fit in one
// process. Values up to about 300 KiB fit (DB.MaxValueSize); raise
// MemTableSize for larger ones.
func InMemoryConfig() Config {
	return Config{
		InMemory:         true,
		MemTableSize:     2 * mib,
		NumMemtables:     2,
		BlockCacheSize:   0,
		IndexCacheSize:   0,
		ValueLogFileSize: 64 * mib, // unused in memory, but Badger checks it
		NumCompactors:    2,
		GCInterval:       0,
		GCDiscardRatio:   0.5,
		Logger:           slog.Default(),
		Clock:            clock.Real(),
	}
}

// Validate reports the first field that has a bad value, naming it.
func (c Config) Validate() error {
	bad := func(field string, format string, args ...any) error {
		return fmt.Errorf("%w: %s: %s", ErrConfig, field, fmt.Sprintf(format, args...))
	}
	switch {
	case c.InMemory && c.Path != "":
		return bad("Path", "must be empty when InMemory is set, got %q", c.Path)
	case !c.InMemory && c.Path == "":
		return bad("Path", "required unless InMemory is set")
	case c.MemTableSize < minMemTableSize || c.MemTableSize > maxMemTableSize:
		return bad("MemTableSize", "%d is outside [%d, %d]", c.MemTableSize, minMemTableSize, maxMemTableSize)
	case c.MinFreeBytes < 0:
		return bad("MinFreeBytes", "%d is negative", c.MinFreeBytes)
	case c.NumMemtables < 1:
		return bad("NumMemtables", "%d, need at least 1", c.NumMemtables)
	case c.BlockCacheSize < 0:
		return bad("BlockCacheSize", "%d is negative", c.BlockCacheSize)
	case c.IndexCacheSize < 0:
		return bad("IndexCacheSize", "%d is negative", c.IndexCacheSize)
	case c.ValueLogFileSize < minValueLogFileSize || c.ValueLogFileSize > maxValueLogFileSize:
		return bad("ValueLogFileSize", "%d is outside [%d, %d]", c.ValueLogFileSize, minValueLogFileSize, maxValueLogFileSize)
	case c.NumCompactors < 2:
		return bad("NumCompactors", "%d, need at least 2", c.NumCompactors)
	case c.GCInterval < 0:
		return bad("GCInterval", "%v is negative", c.GCInterval)
	case !(c.GCDiscardRatio > 0 && c.GCDiscardRatio < 1):
		return bad("GCDiscardRatio", "%v is not strictly between 0 and 1", c.GCDiscardRatio)
	case c.Clock == nil:
		return bad("Clock", "is nil")
	}
	return nil
}

// maxBatchSize is Badger's limit on the bytes of one transaction: 15% of a
// memtable.
func (c Config) maxBatchSize() int64 { return 15 * c.MemTableSize / 100 }

// valueThreshold is the size from which Badger moves a value out of the LSM
// tree into the value log (in memory, where there is none, it rejects larger
// values). At most 1 MiB (Badger's maximum), and small enough that one
// transaction holds a value below it with a key of up to 4 KiB and Badger's
// per-entry overhead.
func (c Config) valueThreshold() int64 {
	return min(c.maxBatchSize()-4096, 1*mib)
}

// maxValueSize is the largest value Put accepts: one byte less than the
// value threshold, so that every value stays in the LSM tree and none goes
// to the value log. Two Badger v4.9.6 defects make that necessary: on disk,
// value-log GC can bring back keys whose values it rewrote after they were
// deleted (reproduced in this package's history: 20 deleted 100 KiB values,
// a compaction, GC; deleted keys reappear in about 4 runs in 10); in memory,
// Badger accepts a value of exactly the threshold and then panics writing it
// to the absent value log.
func (c Config) maxValueSize() int64 {
	return c.valueThreshold() - 1
}
