package files

import (
	"bytes"
	"context"
	"errors"
	"io"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fog-compute/fog/internal/await"
	"github.com/fog-compute/fog/store"
)

// A file shared on A is fetched by B, from A alone, and reads back the
// same; B then pins it complete and can serve it.
func TestShareGet(t *testing.T) { testShareGet(t) }

func testShareGet(t *testing.T) {
	tn := newTestNet(t)
	cfg := TestConfig()
	a := tn.node(t, cfg, Options{})
	b := tn.node(t, cfg, Options{})
	ctx := testCtx(t)
	for _, tc := range []struct {
		name string
		size int
	}{
		{"empty", 0},
		{"one leaf", 1000},
		{"exact chunk", cfg.ChunkBytes},
		{"many leaves", 300*cfg.ChunkBytes + 17}, // two levels: 300 > 174 links
	} {
		data := content(uint64(tc.size), tc.size)
		p, err := a.Share(ctx, writeFile(t, "f.bin", data), nil)
		require.NoError(t, err, tc.name)
		assert.Equal(t, int64(tc.size), p.Size, tc.name)
		assert.True(t, p.Complete, tc.name)
		assert.Equal(t, uint64(1), p.Root.Version(), tc.name)

		prog, err := b.Get(ctx, p.Root, GetOptions{Providers: []peer.AddrInfo{info(a)}, Name: "f.bin"})
		require.NoError(t, err, tc.name)
		assert.True(t, prog.Done, tc.name)
		assert.Equal(t, int64(tc.size), prog.Size, tc.name)
		assert.Zero(t, prog.PresentBlocks, tc.name)
		if tc.size > 0 {
			assert.Equal(t, 1, prog.Peers, tc.name)
		}
		assert.True(t, bytes.Equal(data, readAll(t, b, ctx, p)), tc.name)
		got, err := b.Pinned(ctx, p.Root)
		require.NoError(t, err, tc.name)
		assert.True(t, got.Complete, tc.name)
		assert.Equal(t, "f.bin", got.Name, tc.name)

		// Fetched again: nothing moves.
		prog, err = b.Get(ctx, p.Root, GetOptions{})
		require.NoError(t, err, tc.name)
		assert.Zero(t, prog.Blocks, tc.name)
	}
	pins, err := b.List(ctx)
	require.NoError(t, err)
	assert.Len(t, pins, 4)
}

// Sharing the same bytes twice gives the same CID; a file of one chunk is
// its raw leaf, with the CID kubo's `ipfs add --cid-version=1` gives it
// (vectors from kubo's output), and a longer one a dag-pb root over raw
// leaves of ChunkBytes.
func TestShareCIDs(t *testing.T) { testShareCIDs(t) }

func testShareCIDs(t *testing.T) {
	tn := newTestNet(t)
	cfg := TestConfig()
	cfg.ChunkBytes = 256 << 10
	a := tn.node(t, cfg, Options{})
	ctx := testCtx(t)
	for _, tc := range []struct{ data, want string }{
		{"", "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku"},
		{"hello\n", "bafkreicysg23kiwv34eg2d7qweipxwosdo2py4ldv42nbauguluen5v6am"},
	} {
		p, err := a.ShareReader(ctx, bytes.NewReader([]byte(tc.data)), "v", int64(len(tc.data)), nil)
		require.NoError(t, err)
		assert.Equal(t, tc.want, p.Root.String(), "%q", tc.data)
	}
	zeros := make([]byte, 1<<20)
	p1, err := a.ShareReader(ctx, bytes.NewReader(zeros), "z", int64(len(zeros)), nil)
	require.NoError(t, err)
	p2, err := a.ShareReader(ctx, bytes.NewReader(zeros), "z2", int64(len(zeros)), nil)
	require.NoError(t, err)
	assert.Equal(t, p1.Root, p2.Root)
	assert.Equal(t, uint64(cid.DagProtobuf), p1.Root.Type())
	blk, err := a.bstore.Get(ctx, p1.Root)
	require.NoError(t, err)
	ls, err := links(blk)
	require.NoError(t, err)
	require.Len(t, ls, 4)
	for _, l := range ls {
		assert.Equal(t, uint64(cid.Raw), l.Type())
		n, err := a.bstore.GetSize(ctx, l)
		require.NoError(t, err)
		assert.Equal(t, 256<<10, n)
	}
	size, err := declaredSize(blk)
	require.NoError(t, err)
	assert.Equal(t, int64(1<<20), size)
}

