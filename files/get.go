package files

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/ipfs/boxo/blockservice"
	"github.com/ipfs/boxo/ipld/merkledag"
	"github.com/ipfs/boxo/ipld/unixfs"
	blocks "github.com/ipfs/go-block-format"
	"github.com/ipfs/go-cid"
	ipld "github.com/ipfs/go-ipld-format"
	"github.com/libp2p/go-libp2p/core/peer"
	mh "github.com/multiformats/go-multihash"
	"golang.org/x/sync/errgroup"
)

// maxDepth bounds a fetched DAG's depth: a balanced DAG of 174 links a
// node is 5 levels deep at 16 GiB; a deeper one is hostile.
const maxDepth = 32

// Progress is how far a get is.
type Progress struct {
	// Root is the file's CID.
	Root cid.Cid `json:"root"`
	// Size is the file's size as its root declares it; 0 until the root
	// is at hand.
	Size int64 `json:"size"`
	// Bytes and Blocks count what arrived from peers in this get; Present
	// and PresentBlocks what was stored already (a resumed get).
	Bytes         int64 `json:"bytes"`
	Blocks        int   `json:"blocks"`
	Present       int64 `json:"present"`
	PresentBlocks int   `json:"present_blocks"`
	// Peers counts the peers that sent blocks of this get.
	Peers int `json:"peers"`
	// Elapsed is the get's time so far, and Speed Bytes per second of it.
	Elapsed time.Duration `json:"elapsed"`
	Speed   float64       `json:"speed"`
	// Done reports a get that has every block.
	Done bool `json:"done"`
}

// GetOptions tune one get.
type GetOptions struct {
	// Providers are peers to ask besides those the DHT names (the peer
	// that sent the CID, say).
	Providers []peer.AddrInfo
	// Name is recorded in the pin record ("" keeps the one it has).
	Name string
	// Progress, if set, is told the progress after each batch of blocks
	// and at the end. It must not block.
	Progress func(Progress)
}

// Get fetches every block of root's file that is not stored yet, from
// every peer that has some at once (one Bitswap session, fed by the
// providers the DHT names for root, o.Providers and the connected
// peers), and pins it. It resumes from the blocks stored: a get cut
// short, by ctx or a crash, is pinned as incomplete, and the next one
// fetches only what is missing. It fails with ErrTooLarge for a file
// above MaxFileBytes (or a DAG larger than its root declares),
// ErrStorageFull beyond MaxStorageBytes, ErrNotFile for a directory, and
// ErrStalled when no block arrives for Config.Stall.
func (s *Service) Get(ctx context.Context, root cid.Cid, o GetOptions) (Progress, error) {
	g := &getter{s: s, root: root, o: o, start: s.clk.Now(), peers: make(map[peer.ID]struct{}), wanted: make(map[cid.Cid]struct{})}
	g.prog.Root = root
	if err := s.acquireGet(ctx); err != nil {
		return g.snapshot(), err
	}
	defer func() { <-s.gets }()
	err := g.run(ctx)
	p := g.snapshot()
	if o.Progress != nil {
		o.Progress(p)
	}
	return p, err
}

func (s *Service) acquireGet(ctx context.Context) error {
	select {
	case s.gets <- struct{}{}:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("files: get: %w", ctx.Err())
	case <-s.ctx.Done():
		return ErrClosed
	}
}

// getter is one get's state.
type getter struct {
	s     *Service
	root  cid.Cid
	o     GetOptions
	start time.Time

	mu     sync.Mutex
	prog   Progress
	peers  map[peer.ID]struct{}
	wanted map[cid.Cid]struct{} // asked of the session and not yet arrived
	bytes  int64                // every block of the DAG seen, for the size bound
	limit  int64
	stall  func() // renews the stall timer
}

func (g *getter) snapshot() Progress {
	g.mu.Lock()
	defer g.mu.Unlock()
	p := g.prog
	p.Peers = len(g.peers)
	p.Elapsed = g.s.clk.Now().Sub(g.start)
	if secs := p.Elapsed.Seconds(); secs > 0 {
		p.Speed = float64(p.Bytes) / secs
	}
	return p
}

func (g *getter) report() {
	if g.o.Progress != nil {
		g.o.Progress(g.snapshot())
	}
}

