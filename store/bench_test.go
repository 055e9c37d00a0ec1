package store

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/dgraph-io/badger/v4/pb"
	"github.com/dgraph-io/badger/v4/y"
	"github.com/ipfs/go-datastore"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/fog-compute/fog/internal/cputime"
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

// tableStore fills an on-disk store with mib MiB of 1 KiB values that do
// not compress, under /bench/<i>, and closes it, so that they are in
// tables; it returns the config and the number of keys.
func tableStore(b *testing.B, mib int) (Config, int) {
	b.Helper()
	cfg := DefaultConfig(b.TempDir())
	cfg.Logger = nil
	cfg.SyncWrites = false
	db, err := Open(cfg)
	require.NoError(b, err)
	ds := db.Datastore("/bench")
	ctx := context.Background()
	keys := mib << 10
	rng := rand.New(rand.NewPCG(1, 2))
	value := make([]byte, 1024)
	for i := 0; i < keys; {
		batch, err := ds.Batch(ctx)
		require.NoError(b, err)
		for j := 0; j < 1000 && i < keys; j, i = j+1, i+1 {
			for k := range value {
				value[k] = byte(rng.Uint32())
			}
			require.NoError(b, batch.Put(ctx, datastore.NewKey(fmt.Sprint(i)), value))
		}
		require.NoError(b, batch.Commit(ctx))
	}
	require.NoError(b, db.Close())
	return cfg, keys
}

// BenchmarkOpen opens and closes a store of 64 MiB in tables ("open"):
// Open verifies every table (each block's checksum) before Badger opens
// them. "verify" is that verification alone. Both report the table bytes
// per second of wall time.
func BenchmarkOpen(b *testing.B) {
	cfg, _ := tableStore(b, 64)
	var size int64
	ents, err := os.ReadDir(cfg.Path)
	require.NoError(b, err)
	for _, e := range ents {
		if info, err := e.Info(); err == nil && strings.HasSuffix(e.Name(), ".sst") {
			size += info.Size()
		}
	}
	b.Run("open", func(b *testing.B) {
		for b.Loop() {
			db, err := Open(cfg)
			if err != nil {
				b.Fatal(err)
			}
			if err := db.Close(); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(size)/(1<<20)/(b.Elapsed().Seconds()/float64(b.N)), "MiB/s")
	})
	b.Run("verify", func(b *testing.B) {
		log := slog.New(slog.DiscardHandler)
		for b.Loop() {
			if err := checkFiles(cfg.Path, log); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(size)/(1<<20)/(b.Elapsed().Seconds()/float64(b.N)), "MiB/s")
	})
}

// BenchmarkGetTables reads random keys among 64 MiB of 1 KiB values kept in
// tables, in parallel, with the default 32 MiB block cache: most reads miss
// the cache and read (and verify) a block from disk. Besides ns/op it
// reports cpu-ns/op, the process's CPU time per read, which a busy machine
// disturbs less.
func BenchmarkGetTables(b *testing.B) {
	cfg, keys := tableStore(b, 64)
	ds := openTest(b, cfg).Datastore("/bench")
	ctx := context.Background()
	cpu0, _ := cputime.Process()
	defer func() {
		cpu1, ok := cputime.Process()
		if ok {
			b.ReportMetric(float64(cpu1-cpu0)/float64(b.N), "cpu-ns/op")
		}
	}()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := ds.Get(ctx, datastore.NewKey(fmt.Sprint(rand.IntN(keys)))); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkBlockChecksum is what Badger's OnBlockRead adds to each block it
// reads from disk (a block cache miss): decoding the block's checksum and a
// CRC-32C over its 4 KiB.
func BenchmarkBlockChecksum(b *testing.B) {
	data := make([]byte, 4<<10)
	for i := range data {
		data[i] = byte(i * 7)
	}
	chk, err := proto.Marshal(&pb.Checksum{Algo: pb.Checksum_CRC32C, Sum: y.CalculateChecksum(data, pb.Checksum_CRC32C)})
	require.NoError(b, err)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if err := verifyChecksum(data, chk); err != nil {
			b.Fatal(err)
		}
	}
}