// A get of a CID nobody serves stalls with ErrStalled, on the stall timer.
func TestGetStalls(t *testing.T) { testGetStalls(t) }

func testGetStalls(t *testing.T) {
	tn := newTestNet(t)
	cfg := TestConfig()
	cfg.Stall = 500 * time.Millisecond
	a := tn.node(t, cfg, Options{})
	b := tn.node(t, cfg, Options{})
	ctx := testCtx(t)
	c, err := cid.Decode("bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy")
	require.NoError(t, err)
	_, err = b.Get(ctx, c, GetOptions{Providers: []peer.AddrInfo{info(a)}})
	require.ErrorIs(t, err, ErrStalled)
}

// Limits: a share above MaxFileBytes, a get of a file whose root declares
// more than MaxFileBytes, and a get that would pass MaxStorageBytes are
// refused with errors that say so.
func TestLimits(t *testing.T) { testLimits(t) }

func testLimits(t *testing.T) {
	tn := newTestNet(t)
	big := TestConfig()
	big.MaxFileBytes = 1 << 20
	big.MaxStorageBytes = 4 << 20
	small := big
	small.MaxFileBytes = 256 << 10
	small.MaxStorageBytes = 384 << 10
	a := tn.node(t, big, Options{})
	b := tn.node(t, small, Options{})
	ctx := testCtx(t)

	// Share: too large by its size, and by what is read (a reader that
	// says less than it gives).
	_, err := a.Share(ctx, writeFile(t, "big", content(1, 1<<20+1)), nil)
	require.ErrorIs(t, err, ErrTooLarge)
	assert.Contains(t, err.Error(), "MaxFileBytes")
	_, err = a.ShareReader(ctx, bytes.NewReader(content(1, 1<<20+1)), "liar", 10, nil)
	require.ErrorIs(t, err, ErrTooLarge)

	// Get: the root declares more than b accepts.
	p, err := a.Share(ctx, writeFile(t, "f", content(2, 300<<10)), nil)
	require.NoError(t, err)
	_, err = b.Get(ctx, p.Root, GetOptions{Providers: []peer.AddrInfo{info(a)}})
	require.ErrorIs(t, err, ErrTooLarge)
	assert.Contains(t, err.Error(), "MaxFileBytes")
	assert.Less(t, b.Stats().StoredBytes, int64(64<<10), "only the root was fetched")

	// Get: fits MaxFileBytes, but not the storage left.
	p1, err := a.Share(ctx, writeFile(t, "f1", content(3, 200<<10)), nil)
	require.NoError(t, err)
	p2, err := a.Share(ctx, writeFile(t, "f2", content(4, 200<<10)), nil)
	require.NoError(t, err)
	_, err = b.Get(ctx, p1.Root, GetOptions{Providers: []peer.AddrInfo{info(a)}})
	require.NoError(t, err)
	_, err = b.Get(ctx, p2.Root, GetOptions{Providers: []peer.AddrInfo{info(a)}})
	require.ErrorIs(t, err, ErrStorageFull)
	assert.Contains(t, err.Error(), "MaxStorageBytes")

	// Removing the first makes room.
	st, err := b.Remove(ctx, p1.Root)
	require.NoError(t, err)
	assert.Positive(t, st.Removed)
	_, err = b.Get(ctx, p2.Root, GetOptions{Providers: []peer.AddrInfo{info(a)}})
	require.NoError(t, err)
}

// GC removes the blocks of unpinned files and nothing of pinned ones,
// including blocks two files share.
func TestGC(t *testing.T) { testGC(t) }

