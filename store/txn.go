package store

import (
	"bytes"
	"context"
	"sync"

	"github.com/dgraph-io/badger/v4"
	"github.com/ipfs/go-datastore"
	"github.com/ipfs/go-datastore/query"
)

// Txn is a Badger transaction over a Datastore's keys (see
// Datastore.NewTransaction). It is safe for concurrent use: calls are
// serialized, as Badger transactions are not thread-safe.
type Txn struct {
	d        *Datastore
	readOnly bool

	// ctx is cancelled when the transaction starts to finish, which stops
	// its queries; queries counts them so finishing can wait for their
	// iterators to close (Badger requires it).
	ctx     context.Context
	cancel  context.CancelFunc
	queries sync.WaitGroup

	mu       sync.Mutex
	btxn     *badger.Txn
	done     bool // Commit or Discard was called: no new calls
	finished bool // btxn was committed or discarded
}

var _ datastore.Txn = (*Txn)(nil)

// newTxn creates a transaction and registers it so Close can discard it.
func (db *DB) newTxn(d *Datastore, readOnly bool) (*Txn, error) {
	db.mu.Lock()
	defer db.mu.Unlock()
	if db.closed {
		return nil, ErrClosed
	}
	ctx, cancel := context.WithCancel(db.ctx)
	t := &Txn{
		d:        d,
		readOnly: readOnly,
		ctx:      ctx,
		cancel:   cancel,
		btxn:     db.bdb.NewTransaction(!readOnly),
	}
	db.txns[t] = struct{}{}
	return t, nil
}

func (db *DB) forgetTxn(t *Txn) {
	db.mu.Lock()
	defer db.mu.Unlock()
	delete(db.txns, t) // no-op once Close took the map
}

// call runs f on the Badger transaction, serialized with other calls.
func (t *Txn) call(ctx context.Context, f func(*badger.Txn) error) error {
	if err := t.d.begin(ctx); err != nil {
		return err
	}
	defer t.d.db.release()
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.done {
		return ErrTxnDone
	}
	return f(t.btxn)
}

// Get returns the value of key as the transaction sees it, or
// datastore.ErrNotFound.
func (t *Txn) Get(ctx context.Context, key datastore.Key) (value []byte, err error) {
	err = t.call(ctx, func(txn *badger.Txn) (err error) {
		value, err = getValue(txn, t.d.bkey(key))
		return opError("txn get", key.String(), err)
	})
	return value, err
}

// Has reports whether key has a value as the transaction sees it.
func (t *Txn) Has(ctx context.Context, key datastore.Key) (has bool, err error) {
	err = t.call(ctx, func(txn *badger.Txn) (err error) {
		has, err = hasKey(txn, t.d.bkey(key))
		return opError("txn has", key.String(), err)
	})
	return has, err
}

// GetSize returns the length of key's value, or -1 and datastore.ErrNotFound.
func (t *Txn) GetSize(ctx context.Context, key datastore.Key) (size int, err error) {
	size = -1
	err = t.call(ctx, func(txn *badger.Txn) (err error) {
		size, err = valueSize(txn, t.d.bkey(key))
		return opError("txn get size", key.String(), err)
	})
	if err != nil {
		return -1, err
	}
	return size, nil
}

// Put records a write of value under key, applied on Commit. The value is
// copied.
func (t *Txn) Put(ctx context.Context, key datastore.Key, value []byte) error {
	if err := t.d.checkValue(key, value); err != nil {
		return err
	}
	return t.call(ctx, func(txn *badger.Txn) error {
		return opError("txn put", key.String(), txn.Set(t.d.bkey(key), bytes.Clone(value)))
	})
}

// Delete records the removal of key, applied on Commit.
func (t *Txn) Delete(ctx context.Context, key datastore.Key) error {
	return t.call(ctx, func(txn *badger.Txn) error {
		return opError("txn delete", key.String(), txn.Delete(t.d.bkey(key)))
	})
}

// Query runs q on the transaction's snapshot, including its own writes made
// before the call (see Datastore.Query for how results stream and stop).
// Commit and Discard end the transaction's open queries.
func (t *Txn) Query(ctx context.Context, q query.Query) (query.Results, error) {
	if err := t.d.begin(ctx); err != nil {
		return nil, err
	}
	t.mu.Lock()
	if t.done {
		t.mu.Unlock()
		t.d.db.release()
		return nil, ErrTxnDone
	}
	t.queries.Add(1)
	t.mu.Unlock()
	run := &queryRun{
		q:    q,
		plan: planQuery(t.d.root, q),
		txn:  t.btxn,
		lock: &t.mu,
		user: ctx,
		stop: []stopSignal{{t.d.db.ctx, ErrClosed}, {t.ctx, ErrTxnDone}},
		done: func() {
			t.queries.Done()
			t.d.db.release()
		},
	}
	return query.ResultsWithContext(q, run.run), nil
}

// Commit applies the transaction's writes; with Config.SyncWrites they are
// durable when it returns. It fails with an error wrapping ErrConflict if a
// key the transaction read was changed since it began, and with ErrTxnDone
// if it was already committed or discarded.
func (t *Txn) Commit(ctx context.Context) error {
	if !t.finish() {
		return ErrTxnDone
	}
	defer t.d.db.forgetTxn(t)
	if err := t.d.begin(ctx); err != nil {
		t.discard()
		return err
	}
	defer t.d.db.release()
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.finished {
		return ErrClosed // Close discarded it meanwhile
	}
	if err := t.d.db.CheckSpace(); err != nil {
		return err // not finished: Discard drops the writes
	}
	t.finished = true
	if err := t.btxn.Commit(); err != nil {
		return opError("txn commit", "", err)
	}
	return nil
}

// Discard drops the transaction's writes. It is safe to call after Commit,
// and more than once.
func (t *Txn) Discard(ctx context.Context) {
	if !t.finish() {
		return
	}
	t.discard()
	t.d.db.forgetTxn(t)
}

// finish marks the transaction done, stops its queries and waits for them.
// It returns false if the transaction was already done.
func (t *Txn) finish() bool {
	t.mu.Lock()
	if t.done {
		t.mu.Unlock()
		return false
	}
	t.done = true
	t.mu.Unlock()
	t.cancel()
	t.queries.Wait()
	return true
}

// discard discards the Badger transaction unless it is finished.
func (t *Txn) discard() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.finished {
		t.finished = true
		t.btxn.Discard()
	}
}

// abandon is Close's: no call or query is in flight (Close waited for
// them), so the transaction is discarded before Badger closes.
func (t *Txn) abandon() {
	t.mu.Lock()
	t.done = true
	t.mu.Unlock()
	t.cancel()
	t.discard()
}
