package store

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/options"
	"github.com/ipfs/go-datastore"
)

// Sentinel errors callers branch on.
var (
	// ErrClosed is returned by every operation on a closed DB, a closed
	// Datastore, or a Txn whose DB was closed.
	ErrClosed = errors.New("store: closed")

	// ErrLocked is returned by Open when the data directory is already open,
	// in this process or another (Badger holds an exclusive flock on it).
	ErrLocked = errors.New("store: data directory is locked by another open database")

	// ErrNoSpace is returned by every write while the data directory's
	// filesystem has less free space than Config.MinFreeBytes, or is
	// mounted read-only: the write is refused whole, before Badger sees
	// it (Badger writes its logs through memory maps, and a write into a
	// map the disk cannot back kills the process with SIGBUS); and by Open
	// when the data directory is read-only. It wraps syscall.ENOSPC or
	// syscall.EROFS. Writes succeed again once there is room, without a
	// restart.
	ErrNoSpace = errors.New("store: no room to write")

	// ErrValueTooLarge is returned when a value is larger than the DB
	// accepts (DB.MaxValueSize).
	ErrValueTooLarge = errors.New("store: value too large")

	// ErrTxnDone is returned by a Txn that was already committed or
	// discarded.
	ErrTxnDone = errors.New("store: transaction already committed or discarded")

	// ErrConflict is Badger's: a read-write transaction read a key that
	// another transaction changed before it committed. Retry the transaction.
	ErrConflict = badger.ErrConflict

	// ErrTxnTooBig is Badger's: a transaction holds more than about 15% of
	// Config.MemTableSize. Split it, or use a Batch, which splits itself.
	ErrTxnTooBig = badger.ErrTxnTooBig
)

// DB is a node's Badger database, opened once per node and shared by its
// subsystems through prefixed Datastores.
//
// A DB is safe for concurrent use. Close waits for in-flight calls, stops
// running queries and discards open transactions before closing Badger.
type DB struct {
	cfg Config
	bdb *badger.DB
	log *slog.Logger

	ctx    context.Context // cancelled by Close: stops GC and queries
	cancel context.CancelFunc
	wg     sync.WaitGroup // background goroutines (value-log GC)

	// Group commit of synced single-key writes (commit.go); nil writes
	// when writes are not synced.
	writes     chan *writeReq
	stopWrites chan struct{} // closed by Close once no call is in flight
	commitWG   sync.WaitGroup
	groups     atomic.Uint64 // groups committed, for tests

	mu     sync.RWMutex
	closed bool
	ops    sync.WaitGroup    // in-flight calls and live query producers
	txns   map[*Txn]struct{} // open transactions, discarded by Close

	closeOnce sync.Once
	closeErr  error
}

