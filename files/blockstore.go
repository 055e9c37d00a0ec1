package files

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/ipfs/boxo/blockstore"
	blocks "github.com/ipfs/go-block-format"
	"github.com/ipfs/go-cid"
	ipld "github.com/ipfs/go-ipld-format"
)

// quotaStore is the blockstore of a Service: boxo's over the node's
// Badger store, keeping the bytes of all blocks under a cap and noting the
// blocks written while a garbage collection runs, so that it spares them.
type quotaStore struct {
	blockstore.Blockstore
	max     int64
	used    atomic.Int64
	refused atomic.Uint64 // Puts refused for the cap

	mu    sync.Mutex
	fresh map[string]struct{} // multihashes written since beginGC; nil outside a GC
	sizes map[string]int      // block sizes by multihash, at most maxSizes
}

// maxSizes bounds the sizes remembered: Bitswap's server asks a block's
// size before it reads the block, and Badger copies a value out of its
// tables on every lookup, so a remembered size saves reading each block
// served twice. 64 Ki entries are 16 GiB of 256 KiB blocks in a few MiB.
const maxSizes = 1 << 16

var _ blockstore.Blockstore = (*quotaStore)(nil)

// newQuotaStore wraps bs, counting the bytes it holds now.
func newQuotaStore(ctx context.Context, bs blockstore.Blockstore, max int64) (*quotaStore, error) {
	q := &quotaStore{Blockstore: bs, max: max, sizes: make(map[string]int)}
	ch, err := bs.AllKeysChan(ctx)
	if err != nil {
		return nil, fmt.Errorf("files: count blocks: %w", err)
	}
	var used int64
	for c := range ch {
		n, err := bs.GetSize(ctx, c)
		if err != nil && !ipld.IsNotFound(err) {
			return nil, fmt.Errorf("files: count blocks: %w", err)
		}
		if n > 0 {
			used += int64(n)
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("files: count blocks: %w", err)
	}
	q.used.Store(used)
	return q, nil
}

// Used returns the bytes of the blocks held.
func (q *quotaStore) Used() int64 { return q.used.Load() }

// Put stores b unless it is held already, or refuses it with
// ErrStorageFull if it would take the blocks above the cap.
func (q *quotaStore) Put(ctx context.Context, b blocks.Block) error {
	has, err := q.Blockstore.Has(ctx, b.Cid())
	if err != nil {
		return err
	}
	if has {
		return nil
	}
	n := int64(len(b.RawData()))
	if q.used.Add(n) > q.max {
		q.used.Add(-n)
		q.refused.Add(1)
		return fmt.Errorf("%w: %d bytes of blocks held, a block of %d would pass MaxStorageBytes %d", ErrStorageFull, q.used.Load(), n, q.max)
	}
	// Noted before it is written, so a sweep that sees it spares it.
	q.noteFresh(b.Cid())
	if err := q.Blockstore.Put(ctx, b); err != nil {
		q.used.Add(-n)
		return err
	}
	q.noteSize(b.Cid(), int(n))
	return nil
}

// GetSize returns the size of c's block, remembered or read.
func (q *quotaStore) GetSize(ctx context.Context, c cid.Cid) (int, error) {
	q.mu.Lock()
	n, ok := q.sizes[string(c.Hash())]
	q.mu.Unlock()
	if ok {
		return n, nil
	}
	n, err := q.Blockstore.GetSize(ctx, c)
	if err == nil {
		q.noteSize(c, n)
	}
	return n, err
}

func (q *quotaStore) noteSize(c cid.Cid, n int) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.sizes) >= maxSizes {
		clear(q.sizes)
	}
	q.sizes[string(c.Hash())] = n
}

// PutMany stores each block as Put does.
func (q *quotaStore) PutMany(ctx context.Context, bs []blocks.Block) error {
	for _, b := range bs {
		if err := q.Put(ctx, b); err != nil {
			return err
		}
	}
	return nil
}

// DeleteBlock removes c and gives back its bytes.
func (q *quotaStore) DeleteBlock(ctx context.Context, c cid.Cid) error {
	n, err := q.Blockstore.GetSize(ctx, c)
	if err != nil {
		if ipld.IsNotFound(err) {
			return nil
		}
		return err
	}
	q.mu.Lock()
	delete(q.sizes, string(c.Hash()))
	q.mu.Unlock()
	if err := q.Blockstore.DeleteBlock(ctx, c); err != nil {
		return err
	}
	q.used.Add(-int64(n))
	return nil
}

func (q *quotaStore) noteFresh(c cid.Cid) {
	q.mu.Lock()
	if q.fresh != nil {
		q.fresh[string(c.Hash())] = struct{}{}
	}
	q.mu.Unlock()
}

// beginGC starts noting the blocks written; endGC stops.
func (q *quotaStore) beginGC() {
	q.mu.Lock()
	q.fresh = make(map[string]struct{})
	q.mu.Unlock()
}

func (q *quotaStore) endGC() {
	q.mu.Lock()
	q.fresh = nil
	q.mu.Unlock()
}

// isFresh reports whether the block of multihash mh was written since
// beginGC.
func (q *quotaStore) isFresh(mh string) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	_, ok := q.fresh[mh]
	return ok
}

// isFull reports whether err is the cap refusing a block.
func isFull(err error) bool { return errors.Is(err, ErrStorageFull) }
