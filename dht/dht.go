package dht

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/ipfs/go-cid"
	ds "github.com/ipfs/go-datastore"
	kaddht "github.com/libp2p/go-libp2p-kad-dht"
	kb "github.com/libp2p/go-libp2p-kbucket"
	record "github.com/libp2p/go-libp2p-record"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/peerstore"
	"github.com/libp2p/go-libp2p/core/protocol"
	"github.com/libp2p/go-libp2p/core/routing"
	ma "github.com/multiformats/go-multiaddr"
	mh "github.com/multiformats/go-multihash"
)

// ProtocolPrefix is the prefix of fog's DHT protocol: /fog/kad/1.0.0.
const ProtocolPrefix = "/fog"

// ProtocolID is fog's DHT protocol, which go-libp2p-kad-dht serves (the
// node gives it resource-manager limits).
const ProtocolID protocol.ID = ProtocolPrefix + "/kad/1.0.0"

// snapshotKey is where the routing table snapshot lives in the DHT's
// datastore (the node roots it at /dht).
var snapshotKey = ds.NewKey("/rt/snapshot")

// ErrNotFound is returned when a lookup finds nothing.
var ErrNotFound = routing.ErrNotFound

// DHT is a node's Kademlia DHT: go-libp2p-kad-dht with protocol prefix /fog,
// its records and provider records in the node's store, a validator for
// fog's signed records, a routing table saved to the store and restored at
// start, and periodic refreshes. It is safe for concurrent use.
type DHT struct {
	cfg  Config
	kad  *kaddht.IpfsDHT
	h    host.Host
	priv crypto.PrivKey
	ds   ds.Datastore
	log  *slog.Logger

	mu          sync.Mutex
	lastRefresh time.Time
	refreshErr  error
	refreshes   int
	restored    int
	putSeq      map[string]uint64 // highest seq this node published per name

	closeOnce sync.Once
	closeErr  error
}

// Options are New's collaborators.
type Options struct {
	// Host is the node's libp2p host. Required.
	Host host.Host
	// Identity signs the node's records. Required.
	Identity crypto.PrivKey
	// Datastore keeps records, provider records and the routing table
	// snapshot; the node passes its Badger store rooted at /dht. Required.
	Datastore ds.Batching
	// Bootstrap are peers to (re)join through when the routing table is
	// empty.
	Bootstrap []peer.AddrInfo
	// Logger receives the DHT's logs; nil discards them.
	Logger *slog.Logger
}