// Open opens (creating if needed) the database described by cfg and, on
// disk with cfg.GCInterval > 0, starts the value-log GC. Opening a directory
// that is already open fails with an error wrapping ErrLocked.
//
// On disk, Open first deletes the empty log files a crash can leave behind,
// which Badger would refuse to open (see removeTornLogs), logging each one
// at Warn, and then verifies the database files: a missing MANIFEST next to
// tables or logs, a table whose index or any block fails its checksum (or
// is truncated), or a log damaged before its end make it fail with a
// *CorruptError (wrapping ErrCorrupt) that names the file, having changed
// nothing. Repair recovers such a database. Verifying reads every table
// once (see BenchmarkOpen for the cost).
func Open(cfg Config) (*DB, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("component", "store")
	if !cfg.InMemory {
		if err := prepareDir(cfg.Path, log); err != nil {
			return nil, err
		}
		// Badger fails on a read-only directory too, but with a message
		// that hides the cause from errors.Is.
		if _, readOnly, err := freeSpace(cfg.Path); err == nil && readOnly {
			return nil, fmt.Errorf("store: open %q: %w: the data directory is on a read-only filesystem: %w", cfg.Path, ErrNoSpace, syscall.EROFS)
		}
	}
	bdb, err := openBadger(cfg)
	if err != nil {
		if isLockError(err) {
			return nil, fmt.Errorf("%w: %s: %v", ErrLocked, cfg.Path, err)
		}
		return nil, fmt.Errorf("store: open %q: %w", cfg.Path, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	db := &DB{
		cfg:    cfg,
		bdb:    bdb,
		log:    log,
		ctx:    ctx,
		cancel: cancel,
		txns:   make(map[*Txn]struct{}),
	}
	if !cfg.InMemory && cfg.GCInterval > 0 {
		db.wg.Add(1)
		go db.gcLoop()
	}
	if !cfg.InMemory && cfg.SyncWrites {
		db.writes = make(chan *writeReq, maxGroupWrites)
		db.stopWrites = make(chan struct{})
		db.commitWG.Add(1)
		go db.commitLoop(db.writes)
	}
	return db, nil
}

// openBadger opens Badger, turning a panic on Open's goroutine into an
// error wrapping ErrCorrupt. (prepareDir verifies the files first: Badger
// opens tables on goroutines of its own, where a panic cannot be recovered.)
func openBadger(cfg Config) (bdb *badger.DB, err error) {
	defer func() {
		if p := recover(); p != nil {
			bdb, err = nil, fmt.Errorf("%w: badger failed opening %s: %v", ErrCorrupt, cfg.Path, p)
		}
	}()
	return badger.Open(cfg.badgerOptions())
}

// badgerOptions translates the Config into Badger's options.
func (c Config) badgerOptions() badger.Options {
	var o badger.Options
	if c.InMemory {
		o = badger.DefaultOptions("").WithInMemory(true)
	} else {
		o = badger.DefaultOptions(c.Path)
	}
	o = o.WithSyncWrites(c.SyncWrites && !c.InMemory).
		WithMemTableSize(c.MemTableSize).
		WithNumMemtables(c.NumMemtables).
		WithBlockCacheSize(c.BlockCacheSize).
		WithIndexCacheSize(c.IndexCacheSize).
		WithValueLogFileSize(c.ValueLogFileSize).
		WithNumCompactors(c.NumCompactors).
		WithValueThreshold(c.valueThreshold()).
		// Badger's metrics are process-wide expvars; hundreds of simulated
		// nodes would share them, and fog exports its own metrics.
		WithMetricsEnabled(false).
		// Checksums. Open verifies every table in full before Badger opens
		// the directory (checkFiles), which is what Badger's OnTableRead
		// would do, but on our goroutine, with errors instead of panics,
		// and without Badger's habit of skipping a table whose checksum
		// fails. At run time, OnBlockRead verifies each block Badger reads
		// from disk (a block cache miss: a CRC-32C over about 4 KiB, next
		// to the read and the decompression it already pays), so damage
		// that appears while the node runs fails reads instead of serving
		// garbage. VerifyValueChecksum does the same for values read from
		// the value log, which only large values written through
		// DB.Badger reach.
		WithChecksumVerificationMode(options.OnBlockRead).
		WithVerifyValueChecksum(true).
		WithLogger(nil)
	if c.BlockCacheSize == 0 {
		o = o.WithCompression(options.None) // Badger needs the cache to decompress
	}
	if c.InMemory {
		// Keep tables, and the buffers that build them, small.
		o = o.WithBaseTableSize(512 << 10).WithBaseLevelSize(4 * mib)
	}
	if c.Logger != nil {
		o = o.WithLogger(newBadgerLogger(c.Logger))
	}
	return o
}

// isLockError reports whether err is Badger failing to flock its directory.
// Badger formats that error with %+v (no %w), so its message is all there is.
func isLockError(err error) bool {
	return strings.Contains(err.Error(), "Cannot acquire directory lock")
}

// Badger returns the underlying Badger database, for subsystems that want raw
// transactions. Keys they write must start with their Prefix (Prefix.Key) so
// that their Datastore and others see the keyspace as DESIGN lays it out.
// Keep values at most MaxValueSize: larger ones go to Badger's value log,
// where v4.9.6's value-log GC can bring deleted keys back. Transactions are
// synced per Config.SyncWrites but not grouped as the Datastore's Puts are.
// The returned DB must not be closed, and must not be used after Close.
func (db *DB) Badger() *badger.DB { return db.bdb }

// InMemory reports whether the DB keeps everything in memory.
func (db *DB) InMemory() bool { return db.cfg.InMemory }

// MaxValueSize is the largest value a Put accepts: 1 MiB - 1 with
// DefaultConfig, about 300 KiB with InMemoryConfig. Every value stays in
// Badger's LSM tree, none in its value log; the limit is Badger's value
// threshold, at most 1 MiB and a little under 15% of Config.MemTableSize,
// what one Badger transaction holds. Store larger data in chunks.
func (db *DB) MaxValueSize() int64 { return db.cfg.maxValueSize() }

// Datastore returns the go-datastore view of the keys under prefix: a key k
// given to it is stored in Badger as prefix+k, and its queries see only keys
// under prefix, so subsystems given different prefixes cannot see or touch
// each other's keys. The prefix is cleaned as a datastore key; "/" gives a
// view of the whole keyspace (for tools, not subsystems). Views are cheap,
// and any number may be open at once; closing one does not close the DB.
func (db *DB) Datastore(prefix Prefix) *Datastore {
	root := datastore.NewKey(string(prefix)).String()
	if root == "/" {
		root = ""
	}
	return &Datastore{db: db, root: root}
}

// Close stops the value-log GC and running queries, waits for in-flight
// calls, discards open transactions and closes Badger, which flushes its
// memtables. It is idempotent and safe to call concurrently: every call
// returns the first call's error once closing is done.
func (db *DB) Close() error {
	db.closeOnce.Do(func() { db.closeErr = db.close() })
	return db.closeErr
}

func (db *DB) close() error {
	db.mu.Lock()
	db.closed = true
	txns := db.txns
	db.txns = nil
	db.mu.Unlock()

	db.cancel()
	db.wg.Wait()
	db.ops.Wait()
	if db.stopWrites != nil {
		close(db.stopWrites)
		db.commitWG.Wait()
	}
	for t := range txns {
		t.abandon()
	}
	if err := db.bdb.Close(); err != nil {
		return fmt.Errorf("store: close: %w", err)
	}
	return nil
}

// acquire registers an in-flight call; release must follow.
func (db *DB) acquire() error {
	db.mu.RLock()
	defer db.mu.RUnlock()
	if db.closed {
		return ErrClosed
	}
	db.ops.Add(1)
	return nil
}

func (db *DB) release() { db.ops.Done() }

// gcLoop runs value-log GC every GCInterval until Close.
//
// Badger v4.9.6 (PR #2310) reads the memtable's maxVersion in
// RunValueLogGC without the lock its writer goroutine holds, so a GC that
// overlaps a write is reported by the race detector inside Badger. It is
// harmless on 64-bit machines (a stale value only protects more tombstones
// from compaction); tests run GC concurrently with reads only.
func (db *DB) gcLoop() {
	defer db.wg.Done()
	t := db.cfg.Clock.NewTicker(db.cfg.GCInterval)
	defer t.Stop()
	for {
		select {
		case <-db.ctx.Done():
			return
		case <-t.C():
			if err := db.runGC(db.ctx); err != nil && !errors.Is(err, context.Canceled) {
				db.log.Warn("value-log GC failed", "err", err)
			}
		}
	}
}

// runGC rewrites value-log files while each pass finds one that is at least
// GCDiscardRatio garbage.
func (db *DB) runGC(ctx context.Context) error {
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		err := db.bdb.RunValueLogGC(db.cfg.GCDiscardRatio)
		switch {
		case err == nil:
			continue // one file rewritten; try the next
		case errors.Is(err, badger.ErrNoRewrite), errors.Is(err, badger.ErrRejected):
			return nil // nothing (more) worth rewriting, or a GC already runs
		default:
			return fmt.Errorf("store: value-log GC: %w", err)
		}
	}
}

// diskUsage sums the space the files in the data directory occupy.
func (db *DB) diskUsage() (uint64, error) {
	if db.cfg.InMemory {
		return 0, nil
	}
	var total uint64
	err := filepath.WalkDir(db.cfg.Path, func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil // Badger removed the file while we walked
			}
			return err
		}
		if d.IsDir() {
			return nil
		}
		info, err := d.Info()
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		total += allocatedBytes(info)
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("store: disk usage: %w", err)
	}
	return total, nil
}
