package store

import (
	"context"
	"testing"

	"github.com/ipfs/go-datastore"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSnapshotHoldsWhatWasCommittedThen(t *testing.T) {
	ctx := context.Background()
	db := openTest(t, InMemoryConfig())
	ds := db.Datastore(PrefixNode)
	require.NoError(t, ds.Put(ctx, datastore.NewKey("before"), []byte("1")))

	cp, err := db.Snapshot(InMemoryConfig())
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, cp.Close()) })
	require.NoError(t, ds.Put(ctx, datastore.NewKey("after"), []byte("2")))

	cds := cp.Datastore(PrefixNode)
	v, err := cds.Get(ctx, datastore.NewKey("before"))
	require.NoError(t, err)
	assert.Equal(t, []byte("1"), v)
	_, err = cds.Get(ctx, datastore.NewKey("after"))
	require.ErrorIs(t, err, datastore.ErrNotFound, "a write made after the snapshot is not in it")
}

func TestSnapshotOfClosedDB(t *testing.T) {
	cfg := InMemoryConfig()
	cfg.Logger = nil
	db, err := Open(cfg)
	require.NoError(t, err)
	require.NoError(t, db.Close())
	_, err = db.Snapshot(InMemoryConfig())
	require.ErrorIs(t, err, ErrClosed)
}
