package files

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/ipfs/boxo/bitswap"
	bsnetwork "github.com/ipfs/boxo/bitswap/network"
	"github.com/ipfs/boxo/bitswap/network/bsnet"
	"github.com/ipfs/boxo/blockservice"
	chunker "github.com/ipfs/boxo/chunker"
	"github.com/ipfs/boxo/ipld/merkledag"
	"github.com/ipfs/boxo/ipld/unixfs/importer/balanced"
	"github.com/ipfs/boxo/ipld/unixfs/importer/helpers"
	ufsio "github.com/ipfs/boxo/ipld/unixfs/io"
	"github.com/ipfs/go-cid"
	ds "github.com/ipfs/go-datastore"
	"github.com/ipfs/go-datastore/query"
	ipld "github.com/ipfs/go-ipld-format"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	mh "github.com/multiformats/go-multihash"
	"golang.org/x/sync/errgroup"

	"github.com/fog-compute/fog/internal/clock"
	"github.com/fog-compute/fog/internal/notify"
	"github.com/fog-compute/fog/p2p"
	"github.com/fog-compute/fog/store"
)

// Errors callers branch on.
var (
	// ErrTooLarge refuses a file above Config.MaxFileBytes.
	ErrTooLarge = errors.New("files: file too large")
	// ErrStorageFull refuses blocks beyond Config.MaxStorageBytes.
	ErrStorageFull = errors.New("files: block storage full")
	// ErrStalled ends a get when no block arrived for Config.Stall.
	ErrStalled = errors.New("files: no block arrived in time")
	// ErrNotFile refuses a root that is not a UnixFS file (a directory).
	ErrNotFile = errors.New("files: not a file")
	// ErrNotPinned is returned for a CID that is not pinned.
	ErrNotPinned = errors.New("files: not pinned")
	// ErrIncomplete is returned by Export for a file whose blocks are not
	// all stored.
	ErrIncomplete = errors.New("files: file incomplete")
	// ErrClosed is returned after Close.
	ErrClosed = errors.New("files: closed")
	// ErrRemoved ends a get of a file removed meanwhile.
	ErrRemoved = errors.New("files: removed while fetched")
)

// Router announces and finds the providers of a CID: the node's DHT.
type Router interface {
	ProvideCID(ctx context.Context, c cid.Cid) error
	FindProvidersCID(ctx context.Context, c cid.Cid, limit int) <-chan peer.AddrInfo
}

// Options are a Service's collaborators.
type Options struct {
	// Host is the node's libp2p host; Bitswap speaks on it. Required.
	Host host.Host
	// Datastore keeps the pins: the node's store rooted at
	// store.PrefixFiles. Required. Blocks an older version kept in it are
	// moved to Dir when the Service starts.
	Datastore ds.Batching
	// Dir is the directory of the block files, beside the store (a node's
	// is files/ in its data directory); "" keeps the blocks in memory (an
	// in-memory node: the simulator, tests).
	Dir string
	// Router announces the roots this node keeps and finds who has a root
	// it gets; nil leaves gets to the peers they are given and the peers
	// connected.
	Router Router
	// OnBadPeer, if set, is told of each peer the Service drops.
	OnBadPeer func(p peer.ID, reason string)
	// Logger receives the Service's logs; nil discards them.
	Logger *slog.Logger
}

// Service shares and fetches files. It is safe for concurrent use.
type Service struct {
	cfg    Config
	h      host.Host
	ds     ds.Batching
	router Router
	log    *slog.Logger
	clk    clock.Clock

	bstore  *blockStore
	bs      *bitswap.Bitswap
	online  blockservice.BlockService
	offline ipld.DAGService
	guard   *guard
	srv     *p2p.Server

	gcMu  sync.RWMutex // Share holds it shared, GC alone
	pinMu sync.Mutex   // serialises pin record updates
	gets  chan struct{}

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	changed notify.Signal // a transfer or a share started, moved or ended

	mu        sync.Mutex
	shares    map[*sharing]struct{} // shares under way
	transfers map[cid.Cid]*transfer
	running   map[cid.Cid]map[*getter]context.CancelCauseFunc // gets under way, for Remove to stop
	closed    bool
	closeOnce sync.Once
}

