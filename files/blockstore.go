package files

import (
	"bytes"
	"context"
	"encoding/base32"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/ipfs/boxo/blockstore"
	blocks "github.com/ipfs/go-block-format"
	"github.com/ipfs/go-cid"
	ds "github.com/ipfs/go-datastore"
	ipld "github.com/ipfs/go-ipld-format"
	mh "github.com/multiformats/go-multihash"

	"github.com/fog-compute/fog/internal/durable"
)

// blockStore is the blockstore of a Service: one file per block in a
// directory beside the node's Badger store (or a map in memory), its
// bytes kept under a cap, every block read checked against its multihash,
// and the blocks written while a garbage collection runs noted, so that
// it spares them.
//
// Blocks are kept out of Badger because Badger keeps values below its
// value threshold in its LSM tree, and 256 KiB leaves written there cost
// gigabytes of table builders and compactions during a 1 GiB get (see
// docs/files.md). A block file is written to a temporary file in its
// shard, synced, renamed into place and its directory synced, so that a
// block file is whole or absent after a crash, and a block acknowledged
// is on disk.
//
// Blocks are keyed by multihash, as boxo's blockstore keys them:
// AllKeysChan gives raw-codec CIDs.
type blockStore struct {
	dir     string // "" keeps blocks in memory
	max     int64
	log     *slog.Logger
	used    atomic.Int64
	refused atomic.Uint64 // Puts refused for the cap

	mu      sync.Mutex
	mem     map[string][]byte        // by multihash, in memory mode
	writing map[string]chan struct{} // Puts under way, by multihash
	fresh   map[string]struct{}      // multihashes written since beginGC; nil outside a GC
}

var _ blockstore.Blockstore = (*blockStore)(nil)

// Block files live in 256 shards named by the last byte of their
// multihash in hex (the digest's, spread evenly), each file named by its
// multihash in unpadded lowercase base32. Files being written start with
// tmpPrefix, which base32 never does.
const (
	shards    = 256
	tmpPrefix = ".tmp-"
)

var b32 = base32.StdEncoding.WithPadding(base32.NoPadding)

// openBlockStore opens the blocks in dir ("" for memory), creating it if
// needed, removing the temporary files a crash left and counting the
// bytes of the blocks held. Block files are not hashed here; Get checks
// each block it reads.
func openBlockStore(dir string, max int64, log *slog.Logger) (*blockStore, error) {
	s := &blockStore{dir: dir, max: max, log: log, writing: make(map[string]chan struct{})}
	if dir == "" {
		s.mem = make(map[string][]byte)
		return s, nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("files: open blocks: %w", err)
	}
	for i := range shards {
		if err := os.Mkdir(filepath.Join(dir, fmt.Sprintf("%02x", i)), 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
			return nil, fmt.Errorf("files: open blocks: %w", err)
		}
	}
	_ = durable.SyncDir(dir)
	var used int64
	err := s.walk(func(shard string, de fs.DirEntry) error {
		if strings.HasPrefix(de.Name(), tmpPrefix) {
			if err := os.Remove(filepath.Join(shard, de.Name())); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return err
			}
			return nil
		}
		if _, ok := parseName(de.Name()); !ok || !de.Type().IsRegular() {
			return nil // not ours
		}
		fi, err := de.Info()
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		used += fi.Size()
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("files: open blocks: %w", err)
	}
	s.used.Store(used)
	return s, nil
}

// walk calls f for every entry of every shard.
func (s *blockStore) walk(f func(shard string, de fs.DirEntry) error) error {
	for i := range shards {
		shard := filepath.Join(s.dir, fmt.Sprintf("%02x", i))
		des, err := os.ReadDir(shard)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return err
		}
		for _, de := range des {
			if err := f(shard, de); err != nil {
				return err
			}
		}
	}
	return nil
}

// path is the file of the block of multihash h.
func (s *blockStore) path(h mh.Multihash) string {
	return filepath.Join(s.dir, fmt.Sprintf("%02x", h[len(h)-1]), strings.ToLower(b32.EncodeToString(h)))
}

// parseName returns the multihash a block file's name encodes.
func parseName(name string) (mh.Multihash, bool) {
	b, err := b32.DecodeString(strings.ToUpper(name))
	if err != nil {
		return nil, false
	}
	h, err := mh.Cast(b)
	if err != nil || strings.ToLower(b32.EncodeToString(h)) != name {
		return nil, false
	}
	return h, true
}

// Used returns the bytes of the blocks held.
func (s *blockStore) Used() int64 { return s.used.Load() }

