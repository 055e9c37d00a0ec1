package store

import (
	"fmt"
	"testing"

	"github.com/dgraph-io/badger/v4"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCommitGroupFallsBackToSingleWrites(t *testing.T) {
	// A group too big for one Badger transaction is written one request at
	// a time, and each request gets its own answer.
	cfg := DefaultConfig(t.TempDir())
	cfg.MemTableSize = 1 << 20 // transactions up to ~157 KB
	db := openTest(t, cfg)
	value := make([]byte, db.MaxValueSize())
	var group []*writeReq
	for i := range 4 {
		group = append(group, &writeReq{key: PrefixNode.Key("g", fmt.Sprint(i)).Bytes(), value: value, done: make(chan error, 1)})
	}
	// And one request that fails on its own: Badger reserves this prefix.
	group = append(group, &writeReq{key: []byte("!badger!x"), value: []byte("v"), done: make(chan error, 1)})
	require.NoError(t, db.acquire())
	db.commitGroup(group)
	db.release()
	for i, r := range group[:4] {
		require.NoError(t, <-r.done, i)
	}
	assert.ErrorIs(t, <-group[4].done, badger.ErrInvalidKey)
	ds := db.Datastore(PrefixNode)
	for i := range 4 {
		size, err := ds.GetSize(t.Context(), Key("g", fmt.Sprint(i)))
		require.NoError(t, err)
		assert.Equal(t, len(value), size)
	}
}

func TestConcurrentPutsAreGrouped(t *testing.T) {
	// Many writers at once: every Put is acknowledged only once readable,
	// and fewer transactions than Puts were committed.
	db := openTest(t, DefaultConfig(t.TempDir()))
	ds := db.Datastore("/g")
	const writers, each = 32, 20
	errs := make(chan error, writers)
	for w := range writers {
		go func() {
			for i := range each {
				k := Key("w", fmt.Sprint(w, "-", i))
				if err := ds.Put(t.Context(), k, []byte("v")); err != nil {
					errs <- err
					return
				}
				if _, err := ds.Get(t.Context(), k); err != nil {
					errs <- fmt.Errorf("acknowledged %s is not readable: %w", k, err)
					return
				}
			}
			errs <- nil
		}()
	}
	for range writers {
		require.NoError(t, <-errs)
	}
	n, err := keysOrErr(t.Context(), ds)
	require.NoError(t, err)
	assert.Equal(t, writers*each, n)
	groups := db.groups.Load()
	t.Logf("%d Puts in %d transactions", writers*each, groups)
	assert.Less(t, groups, uint64(writers*each))
}