// New starts Bitswap on o.Host over the blocks in o.Datastore.
func New(cfg Config, o Options) (*Service, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if o.Host == nil || o.Datastore == nil {
		return nil, errors.New("files: Options.Host and Options.Datastore are required")
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Service{
		cfg: cfg, h: o.Host, ds: o.Datastore, router: o.Router, log: log, clk: cfg.Clock,
		gets: make(chan struct{}, cfg.MaxGets), ctx: ctx, cancel: cancel,
		shares: make(map[*sharing]struct{}), transfers: make(map[cid.Cid]*transfer), running: make(map[cid.Cid]map[*getter]context.CancelCauseFunc),
	}
	bstore, err := openBlockStore(o.Dir, cfg.MaxStorageBytes, log)
	if err != nil {
		cancel()
		return nil, err
	}
	moved, err := bstore.migrate(ctx, o.Datastore)
	if err != nil {
		cancel()
		return nil, err
	}
	if moved > 0 {
		log.Info("moved blocks out of the store into block files", "blocks", moved, "dir", o.Dir)
	}
	s.bstore = bstore
	s.srv, err = p2p.NewServer(o.Host, "bitswap", p2p.Limits{
		Streams: cfg.Streams, StreamsPerPeer: cfg.StreamsPerPeer,
		Idle: cfg.StreamIdle, Lifetime: 24 * time.Hour, Clock: cfg.Clock,
	})
	if err != nil {
		cancel()
		return nil, fmt.Errorf("files: %w", err)
	}
	s.guard = newGuard(cfg, o.Host, log, o.OnBadPeer)
	evm := bsnetwork.NewConnectEventManager()
	net := &guardNet{
		BitSwapNetwork: bsnet.NewFromIpfsHost(limitedHost{Host: o.Host, srv: s.srv}, bsnet.WithConnectEventManager(evm)),
		g:              s.guard, evm: evm,
	}
	var finder finder
	if o.Router != nil {
		finder.r = o.Router
	}
	s.bs = bitswap.New(ctx, net, finder, bstore,
		bitswap.ProviderSearchDelay(time.Second),
		bitswap.WithoutDuplicatedBlockStats(),
		bitswap.SetSimulateDontHavesOnTimeout(false),
	)
	s.online = blockservice.New(bstore, s.bs)
	s.offline = merkledag.NewDAGService(blockservice.New(bstore, nil))
	return s, nil
}

// finder lets Bitswap's sessions ask the Router for more providers.
type finder struct{ r Router }

func (f finder) FindProvidersAsync(ctx context.Context, c cid.Cid, limit int) <-chan peer.AddrInfo {
	if f.r == nil {
		ch := make(chan peer.AddrInfo)
		close(ch)
		return ch
	}
	return f.r.FindProvidersCID(ctx, c, limit)
}

// Name implements the node's Service interface.
func (s *Service) Name() string { return "files" }

// Health implements the node's HealthChecker.
func (s *Service) Health(context.Context) error {
	if s.ctx.Err() != nil {
		return ErrClosed
	}
	return nil
}

// Run announces the roots of complete pinned files now and every
// Config.ReprovideInterval, until ctx ends.
func (s *Service) Run(ctx context.Context, ready func()) error {
	ready()
	t := s.clk.NewTicker(s.cfg.ReprovideInterval)
	defer t.Stop()
	for {
		s.reprovide(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-s.ctx.Done():
			return nil
		case <-t.C():
		}
	}
}

func (s *Service) reprovide(ctx context.Context) {
	if s.router == nil {
		return
	}
	pins, err := s.List(ctx)
	if err != nil {
		s.log.Warn("reprovide: list pins", "err", err)
		return
	}
	for _, p := range pins {
		if !p.Complete {
			continue
		}
		if err := s.router.ProvideCID(ctx, p.Root); err != nil && ctx.Err() == nil {
			s.log.Debug("reprovide", "root", p.Root, "err", err)
		}
	}
}

// provide announces root in the background.
func (s *Service) provide(root cid.Cid) {
	if s.router == nil {
		return
	}
	s.goOwned(func(ctx context.Context) {
		if err := s.router.ProvideCID(ctx, root); err != nil && ctx.Err() == nil {
			s.log.Debug("provide", "root", root, "err", err)
		}
	})
}

// goOwned runs f on a goroutine the Service owns, with its context.
func (s *Service) goOwned(f func(ctx context.Context)) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.wg.Go(func() { f(s.ctx) })
	return true
}

// Close stops Bitswap and the transfers and waits for them. It is
// idempotent.
func (s *Service) Close() error {
	var err error
	s.closeOnce.Do(func() {
		s.mu.Lock()
		s.closed = true
		s.mu.Unlock()
		s.cancel()
		s.wg.Wait()
		err = s.bs.Close()
	})
	return err
}

