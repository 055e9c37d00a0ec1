package store

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/ipfs/go-datastore"
	"github.com/ipfs/go-datastore/query"
)

// Datastore is a go-datastore view of the DB rooted at a prefix (see
// DB.Datastore). It implements datastore.Batching, TTLDatastore,
// TxnDatastore, PersistentDatastore and GCDatastore.
//
// A Datastore is safe for concurrent use. Get and GetSize return
// datastore.ErrNotFound itself (not wrapped) for a missing key, as the
// go-datastore contract and its test suite expect.
type Datastore struct {
	db     *DB
	root   string // "" for the whole keyspace, else e.g. "/dht"
	closed atomic.Bool
}

var (
	_ datastore.Batching            = (*Datastore)(nil)
	_ datastore.TTLDatastore        = (*Datastore)(nil)
	_ datastore.TxnDatastore        = (*Datastore)(nil)
	_ datastore.PersistentDatastore = (*Datastore)(nil)
	_ datastore.GCDatastore         = (*Datastore)(nil)
)

// Prefix returns the prefix the Datastore is rooted at ("/" for the whole
// keyspace).
func (d *Datastore) Prefix() Prefix {
	if d.root == "" {
		return "/"
	}
	return Prefix(d.root)
}

// bkey is the Badger key of k: the root followed by k.
func (d *Datastore) bkey(k datastore.Key) []byte {
	s := k.String()
	b := make([]byte, 0, len(d.root)+len(s))
	return append(append(b, d.root...), s...)
}

// begin checks ctx and the Datastore, and registers an in-flight call on the
// DB; db.release must follow a nil error.
func (d *Datastore) begin(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("store: %w", err)
	}
	if d.closed.Load() {
		return ErrClosed
	}
	return d.db.acquire()
}

func (d *Datastore) checkValue(k datastore.Key, v []byte) error {
	if limit := d.db.MaxValueSize(); int64(len(v)) > limit {
		return fmt.Errorf("%w: %s: %d bytes, limit %d", ErrValueTooLarge, k, len(v), limit)
	}
	return nil
}

// Get returns the value of key, or datastore.ErrNotFound.
func (d *Datastore) Get(ctx context.Context, key datastore.Key) ([]byte, error) {
	if err := d.begin(ctx); err != nil {
		return nil, err
	}
	defer d.db.release()
	var v []byte
	err := d.db.bdb.View(func(txn *badger.Txn) (err error) {
		v, err = getValue(txn, d.bkey(key))
		return err
	})
	if err != nil {
		return nil, opError("get", key.String(), err)
	}
	return v, nil
}

// Has reports whether key has a value.
func (d *Datastore) Has(ctx context.Context, key datastore.Key) (bool, error) {
	if err := d.begin(ctx); err != nil {
		return false, err
	}
	defer d.db.release()
	var has bool
	err := d.db.bdb.View(func(txn *badger.Txn) (err error) {
		has, err = hasKey(txn, d.bkey(key))
		return err
	})
	if err != nil {
		return false, opError("has", key.String(), err)
	}
	return has, nil
}

// GetSize returns the length of key's value, or -1 and datastore.ErrNotFound.
func (d *Datastore) GetSize(ctx context.Context, key datastore.Key) (int, error) {
	if err := d.begin(ctx); err != nil {
		return -1, err
	}
	defer d.db.release()
	size := -1
	err := d.db.bdb.View(func(txn *badger.Txn) (err error) {
		size, err = valueSize(txn, d.bkey(key))
		return err
	})
	if err != nil {
		return -1, opError("get size", key.String(), err)
	}
	return size, nil
}

// Put stores value under key. With Config.SyncWrites it returns only once
// the write is durable; concurrent Puts and Deletes are committed together,
// in one Badger transaction and one sync. The caller may reuse value once
// Put returns.
func (d *Datastore) Put(ctx context.Context, key datastore.Key, value []byte) error {
	return d.put(ctx, "put", key, value, 0)
}

// PutWithTTL stores value under key until ttl has passed; afterwards the key
// reads as missing and Badger drops it at its next compaction. Badger keeps
// expiry times in whole seconds; the time is rounded up, so a key lives at
// least ttl and less than ttl+1s. ttl must be positive.
func (d *Datastore) PutWithTTL(ctx context.Context, key datastore.Key, value []byte, ttl time.Duration) error {
	if ttl <= 0 {
		return fmt.Errorf("store: put with ttl %s: ttl %v must be positive", key, ttl)
	}
	// Badger judges expiry on the time package's clock; so is it counted.
	return d.put(ctx, "put with ttl", key, value, expiresAt(time.Now(), ttl))
}

