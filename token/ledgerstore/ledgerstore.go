package ledgerstore

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/ipfs/go-datastore"
	"github.com/ipfs/go-datastore/query"

	"github.com/fog-compute/fog/store"
	"github.com/fog-compute/fog/token"
)

// Errors Open returns.
var (
	// ErrCorrupt reports a stored log that does not replay.
	ErrCorrupt = errors.New("ledgerstore: stored ledger does not replay")
	// ErrGenesis reports a store written for another genesis.
	ErrGenesis = errors.New("ledgerstore: stored ledger is of another genesis")
)

const (
	kindMeta   = "meta"
	kindLog    = "log"
	idGenesis  = "genesis"
	seqFormat  = "%020d"
	tagBlock   = 'b'
	tagConfirm = 'c'
)

// Store is a Ledger's persistent log.
type Store struct {
	ds   datastore.Batching
	next uint64
}

func logKey(seq uint64) datastore.Key { return store.Key(kindLog, fmt.Sprintf(seqFormat, seq)) }

// Open opens the ledger stored in ds (the node's /token Datastore), or a
// new one, for genesis g, and returns the Store and the Ledger rebuilt
// from it.
func Open(ctx context.Context, ds datastore.Batching, g token.Genesis) (*Store, *token.Ledger, error) {
	l, err := token.NewLedger(g)
	if err != nil {
		return nil, nil, err
	}
	digest := l.Genesis()
	raw, err := ds.Get(ctx, store.Key(kindMeta, idGenesis))
	switch {
	case errors.Is(err, datastore.ErrNotFound):
		if err := ds.Put(ctx, store.Key(kindMeta, idGenesis), digest[:]); err != nil {
			return nil, nil, fmt.Errorf("ledgerstore: write genesis: %w", err)
		}
		if err := ds.Sync(ctx, store.Key(kindMeta, idGenesis)); err != nil {
			return nil, nil, fmt.Errorf("ledgerstore: write genesis: %w", err)
		}
	case err != nil:
		return nil, nil, fmt.Errorf("ledgerstore: read genesis: %w", err)
	case string(raw) != string(digest[:]):
		return nil, nil, fmt.Errorf("%w: stored %x, configured %s", ErrGenesis, raw, digest)
	}
	s := &Store{ds: ds}
	res, err := ds.Query(ctx, query.Query{Prefix: "/" + kindLog, Orders: []query.Order{query.OrderByKey{}}})
	if err != nil {
		return nil, nil, fmt.Errorf("ledgerstore: read log: %w", err)
	}
	defer res.Close()
	for r := range res.Next() {
		if r.Error != nil {
			return nil, nil, fmt.Errorf("ledgerstore: read log: %w", r.Error)
		}
		kind, id, err := store.ParseKey(datastore.RawKey(r.Key))
		if err != nil || kind != kindLog {
			return nil, nil, fmt.Errorf("%w: key %s", ErrCorrupt, r.Key)
		}
		seq, err := strconv.ParseUint(id, 10, 64)
		if err != nil || seq != s.next {
			return nil, nil, fmt.Errorf("%w: record %q where %d was due", ErrCorrupt, id, s.next)
		}
		rec, err := decodeRecord(r.Value)
		if err != nil {
			return nil, nil, fmt.Errorf("%w: record %d: %w", ErrCorrupt, seq, err)
		}
		if err := rec.Replay(l); err != nil {
			return nil, nil, fmt.Errorf("%w: record %d: %w", ErrCorrupt, seq, err)
		}
		s.next++
	}
	return s, l, nil
}

// Records returns how many records the store holds.
func (s *Store) Records() uint64 { return s.next }

// Append writes recs after the stored ones, in one synced batch: when it
// returns nil they survive a crash.
func (s *Store) Append(ctx context.Context, recs []token.Record) error {
	if len(recs) == 0 {
		return nil
	}
	b, err := s.ds.Batch(ctx)
	if err != nil {
		return fmt.Errorf("ledgerstore: append: %w", err)
	}
	for i, r := range recs {
		if err := b.Put(ctx, logKey(s.next+uint64(i)), encodeRecord(&r)); err != nil {
			return fmt.Errorf("ledgerstore: append: %w", err)
		}
	}
	if err := b.Commit(ctx); err != nil {
		return fmt.Errorf("ledgerstore: append: %w", err)
	}
	s.next += uint64(len(recs))
	return nil
}

func encodeRecord(r *token.Record) []byte {
	if r.Confirm {
		return append([]byte{tagConfirm}, r.Hash[:]...)
	}
	return r.Block.Append(append(make([]byte, 0, 1+token.MaxBlockSize), tagBlock))
}

func decodeRecord(p []byte) (token.Record, error) {
	var r token.Record
	if len(p) == 0 {
		return r, errors.New("empty record")
	}
	switch p[0] {
	case tagConfirm:
		if len(p) != 1+len(r.Hash) {
			return r, fmt.Errorf("confirmation of %d bytes", len(p))
		}
		r.Confirm = true
		copy(r.Hash[:], p[1:])
		return r, nil
	case tagBlock:
		b, err := token.DecodeBlock(p[1:])
		if err != nil {
			return r, err
		}
		r.Block, r.Hash = b, b.Hash()
		return r, nil
	}
	return r, fmt.Errorf("record tag %d", p[0])
}