// Stats describe the blocks held and the peers.
type Stats struct {
	// StoredBytes is the bytes of all blocks held; MaxStorageBytes the cap.
	StoredBytes     int64 `json:"stored_bytes"`
	MaxStorageBytes int64 `json:"max_storage_bytes"`
	// Peers are the Bitswap peers that sent blocks, worst score first.
	Peers []PeerScore `json:"peers"`
}

// Stats returns the blocks held and the peers' scores.
func (s *Service) Stats() Stats {
	return Stats{StoredBytes: s.bstore.Used(), MaxStorageBytes: s.cfg.MaxStorageBytes, Peers: s.guard.scores()}
}

// cidBuilder makes the CIDs of shared files' nodes: CIDv1, SHA-256, as
// kubo's --cid-version=1.
var cidBuilder = cid.V1Builder{Codec: cid.DagProtobuf, MhType: mh.SHA2_256}

// Share imports the file at path (UnixFS, balanced DAG, raw leaves of
// Config.ChunkBytes, CIDv1), pins it and announces its root. progress, if
// set, is told the bytes read so far as they are.
func (s *Service) Share(ctx context.Context, path string, progress func(read, size int64)) (Pin, error) {
	f, err := os.Open(path)
	if err != nil {
		return Pin{}, fmt.Errorf("files: share: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return Pin{}, fmt.Errorf("files: share: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return Pin{}, fmt.Errorf("files: share %s: %w", path, ErrNotFile)
	}
	return s.share(ctx, f, path, filepath.Base(path), fi.Size(), progress)
}

// ShareReader imports size bytes from r as Share imports a file, under
// name.
func (s *Service) ShareReader(ctx context.Context, r io.Reader, name string, size int64, progress func(read, size int64)) (Pin, error) {
	return s.share(ctx, r, "", name, size, progress)
}

// share imports r, shown in Shares under path and name while it runs.
func (s *Service) share(ctx context.Context, r io.Reader, path, name string, size int64, progress func(read, size int64)) (Pin, error) {
	if err := checkName(name); err != nil {
		return Pin{}, fmt.Errorf("files: share: %w", err)
	}
	if size > s.cfg.MaxFileBytes {
		return Pin{}, fmt.Errorf("%w: %s is %d bytes, MaxFileBytes is %d", ErrTooLarge, name, size, s.cfg.MaxFileBytes)
	}
	if used := s.bstore.Used(); used+size > s.cfg.MaxStorageBytes {
		return Pin{}, fmt.Errorf("%w: %s is %d bytes, %d of MaxStorageBytes %d are held", ErrStorageFull, name, size, used, s.cfg.MaxStorageBytes)
	}
	s.gcMu.RLock()
	defer s.gcMu.RUnlock()
	sh := s.startSharing(path, name, size)
	defer s.endSharing(sh)
	add := newAdder(ctx, s.offline, s.bstore)
	cr := &countReader{r: r, ctx: add.ctx, max: s.cfg.MaxFileBytes, size: size, progress: func(read, size int64) {
		s.moveSharing(sh, read)
		if progress != nil {
			progress(read, size)
		}
	}}
	params := helpers.DagBuilderParams{
		Maxlinks: helpers.DefaultLinksPerBlock, RawLeaves: true, CidBuilder: cidBuilder, Dagserv: add,
	}
	db, err := params.New(chunker.NewSizeSplitter(cr, int64(s.cfg.ChunkBytes)))
	if err != nil {
		return Pin{}, fmt.Errorf("files: share %s: %w", name, errors.Join(err, add.wait()))
	}
	nd, err := balanced.Layout(db)
	if werr := add.wait(); werr != nil {
		err = werr // the first block refused is the cause
	}
	if err != nil {
		return Pin{}, fmt.Errorf("files: share %s: %w", name, err)
	}
	p := Pin{Root: nd.Cid(), Name: name, Size: cr.n, Complete: true, Added: s.clk.Now()}
	if err := s.putPin(ctx, p); err != nil {
		return Pin{}, err
	}
	s.provide(p.Root)
	return p, nil
}

// adder is the DAG service a share's importer writes through: it stores
// up to addWorkers blocks at once, so that their files are synced
// together rather than one after another. The importer only adds.
type adder struct {
	ipld.DAGService
	bs  *blockStore
	ctx context.Context
	eg  *errgroup.Group
}

// addWorkers bounds the blocks a share writes at once (and holds: 2 MiB
// of 256 KiB leaves).
const addWorkers = 8

func newAdder(ctx context.Context, d ipld.DAGService, bs *blockStore) *adder {
	eg, ctx := errgroup.WithContext(ctx)
	eg.SetLimit(addWorkers)
	return &adder{DAGService: d, bs: bs, ctx: ctx, eg: eg}
}

// Add stores nd in the background; wait returns the first error.
func (a *adder) Add(_ context.Context, nd ipld.Node) error {
	if err := a.ctx.Err(); err != nil {
		return err
	}
	a.eg.Go(func() error { return a.bs.Put(a.ctx, nd) })
	return nil
}

// AddMany stores each node as Add does.
func (a *adder) AddMany(ctx context.Context, nds []ipld.Node) error {
	for _, nd := range nds {
		if err := a.Add(ctx, nd); err != nil {
			return err
		}
	}
	return nil
}

// wait waits for the blocks added and returns the first error.
func (a *adder) wait() error { return a.eg.Wait() }

// countReader counts the bytes read, checks ctx, fails past max and
// reports progress.
type countReader struct {
	r            io.Reader
	ctx          context.Context
	n, max, size int64
	progress     func(read, size int64)
}

func (c *countReader) Read(b []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	n, err := c.r.Read(b)
	c.n += int64(n)
	if c.n > c.max {
		return n, fmt.Errorf("%w: more than MaxFileBytes %d bytes read", ErrTooLarge, c.max)
	}
	if c.progress != nil && n > 0 {
		c.progress(c.n, c.size)
	}
	return n, err
}

// pinKey is the key of root's pin record.
func pinKey(root cid.Cid) ds.Key { return store.Key("pin", root.String()) }

func (s *Service) putPin(ctx context.Context, p Pin) error {
	if err := s.ds.Put(ctx, pinKey(p.Root), p.Marshal()); err != nil {
		return fmt.Errorf("files: pin %s: %w", p.Root, err)
	}
	return nil
}

// Pinned returns root's pin record, or ErrNotPinned.
func (s *Service) Pinned(ctx context.Context, root cid.Cid) (Pin, error) {
	b, err := s.ds.Get(ctx, pinKey(root))
	if errors.Is(err, ds.ErrNotFound) {
		return Pin{}, fmt.Errorf("%w: %s", ErrNotPinned, root)
	}
	if err != nil {
		return Pin{}, fmt.Errorf("files: %w", err)
	}
	return DecodePin(root, b)
}

// List returns the pinned files, oldest first.
func (s *Service) List(ctx context.Context) ([]Pin, error) {
	res, err := s.ds.Query(ctx, query.Query{Prefix: "/pin"})
	if err != nil {
		return nil, fmt.Errorf("files: list: %w", err)
	}
	defer res.Close()
	var out []Pin
	for r := range res.Next() {
		if r.Error != nil {
			return nil, fmt.Errorf("files: list: %w", r.Error)
		}
		_, id, err := store.ParseKey(ds.RawKey(r.Key))
		if err != nil {
			continue
		}
		root, err := cid.Decode(id)
		if err != nil {
			s.log.Warn("list: bad pin key", "key", r.Key)
			continue
		}
		p, err := DecodePin(root, r.Value)
		if err != nil {
			s.log.Warn("list: bad pin record", "key", r.Key, "err", err)
			continue
		}
		out = append(out, p)
	}
	slices.SortFunc(out, func(a, b Pin) int { return a.Added.Compare(b.Added) })
	return out, nil
}

// GCStats reports a garbage collection.
type GCStats struct {
	// Removed counts the blocks deleted and Freed their bytes.
	Removed int   `json:"removed"`
	Freed   int64 `json:"freed"`
}

// Remove unpins root, stops and forgets a get of it, and collects the blocks no
// other pin needs.
func (s *Service) Remove(ctx context.Context, root cid.Cid) (GCStats, error) {
	if _, err := s.Pinned(ctx, root); err != nil {
		return GCStats{}, err
	}
	s.mu.Lock()
	if t := s.transfers[root]; t != nil {
		if t.cancel != nil {
			t.cancel()
		}
		delete(s.transfers, root)
	}
	for _, cancel := range s.running[root] {
		cancel(ErrRemoved)
	}
	s.mu.Unlock()
	s.changed.Notify()
	if err := s.ds.Delete(ctx, pinKey(root)); err != nil {
		return GCStats{}, fmt.Errorf("files: unpin %s: %w", root, err)
	}
	return s.GC(ctx)
}

// GC deletes every block that no pin reaches. Blocks written while it
// runs are spared, and Share waits for it (its blocks are pinned only
// once its root exists); a get's blocks are reachable from its pin as
// they arrive, parents first.
func (s *Service) GC(ctx context.Context) (GCStats, error) {
	s.gcMu.Lock()
	defer s.gcMu.Unlock()
	s.bstore.beginGC()
	defer s.bstore.endGC()
	pins, err := s.List(ctx)
	if err != nil {
		return GCStats{}, err
	}
	marked := make(map[string]struct{})
	for _, p := range pins {
		if err := s.mark(ctx, p.Root, marked); err != nil {
			return GCStats{}, err
		}
	}
	keys, err := s.bstore.AllKeysChan(ctx)
	if err != nil {
		return GCStats{}, fmt.Errorf("files: gc: %w", err)
	}
	var doomed []cid.Cid
	for c := range keys {
		mhs := string(c.Hash())
		if _, ok := marked[mhs]; !ok {
			doomed = append(doomed, c)
		}
	}
	if err := ctx.Err(); err != nil {
		return GCStats{}, fmt.Errorf("files: gc: %w", err)
	}
	var st GCStats
	for _, c := range doomed {
		if s.bstore.isFresh(string(c.Hash())) {
			continue
		}
		n, err := s.bstore.GetSize(ctx, c)
		if err != nil {
			continue
		}
		if err := s.bstore.DeleteBlock(ctx, c); err != nil {
			return st, fmt.Errorf("files: gc: %w", err)
		}
		st.Removed++
		st.Freed += int64(n)
	}
	return st, nil
}

// mark adds the multihashes of the stored blocks under root to marked.
func (s *Service) mark(ctx context.Context, root cid.Cid, marked map[string]struct{}) error {
	level := []cid.Cid{root}
	for len(level) > 0 {
		var next []cid.Cid
		for _, c := range level {
			marked[string(c.Hash())] = struct{}{}
			if c.Type() == cid.Raw {
				continue
			}
			blk, err := s.bstore.Get(ctx, c)
			if ipld.IsNotFound(err) {
				continue
			}
			if err != nil {
				return fmt.Errorf("files: gc: %w", err)
			}
			nd, err := merkledag.DecodeProtobufBlock(blk)
			if err != nil {
				continue // not a dag-pb node: nothing under it
			}
			for _, l := range nd.Links() {
				next = append(next, l.Cid)
			}
		}
		level = next
	}
	return nil
}

// Export writes root's file to w from the blocks stored, or fails with
// ErrIncomplete if one is missing.
func (s *Service) Export(ctx context.Context, root cid.Cid, w io.Writer) error {
	nd, err := s.offline.Get(ctx, root)
	if err != nil {
		if ipld.IsNotFound(err) {
			return fmt.Errorf("%w: %s: root missing", ErrIncomplete, root)
		}
		return fmt.Errorf("files: export %s: %w", root, err)
	}
	r, err := ufsio.NewDagReader(ctx, nd, oneByOne{s.offline})
	if err != nil {
		return fmt.Errorf("files: export %s: %w", root, err)
	}
	defer r.Close()
	if _, err := io.Copy(w, r); err != nil {
		if ipld.IsNotFound(err) {
			return fmt.Errorf("%w: %s: %v", ErrIncomplete, root, err)
		}
		return fmt.Errorf("files: export %s: %w", root, err)
	}
	return nil
}

// ExportFile writes root's file to path: to a temporary file beside it,
// synced, then renamed, so that path is the whole file or untouched.
func (s *Service) ExportFile(ctx context.Context, root cid.Cid, path string) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".part-*")
	if err != nil {
		return fmt.Errorf("files: export: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := s.Export(ctx, root, tmp); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("files: export: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("files: export: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("files: export: %w", err)
	}
	return nil
}

// oneByOne reads the nodes a DAG reader asks for one after another, and
// reports a missing one as ipld.ErrNotFound (merkledag's GetMany says
// only "failed to fetch all nodes"), so Export can say ErrIncomplete.
type oneByOne struct{ ipld.DAGService }

func (g oneByOne) GetMany(ctx context.Context, cs []cid.Cid) <-chan *ipld.NodeOption {
	out := make(chan *ipld.NodeOption, len(cs))
	defer close(out)
	for _, c := range cs {
		nd, err := g.Get(ctx, c)
		out <- &ipld.NodeOption{Node: nd, Err: err}
		if err != nil {
			break
		}
	}
	return out
}