func testGC(t *testing.T) {
	tn := newTestNet(t)
	a := tn.node(t, TestConfig(), Options{})
	ctx := testCtx(t)
	one := content(5, 40<<10)
	two := append(bytes.Clone(one[:32<<10]), content(6, 40<<10)...) // shares the first two leaves
	p1, err := a.ShareReader(ctx, bytes.NewReader(one), "one", int64(len(one)), nil)
	require.NoError(t, err)
	p2, err := a.ShareReader(ctx, bytes.NewReader(two), "two", int64(len(two)), nil)
	require.NoError(t, err)
	before := a.Stats().StoredBytes

	st, err := a.GC(ctx)
	require.NoError(t, err)
	assert.Zero(t, st.Removed, "everything is pinned")

	st, err = a.Remove(ctx, p1.Root)
	require.NoError(t, err)
	assert.Positive(t, st.Removed)
	assert.Equal(t, before-st.Freed, a.Stats().StoredBytes)
	assert.True(t, bytes.Equal(two, readAll(t, a, ctx, p2)), "the shared leaves stay")
	require.ErrorIs(t, a.Export(ctx, p1.Root, new(bytes.Buffer)), ErrIncomplete)
	_, err = a.Pinned(ctx, p1.Root)
	require.ErrorIs(t, err, ErrNotPinned)

	_, err = a.Remove(ctx, p2.Root)
	require.NoError(t, err)
	assert.Zero(t, a.Stats().StoredBytes)
	_, err = a.Remove(ctx, p2.Root)
	require.ErrorIs(t, err, ErrNotPinned)
}

// A get cancelled half way and started again fetches only what the first
// did not store.
func TestResume(t *testing.T) { testResume(t) }

func testResume(t *testing.T) {
	tn := newTestNet(t)
	cfg := TestConfig()
	cfg.Window, cfg.Windows = 8, 1
	a := tn.node(t, cfg, Options{})
	b := tn.node(t, cfg, Options{})
	ctx := testCtx(t)
	data := content(7, 400*cfg.ChunkBytes)
	p, err := a.Share(ctx, writeFile(t, "f", data), nil)
	require.NoError(t, err)
	total := 400 + 3 + 1 // leaves, 3 inner nodes (400 = 174+174+52), the root

	cctx, cancel := context.WithCancel(ctx)
	first, err := b.Get(cctx, p.Root, GetOptions{
		Providers: []peer.AddrInfo{info(a)},
		Progress: func(pr Progress) {
			if pr.Blocks >= total/2 {
				cancel()
			}
		},
	})
	require.ErrorIs(t, err, context.Canceled)
	require.False(t, first.Done)
	require.GreaterOrEqual(t, first.Blocks, total/2)
	require.Less(t, first.Blocks, total)
	pin, err := b.Pinned(ctx, p.Root)
	require.NoError(t, err)
	assert.False(t, pin.Complete, "pinned incomplete")

	// A collection between the two keeps what arrived.
	_, err = b.GC(ctx)
	require.NoError(t, err)

	second, err := b.Get(ctx, p.Root, GetOptions{Providers: []peer.AddrInfo{info(a)}})
	require.NoError(t, err)
	assert.Equal(t, total, second.Blocks+second.PresentBlocks)
	assert.GreaterOrEqual(t, second.PresentBlocks, first.Blocks, "what the first stored is not fetched again")
	assert.LessOrEqual(t, second.Blocks, total-first.Blocks)
	assert.True(t, bytes.Equal(data, readAll(t, b, ctx, p)))
}

// Three sources, each on a link of 8 MB/s: the get takes blocks from them
// all.
func TestThreeSources(t *testing.T) { testThreeSources(t) }