func (g *getter) run(parent context.Context) error {
	s := g.s
	ctx, cancel := context.WithCancelCause(parent)
	defer cancel(nil)
	s.mu.Lock()
	if s.running[g.root] == nil {
		s.running[g.root] = make(map[*getter]context.CancelCauseFunc)
	}
	s.running[g.root][g] = cancel
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.running[g.root], g)
		if len(s.running[g.root]) == 0 {
			delete(s.running, g.root)
		}
		s.mu.Unlock()
	}()
	stop := context.AfterFunc(s.ctx, func() { cancel(ErrClosed) })
	defer stop()
	timer := s.clk.AfterFunc(s.cfg.Stall, func() { cancel(ErrStalled) })
	defer timer.Stop()
	g.stall = func() { timer.Reset(s.cfg.Stall) }
	unwatch := s.guard.watch(g.arrived)
	defer unwatch()

	s.connect(ctx, g.root, g.o.Providers)
	rootBlk, present, err := g.fetchOne(ctx, blockservice.NewSession(ctx, s.online), g.root)
	if err != nil {
		return g.fail(ctx, err)
	}
	size, err := declaredSize(rootBlk)
	if err != nil {
		return err
	}
	if size > s.cfg.MaxFileBytes {
		return fmt.Errorf("%w: %s declares %d bytes, MaxFileBytes is %d", ErrTooLarge, g.root, size, s.cfg.MaxFileBytes)
	}
	pin, err := s.Pinned(ctx, g.root)
	switch {
	case errors.Is(err, ErrNotPinned):
		if used := s.bstore.Used(); used+size > s.cfg.MaxStorageBytes {
			return fmt.Errorf("%w: %s is %d bytes, %d of MaxStorageBytes %d are held", ErrStorageFull, g.root, size, used, s.cfg.MaxStorageBytes)
		}
		pin = Pin{Root: g.root, Size: size, Added: s.clk.Now()}
	case err != nil:
		return err
	}
	if g.o.Name != "" {
		pin.Name = g.o.Name
	}
	pin.Size = size
	// Pinned before the rest arrives, so that a collection spares it and
	// a later get resumes from it.
	if !pin.Complete {
		if err := s.putPin(ctx, pin); err != nil {
			return err
		}
	}
	g.mu.Lock()
	g.prog.Size = size
	g.limit = size + size/64 + 1<<20
	g.mu.Unlock()
	g.count(rootBlk, present)
	g.report()

	level := []blocks.Block{rootBlk}
	for depth := 0; len(level) > 0; depth++ {
		if depth > maxDepth {
			return fmt.Errorf("%w: %s is more than %d levels deep", ErrTooLarge, g.root, maxDepth)
		}
		var children []cid.Cid
		for _, b := range level {
			ls, err := links(b)
			if err != nil {
				return fmt.Errorf("files: get %s: block %s: %w", g.root, b.Cid(), err)
			}
			children = append(children, ls...)
		}
		level, err = g.fetchLevel(ctx, children)
		if err != nil {
			return g.fail(ctx, err)
		}
	}
	if err := ctx.Err(); err != nil { // removed (or closed) as the last block came
		return g.fail(ctx, err)
	}
	if !pin.Complete {
		pin.Complete = true
		if err := s.putPin(context.WithoutCancel(ctx), pin); err != nil {
			return err
		}
	}
	g.mu.Lock()
	g.prog.Done = true
	g.mu.Unlock()
	s.provide(g.root)
	return nil
}

// fail gives the cause of a cancelled get (a stall, Close) over a
// context error, and ErrStorageFull if the cap refused blocks.
func (g *getter) fail(ctx context.Context, err error) error {
	if cause := context.Cause(ctx); cause != nil && ctx.Err() != nil {
		return fmt.Errorf("files: get %s: %w", g.root, cause)
	}
	if isFull(err) {
		return err
	}
	return fmt.Errorf("files: get %s: %w", g.root, err)
}

// connect connects to the providers given and, in the background, those
// the DHT names for root, so the session's broadcast reaches them.
func (s *Service) connect(ctx context.Context, root cid.Cid, given []peer.AddrInfo) {
	for _, ai := range given {
		if ai.ID == s.h.ID() {
			continue
		}
		if err := s.h.Connect(ctx, ai); err != nil {
			s.log.Debug("get: connect to given provider", "peer", ai.ID, "err", err)
		}
	}
	if s.router == nil {
		return
	}
	s.goOwned(func(sctx context.Context) {
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		stop := context.AfterFunc(sctx, cancel)
		defer stop()
		for ai := range s.router.FindProvidersCID(ctx, root, s.cfg.FindProviders) {
			if ai.ID == s.h.ID() || s.guard.dropped(ai.ID) {
				continue
			}
			if err := s.h.Connect(ctx, ai); err != nil {
				s.log.Debug("get: connect to provider", "peer", ai.ID, "err", err)
			}
		}
	})
}