// New starts the DHT on the host and restores the routing table saved by a
// previous run. Refreshes and snapshots run in Run.
func New(ctx context.Context, cfg Config, o Options) (*DHT, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if o.Host == nil || o.Identity == nil || o.Datastore == nil {
		return nil, fmt.Errorf("%w: host, identity and datastore are required", ErrConfig)
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	mode := map[string]kaddht.ModeOpt{ModeAuto: kaddht.ModeAuto, ModeServer: kaddht.ModeServer, ModeClient: kaddht.ModeClient}[cfg.Mode]
	boot := o.Bootstrap
	kad, err := kaddht.New(o.Host,
		kaddht.ProtocolPrefix(ProtocolPrefix),
		kaddht.Mode(mode),
		kaddht.Datastore(o.Datastore),
		kaddht.Validator(record.NamespacedValidator{Namespace: Validator{}}),
		kaddht.BucketSize(cfg.BucketSize),
		kaddht.Concurrency(cfg.Concurrency),
		kaddht.Resiliency(cfg.Resiliency),
		kaddht.RoutingTableRefreshQueryTimeout(cfg.RefreshQueryTimeout),
		kaddht.MaxRecordAge(cfg.MaxRecordAge),
		kaddht.DisableAutoRefresh(), // Run refreshes, so it knows when it last did
		kaddht.BootstrapPeersFunc(func() []peer.AddrInfo { return boot }),
	)
	if err != nil {
		return nil, fmt.Errorf("dht: start: %w", err)
	}
	d := &DHT{cfg: cfg, kad: kad, h: o.Host, priv: o.Identity, ds: o.Datastore, log: log, putSeq: map[string]uint64{}}
	if err := d.restore(ctx); err != nil {
		log.Warn("routing table snapshot unreadable; starting empty", "err", err)
	}
	return d, nil
}

// Kad returns the underlying go-libp2p-kad-dht, for routing users such as
// gossip discovery.
func (d *DHT) Kad() *kaddht.IpfsDHT { return d.kad }

// Name implements the node's Service interface.
func (d *DHT) Name() string { return "dht" }

// Run refreshes the routing table every RefreshInterval (and promptly while
// it holds fewer than LowPeers peers) and saves it every SnapshotInterval,
// until ctx ends; it saves once more on the way out.
func (d *DHT) Run(ctx context.Context, ready func()) error {
	ready()
	snap := time.NewTicker(d.cfg.SnapshotInterval)
	defer snap.Stop()
	check := time.NewTicker(min(d.cfg.LowPeersBackoff, d.cfg.RefreshInterval))
	defer check.Stop()
	refreshDone := make(chan error, 1)
	refreshing := false
	lastSize := -1
	var lastStart time.Time
	startRefresh := func() {
		refreshing, lastStart = true, time.Now()
		lastSize = d.kad.RoutingTable().Size()
		ch := d.kad.RefreshRoutingTable()
		go func() {
			select {
			case err := <-ch:
				refreshDone <- err
			case <-ctx.Done():
				refreshDone <- ctx.Err()
			}
		}()
	}
	defer func() {
		if refreshing {
			<-refreshDone
		}
	}()
	for {
		select {
		case <-ctx.Done():
			if err := d.saveSnapshot(context.WithoutCancel(ctx)); err != nil {
				d.log.Warn("saving routing table", "err", err)
			}
			return nil
		case err := <-refreshDone:
			refreshing = false
			d.mu.Lock()
			d.lastRefresh, d.refreshErr = time.Now(), err
			d.refreshes++
			d.mu.Unlock()
			if err != nil && ctx.Err() == nil {
				d.log.Debug("routing table refresh", "err", err)
			}
		case <-check.C:
			size := d.kad.RoutingTable().Size()
			due := time.Since(lastStart) >= d.cfg.RefreshInterval
			low := size > 0 && size < d.cfg.LowPeers && size != lastSize && time.Since(lastStart) >= d.cfg.LowPeersBackoff
			first := lastStart.IsZero() && size > 0
			if !refreshing && (due && size > 0 || low || first) {
				startRefresh()
			}
		case <-snap.C:
			if err := d.saveSnapshot(ctx); err != nil && ctx.Err() == nil {
				d.log.Warn("saving routing table", "err", err)
			}
		}
	}
}

// Health implements the node's HealthChecker: the DHT is unhealthy when the
// node has peers but none of them made it into the routing table.
func (d *DHT) Health(context.Context) error {
	if d.kad.RoutingTable().Size() == 0 && len(d.h.Network().Peers()) > 0 {
		return errors.New("routing table is empty although the node has peers")
	}
	return nil
}

// savedPeer is one routing-table entry in the snapshot.
type savedPeer struct {
	ID    string   `json:"id"`
	Addrs []string `json:"addrs"`
}

// saveSnapshot writes the routing table's peers and their addresses to the
// store, synced.
func (d *DHT) saveSnapshot(ctx context.Context) error {
	var peers []savedPeer
	for _, p := range d.kad.RoutingTable().ListPeers() {
		addrs := d.h.Peerstore().Addrs(p)
		if len(addrs) == 0 {
			continue
		}
		sp := savedPeer{ID: p.String()}
		for _, a := range addrs {
			sp.Addrs = append(sp.Addrs, a.String())
		}
		peers = append(peers, sp)
	}
	b, err := json.Marshal(peers)
	if err != nil {
		return err
	}
	if err := d.ds.Put(ctx, snapshotKey, b); err != nil {
		return fmt.Errorf("dht: save routing table: %w", err)
	}
	return d.ds.Sync(ctx, snapshotKey)
}

// SaveSnapshot saves the routing table now (Run does so periodically).
func (d *DHT) SaveSnapshot(ctx context.Context) error { return d.saveSnapshot(ctx) }

// restore puts the peers of the last snapshot back into the peerstore and
// the routing table, so a restarted node can route before it reconnects.
func (d *DHT) restore(ctx context.Context) error {
	b, err := d.ds.Get(ctx, snapshotKey)
	if errors.Is(err, ds.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	var peers []savedPeer
	if err := json.Unmarshal(b, &peers); err != nil {
		return err
	}
	n := 0
	for _, sp := range peers {
		id, err := peer.Decode(sp.ID)
		if err != nil || id == d.h.ID() {
			continue
		}
		var addrs []ma.Multiaddr
		for _, s := range sp.Addrs {
			if a, err := ma.NewMultiaddr(s); err == nil {
				addrs = append(addrs, a)
			}
		}
		if len(addrs) == 0 {
			continue
		}
		d.h.Peerstore().AddAddrs(id, addrs, peerstore.RecentlyConnectedAddrTTL)
		if ok, _ := d.kad.RoutingTable().TryAddPeer(id, true, true); ok {
			n++
		}
	}
	d.mu.Lock()
	d.restored = n
	d.mu.Unlock()
	if n > 0 {
		d.log.Info("routing table restored from the store", "peers", n)
	}
	return nil
}

// FindPeer looks up a peer's addresses.
func (d *DHT) FindPeer(ctx context.Context, id peer.ID) (peer.AddrInfo, error) {
	ai, err := d.kad.FindPeer(ctx, id)
	if err != nil {
		return peer.AddrInfo{}, fmt.Errorf("dht: find peer %s: %w", id, err)
	}
	return ai, nil
}

// KeyCID maps an application key (a task module hash, a mailbox name) to the
// content ID under which it is provided: CIDv1, raw codec, SHA-256 of key.
func KeyCID(key string) cid.Cid {
	sum := sha256.Sum256([]byte(key))
	m, _ := mh.Encode(sum[:], mh.SHA2_256)
	return cid.NewCidV1(cid.Raw, m)
}

// Provide announces that this node provides key, to the peers closest to it.
func (d *DHT) Provide(ctx context.Context, key string) error {
	if err := d.kad.Provide(ctx, KeyCID(key), true); err != nil {
		return fmt.Errorf("dht: provide %q: %w", key, err)
	}
	return nil
}

// FindProviders returns up to limit providers of key (limit <= 0: 20).
func (d *DHT) FindProviders(ctx context.Context, key string, limit int) ([]peer.AddrInfo, error) {
	if limit <= 0 {
		limit = 20
	}
	var out []peer.AddrInfo
	for ai := range d.kad.FindProvidersAsync(ctx, KeyCID(key), limit) {
		out = append(out, ai)
	}
	if len(out) == 0 && ctx.Err() != nil {
		return nil, fmt.Errorf("dht: find providers of %q: %w", key, ctx.Err())
	}
	return out, nil
}

// PutRecord signs value as this node's record name with a sequence above any
// it knows of, and stores it at the closest peers.
func (d *DHT) PutRecord(ctx context.Context, name string, value []byte) (Record, error) {
	if err := ValidateName(name); err != nil {
		return Record{}, err
	}
	key := RecordKey(d.h.ID(), name)
	d.mu.Lock()
	seq := d.putSeq[name]
	d.mu.Unlock()
	// Continue after whatever the network or our store holds, so a node
	// that lost its memory of the last sequence does not publish stale.
	if b, err := d.kad.GetValue(ctx, key, kaddht.Quorum(1)); err == nil {
		if r, err := DecodeRecord(key, b); err == nil && r.Seq > seq {
			seq = r.Seq
		}
	}
	r, err := SignRecord(d.priv, name, seq+1, value)
	if err != nil {
		return Record{}, err
	}
	if err := d.kad.PutValue(ctx, key, r.Marshal()); err != nil {
		return Record{}, fmt.Errorf("dht: put %s: %w", key, err)
	}
	d.mu.Lock()
	d.putSeq[name] = max(d.putSeq[name], r.Seq)
	d.mu.Unlock()
	return r, nil
}

// GetRecord returns the newest valid record owner published as name.
func (d *DHT) GetRecord(ctx context.Context, owner peer.ID, name string) (Record, error) {
	if err := ValidateName(name); err != nil {
		return Record{}, err
	}
	key := RecordKey(owner, name)
	b, err := d.kad.GetValue(ctx, key)
	if err != nil {
		return Record{}, fmt.Errorf("dht: get %s: %w", key, err)
	}
	return DecodeRecord(key, b)
}

// Bucket is one bucket of the routing table.
type Bucket struct {
	// Index is the bucket's common prefix length with this node's ID.
	Index int `json:"index"`
	// Peers is how many peers it holds.
	Peers int `json:"peers"`
}

// TableInfo describes the routing table, for dht.routingTable.
type TableInfo struct {
	Mode        string    `json:"mode"`
	Size        int       `json:"size"`
	BucketSize  int       `json:"bucket_size"`
	Buckets     []Bucket  `json:"buckets"`
	LastRefresh time.Time `json:"last_refresh,omitzero"`
	RefreshErr  string    `json:"refresh_error,omitempty"`
	Refreshes   int       `json:"refreshes"`
	Restored    int       `json:"restored_from_store"`
}

// Table describes the routing table.
func (d *DHT) Table() TableInfo {
	rt := d.kad.RoutingTable()
	self := kb.ConvertPeerID(d.h.ID())
	counts := map[int]int{}
	for _, p := range rt.ListPeers() {
		counts[kb.CommonPrefixLen(self, kb.ConvertPeerID(p))]++
	}
	info := TableInfo{Size: rt.Size(), BucketSize: d.cfg.BucketSize, Buckets: []Bucket{}}
	switch d.kad.Mode() {
	case kaddht.ModeServer:
		info.Mode = ModeServer
	default:
		info.Mode = ModeClient
	}
	for i, c := range counts {
		info.Buckets = append(info.Buckets, Bucket{Index: i, Peers: c})
	}
	sort.Slice(info.Buckets, func(i, j int) bool { return info.Buckets[i].Index < info.Buckets[j].Index })
	d.mu.Lock()
	info.LastRefresh, info.Refreshes, info.Restored = d.lastRefresh, d.refreshes, d.restored
	if d.refreshErr != nil {
		info.RefreshErr = d.refreshErr.Error()
	}
	d.mu.Unlock()
	return info
}

// Close stops the DHT. It is idempotent.
func (d *DHT) Close() error {
	d.closeOnce.Do(func() { d.closeErr = d.kad.Close() })
	return d.closeErr
}