func testThreeSources(t *testing.T) {
	tn := newCappedNet(t, 8e6)
	cfg := TestConfig()
	var srcs []*Service
	var hints []peer.AddrInfo
	data := content(8, 500*cfg.ChunkBytes)
	ctx := testCtx(t)
	var root cid.Cid
	for range 3 {
		s := tn.node(t, cfg, Options{})
		p, err := s.ShareReader(ctx, bytes.NewReader(data), "f", int64(len(data)), nil)
		require.NoError(t, err)
		root = p.Root
		srcs = append(srcs, s)
		hints = append(hints, info(s))
	}
	b := tn.node(t, cfg, Options{})
	prog, err := b.Get(ctx, root, GetOptions{Providers: hints})
	require.NoError(t, err)
	assert.Equal(t, 3, prog.Peers, "blocks came from every source")
	assert.True(t, bytes.Equal(data, readAll(t, b, ctx, Pin{Root: root})))
	sent := map[peer.ID]uint64{}
	for _, ps := range b.Stats().Peers {
		sent[ps.Peer] = ps.Blocks
	}
	for i, s := range srcs {
		assert.Positive(t, sent[s.h.ID()], "source %d sent blocks", i)
	}
}

// The async transfer API: Start, progress, the file written, the state.
func TestStart(t *testing.T) { testStart(t) }

func testStart(t *testing.T) {
	tn := newTestNet(t)
	a := tn.node(t, TestConfig(), Options{})
	b := tn.node(t, TestConfig(), Options{})
	ctx := testCtx(t)
	data := content(9, 100<<10)
	p, err := a.Share(ctx, writeFile(t, "f", data), nil)
	require.NoError(t, err)
	out := t.TempDir() + "/out.bin"
	var calls atomic.Int64
	tr, err := b.Start(p.Root, GetOptions{Providers: []peer.AddrInfo{info(a)}, Progress: func(Progress) { calls.Add(1) }}, out)
	require.NoError(t, err)
	assert.Equal(t, StateRunning, tr.State)
	await.Until(t, time.Minute, b.Changed, func() bool {
		tr, err = b.TransferOf(p.Root)
		require.NoError(t, err)
		return tr.State != StateRunning
	}, "the transfer ends")
	require.Equal(t, StateDone, tr.State, tr.Error)
	assert.True(t, tr.Progress.Done)
	assert.Positive(t, calls.Load())
	got, err := readFileBytes(out)
	require.NoError(t, err)
	assert.True(t, bytes.Equal(data, got))
	_, err = b.TransferOf(cid.Undef)
	assert.True(t, errors.Is(err, ErrNoTransfer))
}

// A peer connected before the Service started is asked too (a node's
// bootstrap peers connect before its services start).
func TestPeerConnectedBeforeStart(t *testing.T) {
	tn := newTestNet(t)
	a := tn.node(t, TestConfig(), Options{})
	hb := tn.host(t)
	_, err := tn.mn.ConnectPeers(hb.ID(), a.h.ID())
	require.NoError(t, err)
	b := tn.node(t, TestConfig(), Options{Host: hb})
	ctx := testCtx(t)
	p, err := a.Share(ctx, writeFile(t, "f", content(31, 50<<10)), nil)
	require.NoError(t, err)
	prog, err := b.Get(ctx, p.Root, GetOptions{}) // no providers given, no router
	require.NoError(t, err)
	assert.True(t, prog.Done)
}