// fetchOne returns c from the store or the session.
func (g *getter) fetchOne(ctx context.Context, sess *blockservice.Session, c cid.Cid) (blocks.Block, bool, error) {
	b, err := g.s.bstore.Get(ctx, c)
	if err == nil {
		return b, true, nil
	}
	if !ipld.IsNotFound(err) {
		return nil, false, err
	}
	if isEmptyBlock(c) {
		// Bitswap servers do not send empty blocks (they take size 0 for
		// absence); its bytes are known.
		b, err := blocks.NewBlockWithCid(nil, c)
		if err != nil {
			return nil, false, err
		}
		return b, false, g.s.bstore.Put(ctx, b)
	}
	g.want([]cid.Cid{c})
	b, err = sess.GetBlock(ctx, c)
	if err != nil {
		return nil, false, err
	}
	return b, false, nil
}

// fetchLevel makes every block of cs stored, in windows of Config.Window
// blocks, and returns those of them that may have links (not raw leaves).
// The windows run as runWindows paces them: Config.FirstWindows at once
// at first, one more for each that completes, up to Config.Windows.
func (g *getter) fetchLevel(ctx context.Context, cs []cid.Cid) ([]blocks.Block, error) {
	var (
		mu    sync.Mutex
		inner []blocks.Block
	)
	size := g.s.cfg.Window
	n := (len(cs) + size - 1) / size
	err := runWindows(ctx, n, g.s.cfg.FirstWindows, g.s.cfg.Windows, func(ctx context.Context, i int) error {
		win := cs[i*size : min((i+1)*size, len(cs))]
		got, err := g.fetchWindow(ctx, win)
		if err != nil {
			return err
		}
		mu.Lock()
		inner = append(inner, got...)
		mu.Unlock()
		g.report()
		return nil
	})
	if err != nil {
		return nil, err
	}
	return inner, nil
}

// runWindows runs fetch for windows 0 to n-1 in order, first of them at
// once and one more each time one completes (slow start), never more than
// most at once, and returns the first error (which cancels the ctx the
// others were given).
//
// Why not most at once from the start: a window's blocks go to the source
// whose HAVE answers first, and the want-haves of windows started at the
// same moment reach every source in one message, so the first source to
// answer takes them all. Started most (16 MiB) at once, three sources
// capped at 16 MB/s each got a 32 MiB file in the time one of them needed
// for that first wave; windows started one or two at a time are decided
// by separate races (docs/files.md, Three sources).
func runWindows(ctx context.Context, n, first, most int, fetch func(context.Context, int) error) error {
	first = max(1, min(first, most))
	eg, ctx := errgroup.WithContext(ctx)
	// Tokens to start a window: first at the start, and each window that
	// completes gives back its own and, until most were given, one more.
	// Never more than most exist, so sends never block.
	tokens := make(chan struct{}, most)
	for range first {
		tokens <- struct{}{}
	}
	var (
		mu    sync.Mutex
		given = first
	)
	for i := 0; i < n; i++ {
		select {
		case <-tokens:
		case <-ctx.Done(): // a window failed, or the get ended
			if err := eg.Wait(); err != nil {
				return err
			}
			return ctx.Err()
		}
		eg.Go(func() error {
			if err := fetch(ctx, i); err != nil {
				return err
			}
			mu.Lock()
			more := given < most
			if more {
				given++
			}
			mu.Unlock()
			tokens <- struct{}{}
			if more {
				tokens <- struct{}{}
			}
			return nil
		})
	}
	return eg.Wait()
}

// fetchWindow fetches the blocks of win that are not stored, in a
// Bitswap session of its own: a session's first wants go to every
// connected peer and later ones only to the peers that answered, so a
// session a window lets every provider in (one that lost the race to
// answer first, one found or connected since) at the cost of one
// broadcast of Window want-haves.
func (g *getter) fetchWindow(ctx context.Context, win []cid.Cid) ([]blocks.Block, error) {
	var (
		missing []cid.Cid
		inner   []blocks.Block
	)
	for _, c := range win {
		if c.Type() == cid.Raw {
			n, err := g.s.bstore.GetSize(ctx, c)
			switch {
			case err == nil:
				if err := g.countSize(n, true); err != nil {
					return nil, err
				}
			case ipld.IsNotFound(err):
				missing = append(missing, c)
			default:
				return nil, err
			}
			continue
		}
		b, err := g.s.bstore.Get(ctx, c)
		switch {
		case err == nil:
			if err := g.count(b, true); err != nil {
				return nil, err
			}
			inner = append(inner, b)
		case ipld.IsNotFound(err):
			missing = append(missing, c)
		default:
			return nil, err
		}
	}
	if len(missing) == 0 {
		return inner, nil
	}
	g.want(missing)
	defer g.s.guard.group(missing)()
	left := make(map[cid.Cid]struct{}, len(missing))
	for _, c := range missing {
		left[c] = struct{}{}
	}
	// A session that goes quiet for a sixth of Config.Stall is replaced by
	// a new one for what is left, whose first wants go to every connected
	// peer again: a want lost on the way (a stream reset, a source that
	// restarted) is asked again without waiting for Bitswap's rebroadcast.
	retry := g.s.cfg.Stall / 6
	refused := g.s.bstore.refused.Load()
	for len(left) > 0 {
		sctx, scancel := context.WithCancel(ctx)
		idle := g.s.clk.AfterFunc(retry, scancel)
		ks := make([]cid.Cid, 0, len(left))
		for c := range left {
			ks = append(ks, c)
		}
		for b := range blockservice.NewSession(sctx, g.s.online).GetBlocks(sctx, ks) {
			if _, ok := left[b.Cid()]; !ok {
				continue
			}
			idle.Reset(retry)
			delete(left, b.Cid())
			if err := g.count(b, false); err != nil {
				idle.Stop()
				scancel()
				return nil, err
			}
			g.report()
			if b.Cid().Type() != cid.Raw {
				inner = append(inner, b)
			}
		}
		idle.Stop()
		scancel()
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if g.s.bstore.refused.Load() != refused {
			return nil, fmt.Errorf("%w: %d of %d blocks did not fit in MaxStorageBytes %d", ErrStorageFull, len(left), len(missing), g.s.cfg.MaxStorageBytes)
		}
	}
	return inner, nil
}

