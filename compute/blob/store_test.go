package blob

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fog-compute/fog/compute/wasm"
)

// module returns n pseudo-random bytes determined by seed, standing in for
// a module binary (the store does not parse modules).
func module(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// storeModes runs f on an in-memory and an on-disk store made from cfg.
func storeModes(t *testing.T, cfg Config, f func(t *testing.T, s *Store)) {
	for _, mode := range []string{"memory", "disk"} {
		t.Run(mode, func(t *testing.T) {
			c := cfg
			c.Dir = ""
			if mode == "disk" {
				c.Dir = t.TempDir()
			}
			s, err := OpenStore(c)
			require.NoError(t, err)
			f(t, s)
		})
	}
}

func TestStorePutGet(t *testing.T) {
	cfg := TestConfig()
	cfg.MaxModuleBytes = 1 << 20
	storeModes(t, cfg, func(t *testing.T, s *Store) {
		ctx := context.Background()
		a := module(1, 1000)
		id, err := s.Put(ctx, a)
		require.NoError(t, err)
		assert.Equal(t, wasm.IDOf(a), id)
		got, err := s.Get(id)
		require.NoError(t, err)
		assert.Equal(t, a, got)
		got[0] ^= 1 // the caller owns what Get returns
		again, err := s.Get(id)
		require.NoError(t, err)
		assert.Equal(t, a, again)
		assert.True(t, s.Has(id))
		assert.Equal(t, 1, s.Len())
		assert.Equal(t, int64(1000), s.Size())

		// a second Put of the same bytes stores nothing new
		_, err = s.Put(ctx, a)
		require.NoError(t, err)
		assert.Equal(t, 1, s.Len())

		// PutVerified refuses bytes that do not hash to the ID
		b := module(2, 500)
		err = s.PutVerified(ctx, id, b)
		require.ErrorIs(t, err, ErrHashMismatch)
		require.ErrorIs(t, err, wasm.ErrHashMismatch)
		err = s.PutVerified(ctx, wasm.IDOf(a), b)
		require.ErrorIs(t, err, ErrHashMismatch)
		assert.False(t, s.Has(wasm.IDOf(b)))
		require.NoError(t, s.PutVerified(ctx, wasm.IDOf(b), b))
		assert.Equal(t, []wasm.ModuleID{wasm.IDOf(b), id}, s.List())

		// the caller may reuse the slice it put
		b[0] ^= 1
		got, err = s.Get(wasm.IDOf(module(2, 500)))
		require.NoError(t, err)
		assert.Equal(t, module(2, 500), got)

		_, err = s.Put(ctx, make([]byte, 1<<20+1))
		require.ErrorIs(t, err, ErrTooLarge)
		_, err = s.Get(wasm.IDOf([]byte("absent")))
		require.ErrorIs(t, err, ErrNotFound)

		require.NoError(t, s.Delete(id))
		assert.False(t, s.Has(id))
		require.ErrorIs(t, s.Delete(id), ErrNotFound)
		assert.Equal(t, int64(500), s.Size())

		cctx, cancel := context.WithCancel(ctx)
		cancel()
		_, err = s.Put(cctx, module(3, 10))
		require.ErrorIs(t, err, context.Canceled)
	})
}

func TestStoreEvictionLRU(t *testing.T) {
	cfg := TestConfig()
	cfg.MaxModuleBytes = 1000
	cfg.MaxBytes = 3000
	storeModes(t, cfg, func(t *testing.T, s *Store) {
		ctx := context.Background()
		put := func(seed uint64) wasm.ModuleID {
			t.Helper()
			id, err := s.Put(ctx, module(seed, 1000))
			require.NoError(t, err)
			return id
		}
		has := func(ids ...wasm.ModuleID) []bool {
			var out []bool
			for _, id := range ids {
				out = append(out, s.Has(id))
			}
			return out
		}
		a, b, c := put(1), put(2), put(3)
		_, err := s.Get(a) // a is now the most recently used
		require.NoError(t, err)
		d := put(4) // evicts b, the least recently used
		assert.Equal(t, []bool{true, false, true, true}, has(a, b, c, d))
		assert.Equal(t, int64(3000), s.Size())

		unpinC := s.Pin(c) // order now c, d, a
		e := put(5)        // evicts a
		assert.Equal(t, []bool{false, true, true, true}, has(a, c, d, e))

		unpinD, unpinE := s.Pin(d), s.Pin(e)
		_, err = s.Put(ctx, module(6, 1000))
		require.ErrorIs(t, err, ErrFull)
		assert.Equal(t, []bool{true, true, true}, has(c, d, e), "a failed Put evicts nothing")
		require.ErrorIs(t, s.Delete(c), ErrPinned)

		// a module pinned before it arrives is kept from the start
		g := wasm.IDOf(module(7, 1000))
		unpinG := s.Pin(g)
		unpinC()
		unpinC()                             // idempotent
		require.Equal(t, g, put(7))          // evicts c, the only unpinned
		_, err = s.Put(ctx, module(8, 1000)) // d, e, g are pinned
		require.ErrorIs(t, err, ErrFull)
		unpinD()
		unpinE()
		h := put(8) // evicts d, the least recently used of d and e
		assert.Equal(t, []bool{false, false, true, true, true}, has(c, d, e, g, h))
		unpinG()
		assert.LessOrEqual(t, s.Size(), cfg.MaxBytes)
	})
}

// TestStoreReopen checks that a disk store rebuilds its index, orders it by
// the files' modification times, removes crash leftovers, leaves foreign
// files alone and evicts down to a lowered cap.
func TestStoreReopen(t *testing.T) {
	dir := t.TempDir()
	cfg := TestConfig()
	cfg.Dir = dir
	cfg.MaxModuleBytes = 1000
	cfg.MaxBytes = 10_000
	s, err := OpenStore(cfg)
	require.NoError(t, err)
	ctx := context.Background()
	var ids []wasm.ModuleID
	for i := range 3 {
		id, err := s.Put(ctx, module(uint64(i), 1000))
		require.NoError(t, err)
		ids = append(ids, id)
	}
	// recency on disk: ids[0] newest, ids[2] next, ids[1] oldest
	base := time.Now().Add(-time.Hour)
	for i, age := range []time.Duration{0, 2 * time.Minute, time.Minute} {
		ts := base.Add(-age)
		require.NoError(t, os.Chtimes(filepath.Join(dir, ids[i].String()), ts, ts))
	}
	leftover := filepath.Join(dir, tmpPrefix+"crashed")
	require.NoError(t, os.WriteFile(leftover, []byte("partial"), 0o600))
	foreign := filepath.Join(dir, "README")
	require.NoError(t, os.WriteFile(foreign, []byte("not a module"), 0o600))
	upper := filepath.Join(dir, strings.ToUpper(wasm.IDOf([]byte("x")).String()))
	require.NoError(t, os.WriteFile(upper, []byte("x"), 0o600))

	s2, err := OpenStore(cfg)
	require.NoError(t, err)
	assert.Equal(t, []wasm.ModuleID{ids[0], ids[2], ids[1]}, s2.List())
	assert.Equal(t, int64(3000), s2.Size())
	_, err = os.Stat(leftover)
	assert.ErrorIs(t, err, fs.ErrNotExist)
	assert.FileExists(t, foreign)
	assert.FileExists(t, upper)
	got, err := s2.Get(ids[1])
	require.NoError(t, err)
	assert.Equal(t, module(1, 1000), got)
	// the Get touched the file: it is the newest on the next open
	cfg.MaxBytes = 2000
	s3, err := OpenStore(cfg)
	require.NoError(t, err)
	assert.Equal(t, []wasm.ModuleID{ids[1], ids[0]}, s3.List())
	_, err = os.Stat(filepath.Join(dir, ids[2].String()))
	assert.ErrorIs(t, err, fs.ErrNotExist, "evicted at open")
}

func TestStoreDamagedFile(t *testing.T) {
	cfg := TestConfig()
	cfg.Dir = t.TempDir()
	s, err := OpenStore(cfg)
	require.NoError(t, err)
	id, err := s.Put(context.Background(), module(1, 4096))
	require.NoError(t, err)
	path := filepath.Join(cfg.Dir, id.String())
	bad := module(1, 4096)
	bad[100] ^= 0xff
	require.NoError(t, os.WriteFile(path, bad, 0o600))
	_, err = s.Get(id)
	require.ErrorIs(t, err, ErrHashMismatch)
	assert.False(t, s.Has(id))
	assert.NoFileExists(t, path)
	assert.Zero(t, s.Size())
}

// TestStoreAtomicWrites writes modules while a reader scans the directory:
// every module file it can open must be complete (hash to its name), and
// no temporary file may survive.
func TestStoreAtomicWrites(t *testing.T) {
	cfg := TestConfig()
	cfg.Dir = t.TempDir()
	cfg.MaxModuleBytes = 1 << 20
	cfg.MaxBytes = 6 << 20 // so that evictions run too
	s, err := OpenStore(cfg)
	require.NoError(t, err)

	var done atomic.Bool
	var checked atomic.Int64
	scanErr := make(chan error, 1)
	go func() {
		defer close(scanErr)
		for !done.Load() {
			des, err := os.ReadDir(cfg.Dir)
			if err != nil {
				scanErr <- err
				return
			}
			for _, de := range des {
				if strings.HasPrefix(de.Name(), tmpPrefix) {
					continue
				}
				b, err := os.ReadFile(filepath.Join(cfg.Dir, de.Name()))
				if errors.Is(err, fs.ErrNotExist) {
					continue // evicted meanwhile
				}
				if err != nil {
					scanErr <- err
					return
				}
				sum := sha256.Sum256(b)
				if hex.EncodeToString(sum[:]) != de.Name() {
					scanErr <- fmt.Errorf("%s visible with %d bytes that do not hash to its name", de.Name(), len(b))
					return
				}
				checked.Add(1)
			}
		}
	}()
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 6 {
				_, err := s.Put(context.Background(), module(uint64(w*100+i), 1<<20))
				assert.NoError(t, err)
			}
		}()
	}
	wg.Wait()
	done.Store(true)
	require.NoError(t, <-scanErr)
	t.Logf("checked %d complete files", checked.Load())
	des, err := os.ReadDir(cfg.Dir)
	require.NoError(t, err)
	total := int64(0)
	for _, de := range des {
		assert.False(t, strings.HasPrefix(de.Name(), tmpPrefix), "temporary file %s left", de.Name())
		info, err := de.Info()
		require.NoError(t, err)
		total += info.Size()
	}
	assert.Equal(t, s.Size(), total, "the files on disk are exactly the indexed modules")
	assert.Equal(t, len(des), s.Len())
	assert.LessOrEqual(t, s.Size(), cfg.MaxBytes)
}

