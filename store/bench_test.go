package store

import (
	"context"
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync/atomic"
	"testing"

	"github.com/ipfs/go-datastore"
	"github.com/stretchr/testify/require"
)

// footprint opens n in-memory DBs, writes keys small entries (100 bytes) to
// each, and returns the Go heap and goroutines each one costs.
func footprint(tb testing.TB, n, keys int) (heapPerDB, goroutinesPerDB float64) {
	tb.Helper()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	g0 := runtime.NumGoroutine()

	cfg := InMemoryConfig()
	cfg.Logger = nil
	dbs := make([]*DB, n)
	ctx := context.Background()
	value := make([]byte, 100)
	for i := range dbs {
		db, err := Open(cfg)
		require.NoError(tb, err)
		dbs[i] = db
		if keys == 0 {
			continue
		}
		b, err := db.Datastore(PrefixDHT).Batch(ctx)
		require.NoError(tb, err)
		for k := range keys {
			require.NoError(tb, b.Put(ctx, Key("rec", fmt.Sprint(k)), value))
		}
		require.NoError(tb, b.Commit(ctx))
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	g1 := runtime.NumGoroutine()
	for _, db := range dbs {
		require.NoError(tb, db.Close())
	}
	heap := float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)) / float64(n)
	return heap, float64(g1-g0) / float64(n)
}

// TestInMemoryFootprint keeps the simulator's preset small: hundreds of
// in-memory DBs must fit in one process.
func TestInMemoryFootprint(t *testing.T) {
	for _, keys := range []int{0, 1000} {
		heap, goroutines := footprint(t, 20, keys)
		t.Logf("in-memory DB with %d keys: %.2f MiB heap, %.1f goroutines", keys, heap/(1<<20), goroutines)
		require.Less(t, heap, float64(8<<20), "heap per in-memory DB")
		require.LessOrEqual(t, goroutines, 16.0, "goroutines per in-memory DB")
	}
}

// BenchmarkInMemoryFootprint reports the heap and goroutines one in-memory
// DB costs, empty and with 1000 keys of 100 bytes.
func BenchmarkInMemoryFootprint(b *testing.B) {
	for _, keys := range []int{0, 1000} {
		b.Run(fmt.Sprintf("keys=%d", keys), func(b *testing.B) {
			var heap, goroutines float64
			for range b.N {
				h, g := footprint(b, 100, keys)
				heap += h
				goroutines += g
			}
			b.ReportMetric(heap/float64(b.N)/(1<<20), "MiB/db")
			b.ReportMetric(goroutines/float64(b.N), "goroutines/db")
		})
	}
}

func benchConfigs(b *testing.B) []struct {
	name string
	cfg  Config
} {
	synced := DefaultConfig(b.TempDir())
	unsynced := DefaultConfig(b.TempDir())
	unsynced.SyncWrites = false
	return []struct {
		name string
		cfg  Config
	}{
		{"disk-synced", synced},
		{"disk-unsynced", unsynced},
		{"memory", InMemoryConfig()},
	}
}

// BenchmarkPut writes 256-byte values under fresh keys, from one goroutine
// and from 16 per core. disk-synced-ungrouped bypasses the group committer
// (one Badger transaction, and one sync, per Put) for comparison.
func BenchmarkPut(b *testing.B) {
	value := make([]byte, 256)
	configs := benchConfigs(b)
	configs = append(configs[:1], append([]struct {
		name string
		cfg  Config
	}{{"disk-synced-ungrouped", DefaultConfig(b.TempDir())}}, configs[1:]...)...)
	for _, c := range configs {
		db := openTest(b, c.cfg)
		if c.name == "disk-synced-ungrouped" {
			db.writes = nil // the committer idles until Close
		}
		ds := db.Datastore("/bench")
		var next atomic.Int64
		b.Run(c.name+"/serial", func(b *testing.B) {
			ctx := context.Background()
			b.SetBytes(int64(len(value)))
			for b.Loop() {
				if err := ds.Put(ctx, datastore.NewKey(fmt.Sprint(next.Add(1))), value); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(c.name+"/parallel", func(b *testing.B) {
			ctx := context.Background()
			b.SetBytes(int64(len(value)))
			b.SetParallelism(16)
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if err := ds.Put(ctx, datastore.NewKey(fmt.Sprint(next.Add(1))), value); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

// BenchmarkGet reads random keys among 10,000 of 256 bytes, in parallel.
func BenchmarkGet(b *testing.B) {
	const keys = 10000
	value := make([]byte, 256)
	for _, c := range benchConfigs(b) {
		if c.name == "disk-unsynced" {
			continue // reads do not depend on syncing
		}
		ds := openTest(b, c.cfg).Datastore("/bench")
		ctx := context.Background()
		batch, err := ds.Batch(ctx)
		require.NoError(b, err)
		for i := range keys {
			require.NoError(b, batch.Put(ctx, datastore.NewKey(fmt.Sprint(i)), value))
		}
		require.NoError(b, batch.Commit(ctx))
		b.Run(c.name, func(b *testing.B) {
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := ds.Get(ctx, datastore.NewKey(fmt.Sprint(rand.IntN(keys)))); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}
