package mailbox

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	ds "github.com/ipfs/go-datastore"
	"github.com/ipfs/go-datastore/query"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/fog-compute/fog/internal/binenc"
)

// storeRoot is the root of the items in the datastore the node gives the
// service (its store rooted at /chat): /mailbox/<key hex>/<id hex>.
var storeRoot = ds.NewKey("/mailbox")

// recordVersion starts every stored item's value. Version 1 held the
// deposit time (the item expired a TTL later, a handed-off copy a TTL
// after its handoff); version 2 holds the expiry itself, which a handoff
// carries on. Version 1 records are still read.
const (
	recordVersion1 = 1
	recordVersion  = 2
)

// itemKey is the datastore key of r.
func itemKey(r ref) ds.Key {
	return storeRoot.ChildString(hex.EncodeToString(r.key[:])).ChildString(hex.EncodeToString(r.id[:]))
}

// parseItemKey reverses itemKey.
func parseItemKey(k ds.Key) (ref, error) {
	parts := k.List()
	var r ref
	if len(parts) != 3 || "/"+parts[0] != storeRoot.String() {
		return r, fmt.Errorf("%w: item key %q", ErrMalformed, k)
	}
	kb, err1 := hex.DecodeString(parts[1])
	ib, err2 := hex.DecodeString(parts[2])
	if err1 != nil || err2 != nil || len(kb) != KeyLen || len(ib) != IDLen || strings.ToLower(parts[1]+parts[2]) != parts[1]+parts[2] {
		return r, fmt.Errorf("%w: item key %q", ErrMalformed, k)
	}
	copy(r.key[:], kb)
	copy(r.id[:], ib)
	return r, nil
}

// record is a stored item's value: who deposited it, until when it is
// kept, and the seal. A version 1 record has deposited instead of
// expires.
type record struct {
	from      peer.ID
	expires   time.Time
	deposited time.Time // version 1 only
	sealed    []byte
}

// marshal encodes rec: the version, the sender's peer ID, the expiry
// (unix milliseconds) and the seal; a version 1 record (deposited set,
// expires not: one read from an older store) keeps its version and time.
func (rec record) marshal() []byte {
	v, t := byte(recordVersion), rec.expires
	if t.IsZero() && !rec.deposited.IsZero() {
		v, t = recordVersion1, rec.deposited
	}
	b := []byte{v}
	b = binenc.AppendString(b, string(rec.from))
	b = binenc.AppendTime(b, t)
	return binenc.AppendBytes(b, rec.sealed)
}

// decodeRecord decodes a stored item's value, rejecting with ErrMalformed
// what marshal would not produce (or version 1's marshal did).
func decodeRecord(b []byte) (record, error) {
	d := binenc.NewReader(b, ErrMalformed)
	v := d.Byte()
	if d.Err() == nil && v != recordVersion && v != recordVersion1 {
		d.Fail(fmt.Sprintf("record version %d", v))
	}
	var rec record
	from := d.String(128)
	if d.Err() == nil {
		id, err := peer.IDFromBytes([]byte(from))
		d.FailErr("sender", err)
		rec.from = id
	}
	t := d.Time()
	if d.Err() == nil && t.IsZero() {
		d.Fail("no time")
	}
	if v == recordVersion1 {
		rec.deposited = t
	} else {
		rec.expires = t
	}
	rec.sealed = d.Bytes()
	if d.Err() == nil && (len(rec.sealed) < SealOverhead || len(rec.sealed) > MaxItemLimit) {
		d.Fail(fmt.Sprintf("sealed item of %d bytes", len(rec.sealed)))
	}
	d.End()
	if err := d.Err(); err != nil {
		return record{}, err
	}
	return rec, nil
}

// hostStore is the host half's shell around the ledger: it keeps the
// items in the datastore and the ledger in step with it. Writes are
// synced before a call returns. It is safe for concurrent use; one mutex
// orders every change, so the ledger and the datastore never disagree.
type hostStore struct {
	ds  ds.Batching
	mu  sync.Mutex
	led *ledger
}

// openHostStore loads the items in d into a ledger with quotas q,
// deleting those expired at now and those that do not decode.
func openHostStore(ctx context.Context, d ds.Batching, q quotas, now time.Time) (*hostStore, int, error) {
	h := &hostStore{ds: d, led: newLedger(q)}
	res, err := d.Query(ctx, query.Query{Prefix: storeRoot.String()})
	if err != nil {
		return nil, 0, fmt.Errorf("mailbox: load: %w", err)
	}
	var drop []ds.Key
	for e := range res.Next() {
		if e.Error != nil {
			res.Close()
			return nil, 0, fmt.Errorf("mailbox: load: %w", e.Error)
		}
		k := ds.RawKey(e.Key)
		r, err := parseItemKey(k)
		if err != nil {
			drop = append(drop, k)
			continue
		}
		rec, err := decodeRecord(e.Value)
		if err == nil && rec.expires.IsZero() {
			rec.expires = rec.deposited.Add(q.ttl)
		}
		if err != nil || !now.Before(rec.expires) {
			drop = append(drop, k)
			continue
		}
		h.led.add(r, rec.from, rec.sealed, rec.expires)
	}
	res.Close()
	if err := h.deleteKeys(ctx, drop); err != nil {
		return nil, 0, err
	}
	return h, len(drop), nil
}

