package queue

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// Group commit of state changes.
//
// A state change writes a few keys (the job record and its index entries)
// that must be written together, so it is one request of several writes,
// and the store's own group commit (single-key Puts) does not fit. With
// synced writes Badger v4.9.6 syncs its write-ahead log once per
// transaction, even when it writes several at once. The committer
// therefore gathers the requests that arrive while a commit is syncing and
// writes them all in the next transaction: one sync for the whole group.
// A lone request is committed at once.

// op is one write of a request.
type op struct {
	key     []byte
	value   []byte
	expires uint64 // Badger expiry time (Unix s); 0 never
	delete  bool
}

// request is one state change's writes, committed atomically.
type request struct {
	ops  []op
	size int // bytes, estimated as Badger does
	err  error
	done chan struct{}
}

// committer writes requests in groups.
type committer struct {
	db *badger.DB
	// space refuses a commit while the disk has no room for it
	// (store.DB.CheckSpace): the queue writes through Badger directly.
	space    func() error
	maxBytes int // bytes of one group; a single larger request goes alone

	mu      sync.Mutex
	pending []*request
	spare   []*request
	wake    chan struct{} // capacity 1: pending is not empty
	stop    chan struct{}
	wg      sync.WaitGroup
	// requests recycles requests and their done channels. It is the
	// committer's, not the package's, so that no channel outlives its
	// queue (a synctest bubble forbids sharing one between bubbles).
	requests sync.Pool
}

func newCommitter(db *badger.DB, space func() error, maxBytes int) *committer {
	c := &committer{
		db:       db,
		space:    space,
		maxBytes: maxBytes,
		wake:     make(chan struct{}, 1),
		stop:     make(chan struct{}),
	}
	c.requests.New = func() any { return &request{done: make(chan struct{}, 1)} }
	c.wg.Add(1)
	go c.loop()
	return c
}

// commit writes ops atomically and returns once they are durable (with
// synced writes) or have failed. ops must not be modified until it returns.
func (c *committer) commit(ops []op) error {
	r := c.requests.Get().(*request)
	r.ops, r.err, r.size = ops, nil, 0
	for i := range ops {
		r.size += len(ops[i].key) + len(ops[i].value) + 16
	}
	c.mu.Lock()
	c.pending = append(c.pending, r)
	c.mu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
	<-r.done
	err := r.err
	r.ops = nil
	c.requests.Put(r)
	return err
}

// close stops the committer once every request given to it is answered.
// The Queue calls it only when no commit is in flight.
func (c *committer) close() {
	close(c.stop)
	c.wg.Wait()
}

func (c *committer) loop() {
	defer c.wg.Done()
	for {
		select {
		case <-c.wake:
		case <-c.stop:
			return
		}
		for {
			c.mu.Lock()
			group := c.pending
			c.pending = c.spare[:0]
			c.spare = nil
			c.mu.Unlock()
			if len(group) == 0 {
				c.spare = group
				break
			}
			for start := 0; start < len(group); {
				end, bytes := start+1, group[start].size
				for end < len(group) && bytes+group[end].size <= c.maxBytes {
					bytes += group[end].size
					end++
				}
				c.write(group[start:end])
				start = end
			}
			clear(group)
			c.spare = group[:0]
		}
	}
}

// write commits a group in one transaction and answers its requests. A
// group too large for one transaction after all is split in two.
func (c *committer) write(group []*request) {
	err := c.txn(group)
	if errors.Is(err, badger.ErrTxnTooBig) && len(group) > 1 {
		half := len(group) / 2
		c.write(group[:half])
		c.write(group[half:])
		return
	}
	if err != nil {
		err = fmt.Errorf("queue: commit: %w", err)
	}
	for _, r := range group {
		r.err = err
		r.done <- struct{}{}
	}
}

func (c *committer) txn(group []*request) error {
	if err := c.space(); err != nil {
		return fmt.Errorf("queue: %w", err)
	}
	txn := c.db.NewTransaction(true)
	defer txn.Discard()
	for _, r := range group {
		for i := range r.ops {
			o := &r.ops[i]
			var err error
			if o.delete {
				err = txn.Delete(o.key)
			} else {
				e := badger.NewEntry(o.key, o.value)
				e.ExpiresAt = o.expires
				err = txn.SetEntry(e)
			}
			if err != nil {
				return err
			}
		}
	}
	return txn.Commit()
}

// expiresAt is Badger's expiry time for a ttl from now, rounded up so that
// a record never expires early.
func expiresAt(now time.Time, ttl time.Duration) uint64 {
	t := now.Add(ttl)
	sec := t.Unix()
	if t.Nanosecond() > 0 {
		sec++
	}
	return uint64(sec)
}