// TestStoreConcurrent hammers one store from many goroutines: puts of
// shared and distinct modules, gets, pins and deletes. The size cap and
// the accounting must hold throughout, and every Get must return the
// module asked for.
func TestStoreConcurrent(t *testing.T) {
	cfg := TestConfig()
	cfg.MaxModuleBytes = 64 << 10
	cfg.MaxBytes = 512 << 10
	storeModes(t, cfg, func(t *testing.T, s *Store) {
		var wg sync.WaitGroup
		for w := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ctx := context.Background()
				for i := range 40 {
					seed := uint64(i % 12) // shared between workers
					if i%3 == 0 {
						seed = uint64(1000 + w*100 + i)
					}
					data := module(seed, 16<<10+int(seed%7)*1024)
					id := wasm.IDOf(data)
					unpin := s.Pin(id)
					_, err := s.Put(ctx, data)
					if err != nil && !errors.Is(err, ErrFull) {
						assert.NoError(t, err)
					}
					if got, err := s.Get(id); err == nil {
						assert.True(t, bytes.Equal(data, got))
					} else {
						assert.ErrorIs(t, err, ErrNotFound)
					}
					unpin()
					if i%5 == 0 {
						if err := s.Delete(id); err != nil && !errors.Is(err, ErrNotFound) && !errors.Is(err, ErrPinned) {
							assert.NoError(t, err)
						}
					}
					assert.LessOrEqual(t, s.Size(), cfg.MaxBytes)
				}
			}()
		}
		wg.Wait()
		sum := int64(0)
		for _, id := range s.List() {
			b, err := s.Get(id)
			require.NoError(t, err)
			sum += int64(len(b))
		}
		assert.Equal(t, s.Size(), sum)
	})
}