// want records cs as asked for, for the peer count.
func (g *getter) want(cs []cid.Cid) {
	g.mu.Lock()
	for _, c := range cs {
		g.wanted[c] = struct{}{}
	}
	g.mu.Unlock()
}

// arrived is the guard's report of a wanted block from p.
func (g *getter) arrived(p peer.ID, c cid.Cid, _ int) {
	g.mu.Lock()
	if _, ok := g.wanted[c]; ok {
		delete(g.wanted, c)
		g.peers[p] = struct{}{}
	}
	g.mu.Unlock()
}

func (g *getter) count(b blocks.Block, present bool) error {
	return g.countSize(len(b.RawData()), present)
}

// countSize counts a block of n bytes and fails once the DAG passes the
// size its root declared.
func (g *getter) countSize(n int, present bool) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if present {
		g.prog.Present += int64(n)
		g.prog.PresentBlocks++
	} else {
		g.prog.Bytes += int64(n)
		g.prog.Blocks++
		if g.stall != nil {
			g.stall()
		}
	}
	g.bytes += int64(n)
	if g.limit > 0 && g.bytes > g.limit {
		return fmt.Errorf("%w: the DAG of %s passes the %d bytes its root declares", ErrTooLarge, g.root, g.prog.Size)
	}
	return nil
}

// emptySHA256 is the SHA-256 multihash of no bytes.
var emptySHA256 = func() string {
	h, _ := mh.Sum(nil, mh.SHA2_256, -1)
	return string(h)
}()

// isEmptyBlock reports whether c names the empty block.
func isEmptyBlock(c cid.Cid) bool { return string(c.Hash()) == emptySHA256 }

// links returns the links of a dag-pb block (none for a raw leaf).
func links(b blocks.Block) ([]cid.Cid, error) {
	if b.Cid().Type() == cid.Raw {
		return nil, nil
	}
	if b.Cid().Type() != cid.DagProtobuf {
		return nil, fmt.Errorf("%w: codec %#x", ErrNotFile, b.Cid().Type())
	}
	nd, err := merkledag.DecodeProtobufBlock(b)
	if err != nil {
		return nil, err
	}
	ls := nd.Links()
	out := make([]cid.Cid, len(ls))
	for i, l := range ls {
		out[i] = l.Cid
	}
	return out, nil
}

// declaredSize returns the size of the file whose root is b.
func declaredSize(b blocks.Block) (int64, error) {
	switch b.Cid().Type() {
	case cid.Raw:
		return int64(len(b.RawData())), nil
	case cid.DagProtobuf:
	default:
		return 0, fmt.Errorf("%w: root codec %#x", ErrNotFile, b.Cid().Type())
	}
	nd, err := merkledag.DecodeProtobufBlock(b)
	if err != nil {
		return 0, fmt.Errorf("files: root %s: %w", b.Cid(), err)
	}
	fsn, err := unixfs.ExtractFSNode(nd)
	if err != nil {
		return 0, fmt.Errorf("files: root %s: %w", b.Cid(), err)
	}
	switch fsn.Type() {
	case unixfs.TFile, unixfs.TRaw:
	default:
		return 0, fmt.Errorf("%w: %s is a UnixFS %s", ErrNotFile, b.Cid(), fsn.Type())
	}
	size := fsn.FileSize()
	if size > 1<<62 {
		return 0, fmt.Errorf("%w: %s declares %d bytes", ErrTooLarge, b.Cid(), size)
	}
	return int64(size), nil
}
