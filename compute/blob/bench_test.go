package blob

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fog-compute/fog/compute/wasm"
)

// BenchmarkFetch measures fetching a 2 MiB module from a peer over mocknet
// (no link latency or bandwidth cap): request, streaming, hashing on both
// sides and storing. MB/s is the module bytes per second.
func BenchmarkFetch(b *testing.B) {
	for _, mode := range []string{"memory", "disk"} {
		b.Run("2MiB/"+mode, func(b *testing.B) {
			tn := newTestNet(b)
			cfg := TestConfig()
			if mode == "disk" {
				cfg.Dir = b.TempDir()
			}
			src := tn.service(b, cfg, Options{})
			dst := tn.service(b, TestConfig(), Options{})
			ctx := context.Background()
			mod := module(1, 2<<20)
			id, err := src.Store().Put(ctx, mod)
			require.NoError(b, err)
			hint := src.info()
			b.SetBytes(int64(len(mod)))
			b.ResetTimer()
			for range b.N {
				if _, err := dst.Fetch(ctx, id, hint); err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				if err := dst.Store().Delete(id); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
			}
		})
	}
}

// BenchmarkStore measures Put (of a module not yet stored: on disk a
// synced write and rename) and Get (a read and a hash check on disk, a
// copy in memory) of 2 MiB modules.
func BenchmarkStore(b *testing.B) {
	const size = 2 << 20
	for _, mode := range []string{"memory", "disk"} {
		cfg := TestConfig()
		cfg.MaxBytes = 64 << 20 // evictions run during long Put runs
		b.Run(fmt.Sprintf("Put/%s", mode), func(b *testing.B) {
			if mode == "disk" {
				cfg.Dir = b.TempDir()
			}
			s, err := OpenStore(cfg)
			require.NoError(b, err)
			mods := make([][]byte, 8)
			for i := range mods {
				mods[i] = module(uint64(i), size)
			}
			b.SetBytes(size)
			b.ResetTimer()
			for i := range b.N {
				m := mods[i%len(mods)]
				m[0] = byte(i) // a new module each time
				m[1] = byte(i >> 8)
				m[2] = byte(i >> 16)
				if _, err := s.Put(context.Background(), m); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(fmt.Sprintf("Get/%s", mode), func(b *testing.B) {
			if mode == "disk" {
				cfg.Dir = b.TempDir()
			}
			s, err := OpenStore(cfg)
			require.NoError(b, err)
			var ids []wasm.ModuleID
			for i := range 8 {
				id, err := s.Put(context.Background(), module(uint64(i), size))
				require.NoError(b, err)
				ids = append(ids, id)
			}
			b.SetBytes(size)
			b.ResetTimer()
			for i := range b.N {
				if _, err := s.Get(ids[i%len(ids)]); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