// Put stores b unless it is held already, or refuses it with
// ErrStorageFull if it would take the blocks above the cap. It returns
// once the block is on disk.
func (s *blockStore) Put(ctx context.Context, b blocks.Block) error {
	return s.put(ctx, b, true)
}

func (s *blockStore) put(ctx context.Context, b blocks.Block, capped bool) error {
	h := b.Cid().Hash()
	key := string(h)
	data := b.RawData()
	n := int64(len(data))
	var done chan struct{}
	for done == nil {
		s.mu.Lock()
		// Noted before it is written, so a sweep that sees it spares it.
		if s.fresh != nil {
			s.fresh[key] = struct{}{}
		}
		if w := s.writing[key]; w != nil {
			s.mu.Unlock()
			select {
			case <-w: // written, or failed: look again
			case <-ctx.Done():
				return fmt.Errorf("files: put %s: %w", b.Cid(), ctx.Err())
			}
			continue
		}
		if s.hasLocked(h) {
			s.mu.Unlock()
			return nil
		}
		if used := s.used.Add(n); capped && used > s.max {
			s.used.Add(-n)
			s.refused.Add(1)
			s.mu.Unlock()
			return fmt.Errorf("%w: %d bytes of blocks held, a block of %d would pass MaxStorageBytes %d", ErrStorageFull, used-n, n, s.max)
		}
		if s.mem != nil {
			s.mem[key] = data
			s.mu.Unlock()
			return nil
		}
		done = make(chan struct{})
		s.writing[key] = done
		s.mu.Unlock()
	}

	path := s.path(h)
	tmp, err := durable.WriteTemp(filepath.Dir(path), tmpPrefix+"*", data, 0o600)
	s.mu.Lock()
	if err == nil {
		if err = os.Rename(tmp, path); err != nil {
			_ = os.Remove(tmp)
		}
	}
	if err != nil {
		s.used.Add(-n)
	}
	delete(s.writing, key)
	close(done)
	s.mu.Unlock()
	if err != nil {
		return fmt.Errorf("files: put %s: %w", b.Cid(), err)
	}
	// The rename is durable once the shard is synced; until then a crash
	// loses the block whole, never a part of it.
	_ = durable.SyncDir(filepath.Dir(path))
	return nil
}

// hasLocked reports whether the block of h is stored; s.mu is held.
func (s *blockStore) hasLocked(h mh.Multihash) bool {
	if s.mem != nil {
		_, ok := s.mem[string(h)]
		return ok
	}
	_, err := os.Stat(s.path(h))
	return err == nil
}

// PutMany stores each block as Put does.
func (s *blockStore) PutMany(ctx context.Context, bs []blocks.Block) error {
	for _, b := range bs {
		if err := s.Put(ctx, b); err != nil {
			return err
		}
	}
	return nil
}

// Has reports whether c's block is stored.
func (s *blockStore) Has(_ context.Context, c cid.Cid) (bool, error) {
	if s.mem != nil {
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.hasLocked(c.Hash()), nil
	}
	_, err := os.Stat(s.path(c.Hash()))
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, fs.ErrNotExist):
		return false, nil
	}
	return false, fmt.Errorf("files: has %s: %w", c, err)
}

// GetSize returns the size of c's block, or ipld.ErrNotFound.
func (s *blockStore) GetSize(_ context.Context, c cid.Cid) (int, error) {
	if s.mem != nil {
		s.mu.Lock()
		defer s.mu.Unlock()
		data, ok := s.mem[string(c.Hash())]
		if !ok {
			return -1, ipld.ErrNotFound{Cid: c}
		}
		return len(data), nil
	}
	fi, err := os.Stat(s.path(c.Hash()))
	switch {
	case err == nil:
		return int(fi.Size()), nil
	case errors.Is(err, fs.ErrNotExist):
		return -1, ipld.ErrNotFound{Cid: c}
	}
	return -1, fmt.Errorf("files: size of %s: %w", c, err)
}