// deleteKeys deletes keys in one synced batch.
func (h *hostStore) deleteKeys(ctx context.Context, keys []ds.Key) error {
	if len(keys) == 0 {
		return nil
	}
	b, err := h.ds.Batch(ctx)
	if err != nil {
		return fmt.Errorf("mailbox: delete: %w", err)
	}
	for _, k := range keys {
		if err := b.Delete(ctx, k); err != nil {
			return fmt.Errorf("mailbox: delete: %w", err)
		}
	}
	if err := b.Commit(ctx); err != nil {
		return fmt.Errorf("mailbox: delete: %w", err)
	}
	if err := h.ds.Sync(ctx, storeRoot); err != nil {
		return fmt.Errorf("mailbox: delete: %w", err)
	}
	return nil
}

// deposit stores sealed under r for from at now, to expire at expires (at
// most the TTL from now), if the quotas admit it, and returns the status
// to answer. statusOK means the item is durable.
func (h *hostStore) deposit(ctx context.Context, r ref, from peer.ID, sealed []byte, expires, now time.Time) (status, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if e, ok := h.led.items[r]; ok && !now.Before(e.expires) {
		if err := h.deleteKeys(ctx, []ds.Key{itemKey(r)}); err != nil {
			return 0, err
		}
		h.led.remove(r)
	}
	expires = h.led.expiry(expires, now)
	st, fresh := h.led.admit(r, from, sealed, expires, now)
	if st != statusOK || !fresh {
		return st, nil
	}
	k := itemKey(r)
	if err := h.ds.Put(ctx, k, record{from: from, expires: expires, sealed: sealed}.marshal()); err != nil {
		return 0, fmt.Errorf("mailbox: store item: %w", err)
	}
	if err := h.ds.Sync(ctx, k); err != nil {
		return 0, fmt.Errorf("mailbox: store item: %w", err)
	}
	h.led.add(r, from, sealed, expires)
	return statusOK, nil
}

// fetch returns a page of key's unexpired items with IDs above after (see
// ledger.page).
func (h *hostStore) fetch(ctx context.Context, key Key, after ItemID, now time.Time) ([]item, bool, error) {
	h.mu.Lock()
	refs, more := h.led.page(key, after, now)
	h.mu.Unlock()
	items := make([]item, 0, len(refs))
	for _, r := range refs {
		v, err := h.ds.Get(ctx, itemKey(r))
		if errors.Is(err, ds.ErrNotFound) { // acked or swept since
			continue
		}
		if err != nil {
			return nil, false, fmt.Errorf("mailbox: read item: %w", err)
		}
		rec, err := decodeRecord(v)
		if err != nil {
			return nil, false, fmt.Errorf("mailbox: read item %s/%s: %w", r.key, r.id, err)
		}
		items = append(items, item{id: r.id, sealed: rec.sealed})
	}
	return items, more, nil
}

// ack deletes the items of mailbox key named by ids and returns how many
// it held.
func (h *hostStore) ack(ctx context.Context, key Key, ids []ItemID) (int, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	var keys []ds.Key
	var refs []ref
	for _, id := range ids {
		r := ref{key, id}
		if _, ok := h.led.items[r]; ok {
			keys = append(keys, itemKey(r))
			refs = append(refs, r)
		}
	}
	if err := h.deleteKeys(ctx, keys); err != nil {
		return 0, err
	}
	for _, r := range refs {
		h.led.remove(r)
	}
	return len(refs), nil
}

// sweep deletes the items expired at now and returns how many.
func (h *hostStore) sweep(ctx context.Context, now time.Time) (int, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	refs := h.led.expired(now)
	keys := make([]ds.Key, len(refs))
	for i, r := range refs {
		keys[i] = itemKey(r)
	}
	if err := h.deleteKeys(ctx, keys); err != nil {
		return 0, err
	}
	for _, r := range refs {
		h.led.remove(r)
	}
	return len(refs), nil
}

// usage returns the items and bytes held in all.
func (h *hostStore) usage() usage {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.led.total
}

// held returns the IDs of the unexpired items at now, by mailbox key.
func (h *hostStore) held(now time.Time) map[Key][]ItemID {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := map[Key][]ItemID{}
	for r, e := range h.led.items {
		if now.Before(e.expires) {
			out[r.key] = append(out[r.key], r.id)
		}
	}
	for _, ids := range out {
		slices.SortFunc(ids, func(a, b ItemID) int { return bytes.Compare(a[:], b[:]) })
	}
	return out
}

// sealed returns the sealed item r and its expiry, nil if it is no longer
// held.
func (h *hostStore) sealed(ctx context.Context, r ref) ([]byte, time.Time, error) {
	h.mu.Lock()
	e, ok := h.led.items[r]
	h.mu.Unlock()
	if !ok {
		return nil, time.Time{}, nil
	}
	v, err := h.ds.Get(ctx, itemKey(r))
	if errors.Is(err, ds.ErrNotFound) {
		return nil, time.Time{}, nil
	}
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("mailbox: read item: %w", err)
	}
	rec, err := decodeRecord(v)
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("mailbox: read item %s/%s: %w", r.key, r.id, err)
	}
	return rec.sealed, e.expires, nil
}
