package channel

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/ipfs/go-datastore"
	"github.com/ipfs/go-datastore/query"
)

// history keeps channels' messages, rosters and keys in a datastore:
//
//	/channel/<name>/<time: 16 hex digits of unix ms>/<id: 64 hex digits>  encoded message
//	/roster/<name>/<epoch: 8 hex digits>                                 encoded roster message
//	/chankey/<name>/<epoch: 8 hex digits>                                the epoch's channel key
//
// so a channel's messages iterate in time order, and its items (time, ID)
// come from the keys alone. It is safe for concurrent use (the datastore
// is).
type history struct {
	ds datastore.Batching
}

func msgKey(name string, it Item) datastore.Key {
	return datastore.RawKey(fmt.Sprintf("/channel/%s/%016x/%s", name, it.Time, hex.EncodeToString(it.ID[:])))
}

func epochKey(kind, name string, epoch uint32) datastore.Key {
	return datastore.RawKey(fmt.Sprintf("/%s/%s/%08x", kind, name, epoch))
}

// parseItem reads the item from a message key.
func parseItem(k string) (Item, bool) {
	parts := strings.Split(k, "/")
	if len(parts) != 5 || len(parts[3]) != 16 || len(parts[4]) != 64 {
		return Item{}, false
	}
	t, err := strconv.ParseUint(parts[3], 16, 64)
	if err != nil {
		return Item{}, false
	}
	var it Item
	it.Time = t
	if _, err := hex.Decode(it.ID[:], []byte(parts[4])); err != nil {
		return Item{}, false
	}
	return it, true
}

func itemOf(m *Message, id ID) Item { return Item{Time: uint64(m.Time.UnixMilli()), ID: id} }

// put stores an encoded message unless it is held already, and reports
// whether it was new.
func (h *history) put(ctx context.Context, name string, it Item, enc []byte) (bool, error) {
	k := msgKey(name, it)
	ok, err := h.ds.Has(ctx, k)
	if err != nil {
		return false, fmt.Errorf("channel: history: %w", err)
	}
	if ok {
		return false, nil
	}
	if err := h.ds.Put(ctx, k, enc); err != nil {
		return false, fmt.Errorf("channel: history: %w", err)
	}
	return true, nil
}

// remove deletes a message put did not find already held.
func (h *history) remove(ctx context.Context, name string, it Item) error {
	if err := h.ds.Delete(ctx, msgKey(name, it)); err != nil {
		return fmt.Errorf("channel: history: %w", err)
	}
	return nil
}

// get returns an encoded message, or nil if it is not held.
func (h *history) get(ctx context.Context, name string, it Item) ([]byte, error) {
	b, err := h.ds.Get(ctx, msgKey(name, it))
	if errors.Is(err, datastore.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("channel: history: %w", err)
	}
	return b, nil
}

// items returns the items of a channel's history, oldest first.
func (h *history) items(ctx context.Context, name string) ([]Item, error) {
	res, err := h.ds.Query(ctx, query.Query{Prefix: "/channel/" + name, KeysOnly: true, Orders: []query.Order{query.OrderByKey{}}})
	if err != nil {
		return nil, fmt.Errorf("channel: history: %w", err)
	}
	defer res.Close()
	var out []Item
	for r := range res.Next() {
		if r.Error != nil {
			return nil, fmt.Errorf("channel: history: %w", r.Error)
		}
		if it, ok := parseItem(r.Key); ok {
			out = append(out, it)
		}
	}
	return out, nil
}

// latest returns up to limit of a channel's newest encoded messages,
// oldest first.
func (h *history) latest(ctx context.Context, name string, limit int) ([][]byte, error) {
	res, err := h.ds.Query(ctx, query.Query{Prefix: "/channel/" + name, Orders: []query.Order{query.OrderByKeyDescending{}}, Limit: limit})
	if err != nil {
		return nil, fmt.Errorf("channel: history: %w", err)
	}
	defer res.Close()
	var out [][]byte
	for r := range res.Next() {
		if r.Error != nil {
			return nil, fmt.Errorf("channel: history: %w", r.Error)
		}
		out = append(out, r.Value)
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out, nil
}

// prune deletes a channel's messages older than maxAge before now and the
// oldest beyond maxCount, and returns how many it deleted.
func (h *history) prune(ctx context.Context, name string, now time.Time, maxCount int, maxAge time.Duration) (int, error) {
	items, err := h.items(ctx, name)
	if err != nil {
		return 0, err
	}
	cut := now.Add(-maxAge).UnixMilli()
	n := max(len(items)-maxCount, 0)
	for n < len(items) && int64(items[n].Time) < cut {
		n++
	}
	if n == 0 {
		return 0, nil
	}
	b, err := h.ds.Batch(ctx)
	if err != nil {
		return 0, fmt.Errorf("channel: history: %w", err)
	}
	for _, it := range items[:n] {
		if err := b.Delete(ctx, msgKey(name, it)); err != nil {
			return 0, fmt.Errorf("channel: history: %w", err)
		}
	}
	if err := b.Commit(ctx); err != nil {
		return 0, fmt.Errorf("channel: history: %w", err)
	}
	return n, nil
}

// putEpoch stores a roster message or a channel key of an epoch.
func (h *history) putEpoch(ctx context.Context, kind, name string, epoch uint32, v []byte) error {
	if err := h.ds.Put(ctx, epochKey(kind, name, epoch), v); err != nil {
		return fmt.Errorf("channel: history: %w", err)
	}
	return nil
}

// epochs returns a channel's stored rosters or keys by epoch.
func (h *history) epochs(ctx context.Context, kind, name string) (map[uint32][]byte, error) {
	res, err := h.ds.Query(ctx, query.Query{Prefix: "/" + kind + "/" + name})
	if err != nil {
		return nil, fmt.Errorf("channel: history: %w", err)
	}
	defer res.Close()
	out := map[uint32][]byte{}
	for r := range res.Next() {
		if r.Error != nil {
			return nil, fmt.Errorf("channel: history: %w", r.Error)
		}
		i := strings.LastIndexByte(r.Key, '/')
		e, err := strconv.ParseUint(r.Key[i+1:], 16, 32)
		if err != nil {
			continue
		}
		out[uint32(e)] = r.Value
	}
	return out, nil
}