func TestConfigValidate(t *testing.T) {
	require.NoError(t, DefaultConfig().Validate())
	require.NoError(t, TestConfig().Validate())
	tests := []struct {
		field string
		edit  func(*Config)
	}{
		{"MaxModuleBytes", func(c *Config) { c.MaxModuleBytes = 0 }},
		{"MaxModuleBytes", func(c *Config) { c.MaxModuleBytes = MaxModuleLimit + 1; c.MaxBytes = 2 * MaxModuleLimit }},
		{"MaxBytes", func(c *Config) { c.MaxBytes = c.MaxModuleBytes - 1 }},
		{"StreamTimeout", func(c *Config) { c.StreamTimeout = 0 }},
		{"IdleTimeout", func(c *Config) { c.IdleTimeout = 0 }},
		{"IdleTimeout", func(c *Config) { c.IdleTimeout = c.StreamTimeout + 1 }},
		{"MaxServeStreams", func(c *Config) { c.MaxServeStreams = 0 }},
		{"MaxServeStreamsPerPeer", func(c *Config) { c.MaxServeStreamsPerPeer = 0 }},
		{"MaxServeStreamsPerPeer", func(c *Config) { c.MaxServeStreamsPerPeer = c.MaxServeStreams + 1 }},
		{"MaxFetches", func(c *Config) { c.MaxFetches = 0 }},
		{"MaxProviders", func(c *Config) { c.MaxProviders = -1 }},
		{"LookupTimeout", func(c *Config) { c.LookupTimeout = 0 }},
		{"ReprovideInterval", func(c *Config) { c.ReprovideInterval = 0 }},
		{"ProvideTimeout", func(c *Config) { c.ProvideTimeout = -time.Second }},
		{"ProvideConcurrency", func(c *Config) { c.ProvideConcurrency = 0 }},
		{"Clock", func(c *Config) { c.Clock = nil }},
	}
	for _, tc := range tests {
		t.Run(tc.field, func(t *testing.T) {
			c := DefaultConfig()
			tc.edit(&c)
			err := c.Validate()
			require.ErrorIs(t, err, ErrConfig)
			assert.Contains(t, err.Error(), tc.field+":")
			_, err = OpenStore(c)
			require.ErrorIs(t, err, ErrConfig)
		})
	}
}
