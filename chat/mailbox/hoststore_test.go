package mailbox

import (
	"context"
	"testing"
	"time"

	ds "github.com/ipfs/go-datastore"
	"github.com/ipfs/go-datastore/query"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fog-compute/fog/store"
)

// memStore returns the /chat part of an in-memory Badger store.
func memStore(t testing.TB) ds.Batching {
	t.Helper()
	db, err := store.Open(store.InMemoryConfig())
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	return db.Datastore(store.PrefixChat)
}

func keysIn(t *testing.T, d ds.Batching) []string {
	t.Helper()
	res, err := d.Query(context.Background(), query.Query{Prefix: storeRoot.String(), KeysOnly: true})
	require.NoError(t, err)
	all, err := res.Rest()
	require.NoError(t, err)
	var out []string
	for _, e := range all {
		out = append(out, e.Key)
	}
	return out
}

func TestHostStore(t *testing.T) {
	ctx := context.Background()
	d := memStore(t)
	q := smallQuotas()
	h, dropped, err := openHostStore(ctx, d, q, t0)
	require.NoError(t, err)
	assert.Zero(t, dropped)
	alice, bob := newIdentity(t).id, newIdentity(t).id
	k1, k2 := Key{1}, Key{2}
	item := func(b byte, n int) []byte {
		s := make([]byte, n)
		s[0] = b
		return s
	}
	for i, dep := range []struct {
		r    ref
		from peer.ID
		b    []byte
		at   time.Time
		want status
	}{
		{ref{k1, ItemID{1}}, alice, item(1, 60), t0, statusOK},
		{ref{k1, ItemID{2}}, alice, item(2, 60), t0.Add(24 * time.Hour), statusOK},
		{ref{k2, ItemID{1}}, bob, item(3, 60), t0, statusOK},
		{ref{k1, ItemID{1}}, bob, item(9, 60), t0, statusExists},
		{ref{k1, ItemID{3}}, alice, item(4, 200), t0, statusTooLarge},
	} {
		st, err := h.deposit(ctx, dep.r, dep.from, dep.b, dep.at.Add(q.ttl), dep.at)
		require.NoError(t, err)
		require.Equal(t, dep.want, st, "deposit %d", i)
	}
	assert.Len(t, keysIn(t, d), 3)

	items, more, err := h.fetch(ctx, k1, ItemID{}, t0.Add(time.Hour))
	require.NoError(t, err)
	assert.False(t, more)
	require.Len(t, items, 2)
	assert.Equal(t, item(1, 60), items[0].sealed)
	assert.Equal(t, item(2, 60), items[1].sealed)

	// a reopened store knows what it held, and its quotas
	h2, dropped, err := openHostStore(ctx, d, q, t0.Add(time.Hour))
	require.NoError(t, err)
	assert.Zero(t, dropped)
	assert.Equal(t, usage{3, 180}, h2.usage())
	assert.Equal(t, usage{2, 120}, h2.led.sender(alice))
	st, err := h2.deposit(ctx, ref{k1, ItemID{7}}, alice, item(7, 100), t0.Add(time.Hour+q.ttl), t0.Add(time.Hour))
	require.NoError(t, err)
	assert.Equal(t, statusOK, st)
	st, err = h2.deposit(ctx, ref{k1, ItemID{8}}, alice, item(8, SealOverhead), t0.Add(time.Hour+q.ttl), t0.Add(time.Hour))
	require.NoError(t, err)
	assert.Equal(t, statusQuota, st, "alice's items before the restart still count")

	// an ack deletes only the named items of the acknowledged mailbox
	n, err := h2.ack(ctx, k1, []ItemID{{1}, {5}})
	require.NoError(t, err)
	assert.Equal(t, 1, n)
	n, err = h2.ack(ctx, k1, []ItemID{{1}})
	require.NoError(t, err)
	assert.Zero(t, n)
	items, _, err = h2.fetch(ctx, k2, ItemID{}, t0.Add(time.Hour))
	require.NoError(t, err)
	assert.Len(t, items, 1, "k2's item with the same ID is untouched")
	assert.Len(t, keysIn(t, d), 3)

	// expiry: on read at once, from the store by the sweep
	expiry := t0.Add(q.ttl)
	items, _, err = h2.fetch(ctx, k2, ItemID{}, expiry)
	require.NoError(t, err)
	assert.Empty(t, items)
	swept, err := h2.sweep(ctx, expiry)
	require.NoError(t, err)
	assert.Equal(t, 1, swept)
	assert.Len(t, keysIn(t, d), 2, "the later items remain")
	swept, err = h2.sweep(ctx, expiry.Add(24*time.Hour))
	require.NoError(t, err)
	assert.Equal(t, 2, swept)
	assert.Empty(t, keysIn(t, d))
	assert.Equal(t, usage{}, h2.usage())
}

func TestHostStoreOpenDrops(t *testing.T) {
	ctx := context.Background()
	d := memStore(t)
	q := smallQuotas()
	h, _, err := openHostStore(ctx, d, q, t0)
	require.NoError(t, err)
	alice := newIdentity(t).id
	for i, at := range []time.Time{t0, t0.Add(3 * 24 * time.Hour)} {
		st, err := h.deposit(ctx, ref{Key{1}, ItemID{byte(i)}}, alice, make([]byte, SealOverhead), at.Add(q.ttl), at)
		require.NoError(t, err)
		require.Equal(t, statusOK, st)
	}
	require.NoError(t, d.Put(ctx, storeRoot.ChildString("zz").ChildString("zz"), []byte("junk")))
	require.NoError(t, d.Put(ctx, itemKey(ref{Key{3}, ItemID{3}}), []byte("junk")))
	// a week after the first deposit: it and the two damaged entries go
	h2, dropped, err := openHostStore(ctx, d, q, t0.Add(q.ttl))
	require.NoError(t, err)
	assert.Equal(t, 3, dropped)
	assert.Equal(t, 1, h2.usage().items)
	assert.Len(t, keysIn(t, d), 1)
}

// TestHostStoreReadsVersion1: a record written before expiries were kept
// (version 1: the deposit time) expires a TTL after its deposit, and
// keeps that expiry when handed on.
func TestHostStoreReadsVersion1(t *testing.T) {
	ctx := context.Background()
	d := memStore(t)
	q := smallQuotas()
	alice := newIdentity(t).id
	r := ref{Key{1}, ItemID{1}}
	v1 := record{from: alice, deposited: t0, sealed: make([]byte, SealOverhead)}.marshal()
	require.Equal(t, byte(recordVersion1), v1[0])
	require.NoError(t, d.Put(ctx, itemKey(r), v1))
	h, dropped, err := openHostStore(ctx, d, q, t0.Add(time.Hour))
	require.NoError(t, err)
	assert.Zero(t, dropped)
	sealed, expires, err := h.sealed(ctx, r)
	require.NoError(t, err)
	assert.Len(t, sealed, SealOverhead)
	assert.True(t, t0.Add(q.ttl).Equal(expires), "expires %s", expires)
	_, dropped, err = openHostStore(ctx, d, q, t0.Add(q.ttl))
	require.NoError(t, err)
	assert.Equal(t, 1, dropped, "expired a TTL after its deposit")
}
