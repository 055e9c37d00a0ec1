package files

import (
	"bytes"
	"context"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ipfs/boxo/blockstore"
	blocks "github.com/ipfs/go-block-format"
	"github.com/ipfs/go-cid"
	ipld "github.com/ipfs/go-ipld-format"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fog-compute/fog/store"
)

// rawBlock makes a raw block of data under its CIDv1.
func rawBlock(t testing.TB, data []byte) blocks.Block {
	t.Helper()
	c, err := cid.V1Builder{Codec: cid.Raw, MhType: cidBuilder.MhType}.Sum(data)
	require.NoError(t, err)
	b, err := blocks.NewBlockWithCid(data, c)
	require.NoError(t, err)
	return b
}

func allKeys(t testing.TB, s *blockStore) []string {
	t.Helper()
	ch, err := s.AllKeysChan(context.Background())
	require.NoError(t, err)
	var out []string
	for c := range ch {
		out = append(out, string(c.Hash()))
	}
	return out
}

// The blockstore's contract, on disk and in memory: blocks by multihash,
// sizes, listing, deletion giving bytes back, the cap refusing a block
// that would pass it.
func TestBlockStore(t *testing.T) {
	for _, tc := range []struct {
		name string
		dir  func(t *testing.T) string
	}{
		{"disk", func(t *testing.T) string { return t.TempDir() }},
		{"memory", func(*testing.T) string { return "" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := testCtx(t)
			s, err := openBlockStore(tc.dir(t), 3000, slog.New(slog.DiscardHandler))
			require.NoError(t, err)
			one, two, big := rawBlock(t, content(1, 1000)), rawBlock(t, content(2, 1500)), rawBlock(t, content(3, 600))
			empty := rawBlock(t, nil)

			has, err := s.Has(ctx, one.Cid())
			require.NoError(t, err)
			assert.False(t, has)
			_, err = s.Get(ctx, one.Cid())
			assert.True(t, ipld.IsNotFound(err), err)
			_, err = s.GetSize(ctx, one.Cid())
			assert.True(t, ipld.IsNotFound(err), err)

			require.NoError(t, s.PutMany(ctx, []blocks.Block{one, two, empty}))
			require.NoError(t, s.Put(ctx, one), "a block held is not counted twice")
			assert.Equal(t, int64(2500), s.Used())
			err = s.Put(ctx, big)
			require.ErrorIs(t, err, ErrStorageFull)
			assert.Contains(t, err.Error(), "MaxStorageBytes")
			assert.Equal(t, uint64(1), s.refused.Load())
			assert.Equal(t, int64(2500), s.Used())

			// A dag-pb CID of the same bytes is the same block: keys are
			// multihashes.
			pb := cid.NewCidV1(cid.DagProtobuf, one.Cid().Hash())
			got, err := s.Get(ctx, pb)
			require.NoError(t, err)
			assert.Equal(t, one.RawData(), got.RawData())
			assert.Equal(t, pb, got.Cid())
			n, err := s.GetSize(ctx, two.Cid())
			require.NoError(t, err)
			assert.Equal(t, 1500, n)
			n, err = s.GetSize(ctx, empty.Cid())
			require.NoError(t, err)
			assert.Zero(t, n)
			assert.ElementsMatch(t, []string{string(one.Cid().Hash()), string(two.Cid().Hash()), string(empty.Cid().Hash())}, allKeys(t, s))

			require.NoError(t, s.DeleteBlock(ctx, two.Cid()))
			require.NoError(t, s.DeleteBlock(ctx, two.Cid()), "deleting what is gone is no error")
			assert.Equal(t, int64(1000), s.Used())
			require.NoError(t, s.Put(ctx, big), "room again")
			assert.Equal(t, int64(1600), s.Used())

			// Blocks written during a collection are noted.
			require.NoError(t, s.DeleteBlock(ctx, big.Cid()))
			s.beginGC()
			require.NoError(t, s.Put(ctx, two))
			assert.True(t, s.isFresh(string(two.Cid().Hash())))
			assert.False(t, s.isFresh(string(big.Cid().Hash())))
			s.endGC()
			assert.False(t, s.isFresh(string(two.Cid().Hash())))
		})
	}
}

