package store

import (
	"bytes"
	"context"
	"fmt"
	"path"
	"sync"

	"github.com/dgraph-io/badger/v4"
	"github.com/ipfs/go-datastore/query"
)

// queryPlan is how a go-datastore query maps onto a Badger iteration.
type queryPlan struct {
	prefix    []byte // Badger keys to iterate: root + query prefix + "/"
	strip     int    // bytes of root to strip from Badger keys
	reverse   bool   // iterate keys in descending order
	sort      bool   // collect and sort with q.Orders (not a key order)
	needValue bool   // read values: returned, filtered or sorted on
}

func planQuery(root string, q query.Query) queryPlan {
	// The prefix selects strict children, cleaned as go-datastore does
	// (query.NaiveQueryApply): "/a" selects "/a/b", not "/ab" nor "/a".
	sub := "/"
	if q.Prefix != "" {
		p := q.Prefix
		if p[0] != '/' {
			p = "/" + p
		}
		if p = path.Clean(p); p != "/" {
			sub = p + "/"
		}
	}
	p := queryPlan{
		prefix: []byte(root + sub),
		strip:  len(root),
	}
	if len(q.Orders) > 0 {
		switch q.Orders[0].(type) {
		case query.OrderByKey, *query.OrderByKey:
			// Badger's order, as keys are unique the rest do not matter.
		case query.OrderByKeyDescending, *query.OrderByKeyDescending:
			p.reverse = true
		default:
			p.sort = true
		}
	}
	p.needValue = !q.KeysOnly
	for _, f := range q.Filters {
		switch f.(type) {
		case query.FilterKeyCompare, *query.FilterKeyCompare,
			query.FilterKeyPrefix, *query.FilterKeyPrefix:
		default:
			p.needValue = true // the filter may look at the value
		}
	}
	if p.sort {
		for _, o := range q.Orders {
			switch o.(type) {
			case query.OrderByKey, *query.OrderByKey,
				query.OrderByKeyDescending, *query.OrderByKeyDescending:
			default:
				p.needValue = true // the order may look at the value
			}
		}
	}
	return p
}

// stopSignal ends a query with err when ctx is done.
type stopSignal struct {
	ctx context.Context
	err error
}

// queryRun is one query's producer: it runs in the goroutine that
// query.ResultsWithContext starts and owns the Badger iterator.
type queryRun struct {
	q    query.Query
	plan queryPlan
	txn  *badger.Txn
	lock sync.Locker     // guards txn, which may be shared with a Txn's calls
	user context.Context // the caller's: its end is reported as an error
	stop []stopSignal    // DB closed, Txn finished: reported if possible
	done func()          // releases what the query held, after the iterator
}

// run produces the results on out until they end, the consumer closes them
// (rctx), or a stop signal fires.
func (r *queryRun) run(rctx context.Context, out chan<- query.Result) {
	defer r.done()

	// hard stops the query without anyone waiting for a reason: the
	// consumer is gone, or the DB/Txn is going away.
	hard, cancelHard := context.WithCancel(rctx)
	defer cancelHard()
	for _, s := range r.stop {
		defer context.AfterFunc(s.ctx, cancelHard)()
	}
	// The caller's context also stops the query, and that is reported.
	stopped := func() bool { return hard.Err() != nil || r.user.Err() != nil }

	send := func(res query.Result) bool {
		select {
		case out <- res:
			return true
		case <-hard.Done():
		case <-r.user.Done():
		}
		r.report(rctx, hard, out)
		return false
	}
	fail := func(err error) {
		send(query.Result{Error: fmt.Errorf("store: query: %w", err)})
	}

	it, err := r.open()
	if err != nil {
		fail(err)
		return
	}
	defer func() {
		r.lock.Lock()
		it.Close()
		r.lock.Unlock()
	}()

	q := r.q
	skip, left := q.Offset, q.Limit
	var sorted []query.Entry
	for {
		if stopped() {
			r.report(rctx, hard, out)
			return
		}
		r.lock.Lock()
		e, ok, err := r.next(it)
		r.lock.Unlock()
		if err != nil {
			fail(err)
			return
		}
		if !ok {
			break
		}
		if !matches(q.Filters, e) {
			continue
		}
		if q.KeysOnly {
			e.Value = nil
		}
		if r.plan.sort {
			sorted = append(sorted, e)
			continue
		}
		if skip > 0 {
			skip--
			continue
		}
		if !send(query.Result{Entry: e}) {
			return
		}
		if q.Limit > 0 {
			if left--; left == 0 {
				return
			}
		}
	}
	if !r.plan.sort {
		return
	}
	query.Sort(q.Orders, sorted)
	if skip >= len(sorted) {
		return
	}
	sorted = sorted[skip:]
	if q.Limit > 0 && q.Limit < len(sorted) {
		sorted = sorted[:q.Limit]
	}
	for _, e := range sorted {
		if !send(query.Result{Entry: e}) {
			return
		}
	}
}