// A receiver whose service stops half way through a get (its node
// restarting) and starts again over the same Badger directory still has
// the pin and the blocks it stored, counts them against the cap, and the
// get fetches only the rest.
func TestRestartResumes(t *testing.T) {
	tn := newTestNet(t)
	cfg := TestConfig()
	cfg.Window, cfg.Windows = 8, 1
	a := tn.node(t, cfg, Options{})
	ctx := testCtx(t)
	data := content(41, 200*cfg.ChunkBytes)
	p, err := a.Share(ctx, writeFile(t, "f", data), nil)
	require.NoError(t, err)
	total := 200 + 2 + 1 // leaves, two inner nodes (174 + 26), the root

	dir, blocks := t.TempDir(), t.TempDir()
	hb := tn.host(t)
	db, err := store.Open(store.DefaultConfig(dir))
	require.NoError(t, err)
	b, err := New(cfg, Options{Host: hb, Datastore: db.Datastore(store.PrefixFiles), Dir: blocks})
	require.NoError(t, err)
	cctx, cancel := context.WithCancel(ctx)
	first, err := b.Get(cctx, p.Root, GetOptions{Providers: []peer.AddrInfo{info(a)}, Progress: func(pr Progress) {
		if pr.Blocks >= total/2 {
			cancel()
		}
	}})
	require.ErrorIs(t, err, context.Canceled)
	stored := b.Stats().StoredBytes
	require.NoError(t, b.Close())
	require.NoError(t, db.Close())

	db, err = store.Open(store.DefaultConfig(dir))
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	b, err = New(cfg, Options{Host: hb, Datastore: db.Datastore(store.PrefixFiles), Dir: blocks})
	require.NoError(t, err)
	t.Cleanup(func() { b.Close() })
	assert.Equal(t, stored, b.Stats().StoredBytes, "the blocks stored are counted again")
	pin, err := b.Pinned(ctx, p.Root)
	require.NoError(t, err)
	assert.False(t, pin.Complete)
	second, err := b.Get(ctx, p.Root, GetOptions{Providers: []peer.AddrInfo{info(a)}})
	require.NoError(t, err)
	assert.Equal(t, total, second.Blocks+second.PresentBlocks)
	assert.GreaterOrEqual(t, second.PresentBlocks, first.Blocks)
	assert.True(t, bytes.Equal(data, readAll(t, b, ctx, p)))
}

// Remove stops a get of the file under way, which then does not pin it
// again.
func TestRemoveStopsGet(t *testing.T) {
	tn := newTestNet(t)
	cfg := TestConfig()
	cfg.Window, cfg.Windows = 4, 1
	a := tn.node(t, cfg, Options{})
	b := tn.node(t, cfg, Options{})
	ctx := testCtx(t)
	p, err := a.Share(ctx, writeFile(t, "f", content(51, 200*cfg.ChunkBytes)), nil)
	require.NoError(t, err)
	removed := make(chan error, 1)
	var once sync.Once
	_, err = b.Get(ctx, p.Root, GetOptions{Providers: []peer.AddrInfo{info(a)}, Progress: func(pr Progress) {
		if pr.Blocks >= 20 {
			once.Do(func() {
				go func() {
					_, err := b.Remove(ctx, p.Root)
					removed <- err
				}()
			})
		}
	}})
	require.ErrorIs(t, err, ErrRemoved)
	require.NoError(t, <-removed)
	_, err = b.Pinned(ctx, p.Root)
	require.ErrorIs(t, err, ErrNotPinned)
}

// A share under way is in Shares with the bytes read so far, and
// Changed tells of every step; it leaves Shares when it ends.
func TestShareProgress(t *testing.T) {
	tn := newTestNet(t)
	cfg := TestConfig()
	a := tn.node(t, cfg, Options{})
	ctx := testCtx(t)
	data := content(91, 10*cfg.ChunkBytes)
	half := 5 * cfg.ChunkBytes
	pr, pw := io.Pipe()
	t.Cleanup(func() { pw.CloseWithError(io.ErrClosedPipe) }) // ends the share if the test fails first
	type result struct {
		p   Pin
		err error
	}
	done := make(chan result, 1)
	go func() {
		p, err := a.ShareReader(ctx, pr, "big.bin", int64(len(data)), nil)
		done <- result{p, err}
	}()
	_, err := pw.Write(data[:half])
	require.NoError(t, err)
	await.Until(t, time.Minute, a.Changed, func() bool {
		sh := a.Shares()
		return len(sh) == 1 && sh[0].Read == int64(half)
	}, "the share has read half")
	sh := a.Shares()[0]
	assert.Equal(t, "big.bin", sh.Name)
	assert.Equal(t, int64(len(data)), sh.Size)
	_, err = pw.Write(data[half:])
	require.NoError(t, err)
	require.NoError(t, pw.Close())
	res := <-done
	require.NoError(t, res.err)
	assert.Empty(t, a.Shares())
	assert.True(t, bytes.Equal(data, readAll(t, a, ctx, res.p)))
}
