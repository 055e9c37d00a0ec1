package store

import (
	"reflect"
	"runtime"
	"strings"
	"testing"

	"github.com/ipfs/go-datastore"
	"github.com/ipfs/go-datastore/query"
	dstest "github.com/ipfs/go-datastore/test"
	"github.com/stretchr/testify/require"
)

// openTest opens a DB for a test and closes it at the end.
func openTest(t testing.TB, cfg Config) *DB {
	t.Helper()
	cfg.Logger = nil
	db, err := Open(cfg)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, db.Close()) })
	return db
}

// configs are the two ways a node opens its DB.
func configs(t testing.TB) map[string]Config {
	return map[string]Config{
		"disk":   DefaultConfig(t.TempDir()),
		"memory": InMemoryConfig(),
	}
}

// TestDatastoreSuite runs go-datastore's own test suite.
//
// dstest.SubtestAll includes SubtestCombinations (1152 queries, each over
// freshly written keys) unless the race detector is on. With synced writes
// on disk it alone takes minutes, and it exercises query planning, which does
// not depend on syncing; so the synced on-disk DB runs every subtest except
// that one, and an unsynced on-disk DB runs SubtestAll in full. The view of
// the whole keyspace (no prefix to strip) runs in memory only: its code path
// does not depend on where Badger keeps its files.
func TestDatastoreSuite(t *testing.T) {
	unsynced := DefaultConfig(t.TempDir())
	unsynced.SyncWrites = false
	cases := []struct {
		name         string
		cfg          Config
		combinations bool // run SubtestAll in full
		root         bool // also run on the whole keyspace's view
	}{
		{"disk", DefaultConfig(t.TempDir()), false, false},
		{"disk-unsynced", unsynced, true, false},
		{"memory", InMemoryConfig(), true, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel() // the synced one mostly waits on the disk
			db := openTest(t, tc.cfg)
			t.Run("prefixed", func(t *testing.T) {
				ds := db.Datastore("/suite")
				if tc.combinations {
					dstest.SubtestAll(t, ds)
				} else {
					runSuite(t, ds)
				}
			})
			if tc.root {
				t.Run("root", func(t *testing.T) {
					runSuite(t, db.Datastore("/"))
				})
			}
			// The suite cleans up after itself: nothing may be left.
			res, err := db.Datastore("/").Query(t.Context(), query.Query{KeysOnly: true})
			require.NoError(t, err)
			left, err := res.Rest()
			require.NoError(t, err)
			require.Empty(t, left)
		})
	}
}

// runSuite is dstest.SubtestAll without SubtestCombinations.
func runSuite(t *testing.T, ds datastore.Batching) {
	combinations := reflect.ValueOf(dstest.SubtestCombinations).Pointer()
	for _, f := range dstest.BasicSubtests {
		if reflect.ValueOf(f).Pointer() == combinations {
			continue
		}
		t.Run(funcName(f), func(t *testing.T) {
			f(t, ds)
			clearAll(t, ds)
		})
	}
	for _, f := range dstest.BatchSubtests {
		t.Run(funcName(f), func(t *testing.T) {
			f(t, ds)
			clearAll(t, ds)
		})
	}
}

func funcName(f any) string {
	name := runtime.FuncForPC(reflect.ValueOf(f).Pointer()).Name()
	return name[strings.LastIndexByte(name, '.')+1:]
}

func clearAll(t *testing.T, ds datastore.Datastore) {
	res, err := ds.Query(t.Context(), query.Query{KeysOnly: true})
	require.NoError(t, err)
	entries, err := res.Rest()
	require.NoError(t, err)
	for _, e := range entries {
		require.NoError(t, ds.Delete(t.Context(), datastore.RawKey(e.Key)))
	}
}