// report tells the consumer why the query stopped early, if anyone is
// listening: the caller's context error, or the stop signal's error when
// there is room for it without waiting.
func (r *queryRun) report(rctx, hard context.Context, out chan<- query.Result) {
	if rctx.Err() != nil {
		return // the consumer closed the results
	}
	if hard.Err() != nil {
		select {
		case out <- query.Result{Error: fmt.Errorf("store: query: %w", r.stopCause())}:
		default:
		}
		return
	}
	select {
	case out <- query.Result{Error: fmt.Errorf("store: query: %w", r.user.Err())}:
	case <-hard.Done():
	}
}

// stopCause is why the query stopped early: the error of the first stop
// signal, in the order of r.stop, whose context is done. It is derived
// when asked rather than recorded by whichever signal fires first: a
// transaction's context is a child of the DB's, so DB.Close ends both at
// once, and the query must then report ErrClosed, not ErrTxnDone.
func (r *queryRun) stopCause() error {
	for _, s := range r.stop {
		if s.ctx.Err() != nil {
			return s.err
		}
	}
	return context.Canceled
}

// open creates the iterator and positions it on the first key.
func (r *queryRun) open() (it *badger.Iterator, err error) {
	r.lock.Lock()
	defer r.lock.Unlock()
	opts := badger.IteratorOptions{Reverse: r.plan.reverse}
	if !r.plan.reverse {
		// Narrows the tables visited. Not in reverse: there the seek key
		// lies just past the prefix.
		opts.Prefix = r.plan.prefix
	}
	it = r.txn.NewIterator(opts)
	if !r.plan.reverse {
		it.Seek(r.plan.prefix)
		return it, nil
	}
	// In reverse, Seek finds the last key <= its argument: seek to the
	// smallest key past the prefix range and step over it if it exists.
	past := prefixEnd(r.plan.prefix)
	it.Seek(past)
	if it.Valid() && bytes.Equal(it.Item().Key(), past) {
		it.Next()
	}
	return it, nil
}

// next reads the entry at the iterator and advances it; ok is false at the
// end of the prefix.
func (r *queryRun) next(it *badger.Iterator) (e query.Entry, ok bool, err error) {
	if !it.ValidForPrefix(r.plan.prefix) {
		return e, false, nil
	}
	item := it.Item()
	e.Key = string(item.Key()[r.plan.strip:])
	e.Size = -1
	switch {
	case r.plan.needValue:
		if e.Value, err = item.ValueCopy(nil); err != nil {
			return e, false, fmt.Errorf("read %s: %w", e.Key, err)
		}
		e.Size = len(e.Value)
	case r.q.ReturnsSizes:
		if e.Size, err = itemSize(item); err != nil {
			return e, false, fmt.Errorf("read %s: %w", e.Key, err)
		}
	}
	if r.q.ReturnExpirations {
		e.Expiration = expiration(item)
	}
	it.Next()
	return e, true, nil
}

func matches(filters []query.Filter, e query.Entry) bool {
	for _, f := range filters {
		if !f.Filter(e) {
			return false
		}
	}
	return true
}

// prefixEnd is the smallest key greater than every key that starts with p.
// p always ends in '/', so incrementing its last byte is enough.
func prefixEnd(p []byte) []byte {
	end := bytes.Clone(p)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] < 0xff {
			end[i]++
			return end[:i+1]
		}
	}
	return nil // p is all 0xff: no key is greater; Seek(nil) goes to the end
}
