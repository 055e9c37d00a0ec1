package store

import (
	"errors"

	"github.com/dgraph-io/badger/v4"
)

// Group commit for single-key writes.
//
// With SyncWrites, Badger v4.9.6 syncs its write-ahead log once per
// transaction, even when its write goroutine writes several transactions in
// one go: concurrent Puts, one transaction each, pay one sync each. The
// committer turns concurrent Puts and Deletes into one transaction, and so
// into one sync: a Put waits while the previous group is being synced, and
// the requests that queued meanwhile form the next group. A lone writer
// gets its own transaction at once, as without the committer.

// writeReq is one Put or Delete waiting for its group to commit.
type writeReq struct {
	key     []byte
	value   []byte
	expires uint64
	delete  bool
	done    chan error
}

// Bounds of one group: far below Badger's per-transaction limits (about 15%
// of a memtable), so that a group does not fail where its writes alone
// would not.
const (
	maxGroupWrites = 256
	maxGroupFrac   = 4 // a group holds at most maxBatchSize/maxGroupFrac bytes
)

// write applies one Put or Delete: through the committer when writes are
// synced, directly otherwise. The caller holds an in-flight registration
// (acquire), so the committer is running.
func (db *DB) write(r *writeReq) error {
	if db.writes == nil {
		if err := db.CheckSpace(); err != nil {
			return err
		}
		return db.bdb.Update(r.apply)
	}
	r.done = make(chan error, 1)
	db.writes <- r
	return <-r.done
}

func (r *writeReq) apply(txn *badger.Txn) error {
	if r.delete {
		return txn.Delete(r.key)
	}
	e := badger.NewEntry(r.key, r.value)
	e.ExpiresAt = r.expires
	return txn.SetEntry(e)
}

// size estimates what r takes of a transaction: values above the threshold
// are a pointer into the value log.
func (r *writeReq) size(threshold int64) int64 {
	v := int64(len(r.value))
	if v >= threshold {
		v = 12
	}
	return int64(len(r.key)) + v + 32
}

// commitLoop gathers writes into groups until stopWrites is closed. Close
// closes it only once no call is in flight, so no request is left waiting.
func (db *DB) commitLoop(writes <-chan *writeReq) {
	defer db.commitWG.Done()
	limit := db.cfg.maxBatchSize() / maxGroupFrac
	threshold := db.cfg.valueThreshold()
	group := make([]*writeReq, 0, maxGroupWrites)
	for {
		var r *writeReq
		select {
		case r = <-writes:
		case <-db.stopWrites:
			return
		}
		group = append(group[:0], r)
		bytes := r.size(threshold)
	gather:
		for len(group) < maxGroupWrites && bytes < limit {
			select {
			case r := <-writes:
				group = append(group, r)
				bytes += r.size(threshold)
			default:
				break gather
			}
		}
		db.commitGroup(group)
	}
}

// commitGroup writes the group in one transaction and answers each request
// (all with ErrNoSpace if the disk has no room).
// If the group as a whole fails (too big for one transaction after all),
// each request is retried alone so that it gets its own answer.
func (db *DB) commitGroup(group []*writeReq) {
	// One check of the disk's room for the whole group.
	if err := db.CheckSpace(); err != nil {
		for _, r := range group {
			r.done <- err
		}
		return
	}
	db.groups.Add(1)
	err := db.bdb.Update(func(txn *badger.Txn) error {
		for _, r := range group {
			if err := r.apply(txn); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil && len(group) > 1 && !errors.Is(err, badger.ErrDBClosed) && !errors.Is(err, badger.ErrBlockedWrites) {
		for _, r := range group {
			r.done <- db.bdb.Update(r.apply)
		}
		return
	}
	for _, r := range group {
		r.done <- err
	}
}
