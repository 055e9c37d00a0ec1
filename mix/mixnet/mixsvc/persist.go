package mixsvc

import (
	"context"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/ipfs/go-datastore"
	"github.com/ipfs/go-datastore/query"

	"github.com/fog-compute/fog/store"
)

// Replay tags are stored as /replay/<epoch, 16 hex digits>-<tag, hex>
// with an empty value, in the mix prefix of the node's store (the lottery
// keeps its own kinds there).
const kindReplay = "replay"

type tagEntry struct {
	epoch uint64
	tag   [32]byte
}

func tagKey(e uint64, tag [32]byte) datastore.Key {
	return store.Key(kindReplay, fmt.Sprintf("%016x-%x", e, tag))
}

// persistTags writes the queued tags in one batch and syncs it; on an
// error they stay queued.
func (s *Service) persistTags(ctx context.Context) error {
	s.mu.Lock()
	tags := s.tags
	s.tags = nil
	s.mu.Unlock()
	if err := s.persist(ctx, tags); err != nil {
		s.mu.Lock()
		s.tags = append(tags, s.tags...)
		s.mu.Unlock()
		return err
	}
	return nil
}

// persist writes tags in one batch and syncs it.
func (s *Service) persist(ctx context.Context, tags []tagEntry) error {
	if len(tags) == 0 {
		return nil
	}
	err := func() error {
		b, err := s.o.Store.Batch(ctx)
		if err != nil {
			return err
		}
		for _, t := range tags {
			if err := b.Put(ctx, tagKey(t.epoch, t.tag), nil); err != nil {
				return err
			}
		}
		if err := b.Commit(ctx); err != nil {
			return err
		}
		return s.o.Store.Sync(ctx, datastore.NewKey("/"+kindReplay))
	}()
	if err != nil {
		return fmt.Errorf("mixsvc: persist replay tags: %w", err)
	}
	s.mu.Lock()
	s.stats.tagSyncs++
	s.mu.Unlock()
	return nil
}

// loadTags returns the tags persisted for epoch e.
func loadTags(ctx context.Context, ds datastore.Batching, e uint64) ([][32]byte, error) {
	prefix := fmt.Sprintf("%016x-", e)
	res, err := ds.Query(ctx, query.Query{Prefix: "/" + kindReplay, KeysOnly: true})
	if err != nil {
		return nil, err
	}
	defer res.Close()
	var tags [][32]byte
	for r := range res.Next() {
		if r.Error != nil {
			return nil, r.Error
		}
		_, id, err := store.ParseKey(datastore.NewKey(r.Key))
		if err != nil || !strings.HasPrefix(id, prefix) {
			continue
		}
		var t [32]byte
		if b, err := hex.DecodeString(id[len(prefix):]); err == nil && len(b) == len(t) {
			copy(t[:], b)
			tags = append(tags, t)
		}
	}
	return tags, nil
}

// dropTags deletes the tags of epoch e: its key is gone.
func dropTags(ctx context.Context, ds datastore.Batching, e uint64) error {
	tags, err := loadTags(ctx, ds, e)
	if err != nil || len(tags) == 0 {
		return err
	}
	b, err := ds.Batch(ctx)
	if err != nil {
		return err
	}
	for _, t := range tags {
		if err := b.Delete(ctx, tagKey(e, t)); err != nil {
			return err
		}
	}
	return b.Commit(ctx)
}