func (d *Datastore) put(ctx context.Context, op string, key datastore.Key, value []byte, expires uint64) error {
	if err := d.checkValue(key, value); err != nil {
		return err
	}
	if err := d.begin(ctx); err != nil {
		return err
	}
	defer d.db.release()
	err := d.db.write(&writeReq{key: d.bkey(key), value: value, expires: expires})
	return opError(op, key.String(), err)
}

// SetTTL gives an existing key a new time to live, counted from now (rounded
// up to a whole second as in PutWithTTL). It returns datastore.ErrNotFound if
// key has no value.
func (d *Datastore) SetTTL(ctx context.Context, key datastore.Key, ttl time.Duration) error {
	if ttl <= 0 {
		return fmt.Errorf("store: set ttl %s: ttl %v must be positive", key, ttl)
	}
	if err := d.begin(ctx); err != nil {
		return err
	}
	defer d.db.release()
	bk := d.bkey(key)
	// A read-modify-write: a concurrent write to key makes the commit
	// conflict, and then the new value is the one to keep alive.
	const attempts = 8
	if err := d.db.CheckSpace(); err != nil {
		return err
	}
	var err error
	for range attempts {
		err = d.db.bdb.Update(func(txn *badger.Txn) error {
			item, err := txn.Get(bk)
			if err != nil {
				return err
			}
			v, err := item.ValueCopy(nil)
			if err != nil {
				return err
			}
			e := badger.NewEntry(bk, v)
			e.ExpiresAt = expiresAt(time.Now(), ttl) // Badger's clock, as in PutWithTTL
			return txn.SetEntry(e)
		})
		if !errors.Is(err, badger.ErrConflict) {
			break
		}
	}
	return opError("set ttl", key.String(), err)
}

// GetExpiration returns when key expires, the zero Time if it never does, or
// datastore.ErrNotFound.
func (d *Datastore) GetExpiration(ctx context.Context, key datastore.Key) (time.Time, error) {
	if err := d.begin(ctx); err != nil {
		return time.Time{}, err
	}
	defer d.db.release()
	var exp time.Time
	err := d.db.bdb.View(func(txn *badger.Txn) error {
		item, err := txn.Get(d.bkey(key))
		if err != nil {
			return err
		}
		exp = expiration(item)
		return nil
	})
	if err != nil {
		return time.Time{}, opError("get expiration", key.String(), err)
	}
	return exp, nil
}

// Delete removes key; deleting a missing key is not an error.
func (d *Datastore) Delete(ctx context.Context, key datastore.Key) error {
	if err := d.begin(ctx); err != nil {
		return err
	}
	defer d.db.release()
	err := d.db.write(&writeReq{key: d.bkey(key), delete: true})
	return opError("delete", key.String(), err)
}

// Sync makes every write that returned before it durable, whatever the
// prefix (Badger has one log for all keys). With Config.SyncWrites they
// already are, and this costs one more sync; in memory it does nothing.
func (d *Datastore) Sync(ctx context.Context, prefix datastore.Key) error {
	if err := d.begin(ctx); err != nil {
		return err
	}
	defer d.db.release()
	if err := d.db.bdb.Sync(); err != nil {
		return fmt.Errorf("store: sync %s: %w", prefix, err)
	}
	return nil
}

// Query runs q over the keys under the Datastore's prefix, on a snapshot
// taken when Query is called. Results stream from a Badger iterator: only a
// query with an order other than by key (ascending or descending) holds its
// matching entries in memory, to sort them. Prefix, filters, key order,
// offset and limit are applied while iterating.
//
// The results stop when they are closed, when ctx is done (the last result
// then carries ctx's error) or when the DB is closed (ErrClosed). Close the
// results, or read them to the end, to release the snapshot.
func (d *Datastore) Query(ctx context.Context, q query.Query) (query.Results, error) {
	if err := d.begin(ctx); err != nil {
		return nil, err
	}
	txn := d.db.bdb.NewTransaction(false)
	run := &queryRun{
		q:    q,
		plan: planQuery(d.root, q),
		txn:  txn,
		lock: noLock{},
		user: ctx,
		stop: []stopSignal{{d.db.ctx, ErrClosed}},
		done: func() {
			txn.Discard()
			d.db.release()
		},
	}
	return query.ResultsWithContext(q, run.run), nil
}

