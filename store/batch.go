package store

import (
	"bytes"
	"context"
	"fmt"
	"sync"

	"github.com/ipfs/go-datastore"
)

// batch buffers puts and deletes until Commit (see Datastore.Batch).
type batch struct {
	d  *Datastore
	mu sync.Mutex
	// ops holds the last operation per Badger key: a later Put or Delete of
	// the same key replaces an earlier one, as applying them in order would.
	ops map[string]batchOp
}

type batchOp struct {
	value  []byte
	delete bool
}

var _ datastore.Batch = (*batch)(nil)

func (b *batch) Put(ctx context.Context, key datastore.Key, value []byte) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("store: %w", err)
	}
	if err := b.d.checkValue(key, value); err != nil {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.ops[string(b.d.bkey(key))] = batchOp{value: bytes.Clone(value)}
	return nil
}

func (b *batch) Delete(ctx context.Context, key datastore.Key) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("store: %w", err)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.ops[string(b.d.bkey(key))] = batchOp{delete: true}
	return nil
}

// Commit writes the buffered operations and empties the batch. On error,
// some of them may have been written.
func (b *batch) Commit(ctx context.Context) error {
	if err := b.d.begin(ctx); err != nil {
		return err
	}
	defer b.d.db.release()
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.ops) == 0 {
		return nil
	}
	if err := b.d.db.CheckSpace(); err != nil {
		return err
	}
	wb := b.d.db.bdb.NewWriteBatch()
	for k, op := range b.ops {
		var err error
		if op.delete {
			err = wb.Delete([]byte(k))
		} else {
			err = wb.Set([]byte(k), op.value)
		}
		if err != nil {
			wb.Cancel()
			return opError("batch commit", k[len(b.d.root):], err)
		}
	}
	if err := wb.Flush(); err != nil {
		return opError("batch commit", "", err)
	}
	clear(b.ops)
	return nil
}