// On disk: a reopened store counts the blocks held and removes the
// temporary files a crash left; a block file damaged on disk is never
// returned, and is dropped so that a get fetches it again.
func TestBlockFiles(t *testing.T) {
	ctx := testCtx(t)
	dir := t.TempDir()
	log := slog.New(slog.DiscardHandler)
	s, err := openBlockStore(dir, 1<<20, log)
	require.NoError(t, err)
	one, two := rawBlock(t, content(1, 1000)), rawBlock(t, content(2, 1500))
	require.NoError(t, s.PutMany(ctx, []blocks.Block{one, two}))

	// A write cut by a crash leaves a temporary file in a shard.
	shard := filepath.Dir(s.path(one.Cid().Hash()))
	leftover := filepath.Join(shard, tmpPrefix+"123")
	require.NoError(t, os.WriteFile(leftover, []byte("half a blo"), 0o600))
	stranger := filepath.Join(shard, "not-a-block")
	require.NoError(t, os.WriteFile(stranger, []byte("x"), 0o600))

	s, err = openBlockStore(dir, 1<<20, log)
	require.NoError(t, err)
	assert.Equal(t, int64(2500), s.Used(), "the blocks held are counted again")
	assert.NoFileExists(t, leftover)
	assert.FileExists(t, stranger, "files that are not blocks are left alone")
	assert.Len(t, allKeys(t, s), 2)

	// One bit flipped on disk.
	p := s.path(two.Cid().Hash())
	data, err := os.ReadFile(p)
	require.NoError(t, err)
	data[700] ^= 1
	require.NoError(t, os.WriteFile(p, data, 0o600))
	_, err = s.Get(ctx, two.Cid())
	require.ErrorIs(t, err, blockstore.ErrHashMismatch)
	assert.True(t, ipld.IsNotFound(err), "a get fetches it again")
	assert.NoFileExists(t, p)
	assert.Equal(t, int64(1000), s.Used())
	has, err := s.Has(ctx, two.Cid())
	require.NoError(t, err)
	assert.False(t, has)
	require.NoError(t, s.Put(ctx, two))
	got, err := s.Get(ctx, two.Cid())
	require.NoError(t, err)
	assert.Equal(t, two.RawData(), got.RawData())
}

// A file whose block was damaged on disk is not served: a peer fetching it
// gets no wrong bytes and stalls until the owner has the block again.
func TestDamagedBlockNotServed(t *testing.T) {
	tn := newTestNet(t)
	cfg := TestConfig()
	cfg.Stall = 2 * time.Second
	a := tn.node(t, cfg, Options{})
	b := tn.node(t, cfg, Options{})
	ctx := testCtx(t)
	data := content(61, 3*cfg.ChunkBytes)
	p, err := a.ShareReader(ctx, bytes.NewReader(data), "f", int64(len(data)), nil)
	require.NoError(t, err)
	root, err := a.bstore.Get(ctx, p.Root)
	require.NoError(t, err)
	ls, err := links(root)
	require.NoError(t, err)
	path := a.bstore.path(ls[1].Hash())
	leaf, err := os.ReadFile(path)
	require.NoError(t, err)
	leaf[0] ^= 0xff
	require.NoError(t, os.WriteFile(path, leaf, 0o600))

	_, err = b.Get(ctx, p.Root, GetOptions{Providers: []peer.AddrInfo{info(a)}})
	require.ErrorIs(t, err, ErrStalled)
	has, err := b.bstore.Has(ctx, ls[1])
	require.NoError(t, err)
	assert.False(t, has)
	require.ErrorIs(t, a.Export(ctx, p.Root, new(bytes.Buffer)), ErrIncomplete, "the owner dropped it")

	// Shared again, the owner has it whole, and the get resumes.
	_, err = a.ShareReader(ctx, bytes.NewReader(data), "f", int64(len(data)), nil)
	require.NoError(t, err)
	prog, err := b.Get(ctx, p.Root, GetOptions{Providers: []peer.AddrInfo{info(a)}})
	require.NoError(t, err)
	assert.Equal(t, 1, prog.Blocks, "only the damaged leaf moved")
	assert.True(t, bytes.Equal(data, readAll(t, b, ctx, p)))
}