// Batch returns a batch of puts and deletes that are buffered in memory and
// written on Commit. A batch is not atomic: Commit writes it in as many
// Badger transactions as its size needs (Badger caps one at about 15% of
// Config.MemTableSize), and returns once all are written (and durable, with
// SyncWrites). The batch copies the values given to it. It is safe for
// concurrent use.
func (d *Datastore) Batch(ctx context.Context) (datastore.Batch, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	if d.closed.Load() {
		return nil, ErrClosed
	}
	return &batch{d: d, ops: make(map[string]batchOp)}, nil
}

// NewTransaction starts a Badger transaction over the Datastore's keys. A
// read-write transaction sees its own writes, and its Commit fails with an
// error wrapping ErrConflict if a key it read was changed by another
// transaction since it began. Commit or Discard it: an open transaction pins
// a snapshot (Close discards any left open).
func (d *Datastore) NewTransaction(ctx context.Context, readOnly bool) (datastore.Txn, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	if d.closed.Load() {
		return nil, ErrClosed
	}
	return d.db.newTxn(d, readOnly)
}

// DiskUsage returns the bytes the whole DB occupies on disk (Badger's files
// cannot be split by prefix); 0 in memory.
func (d *Datastore) DiskUsage(ctx context.Context) (uint64, error) {
	if err := d.begin(ctx); err != nil {
		return 0, err
	}
	defer d.db.release()
	return d.db.diskUsage()
}

// CollectGarbage runs Badger's value-log GC now (it also runs every
// Config.GCInterval), rewriting value-log files while it finds ones that are
// at least Config.GCDiscardRatio garbage. It applies to the whole DB; in
// memory it does nothing.
func (d *Datastore) CollectGarbage(ctx context.Context) error {
	if err := d.begin(ctx); err != nil {
		return err
	}
	defer d.db.release()
	if d.db.cfg.InMemory {
		return nil
	}
	return d.db.runGC(ctx)
}

// Close closes this view: later calls on it return ErrClosed. It does not
// close the DB, which other subsystems share; DB.Close does. Close is
// idempotent.
func (d *Datastore) Close() error {
	d.closed.Store(true)
	return nil
}

// opError wraps a Badger error with the operation and key, passing nil
// through and datastore.ErrNotFound unwrapped.
func opError(op, key string, err error) error {
	if err == nil {
		return nil
	}
	what := op
	if key != "" {
		what += " " + key
	}
	switch {
	case errors.Is(err, badger.ErrKeyNotFound):
		return datastore.ErrNotFound
	case errors.Is(err, badger.ErrDBClosed), errors.Is(err, badger.ErrBlockedWrites):
		return fmt.Errorf("store: %s: %w (%w)", what, ErrClosed, err)
	}
	return fmt.Errorf("store: %s: %w", what, err)
}

func getValue(txn *badger.Txn, k []byte) ([]byte, error) {
	item, err := txn.Get(k)
	if err != nil {
		return nil, err
	}
	return item.ValueCopy(nil)
}

func hasKey(txn *badger.Txn, k []byte) (bool, error) {
	_, err := txn.Get(k)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, badger.ErrKeyNotFound):
		return false, nil
	}
	return false, err
}

func valueSize(txn *badger.Txn, k []byte) (int, error) {
	item, err := txn.Get(k)
	if err != nil {
		return -1, err
	}
	return itemSize(item)
}

// itemSize is the exact length of an item's value. Item.ValueSize is only an
// estimate for values in the value log; reading the value is exact, and for
// values kept in the LSM tree it costs nothing more.
func itemSize(item *badger.Item) (int, error) {
	size := -1
	err := item.Value(func(v []byte) error {
		size = len(v)
		return nil
	})
	return size, err
}

// expiresAt is Badger's expiry time (Unix seconds) for a ttl starting at now,
// rounded up so that the key never expires early.
func expiresAt(now time.Time, ttl time.Duration) uint64 {
	t := now.Add(ttl)
	sec := t.Unix()
	if t.Nanosecond() > 0 {
		sec++
	}
	return uint64(sec)
}

func expiration(item *badger.Item) time.Time {
	if exp := item.ExpiresAt(); exp != 0 {
		return time.Unix(int64(exp), 0)
	}
	return time.Time{}
}

// noLock is the sync.Locker of a transaction that only one goroutine uses.
type noLock struct{}

func (noLock) Lock()   {}
func (noLock) Unlock() {}

var _ sync.Locker = noLock{}