// Get returns c's block, checked against c's multihash. A block file
// whose bytes do not match is removed (the disk damaged it) and reported
// as not found, so that it is never served and a get fetches it again.
func (s *blockStore) Get(_ context.Context, c cid.Cid) (blocks.Block, error) {
	h := c.Hash()
	var data []byte
	if s.mem != nil {
		s.mu.Lock()
		d, ok := s.mem[string(h)]
		s.mu.Unlock()
		if !ok {
			return nil, ipld.ErrNotFound{Cid: c}
		}
		data = d
	} else {
		d, err := os.ReadFile(s.path(h))
		if errors.Is(err, fs.ErrNotExist) {
			return nil, ipld.ErrNotFound{Cid: c}
		}
		if err != nil {
			return nil, fmt.Errorf("files: get %s: %w", c, err)
		}
		data = d
	}
	if !matches(h, data) {
		s.log.Warn("block damaged on disk: dropped", "cid", c)
		s.remove(h)
		return nil, fmt.Errorf("files: get %s: %w, dropped: %w", c, blockstore.ErrHashMismatch, ipld.ErrNotFound{Cid: c})
	}
	return blocks.NewBlockWithCid(data, c)
}

// matches reports whether data hashes to h.
func matches(h mh.Multihash, data []byte) bool {
	d, err := mh.Decode(h)
	if err != nil {
		return false
	}
	got, err := mh.Sum(data, d.Code, d.Length)
	return err == nil && bytes.Equal(got, h)
}

// DeleteBlock removes c's block and gives back its bytes.
func (s *blockStore) DeleteBlock(_ context.Context, c cid.Cid) error {
	return s.remove(c.Hash())
}

func (s *blockStore) remove(h mh.Multihash) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.mem != nil {
		if data, ok := s.mem[string(h)]; ok {
			delete(s.mem, string(h))
			s.used.Add(-int64(len(data)))
		}
		return nil
	}
	path := s.path(h)
	fi, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err == nil {
		err = os.Remove(path)
	}
	if err != nil {
		return fmt.Errorf("files: delete block: %w", err)
	}
	s.used.Add(-fi.Size())
	return nil
}

// AllKeysChan returns the CIDs (raw codec) of every block stored, on a
// channel already filled and closed.
func (s *blockStore) AllKeysChan(ctx context.Context) (<-chan cid.Cid, error) {
	var keys []cid.Cid
	if s.mem != nil {
		s.mu.Lock()
		for k := range s.mem {
			keys = append(keys, cid.NewCidV1(cid.Raw, mh.Multihash(k)))
		}
		s.mu.Unlock()
	} else {
		err := s.walk(func(_ string, de fs.DirEntry) error {
			if err := ctx.Err(); err != nil {
				return err
			}
			if h, ok := parseName(de.Name()); ok {
				keys = append(keys, cid.NewCidV1(cid.Raw, h))
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("files: list blocks: %w", err)
		}
	}
	ch := make(chan cid.Cid, len(keys))
	for _, k := range keys {
		ch <- k
	}
	close(ch)
	return ch, nil
}

// beginGC starts noting the blocks written; endGC stops.
func (s *blockStore) beginGC() {
	s.mu.Lock()
	s.fresh = make(map[string]struct{})
	s.mu.Unlock()
}

func (s *blockStore) endGC() {
	s.mu.Lock()
	s.fresh = nil
	s.mu.Unlock()
}

// isFresh reports whether the block of multihash h was written since
// beginGC.
func (s *blockStore) isFresh(h string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.fresh[h]
	return ok
}

// migrate moves the blocks an older version kept in the Badger store
// (boxo's blockstore over d, under /blocks) into s, checking each, and
// deletes them from Badger. It is idempotent: a crash half way leaves
// blocks in both, and the next run finishes.
func (s *blockStore) migrate(ctx context.Context, d ds.Batching) (int, error) {
	ctx, cancel := context.WithCancel(ctx) // ends the listing on an early return
	defer cancel()
	old := blockstore.NewBlockstore(d)
	keys, err := old.AllKeysChan(ctx)
	if err != nil {
		return 0, fmt.Errorf("files: migrate blocks: %w", err)
	}
	moved := 0
	for c := range keys {
		b, err := old.Get(ctx, c)
		switch {
		case ipld.IsNotFound(err):
			continue
		case err != nil:
			return moved, fmt.Errorf("files: migrate block %s: %w", c, err)
		}
		if matches(c.Hash(), b.RawData()) {
			// Blocks held were accepted under the cap already.
			if err := s.put(ctx, b, false); err != nil {
				return moved, fmt.Errorf("files: migrate block %s: %w", c, err)
			}
			moved++
		}
		if err := old.DeleteBlock(ctx, c); err != nil {
			return moved, fmt.Errorf("files: migrate block %s: %w", c, err)
		}
	}
	return moved, ctx.Err()
}

// isFull reports whether err is the cap refusing a block.
func isFull(err error) bool { return errors.Is(err, ErrStorageFull) }