// Garbage collection gives the disk space back: the files of the blocks
// collected are gone.
func TestGCFreesDisk(t *testing.T) {
	tn := newTestNet(t)
	dir := t.TempDir()
	a := tn.node(t, TestConfig(), Options{Dir: dir})
	ctx := testCtx(t)
	data := content(71, 40*TestConfig().ChunkBytes)
	p, err := a.ShareReader(ctx, bytes.NewReader(data), "f", int64(len(data)), nil)
	require.NoError(t, err)
	assert.GreaterOrEqual(t, diskBytes(t, dir), int64(len(data)))
	_, err = a.Remove(ctx, p.Root)
	require.NoError(t, err)
	assert.Zero(t, diskBytes(t, dir))
	assert.Zero(t, a.Stats().StoredBytes)
}

// diskBytes sums the sizes of the files under dir.
func diskBytes(t testing.TB, dir string) int64 {
	var n int64
	require.NoError(t, filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		fi, err := d.Info()
		if err == nil {
			n += fi.Size()
		}
		return err
	}))
	return n
}

// A store of the version that kept blocks in Badger: its blocks move to
// block files when the Service starts (damaged ones are dropped), Badger
// keeps none, and the files read back.
func TestMigrateBlocks(t *testing.T) {
	tn := newTestNet(t)
	ctx := testCtx(t)
	db := openDB(t, t.TempDir())
	d := db.Datastore(store.PrefixFiles)
	old := blockstore.NewBlockstore(d)
	src := tn.node(t, TestConfig(), Options{})
	data := content(81, 10*TestConfig().ChunkBytes)
	p, err := src.ShareReader(ctx, bytes.NewReader(data), "f", int64(len(data)), nil)
	require.NoError(t, err)
	keys := allKeys(t, src.bstore)
	require.Len(t, keys, 11)
	for _, k := range keys {
		c := cid.NewCidV1(cid.Raw, []byte(k))
		b, err := src.bstore.Get(ctx, c)
		require.NoError(t, err)
		require.NoError(t, old.Put(ctx, b))
	}
	bad := rawBlock(t, content(82, 100))
	forged, err := blocks.NewBlockWithCid(content(83, 100), bad.Cid())
	require.NoError(t, err)
	require.NoError(t, old.Put(ctx, forged))
	require.NoError(t, d.Put(ctx, pinKey(p.Root), p.Marshal()))

	dir := t.TempDir()
	s := tn.node(t, TestConfig(), Options{Datastore: d, Dir: dir})
	assert.Equal(t, int64(len(data))+int64(len(mustRoot(t, src, p.Root).RawData())), s.Stats().StoredBytes)
	assert.True(t, bytes.Equal(data, readAll(t, s, ctx, p)))
	left, err := old.AllKeysChan(ctx)
	require.NoError(t, err)
	n := 0
	for range left {
		n++
	}
	assert.Zero(t, n, "Badger keeps no block")
	has, err := s.bstore.Has(ctx, bad.Cid())
	require.NoError(t, err)
	assert.False(t, has, "a block that does not match its CID is not moved")
	pins, err := s.List(ctx)
	require.NoError(t, err)
	require.Len(t, pins, 1)
	assert.True(t, strings.HasPrefix(pins[0].Root.String(), "bafy"))
}

func mustRoot(t testing.TB, s *Service, c cid.Cid) blocks.Block {
	b, err := s.bstore.Get(context.Background(), c)
	require.NoError(t, err)
	return b
}
